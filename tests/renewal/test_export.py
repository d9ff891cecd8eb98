"""Copies of a finished renewal's files (wizard.renewal.export, issue #11): one file, or all as one
zip that round-trips byte for byte; only the named new stores and CA certificates directly in the
folder, never a pending key, a link out of the folder, a missing or oversized file. And the CA
certificates' plain file names (new_keys.ca_file_name)."""

from __future__ import annotations

import datetime as dt
import io
import json
import os
import stat
import sys
import zipfile
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from wizard.authority.mock.ca import (
    DEMO_GOST_ROOT_NAME,
    DEMO_ISSUING_NAME,
    DEMO_ROOT_NAME,
    EVIL_NAME,
)
from wizard.cli import main
from wizard.errors import StoreError, UsageError
from wizard.keys.store import MAX_STORE_BYTES
from wizard.renewal.export import bundle_zip, read_export, zip_name
from wizard.renewal.new_keys import MAX_CA_STEM, ca_file_name

STORE = "AUTH_RSA256_" + "ab" * 20 + ".p12"
SIGN = "RSA256_" + "cd" * 20 + ".p12"
ROOT = "QOLTANBA_DEMO_ROOT_CA_1f2e3d.cer"
ISSUING = "QOLTANBA_DEMO_ISSUING_CA_4c5b6a.cer"


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """A finished renewal's folder: two stores, two CA certificates, and things never offered."""
    where = tmp_path / "keys-2026-08-18"
    where.mkdir()
    for name, data in {
        STORE: b"\x30\x82auth-store" * 50,
        SIGN: b"\x30\x82sign-store" * 50,
        ROOT: b"-----BEGIN CERTIFICATE-----\nroot\n-----END CERTIFICATE-----\n",
        ISSUING: b"-----BEGIN CERTIFICATE-----\nissuing\n-----END CERTIFICATE-----\n",
        "PENDING_AUTH_0123.p8": b"encrypted pending key",
        "PENDING_SIGN_0123.p12": b"never offered",
        ".RSA256_x.p12.0123456789ab.tmp": b"half written",
        "notes.txt": b"not a renewal file",
    }.items():
        (where / name).write_bytes(data)
    return where


# --- one file -------------------------------------------------------------------------------


def test_read_export_gives_a_named_file_byte_for_byte(folder):
    for name in (STORE, SIGN, ROOT, ISSUING):
        assert read_export(folder, name) == (folder / name).read_bytes()
    assert read_export(str(folder), ROOT) == (folder / ROOT).read_bytes()  # a str folder too


@pytest.mark.parametrize(
    "name",
    [
        "PENDING_AUTH_0123.p8",
        "PENDING_SIGN_0123.p12",  # a pending key, whatever its extension
        ".RSA256_x.p12.0123456789ab.tmp",
        "notes.txt",
        "",
        ".",
        "..",
        "../" + STORE,
        "sub/" + STORE,
        "..\\" + STORE,
        "/etc/passwd",
        STORE + "\0",
    ],
)
def test_read_export_refuses_what_a_renewal_does_not_install(folder, name):
    with pytest.raises(UsageError) as refused:
        read_export(folder, name)
    assert refused.value.code == "export_refused"
    assert refused.value.params["file"] == name


def test_a_missing_file_says_so_with_its_name_and_folder(folder):
    (folder / SIGN).unlink()
    with pytest.raises(StoreError) as missing:
        read_export(folder, SIGN)
    assert missing.value.code == "export_missing"
    assert missing.value.params == {"file": SIGN, "folder": str(folder)}
    assert SIGN in missing.value.message("ru") and str(folder) in missing.value.message("kk")


def test_a_symlink_pointing_outside_is_never_followed(folder, tmp_path):
    secret = tmp_path / "elsewhere" / "secret.p12"
    secret.parent.mkdir()
    secret.write_bytes(b"somebody else's store")
    (folder / STORE).unlink()
    (folder / STORE).symlink_to(secret)
    with pytest.raises(StoreError) as refused:
        read_export(folder, STORE)
    assert refused.value.code == "export_unreadable"
    with pytest.raises(StoreError):
        bundle_zip(folder, [STORE, ROOT])


def test_a_link_swapped_in_while_it_is_read_is_never_followed(folder, monkeypatch, tmp_path):
    """The file judged (lstat) is the one read: a link put in its place between the check and the
    open is refused, even when the original is put back before the second look."""
    import wizard.keys.safe_read as safe_read

    secret = tmp_path / "secret"
    secret.write_bytes(b"root:x:0:0:not for export")
    path = folder / ROOT
    real_open = os.open

    def swapped_open(target, flags, *args, **kwargs):
        if Path(target) == path:
            os.rename(path, str(path) + ".bak")
            os.symlink(secret, path)
            try:
                return real_open(target, flags, *args, **kwargs)
            finally:
                os.remove(path)
                os.rename(str(path) + ".bak", path)
        return real_open(target, flags, *args, **kwargs)

    monkeypatch.setattr(safe_read.os, "open", swapped_open)
    with pytest.raises(StoreError) as caught:
        read_export(folder, ROOT)
    assert caught.value.code == "export_unreadable"
    with pytest.raises(StoreError):
        bundle_zip(folder, [ROOT])


@pytest.mark.parametrize("name", [None, 7, b"x.p12", "\udcff\udcfe.cer"])
def test_names_that_are_not_plain_text_are_refused_in_words(folder, name):
    with pytest.raises(UsageError) as caught:
        read_export(folder, name)
    assert caught.value.code == "export_refused"
    with pytest.raises(UsageError):
        bundle_zip(folder, [name])


def test_one_name_given_alone_is_one_file_and_a_nul_in_the_folder_is_said(folder):
    _, data = bundle_zip(folder, STORE)
    assert zipfile.ZipFile(io.BytesIO(data)).namelist() == [STORE]
    with pytest.raises(StoreError):
        read_export(str(folder) + "\0x", STORE)


def test_a_symlink_inside_the_folder_is_refused_too(folder):
    (folder / ROOT).unlink()
    (folder / ROOT).symlink_to(folder / ISSUING)
    with pytest.raises(StoreError) as refused:
        read_export(folder, ROOT)
    assert refused.value.code == "export_unreadable"


def test_a_folder_fifo_empty_or_oversized_file_is_unreadable(folder):
    (folder / SIGN).unlink()
    (folder / SIGN).mkdir()
    (folder / ROOT).write_bytes(b"")
    (folder / STORE).write_bytes(b"x" * (MAX_STORE_BYTES + 1))
    for name in (SIGN, ROOT, STORE):
        with pytest.raises(StoreError) as refused:
            read_export(folder, name)
        assert refused.value.code == "export_unreadable", name
    if hasattr(os, "mkfifo"):
        (folder / ISSUING).unlink()
        os.mkfifo(folder / ISSUING)
        with pytest.raises(StoreError) as refused:
            read_export(folder, ISSUING)  # never blocks
        assert refused.value.code == "export_unreadable"


def test_a_file_without_permission_is_unreadable(folder, monkeypatch):
    import wizard.keys.safe_read as safe_read

    (folder / ROOT).chmod(0)
    real_open = os.open

    def denied(target, flags, *args, **kwargs):  # as the system says it to anyone but root
        if Path(target) == folder / ROOT:
            raise PermissionError(13, "Permission denied", str(target))
        return real_open(target, flags, *args, **kwargs)

    monkeypatch.setattr(safe_read.os, "open", denied)
    with pytest.raises(StoreError) as refused:
        read_export(folder, ROOT)
    assert refused.value.code == "export_unreadable"


# --- all as one zip ------------------------------------------------------------------------


def test_the_zip_round_trips_with_zipfile_byte_for_byte(folder):
    name, data = bundle_zip(folder, [ROOT, STORE, ISSUING, SIGN])
    assert name == "qoltanba-keys-2026-08-18.zip"
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert archive.testzip() is None
        infos = archive.infolist()
        # key stores first, then the CA certificates, each kind by name
        assert [i.filename for i in infos] == [STORE, SIGN, ISSUING, ROOT]
        for info in infos:
            assert archive.read(info) == (folder / info.filename).read_bytes()
            assert info.compress_type == zipfile.ZIP_DEFLATED
            assert stat.S_IMODE(info.external_attr >> 16) == 0o600
            assert not info.is_dir()


def test_the_zip_holds_only_what_was_named_each_once(folder):
    _, data = bundle_zip(folder, [STORE, STORE, ROOT])
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert archive.namelist() == [STORE, ROOT]
    for extra in ("PENDING_AUTH_0123.p8", "notes.txt", "../" + SIGN):
        with pytest.raises(UsageError):
            bundle_zip(folder, [STORE, extra])


def test_the_zip_is_deterministic(folder):
    first = bundle_zip(folder, [STORE, SIGN, ROOT, ISSUING])
    again = bundle_zip(folder, [ISSUING, ROOT, SIGN, STORE])
    assert first == again


def test_no_zip_when_one_file_is_gone_or_nothing_is_named(folder):
    (folder / ISSUING).unlink()
    with pytest.raises(StoreError) as missing:
        bundle_zip(folder, [STORE, SIGN, ROOT, ISSUING])
    assert missing.value.code == "export_missing" and missing.value.params["file"] == ISSUING
    with pytest.raises(UsageError) as nothing:
        bundle_zip(folder, [])
    assert nothing.value.code == "export_nothing"


@pytest.mark.parametrize(
    "folder_name, expected",
    [
        ("keys-2026-08-18", "qoltanba-keys-2026-08-18.zip"),
        ("keys-2026-08-18-2", "qoltanba-keys-2026-08-18-2.zip"),
        ("keys", "qoltanba-keys.zip"),
        ("My new keys", "qoltanba-keys-My-new-keys.zip"),
        ("Жаңа кілттер", "qoltanba-keys-Жаңа-кілттер.zip"),
        ("!!!", "qoltanba-keys.zip"),
    ],
)
def test_zip_names(folder_name, expected):
    assert zip_name(Path("/somewhere") / folder_name) == expected


def test_a_real_demo_renewal_exports_its_files(monkeypatch, tmp_path):
    """End to end: demo keys, a renewal, then every installed file saved as one zip."""
    monkeypatch.setenv("QOLTANBA_HOME", str(tmp_path / "home"))
    for var in ("QOLTANBA_LANG", "LC_ALL", "LC_MESSAGES", "LANG", "LANGUAGE", "QOLTANBA_TRUST"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("QOLTANBA_T_OLD", "Current2025ab")
    monkeypatch.setenv("QOLTANBA_T_NEW", "Renewed2026cd")
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))

    def run(*argv: str) -> dict:
        out, err = io.StringIO(), io.StringIO()
        code = main(["--lang", "en", *argv], out=out, err=err)
        assert code == 0, (argv, out.getvalue(), err.getvalue())
        return json.loads(out.getvalue())

    demo = run(
        "demo-keys", "--out", str(tmp_path / "old"), "--password-env", "QOLTANBA_T_OLD", "--json"
    )
    stores = [a for f in demo["files"] if f.endswith(".p12") for a in ("--store", f)]
    report = run(
        *("renew", *stores, "--password-env", "QOLTANBA_T_OLD"),
        *("--new-password-env", "QOLTANBA_T_NEW", "--email", "a@example.kz"),
        *("--locality", "Алматы", "--out", str(tmp_path / "keys-new"), "--json"),
    )
    folder = Path(report["folder"])
    names = [Path(f).name for f in report["files"]]
    assert any(n.startswith("QOLTANBA_DEMO_ROOT_CA_") for n in names), names
    assert not any("NOT_TRUSTED" in n for n in names), names
    name, data = bundle_zip(folder, names)
    assert name == "qoltanba-keys-new.zip"
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert sorted(archive.namelist()) == sorted(names)
        for member in names:
            assert archive.read(member) == (folder / member).read_bytes()


# --- plain CA file names ----------------------------------------------------------------------


def _certificate(common_name: str | None, serial: int = 0x1A2B3C4D5E6F708192) -> x509.Certificate:
    key = ec.generate_private_key(ec.SECP256R1())
    attributes = [x509.NameAttribute(NameOID.COUNTRY_NAME, "KZ")]
    if common_name is not None:
        # real NCA names are longer than 64 bytes of UTF-8, which cryptography checks by default
        attributes.append(x509.NameAttribute(NameOID.COMMON_NAME, common_name, _validate=False))
    name = x509.Name(attributes)
    now = dt.datetime.now(dt.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(serial)
        .not_valid_before(now)
        .not_valid_after(now + dt.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )


SERIAL = "1a2b3c4d5e6f7081"  # the first 16 hex digits of the serial above


@pytest.mark.parametrize(
    "common_name, stem",
    [
        # the demo's: DEMO stays, the alarming remark goes (the certificate keeps it)
        (DEMO_ROOT_NAME, "QOLTANBA_DEMO_ROOT_CA"),
        (DEMO_GOST_ROOT_NAME, "QOLTANBA_DEMO_GOST_ROOT_CA"),
        (DEMO_ISSUING_NAME, "QOLTANBA_DEMO_ISSUING_CA"),
        (EVIL_NAME, "QOLTANBA_EVIL_CA"),
        # the NCA's, in Kazakh: Latin letters; the one-word "(RSA)"/"(GOST)" tells them apart
        ("ҰЛТТЫҚ КУӘЛАНДЫРУШЫ ОРТАЛЫҚ (RSA)", "ULTTYQ_KUALANDYRUSHY_ORTALYQ_RSA"),
        (
            "НЕГІЗГІ КУӘЛАНДЫРУШЫ ОРТАЛЫҚ (GOST) TEST 2022",
            "NEGIZGI_KUALANDYRUSHY_ORTALYQ_GOST_TEST_2022",
        ),
        ("Национальный удостоверяющий центр", "Natsionalnyy_udostoveryayushchiy_tsentr"),
        ("ЁЖ Щука Һ Ғ Ң Ө Ү Ұ І", "YOZH_SHCHuka_H_G_N_O_U_U_I"),
        ("Café (ÄÖ) CA", "Cafe_AO_CA"),
        # the old NCA test CAs: RSA or GOST, and TEST, stay in the name
        ("ҰКО 3.0 (RSA TEST)", "UKO_3_0_RSA_TEST"),
        ("ҰКО 3.0 (GOST TEST)", "UKO_3_0_GOST_TEST"),
        # nothing usable left: a name still
        ("(((...)))", "CA"),
        ("— ! ? —", "CA"),
        ("中文 (not trusted)", "CA"),
        ("", "CA"),
        (None, "CA"),
    ],
)
def test_ca_file_names_are_plain(common_name, stem):
    name = ca_file_name(_certificate(common_name))
    assert name == f"{stem}_{SERIAL}.cer"


def test_long_ca_names_are_cut_at_a_whole_character():
    name = ca_file_name(_certificate("VERY LONG " * 30))
    stem = name.removesuffix(f"_{SERIAL}.cer")
    assert 0 < len(stem) <= MAX_CA_STEM
    assert not stem.endswith("_") and stem.startswith("VERY_LONG_")
    assert len(name.encode()) < 100


def test_every_ca_file_name_is_a_portable_file_name():
    for common_name in (DEMO_ROOT_NAME, "ҰЛТТЫҚ/КУӘЛАНДЫРУШЫ\\ОРТАЛЫҚ", "..", "a:b*c?d", "CON"):
        name = ca_file_name(_certificate(common_name))
        assert name.isascii() and name.endswith(".cer")
        assert all(c.isalnum() or c in "_." for c in name), name
        assert not name.startswith((".", "_")), name


def test_the_real_nca_test_cas_get_readable_names(material):
    from wizard.keys.certificate import load_certificate

    folder = material / "gost2015-2026" / "ca"
    names = {
        p.name: ca_file_name(load_certificate(p.read_bytes())) for p in sorted(folder.glob("*.cer"))
    }
    assert names["nca_gost2022_test.cer"].startswith("ULTTYQ_KUALANDYRUSHY_ORTALYQ_GOST_TEST_2022_")
    assert names["root_test_gost_2022.cer"].startswith(
        "NEGIZGI_KUALANDYRUSHY_ORTALYQ_GOST_TEST_2022_"
    )
