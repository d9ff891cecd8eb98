"""Read a file someone pointed Qoltanba at, and nothing but a regular file, never more than a cap.

A key store, a CRL or a CA certificate is a small regular file. A FIFO blocks ``open`` until a
writer comes (for ever), a device such as ``/dev/zero`` never ends, a socket cannot be read, and
the kernel's /proc and /sys files say "size 0" while they have content (some even block). So:

1. ``os.stat`` (following symbolic links: a link to a store is fine, a link to ``/dev/zero`` is
   not) must show a regular file, outside /proc and /sys, before anything is opened;
2. the file is opened with ``O_NONBLOCK`` (a FIFO swapped in after the check cannot block the
   open) and ``O_NOCTTY``, and ``fstat`` on the opened descriptor must show a regular file again
   (the path may have changed between the two looks);
3. at most ``cap + 1`` bytes are read, whatever the size says; more than ``cap`` is refused.

Every refusal is a StoreError naming the path; callers reading optional material (CRLs and CA
certificates beside a store) catch it and skip the file.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

from wizard.errors import StoreError

# Kernel pseudo-file systems: their files look regular but are not data a person keeps.
_PSEUDO_FILE_SYSTEMS = ("/proc", "/sys")
_CHUNK = 64 * 1024


def _under_pseudo_file_system(path: Path) -> bool:
    if os.name != "posix":
        return False
    try:
        real = os.path.realpath(path)
    except (OSError, ValueError):
        return False
    return any(real == root or real.startswith(root + "/") for root in _PSEUDO_FILE_SYSTEMS)


def _limit_kib(cap: int) -> int:
    return max(1, cap // 1024)


def check_regular(path: str | os.PathLike[str]) -> os.stat_result:
    """The ``stat`` of ``path`` when it is a regular file one may open; StoreError otherwise."""
    name = str(path)
    try:
        st = os.stat(path)
    except FileNotFoundError as exc:
        raise StoreError("store_missing", path=name) from exc
    except NotADirectoryError as exc:  # a parent in the path is a file
        raise StoreError("store_missing", path=name) from exc
    except (OSError, ValueError) as exc:  # permission, a loop of links, a NUL in the name...
        raise StoreError("store_unreadable", path=name) from exc
    if stat.S_ISDIR(st.st_mode):
        raise StoreError("store_is_folder", path=name)
    if not stat.S_ISREG(st.st_mode) or _under_pseudo_file_system(Path(path)):
        raise StoreError("store_not_regular", path=name)
    return st


def read_regular_file(
    path: str | os.PathLike[str], cap: int, *, same_as: os.stat_result | None = None
) -> bytes:
    """The bytes of a regular file of at most ``cap`` bytes (see the module's docstring).

    ``same_as``: the ``lstat`` the caller judged the path by. The last component is then opened
    without following a link, and what was opened must be that very file (device and inode), so
    nothing swapped in between the caller's check and the read is ever read.

    StoreError codes: store_missing, store_is_folder, store_not_regular, store_unreadable,
    store_too_large (``limit_kib``); every one carries ``path``.
    """
    name = str(path)
    st = check_regular(path)
    if st.st_size > cap:
        raise StoreError("store_too_large", path=name, limit_kib=_limit_kib(cap))
    flags = (
        os.O_RDONLY
        | getattr(os, "O_NONBLOCK", 0)
        | getattr(os, "O_NOCTTY", 0)
        | getattr(os, "O_CLOEXEC", 0)
        | getattr(os, "O_BINARY", 0)
    )
    if same_as is not None:
        flags |= getattr(os, "O_NOFOLLOW", 0)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        if exc.errno == errno.EISDIR:
            raise StoreError("store_is_folder", path=name) from exc
        if exc.errno == errno.ENOENT:
            raise StoreError("store_missing", path=name) from exc
        if exc.errno in (errno.ENXIO, errno.ELOOP):  # a socket, a FIFO, a link swapped in
            raise StoreError("store_not_regular", path=name) from exc
        raise StoreError("store_unreadable", path=name) from exc
    try:
        try:
            opened = os.fstat(fd)
        except OSError as exc:
            raise StoreError("store_unreadable", path=name) from exc
        if stat.S_ISDIR(opened.st_mode):
            raise StoreError("store_is_folder", path=name)
        if not stat.S_ISREG(opened.st_mode):
            raise StoreError("store_not_regular", path=name)
        if same_as is not None and (opened.st_dev, opened.st_ino) != (
            same_as.st_dev,
            same_as.st_ino,
        ):
            raise StoreError("store_not_regular", path=name)  # another file than the one judged
        chunks: list[bytes] = []
        left = cap + 1  # one byte more than allowed tells "too large" without reading on
        while left > 0:
            try:
                chunk = os.read(fd, min(left, _CHUNK))
            except BlockingIOError as exc:  # only a non-regular file would ever say so
                raise StoreError("store_not_regular", path=name) from exc
            except OSError as exc:
                if exc.errno == errno.EISDIR:
                    raise StoreError("store_is_folder", path=name) from exc
                raise StoreError("store_unreadable", path=name) from exc
            if not chunk:
                break
            chunks.append(chunk)
            left -= len(chunk)
    finally:
        os.close(fd)
    data = b"".join(chunks)
    if len(data) > cap:
        raise StoreError("store_too_large", path=name, limit_kib=_limit_kib(cap))
    return data
