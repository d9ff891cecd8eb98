"""The command line with GOST R 34.10-2015 512 keys, exactly as with RSA (DESIGN.md, "The command
line"): `demo-keys --scheme gost`, `inspect --json` on the real NCA GOST stores, and `renew` of a
demo GOST holder and of the real stores against the demo authority (the NCA test CAs trusted
through QOLTANBA_TRUST), giving one `GOST512_<SKI>.p12` with the DEMO GOST CA certificates
beside it.

The NCA material is read from ../shared/nca-test-material (outside the repository)."""

from __future__ import annotations

import datetime as dt
import io
import json
import re
import sys
from pathlib import Path

import pytest

from wizard.cli import main
from wizard.errors import NotRenewable
from wizard.i18n import translate
from wizard.keys.store import open_store

MATERIAL_PASSWORD = "Qwerty12"  # README of the material
OLD_VAR, NEW_VAR = "QOLTANBA_TEST_OLD", "QOLTANBA_TEST_NEW"
DEMO_PASSWORD = "Current2025ab"
NEW_PASSWORD = "Renewed2026cd"
GOST512_NAME = re.compile(r"^GOST512_[0-9a-f]{40}\.p12$")
# The README's table for gost2015-2026/, and each certificate's own notAfter (the README says the
# batch is valid until 2027-05-07; the certificates say 2027-05-08, the information system's 2029).
VALID_GOST_STORES = {
    "individual_valid.p12": ("individual", "123456789011", None, dt.date(2027, 5, 8)),
    "legal_ceo_valid.p12": ("legal-head", "123456789011", "123456789021", dt.date(2027, 5, 8)),
    "legal_signer_valid.p12": (
        "legal-signer",
        "123456789012",
        "123456789021",
        dt.date(2027, 5, 8),
    ),
    "legal_infosystem_valid.p12": ("legal-infosystem", None, "123456789021", dt.date(2029, 5, 7)),
}


class Run:
    def __init__(self, code: int, out: str, err: str) -> None:
        self.code, self.out, self.err = code, out, err

    def __repr__(self) -> str:
        return f"<exit {self.code} out={self.out[:300]!r} err={self.err!r}>"

    def json(self):
        return json.loads(self.out)


@pytest.fixture
def qoltanba(monkeypatch, tmp_path):
    """`qoltanba ARGS` through wizard.cli.main, its state in a fresh QOLTANBA_HOME."""
    monkeypatch.setenv("QOLTANBA_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("QOLTANBA_TRUST", raising=False)
    for var in ("QOLTANBA_LANG", "LC_ALL", "LC_MESSAGES", "LANG", "LANGUAGE"):
        monkeypatch.delenv(var, raising=False)

    def run(*argv: str, env: dict[str, str] | None = None) -> Run:
        for var, value in (env or {}).items():
            monkeypatch.setenv(var, value)
        monkeypatch.setattr(sys, "stdin", io.StringIO(""))
        out, err = io.StringIO(), io.StringIO()
        code = main(["--lang", "en", *argv], out=out, err=err)
        return Run(code, out.getvalue(), err.getvalue())

    return run


def inspect(qoltanba, store: Path, password: str) -> dict:
    run = qoltanba(
        "inspect", str(store), "--password-env", OLD_VAR, "--json", env={OLD_VAR: password}
    )
    assert run.code == 0, run
    assert password not in run.out
    return run.json()


def _renew_argv(store: Path, out: Path) -> tuple[str, ...]:
    return (
        *("renew", "--store", str(store), "--password-env", OLD_VAR, "--new-password-env", NEW_VAR),
        *("--email", "holder@example.kz", "--locality", "Астана", "--out", str(out), "--json"),
    )


def _passwords(password: str = MATERIAL_PASSWORD, **env: str) -> dict[str, str]:
    return {OLD_VAR: password, NEW_VAR: NEW_PASSWORD, **env}


def renew(qoltanba, store: Path, password: str, out: Path, lang: str = "en", **env: str) -> Run:
    return qoltanba("--lang", lang, *_renew_argv(store, out), env=_passwords(password, **env))


def check_renewed(qoltanba, report: dict, old: dict) -> dict:
    """One GOST512 store opened by the new password (not the old one), the DEMO GOST issuing and
    root CA certificates beside it, and nothing else in the folder."""
    assert report["status"] == "done" and report["application"]
    folder = Path(report["folder"])
    files = [Path(f) for f in report["files"]]
    assert sorted(files) == sorted(folder.iterdir())
    stores = [f for f in files if f.suffix == ".p12"]
    cas = [f for f in files if f.suffix == ".cer"]
    assert len(stores) == 1 and len(cas) == 2 and len(files) == 3
    (store,) = stores
    assert GOST512_NAME.match(store.name), store.name
    new = inspect(qoltanba, store, NEW_PASSWORD)
    assert store.name == f"GOST512_{new['subject_key_id']}.p12"
    assert new["algorithm"] == "GOST 2015 512" and new["usage"] == ["auth", "sign"]
    assert new["renewable"] is True and new["issuer"] == "QOLTANBA DEMO GOST ISSUING CA"
    for field in ("iin", "bin", "holder", "organization", "name"):
        assert new[field] == old[field], field
    assert new["email"] == "holder@example.kz"
    assert new["not_after"] == report["not_after"]
    refused = qoltanba(
        "inspect", str(store), "--password-env", OLD_VAR, env={OLD_VAR: MATERIAL_PASSWORD}
    )
    assert refused.code == 3, refused  # the old password does not open the new store
    names = sorted(c.name for c in cas)
    assert names[0].startswith("QOLTANBA_DEMO_GOST_ISSUING_CA_")
    # plain names: DEMO stays, the "(NOT TRUSTED)" remark is the certificate's, not the file's
    assert re.fullmatch(r"QOLTANBA_DEMO_GOST_ROOT_CA_[0-9a-f]{1,16}\.cer", names[1]), names[1]
    return new


@pytest.mark.parametrize("holder", ["individual", "legal-head"])
def test_demo_keys_gost_gives_one_gost512_store_for_login_and_signing(qoltanba, tmp_path, holder):
    out = tmp_path / "current"
    run = qoltanba(
        *("demo-keys", "--out", str(out), "--password-env", OLD_VAR, "--scheme", "gost"),
        *("--holder", holder, "--days-left", "25", "--json"),
        env={OLD_VAR: DEMO_PASSWORD},
    )
    assert run.code == 0, run
    report = run.json()
    assert report["scheme"] == "GOST 2015 512" and report["holder"] == holder
    (path,) = (Path(f) for f in report["files"])
    assert GOST512_NAME.match(path.name) and sorted(out.iterdir()) == [path]
    facts = inspect(qoltanba, path, DEMO_PASSWORD)
    assert facts["algorithm"] == "GOST 2015 512" and facts["usage"] == ["auth", "sign"]
    assert facts["holder"] == holder and facts["renewable"] is True
    assert facts["days_left"] == 25
    assert facts["issuer"] == "QOLTANBA DEMO GOST ISSUING CA"
    assert path.name == f"GOST512_{facts['subject_key_id']}.p12"


@pytest.mark.material_files("gost2015-2026/*_valid.p12")
def test_inspect_json_on_every_valid_nca_gost_store(qoltanba, material_file):
    report = inspect(qoltanba, material_file, MATERIAL_PASSWORD)
    holder, iin, bin_, last_day = VALID_GOST_STORES[material_file.name]
    assert report["algorithm"] == "GOST 2015 512"
    assert report["usage"] == ["auth", "sign"]
    assert (report["holder"], report["iin"], report["bin"]) == (holder, iin, bin_)
    not_after = dt.datetime.fromisoformat(report["not_after"])
    assert not_after.date() == last_day and not_after.utcoffset() == dt.timedelta(0)
    valid = dt.datetime.now(dt.UTC) < not_after
    assert report["renewable"] is valid
    assert report.get("reason") == (None if valid else "expired")
    assert report["certificate"].startswith("-----BEGIN CERTIFICATE-----\n")


def test_renew_a_demo_gost_holder(qoltanba, tmp_path):
    current = tmp_path / "current"
    made = qoltanba(
        *("demo-keys", "--out", str(current), "--password-env", OLD_VAR, "--scheme", "gost"),
        *("--holder", "legal-employee", "--json"),
        env={OLD_VAR: DEMO_PASSWORD},
    )
    assert made.code == 0, made
    (store,) = (Path(f) for f in made.json()["files"])
    old = inspect(qoltanba, store, DEMO_PASSWORD)
    before = store.read_bytes()
    out = tmp_path / "new-keys"
    run = renew(qoltanba, store, DEMO_PASSWORD, out)
    assert run.code == 0, run
    report = run.json()
    check_renewed(qoltanba, report, old)
    assert store.read_bytes() == before, "the old store is untouched"
    again = renew(qoltanba, store, DEMO_PASSWORD, out)  # the same renewal, nothing new filed
    assert again.code == 0, again
    assert again.json()["application"] == report["application"]
    assert sorted(again.json()["files"]) == sorted(report["files"])
    status = qoltanba("status", "--json")
    (entry,) = status.json()["renewals"]
    assert (entry["status"], entry["application"]) == ("done", report["application"])


@pytest.mark.parametrize("name", ["individual_valid.p12", "legal_ceo_valid.p12"])
def test_renew_a_real_nca_gost_store_against_the_demo_authority(qoltanba, material, tmp_path, name):
    store = material / "gost2015-2026" / name
    old = inspect(qoltanba, store, MATERIAL_PASSWORD)
    out = tmp_path / "new-keys"
    trust = {"QOLTANBA_TRUST": str(material / "gost2015-2026" / "ca")}
    run = renew(qoltanba, store, MATERIAL_PASSWORD, out, **trust)
    if not old["renewable"]:  # the batch expires on 2027-05-08: then the refusal says why
        assert run.code == NotRenewable.exit_code, run
        assert run.json()["error"] == "not_renewable" and not out.exists()
        return
    assert run.code == 0, run
    new = check_renewed(qoltanba, run.json(), old)
    assert new["subject_key_id"] != old["subject_key_id"]
    assert MATERIAL_PASSWORD not in run.out + run.err and NEW_PASSWORD not in run.out + run.err
    reopened = open_store(Path(run.json()["files"][0]), NEW_PASSWORD)
    assert reopened.key_matches is True


def test_a_real_nca_gost_store_is_refused_at_once_by_a_demo_that_does_not_trust_its_ca(
    qoltanba, material, tmp_path
):
    store = material / "gost2015-2026" / "individual_valid.p12"
    valid = inspect(qoltanba, store, MATERIAL_PASSWORD)["renewable"]
    for lang in ("en", "ru", "kk"):
        out = tmp_path / f"new-keys-{lang}"
        run = renew(qoltanba, store, MATERIAL_PASSWORD, out, lang=lang)
        # Refused before any key is made or anything written: the issuer verdict, not a
        # rejection after submitting (wizard.renewal.acceptance); expired keys say "expired".
        assert run.code == NotRenewable.exit_code, run
        assert not out.exists()
        answer = run.json()
        assert answer["error"] == "not_renewable"
        if not valid:  # the batch expires on 2027-05-08
            assert answer["reason"] == "expired"
            continue
        assert answer["reason"] == "issuer_not_accepted"
        line = run.err.strip()
        assert "\n" not in line and line == f"qoltanba: {answer['message']}"
        assert "QOLTANBA_TRUST" in line and "qoltanba demo-keys" in line
        assert "ҰЛТТЫҚ КУӘЛАНДЫРУШЫ ОРТАЛЫҚ (GOST) TEST 2022" in line
        assert "certificate_untrusted" not in line and "issuer_not_accepted" not in line
        assert line.startswith("qoltanba: " + translate("error.not_renewable", lang))
    assert qoltanba("status", "--json").json()["renewals"] == [], "nothing was started"


def test_a_renewal_under_way_is_carried_on_without_the_issuer_verdict(
    qoltanba, material, tmp_path, monkeypatch
):
    store = material / "gost2015-2026" / "individual_valid.p12"
    if not inspect(qoltanba, store, MATERIAL_PASSWORD)["renewable"]:
        pytest.skip("the NCA GOST test batch has expired (2027-05-08)")
    trust = {"QOLTANBA_TRUST": str(material / "gost2015-2026" / "ca")}
    out = tmp_path / "new-keys"
    # Submitted, then stopped at the one-time code (none on stdin): the renewal is under way.
    waiting = qoltanba(*_renew_argv(store, out), "--otp-stdin", env=_passwords(**trust))
    assert waiting.code == 2, waiting
    number = waiting.json()["application"]
    assert number

    import wizard.renewal.acceptance as acceptance

    async def never(*args, **kwargs):
        raise AssertionError("the issuer verdict is for a new renewal only")

    monkeypatch.setattr(acceptance, "judge_issuer", never)
    done = renew(qoltanba, store, MATERIAL_PASSWORD, out, **trust)
    assert done.code == 0, done
    assert done.json()["application"] == number and done.json()["status"] == "done"
