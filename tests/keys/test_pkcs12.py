"""PKCS#12 (wizard.keys.pkcs12): the RFC 7292 KDF against published vectors and OpenSSL, the MAC
of the real NCA stores, and stores written in both profiles as OpenSSL and `cryptography` see them;
stores written by OpenSSL as our reader sees them."""

from __future__ import annotations

import hashlib
import hmac
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from asn1crypto import algos
from asn1crypto import pkcs12 as asn1_pkcs12
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs12 as crypto_pkcs12

from wizard.errors import StoreError, WrongPassword
from wizard.keys.pkcs12 import (
    Profile,
    bmp_password,
    parse_pfx,
    pkcs12_kdf,
    read_pkcs12,
    verify_mac,
    write_pkcs12,
)

PASSWORD = "Qwerty12"  # README of the material: the password of every .p12 there
NEW_PASSWORD = "Renewed2026x"

# Dr Stephen Henson's PKCS#12 KDF test vectors (SHA-1), the set OpenSSL, NSS and Bouncy Castle
# test against: (password, salt, id, iterations, output).
HENSON_VECTORS = [
    ("smeg", "0A58CF64530D823F", 1, 1, "8AAAE6297B6CB04642AB5B077851284EB7128F1A2A7FBCA3"),
    ("smeg", "0A58CF64530D823F", 2, 1, "79993DFE048D3B76"),
    ("smeg", "642B99AB44FB4B1F", 1, 1, "F3A95FEC48D7711E985CFE67908C5AB79FA3D7C5CAA5D966"),
    ("smeg", "642B99AB44FB4B1F", 2, 1, "C0A38D64A79BEA1D"),
    ("smeg", "3D83C0E4546AC140", 3, 1, "8D967D88F6CAA9D714800AB3D48051D63F73A312"),
    ("queeg", "05DEC959ACFF72F7", 1, 1000, "ED2034E36328830FF09DF1E1A07DD357185DAC0D4F9EB3D4"),
    ("queeg", "05DEC959ACFF72F7", 2, 1000, "11DEDAD7758D4860"),
    ("queeg", "1682C0FC5B3F7EC5", 1, 1000, "483DD6E919D7DE2E8E648BA8F862F3FBFBDC2BCB2C02957F"),
    ("queeg", "1682C0FC5B3F7EC5", 2, 1000, "9D461D1B00355C50"),
]


def der(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.DER)


def pkcs8(key) -> bytes:
    return key.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def ski_bytes(cert: x509.Certificate) -> bytes:
    return cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest


def _openssl() -> str:
    found = shutil.which("openssl")
    if found is None:
        pytest.skip("openssl is not installed")
    return found


def _run(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([_openssl(), *args], input=stdin, capture_output=True, check=False)


def _info_lines(path: Path, password: str, *, legacy: bool) -> list[str]:
    """`openssl pkcs12 -info -noout`: one line per MAC, bag and algorithm, nothing secret."""
    args = ["pkcs12", "-info", "-noout", "-in", str(path), "-passin", f"pass:{password}"]
    result = _run(*args, *(["-legacy"] if legacy else []))
    assert result.returncode == 0, result.stderr.decode()
    text = (result.stdout + result.stderr).decode()  # OpenSSL prints -info on stderr
    return [line.strip() for line in text.splitlines() if line.strip()]


def _openssl_extract(path: Path, password: str, *, legacy: bool) -> str:
    args = ["pkcs12", "-in", str(path), "-nodes", "-passin", f"pass:{password}"]
    result = _run(*args, *(["-legacy"] if legacy else []))
    assert result.returncode == 0, result.stderr.decode()
    return result.stdout.decode()


# ---------------------------------------------------------------------------------------------
# The KDF


def test_bmp_password_is_utf16be_with_a_terminator():
    assert bmp_password("smeg") == bytes.fromhex("0073006d006500670000")
    assert bmp_password("") == b"\x00\x00"
    assert bmp_password("Қ1") == "Қ1".encode("utf-16-be") + b"\x00\x00"


@pytest.mark.parametrize("password, salt, purpose, iterations, expected", HENSON_VECTORS)
def test_kdf_known_answers(password, salt, purpose, iterations, expected):
    out = pkcs12_kdf(
        bmp_password(password), bytes.fromhex(salt), purpose, iterations, len(expected) // 2, "sha1"
    )
    assert out.hex().upper() == expected


@pytest.mark.parametrize(
    "password, salt, purpose, iterations, size, hash_name",
    [
        ("Qwerty12", "00" * 20, 3, 1024, 20, "sha1"),
        ("Qwerty12", "a1b2c3d4e5f60718", 1, 1024, 5, "sha1"),
        ("Пароль1", "0102030405060708090a", 1, 2048, 64, "sha1"),
        ("", "ff" * 8, 2, 3, 8, "sha1"),
        ("Renewed2026x", "5a" * 32, 3, 2048, 32, "sha256"),
        ("Renewed2026x", "5a" * 16, 1, 7, 100, "sha256"),
        ("Қазақ-2026", "0011223344556677", 1, 10, 150, "sha512"),
    ],
)
def test_kdf_agrees_with_openssl(password, salt, purpose, iterations, size, hash_name):
    result = _run(
        "kdf",
        *("-keylen", str(size), "-binary"),
        *("-kdfopt", f"digest:{hash_name.upper()}"),
        *("-kdfopt", f"hexpass:{bmp_password(password).hex()}"),
        *("-kdfopt", f"hexsalt:{salt}"),
        *("-kdfopt", f"iter:{iterations}"),
        *("-kdfopt", f"id:{purpose}"),
        "PKCS12KDF",
    )
    assert result.returncode == 0, result.stderr.decode()
    ours = pkcs12_kdf(
        bmp_password(password), bytes.fromhex(salt), purpose, iterations, size, hash_name
    )
    assert ours == result.stdout


@pytest.mark.material_files()
def test_kdf_reproduces_the_mac_of_every_real_nca_store(material_file):
    data = material_file.read_bytes()
    pfx = asn1_pkcs12.Pfx.load(data)
    mac_data = pfx["mac_data"]
    salt = mac_data["mac_salt"].native
    iterations = mac_data["iterations"].native
    expected = mac_data["mac"]["digest"].native
    content = pfx["auth_safe"]["content"].native
    assert mac_data["mac"]["digest_algorithm"]["algorithm"].native == "sha1"
    assert iterations == 1024

    def mac(password: str, rounds: int) -> bytes:
        key = pkcs12_kdf(bmp_password(password), salt, 3, rounds, 20, "sha1")
        return hmac.new(key, content, hashlib.sha1).digest()

    assert mac(PASSWORD, iterations) == expected
    assert mac(PASSWORD, iterations - 1) != expected
    assert mac(PASSWORD, iterations + 1) != expected
    assert mac("qwerty12", iterations) != expected
    assert verify_mac(parse_pfx(data), PASSWORD) == "sha1"
    with pytest.raises(WrongPassword):
        verify_mac(parse_pfx(data), "qwerty12")


def _with_mac(data: bytes, **changes) -> bytes:
    pfx = asn1_pkcs12.Pfx.load(data)
    mac_data = pfx["mac_data"].native
    digest_algorithm = changes.pop("digest_algorithm", None)
    mac_data.update(changes)
    if digest_algorithm:
        mac_data["mac"]["digest_algorithm"] = {"algorithm": digest_algorithm}
    return asn1_pkcs12.Pfx(
        {"version": "v3", "auth_safe": pfx["auth_safe"], "mac_data": mac_data}
    ).dump()


@pytest.mark.parametrize("iterations", [0, 10_000_001, 2**40])
def test_absurd_mac_iteration_counts_are_refused_without_computing(material, iterations):
    data = next(material.glob("sdk2020/personal/active/RSA256_*.p12")).read_bytes()
    with pytest.raises(StoreError) as info:
        read_pkcs12(_with_mac(data, iterations=iterations), PASSWORD)
    assert info.value.code == "store_corrupt"


def test_unknown_mac_hash_is_unsupported_not_a_wrong_password(material):
    data = next(material.glob("sdk2020/personal/active/RSA256_*.p12")).read_bytes()
    with pytest.raises(StoreError) as info:
        read_pkcs12(_with_mac(data, digest_algorithm="md5"), PASSWORD)
    assert info.value.code == "store_unsupported"


# ---------------------------------------------------------------------------------------------
# Writing: the NCA profile


@pytest.fixture(scope="module")
def holder(throwaway_ca):
    cert, key = throwaway_ca.issue(kind="sign", holder="legal-head")
    return cert, key


def _write(cert, key, password: str, profile: Profile) -> bytes:
    ski = ski_bytes(cert)
    return write_pkcs12(
        pkcs8(key), der(cert), password, friendly_name=ski.hex(), local_key_id=ski, profile=profile
    )


@pytest.fixture(scope="module")
def nca_written(holder) -> bytes:
    cert, key = holder
    return _write(cert, key, NEW_PASSWORD, Profile.NCA)


@pytest.fixture(scope="module")
def modern_written(holder) -> bytes:
    cert, key = holder
    return _write(cert, key, NEW_PASSWORD, Profile.MODERN)


@pytest.mark.parametrize("profile", ["nca", "modern"])
def test_round_trip(request, holder, profile):
    data = request.getfixturevalue(f"{profile}_written")
    cert, key = holder
    contents = read_pkcs12(data, NEW_PASSWORD)
    assert contents.private_key_info == pkcs8(key)
    assert contents.certificates == (der(cert),)
    assert contents.friendly_name == ski_bytes(cert).hex()
    assert contents.local_key_id == ski_bytes(cert)
    assert "PRIVATE" not in repr(contents) and pkcs8(key).hex() not in repr(contents)
    if profile == "nca":
        assert contents.mac_algorithm == "sha1"
        assert contents.key_encryption == "pkcs12_sha1_tripledes_3key"
        assert contents.certificate_encryption == "pkcs12_sha1_rc2_40"
    else:
        assert contents.mac_algorithm == "sha256"
        assert (contents.key_encryption, contents.certificate_encryption) == ("pbes2", "pbes2")
    with pytest.raises(WrongPassword):
        read_pkcs12(data, PASSWORD)


def test_nca_profile_looks_to_openssl_exactly_like_a_real_nca_store(
    material, nca_written, tmp_path
):
    ours = tmp_path / "ours.p12"
    ours.write_bytes(nca_written)
    theirs = next(material.glob("sdk2020/personal/active/RSA256_*.p12"))
    our_lines = _info_lines(ours, NEW_PASSWORD, legacy=True)
    assert our_lines == _info_lines(theirs, PASSWORD, legacy=True)
    # DOMAIN.md §4, in OpenSSL's words.
    assert "MAC: sha1, Iteration 1024" in our_lines
    assert "Shrouded Keybag: pbeWithSHA1And3-KeyTripleDES-CBC, Iteration 1024" in our_lines
    assert "PKCS7 Encrypted data: pbeWithSHA1And40BitRC2-CBC, Iteration 1024" in our_lines


@pytest.mark.parametrize("profile", ["nca", "modern"])
def test_openssl_opens_what_we_write(request, holder, profile, tmp_path):
    cert, key = holder
    path = tmp_path / "store.p12"
    path.write_bytes(request.getfixturevalue(f"{profile}_written"))
    text = _openssl_extract(path, NEW_PASSWORD, legacy=profile == "nca")
    their_key = serialization.load_pem_private_key(text.encode(), None)
    assert their_key.private_numbers() == key.private_numbers()
    assert x509.load_pem_x509_certificate(text.encode()) == cert
    # Both bags carry the NCA's alias and key id: the SKI, as hex text and as bytes.
    ski = ski_bytes(cert)
    assert text.count(f"friendlyName: {ski.hex()}") == 2
    spaced = " ".join(f"{b:02X}" for b in ski)
    assert text.count(f"localKeyID: {spaced}") == 2


@pytest.mark.parametrize("profile", ["nca", "modern"])
def test_cryptography_opens_what_we_write(request, holder, profile):
    cert, key = holder
    loaded = crypto_pkcs12.load_pkcs12(
        request.getfixturevalue(f"{profile}_written"), NEW_PASSWORD.encode()
    )
    assert loaded.key.private_numbers() == key.private_numbers()
    assert loaded.cert.certificate == cert
    assert loaded.cert.friendly_name == ski_bytes(cert).hex().encode()
    assert loaded.additional_certs == []


def test_non_ascii_password_is_encoded_as_others_encode_it(holder):
    cert, key = holder
    password = "Құпия-Сөз1"
    data = _write(cert, key, password, Profile.NCA)
    loaded = crypto_pkcs12.load_pkcs12(data, password.encode("utf-8"))
    assert loaded.key.private_numbers() == key.private_numbers()
    assert read_pkcs12(data, password).private_key_info == pkcs8(key)


def test_each_store_gets_its_own_salts(holder, nca_written):
    cert, key = holder
    again = _write(cert, key, NEW_PASSWORD, Profile.NCA)
    assert again != nca_written
    first, second = asn1_pkcs12.Pfx.load(nca_written), asn1_pkcs12.Pfx.load(again)
    assert first["mac_data"]["mac_salt"].native != second["mac_data"]["mac_salt"].native


@pytest.mark.material_files()
def test_real_store_contents_rewritten_with_a_new_password(material_file):
    # Every key of the material, GOST ones included, survives a rewrite byte for byte.
    old = read_pkcs12(material_file.read_bytes(), PASSWORD)
    data = write_pkcs12(
        old.private_key_info,
        old.certificates[0],
        NEW_PASSWORD,
        friendly_name=old.friendly_name,
        local_key_id=old.local_key_id,
    )
    new = read_pkcs12(data, NEW_PASSWORD)
    assert new.private_key_info == old.private_key_info
    assert new.certificates == old.certificates[:1]
    assert (new.friendly_name, new.local_key_id) == (old.friendly_name, old.local_key_id)
    assert (new.mac_algorithm, new.key_encryption, new.certificate_encryption) == (
        old.mac_algorithm,
        old.key_encryption,
        old.certificate_encryption,
    )
    with pytest.raises(WrongPassword):
        read_pkcs12(data, PASSWORD)


# ---------------------------------------------------------------------------------------------
# Writing: the modern profile


def _pbes2_bags(data: bytes) -> list[algos.EncryptionAlgorithm]:
    pfx = asn1_pkcs12.Pfx.load(data)
    found = []
    for info in pfx.authenticated_safe:
        if info["content_type"].native == "encrypted_data":
            enc = info["content"]["encrypted_content_info"]
            found.append(enc["content_encryption_algorithm"])
        else:
            for bag in asn1_pkcs12.SafeContents.load(info["content"].native):
                if bag["bag_id"].native == "pkcs8_shrouded_key_bag":
                    found.append(bag["bag_value"]["encryption_algorithm"])
    return found


def test_modern_profile_parameters(modern_written):
    bags = _pbes2_bags(modern_written)
    assert len(bags) == 2  # the key bag and the certificate bag
    for algorithm in bags:
        assert algorithm["algorithm"].native == "pbes2"
        assert algorithm.kdf == "pbkdf2"
        assert algorithm.kdf_hmac == "sha256"
        assert algorithm.kdf_iterations >= 600_000
        assert algorithm.encryption_cipher == "aes"
        assert algorithm.encryption_mode == "cbc"
        assert algorithm.key_length == 32
    mac = asn1_pkcs12.Pfx.load(modern_written)["mac_data"]
    assert mac["mac"]["digest_algorithm"]["algorithm"].native == "sha256"


def test_modern_profile_as_openssl_describes_it(modern_written, tmp_path):
    path = tmp_path / "modern.p12"
    path.write_bytes(modern_written)
    lines = _info_lines(path, NEW_PASSWORD, legacy=False)
    assert any(line.startswith("MAC: sha256") for line in lines), lines
    bags = [line for line in lines if line.startswith(("Shrouded Keybag", "PKCS7 Encrypted data"))]
    assert len(bags) == 2, lines
    for line in bags:
        assert "PBES2, PBKDF2, AES-256-CBC" in line and "PRF hmacWithSHA256" in line, line
        assert int(re.search(r"Iteration (\d+)", line).group(1)) >= 600_000, line


# ---------------------------------------------------------------------------------------------
# Reading what OpenSSL writes


@pytest.fixture(scope="module")
def pem_files(holder, tmp_path_factory):
    cert, key = holder
    folder = tmp_path_factory.mktemp("openssl")
    key_pem = folder / "key.pem"
    cert_pem = folder / "cert.pem"
    key_pem.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    cert_pem.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return folder, key_pem, cert_pem


@pytest.mark.parametrize(
    "options",
    [
        pytest.param([], id="openssl3-default"),
        pytest.param(["-legacy"], id="legacy"),
        pytest.param(["-keypbe", "PBE-SHA1-3DES", "-certpbe", "PBE-SHA1-3DES"], id="3des"),
    ],
)
def test_we_open_what_openssl_writes(holder, pem_files, options):
    cert, key = holder
    folder, key_pem, cert_pem = pem_files
    out = folder / "export.p12"
    password = "Пароль-1"
    result = _run(
        *("pkcs12", "-export", "-in", str(cert_pem), "-inkey", str(key_pem)),
        *("-name", "alias", "-passout", f"pass:{password}", "-out", str(out), *options),
    )
    assert result.returncode == 0, result.stderr.decode()
    contents = read_pkcs12(out.read_bytes(), password)
    assert contents.private_key_info == pkcs8(key)
    assert contents.certificates == (der(cert),)
    assert contents.friendly_name == "alias"
    with pytest.raises(WrongPassword):
        read_pkcs12(out.read_bytes(), "Пароль-2")


@pytest.mark.parametrize(
    "what, code",
    [("-nokeys", "store_no_key"), ("-nocerts", "store_no_certificate")],
)
def test_openssl_store_with_only_half_is_refused(pem_files, what, code):
    folder, key_pem, cert_pem = pem_files
    out = folder / f"half{what}.p12"
    inputs = ["-in", str(cert_pem)] if what == "-nokeys" else ["-inkey", str(key_pem)]
    result = _run("pkcs12", "-export", what, *inputs, "-passout", "pass:x", "-out", str(out))
    assert result.returncode == 0, result.stderr.decode()
    with pytest.raises(StoreError) as info:
        read_pkcs12(out.read_bytes(), "x")
    assert info.value.code == code
