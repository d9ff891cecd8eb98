"""Hostile inputs, one fix each: files that are not regular files (FIFOs, devices, sockets, /proc)
as stores and beside them as CRLs and CA certificates; certificates with damaged extensions behind
a valid MAC; nesting bombs; iteration counts refused before any key derivation; damage told from a
wrong password; and passwords that are not text. Each test fails without its fix; the ones that
would hang run under a timeout that unblocks the reader and fails instead."""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import os
import shutil
import socket
import threading
import time
import tracemalloc
from pathlib import Path

import pytest
from asn1crypto import cms
from asn1crypto import pkcs12 as asn1_pkcs12
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtensionOID, NameOID
from hostile_corpus import (
    authenticated_safe_with,
    mac_content,
    many_encrypted_parts,
    nested_safe_contents,
    with_certificate,
    with_content,
)

from wizard.errors import PasswordUndecodable, StoreError, WrongPassword
from wizard.keys import pkcs12 as pkcs12_module
from wizard.keys import safe_read
from wizard.keys.pkcs12 import (
    MAX_KDF_ITERATIONS,
    MAX_PBKDF2_ITERATIONS,
    Profile,
    encrypt_private_key,
    parse_pfx,
    read_pkcs12,
    write_pkcs12,
)
from wizard.keys.revocation import check, material_near
from wizard.keys.safe_read import read_regular_file
from wizard.keys.store import open_store, open_store_bytes

PASSWORD = "Qwerty12"
WRONG = "qwerty12"
TIMEOUT = 5.0
GOST = "gost2015-2026/individual_valid.p12"
RSA = "sdk2020/personal/active/RSA256_11c707bd54cbfcccb3815e39c4eb57b1dc7dfea9.p12"
UTC = dt.UTC


def within(seconds: float, func, *args, unblock: tuple[Path, ...] = (), **kw):
    """``func(*args, **kw)`` in a thread; if it has not returned after ``seconds``, open the
    FIFOs in ``unblock`` for writing (so that a reader stuck in open() goes on) and fail."""
    result: dict[str, object] = {}

    def run() -> None:
        try:
            result["value"] = func(*args, **kw)
        except BaseException as exc:  # handed to the test's thread below
            result["error"] = exc

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(seconds)
    if worker.is_alive():
        for _ in range(50):
            for fifo in unblock:
                with contextlib.suppress(OSError):  # no reader there (any more)
                    os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
            worker.join(0.1)
            if not worker.is_alive():
                break
        pytest.fail(f"{getattr(func, '__name__', func)} still blocked after {seconds} s")
    if "error" in result:
        raise result["error"]  # type: ignore[misc]
    return result["value"]


def store_error(func, *args, **kw) -> StoreError:
    with pytest.raises(StoreError) as info:
        func(*args, **kw)
    assert info.value.exit_code == 4
    return info.value


@pytest.fixture
def gost_store(material, tmp_path) -> Path:
    """G copied into a fresh folder, with the material's CRLs in crl/ and CAs in ca/."""
    source = material / GOST
    folder = tmp_path / "keys"
    (folder / "crl").mkdir(parents=True)
    (folder / "ca").mkdir()
    for crl in (source.parent / "crl").glob("*.crl"):
        shutil.copyfile(crl, folder / "crl" / crl.name)
    for cer in (source.parent / "ca").glob("*.cer"):
        shutil.copyfile(cer, folder / "ca" / cer.name)
    path = folder / source.name
    shutil.copyfile(source, path)
    return path


@pytest.fixture
def no_open_of(monkeypatch):
    """no_open_of(path): any later open of ``path`` (os.open, open, io.open) fails the test."""
    watched: list[str] = []
    real_os_open, real_io_open = os.open, io.open

    def refuse(target) -> None:
        try:
            resolved = os.path.realpath(target) if isinstance(target, str | Path) else None
        except (TypeError, ValueError):
            resolved = None
        if resolved in watched or str(target) in watched:
            raise AssertionError(f"{target} was opened")

    def spy_os_open(path, *args, **kw):
        refuse(path)
        return real_os_open(path, *args, **kw)

    def spy_io_open(file, *args, **kw):
        refuse(file)
        return real_io_open(file, *args, **kw)

    monkeypatch.setattr(os, "open", spy_os_open)
    monkeypatch.setattr(io, "open", spy_io_open)
    monkeypatch.setattr("builtins.open", spy_io_open)

    def watch(path: Path) -> None:
        watched.extend([str(path), os.path.realpath(path)])

    return watch


# ---------------------------------------------------------------------------------------------
# 1. Only regular files are read, never beyond a cap


def test_a_fifo_is_refused_as_a_store_without_blocking(tmp_path):
    fifo = tmp_path / "GOST512_fifo.p12"
    os.mkfifo(fifo)
    error = within(TIMEOUT, store_error, open_store, fifo, PASSWORD, unblock=(fifo,))
    assert error.code == "store_not_regular"
    assert error.params["path"] == str(fifo)
    link = tmp_path / "link.p12"
    link.symlink_to(fifo)
    error = within(TIMEOUT, store_error, open_store, link, PASSWORD, unblock=(fifo,))
    assert error.code == "store_not_regular"


def test_devices_sockets_and_kernel_files_are_refused_as_stores(tmp_path, monkeypatch):
    zero = tmp_path / "zero.p12"
    zero.symlink_to("/dev/zero")
    for path in (Path("/dev/null"), zero, Path("/proc/self/status")):
        code = within(TIMEOUT, store_error, open_store, path, PASSWORD).code
        assert code == "store_not_regular", path
    # /proc says "size 0" and has content: refused all the same, not read as an empty file.
    assert os.stat("/proc/self/status").st_size == 0
    monkeypatch.chdir(tmp_path)  # a socket's path must be short
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as server:
        server.bind("s.p12")
        assert store_error(open_store, tmp_path / "s.p12", PASSWORD).code == "store_not_regular"


def test_a_fifo_swapped_in_after_the_check_is_refused_by_fstat(tmp_path, monkeypatch):
    fifo = tmp_path / "swapped.p12"
    os.mkfifo(fifo)
    regular = tmp_path / "regular.p12"
    regular.write_bytes(b"0")
    # The first look sees a regular file (the path changed between the look and the open).
    monkeypatch.setattr(safe_read, "check_regular", lambda path: os.stat(regular))
    error = within(TIMEOUT, store_error, read_regular_file, fifo, 1 << 20, unblock=(fifo,))
    assert error.code == "store_not_regular"


def test_reading_stops_one_byte_past_the_cap_whatever_the_size_says(tmp_path, monkeypatch):
    big = tmp_path / "big.p12"
    big.write_bytes(b"\x30" * (3 << 20))
    real_stat = os.stat
    # A file that says "size 0" (as /proc ones do) yet goes on and on.
    monkeypatch.setattr(safe_read, "check_regular", lambda path: os.stat_result((0,) * 10))
    read = []
    real_read = os.read

    def spy(fd, size):
        chunk = real_read(fd, size)
        read.append(len(chunk))
        return chunk

    monkeypatch.setattr(os, "read", spy)
    error = store_error(read_regular_file, big, 1 << 20)
    assert error.code == "store_too_large"
    assert error.params["limit_kib"] == 1024
    assert sum(read) == (1 << 20) + 1
    assert real_stat(big).st_size == 3 << 20
    monkeypatch.undo()
    assert read_regular_file(big, 3 << 20) == big.read_bytes()


def _used_the_real_crls(store) -> bool:
    """The material's own CRLs (in crl/, under the CA in ca/) were read and judged: they verify,
    and predate the certificate, so they cannot say it is good (wizard.keys.revocation)."""
    return (store.revocation.source, store.revocation.detail) == ("crl", "crl_before_certificate")


def test_fifos_beside_a_store_and_under_ca_and_crl_are_skipped(gost_store):
    folder = gost_store.parent
    fifos = (folder / "x.crl", folder / "crl" / "y.crl", folder / "ca" / "z.cer")
    for fifo in fifos:
        os.mkfifo(fifo)
    crls, cas = material_near(gost_store)
    assert not set(fifos) & set(crls + cas)
    assert crls and cas
    store = within(TIMEOUT, open_store, gost_store, PASSWORD, unblock=fifos)
    assert _used_the_real_crls(store)
    # Given explicitly (as --crl does), a FIFO is skipped too.
    revocation = within(TIMEOUT, check, store.certificate, [fifos[0]], [fifos[2]], unblock=fifos)
    assert revocation.checked is False


def test_a_link_to_dev_zero_named_like_a_crl_is_never_read(gost_store, no_open_of):
    folder = gost_store.parent
    links = (folder / "z.crl", folder / "crl" / "z.crl", folder / "ca" / "z.cer")
    for link in links:
        link.symlink_to("/dev/zero")
    no_open_of(Path("/dev/zero"))
    crls, cas = material_near(gost_store)
    assert not set(links) & set(crls + cas)
    store = within(TIMEOUT, open_store, gost_store, PASSWORD)
    assert _used_the_real_crls(store)
    revocation = within(TIMEOUT, check, store.certificate, list(links), list(links))
    assert revocation.checked is False


def test_oversized_crl_and_ca_files_are_skipped_unread(gost_store):
    folder = gost_store.parent
    for name in ("crl/huge.crl", "ca/huge.cer"):
        with (folder / name).open("wb") as handle:  # sparse: large, and costs no disk
            handle.truncate(64 << 20)
    tracemalloc.start()
    try:
        store = open_store(gost_store, PASSWORD)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert _used_the_real_crls(store)
    assert peak < 16 << 20  # the store, the real CRLs and CAs; not 64 MiB of holes


# ---------------------------------------------------------------------------------------------
# 2. Parsing errors are exit 4, never a traceback


@pytest.fixture(scope="module")
def rsa_material(material):
    """The real RSA store's bytes, its PKCS#8 key and that key as a `cryptography` object."""
    data = (material / RSA).read_bytes()
    contents = read_pkcs12(data, PASSWORD)
    key = serialization.load_der_private_key(contents.private_key_info, None)
    assert isinstance(key, rsa.RSAPrivateKey)
    return data, contents.private_key_info, key


def _certificate(key: rsa.RSAPrivateKey, extensions: list[tuple[x509.ExtensionType, bool]]):
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, "ТЕСТОВ ТЕСТ"),
            x509.NameAttribute(NameOID.SURNAME, "ТЕСТОВ"),
            x509.NameAttribute(NameOID.SERIAL_NUMBER, "IIN123456789011"),
        ]
    )
    now = dt.datetime.now(UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(20260508)
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=300))
        .add_extension(
            x509.CertificatePolicies(
                [x509.PolicyInformation(x509.ObjectIdentifier("1.2.398.3.3.2.4"), None)]
            ),
            critical=False,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
    )
    for extension, critical in extensions:
        builder = builder.add_extension(extension, critical=critical)
    return builder.sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.DER)


# A keyUsage whose value is an OCTET STRING where a BIT STRING belongs; a SAN cut short.
BROKEN_KEY_USAGE = x509.UnrecognizedExtension(ExtensionOID.KEY_USAGE, b"\x04\x02\x00\xff")
BROKEN_SAN = x509.UnrecognizedExtension(ExtensionOID.SUBJECT_ALTERNATIVE_NAME, b"\x30\x03\x81\x01")


def _store(private_key_info: bytes, certificate: bytes) -> bytes:
    return write_pkcs12(
        private_key_info, certificate, PASSWORD, friendly_name="test", local_key_id=b"\x01" * 20
    )


def test_a_damaged_critical_extension_behind_a_valid_mac_is_a_damaged_certificate(
    rsa_material, tmp_path, monkeypatch
):
    _, private_key_info, key = rsa_material
    data = _store(private_key_info, _certificate(key, [(BROKEN_KEY_USAGE, True)]))
    assert read_pkcs12(data, PASSWORD).private_key_info == private_key_info  # the MAC is valid
    assert store_error(open_store_bytes, data, PASSWORD).code == "certificate_corrupt"
    path = tmp_path / "broken.p12"
    path.write_bytes(data)
    from wizard.cli import main

    monkeypatch.setenv("P", PASSWORD)
    out, err = io.StringIO(), io.StringIO()
    assert main(["inspect", str(path), "--password-env", "P"], out=out, err=err) == 4
    assert err.getvalue().startswith("qoltanba: ") and err.getvalue().count("\n") == 1


@pytest.mark.parametrize("broken", [BROKEN_KEY_USAGE, BROKEN_SAN], ids=["key-usage", "san"])
def test_a_damaged_optional_extension_is_left_out_of_the_facts(rsa_material, broken):
    _, private_key_info, key = rsa_material
    certificate = _certificate(key, [(broken, False)])
    with pytest.raises(ValueError):  # cryptography alone refuses the whole list
        _ = x509.load_der_x509_certificate(certificate).extensions
    store = open_store_bytes(_store(private_key_info, certificate), PASSWORD)
    assert store.facts.policies == ("1.2.398.3.3.2.4",)  # the other extensions still count
    assert store.facts.iin == "123456789011"
    assert store.facts.subject_key_id  # read from its own, intact extension
    assert store.facts.email == ""
    assert store.key_matches is True


def test_an_extension_given_twice_is_a_damaged_certificate(rsa_material):
    data, _, key = rsa_material
    der = _certificate(key, [(x509.BasicConstraints(ca=False, path_length=None), False)])
    parsed = asn1_x509.Certificate.load(der)
    tbs = parsed["tbs_certificate"].copy()
    extensions = list(tbs["extensions"])
    tbs["extensions"] = asn1_x509.Extensions([*extensions, extensions[-1].copy()])
    twice = asn1_x509.Certificate(
        {
            "tbs_certificate": tbs,
            "signature_algorithm": parsed["signature_algorithm"],
            "signature_value": parsed["signature_value"],
        }
    ).dump()
    assert store_error(open_store_bytes, with_certificate(data, twice), PASSWORD).code == (
        "certificate_corrupt"
    )


def test_deeply_nested_safe_contents_are_refused_before_the_mac(material):
    data = (material / GOST).read_bytes()
    nested = authenticated_safe_with(nested_safe_contents(2000), data)
    bomb = with_content(data, nested, remac=True)  # a valid MAC over the nesting
    for password in (PASSWORD, WRONG):
        started = time.perf_counter()
        assert store_error(open_store_bytes, bomb, password).code == "store_corrupt"
        assert time.perf_counter() - started < 1.0
    # Nesting just within the bound is read (and then holds no key).
    shallow_content = authenticated_safe_with(nested_safe_contents(3), data)
    shallow = with_content(data, shallow_content, remac=True)
    assert store_error(open_store_bytes, shallow, PASSWORD).code == "store_no_key"


@pytest.mark.parametrize(
    "bomb",
    [
        b"\x30\x80" * 200_000 + b"\x00\x00" * 200_000,
        b"\x30\x84\xff\xff\xff\xff" + b"\x00" * 64,
        b"\x30\x88" + b"\xff" * 8,
        b"\x30\x80\x24\x80" * 50_000,
    ],
    ids=["indefinite-tower", "huge-length", "nine-byte-length", "unterminated"],
)
def test_nesting_and_length_bombs_are_refused_fast(bomb):
    started = time.perf_counter()
    assert store_error(open_store_bytes, bomb, PASSWORD).code == "store_corrupt"
    assert time.perf_counter() - started < 1.0


# ---------------------------------------------------------------------------------------------
# 3. Iteration counts are bounded before any key derivation


@pytest.fixture
def no_derivation(monkeypatch):
    def refuse(*args, **kw):
        raise AssertionError("a key derivation ran")

    monkeypatch.setattr(pkcs12_module, "pkcs12_kdf", refuse)
    monkeypatch.setattr(pkcs12_module.hashlib, "pbkdf2_hmac", refuse)


def _with_bag_iterations(data: bytes, kind: str, iterations: int) -> bytes:
    """The store with one bag's PBE iteration count changed (the MAC left as it was)."""
    infos = list(asn1_pkcs12.AuthenticatedSafe.load(mac_content(data)))
    rebuilt = []
    for info in infos:
        native = info.native
        if kind == "key" and native["content_type"] == "data":
            bags = asn1_pkcs12.SafeContents.load(info["content"].native)
            changed = []
            for bag in bags:
                value = bag.native
                if value["bag_id"] == "pkcs8_shrouded_key_bag":
                    value["bag_value"]["encryption_algorithm"]["parameters"]["iterations"] = (
                        iterations
                    )
                changed.append(asn1_pkcs12.SafeBag(value))
            content = asn1_pkcs12.SafeContents(changed).dump()
            info = cms.ContentInfo({"content_type": "data", "content": content})
        elif kind == "certificates" and native["content_type"] == "encrypted_data":
            encrypted = info["content"].copy()
            algorithm = encrypted["encrypted_content_info"]["content_encryption_algorithm"]
            parameters = algorithm["parameters"].native
            parameters["iterations"] = iterations
            algorithm["parameters"] = parameters
            info = cms.ContentInfo({"content_type": "encrypted_data", "content": encrypted})
        rebuilt.append(info)
    return with_content(data, asn1_pkcs12.AuthenticatedSafe(rebuilt).dump(), remac=False)


@pytest.mark.parametrize("where", ["mac", "key", "certificates"])
@pytest.mark.parametrize("store", [GOST, RSA], ids=["gost", "rsa"])
def test_ten_million_rounds_are_refused_in_milliseconds(material, no_derivation, where, store):
    data = (material / store).read_bytes()
    if where == "mac":
        bomb = with_content(data, mac_content(data), remac=False, iterations=10_000_000)
    else:
        bomb = _with_bag_iterations(data, where, 10_000_000)
    for password in (PASSWORD, WRONG):
        started = time.perf_counter()
        error = store_error(open_store_bytes, bomb, password)
        assert time.perf_counter() - started < 0.1
        assert error.code == "store_unsupported_iterations"
        assert error.params == {"iterations": 10_000_000, "limit": MAX_KDF_ITERATIONS}
        assert "10000000" in error.message("en")


@pytest.mark.parametrize("store", [GOST, RSA], ids=["gost", "rsa"])
def test_many_bags_within_the_bound_are_refused_together(material, no_derivation, store):
    # 40 certificate bags of 100 000 rounds each: a minute of work, refused before any of it.
    bomb = many_encrypted_parts((material / store).read_bytes(), 40, MAX_KDF_ITERATIONS)
    for password in (PASSWORD, WRONG):
        started = time.perf_counter()
        error = store_error(open_store_bytes, bomb, password)
        assert time.perf_counter() - started < 0.1
        assert error.code == "store_too_much_work"


def test_a_huge_rc2_ciphertext_is_refused_before_decrypting(material, no_derivation):
    # RC2 runs in pure Python (about 2 s a MiB): 600 KB of it, even behind one bag, is too much.
    data = (material / GOST).read_bytes()
    infos = list(asn1_pkcs12.AuthenticatedSafe.load(mac_content(data)))
    encrypted = infos[1]["content"].copy()
    encrypted["encrypted_content_info"]["encrypted_content"] = bytes(600_000)
    infos[1] = cms.ContentInfo({"content_type": "encrypted_data", "content": encrypted})
    bomb = with_content(data, asn1_pkcs12.AuthenticatedSafe(infos).dump(), remac=False)
    for password in (PASSWORD, WRONG):
        started = time.perf_counter()
        assert store_error(open_store_bytes, bomb, password).code == "store_too_much_work"
        assert time.perf_counter() - started < 0.2


def test_the_iteration_bound_is_inclusive(material):
    data = (material / GOST).read_bytes()
    at_bound = with_content(data, mac_content(data), remac=True, iterations=MAX_KDF_ITERATIONS)
    assert open_store_bytes(at_bound, PASSWORD).facts.iin == "123456789011"
    over = with_content(data, mac_content(data), remac=True, iterations=MAX_KDF_ITERATIONS + 1)
    assert store_error(open_store_bytes, over, PASSWORD).code == "store_unsupported_iterations"


def _modern_store_with(data: bytes, **changes) -> bytes:
    """A modern (PBES2) store of our writer with its key bag's PBKDF2 parameters changed."""
    infos = list(asn1_pkcs12.AuthenticatedSafe.load(mac_content(data)))
    rebuilt = []
    for info in infos:
        if info["content_type"].native == "data":
            bags = asn1_pkcs12.SafeContents.load(info["content"].native).copy()
            for bag in bags:
                algorithm = bag["bag_value"]["encryption_algorithm"]
                parameters = algorithm["parameters"]["key_derivation_func"]["parameters"]
                for name, value in changes.items():
                    parameters[name] = value
            content = bags.dump(force=True)
            info = cms.ContentInfo({"content_type": "data", "content": content})
        rebuilt.append(info)
    return with_content(data, asn1_pkcs12.AuthenticatedSafe(rebuilt).dump(), remac=False)


@pytest.fixture(scope="module")
def modern_store(rsa_material) -> bytes:
    """A store of our writer's modern profile (PBES2: PBKDF2-SHA256, AES-256)."""
    _, private_key_info, key = rsa_material
    return write_pkcs12(
        private_key_info,
        _certificate(key, []),
        PASSWORD,
        friendly_name="modern",
        local_key_id=b"\x02" * 20,
        profile=Profile.MODERN,
    )


def test_pbkdf2_rounds_and_key_lengths_are_bounded_before_deriving(modern_store, no_derivation):
    many = _modern_store_with(modern_store, iteration_count=5_000_000)
    error = store_error(read_pkcs12, many, PASSWORD)
    assert error.code == "store_unsupported_iterations"
    assert error.params == {"iterations": 5_000_000, "limit": MAX_PBKDF2_ITERATIONS}
    # A key length of a gigabyte would make PBKDF2 allocate and compute it all.
    long_key = _modern_store_with(modern_store, key_length=1 << 30)
    started = time.perf_counter()
    assert store_error(read_pkcs12, long_key, PASSWORD).code == "store_corrupt"
    assert time.perf_counter() - started < 0.1


def test_the_modern_profile_still_opens(modern_store):
    assert read_pkcs12(modern_store, PASSWORD).key_encryption == "pbes2"


# ---------------------------------------------------------------------------------------------
# 4. Damage is told from a wrong password


def _structure_parses(content: bytes) -> bool:
    """An oracle independent of the reader: the MAC-covered AuthenticatedSafe and its plain
    SafeContents parse whole as BER (asn1crypto, strict)."""
    try:
        safe = asn1_pkcs12.AuthenticatedSafe.load(content, strict=True)
        for info in safe:
            if info["content_type"].native == "data":
                asn1_pkcs12.SafeContents.load(info["content"].native, strict=True).native  # noqa: B018
            else:
                info.native  # noqa: B018
        return True
    except Exception:  # asn1crypto raises many kinds on damage: any means "does not parse"
        return False


def _spans(data: bytes) -> tuple[range, range]:
    """The offsets of the MAC-covered content and of the MAC's value and salt."""
    pfx = asn1_pkcs12.Pfx.load(data)
    content = pfx["auth_safe"]["content"].native
    start = data.find(content)
    assert start > 0 and data.count(content) == 1
    mac = pfx["mac_data"]
    digest, salt = mac["mac"]["digest"].native, mac["mac_salt"].native
    first = min(data.rfind(digest), data.rfind(salt))
    last = max(data.rfind(digest) + len(digest), data.rfind(salt) + len(salt))
    return range(start, start + len(content)), range(first, last)


@pytest.mark.parametrize("store", [GOST, RSA], ids=["gost", "rsa"])
def test_every_single_byte_damage_is_damage_or_at_most_a_wrong_password_where_allowed(
    material, store
):
    data = (material / store).read_bytes()
    covered, mac_fields = _spans(data)
    content = mac_content(data)
    wrong_password_offsets = []
    structure_damaged = 0
    for offset in range(len(data)):
        damaged = bytearray(data)
        damaged[offset] ^= 0xFF
        damaged = bytes(damaged)
        with pytest.raises((StoreError, WrongPassword)) as info:
            open_store_bytes(damaged, PASSWORD)
        if isinstance(info.value, WrongPassword):
            assert offset in covered or offset in mac_fields, offset
            wrong_password_offsets.append(offset)
        if offset in covered:
            inner = content[: offset - covered.start]
            inner += bytes([content[offset - covered.start] ^ 0xFF])
            inner += content[offset - covered.start + 1 :]
            if not _structure_parses(inner):
                # Damage the MAC-covered structure shows is damage whatever the password.
                structure_damaged += 1
                with pytest.raises(StoreError):
                    open_store_bytes(damaged, WRONG)
    assert structure_damaged > 50
    # With the right password, damage anywhere reads as damage: a bag it still decrypts proves it.
    assert wrong_password_offsets == []


@pytest.mark.parametrize("store", [GOST, RSA], ids=["gost", "rsa"])
def test_damage_to_the_key_ciphertext_is_damage_with_the_right_password(material, store):
    data = (material / store).read_bytes()
    pfx = asn1_pkcs12.Pfx.load(data)
    for info in pfx.authenticated_safe:
        if info["content_type"].native == "data":
            bag = asn1_pkcs12.SafeContents.load(info["content"].native)[0]
            ciphertext = bag["bag_value"]["encrypted_data"].native
    start = data.find(ciphertext)
    assert start > 0
    for offset in (start, start + len(ciphertext) // 2, start + len(ciphertext) - 1):
        damaged = bytearray(data)
        damaged[offset] ^= 0x20
        # The certificate bag still decrypts: the password is right, the file is damaged.
        assert store_error(open_store_bytes, bytes(damaged), PASSWORD).code == "store_corrupt"
        # With a wrong password nothing decrypts, and nothing tells damage from it: the MAC says.
        with pytest.raises(WrongPassword):
            open_store_bytes(bytes(damaged), WRONG)


def test_structure_damage_inside_the_mac_covered_content_is_decided_before_the_mac(material):
    data = (material / GOST).read_bytes()
    covered, _ = _spans(data)
    damaged = bytearray(data)
    damaged[covered.start] = 0x31  # the AuthenticatedSafe's SEQUENCE tag becomes a SET
    with pytest.raises(StoreError):
        parse_pfx(bytes(damaged))
    for password in (PASSWORD, WRONG, ""):
        assert store_error(open_store_bytes, bytes(damaged), password).code == "store_corrupt"


# ---------------------------------------------------------------------------------------------
# 5. A password that is not text


SURROGATE_PASSWORD = "Qwerty\udcff12"  # os.environ's reading of the bytes b"Qwerty\xff12"


def _undecodable(func, *args, **kw) -> PasswordUndecodable:
    with pytest.raises(PasswordUndecodable) as info:
        func(*args, **kw)
    error = info.value
    assert (error.code, error.exit_code) == ("password_undecodable", 2)
    # Nothing chained holds the password (a UnicodeEncodeError would, in .object).
    assert error.__cause__ is None and error.__context__ is None
    for lang in ("kk", "ru", "en"):
        assert "Qwerty" not in error.message(lang)
        assert error.message(lang) != "error.password_undecodable"
    return error


def test_an_undecodable_password_is_a_usage_error(material, rsa_material):
    data = (material / GOST).read_bytes()
    _undecodable(open_store_bytes, data, SURROGATE_PASSWORD)
    _undecodable(read_pkcs12, data, "\ud800")
    _, private_key_info, key = rsa_material
    certificate = _certificate(key, [])
    _undecodable(_store_with_password, private_key_info, certificate, SURROGATE_PASSWORD)
    _undecodable(encrypt_private_key, private_key_info, SURROGATE_PASSWORD, iterations=1000)


def _store_with_password(private_key_info: bytes, certificate: bytes, password: str) -> bytes:
    return write_pkcs12(
        private_key_info, certificate, password, friendly_name="x", local_key_id=b"\x01"
    )


def test_an_undecodable_password_from_the_environment_exits_2(material, monkeypatch):
    from wizard.cli import main

    monkeypatch.setenv("P", SURROGATE_PASSWORD)
    assert os.environb[b"P"] == b"Qwerty\xff12"
    out, err = io.StringIO(), io.StringIO()
    code = main(["inspect", str(material / GOST), "--password-env", "P"], out=out, err=err)
    assert code == 2
    assert err.getvalue().startswith("qoltanba: ") and err.getvalue().count("\n") == 1
    assert "Traceback" not in err.getvalue()
