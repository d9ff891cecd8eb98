"""`qoltanba inspect` (DESIGN.md, "The command line"): the JSON contract, the text report, where
passwords come from, distinct exit codes, one translated line per error, and no password echoed."""

from __future__ import annotations

import datetime as dt
import io
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs12 as crypto_pkcs12

from wizard.cli import main
from wizard.i18n import LANGUAGES, catalogue

PROJECT_ROOT = Path(__file__).resolve().parents[1]
PASSWORD = "Qwerty12"  # README of the material: the password of every .p12 there
# Glob patterns of the material for @pytest.mark.material_files (tests/conftest.py).
SDK2020_RSA_STORES = "sdk2020/**/*RSA256_*.p12"
PERSONAL_SIGN_STORE = "sdk2020/personal/active/RSA256_*.p12"
GOST2015_STORE = "gost2015-2026/legal_ceo_valid.p12"
PASSWORD_VAR = "QOLTANBA_TEST_STORE_PASSWORD"
# The fields DESIGN.md promises for `inspect --json`.
CONTRACT_FIELDS = {
    "algorithm",
    "usage",
    "iin",
    "bin",
    "organization",
    "holder",
    "not_before",
    "not_after",
    "days_left",
    "renewable",
    "certificate",
}


class Run:
    """One `qoltanba` run in this process: exit code, stdout and stderr."""

    def __init__(self, code: int, out: str, err: str) -> None:
        self.code, self.out, self.err = code, out, err

    def __repr__(self) -> str:
        return f"<exit {self.code} out={self.out[:200]!r} err={self.err!r}>"


@pytest.fixture
def qoltanba(monkeypatch):
    """Run `qoltanba ARGS` through wizard.cli.main with a given environment and stdin."""

    def run(*argv: str, env: dict[str, str] | None = None, stdin: str = "") -> Run:
        for var in ("QOLTANBA_LANG", "LC_ALL", "LC_MESSAGES", "LANG", "LANGUAGE", PASSWORD_VAR):
            monkeypatch.delenv(var, raising=False)
        for var, value in (env or {}).items():
            monkeypatch.setenv(var, value)
        monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
        out, err = io.StringIO(), io.StringIO()
        code = main(list(argv), out=out, err=err)
        return Run(code, out.getvalue(), err.getvalue())

    return run


def inspect_json(qoltanba, store: Path, password: str = PASSWORD, lang: str = "en"):
    run = qoltanba(
        *("--lang", lang, "inspect", str(store), "--password-env", PASSWORD_VAR, "--json"),
        env={PASSWORD_VAR: password},
    )
    assert run.code == 0, run
    assert run.err == ""
    assert password not in run.out
    return json.loads(run.out)  # exactly one JSON object, nothing else


def _certificate(path: Path) -> x509.Certificate:
    """The store's certificate as `cryptography` reads it (not through our reader)."""
    loaded = crypto_pkcs12.load_pkcs12(path.read_bytes(), PASSWORD.encode())
    return loaded.cert.certificate


def der(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.DER)


def _one_line(text: str) -> str:
    assert text.endswith("\n") and text.count("\n") == 1, repr(text)
    line = text.rstrip("\n")
    assert line.startswith("qoltanba: ") and len(line) > len("qoltanba: ") + 10, line
    assert "{" not in line and "Traceback" not in line, line
    return line


# ---------------------------------------------------------------------------------------------
# The JSON contract


@pytest.mark.material_files(SDK2020_RSA_STORES)
def test_inspect_json_on_every_rsa_store(qoltanba, material_file):
    path = material_file
    report = inspect_json(qoltanba, path)
    cert = _certificate(path)
    assert set(report) >= CONTRACT_FIELDS
    assert report["algorithm"] == "RSA 2048"
    assert report["usage"] == (["auth"] if path.name.startswith("AUTH_") else ["sign"])
    assert report["iin"] == "123456789011"
    if "personal" in path.parts:
        assert report["holder"] == "individual"
        assert report["bin"] is None and report["organization"] is None
    else:
        assert report["holder"] == "legal-head"
        assert report["bin"] == "123456789021"
        assert report["organization"] == 'АО "ТЕСТ"'
    not_before = dt.datetime.fromisoformat(report["not_before"])
    not_after = dt.datetime.fromisoformat(report["not_after"])
    assert not_before == cert.not_valid_before_utc and not_before.utcoffset() is not None
    assert not_after == cert.not_valid_after_utc and not_after.utcoffset() is not None
    expected_days = (cert.not_valid_after_utc - dt.datetime.now(dt.UTC)).total_seconds() / 86400
    assert report["days_left"] in (math.floor(expected_days), math.floor(expected_days) + 1)
    assert report["days_left"] < 0
    assert report["renewable"] is False
    assert report["reason"] == "expired"
    assert report["certificate"].startswith("-----BEGIN CERTIFICATE-----\n")
    assert x509.load_pem_x509_certificate(report["certificate"].encode()) == cert


def test_inspect_json_on_a_renewable_store(qoltanba, throwaway_ca, tmp_path):
    cert, key = throwaway_ca.issue(kind="sign", holder="legal-signer")
    path = tmp_path / "RSA256_new.p12"
    path.write_bytes(throwaway_ca.store(cert, key))
    report = inspect_json(qoltanba, path)
    assert report["renewable"] is True
    assert report.get("reason") is None
    assert report["holder"] == "legal-signer"
    assert report["usage"] == ["sign"]
    assert 300 <= report["days_left"] <= 335
    assert x509.load_pem_x509_certificate(report["certificate"].encode()) == cert


def test_inspect_never_prints_a_control_character_from_a_certificate(
    qoltanba, make_ca, rsa_keys, tmp_path
):
    ca = make_ca(rsa_keys[:3], "EVIL\nCA \x1b[31mRED\u202e")
    cert, key = ca.issue(kind="sign")
    path = tmp_path / "RSA256_odd.p12"
    path.write_bytes(ca.store(cert, key))
    run = qoltanba("--lang", "en", "inspect", str(path), "--password-env", PASSWORD_VAR,
                   env={PASSWORD_VAR: PASSWORD})  # fmt: skip
    assert run.code == 0, run
    issuer = [line for line in run.out.splitlines() if "EVIL" in line]
    assert len(issuer) == 1 and "RED" in issuer[0], run.out
    assert "\x1b" not in run.out and "\u202e" not in run.out


@pytest.mark.material_files(GOST2015_STORE)
def test_inspect_json_on_a_gost_store(qoltanba, material_file):
    report = inspect_json(qoltanba, material_file)
    assert report["algorithm"] == "GOST 2015 512"
    assert report["usage"] == ["auth", "sign"]
    assert report["holder"] == "legal-head"
    # Renewable while valid; once its date passes, refused because it expired.
    assert report["renewable"] is (report["days_left"] >= 0)
    assert report.get("reason") == (None if report["days_left"] >= 0 else "expired")
    cert = x509.load_pem_x509_certificate(report["certificate"].encode())
    assert dt.datetime.fromisoformat(report["not_after"]) == cert.not_valid_after_utc
    ski = cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest
    assert report["subject_key_id"] == ski.hex()


@pytest.mark.material_files(PERSONAL_SIGN_STORE)
def test_inspect_through_python_dash_m(material_file):
    path = material_file
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT), PASSWORD_VAR: PASSWORD}
    env.pop("QOLTANBA_LANG", None)
    result = subprocess.run(
        [
            *(sys.executable, "-m", "wizard", "--lang", "en", "inspect", str(path)),
            *("--password-env", PASSWORD_VAR, "--json"),
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=PROJECT_ROOT,
        check=False,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    report = json.loads(result.stdout)
    assert x509.load_pem_x509_certificate(report["certificate"].encode()) == _certificate(path)
    assert (report["renewable"], report["reason"]) == (False, "expired")
    assert PASSWORD not in result.stdout + result.stderr

    wrong = subprocess.run(
        [sys.executable, "-m", "wizard", "--lang", "en", "inspect", str(path), "--password-stdin"],
        input="Zx-not-the-one-42\n",
        capture_output=True,
        text=True,
        env=env,
        cwd=PROJECT_ROOT,
        check=False,
        timeout=60,
    )
    assert wrong.returncode == 3
    assert "wrong password" in _one_line(wrong.stderr).lower()
    assert wrong.stdout == ""
    assert "Zx-not-the-one-42" not in wrong.stdout + wrong.stderr


# ---------------------------------------------------------------------------------------------
# The text report


@pytest.mark.parametrize("lang", LANGUAGES)
@pytest.mark.material_files(PERSONAL_SIGN_STORE)
def test_text_report_in_each_language(qoltanba, material_file, lang):
    run = qoltanba(
        *("--lang", lang, "inspect", str(material_file), "--password-env", PASSWORD_VAR),
        env={PASSWORD_VAR: PASSWORD},
    )
    assert run.code == 0, run
    assert run.err == ""
    texts = catalogue(lang)
    assert "123456789011" in run.out
    assert texts["verdict.expired"] in run.out
    assert texts["inspect.iin"] in run.out
    assert texts["holder.individual"] in run.out
    assert "{" not in run.out  # every placeholder filled
    assert PASSWORD not in run.out


def test_the_language_comes_from_the_environment(qoltanba, material):
    store = next(material.glob(PERSONAL_SIGN_STORE))
    for lang in LANGUAGES:
        run = qoltanba(
            "inspect",
            str(store),
            "--password-env",
            PASSWORD_VAR,
            env={PASSWORD_VAR: "Zx-wrong-1", "LANG": f"{lang}_KZ.UTF-8"},
        )
        assert run.code == 3
        assert catalogue(lang)["error.wrong_password"] in run.err


# ---------------------------------------------------------------------------------------------
# Where the password comes from


@pytest.mark.parametrize("line", [f"{PASSWORD}\n", f"{PASSWORD}\r\n", "Qwerty12"])
def test_password_from_stdin(qoltanba, material, line):
    store = next(material.glob(PERSONAL_SIGN_STORE))
    run = qoltanba("--lang", "en", "inspect", str(store), "--password-stdin", "--json", stdin=line)
    assert run.code == 0, run
    assert json.loads(run.out)["iin"] == "123456789011"
    # Without an option, a password piped into a non-terminal stdin is read the same way.
    run = qoltanba("--lang", "en", "inspect", str(store), "--json", stdin=line)
    assert run.code == 0, run


def test_password_from_an_unset_variable_is_a_usage_error(qoltanba, material):
    store = next(material.glob(PERSONAL_SIGN_STORE))
    run = qoltanba("--lang", "en", "inspect", str(store), "--password-env", "QOLTANBA_NOT_SET")
    assert run.code == 2
    assert "QOLTANBA_NOT_SET" in _one_line(run.err)
    assert run.out == ""


def test_empty_stdin_is_a_usage_error(qoltanba, material):
    store = next(material.glob(PERSONAL_SIGN_STORE))
    run = qoltanba("--lang", "en", "inspect", str(store), "--password-stdin", stdin="")
    assert run.code == 2
    _one_line(run.err)


# ---------------------------------------------------------------------------------------------
# Refusals: exit codes, one line, the words "wrong password" only for a wrong password


def _bad_files(material: Path, folder: Path) -> dict[str, Path]:
    from asn1crypto import pkcs12 as asn1_pkcs12

    good = next(material.glob(PERSONAL_SIGN_STORE))
    data = good.read_bytes()
    cer_pem = good.with_suffix(".cer").read_bytes()
    files = {
        "empty": b"",
        "truncated": data[: len(data) // 2],
        "random": bytes(range(256)) * 4,
        "text": "Qwerty12 — the password of my keys\n".encode(),
        "certificate-pem": cer_pem,
        "certificate-der": der(x509.load_pem_x509_certificate(cer_pem)),
        "without-mac": asn1_pkcs12.Pfx(
            {"version": "v3", "auth_safe": asn1_pkcs12.Pfx.load(data)["auth_safe"]}
        ).dump(),
    }
    paths = {}
    for name, content in files.items():
        paths[name] = folder / f"{name}.p12"
        paths[name].write_bytes(content)
    paths["folder"] = folder / "folder.p12"
    paths["folder"].mkdir()
    paths["missing"] = folder / "missing.p12"
    paths["too-large"] = folder / "too-large.p12"
    with paths["too-large"].open("wb") as handle:
        handle.write(data)
        handle.truncate(2 << 20)
    return paths


UNUSABLE = [
    "empty",
    "truncated",
    "random",
    "text",
    "certificate-pem",
    "certificate-der",
    "without-mac",
    "folder",
    "missing",
    "too-large",
]


@pytest.mark.parametrize("kind", UNUSABLE)
def test_unusable_file_exits_4_with_one_line(qoltanba, material, tmp_path, kind):
    path = _bad_files(material, tmp_path)[kind]
    messages = set()
    for lang in LANGUAGES:
        run = qoltanba(
            *("--lang", lang, "inspect", str(path), "--password-env", PASSWORD_VAR),
            env={PASSWORD_VAR: PASSWORD},
        )
        assert run.code == 4, run
        assert run.out == ""
        line = _one_line(run.err)
        assert PASSWORD not in line
        messages.add(line)
        if lang == "en":
            assert "wrong password" not in line.lower(), line
    assert len(messages) == len(LANGUAGES)  # translated, not one text for all


@pytest.mark.parametrize(
    "password, code",
    [("Zx-not-the-one-42", "wrong_password"), ("Йцукен12", "wrong_password_layout")],
)
def test_wrong_password_exits_3_with_one_line(qoltanba, material, password, code):
    store = next(material.glob(PERSONAL_SIGN_STORE))
    messages = set()
    for lang in LANGUAGES:
        run = qoltanba(
            *("--lang", lang, "inspect", str(store), "--password-env", PASSWORD_VAR),
            env={PASSWORD_VAR: password},
        )
        assert run.code == 3, run
        assert run.out == ""
        line = _one_line(run.err)
        assert line == f"qoltanba: {catalogue(lang)[f'error.{code}']}"
        assert password not in line
        messages.add(line)
        if lang == "en":
            assert "wrong password" in line.lower()
    assert len(messages) == len(LANGUAGES)


def test_wrong_password_json_names_the_error(qoltanba, material):
    store = next(material.glob(PERSONAL_SIGN_STORE))
    run = qoltanba(
        *("--lang", "en", "inspect", str(store), "--password-env", PASSWORD_VAR, "--json"),
        env={PASSWORD_VAR: "Zx-not-the-one-42"},
    )
    assert run.code == 3
    assert json.loads(run.out) == {
        "error": "wrong_password",
        "message": _one_line(run.err).removeprefix("qoltanba: "),
    }
    assert "Zx-not-the-one-42" not in run.out + run.err


@pytest.mark.parametrize(
    "argv",
    [
        pytest.param(["inspect"], id="no-store"),
        pytest.param(["inspect", "--json"], id="no-store-json"),
        pytest.param(
            ["inspect", "x.p12", "--password-env", PASSWORD_VAR, "--password-stdin"],
            id="both-password-options",
        ),
        pytest.param(["inspect", "x.p12", "--no-such-option"], id="unknown-option"),
        pytest.param(["no-such-command"], id="unknown-command"),
    ],
)
def test_usage_errors_exit_2_with_one_line(qoltanba, argv):
    messages = set()
    for lang in LANGUAGES:
        run = qoltanba(*argv, env={PASSWORD_VAR: PASSWORD, "QOLTANBA_LANG": lang})
        assert run.code == 2, run
        line = _one_line(run.err)
        messages.add(line)
        if lang == "en":
            assert "wrong password" not in line.lower()
    assert len(messages) == len(LANGUAGES)


def test_usage_error_speaks_the_language_asked_with_lang(qoltanba):
    # `--lang` is parsed before the error in the same command line; it must still count.
    for lang in LANGUAGES:
        by_option = qoltanba("--lang", lang, "inspect", env={"QOLTANBA_LANG": "en"})
        by_environment = qoltanba("inspect", env={"QOLTANBA_LANG": lang})
        assert by_option.code == by_environment.code == 2
        assert by_option.err == by_environment.err, lang


def test_exit_codes_are_distinct(qoltanba, material, tmp_path):
    store = next(material.glob(PERSONAL_SIGN_STORE))
    env = {PASSWORD_VAR: "Zx-not-the-one-42"}
    usage = qoltanba("inspect", env=env).code
    wrong = qoltanba("inspect", str(store), "--password-env", PASSWORD_VAR, env=env).code
    missing = qoltanba("inspect", str(tmp_path / "x.p12"), "--password-env", PASSWORD_VAR, env=env)
    fine = qoltanba(
        "inspect", str(store), "--password-env", PASSWORD_VAR, env={PASSWORD_VAR: PASSWORD}
    ).code
    assert (fine, usage, wrong, missing.code) == (0, 2, 3, 4)


@pytest.mark.parametrize("lang", LANGUAGES)
def test_status_says_each_renewals_state_in_words(qoltanba, tmp_path, lang):
    """`qoltanba status` (text) names the state as the wizard does, never the journal's code."""
    from wizard.i18n import translate
    from wizard.renewal.journal import RenewalJournal, RenewalState
    from wizard.renewal.record import Origin

    journal = RenewalJournal(tmp_path / "journal.sqlite3")
    renewal = journal.start(("ab" * 32,), "demo", Origin(folder=tmp_path / "new"))
    for state in (RenewalState.DETAILED, RenewalState.KEYS_SAVED):
        renewal = journal.advance(renewal, state)
    journal.close()
    run = qoltanba("--lang", lang, "status", env={"QOLTANBA_HOME": str(tmp_path)})
    assert run.code == 0, run
    assert translate("state.keys_saved", lang) in run.out and "keys_saved" not in run.out


def _foreign_store_options(throwaway_ca, folder: Path) -> list[str]:
    """``--store`` options for an AUTH and a SIGN store from a CA the demo does not renew."""
    options = []
    for kind, key in (("auth", throwaway_ca.spare_keys[0]), ("sign", throwaway_ca.spare_keys[1])):
        cert, key = throwaway_ca.issue(kind=kind, key=key)
        path = folder / f"{kind.upper()}_foreign.p12"
        path.write_bytes(throwaway_ca.store(cert, key))
        options += ["--store", str(path)]
    return options


def test_renew_refuses_at_once_keys_the_demo_does_not_renew(qoltanba, throwaway_ca, tmp_path):
    # A foreign CA's keys against the demo authority: exit 5 before anything is made or written,
    # one line saying so and what to do (practise with demo keys), never a late rejection.
    stores = _foreign_store_options(throwaway_ca, tmp_path)
    home, out = tmp_path / "home", tmp_path / "new-keys"
    env = {"QOLTANBA_HOME": str(home), PASSWORD_VAR: PASSWORD, "QOLTANBA_TEST_NEW": "Renewed2026cd"}
    for lang in LANGUAGES:
        run = qoltanba(
            *("--lang", lang, "renew", *stores, "--password-env", PASSWORD_VAR),
            *("--new-password-env", "QOLTANBA_TEST_NEW", "--email", "holder@example.kz"),
            *("--locality", "Астана", "--out", str(out), "--json"),
            env=env,
        )
        assert run.code == 5, run
        answer = json.loads(run.out)
        assert (answer["error"], answer["reason"]) == ("not_renewable", "issuer_not_accepted")
        assert run.err == f"qoltanba: {answer['message']}\n"
        assert "QOLTANBA TEST CA" in answer["message"] and "qoltanba demo-keys" in answer["message"]
        assert catalogue(lang)["open.make_demo"] in answer["message"]
        assert "QOLTANBA_TRUST" not in answer["message"]  # not an NCA test CA: no such advice
        assert not out.exists()
    status = qoltanba("status", "--json", env=env)
    assert json.loads(status.out)["renewals"] == []


def test_a_renewal_queued_before_submission_is_judged_when_the_authority_answers(
    qoltanba, throwaway_ca, tmp_path, monkeypatch
):
    # The authority cannot be reached: no verdict, the foreign keys' renewal is made and queued
    # (exit 6, new keys saved encrypted). Next run it answers that it does not renew this CA's
    # keys: exit 5 there and then, the queued renewal ended and its unsent keys gone — never a
    # submission that can only be rejected.
    from wizard.authority.client import HttpAuthority
    from wizard.errors import AuthorityUnreachable

    stores = _foreign_store_options(throwaway_ca, tmp_path)
    home, out = tmp_path / "home", tmp_path / "new-keys"
    env = {"QOLTANBA_HOME": str(home), PASSWORD_VAR: PASSWORD, "QOLTANBA_TEST_NEW": "Renewed2026cd"}
    argv = (
        *("renew", *stores, "--password-env", PASSWORD_VAR, "--new-password-env"),
        *("QOLTANBA_TEST_NEW", "--email", "holder@example.kz", "--locality", "Астана"),
        *("--out", str(out), "--json", "--max-wait", "0"),
    )
    real_info = HttpAuthority.info

    async def unreachable(self):
        raise AuthorityUnreachable(detail="test: no answer")

    monkeypatch.setattr(HttpAuthority, "info", unreachable)
    queued = qoltanba(*argv, env=env)
    assert queued.code == 6, queued
    assert list(out.glob("PENDING_*")), "the new keys wait, encrypted"

    monkeypatch.setattr(HttpAuthority, "info", real_info)
    refused = qoltanba(*argv, env=env)
    assert refused.code == 5, refused
    assert json.loads(refused.out)["reason"] == "issuer_not_accepted"
    assert not list(out.glob("PENDING_*")), "the unsent keys went with the renewal"
    [renewal] = json.loads(qoltanba("status", "--json", env=env).out)["renewals"]
    assert renewal["status"] == "cancelled" and not renewal["application"]
