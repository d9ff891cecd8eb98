"""New keys, renewal requests and new stores: generated, requested, certified by a throwaway CA,
written atomically into a new folder and opened again with the new password only."""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import stat
import subprocess

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from wizard.errors import OutputRefused, QoltanbaError, StoreError, WrongPassword
from wizard.keys import oids
from wizard.keys.files import prepare_new_folder, write_new_file
from wizard.keys.keypair import RsaKeyPair, generate
from wizard.keys.oids import Scheme
from wizard.keys.pkcs12 import Profile, read_pkcs12
from wizard.keys.request import (
    RequestError,
    build_request,
    certificate_subject,
    check_request,
    key_store_extension,
)
from wizard.keys.store import open_store
from wizard.keys.writer import save_store

NEW_PASSWORD = "Renewed2026x"
SUBJECT = x509.Name(
    [
        x509.NameAttribute(NameOID.COMMON_NAME, "ТЕСТОВ ТЕСТ"),
        x509.NameAttribute(NameOID.SURNAME, "ТЕСТОВ"),
        x509.NameAttribute(NameOID.SERIAL_NUMBER, "IIN123456789011"),
        x509.NameAttribute(NameOID.COUNTRY_NAME, "KZ"),
        x509.NameAttribute(NameOID.GIVEN_NAME, "ТЕСТОВИЧ"),
    ]
)


class ThrowawayCA:
    """A small RSA CA that certifies requests with the NCA individual signing profile."""

    def __init__(self) -> None:
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "TEST CA (throwaway)")])
        now = dt.datetime.now(dt.UTC)
        self.cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(self.key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=3650))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(self.key, hashes.SHA256())
        )

    def certify(self, csr_der: bytes, *, days: int = 365, usage: str = "sign") -> bytes:
        csr = x509.load_der_x509_csr(csr_der)
        now = dt.datetime.now(dt.UTC)
        eku = [
            ExtendedKeyUsageOID.EMAIL_PROTECTION
            if usage == "sign"
            else ExtendedKeyUsageOID.CLIENT_AUTH,
            x509.ObjectIdentifier(oids.INDIVIDUAL),
        ]
        policy = oids.POLICY_SIGN_INDIVIDUAL if usage == "sign" else oids.POLICY_AUTH_INDIVIDUAL
        cert = (
            x509.CertificateBuilder()
            .subject_name(csr.subject)
            .issuer_name(self.cert.subject)
            .public_key(csr.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=1))
            .not_valid_after(now + dt.timedelta(days=days))
            .add_extension(x509.ExtendedKeyUsage(eku), critical=False)
            .add_extension(
                x509.CertificatePolicies(
                    [x509.PolicyInformation(x509.ObjectIdentifier(policy), None)]
                ),
                critical=False,
            )
            .add_extension(
                x509.SubjectKeyIdentifier.from_public_key(csr.public_key()), critical=False
            )
            .sign(self.key, hashes.SHA256())
        )
        return cert.public_bytes(serialization.Encoding.DER)


@pytest.fixture(scope="module")
def ca() -> ThrowawayCA:
    return ThrowawayCA()


@pytest.fixture(scope="module")
def key() -> RsaKeyPair:
    return RsaKeyPair.generate()


def subject_der() -> bytes:
    return SUBJECT.public_bytes()


# --- key pairs ---------------------------------------------------------------------------------


def test_generated_keys_are_rsa_2048_and_fresh(key):
    assert key.key.key_size == 2048
    other = generate(Scheme.RSA)
    assert not other.same_public_key(key)
    assert "PRIVATE" not in repr(other) and "RSA" in repr(other)


def test_a_new_key_equal_to_the_current_one_is_refused(monkeypatch, key):
    monkeypatch.setattr(RsaKeyPair, "generate", classmethod(lambda cls, bits=2048: key))
    with pytest.raises(QoltanbaError) as info:
        generate(Scheme.RSA, not_equal_to=[key.public_key_info()])
    assert info.value.code == "key_not_new"


# --- requests ----------------------------------------------------------------------------------


def test_request_copies_subject_byte_for_byte_and_carries_email_and_store_extension(key):
    der = build_request(key, subject_der(), email="aigerim@example.kz")
    checked = check_request(der)
    assert checked.subject == subject_der()
    assert checked.email == "aigerim@example.kz"
    assert checked.key_store is True
    assert checked.public_key_info == key.public_key_info()
    # An independent parser agrees, and the proof of possession holds there too.
    csr = x509.load_der_x509_csr(der)
    assert csr.is_signature_valid
    assert csr.subject == SUBJECT
    store_ext = csr.extensions.get_extension_for_oid(
        x509.ObjectIdentifier(oids.KEY_STORE_EXTENSION)
    )
    assert store_ext.value.value == key_store_extension()
    assert key_store_extension() == bytes.fromhex("300a06082a830e0303050101")


def test_request_subject_copied_from_a_real_nca_certificate(key, material):
    store = material / "sdk2020/organization/active"
    cert_der = x509.load_pem_x509_certificate(
        next(store.glob("AUTH_RSA256_*.cer")).read_bytes()
    ).public_bytes(serialization.Encoding.DER)
    checked = check_request(build_request(key, certificate_subject(cert_der)))
    assert checked.subject == certificate_subject(cert_der)
    assert x509.load_der_x509_csr(build_request(key, checked.subject)).subject == (
        x509.load_der_x509_certificate(cert_der).subject
    )


def test_openssl_verifies_the_request(tmp_path, key):
    path = tmp_path / "req.der"
    path.write_bytes(build_request(key, subject_der(), email="a@b.kz"))
    result = subprocess.run(
        ["openssl", "req", "-in", str(path), "-inform", "DER", "-verify", "-noout"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "verify OK" in (result.stdout + result.stderr)


def test_a_request_without_proof_of_possession_is_refused(key):
    der = bytearray(build_request(key, subject_der()))
    der[-3] ^= 0x01  # inside the signature
    with pytest.raises(RequestError) as info:
        check_request(bytes(der))
    assert info.value.code == "request_no_possession"
    with pytest.raises(RequestError):
        check_request(b"\x30\x03\x02\x01\x00")


def test_a_request_signed_by_another_key_is_refused(key):
    other = RsaKeyPair.generate()
    der = build_request(key, subject_der())
    from asn1crypto import csr as asn1_csr

    request = asn1_csr.CertificationRequest.load(der)
    info = request["certification_request_info"].dump()
    forged = asn1_csr.CertificationRequest(
        {
            "certification_request_info": asn1_csr.CertificationRequestInfo.load(info),
            "signature_algorithm": request["signature_algorithm"],
            "signature": other.sign(info),
        }
    ).dump()
    with pytest.raises(RequestError):
        check_request(forged)


# --- writing stores ----------------------------------------------------------------------------


def test_new_store_round_trip_nca_layout(tmp_path, ca, key):
    cert = ca.certify(build_request(key, subject_der()))
    folder = prepare_new_folder(tmp_path / "new-keys")
    path = save_store(folder, key, cert, NEW_PASSWORD)
    ski = (
        x509.load_der_x509_certificate(cert)
        .extensions.get_extension_for_class(x509.SubjectKeyIdentifier)
        .value.digest
    )
    assert path.name == f"RSA256_{ski.hex()}.p12"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    contents = read_pkcs12(path.read_bytes(), NEW_PASSWORD)
    assert contents.friendly_name == ski.hex()
    assert contents.local_key_id == ski
    assert contents.key_encryption == "pkcs12_sha1_tripledes_3key"
    assert contents.certificate_encryption == "pkcs12_sha1_rc2_40"
    assert contents.mac_algorithm == "sha1"
    with pytest.raises(WrongPassword):
        open_store(path, "Qwerty12")
    opened = open_store(path, NEW_PASSWORD)
    assert opened.key_matches is True
    assert opened.facts.usage == ("sign",)
    assert opened.private_key.same_public_key(key)
    # Only the store is left in the folder: no temporary files.
    assert [p.name for p in folder.iterdir()] == [path.name]


def test_openssl_and_cryptography_open_the_new_store(tmp_path, ca, key):
    from cryptography.hazmat.primitives.serialization import pkcs12

    cert = ca.certify(build_request(key, subject_der()), usage="auth")
    path = save_store(prepare_new_folder(tmp_path / "n"), key, cert, NEW_PASSWORD)
    assert path.name.startswith("AUTH_RSA256_")
    loaded = pkcs12.load_pkcs12(path.read_bytes(), NEW_PASSWORD.encode())
    assert loaded.cert.certificate.public_bytes(serialization.Encoding.DER) == cert
    result = subprocess.run(
        ["openssl", "pkcs12", "-in", str(path), "-info", "-noout", "-legacy", "-passin", "env:PW"],
        capture_output=True,
        text=True,
        env={**os.environ, "PW": NEW_PASSWORD},
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "MAC: sha1, Iteration 1024" in result.stderr + result.stdout


def test_modern_profile_round_trip(tmp_path, ca, key):
    cert = ca.certify(build_request(key, subject_der()))
    path = save_store(
        prepare_new_folder(tmp_path / "m"), key, cert, NEW_PASSWORD, profile=Profile.MODERN
    )
    contents = read_pkcs12(path.read_bytes(), NEW_PASSWORD)
    assert contents.key_encryption == "pbes2"
    assert contents.mac_algorithm == "sha256"
    from asn1crypto import pkcs12 as asn1_pkcs12

    pfx = asn1_pkcs12.Pfx.load(path.read_bytes())
    bag = asn1_pkcs12.SafeContents.load(pfx.authenticated_safe[0]["content"].native)[0]
    algorithm = bag["bag_value"]["encryption_algorithm"]
    assert algorithm.kdf_iterations >= 600_000
    assert algorithm.kdf_hmac == "sha256"
    assert algorithm.encryption_cipher == "aes" and algorithm.key_length == 32
    with pytest.raises(WrongPassword):
        read_pkcs12(path.read_bytes(), "Renewed2026y")


def test_a_certificate_for_another_key_is_never_written(tmp_path, ca, key):
    other = RsaKeyPair.generate()
    cert = ca.certify(build_request(other, subject_der()))
    folder = prepare_new_folder(tmp_path / "w")
    with pytest.raises(StoreError) as info:
        save_store(folder, key, cert, NEW_PASSWORD)
    assert info.value.code == "certificate_wrong_key"
    assert list(folder.iterdir()) == []


def test_never_over_an_existing_file(tmp_path, ca, key):
    cert = ca.certify(build_request(key, subject_der()))
    folder = prepare_new_folder(tmp_path / "x")
    first = save_store(folder, key, cert, NEW_PASSWORD)
    before = first.read_bytes()
    with pytest.raises(OutputRefused) as info:
        save_store(folder, key, cert, "Another2026x")
    assert info.value.code == "output_exists"
    assert first.read_bytes() == before
    assert sorted(p.name for p in folder.iterdir()) == [first.name]


def test_write_new_file_refuses_names_and_symlinks(tmp_path):
    folder = prepare_new_folder(tmp_path / "f")
    for bad in ("", "..", "a/b", "a\\b"):
        with pytest.raises(OutputRefused):
            write_new_file(folder, bad, b"x")
    (folder / "link").symlink_to(tmp_path / "elsewhere")
    with pytest.raises(OutputRefused):
        write_new_file(folder, "link", b"x")
    assert not (tmp_path / "elsewhere").exists()


def test_the_current_keys_folder_is_refused_and_left_untouched(tmp_path, ca, key):
    current = tmp_path / "keys"
    current.mkdir()
    store = current / "RSA256_0000.p12"
    store.write_bytes(b"old store bytes")
    digest = hashlib.sha256(store.read_bytes()).hexdigest()
    for target in (current, tmp_path, current / "."):
        with pytest.raises(OutputRefused) as info:
            prepare_new_folder(target, [store])
        assert info.value.code == "output_current_folder"
    assert sorted(p.name for p in current.iterdir()) == ["RSA256_0000.p12"]
    assert hashlib.sha256(store.read_bytes()).hexdigest() == digest
    # A sibling folder is fine.
    assert prepare_new_folder(tmp_path / "keys-2026", [store]).is_dir()


def test_a_file_where_the_folder_should_be_is_refused(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(OutputRefused) as info:
        prepare_new_folder(tmp_path / "file")
    assert info.value.code == "output_not_folder"
