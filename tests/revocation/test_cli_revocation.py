"""Revocation from the command line, end to end (issue #12): demo holders of the mock authority —
served on loopback (`qoltanba authority serve`), and in-process (demo mode, no socket) — are
``good`` by OCSP, then revoked through the test endpoint: `inspect` says ``revoked`` via OCSP (and
via the delta CRL when the responder is not reachable), and `renew` refuses them (exit 5) before
anything is generated. The real NCA test material: every store's revocation and its reason."""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path

import httpx
import pytest
from revocation_support import free_port

from wizard.cli import main
from wizard.i18n import translate

OLD_VAR = "QOLTANBA_TEST_OLD_PASSWORD"
NEW_VAR = "QOLTANBA_TEST_NEW_PASSWORD"
OLD_PASSWORD = "Current2025ab"
NEW_PASSWORD = "Renewed2026cd"
MATERIAL_PASSWORD = "Qwerty12"
EXIT_NOT_RENEWABLE = 5


class Run:
    def __init__(self, code: int, out: str, err: str) -> None:
        self.code, self.out, self.err = code, out, err

    def json(self):
        return json.loads(self.out)

    def __repr__(self) -> str:
        return f"<exit {self.code} out={self.out[:400]!r} err={self.err!r}>"


@pytest.fixture
def qoltanba(monkeypatch, tmp_path):
    """`qoltanba ARGS` in this process, its state in a fresh QOLTANBA_HOME."""
    home = tmp_path / "home"
    for var in ("QOLTANBA_LANG", "LC_ALL", "LANG", "QOLTANBA_OFFLINE", "QOLTANBA_OCSP_URL"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.delenv("QOLTANBA_TRUST", raising=False)
    monkeypatch.setenv("QOLTANBA_HOME", str(home))
    monkeypatch.setenv(OLD_VAR, OLD_PASSWORD)
    monkeypatch.setenv(NEW_VAR, NEW_PASSWORD)
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))

    def run(*argv: str) -> Run:
        out, err = io.StringIO(), io.StringIO()
        code = main(list(argv), out=out, err=err)
        return Run(code, out.getvalue(), err.getvalue())

    run.home = home  # type: ignore[attr-defined]
    return run


def demo_keys(qoltanba, folder: Path, scheme: str, authority: str) -> list[Path]:
    run = qoltanba(
        *("demo-keys", "--out", str(folder), "--password-env", OLD_VAR, "--scheme", scheme),
        *("--authority", authority, "--json"),
    )
    assert run.code == 0, run
    return [Path(p) for p in run.json()["files"]]


def inspect(qoltanba, store: Path, *extra: str, lang: str = "en") -> dict:
    run = qoltanba(
        *("--lang", lang, "inspect", str(store), "--password-env", OLD_VAR, "--json", *extra)
    )
    assert run.code == 0 and run.err == "", run
    return run.json()


def serial_of(report: dict) -> str:
    from cryptography import x509

    return format(x509.load_pem_x509_certificate(report["certificate"].encode()).serial_number, "x")


def renew(qoltanba, stores: list[Path], out: Path, authority: str) -> Run:
    args = ["renew"]
    for store in stores:
        args += ["--store", str(store)]
    args += ["--password-env", OLD_VAR, "--new-password-env", NEW_VAR]
    args += ["--email", "test@example.kz", "--locality", "Астана", "--out", str(out)]
    return qoltanba(*args, "--authority", authority, "--max-wait", "1", "--json")


def _revoked_by_ocsp(report: dict, url_start: str, reason: str) -> None:
    answer = report["revocation"]
    assert (answer["status"], answer["source"], answer["detail"]) == (
        "revoked",
        "ocsp",
        "responder_revoked",
    ), answer
    assert answer["origin"].startswith(url_start) and answer["origin"].endswith("/v1/pki/ocsp")
    assert answer["reason"] == reason and answer["revoked_at"]
    assert report["revocation_checked"] is True
    assert (report["renewable"], report["reason"]) == (False, "revoked")


@pytest.mark.parametrize("scheme", ["rsa", "gost"])
def test_a_served_demo_holder_revoked_is_reported_and_refused(qoltanba, served, tmp_path, scheme):
    stores = demo_keys(qoltanba, tmp_path / "keys", scheme, served)
    for store in stores:
        report = inspect(qoltanba, store)
        answer = report["revocation"]
        assert (answer["status"], answer["source"]) == ("good", "ocsp"), answer
        assert answer["origin"] == f"{served}/v1/pki/ocsp"
        assert answer["next_update"] > answer["checked_at"]
        assert report["renewable"] is True and report["revocation_checked"] is True

    revoked = httpx.post(
        f"{served}/v1/_test/revocations",
        json={"serial": serial_of(inspect(qoltanba, stores[-1])), "reason": "key_compromise"},
        timeout=10,
    )
    assert revoked.status_code == 200 and revoked.json()["reason"] == "key_compromise"
    report = inspect(qoltanba, stores[-1])
    _revoked_by_ocsp(report, served, "key_compromise")

    # Said in plain words, in each language.
    for lang, word in (("en", "REVOKED"), ("ru", "ОТОЗВАН"), ("kk", "КЕРІ ШАҚЫРЫЛҒАН")):
        text = qoltanba("--lang", lang, "inspect", str(stores[-1]), "--password-env", OLD_VAR)
        assert text.code == 0 and word in text.out, text
        assert translate("revocation.source.ocsp", lang) in text.out

    # The responder unreachable: the delta CRL named in the certificate says so instead.
    dead = f"http://127.0.0.1:{free_port()}/ocsp"
    by_crl = inspect(qoltanba, stores[-1], "--ocsp-url", dead)["revocation"]
    assert (by_crl["status"], by_crl["source"]) == ("revoked", "crl"), by_crl
    assert by_crl["origin"].endswith("/delta") and by_crl["reason"] == "key_compromise"
    assert {"source": "ocsp", "origin": dead, "detail": "offline"} in by_crl["attempts"]

    # The renewal refuses it before anything is generated.
    out = tmp_path / "new"
    run = renew(qoltanba, stores, out, served)
    assert run.code == EXIT_NOT_RENEWABLE, run
    assert run.json()["error"] == "not_renewable"
    lines = run.err.splitlines()
    assert len(lines) == 1 and translate("verdict.revoked", "en") in lines[0], run.err
    assert not out.exists() or list(out.iterdir()) == []


def test_an_in_process_demo_holder_revoked_is_reported_and_refused(qoltanba, tmp_path):
    from wizard.authority.mock import create_app

    stores = demo_keys(qoltanba, tmp_path / "keys", "rsa", "demo")
    report = inspect(qoltanba, stores[0])
    answer = report["revocation"]
    assert (answer["status"], answer["source"]) == ("good", "ocsp"), answer
    assert answer["origin"] == "http://demo-authority.qoltanba.invalid/v1/pki/ocsp"

    # Revoked through the test endpoint of the same books (no socket anywhere).
    app = create_app(qoltanba.home / "demo-authority", test_endpoints=True)

    async def revoke() -> None:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://books") as client:
            answer = await client.post(
                "/v1/_test/revocations", json={"serial": serial_of(report), "reason": "superseded"}
            )
            assert answer.status_code == 200

    import asyncio

    asyncio.run(revoke())
    app.state.authority.close()
    _revoked_by_ocsp(inspect(qoltanba, stores[0]), "http://demo-authority", "superseded")
    run = renew(qoltanba, stores, tmp_path / "new", "demo")
    assert run.code == EXIT_NOT_RENEWABLE, run
    assert translate("verdict.revoked", "en") in run.err


def test_offline_the_answer_is_unknown_and_the_renewal_goes_on_saying_so(qoltanba, tmp_path):
    stores = demo_keys(qoltanba, tmp_path / "keys", "rsa", "demo")
    report = inspect(qoltanba, stores[0], "--offline")
    answer = report["revocation"]
    assert (answer["status"], answer["detail"]) == ("unknown", "offline"), answer
    assert report["revocation_checked"] is False and report["renewable"] is True
    text = qoltanba(
        "--lang", "en", "inspect", str(stores[0]), "--password-env", OLD_VAR, "--offline"
    )
    assert translate("revocation.unknown_policy", "en") in text.out

    args = ["renew", "--offline"]
    for store in stores:
        args += ["--store", str(store)]
    args += ["--password-env", OLD_VAR, "--new-password-env", NEW_VAR, "--email", "a@b.kz"]
    args += ["--locality", "Астана", "--out", str(tmp_path / "new"), "--json"]
    run = qoltanba(*args)
    assert run.code == 0, run
    detail = translate("revocation.detail.offline", "en")
    notice = translate("revocation.notice_unknown", "en", detail=detail)
    assert run.err.splitlines() == [f"qoltanba: {notice}"]
    assert run.json()["status"] == "done"


def test_a_malformed_ocsp_url_is_one_line(qoltanba, tmp_path):
    stores = demo_keys(qoltanba, tmp_path / "keys", "rsa", "demo")
    run = qoltanba("inspect", str(stores[0]), "--password-env", OLD_VAR, "--ocsp-url", "ftp://x")
    assert run.code == 2 and run.err.count("\n") == 1 and "ftp://x" in run.err, run


# --- the real NCA test material -------------------------------------------------------------------

# What `inspect --json --offline` says of each store, checked by hand against the files: the
# GOST 2015 stores have their issuing CA and its CRLs beside them, which verify but were issued on
# 2025-04-29, a year before the certificates (2026-05-08); the sdk2020 ones have expired and no
# CRL of their CA is at hand.
MATERIAL = {
    "gost2015-2026/individual_revoked.p12": ("unknown", "crl", "crl_before_certificate", None),
    "gost2015-2026/individual_valid.p12": ("unknown", "crl", "crl_before_certificate", None),
    "gost2015-2026/legal_ceo_valid.p12": ("unknown", "crl", "crl_before_certificate", None),
    "gost2015-2026/legal_signer_valid.p12": ("unknown", "crl", "crl_before_certificate", None),
    "gost2015-2026/legal_infosystem_valid.p12": ("unknown", "crl", "crl_before_certificate", None),
}
SDK2020 = "sdk2020/**/*.p12"


@pytest.mark.parametrize("name", sorted(MATERIAL))
def test_the_gost_material_offline(qoltanba, material, monkeypatch, name):
    monkeypatch.setenv(OLD_VAR, MATERIAL_PASSWORD)
    report = inspect(qoltanba, material / name, "--offline")
    status, source, detail, reason = MATERIAL[name]
    answer = report["revocation"]
    assert (answer["status"], answer["source"], answer["detail"], answer["reason"]) == (
        status,
        source,
        detail,
        reason,
    )
    assert answer["origin"] == "nca_gost2022_test.crl"
    assert report["revocation_checked"] is False
    assert report["renewable"] is (report["days_left"] >= 0)  # unknown does not refuse


def test_the_sdk2020_material_is_expired_first(qoltanba, material, monkeypatch):
    monkeypatch.setenv(OLD_VAR, MATERIAL_PASSWORD)
    stores = sorted(material.glob(SDK2020))
    assert len(stores) == 8  # personal and organization, active and revoked, AUTH + SIGN
    for store in stores:
        report = inspect(qoltanba, store)  # online allowed: an expired key is not asked about
        answer = report["revocation"]
        assert (answer["status"], answer["detail"]) == ("unknown", "certificate_expired"), store
        assert answer["attempts"] == []
        assert report["reason"] == "expired"
    # With their CA folder given, still nothing: no CRL of that CA is in the material.
    ca = material / "sdk2020" / "ca"
    answer = inspect(qoltanba, stores[0], "--crl", str(ca))["revocation"]
    assert answer["detail"] == "certificate_expired"
