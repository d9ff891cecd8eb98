"""Writing key material safely: only into a new folder (never the current keys' one), atomically
(temporary file, fsync, link into place, fsync of the folder), mode 0600, never over a file."""

from __future__ import annotations

import contextlib
import errno
import os
import re
import secrets
from collections.abc import Callable, Iterable
from pathlib import Path

from wizard.errors import NoSpace, OutputRefused

FILE_MODE = 0o600
FOLDER_MODE = 0o700
# A disk that is full, over quota or mounted read-only: say so, never "no permission?"
_NO_SPACE = {errno.ENOSPC, errno.EDQUOT, errno.EROFS}
# Our temporary files: ".<final name>.<12 hex>.tmp" (write_new_file)
TEMPORARY = re.compile(r"^\.(?P<name>.+)\.[0-9a-f]{12}\.tmp$")


def _refusal(exc: OSError, folder: Path) -> OutputRefused:
    if exc.errno in _NO_SPACE:
        return NoSpace(path=str(folder))
    return OutputRefused("output_unwritable", detail=str(folder), path=str(folder))


def user_path(text: str | os.PathLike[str]) -> Path:
    """A path the person typed, ``~`` expanded; OutputRefused when it cannot be (``~nobody/x``)."""
    try:
        return Path(text).expanduser().absolute()
    except (RuntimeError, KeyError, OSError, ValueError) as exc:
        raise OutputRefused("output_bad_path", path=os.fsdecode(text)) from exc


def resolve_path(target: Path) -> Path:
    """``target`` resolved; OutputRefused for a symlink loop."""
    try:
        return target.resolve()
    except (RuntimeError, OSError) as exc:  # a symlink loop (RuntimeError before Python 3.13)
        raise OutputRefused("output_bad_path", path=str(target)) from exc


def _same_or_inside(candidate: Path, folder: Path) -> bool:
    try:
        candidate.relative_to(folder)
    except ValueError:
        return False
    return True


def check_new_folder(folder: str | os.PathLike[str], current_stores: Iterable[Path] = ()) -> Path:
    """Refuse, without creating anything, a folder for new keys that is where the current stores
    live (or a parent of it), or that is a file. Returns the resolved folder."""
    target = user_path(folder)
    resolved = resolve_path(target)
    for store in current_stores:
        store_folder = resolve_path(user_path(store)).parent
        if resolved == store_folder or _same_or_inside(store_folder, resolved):
            raise OutputRefused("output_current_folder", detail=str(target), path=str(target))
    try:
        exists, is_dir = resolved.exists(), resolved.is_dir()
    except OSError as exc:  # a name too long for the file system, and the like
        raise OutputRefused("output_bad_path", path=str(target)) from exc
    if exists and not is_dir:
        raise OutputRefused("output_not_folder", detail=str(target), path=str(target))
    return resolved


def refuse_folder_with_keys(folder: Path) -> None:
    """A new renewal's folder must not already hold key stores (an earlier renewal's, or another
    window's that just finished): one folder, one set of keys, never mixed up."""
    try:
        names = [entry.name for entry in os.scandir(folder)]
    except OSError:
        return  # a folder that does not exist yet holds nothing
    # any key store, not only the NCA-named ones: someone's "legal_ceo.p12" is no less a key
    held = sorted(name for name in names if name.lower().endswith((".p12", ".pfx")))
    if held:
        raise OutputRefused("output_holds_keys", path=str(folder), file=held[0])


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
    target = user_path(folder)
    resolved = check_new_folder(target, current_stores)
    if target.is_symlink() and not target.exists():  # a dangling link: never create its target
        raise OutputRefused("output_not_folder", detail=str(target), path=str(target))
    try:
        existed = resolved.is_dir()
        resolved.mkdir(mode=FOLDER_MODE, parents=True, exist_ok=True)
    except FileExistsError as exc:  # a dangling symlink, or a file that appeared meanwhile
        raise OutputRefused("output_not_folder", detail=str(target), path=str(target)) from exc
    except OSError as exc:
        raise _refusal(exc, target) from exc
    if not os.access(resolved, os.W_OK | os.X_OK):
        raise OutputRefused("output_unwritable", detail=str(target), path=str(target))
    if existed and not any(resolved.iterdir()):
        with contextlib.suppress(OSError):
            resolved.chmod(FOLDER_MODE)  # an empty folder made for the new keys: private too
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


def _check_name(name: str) -> None:
    if "/" in name or "\\" in name or name in ("", ".", ".."):
        raise OutputRefused("output_bad_name", detail=name, path=name)


def _write_beside(folder: Path, name: str, data: bytes, put: Callable[[Path, Path], None]) -> Path:
    """``data`` written, synced and made 0600 in a new temporary file beside ``folder/name``,
    then ``put(temporary, final)`` puts it in place; the temporary file never stays behind."""
    final = folder / name
    temporary = folder / f".{name}.{secrets.token_hex(6)}.tmp"
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    try:
        fd = os.open(temporary, flags, FILE_MODE)
    except OSError as exc:
        raise _refusal(exc, folder) from exc
    try:
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.chmod(temporary, FILE_MODE)  # the umask may have narrowed it; never wider than 0600
        except OSError as exc:  # ENOSPC arrives at write, flush, fsync or close
            raise _refusal(exc, folder) from exc
        put(temporary, final)
        _fsync_folder(folder)
    finally:
        with contextlib.suppress(FileNotFoundError):
            temporary.unlink()
    return final


def write_new_file(folder: Path, name: str, data: bytes) -> Path:
    """Write ``data`` as ``folder/name`` atomically with mode 0600; refuse if the name exists."""
    _check_name(name)
    final = folder / name
    if final.exists() or final.is_symlink():
        raise OutputRefused("output_exists", detail=str(final), path=str(final))
    # _place looked up when called: the crash-injection tests hook it there
    return _write_beside(folder, name, data, lambda temporary, final: _place(temporary, final))


def replace_file(folder: Path, name: str, data: bytes) -> Path:
    """Write ``data`` as ``folder/name`` atomically with mode 0600, replacing what was there (for
    small settings files, never for keys: those go through write_new_file)."""
    _check_name(name)
    folder.mkdir(parents=True, exist_ok=True, mode=FOLDER_MODE)

    def put(temporary: Path, final: Path) -> None:
        try:
            os.replace(temporary, final)
        except OSError as exc:
            raise _refusal(exc, folder) from exc

    return _write_beside(folder, name, data, put)


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
            raise _refusal(exc, final.parent) from exc
        # File systems without hard links (FAT on phones' cards): check, then rename.
        if final.exists():
            raise OutputRefused("output_exists", detail=str(final), path=str(final)) from exc
        try:
            os.rename(temporary, final)
        except OSError as exc:
            raise _refusal(exc, final.parent) from exc


def sweep_temporary(
    folder: Path, *, names: set[str] | None = None, older_than: float = 600
) -> None:
    """Remove our temporary files left in ``folder`` by a run that was killed mid-write: those of
    ``names`` (files the caller's renewal writes), and any older than ``older_than`` seconds
    (another writer's live temporary file is seconds old). Nothing else is ever touched."""
    import time

    try:
        entries = list(os.scandir(folder))
    except OSError:
        return
    now = time.time()
    for entry in entries:
        match = TEMPORARY.match(entry.name)
        if match is None:
            continue
        try:
            st = entry.stat(follow_symlinks=False)
        except OSError:
            continue
        if (names is not None and match.group("name") in names) or now - st.st_mtime > older_than:
            with contextlib.suppress(OSError):
                os.unlink(entry.path)
