"""A whole renewal through the journal against the real mock authority, in-process (no socket):
the new stores open with the new password only, the old ones are untouched, a re-run files
nothing new, and a bad certificate from the authority is never installed."""

from __future__ import annotations

import asyncio
import hashlib
import subprocess
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from wizard.authority.client import HttpAuthority
from wizard.authority.mock import create_app
from wizard.errors import NotRenewable, PasswordRejected, WrongPassword
from wizard.keys import profile
from wizard.keys.keypair import RsaKeyPair
from wizard.keys.oids import Holder
from wizard.keys.request import build_request
from wizard.keys.store import open_store
from wizard.keys.writer import save_store
from wizard.renewal.journal import RenewalJournal, RenewalState
from wizard.renewal.process import RenewalDetails, Renewer, current_keys

OLD_PASSWORD = "Current2025ab"
NEW_PASSWORD = "Renewed2026cd"


class Setup:
    def __init__(self, tmp_path: Path) -> None:
        self.tmp = tmp_path
        self.app = create_app(tmp_path / "authority", demo=True, test_endpoints=True)
        self.journal = RenewalJournal(tmp_path / "home" / "journal.sqlite3")

    def authority(self) -> HttpAuthority:
        return HttpAuthority("http://authority.test", transport=httpx.ASGITransport(app=self.app))

    def demo_stores(self, holder: str = "individual", days_left: int = 30) -> list[Path]:
        async def issue():
            subject = profile.subject(profile.DEMO_HOLDERS[Holder(holder)])
            keys = {u: RsaKeyPair.generate() for u in ("auth", "sign")}
            requests = [(u, build_request(k, subject)) for u, k in keys.items()]
            async with self.authority() as authority:
                return keys, await authority.demo_issue_holder("RSA", holder, days_left, requests)

        keys, issued = asyncio.run(issue())
        folder = self.tmp / f"current-{holder}"
        folder.mkdir()
        return [
            save_store(folder, keys[c.usage], c.certificate, OLD_PASSWORD)
            for c in issued.certificates
        ]

    def renew(self, stores: list[Path], out: Path, *, new_password: str = NEW_PASSWORD):
        async def go():
            async with self.authority() as authority:
                renewer = Renewer(self.journal, authority, "demo", max_wait=5)
                current = current_keys([open_store(p, OLD_PASSWORD) for p in stores])
                details = RenewalDetails("aigerim@example.kz", "Алматы", out, new_password)

                async def code(number, attempts_left):
                    return (await authority.demo_codes(number))[-1]

                return await renewer.run(current, details, code)

        return asyncio.run(go())


def digests(paths):
    return {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in paths}


@pytest.fixture
def setup(tmp_path) -> Setup:
    return Setup(tmp_path)


@pytest.mark.parametrize("holder", ["individual", "legal-employee"])
def test_a_demo_renewal_end_to_end(setup, tmp_path, holder):
    stores = setup.demo_stores(holder)
    before = digests(stores)
    out = tmp_path / "new-keys"
    renewal = setup.renew(stores, out)
    assert renewal.state is RenewalState.DONE and renewal.application
    files = sorted(out.iterdir())
    names = [f.name for f in files]
    assert sum(n.startswith("AUTH_RSA256_") for n in names) == 1
    assert sum(n.startswith("RSA256_") for n in names) == 1
    assert not [n for n in names if n.startswith("PENDING_")], "pending keys are removed"
    cas = [f for f in files if f.suffix == ".cer"]
    assert len(cas) == 2
    old = {s.facts.usage: s for s in (open_store(p, OLD_PASSWORD) for p in stores)}
    for store_path in (f for f in files if f.suffix == ".p12"):
        with pytest.raises(WrongPassword):
            open_store(store_path, OLD_PASSWORD)
        new = open_store(store_path, NEW_PASSWORD)
        previous = old[new.facts.usage]
        assert new.facts.full_name == previous.facts.full_name
        assert new.facts.iin == previous.facts.iin and new.facts.holder is previous.facts.holder
        assert new.certificate.subject == previous.certificate.subject
        assert not new.private_key.same_public_key(previous.private_key)
        assert new.verdict().renewable and new.key_matches
        assert 364 <= (new.facts.not_after - new.facts.not_before).days <= 366
        # OpenSSL accepts the new certificate under the CA certificates saved beside it.
        pem = tmp_path / f"{store_path.stem}.pem"
        pem.write_bytes(new.certificate.public_bytes(serialization.Encoding.PEM))
        root, issuing = sorted(cas, key=lambda p: _is_root(p), reverse=True)
        result = subprocess.run(
            ["openssl", "verify", "-CAfile", str(root), "-untrusted", str(issuing), str(pem)],
            capture_output=True,
            text=True,
            check=False,
        )
        assert result.returncode == 0, result.stdout + result.stderr
    assert digests(stores) == before, "the old stores are byte-for-byte untouched"
    # Running again reports the same renewal and files nothing new.
    again = setup.renew(stores, out)
    assert again.id == renewal.id and again.application == renewal.application
    assert sorted(out.iterdir()) == files


def _is_root(path: Path) -> bool:
    cert = x509.load_pem_x509_certificate(path.read_bytes())
    return cert.subject == cert.issuer


def test_an_expired_key_is_refused_before_anything_is_written(setup, tmp_path):
    stores = setup.demo_stores(days_left=-2)
    out = tmp_path / "never"
    with pytest.raises(NotRenewable) as info:
        setup.renew(stores, out)
    assert info.value.params["reason"] == "expired"
    assert not out.exists()
    assert setup.journal.all() == []


def test_the_real_expired_nca_rsa_stores_are_refused(setup, material, tmp_path):
    folder = material / "sdk2020/personal/active"
    stores = sorted(folder.glob("*.p12"))

    async def go():
        async with setup.authority() as authority:
            renewer = Renewer(setup.journal, authority, "demo")
            current = current_keys([open_store(p, "Qwerty12") for p in stores])
            details = RenewalDetails("a@b.kz", "Алматы", tmp_path / "x", NEW_PASSWORD)
            return await renewer.run(current, details, None)

    with pytest.raises(NotRenewable) as info:
        asyncio.run(go())
    assert info.value.params["reason"] == "expired"
    assert "egov.kz" in info.value.message("en")


def test_a_weak_new_password_is_refused_before_anything_is_written(setup, tmp_path):
    stores = setup.demo_stores()
    out = tmp_path / "never"
    with pytest.raises(PasswordRejected):
        setup.renew(stores, out, new_password="Qwerty12")
    assert not out.exists() and setup.journal.all() == []


def test_the_current_keys_folder_is_refused(setup):
    stores = setup.demo_stores()
    from wizard.errors import OutputRefused

    with pytest.raises(OutputRefused):
        setup.renew(stores, stores[0].parent)
    assert setup.journal.all() == []


def _pending_only(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


@pytest.mark.parametrize(
    ("fault", "problem"), [("wrong_key", "wrong_key"), ("foreign_ca", "untrusted_issuer")]
)
def test_a_bad_certificate_from_the_authority_is_never_installed(setup, tmp_path, fault, problem):
    from wizard.errors import AuthorityProtocolError, CertificateRefused

    stores = setup.demo_stores()
    setattr(setup.app.state.faults, fault, 1)
    out = tmp_path / "new-keys"
    with pytest.raises(CertificateRefused) as info:
        setup.renew(stores, out)
    assert isinstance(info.value, AuthorityProtocolError) and info.value.exit_code == 10
    assert info.value.code == "certificate_refused" and info.value.params["detail"] == problem
    assert info.value.params["application"]
    # nothing installed, and the useless pending keys are gone with their empty folder
    assert not out.exists() or not list(out.iterdir())
    refused = setup.journal.all()[0]
    assert refused.state is RenewalState.REFUSED  # ended, not stuck: the evidence is kept
    ending = refused.record.ending
    assert ending is not None and ending.refused == problem and ending.refused_certificates
    # the same command now starts afresh and files a new application
    setattr(setup.app.state.faults, fault, 0)
    done = setup.renew(stores, out)
    assert done.state is RenewalState.DONE and done.id != refused.id
    assert done.application != refused.application


def test_authority_down_queues_the_renewal_and_the_same_call_resumes_it(setup, tmp_path):
    from wizard.errors import AuthorityUnreachable

    stores = setup.demo_stores()
    out = tmp_path / "new-keys"
    setup.app.state.faults.drop_count = 100  # every request dropped: the authority is "down"
    with pytest.raises(AuthorityUnreachable):
        setup.renew(stores, out)
    waiting = setup.journal.all()[0]
    assert waiting.state is RenewalState.SIGNED and waiting.application is None
    assert all(n.startswith("PENDING_") for n in _pending_only(out))
    setup.app.state.faults.drop_count = 0  # back up
    with pytest.raises(WrongPassword):  # the pending keys open only with the new password
        setup.renew(stores, out, new_password="Another2026xy")
    assert setup.journal.all()[0].state is RenewalState.SIGNED  # refused before going on
    done = setup.renew(stores, out)
    assert done.id == waiting.id and done.state is RenewalState.DONE
    assert len(setup.journal.all()) == 1
