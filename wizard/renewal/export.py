"""Copies of a finished renewal's files for the person to save elsewhere (issue #11): one file's
bytes, or all of them as one zip.

Only what the renewal installed is offered: the new key stores (``.p12``, encrypted with the new
password, so a copy is as safe as the original) and the authority's CA certificates (``.cer``).
Each is read by its plain name directly inside the renewal's folder, as a regular file that is not
a symbolic link (nothing outside the folder is ever read through one), no larger than a key store or
a certificate can be, with wizard.keys.safe_read. A pending key (``PENDING_*``), a temporary file,
or any name with a folder in it is refused. Every refusal is a translated QoltanbaError.
"""

from __future__ import annotations

import io
import os
import re
import stat
import time
import zipfile
from collections.abc import Iterable
from pathlib import Path

from wizard.errors import StoreError, UsageError
from wizard.keys.files import TEMPORARY, resolve_path
from wizard.keys.revocation import MAX_CA_BYTES
from wizard.keys.safe_read import read_regular_file
from wizard.keys.store import MAX_STORE_BYTES

# What may leave the folder, and how large each kind can be.
LIMITS = {".p12": MAX_STORE_BYTES, ".cer": MAX_CA_BYTES}
MAX_FILES = 16  # a renewal installs two stores and two or three CA certificates
_STEM = re.compile(r"[^\w.-]+")
_ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)  # the earliest time a zip entry can carry


def _check_name(name: str) -> str:
    """``name`` if it is one of the files a renewal installs, by its plain name; UsageError."""
    if not isinstance(name, str):
        raise UsageError("export_refused", file=repr(name))
    try:
        name.encode("utf-8")  # a zip entry's name is UTF-8; a name that cannot be is not ours
    except UnicodeEncodeError:
        raise UsageError("export_refused", file=name.encode("utf-8", "replace").decode()) from None
    plain = (
        bool(name)
        and name not in (".", "..")
        and "/" not in name
        and "\\" not in name
        and "\0" not in name
        and os.path.basename(name) == name
    )
    suffix = os.path.splitext(name)[1].lower()
    if (
        not plain
        or suffix not in LIMITS
        or name.upper().startswith("PENDING_")
        or TEMPORARY.match(name)
    ):
        raise UsageError("export_refused", file=name)
    return name


def _entry(folder: Path, name: str) -> tuple[Path, os.stat_result]:
    """The path of ``folder/name`` and its ``lstat``: a regular file, not a link."""
    path = folder / name
    try:
        st = os.lstat(path)
    except FileNotFoundError as exc:
        raise StoreError("export_missing", file=name, folder=str(folder)) from exc
    except (OSError, ValueError) as exc:
        raise StoreError("export_unreadable", file=name, folder=str(folder)) from exc
    if not stat.S_ISREG(st.st_mode):  # a link (to anywhere), a folder, a FIFO, a device...
        raise StoreError("export_unreadable", file=name, folder=str(folder))
    return path, st


def _read(folder: Path, name: str) -> tuple[bytes, os.stat_result]:
    _check_name(name)
    path, before = _entry(folder, name)
    cap = LIMITS[os.path.splitext(name)[1].lower()]
    try:
        data = read_regular_file(path, cap, same_as=before)  # the file judged, never a link
    except StoreError as exc:
        code = "export_missing" if exc.code == "store_missing" else "export_unreadable"
        raise StoreError(code, file=name, folder=str(folder)) from exc
    _, after = _entry(folder, name)
    if (before.st_dev, before.st_ino) != (after.st_dev, after.st_ino) or not data:
        # swapped while it was read, or empty: not the file the renewal wrote
        raise StoreError("export_unreadable", file=name, folder=str(folder))
    return data, after


def _folder(folder: str | os.PathLike[str]) -> Path:
    try:
        return resolve_path(Path(folder).expanduser().absolute())
    except (ValueError, TypeError) as exc:  # a NUL in it, or not a path at all
        raise StoreError("export_unreadable", file="-", folder=repr(folder)) from exc


def read_export(folder: str | os.PathLike[str], name: str) -> bytes:
    """The bytes of one new key store or CA certificate, ``name`` directly inside ``folder``.

    UsageError ``export_refused`` for a name that is not such a file (a path, ``..``, a pending
    key, another kind of file); StoreError ``export_missing`` when it is gone, ``export_unreadable``
    when it is a link, not a regular file, too large, empty or cannot be read."""
    return _read(_folder(folder), name)[0]


def _ordered(files: Iterable[str]) -> list[str]:
    """Each name once: the key stores first, then the CA certificates, each kind by name."""
    names = sorted(
        {_check_name(name) for name in files},
        key=lambda n: (os.path.splitext(n)[1].lower() != ".p12", n),
    )
    if not names:
        raise UsageError("export_nothing")
    if len(names) > MAX_FILES:
        raise UsageError("export_refused", file=names[MAX_FILES])
    return names


def zip_name(folder: str | os.PathLike[str]) -> str:
    """``qoltanba-keys-<folder name>.zip``; a folder ``keys-2026-08-18`` (the wizard's own
    name) gives ``qoltanba-keys-2026-08-18.zip``."""
    stem = _STEM.sub("-", Path(folder).name).strip("-._")[:60].rstrip("-._")
    if not stem:
        return "qoltanba-keys.zip"
    if stem.lower() == "keys" or stem.lower().startswith(("keys-", "keys_")):
        return f"qoltanba-{stem}.zip"
    return f"qoltanba-keys-{stem}.zip"


def _zip_time(st: os.stat_result) -> tuple[int, int, int, int, int, int]:
    """The file's time as a zip entry carries it (local time, 1980 to 2107)."""
    t = time.localtime(st.st_mtime)
    if t.tm_year < 1980:
        return _ZIP_EPOCH
    if t.tm_year > 2107:
        return (2107, 12, 31, 23, 59, 58)
    return (t.tm_year, t.tm_mon, t.tm_mday, t.tm_hour, t.tm_min, min(t.tm_sec, 59))


def bundle_zip(folder: str | os.PathLike[str], files: list[str]) -> tuple[str, bytes]:
    """One zip, made in memory, of the named files of a finished renewal's ``folder``: the new
    key stores first, then the CA certificates, each under its own name, deflated, with the file's
    time and owner-only permissions. Returns the zip's file name and its bytes.

    Every file is read as read_export reads it, and all of them before the zip is made: one that
    is refused, gone or unreadable raises (see read_export) and no zip is returned."""
    where = _folder(folder)
    if isinstance(files, str):  # one name, not a list of its letters
        files = [files]
    contents = [(name, *_read(where, name)) for name in _ordered(files)]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data, st in contents:
            info = zipfile.ZipInfo(name, date_time=_zip_time(st))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = (stat.S_IFREG | 0o600) << 16
            info.create_system = 3  # Unix, so that the permissions above are read
            archive.writestr(info, data)
    return zip_name(folder), buffer.getvalue()
