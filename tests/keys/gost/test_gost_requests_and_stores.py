"""GOST requests, CMS signatures and new stores: a PKCS#10 request for a new GOST key with the
NCA's subject and extensions, its proof of possession checked here and by gostcrypto; the
application CMS signed with a real NCA GOST key; `GOST512_<SKI>.p12` stores in the NCA layout that
our reader, and OpenSSL's view of the layout, agree on.

The NCA material is read from ../shared/nca-test-material (outside the repository)."""

from __future__ import annotations

import datetime as dt
import subprocess

import pytest
from asn1crypto import cms as asn1_cms
from asn1crypto import csr
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from wizard.authority.mock import ca as authorities
from wizard.errors import StoreError, WrongPassword
from wizard.keys import oids
from wizard.keys.certificate import certificate_public_key_info, describe
from wizard.keys.cms import SignatureError, sign, verify_signed
from wizard.keys.gost import gost3410
from wizard.keys.gost.keypair import GostKeyPair
from wizard.keys.gost.x509 import public_point
from wizard.keys.keypair import generate
from wizard.keys.oids import Holder, Scheme
from wizard.keys.pkcs12 import read_pkcs12
from wizard.keys.request import (
    RequestError,
    build_request,
    certificate_subject,
    check_request,
    key_store_extension,
)
from wizard.keys.store import open_store
from wizard.keys.writer import save_store, store_file_name

PASSWORD = "Qwerty12"  # README of the material
NEW_PASSWORD = "Renewed2026x"
NOW = dt.datetime(2026, 9, 1, 12, tzinfo=dt.UTC)  # inside the GOST 2015 batch's validity


@pytest.fixture(scope="module")
def gc():
    """gostcrypto (MIT, pure Python, in the test extra): an implementation that is not ours."""
    from gostcrypto import gostsignature
    from gostcrypto.gostsignature.gost_34_10_2012 import CURVES_R_1323565_1_024_2019

    return gostsignature.new(
        gostsignature.MODE_512,
        CURVES_R_1323565_1_024_2019["id-tc26-gost-3410-12-512-paramSetA"],
    )


def gostcrypto_verifies(gc, public_key_info: bytes, data: bytes, signature: bytes) -> bool:
    """Verify a Kazakh-layout signature with gostcrypto's own Streebog and GOST 34.10 (it reads
    keys, digests and signatures big-endian: each little-endian half is byte-reversed)."""
    from gostcrypto import gosthash

    x, y = public_point(public_key_info)
    public = x.to_bytes(64, "big") + y.to_bytes(64, "big")
    digest = bytes(gosthash.new("streebog512", data=bytearray(data)).digest())[::-1]
    theirs = signature[:64][::-1] + signature[64:][::-1]
    return gc.verify(bytearray(public), bytearray(digest), bytearray(theirs))


@pytest.fixture(scope="module")
def nca(material):
    """The real legal-entity head's GOST store."""
    return open_store(material / "gost2015-2026" / "legal_ceo_valid.p12", PASSWORD)


@pytest.fixture(scope="module")
def gost_ca():
    """A throwaway GOST CA (the mock authority's builder) to certify new keys."""
    root = authorities.create_ca("TEST GOST ROOT", NOW, scheme=Scheme.GOST2015)
    return authorities.create_ca("TEST GOST CA", NOW, parent=root, scheme=Scheme.GOST2015)


def certify(ca, request_der: bytes, *, email: str | None = None) -> bytes:
    checked = check_request(request_der)
    certificate = authorities.issue(
        ca,
        subject=x509.load_der_x509_csr(request_der).subject,
        public_key_info=checked.public_key_info,
        usage="both",
        holder=(oids.LEGAL_ENTITY, oids.HOLDER_ROLE_OID[Holder.LEGAL_HEAD]),
        email=email,
        not_before=NOW,
        not_after=authorities.add_years(NOW, 1),
    )
    return certificate.public_bytes(Encoding.DER)


# --- requests -------------------------------------------------------------------------------


def test_a_gost_request_for_a_real_nca_subject(nca, gc):
    key = generate(Scheme.GOST2015, not_equal_to=[nca.private_key.public_key_info()])
    subject = certificate_subject(nca.contents.certificates[0])
    der = build_request(key, subject, email="ceo@example.kz")
    checked = check_request(der)
    assert checked.subject == subject  # the NCA's subject, byte for byte
    assert checked.public_key_info == key.public_key_info()
    assert checked.email == "ceo@example.kz" and checked.key_store is True
    assert checked.signature_algorithm == oids.GOST2015_512_SIGNATURE
    request = csr.CertificationRequest.load(der)
    assert request["signature_algorithm"]["parameters"].dump() == b"\x05\x00"  # NULL, as NCA
    extensions = request["certification_request_info"]["attributes"][0]["values"][0]
    found = {e["extn_id"].dotted: e["extn_value"].contents for e in extensions}
    assert found[oids.KEY_STORE_EXTENSION] == key_store_extension()
    # cryptography reads the request too (the mock authority takes the subject from it).
    assert x509.load_der_x509_csr(der).subject.public_bytes() == subject
    # Proof of possession, checked by an implementation that is not ours.
    tbs = request["certification_request_info"].dump()
    signature = request["signature"].native
    assert gostcrypto_verifies(gc, key.public_key_info(), tbs, signature)
    assert not gostcrypto_verifies(gc, nca.private_key.public_key_info(), tbs, signature)


def test_a_gost_request_without_possession_is_refused(nca):
    key, other = GostKeyPair.generate(), GostKeyPair.generate()
    subject = certificate_subject(nca.contents.certificates[0])
    der = bytearray(build_request(key, subject))
    der[-5] ^= 0x01  # inside the signature value
    with pytest.raises(RequestError) as info:
        check_request(bytes(der))
    assert info.value.code == "request_no_possession"

    class Impostor(GostKeyPair):
        """Claims ``key``'s public half but signs with its own scalar."""

        def public_key_info(self) -> bytes:
            return key.public_key_info()

    impostor = Impostor(gost3410.generate_private_key(), other.public_point)
    with pytest.raises(RequestError) as info:
        check_request(build_request(impostor, subject))
    assert info.value.code == "request_no_possession"


# --- CMS ------------------------------------------------------------------------------------


def test_a_real_gost_key_signs_an_application_cms(nca, gc):
    data = sign(b"application", nca.private_key, nca.contents.certificates[0], signing_time=NOW)
    verified = verify_signed(data)
    assert verified.content == b"application"
    assert verified.signer_certificate == nca.contents.certificates[0]
    assert verified.signing_time == NOW
    signer = asn1_cms.ContentInfo.load(data)["content"]["signer_infos"][0]
    assert signer["digest_algorithm"]["algorithm"].dotted == oids.STREEBOG_512
    assert signer["signature_algorithm"]["algorithm"].dotted == oids.GOST2015_512_SIGNATURE
    signed_attributes = b"\x31" + signer["signed_attrs"].dump()[1:]
    spki = certificate_public_key_info(nca.contents.certificates[0])
    assert gostcrypto_verifies(gc, spki, signed_attributes, signer["signature"].native)
    tampered = data.replace(b"application", b"applicatioN")
    with pytest.raises(SignatureError):
        verify_signed(tampered)


# --- stores ---------------------------------------------------------------------------------


def test_a_new_gost512_store_in_the_nca_layout_round_trips(nca, gost_ca, tmp_path, material):
    key = GostKeyPair.generate()
    subject = certificate_subject(nca.contents.certificates[0])
    certificate = certify(gost_ca, build_request(key, subject), email="ceo@example.kz")
    ski = key.key_identifier()
    assert store_file_name(certificate, key) == f"GOST512_{ski.hex()}.p12"
    path = save_store(tmp_path, key, certificate, NEW_PASSWORD)
    assert path.name == f"GOST512_{ski.hex()}.p12"
    contents = read_pkcs12(path.read_bytes(), NEW_PASSWORD)
    assert contents.friendly_name == ski.hex() and contents.local_key_id == ski
    assert (contents.mac_algorithm, contents.key_encryption, contents.certificate_encryption) == (
        "sha1",
        "pkcs12_sha1_tripledes_3key",
        "pkcs12_sha1_rc2_40",
    )
    assert contents.certificates == (certificate,)
    assert contents.private_key_info == key.private_key_info()
    opened = open_store(path, NEW_PASSWORD)
    assert isinstance(opened.private_key, GostKeyPair) and opened.key_matches is True
    assert opened.facts.scheme is Scheme.GOST2015 and opened.facts.usage == ("auth", "sign")
    assert opened.facts.holder is describe(nca.certificate).holder is Holder.LEGAL_HEAD
    assert opened.verdict(NOW + dt.timedelta(days=1)).renewable
    with pytest.raises(WrongPassword):
        open_store(path, PASSWORD)
    # OpenSSL sees the same layout as in a real NCA GOST store (it cannot use the key itself).
    real = material / "gost2015-2026" / "legal_ceo_valid.p12"
    assert _openssl_info(path, NEW_PASSWORD) == _openssl_info(real, PASSWORD)


def _openssl_info(path, password: str) -> list[str]:
    args = ["pkcs12", "-info", "-noout", "-legacy", "-in", str(path), "-passin", f"pass:{password}"]
    result = subprocess.run(
        ["openssl", *args],
        capture_output=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr.decode()
    text = (result.stdout + result.stderr).decode()
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    assert "Shrouded Keybag: pbeWithSHA1And3-KeyTripleDES-CBC, Iteration 1024" in lines
    return lines


def test_a_certificate_for_another_gost_key_is_never_written(nca, gost_ca, tmp_path):
    key, other = GostKeyPair.generate(), GostKeyPair.generate()
    subject = certificate_subject(nca.contents.certificates[0])
    certificate = certify(gost_ca, build_request(other, subject))
    with pytest.raises(StoreError) as info:
        save_store(tmp_path, key, certificate, NEW_PASSWORD)
    assert info.value.code == "certificate_wrong_key"
    assert list(tmp_path.iterdir()) == []
