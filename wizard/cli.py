"""The `qoltanba` command (DESIGN.md: its command names, options and JSON fields are a contract).

Each command imports only what it uses, so the command line never loads Flet or the network stack
for work that does not need them.
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import sys
from collections.abc import Sequence
from typing import Any, TextIO, cast

from wizard import __version__
from wizard.errors import PasswordUndecodable, QoltanbaError, UsageError
from wizard.i18n import LANGUAGES, detect_language, translate


class _Parser(argparse.ArgumentParser):
    """argparse that raises UsageError instead of printing and exiting on its own."""

    def error(self, message: str) -> None:  # type: ignore[override]
        if message.startswith("unrecognized arguments"):
            # Never echo stray words back: one of them may be a password typed on the line.
            raise UsageError("usage_extra_arguments")
        raise UsageError(detail=message)


class _SafeText:
    """A text stream that never fails on what it is given: text that is not valid Unicode (a
    non-UTF-8 file name) is shown as U+FFFD, and a stream that cannot encode a letter (an ASCII
    terminal) gets a replacement instead of a UnicodeEncodeError."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        text = text.encode("utf-8", "surrogatepass").decode("utf-8", "replace")
        try:
            try:
                return self._stream.write(text)
            except UnicodeEncodeError:
                encoding = getattr(self._stream, "encoding", None) or "ascii"
                return self._stream.write(text.encode(encoding, "replace").decode(encoding))
        except OSError:  # `qoltanba status | head -1`: the reader has gone; or a full disk
            self._silence()
            return len(text)

    def flush(self) -> None:
        try:
            self._stream.flush()
        except OSError:
            self._silence()

    def _silence(self) -> None:
        """Nobody reads any more: send the rest (and the interpreter's last flush) nowhere."""
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, self._stream.fileno())
            os.close(devnull)
        except (OSError, ValueError, AttributeError):
            pass

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


def _decodable(value: str) -> str:
    """A password as text; PasswordUndecodable when it held bytes that are not UTF-8."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise PasswordUndecodable() from None
    from wizard.reports import remember_secret

    return remember_secret(value)


def _env_password(var: str) -> str:
    """The password held in environment variable ``var`` (never given on the command line)."""
    value = os.environ.get(var)
    if value is None:
        raise UsageError("password_env_missing", var=var)
    return _decodable(value)


def _stdin_line() -> str:
    """One line of standard input, decoded strictly (a password must be exactly what was typed)."""
    buffer = getattr(sys.stdin, "buffer", None)
    if buffer is None:
        line = sys.stdin.readline()
    else:
        try:
            line = buffer.readline().decode("utf-8")
        except UnicodeDecodeError:
            raise PasswordUndecodable() from None
    line = line[:-1] if line.endswith("\n") else line
    return line[:-1] if line.endswith("\r") else line


def read_password(args: argparse.Namespace, lang: str, *, env_attr: str = "password_env") -> str:
    """A password from the named environment variable, standard input, or a prompt on a TTY."""
    var = getattr(args, env_attr, None)
    if var:
        return _env_password(var)
    if getattr(args, "password_stdin", False) or not sys.stdin.isatty():
        value = _stdin_line()
        if not value:
            raise UsageError("password_stdin_empty")
        return _decodable(value)
    return _decodable(getpass.getpass(translate("cli.password_prompt", lang)))


# ---------------------------------------------------------------------------------------------
# inspect


def inspect_report(store, lang: str) -> dict[str, Any]:
    """The `inspect --json` object for an opened store."""
    from wizard.keys.certificate import certificate_pem, utc_now

    now = utc_now()
    facts = store.facts
    verdict = store.verdict(now)
    report: dict[str, Any] = {
        "file": str(store.path) if store.path else None,
        "algorithm": facts.algorithm,
        "scheme": facts.scheme.value,
        "usage": list(facts.usage),
        "holder": facts.holder.value,
        "name": facts.full_name,
        "common_name": facts.common_name,
        "surname": facts.surname,
        "given_name": facts.given_name,
        "patronymic": facts.patronymic,
        "iin": facts.iin or None,
        "iin_checksum_ok": facts.iin_checksum_ok if facts.iin else None,
        "bin": facts.bin or None,
        "organization": facts.organization or None,
        "email": facts.email or None,
        "issuer": facts.issuer,
        "serial": facts.serial,
        "subject_key_id": facts.subject_key_id,
        "not_before": facts.not_before.isoformat(),
        "not_after": facts.not_after.isoformat(),
        "days_left": facts.days_left(now),
        "renewable": verdict.renewable,
        "revocation_checked": store.revocation.checked,
        "revocation": {
            **store.revocation.as_json(),
            "message": translate(store.revocation.message_key, lang),
        },
    }
    if not verdict.renewable:
        report["reason"] = verdict.reason
        report["reason_message"] = translate(verdict.message_key, lang)
    report["certificate"] = certificate_pem(store.certificate)
    return report


def _revocation_rows(report: dict[str, Any], lang: str) -> list[str]:
    """The revocation answer in plain words: status and source, then when and why."""

    def t(key: str, **kw: Any) -> str:
        return translate(key, lang, **kw)

    def moment(text: str | None) -> str:
        return f"{text[:10]} {text[11:16]} UTC" if text else "-"

    answer = report["revocation"]
    status = t(f"revocation.status.{answer['status']}")
    lines = [t("revocation.line", status=status, source=t(f"revocation.source.{answer['source']}"))]
    lines.append(answer["message"])
    if answer["status"] == "revoked" and answer["revoked_at"]:
        lines.append(t("revocation.revoked_on", date=moment(answer["revoked_at"])))
    if answer["reason"]:
        lines.append(t("revocation.reason_line", reason=t(f"revocation.reason.{answer['reason']}")))
    if answer["status"] != "unknown" and answer["next_update"]:
        checked, until = moment(answer["checked_at"]), moment(answer["next_update"])
        lines.append(t("revocation.checked_line", checked=checked, until=until))
    elif answer["status"] != "unknown":
        lines.append(t("revocation.checked_only", checked=moment(answer["checked_at"])))
    elif report["renewable"]:
        lines.append(t("revocation.unknown_policy"))
    return lines


def revocation_options(args: argparse.Namespace, *, engine_in_thread: bool = False):
    """How this command checks revocation: --offline, --ocsp-url, --crl; QOLTANBA_OFFLINE and
    QOLTANBA_OCSP_URL (wizard.authority.revocation); the cache under QOLTANBA_HOME."""
    from pathlib import Path

    from wizard.authority.connect import home
    from wizard.authority.revocation import OCSP_URL_ENV, RevocationOptions, _usable_url

    url = getattr(args, "ocsp_url", None)
    if url is None and os.environ.get(OCSP_URL_ENV):
        url = os.environ[OCSP_URL_ENV]  # checked as --ocsp-url is: never silently ignored
    if url is not None and not _usable_url(url):
        raise UsageError("revocation_bad_url", url=_without_credentials(url))
    options = RevocationOptions.from_environment(
        home=home(),
        offline=bool(getattr(args, "offline", False)),
        ocsp_url=url,
        engine_in_thread=engine_in_thread,
    )
    return options.with_paths(Path(p) for p in getattr(args, "crl", None) or [])


def _without_credentials(url: str) -> str:
    """``url`` as it may be shown: a user name or password in it never printed."""
    head, at, tail = url.rpartition("@")
    if not at:
        return url
    scheme, sep, _ = head.partition("://")
    return f"{scheme}{sep}…@{tail}" if sep else f"…@{tail}"


def _print_inspect_text(report: dict[str, Any], lang: str, out: TextIO) -> None:
    def t(key: str, **kw: Any) -> str:
        return translate(key, lang, **kw)

    rows = [
        (t("inspect.name"), report["name"]),
        (t("inspect.iin"), report["iin"]),
        (t("inspect.bin"), report["bin"]),
        (t("inspect.organization"), report["organization"]),
        (t("inspect.holder"), t(f"holder.{report['holder']}")),
        (t("inspect.usage"), ", ".join(t(f"usage.{u}") for u in report["usage"])),
        (t("inspect.algorithm"), report["algorithm"]),
        (
            t("inspect.validity"),
            t(
                "inspect.validity_range",
                start=report["not_before"][:10],
                end=report["not_after"][:10],
            ),
        ),
        (t("inspect.days_left"), str(report["days_left"])),
        (t("inspect.issuer"), report["issuer"]),
    ]
    width = max(len(label) for label, _ in [*rows, (t("inspect.verdict"), "")])
    for label, value in rows:
        if value:  # names come from the certificate: never a newline or escape on the terminal
            print(f"{label.ljust(width)}  {one_line(value)}", file=out)
    revocation = _revocation_rows(report, lang)
    width = max(width, len(t("inspect.revocation")))
    for index, line in enumerate(revocation):
        label = t("inspect.revocation") if index == 0 else ""
        print(f"{label.ljust(width)}  {line}", file=out)
    verdict = t("verdict.renewable") if report["renewable"] else report["reason_message"]
    print(f"{t('inspect.verdict').ljust(width)}  {verdict}", file=out)
    if report["iin"] and not report["iin_checksum_ok"]:
        print(f"{''.ljust(width)}  {t('inspect.iin_checksum')}", file=out)


def cmd_inspect(args: argparse.Namespace, lang: str, out: TextIO) -> int:
    from pathlib import Path

    if args.token or args.store is None:
        if args.token and args.store is None:
            from wizard.tokens_cli import cmd_inspect_token

            return cmd_inspect_token(args, lang, out)
        raise UsageError("inspect_store_or_token")

    from wizard.errors import StoreError
    from wizard.keys.revocation import MAX_CRL_BYTES
    from wizard.keys.safe_read import read_regular_file
    from wizard.keys.store import open_store

    password = read_password(args, lang)
    crls = [Path(p) for p in args.crl or []]
    for crl in crls:  # a CRL named on the command line must be there: a file, or a folder
        if not crl.is_dir():
            try:
                read_regular_file(crl, MAX_CRL_BYTES)
            except (OSError, StoreError) as exc:  # said as the CRL's problem, not the keys'
                raise UsageError("crl_unreadable", path=str(crl)) from exc
    options = revocation_options(args)  # a malformed --ocsp-url is refused before the store
    store = open_store(args.store, password, crl_files=[c for c in crls if not c.is_dir()])
    store = _checked_revocation([store], options)[0]
    report = inspect_report(store, lang)
    if args.json:
        print(json.dumps(report, ensure_ascii=False, indent=2), file=out)
    else:
        _print_inspect_text(report, lang, out)
    return 0


def _checked_revocation(stores: list, options) -> list:
    """The stores with their revocation asked as `wizard.authority.revocation` does (OCSP, CRLs,
    the network only when allowed and the key is valid now)."""
    import asyncio

    from wizard.authority.revocation import check_stores

    return asyncio.run(check_stores(stores, options))


# ---------------------------------------------------------------------------------------------
# demo-keys, renew, status, authority serve


def _emit(report: dict[str, Any], as_json: bool, lines: list[str], out: TextIO) -> None:
    if as_json:
        print(json.dumps(report, ensure_ascii=False, indent=2), file=out)
    else:
        for line in lines:
            print(line, file=out)


async def _demo_keys(args: argparse.Namespace, password: str, lang: str) -> dict[str, Any]:
    from pathlib import Path

    from wizard.authority.adapters import OpenOptions, resolve
    from wizard.authority.connect import home
    from wizard.authority.interface import DemoAuthority
    from wizard.keys.oids import Holder, Scheme
    from wizard.renewal.demo import issue_demo_keys
    from wizard.renewal.journal import ensure_home

    scheme = Scheme.GOST2015 if args.scheme == "gost" else Scheme.RSA
    chosen = resolve(args.authority, lang)
    state = ensure_home(home())
    async with chosen.open(OpenOptions(home=state)) as authority:
        if not isinstance(authority, DemoAuthority):
            raise UsageError("authority_not_demo", name=chosen.name)
        demo = await issue_demo_keys(
            authority,
            Path(args.out),
            password,
            scheme=scheme,
            holder=Holder(args.holder),
            days_left=args.days_left,
        )
    return {
        "folder": str(demo.folder),
        "files": [str(path) for path in demo.files],
        "holder": demo.holder.value,
        "scheme": demo.scheme.value,
    }


DEMO_DAYS = 3650  # demo keys expire within ten years either way (negative: already expired)


def cmd_demo_keys(args: argparse.Namespace, lang: str, out: TextIO) -> int:
    import asyncio

    if not -DEMO_DAYS <= args.days_left <= DEMO_DAYS:
        raise UsageError("demo_days_range", limit=DEMO_DAYS)
    if args.token:
        from wizard.tokens_cli import cmd_demo_keys_token

        return cmd_demo_keys_token(args, lang, out)
    if not args.out or not args.password_env:
        raise UsageError("demo_out_and_password")
    password = _env_password(args.password_env)
    report = asyncio.run(_demo_keys(args, password, lang))
    _emit(report, args.json, report["files"], out)
    return 0


def _code_source(args: argparse.Namespace, authority, lang: str):
    from wizard.authority.interface import DemoAuthority

    async def demo_code(number: str, attempts_left: int | None) -> str:
        # A demo authority (in-process or served) shows the code as the SMS would.
        codes = await authority.demo_codes(number)
        return codes[-1] if codes else await asked_code(number, attempts_left)

    async def asked_code(number: str, attempts_left: int | None) -> str:
        if not args.otp_stdin:  # the prompt goes to stderr: stdout is for --json
            print(translate("cli.otp_prompt", lang, application=number), end="", file=_notices)
            _notices.flush()
        try:
            line = _stdin_line().strip()
        except PasswordUndecodable:
            line = ""
        if not line:
            raise UsageError("otp_unavailable")
        return line

    # An authority that cannot act the demo (no demo_codes) texts a real SMS: the code is asked.
    return asked_code if args.otp_stdin or not isinstance(authority, DemoAuthority) else demo_code


async def _renew(args: argparse.Namespace, lang: str) -> dict[str, Any]:
    from pathlib import Path

    from wizard.authority.adapters import OpenOptions, resolve
    from wizard.authority.connect import home
    from wizard.authority.interface import Authority
    from wizard.keys.keypair import generate
    from wizard.keys.store import open_store
    from wizard.renewal.journal import RenewalJournal
    from wizard.renewal.keys_ahead import KeysAhead
    from wizard.renewal.process import RenewalDetails, Renewer, current_keys
    from wizard.renewal.trust import RenewalTrust

    chosen = resolve(args.authority, lang)  # the adapter; its spec is what the journal records
    authority_name = chosen.spec
    password = _env_password(args.password_env)
    new_password = _env_password(args.new_password_env)
    stores = [open_store(path, password) for path in args.store]
    current = current_keys(stores)
    details = RenewalDetails(
        email=args.email,
        locality=args.locality,
        folder=Path(args.out),
        new_password=new_password,
        storage=args.storage or "pkcs12",
    )
    state = home()
    journal = RenewalJournal(state / "journal.sqlite3")
    _say_set_aside(journal, lang)
    new_key_pair = generate
    unknown_revocation: str | None = None
    if journal.pending_for(current.fingerprints) is None:
        # A new renewal will need new keys: they are made (in memory only) while revocation is
        # asked and the authority loads.
        new_key_pair = KeysAhead(current.scheme, len(current.stores)).generate
    # No UI loop to keep responsive here: the in-process mock's engine runs inline. --max-wait
    # also caps each pause between attempts, so that "unreachable, queued" comes within it.
    options = OpenOptions(home=state, max_wait=args.max_wait, keep_loop_responsive=False)
    async with chosen.open(options) as authority:
        told = _InfoOnce(authority)  # one "who are you" per run, the precheck's and the renewal's
        if new_key_pair is not generate:
            # Revoked keys are refused before anything is written (the keys made ahead are
            # never saved); unknown goes on, said once with the outcome (the authority checks
            # revocation itself: wizard.authority.revocation). The demo answers in-process.
            demo_app = getattr(authority, "in_process_app", None)
            current, unknown_revocation = await _revocation_precheck(
                args, current, lang, demo_app=demo_app
            )
            # Keys this authority does not renew (another CA's) are said so now, in words and
            # with what to do, not rejected after submitting (wizard.renewal.acceptance).
            await _issuer_precheck(told, current)
        else:
            # a renewal queued before it was submitted (the authority could not be reached):
            # judged now; refused, it ends here and its unsent keys go
            await _issuer_precheck_pending(told, authority_name, current, journal, state)
        renewer = Renewer(
            journal,
            cast(Authority, told),
            authority_name,
            max_wait=args.max_wait,
            new_key_pair=new_key_pair,
            home=state,
            trust=RenewalTrust(declared_roots=chosen.roots()),
        )
        try:
            renewal = await renewer.run(current, details, _code_source(args, authority, lang))
        except QoltanbaError as error:
            pending = journal.pending_for(current.fingerprints)
            error.params.setdefault("application", pending.application if pending else None)
            raise
        finally:
            for key, params in renewer.notices:
                _say(translate(key, lang, **params))
    if unknown_revocation is not None:  # a run that failed says only its failure, in one line
        _say(unknown_revocation)
    folder = renewal.folder or Path(args.out)
    installed = renewal.record.installed
    return {
        "application": renewal.application,
        "status": renewal.state.value,
        "folder": str(folder),
        "files": [str(folder / name) for name in (installed.files if installed else ())],
        "not_after": _iso(installed.not_after if installed else None),
        "renewal": renewal.id,
    }


def _iso(moment) -> str | None:
    return moment.isoformat() if moment is not None else None


async def _revocation_precheck(args: argparse.Namespace, current, lang: str, demo_app=None):
    """``current`` with each store's revocation asked, and the notice to give when one is
    unknown (and valid: an expired key is refused later); NotRenewable("revoked") when one is
    revoked."""
    from dataclasses import replace

    from wizard.authority.revocation import check_stores
    from wizard.errors import NotRenewable
    from wizard.keys.certificate import utc_now

    options = replace(revocation_options(args), demo_app=demo_app)
    stores = await check_stores(list(current.stores.values()), options)
    for store in stores:
        if store.revocation.revoked:
            raise NotRenewable(reason="revoked", revocation=store.revocation.detail)
    now = utc_now()
    unknown = [s for s in stores if not s.revocation.checked and s.verdict(now).renewable]
    notice = None
    if unknown:
        detail = translate(unknown[0].revocation.message_key, lang)
        notice = translate("revocation.notice_unknown", lang, detail=detail)
    return replace(current, stores=dict(zip(current.stores, stores, strict=True))), notice


class _InfoOnce:
    """The renewal's own authority, whose ``info()`` is asked once in a run: the issuer precheck's
    answer is the one the renewal records when it submits, and an authority that could not be
    reached for the precheck is not waited on a second time in the same run (the renewal is
    queued as it would have been). Every other call goes to the authority itself."""

    def __init__(self, authority) -> None:
        self._authority = authority
        self._info = None
        self._unreachable: QoltanbaError | None = None

    async def info(self):
        from wizard.errors import AuthorityUnreachable

        if self._unreachable is not None:
            error = self._unreachable
            raise type(error)(error.code, **error.params)
        if self._info is None:
            try:
                self._info = await self._authority.info()
            except AuthorityUnreachable as error:
                self._unreachable = error
                raise
        return self._info

    def __getattr__(self, name: str) -> Any:
        return getattr(self._authority, name)


async def _issuer_precheck(authority, current) -> None:
    """NotRenewable("issuer_not_accepted") when the authority says it does not renew keys of
    these keys' issuer (wizard.renewal.acceptance). Nothing is said when it does not say, when it
    cannot be reached (the renewal goes on, to be queued at submission), or when a key is refused
    for its own sake anyway (expired, revoked: the renewal's verdict says that first)."""
    from wizard.errors import AuthorityUnreachable
    from wizard.keys.certificate import utc_now
    from wizard.renewal.acceptance import judge_issuer

    now = utc_now()
    if not all(store.verdict(now).renewable for store in current.stores.values()):
        return
    try:
        await judge_issuer(authority, current, now)
    except AuthorityUnreachable:
        return


async def _issuer_precheck_pending(
    authority, authority_name: str, current, journal, home, new_keys=None
) -> None:
    """`_issuer_precheck` for a renewal already recorded but not yet submitted (queued while the
    authority could not be reached): refused, the renewal is ended (process.cancel: its unsent
    new keys removed, nothing exists at the authority) and the refusal raised. A submitted one is
    carried on: its application is the authority's to decide."""
    from wizard.errors import NotRenewable
    from wizard.renewal.acceptance import unsent_renewal
    from wizard.renewal.process import cancel

    pending = unsent_renewal(journal, current.fingerprints, authority_name)
    if pending is None:
        return
    try:
        await _issuer_precheck(authority, current)
    except NotRenewable:
        cancel(journal, pending, home=home, new_keys=new_keys)
        raise


def cmd_renew(args: argparse.Namespace, lang: str, out: TextIO) -> int:
    import asyncio

    if args.token:
        from wizard.tokens_cli import cmd_renew_token

        return cmd_renew_token(args, lang, out)
    needed = ["--store", "--password-env", "--new-password-env", "--out"]
    missing = [o for o in needed if not getattr(args, o[2:].replace("-", "_"))]
    if missing:
        raise UsageError(detail="the following arguments are required: " + ", ".join(missing))
    report = asyncio.run(_renew(args, lang))
    lines = [
        translate("cli.renew_done", lang, application=report["application"] or "-"),
        *report["files"],
    ]
    _emit(report, args.json, lines, out)
    return 0


def _say_set_aside(journal, lang: str) -> None:
    aside = journal.set_aside
    if aside is not None:
        files = ", ".join(str(p) for p in aside.pending_files) or "-"
        _say(translate("notice.journal_set_aside", lang, path=str(aside.path), files=files))


def _journal_for_reading():
    """The journal to read (status, cancel's choice): read-only when the home cannot be written,
    empty when there is none yet (nothing is created just to say so)."""
    from wizard.authority.connect import home
    from wizard.errors import LocalStateError, NoSpace
    from wizard.renewal.journal import RenewalJournal

    folder = home()
    path = folder / "journal.sqlite3"
    try:
        if folder.exists() and not folder.is_dir():
            raise LocalStateError("home_not_folder", path=str(folder))
        present = path.exists()
    except OSError as exc:  # a name too long, and the like
        raise LocalStateError(path=str(folder), detail=exc.strerror or "") from exc
    if not present:
        return RenewalJournal(path, read_only=True)
    try:
        return RenewalJournal(path)
    except (LocalStateError, NoSpace):
        if not folder.is_dir():
            raise
        return RenewalJournal(path, read_only=True)


def cmd_status(args: argparse.Namespace, lang: str, out: TextIO) -> int:
    journal = _journal_for_reading()
    _say_set_aside(journal, lang)
    renewals = [_status_entry(r) for r in journal.all()]
    lines = [
        f"{r['updated_at'][:16]}  {translate('state.' + r['status'], lang)}  "
        f"{r['application'] or '-':<14} "
        + (r["folder"] or translate("token.status_where", lang, serial=r["token"] or "-"))
        for r in renewals
    ] or [translate("cli.status_empty", lang)]
    _emit({"renewals": renewals}, args.json, lines, out)
    return 0


def _status_entry(renewal) -> dict[str, Any]:
    record = renewal.record
    installed, ending = record.installed, record.ending
    return {
        "renewal": renewal.id,
        "status": renewal.state.value,
        "application": renewal.application,
        "authority": renewal.authority,
        "folder": str(renewal.folder) if renewal.folder else None,
        "token": record.origin.token or None,  # the token's serial when the keys live on one
        "files": list(installed.files) if installed else [],
        "not_after": _iso(installed.not_after if installed else None),
        "reason": (ending.reason or None) if ending else None,
        "updated_at": renewal.updated_at.isoformat(),
    }


def _cancel_choice(args: argparse.Namespace, journal, lang: str):
    from pathlib import Path

    from wizard.keys.files import resolve_path, user_path
    from wizard.renewal.journal import RenewalState

    live = [
        r for r in journal.all() if not r.state.finished and r.state is not RenewalState.INSTALLED
    ]
    if args.renewal:
        live = [r for r in live if r.id == args.renewal]
    if args.store:
        wanted = {str(resolve_path(user_path(p))) for p in args.store}
        by_path = [r for r in live if wanted & set(r.record.origin.current_files)]
        if not by_path and args.password_env:
            from wizard.keys.store import open_store
            from wizard.renewal.process import fingerprint

            password = _env_password(args.password_env)
            prints = {
                fingerprint(open_store(Path(p), password).contents.certificates[0])
                for p in args.store
            }
            by_path = [r for r in live if prints & set(r.current)]
        live = by_path
    if not live:
        raise UsageError("cancel_nothing")
    if len(live) > 1:
        which = "; ".join(f"{r.id} ({r.state.value}, {r.folder})" for r in live)
        raise UsageError("cancel_which", renewals=which)
    return live[0]


def cmd_cancel(args: argparse.Namespace, lang: str, out: TextIO) -> int:
    from wizard.authority.connect import home
    from wizard.renewal.journal import RenewalJournal
    from wizard.renewal.process import cancel

    state = home()
    journal = RenewalJournal(state / "journal.sqlite3")
    _say_set_aside(journal, lang)
    renewal = _cancel_choice(args, journal, lang)
    outcome = cancel(journal, renewal, home=state)
    if outcome.application:
        message = translate("cli.cancel_after_submission", lang, application=outcome.application)
    else:
        message = translate("cli.cancel_before_submission", lang)
    report = {
        "renewal": outcome.renewal.id,
        "status": outcome.renewal.state.value,
        "application": outcome.application,
        "removed": list(outcome.removed),
        "message": message,
    }
    _emit(report, args.json, [message], out)
    return 0


def cmd_authority_serve(args: argparse.Namespace, lang: str, out: TextIO) -> int:
    from pathlib import Path

    from wizard.authority.connect import home, trusted_paths
    from wizard.authority.mock import serve

    data = Path(args.data) if args.data else home() / "authority"
    trusted = [*trusted_paths(), *(Path(p) for p in args.trust or [])]
    serve(
        host=args.host,
        port=args.port,
        data_dir=data,
        trusted=trusted,
        test_endpoints=args.test_faults,
    )
    return 0


def cmd_authority_list(args: argparse.Namespace, lang: str, out: TextIO) -> int:
    from wizard.authority.listing import adapters_lines, adapters_report

    report = adapters_report(lang)
    _emit(report, args.json, adapters_lines(report, lang), out)
    return 0


def cmd_gui(args: argparse.Namespace, lang: str, out: TextIO) -> int:
    from wizard.authority.adapters import resolve
    from wizard.authority.connect import home

    authority = resolve(args.authority, lang).spec
    try:
        from wizard.ui.app import launch
    except ImportError as exc:  # the wizard's UI libraries are not installed
        raise UsageError("gui_unavailable", detail=str(exc)) from exc
    launch(
        authority=authority,
        web=args.web,
        host=args.host,
        port=args.port,
        home=home(),
        lang=lang,
        out=out,
    )
    return 0


# ---------------------------------------------------------------------------------------------


def _token_arguments(parser: argparse.ArgumentParser) -> None:
    """--token and its options (wizard/tokens_cli.py does the work)."""
    parser.add_argument("--token", action="store_true", help="keys on a PKCS#11 token")
    parser.add_argument("--module", metavar="PATH", help="the token's PKCS#11 module")
    parser.add_argument("--token-label", metavar="L", help="which token, by its label")
    parser.add_argument("--pin-env", metavar="VAR", help="environment variable with the PIN")


def _cmd_tokens(args: argparse.Namespace, lang: str, out: TextIO) -> int:
    from wizard.tokens_cli import cmd_tokens

    return cmd_tokens(args, lang, out)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="qoltanba",
        description="Renew a Kazakhstan electronic digital signature (NCA RK) at home.",
    )
    parser.add_argument("--version", action="version", version=f"qoltanba {__version__}")
    parser.add_argument("--lang", choices=LANGUAGES, help="language of messages (kk, ru, en)")
    commands = parser.add_subparsers(dest="command", parser_class=_Parser)

    inspect = commands.add_parser("inspect", help="show what a key store holds and if it renews")
    inspect.add_argument("store", metavar="STORE.p12", nargs="?")
    source = inspect.add_mutually_exclusive_group()
    source.add_argument("--password-env", metavar="VAR", help="environment variable with it")
    source.add_argument("--password-stdin", action="store_true", help="read it from stdin")
    inspect.add_argument(
        "--crl", action="append", metavar="PATH", help="a CRL file, or a folder of CRLs (+ ca/)"
    )
    inspect.add_argument("--offline", action="store_true", help="check revocation offline only")
    inspect.add_argument("--ocsp-url", metavar="URL", help="ask this OCSP responder instead")
    inspect.add_argument("--json", action="store_true", help="print one JSON object")
    _token_arguments(inspect)
    inspect.set_defaults(handler=cmd_inspect)

    demo = commands.add_parser("demo-keys", help="make a demo holder's current keys")
    demo.add_argument("--out", metavar="DIR")
    demo.add_argument("--password-env", metavar="VAR")
    demo.add_argument("--scheme", choices=("rsa", "gost"), default="rsa")
    demo.add_argument(
        "--holder",
        choices=("individual", "legal-head", "legal-signer", "legal-employee"),
        default="individual",
    )
    demo.add_argument("--days-left", type=int, default=20, metavar="N")
    demo.add_argument("--authority", default="demo", metavar="NAME|URL")
    demo.add_argument("--json", action="store_true")
    _token_arguments(demo)
    demo.set_defaults(handler=cmd_demo_keys)

    tokens = commands.add_parser("tokens", help="PKCS#11 tokens and the keys on them")
    tokens.add_argument("--module", metavar="PATH", help="the token's PKCS#11 module")
    tokens.add_argument("--token-label", metavar="L", help="which token (--change-pin)")
    tokens.add_argument("--change-pin", action="store_true", help="change the token's PIN")
    tokens.add_argument("--pin-env", metavar="VAR", help="environment variable with the PIN")
    tokens.add_argument("--new-pin-env", metavar="VAR", help="... with the new PIN")
    tokens.add_argument("--json", action="store_true", help="print one JSON object")
    tokens.set_defaults(handler=_cmd_tokens)

    renew = commands.add_parser("renew", help="renew the current keys into a new folder")
    # --store, --password-env, --new-password-env and --out are required without --token
    # (cmd_renew says so), and refused with it: the PIN protects keys on a token.
    renew.add_argument("--store", action="append", metavar="OLD.p12")
    renew.add_argument("--password-env", metavar="VAR")
    renew.add_argument("--new-password-env", metavar="VAR")
    renew.add_argument("--email", required=True)
    renew.add_argument("--locality", required=True)
    renew.add_argument("--out", metavar="DIR")
    renew.add_argument("--storage", help="pkcs12 (a file, the default) or a token kind")
    renew.add_argument("--authority", default="demo", metavar="NAME|URL")
    renew.add_argument("--otp-stdin", action="store_true", help="read the one-time code from stdin")
    renew.add_argument("--max-wait", type=float, default=60.0, help=argparse.SUPPRESS)
    renew.add_argument("--offline", action="store_true", help="check revocation offline only")
    renew.add_argument("--ocsp-url", metavar="URL", help="ask this OCSP responder instead")
    renew.add_argument("--json", action="store_true")
    _token_arguments(renew)
    renew.set_defaults(handler=cmd_renew)

    gui = commands.add_parser("gui", help="open the wizard (the default command)")
    gui.add_argument("--web", action="store_true", help="serve the local web UI, no window")
    gui.add_argument("--host", default="127.0.0.1")
    gui.add_argument("--port", type=int, default=0, metavar="N")
    gui.add_argument("--authority", default="demo", metavar="NAME|URL")
    gui.set_defaults(handler=cmd_gui)

    cancel = commands.add_parser("cancel", help="end a pending renewal")
    cancel.add_argument("--store", action="append", metavar="OLD.p12", help="its current keys")
    cancel.add_argument("--renewal", metavar="ID", help="the renewal, as `status` lists it")
    cancel.add_argument("--password-env", metavar="VAR", help=argparse.SUPPRESS)
    cancel.add_argument("--json", action="store_true")
    cancel.set_defaults(handler=cmd_cancel)

    status = commands.add_parser("status", help="list renewals and where each stands")
    status.add_argument("--json", action="store_true")
    status.set_defaults(handler=cmd_status)

    authority = commands.add_parser("authority", help="authority adapters and the mock authority")
    authority_commands = authority.add_subparsers(dest="authority_command", parser_class=_Parser)
    listing = authority_commands.add_parser("list", help="installed authority adapters")
    listing.add_argument("--json", action="store_true", help="print one JSON object")
    listing.set_defaults(handler=cmd_authority_list)
    serve = authority_commands.add_parser("serve", help="serve the mock authority over HTTP")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8410)
    serve.add_argument("--data", metavar="DIR")
    serve.add_argument("--trust", action="append", metavar="PATH", help="extra CA certs / CRLs")
    serve.add_argument(
        "--test-faults",
        action="store_true",
        help="also serve /v1/_test/* (switchable faults, revocations): for tests only",
    )
    serve.set_defaults(handler=cmd_authority_serve)
    return parser


def one_line(text: str) -> str:
    """``text`` as one line with nothing a terminal would act on: control characters (a newline
    or an escape sequence in a file name) and bidirectional overrides shown escaped."""
    return "".join(
        repr(ch)[1:-1] if (ord(ch) < 0x20 or 0x7F <= ord(ch) < 0xA0 or ch in _BIDI) else ch
        for ch in text
    )


_BIDI = set("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def _say(message: str, err: TextIO | None = None) -> None:
    """One ``qoltanba: `` line on stderr (errors and notices alike), made safe by one_line."""
    print(f"qoltanba: {one_line(message)}", file=err or _notices)


def _fail(error: QoltanbaError, lang: str, as_json: bool, out: TextIO, err: TextIO) -> int:
    message = one_line(error.message(lang))
    _say(message, err)
    if as_json:
        report: dict[str, Any] = {"error": error.code, "message": message}
        if error.code == "not_renewable" and isinstance(error.params.get("reason"), str):
            report["reason"] = error.params["reason"]  # the verdict reason (expired, ...)
        if error.params.get("application"):
            report["application"] = error.params["application"]
        print(json.dumps(report, ensure_ascii=False), file=out)
    return error.exit_code


def _early_language(argv: list[str]) -> str | None:
    """--lang as given, before parsing, so that even a usage error speaks that language."""
    for index, word in enumerate(argv):
        value = None
        if word == "--lang" and index + 1 < len(argv):
            value = argv[index + 1]
        elif word.startswith("--lang="):
            value = word.split("=", 1)[1]
        if value in LANGUAGES:
            return value
    return None


_notices: TextIO = sys.stderr  # where notices go (main() points it at its err stream)


def _home_or_none():
    try:
        from wizard.authority.connect import home

        return home()
    except Exception:
        return None


def main(
    argv: Sequence[str] | None = None, *, out: TextIO | None = None, err: TextIO | None = None
) -> int:
    global _notices
    out = cast(TextIO, _SafeText(out or sys.stdout))
    err = cast(TextIO, _SafeText(err or sys.stderr))
    _notices = err
    argv = list(sys.argv[1:] if argv is None else argv)
    lang = _early_language(argv) or detect_language()
    as_json = "--json" in argv
    try:
        args = build_parser().parse_args(argv)
        lang = args.lang or lang
        handler = getattr(args, "handler", None)
        if handler is None:
            if args.command is None:  # plain `qoltanba`: open the wizard
                args = build_parser().parse_args([*argv, "gui"])
                return cmd_gui(args, lang, out)
            build_parser().print_help(out)
            return 0
        return handler(args, lang, out)
    except QoltanbaError as error:
        return _fail(error, lang, as_json, out, err)
    except KeyboardInterrupt:
        _say(translate("cli.interrupted", lang), err)
        return 130
    except Exception as unexpected:  # the last resort: one line, and a report without secrets
        from wizard.reports import internal_error

        return _fail(internal_error(unexpected, _home_or_none()), lang, as_json, out, err)
