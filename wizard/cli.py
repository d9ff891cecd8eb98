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
from typing import Any, TextIO

from wizard import __version__
from wizard.errors import QoltanbaError, UsageError
from wizard.i18n import LANGUAGES, detect_language, translate


class _Parser(argparse.ArgumentParser):
    """argparse that raises UsageError instead of printing and exiting on its own."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(detail=message)


def read_password(args: argparse.Namespace, lang: str, *, env_attr: str = "password_env") -> str:
    """A password from the named environment variable, standard input, or a prompt on a TTY."""
    var = getattr(args, env_attr, None)
    if var:
        value = os.environ.get(var)
        if value is None:
            raise UsageError("password_env_missing", var=var)
        return value
    if getattr(args, "password_stdin", False) or not sys.stdin.isatty():
        line = sys.stdin.readline()
        value = line[:-1] if line.endswith("\n") else line
        value = value[:-1] if value.endswith("\r") else value
        if not value:
            raise UsageError("password_stdin_empty")
        return value
    return getpass.getpass(translate("cli.password_prompt", lang))


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
    }
    if not verdict.renewable:
        report["reason"] = verdict.reason
        report["reason_message"] = translate(verdict.message_key, lang)
    report["certificate"] = certificate_pem(store.certificate)
    return report


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
        if value:
            print(f"{label.ljust(width)}  {value}", file=out)
    verdict = t("verdict.renewable") if report["renewable"] else report["reason_message"]
    print(f"{t('inspect.verdict').ljust(width)}  {verdict}", file=out)
    if report["iin"] and not report["iin_checksum_ok"]:
        print(f"{''.ljust(width)}  {t('inspect.iin_checksum')}", file=out)


def cmd_inspect(args: argparse.Namespace, lang: str, out: TextIO) -> int:
    from pathlib import Path

    from wizard.keys.store import open_store

    password = read_password(args, lang)
    crls = [Path(p) for p in args.crl or []]
    store = open_store(args.store, password, crl_files=crls)
    report = inspect_report(store, lang)
    if args.json:
        print(json.dumps(report, ensure_ascii=False, indent=2), file=out)
    else:
        _print_inspect_text(report, lang, out)
    return 0


# ---------------------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="qoltanba",
        description="Renew a Kazakhstan electronic digital signature (NCA RK) at home.",
    )
    parser.add_argument("--version", action="version", version=f"qoltanba {__version__}")
    parser.add_argument("--lang", choices=LANGUAGES, help="language of messages (kk, ru, en)")
    commands = parser.add_subparsers(dest="command", parser_class=_Parser)

    inspect = commands.add_parser("inspect", help="show what a key store holds and if it renews")
    inspect.add_argument("store", metavar="STORE.p12")
    source = inspect.add_mutually_exclusive_group()
    source.add_argument("--password-env", metavar="VAR", help="environment variable with it")
    source.add_argument("--password-stdin", action="store_true", help="read it from stdin")
    inspect.add_argument("--crl", action="append", metavar="FILE", help="a CRL file to check")
    inspect.add_argument("--json", action="store_true", help="print one JSON object")
    inspect.set_defaults(handler=cmd_inspect)
    return parser


def _fail(error: QoltanbaError, lang: str, as_json: bool, out: TextIO, err: TextIO) -> int:
    message = error.message(lang)
    print(f"qoltanba: {message}", file=err)
    if as_json:
        print(json.dumps({"error": error.code, "message": message}, ensure_ascii=False), file=out)
    return error.exit_code


def main(
    argv: Sequence[str] | None = None, *, out: TextIO | None = None, err: TextIO | None = None
) -> int:
    out = out or sys.stdout
    err = err or sys.stderr
    argv = list(sys.argv[1:] if argv is None else argv)
    lang = detect_language()
    as_json = "--json" in argv
    try:
        args = build_parser().parse_args(argv)
        lang = args.lang or lang
        handler = getattr(args, "handler", None)
        if handler is None:
            build_parser().print_help(out)
            return 0
        return handler(args, lang, out)
    except QoltanbaError as error:
        return _fail(error, lang, as_json, out, err)
    except KeyboardInterrupt:
        return 130
