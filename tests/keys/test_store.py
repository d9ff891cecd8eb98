"""Opening key stores (wizard.keys.store): every store of the NCA test material with the facts its
README and DOMAIN.md give, wrong passwords, damaged and mistaken files, revocation from CRLs at
hand, and the order of the verdict's reasons on synthetic NCA-shaped RSA stores."""

from __future__ import annotations

import datetime as dt
import random
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from asn1crypto import pkcs12 as asn1_pkcs12
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.serialization import pkcs12 as crypto_pkcs12
from cryptography.x509.oid import NameOID

from wizard.errors import StoreError, WrongPassword
from wizard.keys import store as store_module
from wizard.keys.certificate import certificate_public_key_info
from wizard.keys.gost.keypair import GostKeyPair
from wizard.keys.oids import Holder, Scheme
from wizard.keys.pkcs12 import private_key_algorithm
from wizard.keys.revocation import check, material_near
from wizard.keys.store import MAX_STORE_BYTES, open_store, open_store_bytes, read_store_file

PASSWORD = "Qwerty12"  # README of the material: the password of every .p12 there
DAY = dt.timedelta(days=1)
SECOND = dt.timedelta(seconds=1)

# DOMAIN.md §4: NCA file names are <PREFIX>_<subject key identifier, 40 hex>.p12.
NCA_NAME = re.compile(r"^(AUTH_RSA256|RSA256|GOSTKNCA|GOST512)_([0-9a-f]{40})\.p12$")
# The material's README tables.
SDK2020_NOT_BEFORE = dt.date(2020, 1, 28)
SDK2020_NOT_AFTER = dt.date(2021, 1, 27)
TEST_IIN = "123456789011"
TEST_BIN = "123456789021"
TEST_ORGANIZATION = 'АО "ТЕСТ"'
GOST2015_HOLDERS = {
    "individual_valid.p12": Holder.INDIVIDUAL,
    "individual_revoked.p12": Holder.INDIVIDUAL,
    "legal_ceo_valid.p12": Holder.LEGAL_HEAD,
    "legal_signer_valid.p12": Holder.LEGAL_SIGNER,
    "legal_infosystem_valid.p12": Holder.LEGAL_INFOSYSTEM,
}
GOST2015_512_KEY_OID = "1.2.398.3.10.1.1.2.2"  # DOMAIN.md §6

# Glob patterns of the material for @pytest.mark.material_files (tests/conftest.py).
SDK2020_STORES = "sdk2020/**/*.p12"
SDK2020_RSA_STORES = "sdk2020/**/*RSA256_*.p12"
GOSTKNCA_STORES = "sdk2020/**/GOSTKNCA_*.p12"
GOST2015_STORES = "gost2015-2026/*.p12"
GOST2015_VALID_STORES = "gost2015-2026/*_valid.p12"
CERTIFICATE_FILES = "sdk2020/**/*.cer"  # beside their stores, PEM
# Any certificate a person may pick by mistake: RSA, GOST 2004 and GOST 2015 (CA ones, DER).
ANY_CERTIFICATE_FILES = (CERTIFICATE_FILES, "gost2015-2026/ca/*.cer")
SIGN_RSA_STORE = "sdk2020/personal/active/RSA256_*.p12"
# One RSA and one GOST store, for the slower damage checks.
REPRESENTATIVE = (SIGN_RSA_STORE, "gost2015-2026/legal_ceo_valid.p12")

WRONG_PASSWORDS = [
    pytest.param("qwerty12", "wrong_password", id="right-one-in-lower-case"),
    pytest.param("QWERTY12", "wrong_password", id="caps-lock"),
    pytest.param("", "wrong_password", id="empty"),
    pytest.param("Qwerty12 ", "wrong_password", id="trailing-space"),
    pytest.param("Qwerty1", "wrong_password", id="one-short"),
    pytest.param("123456", "wrong_password", id="a-pin"),
    # "Qwerty12" typed with the keyboard in the Russian layout.
    pytest.param("Йцукен12", "wrong_password_layout", id="cyrillic-layout"),
    pytest.param("Қwerty12", "wrong_password_layout", id="kazakh-letter"),
]


def _open(path: Path, password: str = PASSWORD, **kw):
    return open_store(path, password, **kw)


def der(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.DER)


def ski_bytes(cert: x509.Certificate) -> bytes:
    return cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(microsecond=0)


def _subject(cert: x509.Certificate, oid: x509.ObjectIdentifier) -> str:
    values = cert.subject.get_attributes_for_oid(oid)
    return str(values[0].value) if values else ""


def _inside_validity(cert: x509.Certificate) -> dt.datetime:
    return cert.not_valid_before_utc + DAY


def _mac_protected_span(data: bytes) -> tuple[int, int]:
    """Start and end offsets of the authSafe content, the bytes the store's MAC covers."""
    content = asn1_pkcs12.Pfx.load(data)["auth_safe"]["content"].native
    start = data.find(content)
    assert start > 0 and data.count(content) == 1
    return start, start + len(content)


def _cert_bag_ciphertext_span(data: bytes) -> tuple[int, int]:
    """Offsets of the encrypted certificate bag (the RC2-40 / AES ciphertext) inside the store."""
    pfx = asn1_pkcs12.Pfx.load(data)
    for info in pfx.authenticated_safe:
        if info["content_type"].native == "encrypted_data":
            cipher = info["content"]["encrypted_content_info"]["encrypted_content"].native
            start = data.find(cipher)
            assert start > 0
            return start, start + len(cipher)
    raise AssertionError("no encrypted certificate bag")


# ---------------------------------------------------------------------------------------------
# Every store of the material


@pytest.mark.material_files()
def test_every_store_opens_and_its_facts_agree_with_its_certificate(material_file):
    store = _open(material_file)
    cert, facts = store.certificate, store.facts
    # The end-entity certificate, not a CA's.
    assert not facts.is_ca and cert.subject != cert.issuer
    assert facts.is_nca_profile
    assert facts.not_before == cert.not_valid_before_utc
    assert facts.not_after == cert.not_valid_after_utc
    assert facts.not_before < facts.not_after
    assert int(facts.serial, 16) == cert.serial_number
    assert facts.subject_key_id == ski_bytes(cert).hex()
    serial_number = _subject(cert, NameOID.SERIAL_NUMBER)
    assert facts.iin == (serial_number[3:] if serial_number.startswith("IIN") else "")
    unit = _subject(cert, NameOID.ORGANIZATIONAL_UNIT_NAME)
    assert facts.bin == (unit[3:] if unit.startswith("BIN") else "")
    assert facts.organization == _subject(cert, NameOID.ORGANIZATION_NAME)
    assert facts.patronymic == _subject(cert, NameOID.GIVEN_NAME)
    assert facts.common_name == _subject(cert, NameOID.COMMON_NAME)
    assert facts.usage and set(facts.usage) <= {"auth", "sign"}
    # DOMAIN.md §4: the alias (friendlyName) and localKeyID are the subject key identifier.
    assert store.contents.friendly_name == facts.subject_key_id
    assert store.contents.local_key_id == ski_bytes(cert)
    named = NCA_NAME.match(material_file.name)
    if named:
        assert named.group(2) == facts.subject_key_id
    # The NCA layout (DOMAIN.md §4).
    assert store.contents.mac_algorithm == "sha1"
    assert store.contents.key_encryption == "pkcs12_sha1_tripledes_3key"
    assert store.contents.certificate_encryption == "pkcs12_sha1_rc2_40"
    assert store.path == material_file
    # The 2020 batch expired long ago (and GOSTKNCA is never renewed); the GOST 2015 stores renew
    # while they are valid and their CRL does not list them.
    now = utcnow()
    renewable = (
        facts.scheme is Scheme.GOST2015
        and facts.not_before <= now < facts.not_after
        and not store.revocation.revoked
    )
    assert store.verdict(now).renewable is renewable


@pytest.mark.material_files()
def test_openssl_extracts_the_same_certificate_and_bag_attributes(material_file):
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("openssl is not installed")
    result = subprocess.run(
        [
            *(openssl, "pkcs12", "-in", str(material_file), "-legacy", "-nokeys", "-clcerts"),
            *("-passin", f"pass:{PASSWORD}"),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    theirs = x509.load_pem_x509_certificate(result.stdout.encode())
    store = _open(material_file)
    assert der(store.certificate) == der(theirs)
    assert store.contents.certificates[0] == der(theirs)
    local_key_id = re.search(r"localKeyID: ([0-9A-F ]+)", result.stdout).group(1)
    assert bytes.fromhex(local_key_id.replace(" ", "")) == store.contents.local_key_id
    friendly_name = re.search(r"friendlyName: (\S+)", result.stdout).group(1)
    assert friendly_name == store.contents.friendly_name


def _rsa_private_key(store) -> rsa.RSAPrivateKey:
    key = serialization.load_der_private_key(store.contents.private_key_info, None)
    assert isinstance(key, rsa.RSAPrivateKey)
    return key


def _spki(cert: x509.Certificate) -> bytes:
    return cert.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


@pytest.mark.material_files(SDK2020_RSA_STORES)
def test_rsa_stores_decode_as_cryptography_decodes_them(material_file):
    data = material_file.read_bytes()
    theirs = crypto_pkcs12.load_pkcs12(data, PASSWORD.encode())
    store = open_store_bytes(data, PASSWORD)
    assert store.contents.certificates == (der(theirs.cert.certificate),)
    assert theirs.cert.friendly_name.decode() == store.contents.friendly_name
    assert isinstance(theirs.key, rsa.RSAPrivateKey)
    assert _rsa_private_key(store).private_numbers() == theirs.key.private_numbers()
    assert store.private_key is not None
    assert store.private_key.public_key_info() == _spki(theirs.cert.certificate)


@pytest.mark.material_files(SDK2020_RSA_STORES)
def test_rsa_key_matches_its_certificate(material_file):
    store = _open(material_file)
    assert store.key_matches is True
    key = _rsa_private_key(store)
    assert key.key_size == 2048
    assert key.public_key().public_numbers() == store.certificate.public_key().public_numbers()
    # And the key signs what the certificate's key verifies.
    signature = key.sign(b"qoltanba", padding.PKCS1v15(), hashes.SHA256())
    store.certificate.public_key().verify(
        signature, b"qoltanba", padding.PKCS1v15(), hashes.SHA256()
    )


# ---------------------------------------------------------------------------------------------
# sdk2020: the old two-key scheme, expired since 2021-01-27


@pytest.mark.material_files(SDK2020_STORES)
def test_sdk2020_store_facts(material_file):
    store = _open(material_file)
    facts = store.facts
    prefix = NCA_NAME.match(material_file.name).group(1)
    expected_usage = {"AUTH_RSA256": ("auth",), "RSA256": ("sign",), "GOSTKNCA": ("sign",)}
    assert facts.usage == expected_usage[prefix]
    if prefix == "GOSTKNCA":
        assert facts.scheme is Scheme.GOST2004
        assert facts.algorithm == "GOST 2004"
        assert store.key_matches is not False
    else:
        assert facts.scheme is Scheme.RSA
        assert facts.algorithm == "RSA 2048"
        assert store.key_matches is True
    assert facts.iin == TEST_IIN
    assert facts.iin_checksum_ok is False  # DOMAIN.md §5: test IINs fail the real checksum
    if "personal" in material_file.parts:
        assert facts.holder is Holder.INDIVIDUAL
        assert (facts.bin, facts.organization) == ("", "")
    else:
        assert facts.holder is Holder.LEGAL_HEAD
        assert facts.holder.is_legal
        assert facts.bin == TEST_BIN
        assert facts.organization == TEST_ORGANIZATION
    assert facts.not_before.date() == SDK2020_NOT_BEFORE
    assert facts.not_after.date() == SDK2020_NOT_AFTER
    # DOMAIN.md §5: CN = "SURNAME NAME", SURNAME, and the patronymic in givenName.
    cert = store.certificate
    surname = _subject(cert, NameOID.SURNAME)
    name = _subject(cert, NameOID.COMMON_NAME).removeprefix(surname).strip()
    assert name and surname
    assert facts.full_name == f"{surname} {name} {_subject(cert, NameOID.GIVEN_NAME)}"
    # Expired: not renewable, for that reason, whatever today is.
    now = utcnow()
    assert facts.days_left(now) < 0
    verdict = store.verdict()
    assert (verdict.renewable, verdict.reason) == (False, "expired")
    assert verdict.message_key == "verdict.expired"
    assert store.revocation.checked is False  # no CRL is kept beside these stores


@pytest.mark.material_files(CERTIFICATE_FILES)
def test_certificate_beside_a_store_is_the_one_inside(material_file):
    cer = material_file
    store = _open(material_file.with_suffix(".p12"))
    assert der(store.certificate) == der(x509.load_pem_x509_certificate(cer.read_bytes()))


@pytest.mark.material_files(GOSTKNCA_STORES)
def test_gostknca_is_expired_first_and_legacy_within_its_validity(material_file):
    store = _open(material_file)
    assert store.verdict().reason == "expired"
    inside = store.verdict(_inside_validity(store.certificate))
    assert (inside.renewable, inside.reason) == (False, "legacy_gost")


# ---------------------------------------------------------------------------------------------
# gost2015-2026: the current scheme, GOST R 34.10-2015 512


@pytest.mark.material_files(GOST2015_STORES)
def test_gost2015_store_facts(material_file):
    store = _open(material_file)
    facts = store.facts
    assert facts.scheme is Scheme.GOST2015
    assert facts.algorithm == "GOST 2015 512"
    assert facts.key_algorithm_oid == GOST2015_512_KEY_OID
    assert private_key_algorithm(store.contents.private_key_info) == GOST2015_512_KEY_OID
    assert facts.usage == ("auth", "sign")
    holder = GOST2015_HOLDERS[material_file.name]
    assert facts.holder is holder
    if holder is Holder.INDIVIDUAL:
        assert (facts.iin, facts.bin, facts.organization) == (TEST_IIN, "", "")
    else:
        assert facts.bin == TEST_BIN
        assert facts.organization == TEST_ORGANIZATION
    if holder is Holder.LEGAL_INFOSYSTEM:
        assert facts.iin == ""  # README: no IIN in the subject
    elif holder is Holder.LEGAL_HEAD:
        assert facts.iin == TEST_IIN
    # The Kazakh PKCS#8 GOST key is read, belongs to the certificate, and is written back in
    # the very same shape (so a store of ours holds it as the NCA's does).
    assert isinstance(store.private_key, GostKeyPair)
    assert store.key_matches is True
    assert store.private_key.private_key_info() == store.contents.private_key_info
    assert store.private_key.public_key_info() == certificate_public_key_info(
        der(store.certificate)
    )


@pytest.mark.material_files(GOST2015_VALID_STORES)
def test_gost2015_valid_store_is_renewable_within_its_validity(material_file):
    store = _open(material_file)
    cert = store.certificate
    inside = store.verdict(_inside_validity(cert))
    assert (inside.renewable, inside.reason) == (True, None)
    assert store.verdict(cert.not_valid_after_utc + SECOND).reason == "expired"
    assert store.verdict(cert.not_valid_before_utc - SECOND).reason == "not_yet_valid"


def test_material_crls_and_cas_are_found_beside_the_gost_stores(material):
    folder = material / "gost2015-2026"
    crls, cas = material_near(folder / "individual_valid.p12")
    assert sorted(crls) == sorted((folder / "crl").glob("*.crl"))
    assert sorted(cas) == sorted((folder / "ca").glob("*.cer"))
    assert crls and cas


@pytest.mark.material_files(GOST2015_STORES)
def test_gost2015_revocation_agrees_with_the_material_crls(material_file):
    store = _open(material_file)
    crls = sorted((material_file.parent / "crl").glob("*.crl"))
    assert crls
    listed = any(
        x509.load_der_x509_crl(p.read_bytes()).get_revoked_certificate_by_serial_number(
            store.certificate.serial_number
        )
        is not None
        for p in crls
    )
    # Without the CA certificate nothing is verified, so nothing is said (issue #12).
    unverified = check(store.certificate, crls, shipped=False)
    assert (unverified.checked, unverified.detail) == (False, "no_issuer")
    # With the CA beside them they verify, but were issued a year before the certificate: they
    # cannot list it, and their not listing it says nothing (neither good nor revoked).
    assert not listed
    assert (store.revocation.checked, store.revocation.revoked) == (False, False)
    assert store.revocation.detail == "crl_before_certificate"


# ---------------------------------------------------------------------------------------------
# Wrong passwords


@pytest.mark.parametrize("password, code", WRONG_PASSWORDS)
@pytest.mark.material_files()
def test_wrong_password_is_wrong_password_for_every_store(material_file, password, code):
    data = material_file.read_bytes()
    with pytest.raises(WrongPassword) as info:
        open_store_bytes(data, password)
    assert info.value.code == code
    assert info.value.exit_code == 3
    if password:
        assert password not in f"{info.value} {info.value.params!r}"


@pytest.mark.material_files("gost2015-2026/individual_valid.p12")
def test_wrong_password_from_a_file(material_file):
    with pytest.raises(WrongPassword):
        _open(material_file, "qwerty12")


# ---------------------------------------------------------------------------------------------
# Damaged and mistaken files


def _store_error(func, *args, **kw) -> StoreError:
    with pytest.raises(StoreError) as info:
        func(*args, **kw)
    assert info.value.exit_code == 4
    return info.value


def test_empty_file(tmp_path):
    path = tmp_path / "AUTH_RSA256_empty.p12"
    path.write_bytes(b"")
    assert _store_error(open_store, path, PASSWORD).code == "store_empty"
    assert _store_error(open_store_bytes, b"", PASSWORD).code == "store_empty"


@pytest.mark.material_files(*REPRESENTATIVE)
def test_truncated_store_is_damage_not_a_wrong_password(material_file, tmp_path):
    data = material_file.read_bytes()
    mac_start, mac_end = _mac_protected_span(data)
    for cut in (1, 2, 4, 16, 100, mac_start + 5, len(data) // 2, mac_end + 10, len(data) - 1):
        error = _store_error(open_store_bytes, data[:cut], PASSWORD)
        assert error.code == "store_corrupt", cut
    path = tmp_path / material_file.name
    path.write_bytes(data[: len(data) // 3])
    assert _store_error(open_store, path, PASSWORD).code == "store_corrupt"


@pytest.mark.material_files(*REPRESENTATIVE)
def test_flipped_byte_in_the_encrypted_certificate_bag_is_refused(material_file):
    # The MAC covers the whole authSafe, so a damaged bag and a wrong password look the same to
    # it. The store must be refused one way or the other; it must never open.
    data = material_file.read_bytes()
    start, end = _cert_bag_ciphertext_span(data)
    for position in (start, (start + end) // 2, end - 1):
        damaged = bytearray(data)
        damaged[position] ^= 0x40
        with pytest.raises((WrongPassword, StoreError)):
            open_store_bytes(bytes(damaged), PASSWORD)


@pytest.mark.material_files(*REPRESENTATIVE)
def test_no_flipped_byte_opens_a_different_store_or_escapes_as_another_error(material_file):
    data = material_file.read_bytes()
    good = open_store_bytes(data, PASSWORD)
    mac_start, mac_end = _mac_protected_span(data)
    opened = []
    for position in range(0, len(data), 3):
        damaged = bytearray(data)
        damaged[position] ^= 0x01
        try:
            store = open_store_bytes(bytes(damaged), PASSWORD)
        except (WrongPassword, StoreError):
            continue
        # Only a byte the MAC does not cover may be changed without notice, and then the
        # contents must be exactly those of the intact store.
        assert not mac_start <= position < mac_end, position
        assert store.contents.private_key_info == good.contents.private_key_info
        assert store.contents.certificates == good.contents.certificates
        opened.append(position)
    assert len(opened) < 5


def test_random_bytes_are_not_a_store():
    generator = random.Random(20260508)
    for size in (1, 7, 64, 4096):
        noise = bytes(generator.randrange(256) for _ in range(size))
        for data in (noise, b"\x30\x82" + noise):
            error = _store_error(open_store_bytes, data, PASSWORD)
            assert error.code in ("store_not_pkcs12", "store_corrupt")


def test_text_file_is_not_a_store(tmp_path):
    path = tmp_path / "password.txt"
    path.write_text("Qwerty12\nmy keys are in the folder next to this file\n", encoding="utf-8")
    assert _store_error(open_store, path, PASSWORD).code == "store_not_pkcs12"


@pytest.mark.material_files(*ANY_CERTIFICATE_FILES)
def test_certificate_chosen_instead_of_the_store_is_named(material_file, tmp_path):
    original = material_file.read_bytes()
    if original.startswith(b"-----BEGIN"):
        cert = x509.load_pem_x509_certificate(original)
    else:
        cert = x509.load_der_x509_certificate(original)
    pem = cert.public_bytes(serialization.Encoding.PEM)
    for encoding, data in (("der", der(cert)), ("pem", pem)):
        error = _store_error(open_store_bytes, data, PASSWORD)
        assert error.code == "store_is_certificate", encoding
        path = tmp_path / f"{encoding}.cer"
        path.write_bytes(data)
        assert _store_error(open_store, path, PASSWORD).code == "store_is_certificate"


def test_folder_is_not_a_store(tmp_path):
    folder = tmp_path / "AUTH_RSA256_folder.p12"
    folder.mkdir()
    error = _store_error(open_store, folder, PASSWORD)
    assert error.code == "store_is_folder"
    assert error.params["path"] == str(folder)


def test_missing_path(tmp_path):
    path = tmp_path / "nowhere" / "RSA256_missing.p12"
    error = _store_error(open_store, path, PASSWORD)
    assert error.code == "store_missing"
    assert error.params["path"] == str(path)


@pytest.mark.material_files(SIGN_RSA_STORE)
def test_file_over_one_mebibyte_is_refused_before_parsing(material_file, tmp_path, monkeypatch):
    data = material_file.read_bytes()
    big = tmp_path / "big.p12"
    with big.open("wb") as handle:  # a sparse file: the real store, then 2 MiB of holes
        handle.write(data)
        handle.truncate(2 << 20)
    parsed = []
    real_reader = store_module.read_pkcs12

    def spy(*args, **kw):
        parsed.append(args)
        return real_reader(*args, **kw)

    monkeypatch.setattr(store_module, "read_pkcs12", spy)
    error = _store_error(open_store, big, PASSWORD)
    assert error.code == "store_too_large"
    assert error.params["limit_kib"] == 1024
    assert parsed == []
    # The size alone refused it: with a higher limit the same file opens.
    monkeypatch.setattr(store_module, "MAX_STORE_BYTES", 4 << 20)
    assert open_store(big, PASSWORD).facts.iin == TEST_IIN
    assert len(parsed) == 1


def test_size_limit_is_one_mebibyte_exactly(tmp_path):
    assert MAX_STORE_BYTES == 1 << 20
    at_limit = tmp_path / "at_limit.p12"
    at_limit.write_bytes(b"\x01" * MAX_STORE_BYTES)
    assert read_store_file(at_limit) == b"\x01" * MAX_STORE_BYTES
    over = tmp_path / "over.p12"
    over.write_bytes(b"\x01" * (MAX_STORE_BYTES + 1))
    assert _store_error(read_store_file, over).code == "store_too_large"


@pytest.mark.material_files(*REPRESENTATIVE)
def test_store_without_mac_is_refused(material_file):
    pfx = asn1_pkcs12.Pfx.load(material_file.read_bytes())
    bare = asn1_pkcs12.Pfx({"version": "v3", "auth_safe": pfx["auth_safe"]}).dump()
    for password in (PASSWORD, "wrong"):
        assert _store_error(open_store_bytes, bare, password).code == "store_without_mac"


# ---------------------------------------------------------------------------------------------
# Synthetic NCA-shaped RSA stores: holders, usage, key mismatch


@pytest.mark.parametrize(
    "holder",
    ["individual", *(h.value for h in Holder if h.is_legal and h is not Holder.LEGAL_ENTITY)],
)
@pytest.mark.parametrize("kind", ["auth", "sign"])
def test_synthetic_holder_and_usage(throwaway_ca, holder, kind):
    cert, key = throwaway_ca.issue(kind=kind, holder=holder)
    store = open_store_bytes(throwaway_ca.store(cert, key), PASSWORD)
    assert store.facts.holder.value == holder
    assert store.facts.usage == (kind,)
    assert store.facts.scheme is Scheme.RSA and store.facts.algorithm == "RSA 2048"
    assert store.key_matches is True
    assert store.verdict().renewable is True
    assert store.verdict().reason is None
    assert store.verdict().message_key == "verdict.renewable"


def test_key_that_is_not_the_certificates_is_found(throwaway_ca, impostor_key):
    cert, _ = throwaway_ca.issue()
    store = open_store_bytes(throwaway_ca.store(cert, impostor_key), PASSWORD)
    assert store.key_matches is False
    assert store.verdict().reason == "key_mismatch"


# ---------------------------------------------------------------------------------------------
# Revocation from CRLs at hand


def _crl_der(crl: x509.CertificateRevocationList) -> bytes:
    return crl.public_bytes(serialization.Encoding.DER)


@pytest.fixture
def issued(throwaway_ca):
    """A valid certificate and its store in a fresh folder."""
    cert, key = throwaway_ca.issue()
    return cert, key


def _save_store(ca, folder: Path, cert, key) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"AUTH_RSA256_{ski_bytes(cert).hex()}.p12"
    path.write_bytes(ca.store(cert, key))
    return path


def test_crl_beside_the_store_marks_it_revoked(throwaway_ca, issued, tmp_path):
    cert, key = issued
    path = _save_store(throwaway_ca, tmp_path, cert, key)
    (tmp_path / "ca.crl").write_bytes(_crl_der(throwaway_ca.crl([cert.serial_number])))
    # Unverifiable without the CA's certificate (issue #12): then it says nothing.
    assert open_store(path, PASSWORD).revocation.detail == "no_issuer"
    (tmp_path / "ca").mkdir()
    (tmp_path / "ca" / "ca.cer").write_bytes(der(throwaway_ca.cert))
    store = open_store(path, PASSWORD)
    assert (store.revocation.checked, store.revocation.revoked) == (True, True)
    assert (store.revocation.source, store.revocation.origin) == ("crl", "ca.crl")
    assert store.verdict().reason == "revoked"
    # Asked not to look around, it does not know.
    quiet = open_store(path, PASSWORD, look_nearby=False)
    assert (quiet.revocation.checked, quiet.revocation.revoked) == (False, False)
    assert quiet.verdict().renewable is True


def test_crl_in_crl_folder_verified_by_the_ca_in_ca_folder(throwaway_ca, issued, tmp_path):
    cert, key = issued
    path = _save_store(throwaway_ca, tmp_path, cert, key)
    (tmp_path / "crl").mkdir()
    (tmp_path / "ca").mkdir()
    (tmp_path / "ca" / "ca.cer").write_bytes(der(throwaway_ca.cert))
    pem = throwaway_ca.crl([12345, cert.serial_number]).public_bytes(serialization.Encoding.PEM)
    (tmp_path / "crl" / "issuing.crl").write_bytes(pem)
    store = open_store(path, PASSWORD)
    assert (store.revocation.checked, store.revocation.revoked) == (True, True)
    assert store.verdict().reason == "revoked"


def test_crl_not_signed_by_the_ca_at_hand_is_ignored(throwaway_ca, issued, impostor_key, tmp_path):
    cert, key = issued
    path = _save_store(throwaway_ca, tmp_path, cert, key)
    (tmp_path / "crl").mkdir()
    (tmp_path / "ca").mkdir()
    (tmp_path / "ca" / "ca.cer").write_bytes(der(throwaway_ca.cert))
    forged = throwaway_ca.crl([cert.serial_number], signer=impostor_key)
    (tmp_path / "crl" / "forged.crl").write_bytes(_crl_der(forged))
    store = open_store(path, PASSWORD)
    assert (store.revocation.checked, store.revocation.revoked) == (False, False)
    assert store.verdict().renewable is True
    # A genuine CRL that does not list it: checked, and still not revoked.
    (tmp_path / "crl" / "genuine.crl").write_bytes(_crl_der(throwaway_ca.crl([777])))
    store = open_store(path, PASSWORD)
    assert (store.revocation.checked, store.revocation.revoked) == (True, False)


def test_crl_of_another_issuer_and_junk_say_nothing(
    throwaway_ca, make_ca, rsa_keys, issued, tmp_path
):
    cert, key = issued
    other = make_ca([rsa_keys[3], rsa_keys[1]], name="ANOTHER TEST CA")
    path = _save_store(throwaway_ca, tmp_path, cert, key)
    (tmp_path / "other.crl").write_bytes(_crl_der(other.crl([cert.serial_number])))
    (tmp_path / "junk.crl").write_bytes(b"not a CRL at all")
    (tmp_path / "empty.crl").write_bytes(b"")
    store = open_store(path, PASSWORD)
    assert (store.revocation.checked, store.revocation.revoked) == (False, False)


def test_crl_given_explicitly(throwaway_ca, issued, tmp_path):
    cert, key = issued
    crl = tmp_path / "elsewhere" / "list.crl"
    crl.parent.mkdir()
    crl.write_bytes(_crl_der(throwaway_ca.crl([cert.serial_number])))
    path = _save_store(throwaway_ca, tmp_path / "keys", cert, key)
    ca = tmp_path / "elsewhere" / "ca.cer"
    ca.write_bytes(der(throwaway_ca.cert))
    assert open_store(path, PASSWORD).revocation.revoked is False
    assert open_store(path, PASSWORD, crl_files=[crl], ca_files=[ca]).revocation.revoked is True
    data = path.read_bytes()
    given = open_store_bytes(data, PASSWORD, crl_files=[crl], ca_files=[ca])
    assert given.verdict().reason == "revoked"


# ---------------------------------------------------------------------------------------------
# The verdict: one reason, in order of severity


def _synthetic(throwaway_ca, tmp_path, *, revoked=False, key=None, **issue):
    cert, own_key = throwaway_ca.issue(**issue)
    crl = tmp_path / f"{cert.serial_number}.crl"
    crl.write_bytes(_crl_der(throwaway_ca.crl([cert.serial_number] if revoked else [])))
    ca = tmp_path / "ca.cer"  # a CRL counts once it verifies under the issuer (issue #12)
    ca.write_bytes(der(throwaway_ca.cert))
    data = throwaway_ca.store(cert, key or own_key)
    store = open_store_bytes(data, PASSWORD, crl_files=[crl], ca_files=[ca])
    assert store.revocation.revoked is revoked  # a CRL older than a future certificate: unknown
    return store


def test_verdict_order(throwaway_ca, impostor_key, tmp_path):
    now = utcnow()
    past = {"not_before": now - 400 * DAY, "not_after": now - 35 * DAY}
    future = {"not_before": now + 10 * DAY, "not_after": now + 375 * DAY}

    def reason(**kw):
        return _synthetic(throwaway_ca, tmp_path, **kw).verdict(now).reason

    # Wrong kind beats everything: a CA certificate, or one outside the NCA's policies.
    assert reason(is_ca=True, revoked=True, **past) == "wrong_kind"
    assert reason(nca_policy=False, revoked=True, **past) == "wrong_kind"
    assert reason(nca_policy=False) == "wrong_kind"
    # Then a key that is not the certificate's.
    assert reason(key=impostor_key, revoked=True, **past) == "key_mismatch"
    # Then revoked, before the dates.
    assert reason(revoked=True, **past) == "revoked"
    assert reason(revoked=True, **future) == "revoked"
    assert reason(revoked=True) == "revoked"
    # Then the dates.
    assert reason(**past) == "expired"
    assert reason(**future) == "not_yet_valid"
    assert reason() is None


def test_verdict_at_the_edges_of_validity(throwaway_ca, tmp_path):
    store = _synthetic(throwaway_ca, tmp_path)
    cert = store.certificate
    start, end = cert.not_valid_before_utc, cert.not_valid_after_utc
    assert store.verdict(start - SECOND).reason == "not_yet_valid"
    assert store.verdict(start).renewable is True
    assert store.verdict(end - SECOND).renewable is True
    assert store.verdict(end).reason == "expired"
    assert store.facts.days_left(end - DAY) == 1
    assert store.facts.days_left(end) == -1  # expired (the verdict says so too): never "0 left"
    assert store.facts.days_left(end + SECOND) == -1
