"""A seeded corpus of hostile key stores made from the real NCA test stores (for
tests/hostile/test_store_corpus.py and tests/bench/hostile_refusals.py; not a test module).

Every case is (id, kind, bytes). The kinds: truncations, bit flips, single-byte changes, zeroed
runs, length-field bombs (huge BER lengths put in place of real ones), nesting bombs (deep
constructed BER in the file and inside the MAC-covered content), swapped bags, appended garbage,
iteration bombs, and damage behind a MAC recomputed with the right password (damaged ciphertext,
damaged or truncated certificates and keys re-wrapped into a valid store), so that the code after
the MAC check meets hostile input too. The same seed and count always give the same corpus.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import random
from dataclasses import dataclass
from pathlib import Path

from asn1crypto import cms
from asn1crypto import pkcs12 as asn1_pkcs12

PASSWORD = "Qwerty12"  # README of the material: the password of every .p12 there
DEFAULT_CASES = 300
SEED = 20260508
MATERIAL = Path(__file__).resolve().parents[2].parent / "shared" / "nca-test-material"


def case_count(default: int = DEFAULT_CASES) -> int:
    """How many cases to run: QOLTANBA_HOSTILE_CASES, else ``default``."""
    value = os.environ.get("QOLTANBA_HOSTILE_CASES", "").strip()
    return int(value) if value else default


@dataclass(frozen=True)
class Seed:
    """One real store and what it holds (read once, with the right password)."""

    name: str
    data: bytes
    private_key_info: bytes
    certificate: bytes
    friendly_name: str
    local_key_id: bytes


@dataclass(frozen=True)
class Case:
    id: str
    kind: str
    data: bytes


def seed_stores(material: Path = MATERIAL) -> list[Seed]:
    """The material's stores: the GOST 2015 ones and the sdk2020 RSA and GOST 2004 ones."""
    from wizard.keys.pkcs12 import read_pkcs12

    seeds = []
    for path in sorted(material.rglob("*.p12")):
        data = path.read_bytes()
        contents = read_pkcs12(data, PASSWORD)
        seeds.append(
            Seed(
                name=path.relative_to(material).as_posix(),
                data=data,
                private_key_info=contents.private_key_info,
                certificate=contents.certificates[0],
                friendly_name=contents.friendly_name or "",
                local_key_id=contents.local_key_id or b"",
            )
        )
    return seeds


# ---------------------------------------------------------------------------------------------
# BER helpers


def tlv(tag: int, content: bytes) -> bytes:
    """A DER TLV with a one-byte tag."""
    size = len(content)
    if size < 0x80:
        return bytes([tag, size]) + content
    length = size.to_bytes((size.bit_length() + 7) // 8, "big")
    return bytes([tag, 0x80 | len(length)]) + length + content


def length_fields(data: bytes) -> list[tuple[int, int]]:
    """(offset, size) of every definite length field in a BER value (indefinite ones skipped)."""
    found: list[tuple[int, int]] = []

    def walk(pos: int, end: int | None) -> int:
        while end is None or pos < end:
            if end is None and data[pos : pos + 2] == b"\x00\x00":
                return pos + 2
            first = data[pos]
            pos += 1
            if first & 0x1F == 0x1F:
                while data[pos] & 0x80:
                    pos += 1
                pos += 1
            length_at = pos
            octet = data[pos]
            pos += 1
            if octet == 0x80:
                pos = walk(pos, None)
                continue
            if octet < 0x80:
                length = octet
            else:
                count = octet & 0x7F
                length = int.from_bytes(data[pos : pos + count], "big")
                pos += count
            found.append((length_at, pos - length_at))
            if first & 0x20:
                walk(pos, pos + length)
            pos += length
            if end is None and pos >= len(data):
                break
        return pos

    walk(0, len(data))
    return found


def mac_content(data: bytes) -> bytes:
    return asn1_pkcs12.Pfx.load(data)["auth_safe"]["content"].native


def with_content(
    data: bytes, content: bytes, *, remac: bool, iterations: int | None = None
) -> bytes:
    """The store with the MAC-covered content replaced; the MAC recomputed with the right
    password when ``remac`` (else the old MAC stays, and no longer fits)."""
    from wizard.keys.pkcs12 import bmp_password, pkcs12_kdf

    pfx = asn1_pkcs12.Pfx.load(data)
    mac_data = pfx["mac_data"].native
    if iterations is not None:
        mac_data["iterations"] = iterations
    if remac:
        key = pkcs12_kdf(
            bmp_password(PASSWORD), mac_data["mac_salt"], 3, mac_data["iterations"], 20, "sha1"
        )
        mac_data["mac"]["digest"] = hmac.new(key, content, hashlib.sha1).digest()
    return asn1_pkcs12.Pfx(
        {
            "version": "v3",
            "auth_safe": {"content_type": "data", "content": content},
            "mac_data": mac_data,
        }
    ).dump()


def nested_safe_contents(depth: int) -> bytes:
    """A SafeContents nesting ``depth`` safeContentsBags in one another (DER)."""
    safe_contents_bag = tlv(
        0x06, bytes.fromhex("2a864886f70d010c0a0106")
    )  # 1.2.840.113549.1.12.10.1.6
    inner = tlv(0x30, b"")
    for _ in range(depth):
        inner = tlv(0x30, tlv(0x30, safe_contents_bag + tlv(0xA0, inner)))
    return inner


def authenticated_safe_with(first: bytes, data: bytes) -> bytes:
    """An AuthenticatedSafe whose first ContentInfo holds ``first`` as data, then the store's
    other ContentInfos as they were."""
    infos = list(asn1_pkcs12.AuthenticatedSafe.load(mac_content(data)))
    head = cms.ContentInfo({"content_type": "data", "content": first})
    return asn1_pkcs12.AuthenticatedSafe([head, *infos[1:]]).dump()


# ---------------------------------------------------------------------------------------------
# Mutations: each takes (rng, seed) and returns bytes


def _truncate(rng: random.Random, seed: Seed) -> bytes:
    return seed.data[: rng.randrange(len(seed.data))]


def _bit_flips(rng: random.Random, seed: Seed) -> bytes:
    data = bytearray(seed.data)
    for _ in range(rng.randint(1, 8)):
        data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
    return bytes(data)


def _byte_change(rng: random.Random, seed: Seed) -> bytes:
    data = bytearray(seed.data)
    position = rng.randrange(len(data))
    data[position] = (data[position] + rng.randint(1, 255)) % 256
    return bytes(data)


def _zero_run(rng: random.Random, seed: Seed) -> bytes:
    data = bytearray(seed.data)
    start = rng.randrange(len(data))
    size = rng.randint(1, 64)
    data[start : start + size] = bytes(len(data[start : start + size]))
    return bytes(data)


def _length_bomb(rng: random.Random, seed: Seed) -> bytes:
    """A real length field (of the file or of the MAC-covered content) made huge or absurd."""
    inner = rng.random() < 0.5
    target = mac_content(seed.data) if inner else seed.data
    offset, size = rng.choice(length_fields(target))
    bomb = rng.choice(
        [
            b"\x84\xff\xff\xff\xff",
            b"\x84\x7f\xff\xff\xff",
            b"\x88" + b"\xff" * 8,
            b"\x8f" + b"\x01" * 15,
            b"\xff",
            b"\x83\x10\x00\x00",
            b"\x80",
        ]
    )
    mutated = target[:offset] + bomb + target[offset + size :]
    if inner:
        return with_content(seed.data, mutated, remac=rng.random() < 0.5)
    return mutated


def _nesting_bomb(rng: random.Random, seed: Seed) -> bytes:
    depth = rng.choice([40, 200, 1000, 5000, 50_000])
    where = rng.randrange(4)
    if where == 0:  # the whole file: indefinite SEQUENCEs in one another
        return b"\x30\x80" * depth + b"\x00\x00" * depth
    if where == 1:  # the file with a definite-length tower
        tower = b""
        for _ in range(min(depth, 2000)):
            tower = tlv(0x30, tower)
        return tower
    if where == 2:  # inside the MAC-covered content, MAC recomputed
        bomb = b"\x30\x80" * depth + b"\x00\x00" * depth
        return with_content(seed.data, bomb, remac=True)
    # nested SafeContents, as bags, behind a valid MAC
    nested = nested_safe_contents(min(depth, 3000))
    return with_content(seed.data, authenticated_safe_with(nested, seed.data), remac=True)


def _swapped_bags(rng: random.Random, seed: Seed) -> bytes:
    infos = list(asn1_pkcs12.AuthenticatedSafe.load(mac_content(seed.data)))
    infos.reverse()
    if rng.random() < 0.5:
        infos = [*infos, infos[0]]  # and one twice
    content = asn1_pkcs12.AuthenticatedSafe(infos).dump()
    return with_content(seed.data, content, remac=rng.random() < 0.5)


def _appended_garbage(rng: random.Random, seed: Seed) -> bytes:
    size = rng.choice([1, 2, 17, 512, 4096])
    tail = rng.choice([b"\x00" * size, rng.randbytes(size), seed.data[:size]])
    return seed.data + tail


def _zero_bytes(rng: random.Random, seed: Seed) -> bytes:
    return bytes(rng.choice([1, 2, 64, len(seed.data)]))


def many_encrypted_parts(data: bytes, copies: int, iterations: int) -> bytes:
    """The store with its encrypted ContentInfo repeated ``copies`` times, each asking for
    ``iterations`` rounds (every one within the per-bag bound; the MAC left as it was)."""
    infos = list(asn1_pkcs12.AuthenticatedSafe.load(mac_content(data)))
    rebuilt = []
    for info in infos:
        if info["content_type"].native != "encrypted_data":
            rebuilt.append(info)
            continue
        encrypted = info["content"].copy()
        algorithm = encrypted["encrypted_content_info"]["content_encryption_algorithm"]
        parameters = algorithm["parameters"].native
        parameters["iterations"] = iterations
        algorithm["parameters"] = parameters
        part = cms.ContentInfo({"content_type": "encrypted_data", "content": encrypted})
        rebuilt.extend(part.copy() for _ in range(copies))
    return with_content(data, asn1_pkcs12.AuthenticatedSafe(rebuilt).dump(), remac=False)


def _iteration_bomb(rng: random.Random, seed: Seed) -> bytes:
    if rng.random() < 0.3:  # many bags, each within the bound, together far over it
        return many_encrypted_parts(seed.data, rng.choice([20, 200]), 100_000)
    iterations = rng.choice([100_001, 250_000, 10_000_000, 2**31 - 1, 2**62, 0, -1])
    return with_content(seed.data, mac_content(seed.data), remac=False, iterations=iterations)


def _damage_behind_mac(rng: random.Random, seed: Seed) -> bytes:
    """A byte of the MAC-covered content changed, the MAC recomputed to fit."""
    content = bytearray(mac_content(seed.data))
    for _ in range(rng.randint(1, 3)):
        content[rng.randrange(len(content))] ^= 1 << rng.randrange(8)
    return with_content(seed.data, bytes(content), remac=True)


def _mutate(rng: random.Random, blob: bytes) -> bytes:
    choice = rng.randrange(4)
    data = bytearray(blob)
    if choice == 0:
        return bytes(data[: rng.randrange(1, len(data))])
    if choice == 1:
        for _ in range(rng.randint(1, 6)):
            data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
        return bytes(data)
    if choice == 2:
        offset, size = rng.choice(length_fields(blob))
        return (
            blob[:offset]
            + rng.choice([b"\x84\xff\xff\xff\xff", b"\x81\x00"])
            + blob[offset + size :]
        )
    position = rng.randrange(len(data))
    data[position] = rng.randrange(256)
    return bytes(data)


def with_certificate(data: bytes, certificate: bytes) -> bytes:
    """The store with ``certificate`` (any bytes) in its encrypted certificate bag, encrypted as the
    NCA does (RC2-40, same salt and rounds) and the MAC recomputed: a valid store around it."""
    from wizard.keys.pkcs12 import bmp_password, pkcs12_kdf
    from wizard.keys.rc2 import rc2_cbc_encrypt

    infos = list(asn1_pkcs12.AuthenticatedSafe.load(mac_content(data)))
    attributes = b"\x31\x00"
    for info in infos:
        if info["content_type"].native == "data":
            bags = asn1_pkcs12.SafeContents.load(info["content"].native)
            attributes = bags[0]["bag_attributes"].dump()
    x509_certificate = tlv(0x06, bytes.fromhex("2a864886f70d01091601"))  # 1.2.840.113549.1.9.22.1
    cert_bag = tlv(0x30, x509_certificate + tlv(0xA0, tlv(0x04, certificate)))
    cert_bag_id = tlv(0x06, bytes.fromhex("2a864886f70d010c0a0103"))  # 1.2.840.113549.1.12.10.1.3
    plain = tlv(0x30, tlv(0x30, cert_bag_id + tlv(0xA0, cert_bag) + attributes))
    rebuilt = []
    for info in infos:
        if info["content_type"].native != "encrypted_data":
            rebuilt.append(info)
            continue
        inner = info["content"]["encrypted_content_info"]
        algorithm = inner["content_encryption_algorithm"]
        salt = algorithm["parameters"]["salt"].native
        rounds = algorithm["parameters"]["iterations"].native
        password = bmp_password(PASSWORD)
        key = pkcs12_kdf(password, salt, 1, rounds, 5, "sha1")
        iv = pkcs12_kdf(password, salt, 2, rounds, 8, "sha1")
        encrypted = cms.EncryptedData(
            {
                "version": "v0",
                "encrypted_content_info": {
                    "content_type": "data",
                    "content_encryption_algorithm": algorithm.copy(),
                    "encrypted_content": rc2_cbc_encrypt(key, iv, plain, 40),
                },
            }
        )
        rebuilt.append(cms.ContentInfo({"content_type": "encrypted_data", "content": encrypted}))
    content = asn1_pkcs12.AuthenticatedSafe(rebuilt).dump()
    return with_content(data, content, remac=True)


def _hostile_certificate(rng: random.Random, seed: Seed) -> bytes:
    """The store with a damaged certificate in its bag, as a valid store (the MAC fits)."""
    return with_certificate(seed.data, _mutate(rng, seed.certificate))


def with_private_key(data: bytes, private_key_info: bytes) -> bytes:
    """The store with ``private_key_info`` (any bytes) in its shrouded key bag, encrypted as the
    NCA does (3DES, same salt and rounds) and the MAC recomputed: a valid store around it."""
    from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES
    from cryptography.hazmat.primitives import padding
    from cryptography.hazmat.primitives.ciphers import Cipher, modes

    from wizard.keys.pkcs12 import bmp_password, pkcs12_kdf

    infos = list(asn1_pkcs12.AuthenticatedSafe.load(mac_content(data)))
    rebuilt = []
    for info in infos:
        if info["content_type"].native != "data":
            rebuilt.append(info)
            continue
        bags = []
        for bag in asn1_pkcs12.SafeContents.load(info["content"].native):
            if bag["bag_id"].native != "pkcs8_shrouded_key_bag":
                bags.append(bag)
                continue
            algorithm = bag["bag_value"]["encryption_algorithm"]
            salt = algorithm["parameters"]["salt"].native
            rounds = algorithm["parameters"]["iterations"].native
            password = bmp_password(PASSWORD)
            key = pkcs12_kdf(password, salt, 1, rounds, 24, "sha1")
            iv = pkcs12_kdf(password, salt, 2, rounds, 8, "sha1")
            padder = padding.PKCS7(64).padder()
            padded = padder.update(private_key_info) + padder.finalize()
            encryptor = Cipher(TripleDES(key), modes.CBC(iv)).encryptor()
            ciphertext = encryptor.update(padded) + encryptor.finalize()
            shrouded = tlv(0x30, algorithm.dump() + tlv(0x04, ciphertext))
            bag_id = bag["bag_id"].dump()
            attributes = bag["bag_attributes"].dump()
            raw = tlv(0x30, bag_id + tlv(0xA0, shrouded) + attributes)
            bags.append(asn1_pkcs12.SafeBag.load(raw))
        content = asn1_pkcs12.SafeContents(bags).dump()
        rebuilt.append(cms.ContentInfo({"content_type": "data", "content": content}))
    return with_content(data, asn1_pkcs12.AuthenticatedSafe(rebuilt).dump(), remac=True)


def _hostile_key(rng: random.Random, seed: Seed) -> bytes:
    """The store with a damaged PKCS#8 key in its bag, as a valid store (the MAC fits)."""
    return with_private_key(seed.data, _mutate(rng, seed.private_key_info))


MUTATIONS = {
    "truncate": _truncate,
    "bit_flips": _bit_flips,
    "byte_change": _byte_change,
    "zero_run": _zero_run,
    "length_bomb": _length_bomb,
    "nesting_bomb": _nesting_bomb,
    "swapped_bags": _swapped_bags,
    "appended_garbage": _appended_garbage,
    "zero_bytes": _zero_bytes,
    "iteration_bomb": _iteration_bomb,
    "damage_behind_mac": _damage_behind_mac,
    "hostile_certificate": _hostile_certificate,
    "hostile_key": _hostile_key,
}


def build_corpus(seeds: list[Seed], count: int, seed: int = SEED) -> list[Case]:
    """``count`` cases, the kinds taken in turn, each on a store picked by the seeded generator."""
    rng = random.Random(seed)
    kinds = list(MUTATIONS)
    cases = []
    for number in range(count):
        kind = kinds[number % len(kinds)]
        store = rng.choice(seeds)
        data = MUTATIONS[kind](rng, store)
        cases.append(Case(f"{number:04d}-{kind}-{Path(store.name).stem[:24]}", kind, data))
    return cases
