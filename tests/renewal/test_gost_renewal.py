"""Renewing GOST R 34.10-2015 512 keys through the journal against the mock authority, in-process:
a demo GOST holder and the real NCA test stores (their test CAs trusted) each get one
`GOST512_<SKI>.p12` opened by the new password only, with the DEMO GOST CA certificates beside
it, under which the new certificate's signature verifies with implementations that are not ours
(gostcrypto; and OpenSSL's gost engine where it is installed).

The NCA material is read from ../shared/nca-test-material (outside the repository)."""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import shutil
import subprocess
from pathlib import Path

import httpx
import pytest
from asn1crypto import core
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID

from wizard.authority.client import HttpAuthority
from wizard.authority.mock import create_app
from wizard.authority.mock.ca import DEMO_GOST_ISSUING_NAME, DEMO_GOST_ROOT_NAME
from wizard.authority.mock.ledger import DATABASE_NAME
from wizard.errors import WrongPassword
from wizard.keys import oids, profile
from wizard.keys.certificate import certificate_public_key_info
from wizard.keys.gost.keypair import GostKeyPair
from wizard.keys.gost.x509 import public_point
from wizard.keys.oids import Holder, Scheme
from wizard.keys.request import build_request, certificate_subject
from wizard.keys.store import KeyStore, open_store
from wizard.keys.writer import save_store
from wizard.renewal.journal import RenewalJournal, RenewalState
from wizard.renewal.process import RenewalDetails, Renewer, current_keys

MATERIAL_PASSWORD = "Qwerty12"  # README of the material
OLD_PASSWORD = "Current2025ab"
NEW_PASSWORD = "Renewed2026cd"
INSIDE_GOST_BATCH = dt.datetime(2026, 9, 1, 12, tzinfo=dt.UTC)  # the NCA GOST 2015 test batch


@pytest.fixture(scope="module")
def books(tmp_path_factory) -> Path:
    """An authority's books with its DEMO CAs already made (two RSA keys are the slow part),
    made before the earliest clock a test sets: the renewal checks that every CA on the way to
    the anchor is valid when it checks (wizard.keys.chain)."""
    folder = tmp_path_factory.mktemp("authority-books")
    made = min(INSIDE_GOST_BATCH, dt.datetime.now(dt.UTC))
    create_app(folder, clock=lambda: made).state.authority.close()
    return folder / DATABASE_NAME


class Setup:
    """A demo authority (its clock fixed) trusting the NCA GOST test CAs, and a journal."""

    def __init__(self, tmp_path: Path, material: Path, now: dt.datetime, books: Path) -> None:
        self.tmp = tmp_path
        self.now = now
        (tmp_path / "authority").mkdir()
        shutil.copyfile(books, tmp_path / "authority" / DATABASE_NAME)
        self.app = create_app(
            tmp_path / "authority",
            demo=True,
            trusted=[material / "gost2015-2026" / "ca"],
            clock=lambda: self.now,
        )
        self.journal = RenewalJournal(tmp_path / "home" / "journal.sqlite3")

    def authority(self) -> HttpAuthority:
        return HttpAuthority("http://authority.test", transport=httpx.ASGITransport(app=self.app))

    def demo_store(self, holder: str = "individual") -> Path:
        async def issue():
            subject = profile.subject(profile.DEMO_HOLDERS[Holder(holder)])
            key = GostKeyPair.generate()
            async with self.authority() as authority:
                issued = await authority.demo_issue_holder(
                    Scheme.GOST2015.value, holder, 30, [("both", build_request(key, subject))]
                )
            return key, issued

        key, issued = asyncio.run(issue())
        (certificate,) = issued.certificates
        assert certificate.usage == "both"
        folder = self.tmp / f"current-{holder}"
        folder.mkdir()
        return save_store(folder, key, certificate.certificate, OLD_PASSWORD)

    def renew(self, store: Path, password: str, out: Path):
        async def go():
            async with self.authority() as authority:
                renewer = Renewer(
                    self.journal, authority, "demo", clock=lambda: self.now, max_wait=5
                )
                current = current_keys([open_store(store, password)])
                details = RenewalDetails("holder@example.kz", "Астана", out, NEW_PASSWORD)

                async def code(number, attempts_left):
                    return (await authority.demo_codes(number))[-1]

                return await renewer.run(current, details, code)

        return asyncio.run(go())


@pytest.fixture(scope="module")
def gc():
    """gostcrypto (MIT, pure Python, in the test extra): GOST 34.10 and Streebog not ours."""
    from gostcrypto import gostsignature
    from gostcrypto.gostsignature.gost_34_10_2012 import CURVES_R_1323565_1_024_2019

    return gostsignature.new(
        gostsignature.MODE_512,
        CURVES_R_1323565_1_024_2019["id-tc26-gost-3410-12-512-paramSetA"],
    )


def gostcrypto_signed(gc, issuer: x509.Certificate, certificate: x509.Certificate) -> bool:
    """``certificate``'s signature under ``issuer``'s key, checked by gostcrypto alone: its own
    Streebog-512 and its own GOST R 34.10-2012 (big-endian: each little-endian half reversed)."""
    from gostcrypto import gosthash

    x, y = public_point(certificate_public_key_info(issuer.public_bytes(Encoding.DER)))
    public = x.to_bytes(64, "big") + y.to_bytes(64, "big")
    tbs = certificate.tbs_certificate_bytes
    digest = bytes(gosthash.new("streebog512", data=bytearray(tbs)).digest())[::-1]
    signature = certificate.signature
    theirs = signature[:64][::-1] + signature[64:][::-1]
    return gc.verify(bytearray(public), bytearray(digest), bytearray(theirs))


def digests(paths) -> dict[Path, str]:
    return {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in paths}


def check_renewed(out: Path, old: KeyStore, old_password: str) -> tuple[KeyStore, list[Path]]:
    """The new folder holds one GOST512 store and the two DEMO GOST CA certificates, nothing else;
    the new store opens with the new password only and keeps the holder's identity."""
    files = sorted(out.iterdir())
    stores = [f for f in files if f.suffix == ".p12"]
    cas = [f for f in files if f.suffix == ".cer"]
    assert len(stores) == 1 and len(cas) == 2 and len(files) == 3, [f.name for f in files]
    (path,) = stores
    with pytest.raises(WrongPassword):
        open_store(path, old_password)
    new = open_store(path, NEW_PASSWORD)
    assert path.name == f"GOST512_{new.facts.subject_key_id}.p12"
    assert isinstance(new.private_key, GostKeyPair) and new.key_matches is True
    assert not new.private_key.same_public_key(old.private_key)
    facts = new.facts
    assert facts.scheme is Scheme.GOST2015 and facts.usage == ("auth", "sign")
    assert facts.policies == (oids.POLICY_GOST512,)
    assert new.certificate.subject == old.certificate.subject
    assert certificate_subject(new.contents.certificates[0]) == certificate_subject(
        old.contents.certificates[0]
    )
    assert (facts.iin, facts.bin, facts.holder) == (old.facts.iin, old.facts.bin, old.facts.holder)
    assert facts.email == "holder@example.kz"
    assert 364 <= (facts.not_after - facts.not_before).days <= 366
    loaded = [x509.load_pem_x509_certificate(c.read_bytes()) for c in cas]
    common_names = {c.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value for c in loaded}
    assert common_names == {DEMO_GOST_ISSUING_NAME, DEMO_GOST_ROOT_NAME}
    return new, cas


def ca_pair(cas: list[Path]) -> tuple[x509.Certificate, x509.Certificate]:
    loaded = [x509.load_pem_x509_certificate(p.read_bytes()) for p in cas]
    (root,) = [c for c in loaded if c.subject == c.issuer]
    (issuing,) = [c for c in loaded if c.subject != c.issuer]
    return issuing, root


def test_a_demo_gost_holder_renews_and_gostcrypto_verifies_the_new_certificate(
    tmp_path, material, gc, books
):
    setup = Setup(tmp_path, material, dt.datetime.now(dt.UTC), books)
    store = setup.demo_store("legal-employee")
    before = digests([store])
    out = tmp_path / "new-keys"
    renewal = setup.renew(store, OLD_PASSWORD, out)
    assert renewal.state is RenewalState.DONE and renewal.application
    old = open_store(store, OLD_PASSWORD)
    new, cas = check_renewed(out, old, OLD_PASSWORD)
    issuing, root = ca_pair(cas)
    assert gostcrypto_signed(gc, issuing, new.certificate)
    assert gostcrypto_signed(gc, root, issuing)
    assert not gostcrypto_signed(gc, root, new.certificate)  # the check can say no
    assert digests([store]) == before, "the old store is byte-for-byte untouched"
    again = setup.renew(store, OLD_PASSWORD, out)  # a re-run files nothing new
    assert again.id == renewal.id and again.application == renewal.application
    assert len(list(out.iterdir())) == 3


@pytest.mark.parametrize("name", ["individual_valid.p12", "legal_ceo_valid.p12"])
def test_a_real_nca_gost_store_renews_against_the_demo_authority(
    tmp_path, material, gc, books, name
):
    store = material / "gost2015-2026" / name
    before = digests([store])
    setup = Setup(tmp_path, material, INSIDE_GOST_BATCH, books)
    out = tmp_path / "new-keys"
    renewal = setup.renew(store, MATERIAL_PASSWORD, out)
    assert renewal.state is RenewalState.DONE
    new, cas = check_renewed(out, open_store(store, MATERIAL_PASSWORD), MATERIAL_PASSWORD)
    assert new.facts.not_before == INSIDE_GOST_BATCH
    issuing, _ = ca_pair(cas)
    assert gostcrypto_signed(gc, issuing, new.certificate)
    assert digests([store]) == before


def test_the_real_gost_stores_are_refused_once_expired(tmp_path, material, books):
    from wizard.errors import NotRenewable

    store = material / "gost2015-2026" / "individual_valid.p12"
    after = open_store(store, MATERIAL_PASSWORD).facts.not_after + dt.timedelta(seconds=1)
    setup = Setup(tmp_path, material, after, books)
    out = tmp_path / "never"
    with pytest.raises(NotRenewable) as info:
        setup.renew(store, MATERIAL_PASSWORD, out)
    assert info.value.params["reason"] == "expired"
    assert not out.exists() and setup.journal.all() == []


# --- OpenSSL's gost engine: RFC 4491 layout and the TC26 OIDs -----------------------------------


def _tc26_public_key_info(issuer: x509.Certificate) -> bytes:
    """The issuer's key as OpenSSL's gost engine knows it: id-tc26-gost3410-12-512 with
    {paramSetA, Streebog-512}, the same 128 key bytes (x‖y little-endian)."""
    spki = certificate_public_key_info(issuer.public_bytes(Encoding.DER))
    key_bits = spki[-131:]  # OCTET STRING header 04 81 80 and the 128 key bytes
    assert key_bits[:3] == b"\x04\x81\x80"
    parameters = core.Sequence(
        contents=core.ObjectIdentifier("1.2.643.7.1.2.1.2.1").dump()
        + core.ObjectIdentifier("1.2.643.7.1.1.2.3").dump()
    )
    algorithm = core.Sequence(
        contents=core.ObjectIdentifier("1.2.643.7.1.1.1.2").dump() + parameters.dump()
    )
    bits = core.OctetBitString(key_bits)
    return core.Sequence(contents=algorithm.dump() + bits.dump()).dump()


def test_openssl_gost_engine_verifies_the_renewed_certificate(tmp_path, material, books):
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed")
    probe = subprocess.run(
        ["openssl", "dgst", "-engine", "gost", "-md_gost12_512"], input=b"", capture_output=True
    )
    if probe.returncode != 0:
        pytest.skip("OpenSSL's gost engine is absent (Debian package libengine-gost-openssl)")
    setup = Setup(tmp_path, material, dt.datetime.now(dt.UTC), books)
    store = setup.demo_store()
    out = tmp_path / "new-keys"
    setup.renew(store, OLD_PASSWORD, out)
    new, cas = check_renewed(out, open_store(store, OLD_PASSWORD), OLD_PASSWORD)
    issuing, root = ca_pair(cas)
    work = tmp_path / "openssl"
    work.mkdir()

    def verified(issuer: x509.Certificate, certificate: x509.Certificate) -> bool:
        (work / "pub.der").write_bytes(_tc26_public_key_info(issuer))
        (work / "tbs.der").write_bytes(certificate.tbs_certificate_bytes)
        (work / "sig.bin").write_bytes(certificate.signature[::-1])  # RFC 4491: s‖r big-endian
        digest = subprocess.run(
            ["openssl", "dgst", "-engine", "gost", "-md_gost12_512", "-binary", "tbs.der"],
            cwd=work,
            capture_output=True,
            check=True,
        ).stdout
        (work / "digest.bin").write_bytes(digest)
        verify = ["pkeyutl", "-engine", "gost", "-verify", "-pubin", "-keyform", "DER"]
        result = subprocess.run(
            ["openssl", *verify, "-inkey", "pub.der", "-in", "digest.bin", "-sigfile", "sig.bin"],
            cwd=work,
            capture_output=True,
            check=False,
        )
        return result.returncode == 0

    assert verified(issuing, new.certificate)
    assert verified(root, issuing)
    assert not verified(root, new.certificate)
