"""PKCS#12 key stores as the NCA writes them: read (BER, MAC check, 3DES / RC2-40 / PBES2 bags) and
write (the NCA's own layout by default, or an opt-in modern profile).

Written here over asn1crypto because no library does all of it: `cryptography` cannot tell a wrong
password from an unsupported store, refuses RC2-40 and cannot hold GOST keys, and it sets the
localKeyID to the certificate's hash where the NCA puts the subject key identifier.

The password decides nothing until the MAC has been checked: a MAC that does not verify is the one
and only "wrong password".
"""

from __future__ import annotations

import hashlib
import hmac
import os
from dataclasses import dataclass, field
from enum import StrEnum

from asn1crypto import algos, cms, core, pkcs12
from asn1crypto import keys as asn1_keys
from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from wizard.errors import StoreError, WrongPassword
from wizard.keys.asn1 import RawPrivateKeyInfo

try:  # cryptography >= 43 keeps TripleDES among the "decrepit" algorithms
    from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES
except ImportError:  # pragma: no cover - older cryptography
    from cryptography.hazmat.primitives.ciphers.algorithms import TripleDES  # type: ignore

ASN1_ERRORS = (ValueError, TypeError, KeyError, IndexError, OverflowError, AttributeError)

NCA_ITERATIONS = 1024
MODERN_PBKDF2_ITERATIONS = 600_000
MODERN_MAC_ITERATIONS = 2048
# A pending new key lives hours or days until its certificate arrives, then goes into a store in
# the NCA layout (1024 rounds of SHA-1); 25 000 rounds of PBKDF2-SHA256 is already far stronger.
PENDING_PBKDF2_ITERATIONS = 25_000

_HASHES = {"sha1": hashlib.sha1, "sha256": hashlib.sha256, "sha512": hashlib.sha512}
_BLOCK_BYTES = {"sha1": 64, "sha256": 64, "sha512": 128}


class Profile(StrEnum):
    """How a new store is encrypted."""

    NCA = "nca"  # the NCA's layout: SHA-1 MAC, 3DES key bag, RC2-40 certificate bag, 1024 rounds
    MODERN = "modern"  # AES-256-CBC, PBKDF2-HMAC-SHA256 600 000 rounds, SHA-256 MAC


@dataclass(frozen=True)
class StoreContents:
    """What a key store holds, decrypted. The private key never appears in a repr."""

    private_key_info: bytes = field(repr=False)  # PKCS#8 PrivateKeyInfo, DER
    certificates: tuple[bytes, ...]  # DER; the end-entity certificate first
    friendly_name: str | None
    local_key_id: bytes | None
    mac_algorithm: str
    key_encryption: str
    certificate_encryption: str | None


def bmp_password(password: str) -> bytes:
    """The password as PKCS#12 wants it: UTF-16BE with a two-byte terminator (RFC 7292 B.1)."""
    return password.encode("utf-16-be") + b"\x00\x00"


def pkcs12_kdf(
    password: bytes, salt: bytes, purpose: int, iterations: int, size: int, hash_name: str
) -> bytes:
    """RFC 7292 appendix B.2 key derivation (purpose 1: key, 2: IV, 3: MAC key)."""
    new = _HASHES[hash_name]
    u = new().digest_size
    v = _BLOCK_BYTES[hash_name]
    d = bytes([purpose]) * v

    def stretch(data: bytes) -> bytes:
        if not data:
            return b""
        length = v * -(-len(data) // v)
        return (data * (length // len(data) + 1))[:length]

    block = bytearray(stretch(salt) + stretch(password))
    out = b""
    while len(out) < size:
        a = new(d + bytes(block)).digest()
        for _ in range(iterations - 1):  # the hot loop of every store operation: keep it bare
            a = new(a).digest()
        out += a
        b = int.from_bytes((a * (v // u + 1))[:v], "big") + 1
        for j in range(0, len(block), v):
            chunk = (int.from_bytes(block[j : j + v], "big") + b) % (1 << (8 * v))
            block[j : j + v] = chunk.to_bytes(v, "big")
    return out[:size]


# ---------------------------------------------------------------------------------------------
# Reading


def parse_pfx(data: bytes) -> pkcs12.Pfx:
    """Parse the outer structure; a file that is not PKCS#12 or is cut short raises StoreError."""
    if not data:
        raise StoreError("store_empty")
    if data.lstrip().startswith(b"-----BEGIN CERTIFICATE"):
        raise StoreError("store_is_certificate")
    if data[0] != 0x30:
        raise StoreError("store_not_pkcs12")
    try:
        pfx = pkcs12.Pfx.load(data)
        version = pfx["version"].native
        content_type = pfx["auth_safe"]["content_type"].native
        mac_data = pfx["mac_data"]
        _ = pfx["auth_safe"]["content"].native
    except ASN1_ERRORS as exc:
        raise StoreError(_what_else(data)) from exc
    if version != "v3" or content_type not in ("data", "signed_data"):
        raise StoreError("store_not_pkcs12")
    if content_type != "data":
        raise StoreError("store_unsupported")  # public-key integrity mode: never written by the NCA
    if not isinstance(mac_data, pkcs12.MacData):
        # Without a MAC nothing can tell a wrong password from damage; the NCA always writes one.
        raise StoreError("store_without_mac")
    return pfx


def _what_else(data: bytes) -> str:
    """Name the likely mistake behind a file that does not parse as PKCS#12."""
    from cryptography import x509

    try:  # cryptography parses certificates of any key algorithm (GOST ones too)
        x509.load_der_x509_certificate(data)
        return "store_is_certificate"
    except ValueError:
        pass
    try:
        core.Asn1Value.load(data, strict=True)
    except ASN1_ERRORS:
        return "store_corrupt"  # truncated or damaged
    return "store_not_pkcs12"


def verify_mac(pfx: pkcs12.Pfx, password: str) -> str:
    """Check the store's MAC; raise WrongPassword when it does not verify. Returns the MAC hash."""
    mac_data = pfx["mac_data"]
    try:
        hash_name = mac_data["mac"]["digest_algorithm"]["algorithm"].native
        expected = mac_data["mac"]["digest"].native
        salt = mac_data["mac_salt"].native
        iterations = mac_data["iterations"].native
        content = pfx["auth_safe"]["content"].native
    except ASN1_ERRORS as exc:
        raise StoreError("store_corrupt") from exc
    if hash_name not in _HASHES:
        raise StoreError("store_unsupported")
    if not (1 <= iterations <= 10_000_000):
        raise StoreError("store_corrupt")
    new = _HASHES[hash_name]
    key = pkcs12_kdf(bmp_password(password), salt, 3, iterations, new().digest_size, hash_name)
    actual = hmac.new(key, content, new).digest()
    if not hmac.compare_digest(actual, expected):
        raise WrongPassword()
    return hash_name


def _decrypt(algorithm: algos.EncryptionAlgorithm, ciphertext: bytes, password: str) -> bytes:
    """Decrypt one bag; the MAC has already proved the password, so a failure is damage."""
    name = algorithm["algorithm"].native
    try:
        if name == "pbes2":
            return _pbes2_decrypt(algorithm, ciphertext, password)
        params = algorithm["parameters"]
        salt, iterations = params["salt"].native, params["iterations"].native
        if not (1 <= iterations <= 10_000_000):
            raise StoreError("store_corrupt")
        pw = bmp_password(password)
        if name == "pkcs12_sha1_tripledes_3key":
            key = pkcs12_kdf(pw, salt, 1, iterations, 24, "sha1")
            iv = pkcs12_kdf(pw, salt, 2, iterations, 8, "sha1")
            return _cbc_decrypt(TripleDES(key), iv, ciphertext, 64)
        if name in ("pkcs12_sha1_rc2_40", "pkcs12_sha1_rc2_128"):
            from wizard.keys.rc2 import rc2_cbc_decrypt

            bits = 40 if name.endswith("_40") else 128
            key = pkcs12_kdf(pw, salt, 1, iterations, bits // 8, "sha1")
            iv = pkcs12_kdf(pw, salt, 2, iterations, 8, "sha1")
            return rc2_cbc_decrypt(key, iv, ciphertext, bits)
    except StoreError:
        raise
    except ASN1_ERRORS as exc:
        raise StoreError("store_corrupt") from exc
    raise StoreError("store_unsupported")


def _pbes2_decrypt(algorithm: algos.EncryptionAlgorithm, ciphertext: bytes, password: str) -> bytes:
    if algorithm.kdf != "pbkdf2" or algorithm.encryption_cipher != "aes":
        raise StoreError("store_unsupported")
    iterations = algorithm.kdf_iterations
    if not (1 <= iterations <= 10_000_000):
        raise StoreError("store_corrupt")
    key = hashlib.pbkdf2_hmac(
        algorithm.kdf_hmac,
        password.encode("utf-8"),
        algorithm.kdf_salt,
        iterations,
        algorithm.key_length,
    )
    return _cbc_decrypt(algorithms.AES(key), algorithm.encryption_iv, ciphertext, 128)


def _cbc_decrypt(cipher_algorithm, iv: bytes, ciphertext: bytes, block_bits: int) -> bytes:
    decryptor = Cipher(cipher_algorithm, modes.CBC(iv)).decryptor()
    padded = decryptor.update(ciphertext) + decryptor.finalize()
    unpadder = padding.PKCS7(block_bits).unpadder()
    return unpadder.update(padded) + unpadder.finalize()


def _cbc_encrypt(cipher_algorithm, iv: bytes, plaintext: bytes, block_bits: int) -> bytes:
    padder = padding.PKCS7(block_bits).padder()
    padded = padder.update(plaintext) + padder.finalize()
    encryptor = Cipher(cipher_algorithm, modes.CBC(iv)).encryptor()
    return encryptor.update(padded) + encryptor.finalize()


def read_pkcs12(data: bytes, password: str) -> StoreContents:
    """Open a PKCS#12 store: MAC first (WrongPassword), then the bags (StoreError on damage)."""
    pfx = parse_pfx(data)
    try:
        mac_algorithm = verify_mac(pfx, password)
    except WrongPassword:
        # The MAC decides; but if the password provably decrypts the key, the file is damaged.
        if _password_opens_key(pfx, password):
            raise StoreError("store_corrupt") from None
        raise
    keys: list[tuple[bytes, str, dict]] = []
    certs: list[tuple[bytes, dict]] = []
    cert_encryption: str | None = None
    try:
        for info in pfx.authenticated_safe:
            kind = info["content_type"].native
            if kind == "data":
                safe = pkcs12.SafeContents.load(info["content"].native)
            elif kind == "encrypted_data":
                enc = info["content"]["encrypted_content_info"]
                algorithm = enc["content_encryption_algorithm"]
                cert_encryption = algorithm["algorithm"].native
                plain = _decrypt(algorithm, enc["encrypted_content"].native, password)
                safe = pkcs12.SafeContents.load(plain)
            else:
                raise StoreError("store_unsupported")
            _collect(safe, password, keys, certs)
    except StoreError:
        raise
    except ASN1_ERRORS as exc:
        raise StoreError("store_corrupt") from exc
    if len(keys) != 1:
        raise StoreError("store_no_key" if not keys else "store_many_keys")
    key_info, key_encryption, key_attrs = keys[0]
    if not certs:
        raise StoreError("store_no_certificate")
    local_key_id = key_attrs.get("local_key_id")
    # The end-entity certificate is the one sharing the key's localKeyID; otherwise the first.
    certs.sort(key=lambda c: 0 if local_key_id and c[1].get("local_key_id") == local_key_id else 1)
    return StoreContents(
        private_key_info=key_info,
        certificates=tuple(der for der, _ in certs),
        friendly_name=key_attrs.get("friendly_name") or certs[0][1].get("friendly_name"),
        local_key_id=local_key_id,
        mac_algorithm=mac_algorithm,
        key_encryption=key_encryption,
        certificate_encryption=cert_encryption,
    )


def _password_opens_key(pfx: pkcs12.Pfx, password: str) -> bool:
    """True when the password decrypts a key bag into a well-formed PKCS#8 key: proof that the
    password is right even though the MAC failed (a damaged file, not a wrong password)."""
    try:
        for info in pfx.authenticated_safe:
            if info["content_type"].native != "data":
                continue
            for bag in pkcs12.SafeContents.load(info["content"].native):
                if bag["bag_id"].native != "pkcs8_shrouded_key_bag":
                    continue
                value = bag["bag_value"]
                plain = _decrypt(
                    value["encryption_algorithm"], value["encrypted_data"].native, password
                )
                RawPrivateKeyInfo.load(plain, strict=True).native  # noqa: B018 - parse it whole
                return True
    except (StoreError, *ASN1_ERRORS):
        return False
    return False


def _attributes(bag: pkcs12.SafeBag) -> dict:
    found: dict = {}
    for attribute in bag["bag_attributes"]:
        name = attribute["type"].native
        values = attribute["values"]
        if name in ("local_key_id", "friendly_name") and len(values):
            found[name] = values[0].native
    return found


def _collect(safe: pkcs12.SafeContents, password: str, keys: list, certs: list) -> None:
    for bag in safe:
        bag_id = bag["bag_id"].native
        value = bag["bag_value"]
        if bag_id == "pkcs8_shrouded_key_bag":
            algorithm = value["encryption_algorithm"]
            plain = _decrypt(algorithm, value["encrypted_data"].native, password)
            keys.append((plain, algorithm["algorithm"].native, _attributes(bag)))
        elif bag_id == "key_bag":
            keys.append((value.dump(), "none", _attributes(bag)))
        elif bag_id == "cert_bag":
            if value["cert_id"].native == "x509":
                certs.append((bytes(value["cert_value"].contents), _attributes(bag)))
        elif bag_id == "safe_contents":
            _collect(value, password, keys, certs)


# ---------------------------------------------------------------------------------------------
# Writing


def private_key_algorithm(private_key_info: bytes) -> str:
    """The dotted OID of a PKCS#8 key's algorithm."""
    try:
        return RawPrivateKeyInfo.load(private_key_info)["private_key_algorithm"]["algorithm"].dotted
    except ASN1_ERRORS as exc:
        raise StoreError("store_corrupt") from exc


def _bag_attributes(friendly_name: str, local_key_id: bytes) -> pkcs12.Attributes:
    return pkcs12.Attributes(
        [
            {"type": "local_key_id", "values": [core.OctetString(local_key_id)]},
            {"type": "friendly_name", "values": [core.BMPString(friendly_name)]},
        ]
    )


def _encryption(
    profile: Profile,
    password: str,
    plaintext: bytes,
    for_key: bool,
    iterations: int = MODERN_PBKDF2_ITERATIONS,
):
    """Encrypt one bag's content; returns (EncryptionAlgorithm, ciphertext)."""
    salt = os.urandom(20) if profile is Profile.NCA else os.urandom(16)
    if profile is Profile.MODERN:
        iv = os.urandom(16)
        key = hashlib.pbkdf2_hmac("sha256", password.encode("utf-8"), salt, iterations, 32)
        algorithm = algos.EncryptionAlgorithm(
            {
                "algorithm": "pbes2",
                "parameters": {
                    "key_derivation_func": {
                        "algorithm": "pbkdf2",
                        "parameters": {
                            "salt": algos.Pbkdf2Salt(name="specified", value=salt),
                            "iteration_count": iterations,
                            "prf": {"algorithm": "sha256"},
                        },
                    },
                    "encryption_scheme": {"algorithm": "aes256_cbc", "parameters": iv},
                },
            }
        )
        return algorithm, _cbc_encrypt(algorithms.AES(key), iv, plaintext, 128)
    pw = bmp_password(password)
    params = {"salt": salt, "iterations": NCA_ITERATIONS}
    if for_key:
        key = pkcs12_kdf(pw, salt, 1, NCA_ITERATIONS, 24, "sha1")
        iv = pkcs12_kdf(pw, salt, 2, NCA_ITERATIONS, 8, "sha1")
        algorithm = algos.EncryptionAlgorithm(
            {"algorithm": "pkcs12_sha1_tripledes_3key", "parameters": params}
        )
        return algorithm, _cbc_encrypt(TripleDES(key), iv, plaintext, 64)
    from wizard.keys.rc2 import rc2_cbc_encrypt

    key = pkcs12_kdf(pw, salt, 1, NCA_ITERATIONS, 5, "sha1")
    iv = pkcs12_kdf(pw, salt, 2, NCA_ITERATIONS, 8, "sha1")
    algorithm = algos.EncryptionAlgorithm({"algorithm": "pkcs12_sha1_rc2_40", "parameters": params})
    return algorithm, rc2_cbc_encrypt(key, iv, plaintext, 40)


def write_pkcs12(
    private_key_info: bytes,
    certificate: bytes,
    password: str,
    *,
    friendly_name: str,
    local_key_id: bytes,
    profile: Profile = Profile.NCA,
) -> bytes:
    """A store holding one key and its end-entity certificate, as the NCA lays it out by default:
    a plain SafeContents with the shrouded key, then an encrypted SafeContents with the certificate,
    both bags named by friendlyName and localKeyID, and a MAC over the lot."""
    attributes = _bag_attributes(friendly_name, local_key_id)
    key_algorithm, key_ciphertext = _encryption(profile, password, private_key_info, True)
    key_bag = pkcs12.SafeBag(
        {
            "bag_id": "pkcs8_shrouded_key_bag",
            "bag_value": asn1_keys.EncryptedPrivateKeyInfo(
                {"encryption_algorithm": key_algorithm, "encrypted_data": key_ciphertext}
            ),
            "bag_attributes": attributes,
        }
    )
    cert_bag = pkcs12.SafeBag(
        {
            "bag_id": "cert_bag",
            "bag_value": pkcs12.CertBag(
                {"cert_id": "x509", "cert_value": core.ParsableOctetString(certificate)}
            ),
            "bag_attributes": attributes,
        }
    )
    cert_algorithm, cert_ciphertext = _encryption(
        profile, password, pkcs12.SafeContents([cert_bag]).dump(), False
    )
    authenticated_safe = pkcs12.AuthenticatedSafe(
        [
            cms.ContentInfo(
                {"content_type": "data", "content": pkcs12.SafeContents([key_bag]).dump()}
            ),
            cms.ContentInfo(
                {
                    "content_type": "encrypted_data",
                    "content": cms.EncryptedData(
                        {
                            "version": "v0",
                            "encrypted_content_info": {
                                "content_type": "data",
                                "content_encryption_algorithm": cert_algorithm,
                                "encrypted_content": cert_ciphertext,
                            },
                        }
                    ),
                }
            ),
        ]
    ).dump()
    hash_name = "sha1" if profile is Profile.NCA else "sha256"
    iterations = NCA_ITERATIONS if profile is Profile.NCA else MODERN_MAC_ITERATIONS
    mac_salt = os.urandom(20 if profile is Profile.NCA else 32)
    new = _HASHES[hash_name]
    mac_key = pkcs12_kdf(
        bmp_password(password), mac_salt, 3, iterations, new().digest_size, hash_name
    )
    pfx = pkcs12.Pfx(
        {
            "version": "v3",
            "auth_safe": {"content_type": "data", "content": authenticated_safe},
            "mac_data": {
                "mac": {
                    "digest_algorithm": {"algorithm": hash_name},
                    "digest": hmac.new(mac_key, authenticated_safe, new).digest(),
                },
                "mac_salt": mac_salt,
                "iterations": iterations,
            },
        }
    )
    return pfx.dump()


def encrypt_private_key(
    private_key_info: bytes, password: str, *, iterations: int = PENDING_PBKDF2_ITERATIONS
) -> bytes:
    """PKCS#8 EncryptedPrivateKeyInfo (PBES2: PBKDF2-HMAC-SHA256, AES-256-CBC), DER."""
    algorithm, ciphertext = _encryption(
        Profile.MODERN, password, private_key_info, True, iterations=iterations
    )
    return asn1_keys.EncryptedPrivateKeyInfo(
        {"encryption_algorithm": algorithm, "encrypted_data": ciphertext}
    ).dump()


def decrypt_private_key(data: bytes, password: str) -> bytes:
    """The PKCS#8 PrivateKeyInfo inside; ValueError when it does not decrypt (callers decide
    "wrong password" by comparing the key with the public key they recorded)."""
    try:
        info = asn1_keys.EncryptedPrivateKeyInfo.load(data, strict=True)
        plain = _decrypt(info["encryption_algorithm"], info["encrypted_data"].native, password)
        RawPrivateKeyInfo.load(plain, strict=True).native  # noqa: B018 - must parse whole
    except (StoreError, *ASN1_ERRORS) as exc:
        raise ValueError("private key does not decrypt") from exc
    return plain
