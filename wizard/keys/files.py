"""Writing key material safely: only into a new folder (never the current keys' one), atomically
(temporary file, fsync, link into place, fsync of the folder), mode 0600, never over a file."""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
from collections.abc import Iterable
from pathlib import Path

from wizard.errors import OutputRefused

FILE_MODE = 0o600
FOLDER_MODE = 0o700


def _same_or_inside(candidate: Path, folder: Path) -> bool:
    try:
        candidate.relative_to(folder)
    except ValueError:
        return False
    return True


def check_new_folder(folder: str | os.PathLike[str], current_stores: Iterable[Path] = ()) -> Path:
    """Refuse, without creating anything, a folder for new keys that is where the current stores
    live (or a parent of it), or that is a file. Returns the resolved folder."""
    target = Path(folder).expanduser().absolute()
    resolved = target.resolve()
    for store in current_stores:
        store_folder = Path(store).expanduser().absolute().resolve().parent
        if resolved == store_folder or _same_or_inside(store_folder, resolved):
            raise OutputRefused("output_current_folder", detail=str(target), path=str(target))
    if resolved.exists() and not resolved.is_dir():
        raise OutputRefused("output_not_folder", detail=str(target), path=str(target))
    return resolved


def free_folder(root: str | os.PathLike[str], stem: str) -> Path:
    """``root/stem``, or ``root/stem-2``, ``-3``... : the first that does not exist yet."""
    base = Path(root).expanduser()
    candidate, number = base / stem, 2
    while candidate.exists():
        candidate, number = base / f"{stem}-{number}", number + 1
    return candidate


def prepare_new_folder(folder: str | os.PathLike[str], current_stores: Iterable[Path] = ()) -> Path:
    """Create (or accept) the folder for new keys; refuse the current keys' folder and its parents.

    An existing folder is accepted only if it is not where the current stores live: it may already
    hold this renewal's own pending files, and nothing in it is ever overwritten.
    """
    target = Path(folder).expanduser().absolute()
    resolved = check_new_folder(target, current_stores)
    try:
        resolved.mkdir(mode=FOLDER_MODE, parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputRefused("output_unwritable", detail=str(target), path=str(target)) from exc
    if not os.access(resolved, os.W_OK | os.X_OK):
        raise OutputRefused("output_unwritable", detail=str(target), path=str(target))
    return resolved


def _fsync_folder(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return  # some platforms cannot open a folder; the file itself was fsynced
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def write_new_file(folder: Path, name: str, data: bytes) -> Path:
    """Write ``data`` as ``folder/name`` atomically with mode 0600; refuse if the name exists."""
    if "/" in name or "\\" in name or name in ("", ".", ".."):
        raise OutputRefused("output_bad_name", detail=name, path=name)
    final = folder / name
    if final.exists() or final.is_symlink():
        raise OutputRefused("output_exists", detail=str(final), path=str(final))
    temporary = folder / f".{name}.{secrets.token_hex(6)}.tmp"
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    try:
        fd = os.open(temporary, flags, FILE_MODE)
    except OSError as exc:
        raise OutputRefused("output_unwritable", detail=str(folder), path=str(folder)) from exc
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temporary, FILE_MODE)  # the umask may have narrowed it; never wider than 0600
        _place(temporary, final)
        _fsync_folder(folder)
    finally:
        with contextlib.suppress(FileNotFoundError):
            temporary.unlink()
    return final


def _place(temporary: Path, final: Path) -> None:
    """Move the finished file into place without ever replacing an existing one."""
    try:
        os.link(temporary, final)  # fails with EEXIST instead of overwriting, unlike rename
    except FileExistsError as exc:
        raise OutputRefused("output_exists", detail=str(final), path=str(final)) from exc
    except OSError as exc:
        if exc.errno not in (
            errno.EPERM,
            errno.ENOTSUP,
            errno.EOPNOTSUPP,
            errno.EXDEV,
            errno.EMLINK,
        ):
            raise OutputRefused("output_unwritable", detail=str(final), path=str(final)) from exc
        # File systems without hard links (FAT on phones' cards): check, then rename.
        if final.exists():
            raise OutputRefused("output_exists", detail=str(final), path=str(final)) from exc
        os.rename(temporary, final)
