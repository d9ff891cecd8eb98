"""Every error code that can reach a screen has a translated message: walked, rendered, read.

tests/test_i18n.py checks that each ``error.<code>`` key exists in every language and that each
raise passes the placeholders its text needs; tests/test_errors.py that each class has a default
message. This walks further, to what a person actually reads: every code the program can raise
(the source, read with ast), every verdict reason a NotRenewable can carry (the keys' verdicts,
the literal reasons raised, the issuer verdict of wizard.renewal.acceptance with each advice),
every refusal the mock authority can send as it arrives through the HTTP client (422 reasons and
every other problem), every CertificateRefused detail and every password or PIN problem, each
rendered by its own error's ``message()`` in kk, ru and en. Each line must be one non-empty line,
with no unfilled {placeholder}, no raw snake_case code, and must not be its own catalogue key."""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import httpx
import pytest

import wizard.errors as errors
from wizard.authority import client
from wizard.authority.mock.problems import REASONS
from wizard.i18n import LANGUAGES, catalogue, placeholders
from wizard.renewal import acceptance

PACKAGE = Path(__file__).resolve().parents[1] / "wizard"
SAMPLE = "Q7"  # what every placeholder is filled with: no snake_case, no braces
SAMPLE_PARAMS = {"issuer": "ҰКО 3.0 (RSA TEST)", "authority": "Example CA"}
# A code, as raw as it would leak: lower case words joined by underscores (ENV_VARS are fine).
RAW_CODE = re.compile(r"(?<![\w./-])[a-z][a-z0-9]*(?:_[a-z0-9]+)+(?![\w/-])")
CLIENT_CALLS = (
    "info",
    "challenge",
    "login",
    "submit",
    "confirm",
    "status",
    "download",
    "demo_outbox",
    "demo_holder",
    "revoke",
)
USAGES = ("auth", "sign", "both")


@cache
def _sources() -> tuple[tuple[Path, ast.Module], ...]:
    return tuple(
        (path, ast.parse(path.read_text(encoding="utf-8"), filename=str(path)))
        for path in sorted(PACKAGE.rglob("*.py"))
    )


def _name(node: ast.expr) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return None


def _strings(node: ast.expr | None) -> list[str]:
    """The string constants an expression can be: "a", x if c else "b", x or "b"."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    if isinstance(node, ast.IfExp):
        return _strings(node.body) + _strings(node.orelse)
    if isinstance(node, ast.BoolOp):
        return [s for value in node.values for s in _strings(value)]
    return []


def _calls(*names: str, under: str = "") -> Iterator[ast.Call]:
    for path, tree in _sources():
        if under and not str(path.relative_to(PACKAGE)).startswith(under):
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and _name(node.func) in names:
                yield node


def _keyword(call: ast.Call, name: str) -> ast.expr | None:
    return next((k.value for k in call.keywords if k.arg == name), None)


CLASSES = {cls.__name__: cls for cls in errors.all_error_classes()}


@cache
def raised_codes() -> tuple[tuple[str, str], ...]:
    """(class name, code): every class's default code and every literal code passed to one."""
    found = {(name, cls.default_code) for name, cls in CLASSES.items()}
    for call in _calls(*CLASSES):
        if call.args:
            found.update((_name(call.func), code) for code in _strings(call.args[0]))
    return tuple(sorted(found))  # type: ignore[arg-type]


@cache
def verdict_reasons() -> tuple[str, ...]:
    """Every reason a NotRenewable can carry: the keys' verdicts and the literals raised."""
    found: set[str] = set()
    for call in _calls("Verdict", under="keys"):
        found.update(
            s for arg in [*call.args[1:2], _keyword(call, "reason")] for s in _strings(arg)
        )
    for call in _calls("NotRenewable"):
        found.update(_strings(_keyword(call, "reason")))
    found.add(acceptance.REASON)  # raised through a constant
    return tuple(sorted(found))


@cache
def refused_details() -> tuple[str, ...]:
    """Every CertificateRefused detail: the literals raised, and the problems verify_issued
    names ("missing:" + usage for each usage)."""
    found: set[str] = set()
    for call in _calls("CertificateRefused"):
        detail = _keyword(call, "detail")
        found.update(_strings(detail))
        if isinstance(detail, ast.BinOp) and isinstance(detail.op, ast.Add):
            found.update(prefix + usage for prefix in _strings(detail.left) for usage in USAGES)
    for path, tree in _sources():
        if path != PACKAGE / "renewal" / "process.py":  # verify_issued's problem = "..."
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Assign) and any(_name(t) == "problem" for t in node.targets):
                found.update(_strings(node.value))
    return tuple(sorted(found - {""}))


@cache
def password_problems() -> tuple[str, ...]:
    """Every password or PIN problem code: appended to a problems list, or passed as one."""
    found: set[str] = set()
    for call in _calls("append"):
        if isinstance(call.func, ast.Attribute) and _name(call.func.value) == "problems":
            found.update(s for arg in call.args for s in _strings(arg))
    for call in _calls("PasswordRejected"):
        listed = _keyword(call, "problems")
        if isinstance(listed, ast.List | ast.Tuple):
            found.update(s for item in listed.elts for s in _strings(item))
    return tuple(sorted(found))


@cache
def mock_refusals() -> tuple[str, ...]:
    """Every 422 reason the mock can send: its table, the literals it refuses with, the reasons
    it records on an application, and the request checks' codes it passes on."""
    found = set(REASONS)
    for call in _calls("refusal", under="authority/mock"):
        found.update(s for arg in call.args for s in _strings(arg))
    for _, tree in _sources():
        for node in ast.walk(tree):
            if isinstance(node, ast.Assign) and any(
                isinstance(t, ast.Attribute) and t.attr == "reason" for t in node.targets
            ):
                found.update(_strings(node.value))
    found.update(code for name, code in raised_codes() if name == "RequestError")
    return tuple(sorted(found))


@cache
def mock_problems() -> tuple[tuple[int, str], ...]:
    """(HTTP status, error) of every other problem the mock answers with."""
    found = set()
    for call in _calls("Problem", under="authority/mock"):
        if len(call.args) >= 2 and isinstance(call.args[0], ast.Constant):
            status = call.args[0].value
            found.update((status, error) for error in _strings(call.args[1]))
    return tuple(sorted(found))


def _filled(*keys: str) -> dict[str, str]:
    names: set[str] = set()
    for lang in LANGUAGES:
        for key in keys:
            names |= placeholders(catalogue(lang).get(key, ""))
    return {name: SAMPLE_PARAMS.get(name, SAMPLE) for name in names}


def assert_readable(line: str, lang: str, *, key: str, code: str) -> None:
    what = (lang, key, line)
    assert line.strip(), what
    assert "\n" not in line and "\r" not in line, what
    assert "{" not in line and "}" not in line, what
    assert line != key and line.strip() != code and key not in line, what
    assert not RAW_CODE.findall(line), (*what, RAW_CODE.findall(line))


# ---------------------------------------------------------------------------------------------
# The walk finds what certainly exists


def test_the_walk_finds_the_known_codes():
    codes = {code for _, code in raised_codes()}
    assert {"internal", "wrong_password", "store_missing", "renewal_open_at_authority"} <= codes
    assert {"expired", "revoked", "algorithm_not_supported", "issuer_not_accepted"} <= set(
        verdict_reasons()
    )
    assert {"wrong_key", "untrusted_issuer", "missing:auth", "malformed"} <= set(refused_details())
    assert {"too_short", "pin_token_refused", "contains_identity"} <= set(password_problems())
    assert {"certificate_untrusted", "too_many_codes", "request_no_possession"} <= set(
        mock_refusals()
    )
    assert {(401, "session_expired"), (409, "application_open"), (422, "code_wrong")} <= set(
        mock_problems()
    )


# ---------------------------------------------------------------------------------------------
# Rendered as a person reads them


@pytest.mark.parametrize("name, code", raised_codes(), ids=lambda v: str(v))
def test_every_raised_code_renders_in_every_language(name, code):
    cls = CLASSES[name]
    params = _filled(f"error.{code}")
    if issubclass(cls, errors.ApplicationRejected):
        params.setdefault("reason", "certificate_untrusted")
    if issubclass(cls, errors.NotRenewable):
        params["reason"] = "expired"
    if issubclass(cls, errors.CertificateRefused):
        params["detail"] = "wrong_key"
    if issubclass(cls, errors.PasswordRejected):
        params["problems"] = ["too_short"]
        params.update(min_length="6", min="4", max="16")
    error = cls(code, **params)
    for lang in LANGUAGES:
        assert_readable(error.message(lang), lang, key=f"error.{code}", code=code)


@pytest.mark.parametrize("reason", verdict_reasons())
def test_every_verdict_reason_renders_as_a_refusal(reason):
    for lang in LANGUAGES:
        assert f"verdict.{reason}" in catalogue(lang), (lang, reason)
    params = _filled(f"verdict.{reason}", *(f"verdict.{reason}.{a}" for a in acceptance.ADVICES))
    line = {lang: errors.NotRenewable(reason=reason, **params).message(lang) for lang in LANGUAGES}
    for lang in LANGUAGES:
        assert_readable(line[lang], lang, key=f"verdict.{reason}", code=reason)
    assert len(set(line.values())) == len(LANGUAGES), line


@pytest.mark.parametrize("advice", acceptance.ADVICES)
def test_every_issuer_advice_renders_and_differs(advice):
    keys = (f"verdict.{acceptance.REASON}", f"verdict.{acceptance.REASON}.{advice}")
    for lang in LANGUAGES:
        assert keys[1] in catalogue(lang), (lang, advice)
        plain = errors.NotRenewable(reason=acceptance.REASON, **_filled(*keys)).message(lang)
        error = errors.NotRenewable(reason=acceptance.REASON, advice=advice, **_filled(*keys))
        line = error.message(lang)
        assert_readable(line, lang, key=keys[1], code=advice)
        assert SAMPLE_PARAMS["issuer"] in line, (lang, line)
        if advice != acceptance.ADVICE_OTHER_AUTHORITY:
            assert line != plain, (lang, advice)


@pytest.mark.parametrize("detail", refused_details())
def test_every_certificate_refusal_detail_renders(detail):
    key = f"refusal.{detail.partition(':')[0]}"
    for lang in LANGUAGES:
        assert key in catalogue(lang), (lang, detail)
        line = errors.CertificateRefused(detail=detail, application="2026-1").message(lang)
        assert_readable(line, lang, key=key, code=detail)
        assert "_" not in detail or detail not in line, (lang, line)


@pytest.mark.parametrize("problem", password_problems())
def test_every_password_problem_renders(problem):
    for code in ("password_rejected", "pin_rejected"):
        error = errors.PasswordRejected(code, problems=[problem], min_length=6, min=4, max=16)
        for lang in LANGUAGES:
            assert f"password.problem.{problem}" in catalogue(lang), (lang, problem)
            assert_readable(
                error.message(lang), lang, key=f"password.problem.{problem}", code=problem
            )


def _answer(status: int, body: dict) -> client._Answer:
    headers = httpx.Headers({"Content-Type": "application/json"})
    return client._Answer(status, headers, json.dumps(body).encode())


@pytest.mark.parametrize("reason", mock_refusals())
def test_every_mock_refusal_reaches_the_screen_in_words(reason):
    body = {"error": "rejected", "message": REASONS.get(reason, "rejected"), "reason": reason}
    for where in sorted(client.REFUSABLE):
        error = client._refusal(_answer(422, body), where, with_session=True)
        assert isinstance(error, errors.ApplicationRejected), (where, error)
        for lang in LANGUAGES:
            assert f"reason.{reason}" in catalogue(lang), (lang, reason)
            assert_readable(error.message(lang), lang, key=f"reason.{reason}", code=reason)


@pytest.mark.parametrize("status, code", mock_problems(), ids=lambda v: str(v))
def test_every_other_mock_problem_reaches_the_screen_in_words(status, code):
    body = {
        "error": code,
        "message": "an English line from the authority",
        "application": "2026-12345678",
        "attempts_left": 2,
        "state": "processing",
        "reason": "certificate_untrusted",
    }
    for where in CLIENT_CALLS:
        for with_session in (True, False):
            error = client._refusal(_answer(status, body), where, with_session=with_session)
            assert isinstance(error, errors.QoltanbaError), (where, error)
            for lang in LANGUAGES:
                line = error.message(lang)
                assert_readable(line, lang, key=f"error.{error.code}", code=code)
                assert "_" not in code or code not in line, (where, lang, line)
