"""Support for tests/hostile/test_cli_cases.py: `qoltanba` run as a real process with its own
environment (or in this process through ``wizard.cli.main``), the checks every failure must pass
(exit code, one translated ``qoltanba: `` line, no traceback, the last-resort handler silent), a
renewal carried part of the way through the Python API, and mounts (a full tmpfs, a read-only
bind) that are always undone.

Everything here talks to 127.0.0.1 only: the authority is the in-process demo, or the served mock
of tests/renewal/test_served_cli.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import io
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

TESTS = Path(__file__).resolve().parents[1]
ROOT = TESTS.parent
for _folder in (TESTS, TESTS / "renewal"):  # test_cli's and test_served_cli's helpers
    if str(_folder) not in sys.path:
        sys.path.insert(0, str(_folder))

from test_cli import _one_line  # noqa: E402

from wizard.i18n import LANGUAGES, catalogue  # noqa: E402

MATERIAL = ROOT.parent / "shared" / "nca-test-material"
MATERIAL_PASSWORD = "Qwerty12"  # README of the material
G = MATERIAL / "gost2015-2026" / "individual_valid.p12"
OLD_VAR, NEW_VAR = "QOLTANBA_TEST_OLD_PASSWORD", "QOLTANBA_TEST_NEW_PASSWORD"
OLD_PASSWORD, NEW_PASSWORD = "Current2025ab", "Renewed2026cd"
# What the last-resort handler says, in every language (its line, then the report's path).
LAST_RESORT = (
    "A report without secrets",
    *(
        catalogue(lang).get("error.internal_report", "{").split("{")[0].strip() or "Traceback"
        for lang in LANGUAGES
    ),
)
# Set to make the mount fixtures act as if this machine could not mount (tries the fallbacks).
NO_MOUNT_VAR = "QOLTANBA_TEST_NO_MOUNT"


# ---------------------------------------------------------------------------------------------
# Runs and their checks


@dataclass
class Result:
    """One `qoltanba` run: exit code, stdout and stderr as bytes, and ways to read them."""

    code: int
    stdout: bytes
    stderr: bytes
    argv: Sequence[str | bytes] = ()

    def __repr__(self) -> str:
        return (
            f"<qoltanba {' '.join(map(repr, self.argv[3:]))}: exit {self.code}"
            f" out={self.stdout[:400]!r} err={self.stderr[:1200]!r}>"
        )

    @property
    def out(self) -> str:
        return self.stdout.decode("utf-8")  # strictly: stdout is always valid UTF-8

    @property
    def err(self) -> str:
        return self.stderr.decode("utf-8")

    def json(self):
        return json.loads(self.out)

    def line(self) -> str:
        """The one ``qoltanba: `` line on stderr (and nothing else there)."""
        return _one_line(self.err)

    def notices(self) -> list[str]:
        lines = self.err.splitlines()
        assert all(line.startswith("qoltanba: ") for line in lines), self
        return lines


def fails(result: Result, code: int) -> str:
    """The run failed with ``code`` and said so in exactly one line; that line."""
    assert result.code == code, result
    line = result.line()
    assert "Traceback" not in result.err, result
    assert not re.search(r"\b[A-Z][A-Za-z]*(Error|Exception)\b", line), line  # a raw exception
    return line


def last_resort_silent(stderr: str, home: Path | None) -> None:
    """The last-resort handler never fired: no report line, no HOME/reports folder."""
    for line in stderr.splitlines():
        assert not any(words in line for words in LAST_RESORT), stderr
    assert "Traceback" not in stderr, stderr
    if home is not None:
        reports = Path(home) / "reports"
        assert not reports.exists(), f"the last-resort handler wrote {list(reports.iterdir())}"


def translated(first: str, second: str) -> None:
    """Two lines of one refusal, in two languages: different, the second not English."""
    assert first != second, (first, second)
    assert any("\u0400" <= ch <= "\u04ff" for ch in second), second


def clean_environment(home: Path) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("QOLTANBA_", "LC_", "PYTHONIOENCODING")) and k not in ("LANG",)
    }
    env.update(
        PYTHONPATH=str(ROOT),
        QOLTANBA_HOME=str(home),
        **{OLD_VAR: OLD_PASSWORD, NEW_VAR: NEW_PASSWORD},
    )
    return env


def renew_argv(
    stores: Sequence[Path | bytes],
    out: Path | str | bytes,
    *,
    email: str | bytes = "aigerim@example.kz",
    locality: str | bytes = "Almaty",
) -> list:
    """`renew` of ``stores`` into ``out`` with the test passwords, answering in JSON."""
    args: list = ["renew"]
    for store in stores:
        args += ["--store", store if isinstance(store, bytes) else str(store)]
    args += ["--password-env", OLD_VAR, "--new-password-env", NEW_VAR]
    out = out if isinstance(out, bytes) else str(out)
    return [*args, "--email", email, "--locality", locality, "--out", out, "--json"]


class Qoltanba:
    """`python -m wizard ...` as a child process, its state in ``home``; every run is checked
    for the last-resort handler, and one that hangs fails the test after ``timeout``."""

    def __init__(self, tmp: Path, home: Path | None = None) -> None:
        self.tmp = tmp
        self.home = home or tmp / "home"
        self.env = clean_environment(self.home)

    def __call__(
        self,
        *args: str | bytes | os.PathLike,
        lang: str | None = "en",
        stdin: bytes = b"",
        env: dict | None = None,
        timeout: float = 60,
        **popen,
    ) -> Result:
        argv: list = [sys.executable, "-m", "wizard", *(("--lang", lang) if lang else ())]
        argv += [a if isinstance(a, bytes) else str(a) for a in args]
        environment: dict = {**self.env, **(env or {})}
        if any(isinstance(a, bytes) for a in argv):
            argv = [os.fsencode(a) for a in argv]
        if any(isinstance(k, bytes) or isinstance(v, bytes) for k, v in environment.items()):
            environment = {os.fsencode(k): os.fsencode(v) for k, v in environment.items()}
        try:
            done = subprocess.run(
                argv,
                env=environment,
                input=stdin,
                capture_output=True,
                timeout=timeout,
                check=False,
                cwd=self.tmp,
                **popen,
            )
        except subprocess.TimeoutExpired as hung:  # run() has killed it
            pytest.fail(f"qoltanba {args!r} hung for {timeout} s: {hung.stderr!r}")
        result = Result(done.returncode, done.stdout, done.stderr, argv)
        last_resort_silent(done.stderr.decode("utf-8", "replace"), self.home)
        return result

    def demo_keys(self, out: Path, *, scheme: str = "gost", **popen) -> list[Path]:
        """A demo holder's current stores, issued by the demo authority of this home."""
        run = self("demo-keys", "--out", out, "--password-env", OLD_VAR, "--scheme", scheme,
                   "--json", **popen)  # fmt: skip
        assert run.code == 0, run
        return sorted(Path(out).glob("*.p12"))

    def renew(
        self,
        stores: Sequence[Path | bytes],
        out: Path | str | bytes,
        *,
        email: str | bytes = "aigerim@example.kz",
        locality: str | bytes = "Almaty",
        **options,
    ) -> Result:
        return self(*renew_argv(stores, out, email=email, locality=locality), **options)

    def status(self) -> list[dict]:
        run = self("status", "--json")
        assert run.code == 0 and run.stderr == b"", run
        return run.json()["renewals"]


def completed(result: Result) -> dict:
    """A renewal that finished: its report; the folder holds exactly the files it lists."""
    assert result.code == 0, result
    report = result.json()
    assert report["status"] == "done" and report["application"], report
    folder = Path(report["folder"])
    assert sorted(p.name for p in folder.iterdir()) == sorted(Path(f).name for f in report["files"])
    return report


def leftovers(folder: Path) -> list[str]:
    """Temporary files and pending keys left in a folder."""
    if not folder.exists():
        return []
    return sorted(
        p.name
        for p in folder.iterdir()
        if p.name.startswith("PENDING_") or (p.name.startswith(".") and p.name.endswith(".tmp"))
    )


# ---------------------------------------------------------------------------------------------
# In this process (for monkeypatched variants)


@dataclass
class InProcess:
    code: int
    out: str
    err: str

    def line(self) -> str:
        return _one_line(self.err)


def run_in_process(monkeypatch, home: Path, *argv: str, env: dict | None = None) -> InProcess:
    """`qoltanba ARGV` through wizard.cli.main with QOLTANBA_HOME=home; checks that the last-resort
    handler never fired."""
    from wizard import reports
    from wizard.cli import main

    for var in ("QOLTANBA_LANG", "QOLTANBA_TRUST", "LC_ALL", "LC_MESSAGES", "LANG", "LANGUAGE"):
        monkeypatch.delenv(var, raising=False)
    for var, value in {
        "QOLTANBA_HOME": str(home),
        OLD_VAR: OLD_PASSWORD,
        NEW_VAR: NEW_PASSWORD,
        **(env or {}),
    }.items():
        monkeypatch.setenv(var, value)
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))
    fired = len(reports.FIRED)
    out, err = io.StringIO(), io.StringIO()
    code = main(["--lang", "en", *argv], out=out, err=err)
    assert len(reports.FIRED) == fired, reports.FIRED
    last_resort_silent(err.getvalue(), home)
    return InProcess(code, out.getvalue(), err.getvalue())


# ---------------------------------------------------------------------------------------------
# A renewal carried part of the way through the Python API


@dataclass
class Prepared:
    journal: Any  # RenewalJournal
    renewal: Any  # Renewal
    current: Any  # CurrentKeys
    details: Any  # RenewalDetails


def prepared_renewal(
    home: Path,
    stores: Sequence[Path],
    out: Path,
    upto,
    *,
    password: str = OLD_PASSWORD,
    email: str = "aigerim@example.kz",
    locality: str = "Almaty",
) -> Prepared:
    """The renewal of ``stores`` taken offline up to state ``upto`` (at most SIGNED) in
    ``home``'s journal, for the demo authority, exactly as `qoltanba renew` would have left it."""
    from wizard.keys.store import open_store
    from wizard.renewal.journal import RenewalJournal
    from wizard.renewal.process import RenewalDetails, Renewer, current_keys

    journal = RenewalJournal(home / "journal.sqlite3")
    current = current_keys([open_store(p, password) for p in stores])
    details = RenewalDetails(email=email, locality=locality, folder=out, new_password=NEW_PASSWORD)
    renewer = Renewer(journal, None, "demo", home=home)  # type: ignore[arg-type]  # offline only
    try:
        renewal = renewer.begin(current, details)
        while renewal.state is not upto:
            renewal = asyncio.run(renewer.step(renewal, current, details, None))  # type: ignore[arg-type]
    finally:
        renewer.release()
    return Prepared(journal, renewal, current, details)


# ---------------------------------------------------------------------------------------------
# Mounts, always undone


def _can_mount() -> bool:
    return (
        not os.environ.get(NO_MOUNT_VAR)
        and hasattr(os, "geteuid")
        and os.geteuid() == 0
        and shutil.which("mount") is not None
    )


def _mount(*args: str) -> bool:
    done = subprocess.run(["mount", *args], capture_output=True, check=False, timeout=30)
    return done.returncode == 0


def _unmount(where: Path) -> None:
    done = subprocess.run(["umount", str(where)], capture_output=True, check=False, timeout=30)
    if done.returncode != 0:  # still busy (a child that outlived its test): detach it lazily
        subprocess.run(["umount", "-l", str(where)], capture_output=True, check=True, timeout=30)


@contextlib.contextmanager
def tmpfs(where: Path, *, size: str = "64k", read_only: bool = False) -> Iterator[Path | None]:
    """A small tmpfs mounted on ``where`` (created), unmounted afterwards; None where this
    machine cannot mount (not root): the caller then takes its monkeypatched variant."""
    where.mkdir(parents=True, exist_ok=True)
    options = f"size={size},mode=0700" + (",ro" if read_only else "")
    if not _can_mount() or not _mount("-t", "tmpfs", "-o", options, "tmpfs", str(where)):
        yield None
        return
    try:
        yield where
    finally:
        _unmount(where)


@contextlib.contextmanager
def read_only_bind(where: Path) -> Iterator[Path | None]:
    """``where`` bind-mounted on itself, read-only; None where this machine cannot mount."""
    if not _can_mount() or not _mount("--bind", str(where), str(where)):
        yield None
        return
    try:
        if not _mount("-o", "remount,bind,ro", str(where)):
            yield None
            return
        yield where
    finally:
        _unmount(where)


def fill(folder: Path) -> Path:
    """Fill the file system of ``folder`` to the last byte; the filler file."""
    filler = folder / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        while True:
            os.write(fd, b"\0" * 4096)
    except OSError as exc:
        assert exc.errno == errno.ENOSPC, exc
    finally:
        os.close(fd)
    return filler


def enospc_under(monkeypatch, folder: Path) -> None:
    """Without a full file system to hand: every fsync of a file under ``folder`` fails with
    ENOSPC, as the kernel reports a full disk at fsync (Linux: the fd's path via /proc)."""
    real_fsync = os.fsync
    inside = str(folder)

    def fsync(fd: int) -> None:
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            target = ""
        if target.startswith(inside + "/"):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)


def read_only_under(monkeypatch, folder: Path) -> None:
    """Without a read-only mount to hand: ``folder`` and everything in it say "not writable"
    to os.access, as a read-only mount does even for root."""
    real_access = os.access
    inside = str(folder)

    def access(path, mode, *args, **kwargs) -> bool:
        text = os.fsdecode(path) if not isinstance(path, int) else ""
        if mode & os.W_OK and (text == inside or text.startswith(inside + "/")):
            return False
        return real_access(path, mode, *args, **kwargs)

    monkeypatch.setattr(os, "access", access)
