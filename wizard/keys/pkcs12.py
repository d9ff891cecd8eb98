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

from wizard.errors import PasswordUndecodable, StoreError, WrongPassword
from wizard.keys.asn1 import PARSE_ERRORS, RawPrivateKeyInfo

try:  # cryptography >= 43 keeps TripleDES among the "decrepit" algorithms
    from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES
except ImportError:  # pragma: no cover - older cryptography
    from cryptography.hazmat.primitives.ciphers.algorithms import TripleDES  # type: ignore

# RecursionError among them: nesting deeper than check_ber lets through can only come from a
# bug, but it must still read as damage.
ASN1_ERRORS = PARSE_ERRORS

NCA_ITERATIONS = 1024
MODERN_PBKDF2_ITERATIONS = 600_000
MODERN_MAC_ITERATIONS = 2048
# A pending new key lives hours or days until its certificate arrives, then goes into a store in
# the NCA layout (1024 rounds of SHA-1); 25 000 rounds of PBKDF2-SHA256 is already far stronger.
PENDING_PBKDF2_ITERATIONS = 25_000

# Iteration counts a store may ask for, refused above these before any key derivation runs (a
# hostile file could otherwise ask for 2**62 rounds). The PKCS#12 KDF (the MAC, the 3DES and RC2
# bags) runs in pure Python here, about 0.3 ms per 1024 rounds and output block: the NCA uses
# 1024, OpenSSL 2048, our modern MAC 2048; at 100 000 a whole store is still under 0.2 s.
MAX_KDF_ITERATIONS = 100_000
# PBKDF2 (PBES2 bags) runs in C: our modern profile writes 600 000 rounds (OWASP 2023); a million
# rounds of SHA-256 take about 0.2 s.
MAX_PBKDF2_ITERATIONS = 1_000_000
# Beyond ten million no tool writes: such a count is damage (store_corrupt), not a parameter.
ABSURD_ITERATIONS = 10_000_000
# And all the derivations of one store together (a hostile file may hold many encrypted bags, each
# within the bounds above), counted in units of about 0.2 us: a round of the PKCS#12 KDF is 1.5 (a
# Python loop), an iteration of PBKDF2 per output block 1 with SHA-256, 2 with SHA-1, 2.5 with
# SHA-384/512 (C); and decrypting RC2 (pure Python too) costs 10 a byte. An NCA store costs about
# 22 000, our modern profile 1.2 million; 4 million is 0.8 s.
MAX_DERIVATION_COST = 4_000_000
_KDF_ROUND_COST = 1.5
_RC2_BYTE_COST = 10
_PBKDF2_COST = {"sha1": 2, "sha224": 1, "sha256": 1, "sha384": 2.5, "sha512": 2.5}
_DIGEST_BYTES = {"sha1": 20, "sha224": 28, "sha256": 32, "sha384": 48, "sha512": 64}
# The PKCS#12 password-based encryptions read (RFC 7292 appendix C), and their key sizes.
_PKCS12_PBE_KEY_BYTES = {
    "pkcs12_sha1_tripledes_3key": 24,
    "pkcs12_sha1_rc2_40": 5,
    "pkcs12_sha1_rc2_128": 16,
}
# asn1crypto parses nested values recursively (an indefinite length even while it only looks for
# the value's end), so nesting is bounded on the raw bytes before it parses anything: in the NCA's
# stores constructed values nest 7 deep at most (their certificates 5); 32 leaves room for any
# honest file and keeps asn1crypto far from Python's recursion limit.
MAX_BER_DEPTH = 32
# And the number of TLVs in one buffer (asn1crypto spends tens of microseconds on each): an NCA
# store's largest holds about 60, a certificate 150.
MAX_BER_ELEMENTS = 10_000

_PBKDF2_PRFS = ("sha1", "sha224", "sha256", "sha384", "sha512")
_AES_CBC_KEY_BYTES = {"aes128_cbc": 16, "aes192_cbc": 24, "aes256_cbc": 32}

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
    """The password as PKCS#12 wants it: UTF-16BE with a two-byte terminator (RFC 7292 B.1).

    PasswordUndecodable when it is not text: a lone surrogate is what os.environ and sys.stdin
    make of bytes that are not UTF-8 (surrogateescape), and UTF-16 cannot carry one."""
    return _encoded(password, "utf-16-be") + b"\x00\x00"


def utf8_password(password: str) -> bytes:
    """The password as PBKDF2 (PBES2) takes it: UTF-8; PasswordUndecodable when it is not text."""
    return _encoded(password, "utf-8")


def _encoded(password: str, codec: str) -> bytes:
    try:
        return password.encode(codec)
    except UnicodeEncodeError:
        pass
    # Raised outside the handler: the UnicodeEncodeError holds the password, so it must not even
    # be the new error's __context__ (a crash report could walk to it).
    raise PasswordUndecodable()


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
#
# Order of the checks, so that a hostile or damaged file costs milliseconds and never reads as a
# wrong password: (1) the raw bytes are walked as BER (lengths, nesting) before asn1crypto parses
# anything; (2) the whole structure outside the ciphertexts is parsed, the MAC-covered
# AuthenticatedSafe included, and every iteration count is bounded: damage there is StoreError
# whatever the password; (3) only then the MAC, the one honest wrong-password test; (4) then the
# bags, where any failure is damage, the MAC having proved the password.


def check_ber(data: bytes, *, trailing: bool = False, what: str = "store_corrupt") -> int:
    """Walk one BER value's TLVs without building anything; StoreError(``what``) when a length
    runs past its container, an indefinite length is primitive or unterminated, a tag or length
    field is absurd, or the value nests or counts beyond MAX_BER_DEPTH / MAX_BER_ELEMENTS. Returns
    the end offset; bytes after the value are damage unless ``trailing``."""
    size = len(data)
    pos = 0
    elements = 0
    # One entry per open constructed value: (its end offset or None when indefinite, the offset
    # nothing inside it may pass).
    stack: list[tuple[int | None, int]] = []
    while True:
        if stack:
            end, bound = stack[-1]
            if end is None and data[pos : pos + 2] == b"\x00\x00" and pos + 2 <= bound:
                stack.pop()  # end-of-contents of an indefinite length
                pos += 2
                if not stack:
                    break
                continue
            if end == pos:
                stack.pop()
                if not stack:
                    break
                continue
            limit = bound
        elif elements:
            break
        else:
            limit = size
        elements += 1
        if elements > MAX_BER_ELEMENTS or pos >= limit:
            raise StoreError(what)
        first = data[pos]
        pos += 1
        if first & 0x1F == 0x1F:  # high tag number form: at most 4 more octets
            for count in range(5):
                if count == 4 or pos >= limit:
                    raise StoreError(what)
                pos += 1
                if not data[pos - 1] & 0x80:
                    break
        if pos >= limit:
            raise StoreError(what)
        length_octet = data[pos]
        pos += 1
        constructed = bool(first & 0x20)
        if length_octet == 0x80:
            if not constructed or len(stack) >= MAX_BER_DEPTH:
                raise StoreError(what)
            stack.append((None, limit))
            continue
        if length_octet < 0x80:
            length = length_octet
        else:
            count = length_octet & 0x7F
            if count > 4 or count > limit - pos:  # over 4 GiB: no store is that long
                raise StoreError(what)
            length = int.from_bytes(data[pos : pos + count], "big")
            pos += count
        if length > limit - pos:
            raise StoreError(what)
        if constructed and length:
            if len(stack) >= MAX_BER_DEPTH:
                raise StoreError(what)
            stack.append((pos + length, pos + length))
        else:
            pos += length
            if not stack:
                break
    if not trailing and pos != size:
        raise StoreError(what)
    return pos


def _load(spec, data: bytes, what: str = "store_corrupt"):
    """``spec.load(data, strict=True)`` once the bytes passed check_ber."""
    check_ber(data, what=what)
    return spec.load(data, strict=True)


def _iterations(value, bound: int) -> int:
    """An iteration count from the file, refused above ``bound`` before any derivation runs."""
    if not isinstance(value, int) or not 1 <= value <= ABSURD_ITERATIONS:
        raise StoreError("store_corrupt")
    if value > bound:
        raise StoreError("store_unsupported_iterations", iterations=value, limit=bound)
    return value


@dataclass(frozen=True)
class _Pbe:
    """One bag's password-based encryption, checked: what _decrypt needs and nothing more."""

    name: str  # asn1crypto's name of the algorithm
    salt: bytes
    iterations: int
    hmac: str = ""  # PBES2: PBKDF2's PRF
    key_length: int = 0  # PBES2: the AES key, bytes
    iv: bytes = b""  # PBES2

    def cost(self, ciphertext: bytes) -> int:
        """What deriving its key and IV and decrypting ``ciphertext`` cost (the units of
        MAX_DERIVATION_COST)."""
        if self.name == "pbes2":
            blocks = -(-self.key_length // _DIGEST_BYTES[self.hmac])
            return int(self.iterations * blocks * _PBKDF2_COST[self.hmac])
        key_blocks = -(-_PKCS12_PBE_KEY_BYTES[self.name] // 20)
        derivation = self.iterations * (key_blocks + 1) * _KDF_ROUND_COST  # the key, then the IV
        if self.name.startswith("pkcs12_sha1_rc2"):
            derivation += len(ciphertext) * _RC2_BYTE_COST
        return int(derivation)


class _Budget:
    """The derivation work a store has asked for so far; StoreError once over the bound."""

    def __init__(self) -> None:
        self.spent = 0

    def charge(self, cost: int) -> None:
        self.spent += cost
        if self.spent > MAX_DERIVATION_COST:
            raise StoreError("store_too_much_work")


def _pbe(algorithm: algos.EncryptionAlgorithm) -> _Pbe:
    """Check a bag's encryption parameters (iterations bounded) without the password."""
    try:
        name = algorithm["algorithm"].native
        if name == "pbes2":
            params = algorithm["parameters"]
            kdf = params["key_derivation_func"]
            scheme = params["encryption_scheme"]
            if kdf["algorithm"].native != "pbkdf2":
                raise StoreError("store_unsupported")
            kdf_params = kdf["parameters"]
            if kdf_params["salt"].name != "specified":
                raise StoreError("store_unsupported")
            salt = kdf_params["salt"].chosen.native
            iterations = _iterations(kdf_params["iteration_count"].native, MAX_PBKDF2_ITERATIONS)
            prf = kdf_params["prf"]["algorithm"].native
            cipher = scheme["algorithm"].native
            if prf not in _PBKDF2_PRFS or cipher not in _AES_CBC_KEY_BYTES:
                raise StoreError("store_unsupported")
            key_length = _AES_CBC_KEY_BYTES[cipher]
            stated = kdf_params["key_length"].native
            if stated is not None and stated != key_length:
                raise StoreError("store_corrupt")  # an AES-256 key is 32 bytes, nothing else
            iv = scheme["parameters"].native
            if not isinstance(iv, bytes) or len(iv) != 16 or not isinstance(salt, bytes):
                raise StoreError("store_corrupt")
            return _Pbe(name, salt, iterations, prf, key_length, iv)
        if name in _PKCS12_PBE_KEY_BYTES:
            params = algorithm["parameters"]
            salt = params["salt"].native
            if not isinstance(salt, bytes):
                raise StoreError("store_corrupt")
            return _Pbe(name, salt, _iterations(params["iterations"].native, MAX_KDF_ITERATIONS))
    except StoreError:
        raise
    except ASN1_ERRORS as exc:
        raise StoreError("store_corrupt") from exc
    raise StoreError("store_unsupported")


def parse_pfx(data: bytes) -> pkcs12.Pfx:
    """Parse and check everything the password does not protect: the outer structure, the MAC's
    parameters, and the MAC-covered AuthenticatedSafe down to its ciphertexts. A file that is not
    PKCS#12, is cut short, damaged there, or asks for absurd work raises StoreError."""
    return _parse(data)[0]


def _parse(data: bytes) -> tuple[pkcs12.Pfx, _Budget]:
    if not data:
        raise StoreError("store_empty")
    if data.lstrip().startswith(b"-----BEGIN CERTIFICATE"):
        raise StoreError("store_is_certificate")
    if data[0] != 0x30:
        raise StoreError("store_not_pkcs12")
    # Bytes after the PFX are outside it and outside the MAC: harmless, and ignored.
    check_ber(data, trailing=True)
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
    try:
        _parse_whole(pfx)  # the MAC's fields, the content's type and bytes, nothing stray
    except StoreError:
        raise
    except ASN1_ERRORS as exc:
        raise StoreError("store_corrupt") from exc
    budget = _Budget()
    budget.charge(int(_mac_parameters(pfx)[3] * _KDF_ROUND_COST))
    _check_authenticated_safe(pfx, budget)
    return pfx, budget


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


def _mac_parameters(pfx: pkcs12.Pfx) -> tuple[str, bytes, bytes, int, bytes]:
    """(hash, expected MAC, salt, iterations, the MAC-covered content), checked."""
    try:
        mac_data = pfx["mac_data"]
        hash_name = mac_data["mac"]["digest_algorithm"]["algorithm"].native
        hash_parameters = mac_data["mac"]["digest_algorithm"]["parameters"].dump()
        expected = mac_data["mac"]["digest"].native
        salt = mac_data["mac_salt"].native
        iterations = mac_data["iterations"].native
        content = pfx["auth_safe"]["content"].native
    except ASN1_ERRORS as exc:
        raise StoreError("store_corrupt") from exc
    if hash_name not in _HASHES:
        raise StoreError("store_unsupported")
    if hash_parameters not in (b"", b"\x05\x00"):  # SHA-1 and SHA-2 take none, or NULL
        raise StoreError("store_corrupt")
    if not all(isinstance(v, bytes) for v in (expected, salt, content)):
        raise StoreError("store_corrupt")
    if len(expected) != _HASHES[hash_name]().digest_size:
        raise StoreError("store_corrupt")  # a MAC of the wrong length is damage, not a password
    return hash_name, expected, salt, _iterations(iterations, MAX_KDF_ITERATIONS), content


def _check_authenticated_safe(pfx: pkcs12.Pfx, budget: _Budget) -> None:
    """Parse the MAC-covered AuthenticatedSafe whole, down to the ciphertexts and their
    parameters: if it does not parse, the file is damaged whatever the password."""
    try:
        content = pfx["auth_safe"]["content"].native
        safe = _load(pkcs12.AuthenticatedSafe, content)
        _parse_whole(safe)
        for info in safe:
            kind = info["content_type"].native
            if kind == "data":
                inner = info["content"].native
                if not isinstance(inner, bytes):
                    raise StoreError("store_corrupt")
                bags = _load(pkcs12.SafeContents, inner)
                _parse_whole(bags)
                _check_bags(bags, budget)
            elif kind == "encrypted_data":
                inner_info = info["content"]["encrypted_content_info"]
                ciphertext = inner_info["encrypted_content"].native
                if not isinstance(ciphertext, bytes):
                    raise StoreError("store_corrupt")
                budget.charge(_pbe(inner_info["content_encryption_algorithm"]).cost(ciphertext))
            else:
                raise StoreError("store_unsupported")  # enveloped: never written by the NCA
    except StoreError:
        raise
    except ASN1_ERRORS as exc:
        raise StoreError("store_corrupt") from exc


def _parse_whole(value: core.Asn1Value) -> None:
    """Parse a structure whole, as ``.native`` would: asn1crypto's field access alone lets an
    element where none belongs pass (the field reads as absent). A certificate bag's certificate is
    left as bytes: cryptography reads it later, asn1crypto need not understand it."""
    if isinstance(value, pkcs12.CertBag):
        _ = value["cert_id"].native
        _ = value["cert_value"].contents
        _no_stray_element(value)
    elif isinstance(value, core.Sequence):
        for field in value._fields:
            _parse_whole(value[field[0]])
        _no_stray_element(value)
    elif isinstance(value, core.SequenceOf):
        for child in value:
            _parse_whole(child)
    elif isinstance(value, core.Choice):
        _parse_whole(value.chosen)
    else:
        _ = value.native


def _no_stray_element(value: core.Sequence) -> None:
    if value.children is not None and len(value.children) > len(value._fields):
        raise StoreError("store_corrupt")


def _check_bags(safe: pkcs12.SafeContents, budget: _Budget) -> None:
    """Check (and charge) the encryption parameters of every bag of a plain SafeContents, nested
    ones too (check_ber bounds the depth)."""
    for bag in safe:
        bag_id = bag["bag_id"].native
        value = bag["bag_value"]
        if bag_id == "pkcs8_shrouded_key_bag":
            ciphertext = value["encrypted_data"].native
            if not isinstance(ciphertext, bytes):
                raise StoreError("store_corrupt")
            budget.charge(_pbe(value["encryption_algorithm"]).cost(ciphertext))
        elif bag_id == "safe_contents":
            _check_bags(value, budget)


def verify_mac(pfx: pkcs12.Pfx, password: str) -> str:
    """Check the store's MAC; raise WrongPassword when it does not verify. Returns the MAC hash."""
    hash_name, expected, salt, iterations, content = _mac_parameters(pfx)
    new = _HASHES[hash_name]
    key = pkcs12_kdf(bmp_password(password), salt, 3, iterations, new().digest_size, hash_name)
    actual = hmac.new(key, content, new).digest()
    if not hmac.compare_digest(actual, expected):
        raise WrongPassword()
    return hash_name


def _decrypt(algorithm: algos.EncryptionAlgorithm, ciphertext: bytes, password: str) -> bytes:
    """Decrypt one bag; the MAC has already proved the password, so a failure is damage."""
    pbe = _pbe(algorithm)  # parameters bounded before any key derivation
    try:
        if pbe.name == "pbes2":
            key = hashlib.pbkdf2_hmac(
                pbe.hmac, utf8_password(password), pbe.salt, pbe.iterations, pbe.key_length
            )
            return _cbc_decrypt(algorithms.AES(key), pbe.iv, ciphertext, 128)
        pw = bmp_password(password)
        if pbe.name == "pkcs12_sha1_tripledes_3key":
            key = pkcs12_kdf(pw, pbe.salt, 1, pbe.iterations, 24, "sha1")
            iv = pkcs12_kdf(pw, pbe.salt, 2, pbe.iterations, 8, "sha1")
            return _cbc_decrypt(TripleDES(key), iv, ciphertext, 64)
        from wizard.keys.rc2 import rc2_cbc_decrypt

        bits = 40 if pbe.name.endswith("_40") else 128
        key = pkcs12_kdf(pw, pbe.salt, 1, pbe.iterations, bits // 8, "sha1")
        iv = pkcs12_kdf(pw, pbe.salt, 2, pbe.iterations, 8, "sha1")
        return rc2_cbc_decrypt(key, iv, ciphertext, bits)
    except ASN1_ERRORS as exc:  # bad padding, a ciphertext not a whole number of blocks...
        raise StoreError("store_corrupt") from exc


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
    """Open a PKCS#12 store: structure first (StoreError), then the MAC (WrongPassword), then the
    bags (StoreError on damage)."""
    pfx, budget = _parse(data)
    try:
        mac_algorithm = verify_mac(pfx, password)
    except WrongPassword:
        # The MAC decides; but if the password provably decrypts a bag, the file is damaged.
        if _password_proven(pfx, password):
            raise StoreError("store_corrupt") from None
        raise
    keys: list[tuple[bytes, str, dict]] = []
    certs: list[tuple[bytes, dict]] = []
    cert_encryption: str | None = None
    try:
        for info in pfx.authenticated_safe:
            kind = info["content_type"].native
            if kind == "data":
                safe = pkcs12.SafeContents.load(info["content"].native, strict=True)
                charge = None  # its bags were charged before the MAC
            elif kind == "encrypted_data":
                enc = info["content"]["encrypted_content_info"]
                algorithm = enc["content_encryption_algorithm"]
                cert_encryption = algorithm["algorithm"].native
                plain = _decrypt(algorithm, enc["encrypted_content"].native, password)
                safe = _load(pkcs12.SafeContents, plain)
                charge = budget  # bags only the password shows: charged as they come
            else:
                raise StoreError("store_unsupported")
            _collect(safe, password, keys, certs, charge)
        for der, _ in certs:
            check_ber(der, what="certificate_corrupt")
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
    friendly_name = key_attrs.get("friendly_name") or certs[0][1].get("friendly_name")
    return StoreContents(
        private_key_info=key_info,
        certificates=tuple(der for der, _ in certs),
        friendly_name=friendly_name if isinstance(friendly_name, str) else None,
        local_key_id=local_key_id if isinstance(local_key_id, bytes) else None,
        mac_algorithm=mac_algorithm,
        key_encryption=key_encryption,
        certificate_encryption=cert_encryption,
    )


def _password_proven(pfx: pkcs12.Pfx, password: str) -> bool:
    """True when the password decrypts a key bag into a well-formed PKCS#8 key, or an encrypted
    SafeContents into well-formed bags holding a certificate: proof that the password is right
    even though the MAC failed (a damaged file, not a wrong password). A wrong password decrypts
    into noise, which parses as either with a negligible chance."""
    from cryptography import x509

    for info in pfx.authenticated_safe:
        try:
            kind = info["content_type"].native
            if kind == "data":
                for bag in pkcs12.SafeContents.load(info["content"].native):
                    if bag["bag_id"].native != "pkcs8_shrouded_key_bag":
                        continue
                    value = bag["bag_value"]
                    plain = _decrypt(
                        value["encryption_algorithm"], value["encrypted_data"].native, password
                    )
                    _load(RawPrivateKeyInfo, plain).native  # noqa: B018 - parse it whole
                    return True
            elif kind == "encrypted_data":
                enc = info["content"]["encrypted_content_info"]
                algorithm = enc["content_encryption_algorithm"]
                plain = _decrypt(algorithm, enc["encrypted_content"].native, password)
                for bag in _load(pkcs12.SafeContents, plain):
                    value = bag["bag_value"]
                    if bag["bag_id"].native == "cert_bag" and value["cert_id"].native == "x509":
                        der = bytes(value["cert_value"].contents)
                        check_ber(der)
                        x509.load_der_x509_certificate(der)
                        return True
        except (StoreError, *ASN1_ERRORS):
            continue
    return False


def _attributes(bag: pkcs12.SafeBag) -> dict:
    found: dict = {}
    for attribute in bag["bag_attributes"]:
        name = attribute["type"].native
        values = attribute["values"]
        if name in ("local_key_id", "friendly_name") and len(values):
            found[name] = values[0].native
    return found


def _collect(
    safe: pkcs12.SafeContents, password: str, keys: list, certs: list, budget: _Budget | None
) -> None:
    for bag in safe:
        bag_id = bag["bag_id"].native
        value = bag["bag_value"]
        if bag_id == "pkcs8_shrouded_key_bag":
            algorithm = value["encryption_algorithm"]
            ciphertext = value["encrypted_data"].native
            if budget is not None:
                budget.charge(_pbe(algorithm).cost(ciphertext))
            plain = _decrypt(algorithm, ciphertext, password)
            check_ber(plain)
            keys.append((plain, algorithm["algorithm"].native, _attributes(bag)))
        elif bag_id == "key_bag":
            keys.append((value.dump(), "none", _attributes(bag)))
        elif bag_id == "cert_bag":
            if value["cert_id"].native == "x509":
                certs.append((bytes(value["cert_value"].contents), _attributes(bag)))
        elif bag_id == "safe_contents":
            _collect(value, password, keys, certs, budget)


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
        key = hashlib.pbkdf2_hmac("sha256", utf8_password(password), salt, iterations, 32)
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
