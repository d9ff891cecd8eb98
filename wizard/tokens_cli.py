"""The token commands of `qoltanba` (DESIGN.md: `tokens`, `inspect --token`, `demo-keys --token`).

Imported by wizard.cli only when a token is asked for, so the file commands never load
python-pkcs11. Without the extra (`pip install "qoltanba[tokens]"`) they say how to get it.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from types import ModuleType
from typing import Any, TextIO

from wizard.errors import TokenAbsent, TokenError, UsageError
from wizard.i18n import translate


def _device() -> ModuleType:
    """wizard.keys.tokens.device, or TokenError("tokens_not_installed") without python-pkcs11."""
    from wizard.keys.tokens.modules import refuse_mobile

    refuse_mobile()
    try:
        from wizard.keys.tokens import device
    except ImportError as exc:
        raise TokenError("tokens_not_installed") from exc
    return device


def _module_paths(args: argparse.Namespace) -> tuple[list[Path], bool]:
    """The modules to use, and whether the user named one (then its errors are the answer)."""
    from wizard.keys.tokens.modules import find_modules

    if getattr(args, "module", None):
        return [Path(args.module)], True
    found = find_modules()
    if not found:
        raise TokenError("token_no_module")
    return [candidate.path for candidate in found], False


def _say(message: str) -> None:
    from wizard import cli

    cli._say(message)


def _pin(args: argparse.Namespace, attr: str = "pin_env") -> str:
    from wizard import cli

    var = getattr(args, attr, None)
    if not var:
        raise UsageError("token_pin_env_missing")
    return cli._env_password(var)


def _choose(args: argparse.Namespace) -> tuple[Path, Any]:
    """The one token the command works on (module path, TokenInfo)."""
    device = _device()
    paths, named = _module_paths(args)
    label = getattr(args, "token_label", None)
    found: dict[tuple[str, str, str], tuple[Path, Any]] = {}
    for path in paths:
        try:
            with device.open_module(path) as module:
                tokens = module.tokens()
        except TokenError:
            if named:
                raise
            continue  # a module found by discovery that will not load: another may
        for info in tokens:
            if label is None or info.label == label:
                found.setdefault((info.manufacturer, info.serial, info.label), (path, info))
    if not found:
        raise TokenAbsent("token_absent", token=label or "-")
    if len(found) > 1:
        raise UsageError("token_which", tokens=", ".join(info.name for _, info in found.values()))
    return next(iter(found.values()))


def _before_login(module: Any, info: Any, lang: str) -> Any:
    """Tell what the token says about the PIN's tries before one is spent."""
    current = module.refresh(info)
    if current.pin.final_try:
        _say(translate("token.pin_final_try", lang, token=current.name))
    elif current.pin.count_low:
        _say(translate("token.pin_count_low", lang, token=current.name))
    return current


def _after_login(info: Any, pin: str, lang: str) -> None:
    from wizard.keys.tokens.device import is_factory_pin

    if is_factory_pin(info, pin):
        _say(translate("token.factory_pin", lang, token=info.name))


# ---------------------------------------------------------------------------------------------
# qoltanba tokens


def _key_summary(group: Any) -> dict[str, Any] | None:
    from wizard.errors import StoreError
    from wizard.keys.certificate import describe, load_certificate, utc_now

    item: dict[str, Any] = {
        "object_id": group.object_id.hex(),
        "label": group.label,
        # Private keys show only after a login: None is "not known without the PIN".
        "private_key": True if group.private_key is not None else None,
        "public_key": group.public_key is not None,
        "certificate": None,
    }
    if group.certificate is not None:
        try:
            facts = describe(load_certificate(group.certificate))
        except StoreError:
            item["certificate"] = {"damaged": True}
            return item
        if facts.is_ca:
            return None  # a CA certificate kept on the token is not one of the holder's keys
        item["certificate"] = {
            "name": facts.full_name,
            "iin": facts.iin or None,
            "bin": facts.bin or None,
            "usage": list(facts.usage),
            "algorithm": facts.algorithm,
            "scheme": facts.scheme.value,
            "not_after": facts.not_after.isoformat(),
            "days_left": facts.days_left(utc_now()),
            "nca_profile": facts.is_nca_profile,
        }
    return item


def _token_report(module: Any, info: Any) -> dict[str, Any]:
    from wizard.keys.tokens.keys import key_objects

    report = info.as_json()
    keys: list[dict[str, Any]] = []
    try:
        with module.public_session(info) as session:
            for group in key_objects(session):
                summary = _key_summary(group)
                if summary is not None:
                    keys.append(summary)
    except TokenError as error:
        report["keys_error"] = error.code
    report["keys"] = keys
    return report


def _pin_line(pin: dict[str, Any], lang: str) -> str:
    if pin["locked"]:
        return translate("token.pin_state.locked", lang)
    states = []
    if pin["factory_pin"]:
        states.append(translate("token.pin_state.factory", lang))
    if pin["final_try"]:
        states.append(translate("token.pin_state.final_try", lang))
    elif pin["count_low"]:
        states.append(translate("token.pin_state.count_low", lang))
    return "; ".join(states) or translate("token.pin_state.ok", lang)


def _tokens_lines(report: dict[str, Any], lang: str) -> list[str]:
    lines: list[str] = []
    for token in report["tokens"]:
        lines.append(
            translate(
                "token.line",
                lang,
                label=token["label"] or "-",
                manufacturer=token["manufacturer"],
                model=token["model"],
                serial=token["serial"],
                module=token["module"],
            )
        )
        lines.append(f"  {translate('token.pin', lang)}: {_pin_line(token['pin'], lang)}")
        if not token["gost512"]:
            lines.append(f"  {translate('token.no_gost', lang)}")
        for key in token["keys"]:
            certificate = key["certificate"] or {}
            if certificate.get("name"):
                what = translate(
                    "token.key_line",
                    lang,
                    name=certificate["name"],
                    usage=", ".join(translate(f"usage.{u}", lang) for u in certificate["usage"]),
                    algorithm=certificate["algorithm"],
                    until=certificate["not_after"][:10],
                )
            else:
                what = translate("token.key_without_certificate", lang)
            lines.append(f"  {key['label'] or '-'}  {key['object_id'][:12]}  {what}")
        if not token["keys"]:
            lines.append(f"  {translate('token.no_keys', lang)}")
    if not report["tokens"]:
        lines.append(translate("token.none", lang))
    return lines


def cmd_tokens(args: argparse.Namespace, lang: str, out: TextIO) -> int:
    from wizard import cli

    if args.change_pin:
        return _change_pin(args, lang, out)
    device = _device()
    paths, named = _module_paths(args)
    tokens: list[dict[str, Any]] = []
    modules: list[dict[str, Any]] = []
    seen: set[tuple[str, str, str]] = set()
    for path in paths:
        try:
            with device.open_module(path) as module:
                modules.append({"path": str(path), "description": module.description})
                for info in module.tokens():
                    key = (info.manufacturer, info.serial, info.label)
                    if key in seen:  # the p11-kit proxy shows the same token again
                        continue
                    seen.add(key)
                    tokens.append(_token_report(module, info))
        except TokenError as error:
            if named:
                raise
            modules.append({"path": str(path), "error": error.code})
    report = {"modules": modules, "tokens": tokens}
    cli._emit(report, args.json, _tokens_lines(report, lang), out)
    return 0


def _change_pin(args: argparse.Namespace, lang: str, out: TextIO) -> int:
    from wizard import cli

    old = _pin(args)
    new = _pin(args, "new_pin_env")
    path, chosen = _choose(args)
    with _device().open_module(path) as module:
        info = _before_login(module, chosen, lang)
        module.change_pin(info, old, new)
    message = translate("token.pin_changed", lang, token=info.name)
    cli._emit({"token": info.as_json(), "pin_changed": True}, args.json, [message], out)
    return 0


# ---------------------------------------------------------------------------------------------
# qoltanba inspect --token


def cmd_inspect_token(args: argparse.Namespace, lang: str, out: TextIO) -> int:
    from wizard import cli

    pin = _pin(args)
    path, chosen = _choose(args)
    from wizard.keys.tokens.keys import token_key_report, token_key_stores

    with _device().open_module(path) as module:
        info = _before_login(module, chosen, lang)
        with module.login(info, pin) as session:
            _after_login(session.token, pin, lang)
            stores = token_key_stores(session)
    # revocation asked as for a file store (OCSP, CRLs; --offline, --ocsp-url, --crl): the
    # certificates are read already, the token is not needed for it
    stores = cli._checked_revocation(stores, cli.revocation_options(args))
    reports = [token_key_report(s, cli.inspect_report(s, lang)) for s in stores]
    if args.json:
        print(json.dumps(reports, ensure_ascii=False, indent=2), file=out)
        return 0
    if not reports:
        print(translate("token.no_keys", lang), file=out)
    for index, report in enumerate(reports):
        if index:
            print(file=out)
        print(
            translate("token.inspect_heading", lang, token=info.name, label=report["label"]),
            file=out,
        )
        cli._print_inspect_text(report, lang, out)
    return 0


# ---------------------------------------------------------------------------------------------
# qoltanba demo-keys --token


async def _demo_token_keys(args: argparse.Namespace, pin: str, lang: str) -> dict[str, Any]:
    from wizard.authority.adapters import OpenOptions, resolve
    from wizard.authority.connect import home
    from wizard.authority.interface import DemoAuthority
    from wizard.keys.oids import Holder, Scheme
    from wizard.renewal.journal import ensure_home

    scheme = Scheme.GOST2015 if args.scheme == "gost" else Scheme.RSA
    path, chosen = _choose(args)
    from wizard.keys.tokens.demo import issue_demo_token_keys

    authority_choice = resolve(args.authority, lang)
    state = ensure_home(home())
    with _device().open_module(path) as module:
        info = _before_login(module, chosen, lang)
        with module.login(info, pin, rw=True) as session:
            _after_login(session.token, pin, lang)
            async with authority_choice.open(OpenOptions(home=state)) as authority:
                if not isinstance(authority, DemoAuthority):
                    raise UsageError("authority_not_demo", name=authority_choice.name)
                keys = await issue_demo_token_keys(
                    authority,
                    session,
                    scheme=scheme,
                    holder=Holder(args.holder),
                    days_left=args.days_left,
                )
    return {
        "token": info.as_json(),
        "keys": [{"usage": k.usage, "object_id": k.object_id.hex()} for k in keys],
        "holder": args.holder,
        "scheme": scheme.value,
    }


def cmd_demo_keys_token(args: argparse.Namespace, lang: str, out: TextIO) -> int:
    import asyncio

    from wizard import cli

    if args.out:
        raise UsageError("token_demo_no_out")
    pin = _pin(args)
    report = asyncio.run(_demo_token_keys(args, pin, lang))
    lines = [
        translate("token.demo_done", lang, token=report["token"]["label"] or "-"),
        *(f"  {k['usage']}  {k['object_id']}" for k in report["keys"]),
    ]
    cli._emit(report, args.json, lines, out)
    return 0


# ---------------------------------------------------------------------------------------------
# qoltanba renew --token


_FILE_ONLY = (
    ("--store", "store"),
    ("--out", "out"),
    ("--password-env", "password_env"),
    ("--new-password-env", "new_password_env"),
)


def _token_absent_waiting(journal: Any, error: TokenError, serial: str | None) -> TokenError:
    """A token renewal under way whose token is not there: one line saying it waits, to be run
    again with the token plugged in (the journal keeps it where it stopped); else ``error``."""
    from wizard.renewal.token_home import waiting_renewal

    waiting = waiting_renewal(journal, serial)
    if waiting is None:
        return error
    token = waiting.record.origin.token
    if waiting.application:
        return TokenAbsent(
            "renewal_token_absent_submitted", token=token, application=waiting.application
        )
    return TokenAbsent("renewal_token_absent", token=token)


def _pin_state_line(info: Any, lang: str) -> str:
    return translate(
        "token.renew_using",
        lang,
        token=info.name,
        model=f"{info.manufacturer} {info.model}".strip(),
        serial=info.serial or "-",
        pin=_pin_line(info.pin.as_json(), lang),
    )


async def _renew_token(args: argparse.Namespace, pin: str, lang: str) -> dict[str, Any]:
    from wizard import cli
    from wizard.authority.adapters import OpenOptions, resolve
    from wizard.authority.connect import home
    from wizard.errors import QoltanbaError
    from wizard.keys.tokens.keys import token_key_stores
    from wizard.keys.tokens.modules import storage_kind
    from wizard.renewal.journal import RenewalJournal
    from wizard.renewal.process import RenewalDetails, Renewer
    from wizard.renewal.token_home import TokenHome, current_keys_on_token
    from wizard.renewal.trust import RenewalTrust

    chosen = resolve(args.authority, lang)  # the adapter; its spec is what the journal records
    state = home()
    journal = RenewalJournal(state / "journal.sqlite3")
    cli._say_set_aside(journal, lang)
    try:
        path, found = _choose(args)
    except TokenAbsent as error:
        raise _token_absent_waiting(journal, error, None) from error
    serial = found.serial
    try:
        with _device().open_module(path) as module:
            info = module.refresh(found)
            _say(_pin_state_line(info, lang))  # what the token says of its PIN, before a try
            info = _before_login(module, info, lang)
            with module.login(info, pin, rw=True) as session:
                _after_login(session.token, pin, lang)
                current = current_keys_on_token(journal, token_key_stores(session), info)
                storage = args.storage or storage_kind(info.manufacturer, info.model, info.label)
                if not storage:
                    raise UsageError("token_storage_unknown", token=info.name)
                details = RenewalDetails(
                    email=args.email,
                    locality=args.locality,
                    folder=None,
                    new_password="",
                    storage=storage,
                )
                unknown_revocation: str | None = None
                new_keys = TokenHome(session)
                options = OpenOptions(
                    home=state, max_wait=args.max_wait, keep_loop_responsive=False
                )
                async with chosen.open(options) as opened:
                    authority = cli._InfoOnce(opened)  # one "who are you" per run
                    if journal.pending_for(current.fingerprints) is None:
                        # Revoked keys are refused before anything is made on the token;
                        # unknown goes on, said with the outcome (as the file `renew` does,
                        # on the same in-process demo).
                        current, unknown_revocation = await cli._revocation_precheck(
                            args,
                            current,
                            lang,
                            demo_app=getattr(opened, "in_process_app", None),
                        )
                        # another CA's keys: said now, before anything is made on the token
                        await cli._issuer_precheck(authority, current)
                    else:  # queued before it was submitted: judged now, ended if refused
                        await cli._issuer_precheck_pending(
                            authority, chosen.spec, current, journal, state, new_keys=new_keys
                        )
                    renewer = Renewer(
                        journal,
                        authority,
                        chosen.spec,
                        max_wait=args.max_wait,
                        home=state,
                        trust=RenewalTrust(declared_roots=chosen.roots()),
                        new_keys=new_keys,
                    )
                    try:
                        renewal = await renewer.run(
                            current, details, cli._code_source(args, opened, lang)
                        )
                    except QoltanbaError as error:
                        if not isinstance(error, TokenAbsent):
                            pending = journal.pending_for(current.fingerprints)
                            application = pending.application if pending else None
                            error.params.setdefault("application", application)
                        raise
                    finally:
                        for key, params in [*renewer.notices, *new_keys.notices]:
                            _say(translate(key, lang, **params))
    except TokenAbsent as error:  # unplugged meanwhile: the journal keeps where it stopped
        raise _token_absent_waiting(journal, error, serial) from error
    if unknown_revocation is not None:  # a run that failed says only its failure, in one line
        _say(unknown_revocation)
    installed = renewal.record.installed
    objects = [
        {"usage": key.usage, "object_id": key.token_object}
        for key in renewal.record.keys
        if key.token_object
    ]
    return {
        "application": renewal.application,
        "status": renewal.state.value,
        "files": list(installed.files) if installed else [],
        "objects": objects,
        "not_after": installed.not_after.isoformat() if installed and installed.not_after else None,
        "renewal": renewal.id,
        "storage": storage,
        "token": info.as_json(),
    }


def cmd_renew_token(args: argparse.Namespace, lang: str, out: TextIO) -> int:
    """`qoltanba renew --token`: the current keys on the token renewed, the new ones made there."""
    import asyncio

    from wizard import cli

    given = [option for option, name in _FILE_ONLY if getattr(args, name, None)]
    if given:
        raise UsageError("renew_token_file_options", options=", ".join(given))
    if args.storage == "pkcs12":
        raise UsageError("renew_token_file_options", options="--storage pkcs12")
    pin = _pin(args)
    _device()  # python-pkcs11 is there (or how to get it is said) before anything else is done
    report = asyncio.run(_renew_token(args, pin, lang))
    lines = [
        translate("cli.renew_done", lang, application=report["application"] or "-"),
        translate("token.renew_written", lang, token=report["token"]["label"] or "-"),
        *(f"  {label}" for label in report["files"]),
    ]
    cli._emit(report, args.json, lines, out)
    return 0
