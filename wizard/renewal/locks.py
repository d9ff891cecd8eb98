"""One renewal per key set at a time, whatever runs at once: two windows, the wizard and the
command line, or two runs with different QOLTANBA_HOME folders.

A lock per current certificate (its SHA-256 fingerprint) in one folder per user of this machine,
taken without waiting: the second comer hears "running in another window" (RenewalBusy) instead of
filing a second application. The locks are `filelock` locks (flock / LockFileEx): the system drops
them when their process dies, so a killed run never leaves a renewal locked for good.
"""

from __future__ import annotations

import hashlib
import os
import stat
import tempfile
from collections.abc import Iterable
from pathlib import Path

from wizard.errors import RenewalBusy


def _user_tag() -> str:
    getuid = getattr(os, "getuid", None)
    if getuid is not None:
        return str(getuid())
    import getpass

    return hashlib.sha256(getpass.getuser().encode("utf-8", "replace")).hexdigest()[:12]


def _private_folder(path: Path) -> bool:
    """``path`` is (now) a real folder of ours that nobody else can write into."""
    try:
        path.mkdir(mode=0o700, exist_ok=True)
        st = os.lstat(path)
    except OSError:
        return False
    if not stat.S_ISDIR(st.st_mode):
        return False  # a symlink or a file planted in the shared temporary folder
    getuid = getattr(os, "getuid", None)
    if getuid is not None and st.st_uid != getuid():
        return False
    return not st.st_mode & 0o022


def lock_folder(home: Path | None = None) -> Path:
    """Where the locks live: one folder per user of this machine (shared by every home), or,
    when the system's temporary folder cannot be trusted, the home's own ``locks``."""
    machine_wide = Path(tempfile.gettempdir()) / f"qoltanba-locks-{_user_tag()}"
    if _private_folder(machine_wide):
        return machine_wide
    if home is None:
        raise RenewalBusy("renewal_lock_unavailable", path=str(machine_wide))
    own = home / "locks"
    if _private_folder(own):
        return own
    raise RenewalBusy("renewal_lock_unavailable", path=str(own))


class RenewalLock:
    """The locks of one key set; ``acquire()`` never waits, ``release()`` is idempotent."""

    def __init__(self, fingerprints: Iterable[str], home: Path | None = None) -> None:
        self.fingerprints = tuple(sorted(set(fingerprints)))
        self.home = home
        self._held: list = []

    @property
    def held(self) -> bool:
        return bool(self._held)

    def acquire(self) -> None:
        if self._held:
            return
        from filelock import FileLock, Timeout

        folder = lock_folder(self.home)
        try:
            for fingerprint in self.fingerprints:
                # thread_local=False: the wizard takes it on its loop and works in a worker thread
                lock = FileLock(
                    folder / f"{fingerprint[:40]}.lock", timeout=0, mode=0o600, thread_local=False
                )
                lock.acquire()
                self._held.append(lock)
        except Timeout:
            self.release()
            raise RenewalBusy() from None
        except OSError as exc:
            self.release()
            raise RenewalBusy("renewal_lock_unavailable", path=str(folder)) from exc

    def release(self) -> None:
        while self._held:
            self._held.pop().release()

    def __enter__(self) -> RenewalLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()
