"""Crash injection and the holder's world for the crash and concurrency suites.

The child side: ``python -c "import crash_support; crash_support.main()" ARGV...`` runs the real
command (``wizard.cli.main(ARGV)``) in that process after installing hooks, told what to do by
the JSON in ``QOLTANBA_CRASH_SPEC``:

- ``{"count": LOG}``: note every point the run passes (one JSON line each in LOG);
- ``{"kill": [kind, label, occurrence, phase], "log": LOG}``: SIGKILL this very process at that
  point (the system then drops its file locks and open files, as for a power cut of the process);
- ``{"barrier": FILE, "ready": READY, "delay": SECONDS}``: everything imported, create READY,
  wait for FILE to appear, sleep DELAY, then run (``Together`` starts two renewals so).

Points: ``journal`` (every journal write: ``RenewalJournal.start_or_resume`` and ``_write``,
labelled ``start``, ``FROM>TO`` or ``STATE+fact,fact``) with the phases ``before`` (nothing
written), ``inside`` (rows written, COMMIT not yet) and ``after`` (committed, the caller not told);
``file`` (every ``wizard.keys.files.write_new_file``, labelled by the file name with its hex
shown as ``*``) with the phases ``partial`` (half the bytes in the temporary file), ``before_link``
(the temporary file complete and synced), ``after_link`` (the final name linked, the temporary
file still there) and ``after`` (written, the caller not told).

The test side: ``Template`` (a demo holder's current keys, made once and copied per case),
``Case`` (one holder's home, new folder and temporary folder, the renew command), ``Together``
(processes started at one signal) and the checks every suite makes (``check_done``).
Only the standard library is imported at module level: the child imports this module first.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

SPEC_VAR = "QOLTANBA_CRASH_SPEC"
HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
OLD_PASSWORD = "Current2025ab"
NEW_PASSWORD = "Renewed2026cd"
OLD_VAR = "QOLTANBA_TEST_OLD_PASSWORD"
NEW_VAR = "QOLTANBA_TEST_NEW_PASSWORD"
JOURNAL_PHASES = ("before", "inside", "after")
FILE_PHASES = ("partial", "before_link", "after_link", "after")
CHILD = "import crash_support; crash_support.main()"
LAST_RESORT = "report without secrets"  # error.internal_report, as English says it
_HEX = re.compile(r"[0-9a-f]{16,}")


# ---------------------------------------------------------------------------------------------
# The child: hooks, then the real command


def file_label(name: str) -> str:
    return _HEX.sub("*", name)


class Hook:
    """Counts points, or kills this process at one of them."""

    def __init__(self, spec: dict) -> None:
        self.count_log = spec.get("count")
        self.log = spec.get("log") or self.count_log
        target = spec.get("kill")
        self.target = tuple(target[:3]) if target else None
        self.phase = target[3] if target else None
        self.seen: dict[tuple[str, str], int] = {}
        self.active: list[tuple[str, str, int]] = []

    def _note(self, line: dict) -> None:
        if self.log:
            fd = os.open(self.log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            try:
                os.write(fd, (json.dumps(line) + "\n").encode())
            finally:
                os.close(fd)

    def kill(self, where: tuple[str, str, int], phase: str) -> None:
        self._note({"killed": [*where, phase]})
        os.kill(os.getpid(), signal.SIGKILL)
        time.sleep(30)  # never reached: SIGKILL cannot be caught

    def wants(self, phase: str) -> bool:
        """The innermost point under way is the target, and ``phase`` the one to kill at."""
        return bool(self.active) and self.active[-1] == self.target and phase == self.phase

    def at(self, phase: str) -> None:
        """A phase inside the point under way (inside, partial, before_link, after_link)."""
        if self.wants(phase):
            self.kill(self.active[-1], phase)

    @contextlib.contextmanager
    def point(self, kind: str, label: str):
        occurrence = self.seen.get((kind, label), 0) + 1
        self.seen[(kind, label)] = occurrence
        where = (kind, label, occurrence)
        if self.count_log:
            self._note({"kind": kind, "label": label, "occurrence": occurrence})
        if where == self.target and self.phase == "before":
            self.kill(where, "before")
        self.active.append(where)
        try:
            yield
        finally:
            self.active.pop()
        if where == self.target and self.phase == "after":
            self.kill(where, "after")

    # --- installing ----------------------------------------------------------------------------

    def install(self) -> None:
        self._install_files()
        self._install_journal()

    def _install_journal(self) -> None:
        from wizard.renewal.journal import RenewalJournal

        hook = self
        write, start, transaction = (
            RenewalJournal._write,
            RenewalJournal.start_or_resume,
            RenewalJournal._transaction,
        )

        def _write(journal, renewal, to, data):
            if to is renewal.state:
                label = f"{renewal.state.value}+{','.join(sorted(data))}"
            else:
                label = f"{renewal.state.value}>{to.value}"
            with hook.point("journal", label):
                return write(journal, renewal, to, data)

        def start_or_resume(journal, *args, **kwargs):
            with hook.point("journal", "start"):
                return start(journal, *args, **kwargs)

        @contextlib.contextmanager
        def _transaction(journal):
            with transaction(journal) as db:
                yield db
                hook.at("inside")  # every row of this write is in; COMMIT comes next

        RenewalJournal._write = _write
        RenewalJournal.start_or_resume = start_or_resume
        RenewalJournal._transaction = _transaction

    def _install_files(self) -> None:
        import wizard.keys.files as files

        hook = self
        write_new_file, place = files.write_new_file, files._place
        real_fsync = os.fsync

        def hooked_write_new_file(folder, name, data):
            label = file_label(name)
            if Path(folder).name == "revocation":  # the revocation cache in the home
                label = f"revocation/{label}"
            with hook.point("file", label):
                if hook.wants("partial"):
                    os.fsync = _half_then_kill(Path(folder), name, len(data), real_fsync)
                try:
                    return write_new_file(folder, name, data)
                finally:
                    os.fsync = real_fsync

        def hooked_place(temporary, final):
            hook.at("before_link")
            place(temporary, final)
            hook.at("after_link")

        def _half_then_kill(folder: Path, name: str, size: int, fsync):
            def fsync_or_kill(fd: int) -> None:
                ours = {
                    p.stat().st_ino
                    for p in folder.glob(f".{glob_escape(name)}.*.tmp")
                    if files.TEMPORARY.match(p.name)
                }
                if os.fstat(fd).st_ino in ours:
                    os.ftruncate(fd, size // 2)  # as if the rest never reached the disk
                    fsync(fd)
                    hook.at("partial")
                fsync(fd)

            return fsync_or_kill

        files.write_new_file = hooked_write_new_file
        files._place = hooked_place
        # the modules that took the name already (imported here, so that none is missed)
        import wizard.keys.writer as writer
        import wizard.renewal.process as process

        for module in (writer, process):
            if getattr(module, "write_new_file", None) is write_new_file:
                module.write_new_file = hooked_write_new_file


def glob_escape(text: str) -> str:
    return re.sub(r"([*?\[])", r"[\1]", text)


def main() -> None:
    spec = json.loads(os.environ.pop(SPEC_VAR, "{}") or "{}")
    hook = Hook(spec)
    if spec.get("count") or spec.get("kill"):
        hook.install()
    from wizard.cli import main as cli_main

    if spec.get("barrier"):
        # everything a renewal needs is loaded before the start signal
        import wizard.authority.client
        import wizard.authority.mock
        import wizard.renewal.process  # noqa: F401

        Path(spec["ready"]).touch()
        barrier = Path(spec["barrier"])
        deadline = time.monotonic() + 60
        while not barrier.exists():
            if time.monotonic() > deadline:
                raise SystemExit("qoltanba: (test) the start signal never came")
            time.sleep(0.001)
        time.sleep(float(spec.get("delay", 0)))
    raise SystemExit(cli_main(sys.argv[1:]))


# ---------------------------------------------------------------------------------------------
# The test side: a demo holder's keys, made once, and one case (home, folders, command, checks)


def base_env(home: Path, tmp: Path | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("QOLTANBA_")}
    env.update(
        PYTHONPATH=os.pathsep.join([str(ROOT), str(HERE)]),
        QOLTANBA_HOME=str(home),
        QOLTANBA_LANG="en",
        PYTHONDONTWRITEBYTECODE="1",
        **{OLD_VAR: OLD_PASSWORD, NEW_VAR: NEW_PASSWORD},
    )
    if tmp is not None:
        env["TMPDIR"] = str(tmp)  # this case's own lock and report folders
    return env


def qoltanba(env: dict[str, str], *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "wizard", "--lang", "en", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


class Template:
    """A demo holder's current keys, issued by the in-process demo authority of ``home`` (copied
    with them into each case) or by the served authority at ``authority``."""

    def __init__(self, folder: Path, scheme: str = "rsa", authority: str = "demo") -> None:
        self.folder = folder
        self.scheme = scheme
        self.home = folder / "home"
        self.current = folder / "current"
        run = qoltanba(
            base_env(self.home, None),
            *("demo-keys", "--out", str(self.current), "--password-env", OLD_VAR),
            *("--scheme", scheme, "--authority", authority, "--json"),
        )
        assert run.returncode == 0, run
        self.stores = [Path(f).name for f in json.loads(run.stdout)["files"]]
        assert len(self.stores) == (1 if scheme == "gost" else 2), self.stores
        self.digests = {name: (self.current / name).read_bytes() for name in self.stores}

    def signer(self) -> bytes:
        """The DER of the current signing certificate (how an authority's books name it)."""
        from wizard.keys.store import open_store

        for name in self.stores:
            store = open_store(self.current / name, OLD_PASSWORD)
            if "sign" in store.facts.usage:
                return store.contents.certificates[0]
        raise AssertionError("no signing store")


class Case:
    """One holder: a copy of the template's home (its demo authority) and current keys, the new
    folder, a temporary folder of its own, and every run of the one renew command."""

    def __init__(
        self,
        template: Template,
        folder: Path,
        *,
        home: Path | None = None,
        copy_home: bool = True,
        own_tmp: bool = True,
    ) -> None:
        self.template = template
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        self.home = home or folder / "home"
        if copy_home and not self.home.exists():
            shutil.copytree(template.home, self.home)
        self.current = folder / "current"
        if not self.current.exists():
            shutil.copytree(template.current, self.current)
        self.out = folder / "new-keys"
        self.tmp = folder / "tmp"
        self.tmp.mkdir(exist_ok=True)
        # The crash cases each have their own temporary folder (the renewal locks, the reports'
        # fallback); concurrent runs share the user's, as two windows of one person do.
        self.env = base_env(self.home, self.tmp if own_tmp else None)
        self.runs: list[subprocess.CompletedProcess] = []

    @property
    def stores(self) -> list[Path]:
        return [self.current / name for name in self.template.stores]

    def renew_args(self, authority: str = "demo") -> list[str]:
        args = ["--lang", "en", "renew"]
        for store in self.stores:
            args += ["--store", str(store)]
        args += ["--password-env", OLD_VAR, "--new-password-env", NEW_VAR]
        args += ["--email", "aigerim@example.kz", "--locality", "Алматы"]
        args += ["--out", str(self.out), "--authority", authority, "--json"]
        return [*args, "--max-wait", "2"]

    def hooked(self, authority: str = "demo") -> list[str]:
        """The renew command run by ``crash_support.main`` (hooks first, then the CLI)."""
        return [sys.executable, "-c", CHILD, *self.renew_args(authority)]

    def run_hooked(self, spec: dict, authority: str = "demo") -> subprocess.CompletedProcess:
        run = subprocess.run(
            self.hooked(authority),
            env={**self.env, SPEC_VAR: json.dumps(spec)},
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        self.runs.append(run)
        return run

    def renew(self, authority: str = "demo") -> subprocess.CompletedProcess:
        run = subprocess.run(
            [sys.executable, "-m", "wizard", *self.renew_args(authority)],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        self.runs.append(run)
        return run

    # --- what the case looks like ----------------------------------------------------------------

    def demo_ledger(self) -> Path:
        return self.home / "demo-authority" / "authority.sqlite3"

    def journal_rows(self) -> list[tuple[str, str | None]]:
        """(state, application) of every renewal in this home's journal."""
        path = self.home / "journal.sqlite3"
        if not path.exists():
            return []
        rows = read_only(path, "SELECT state, data FROM renewals ORDER BY created_at")
        return [(state, json.loads(data).get("application")) for state, data in rows]

    def folder_names(self) -> list[str]:
        return sorted(p.name for p in self.out.iterdir()) if self.out.exists() else []


def read_only(database: Path, sql: str, *args) -> list[tuple]:
    """Rows of ``sql`` in ``database``, opened read-only (WAL contents included)."""
    db = sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=10)
    with contextlib.closing(db):
        return db.execute(sql, args).fetchall()


def applications(ledger: Path, signer: bytes | None = None) -> list[tuple[str, str]]:
    """(number, state) of every application in a mock authority's books (signed by ``signer``,
    the DER of a current signing certificate, when given)."""
    if signer is None:
        rows = read_only(ledger, "SELECT number, state FROM applications")
    else:
        rows = read_only(ledger, "SELECT number, state FROM applications WHERE signer = ?", signer)
    return [tuple(r) for r in rows]


def issued_for(ledger: Path, number: str) -> set[bytes]:
    rows = read_only(ledger, "SELECT certificate FROM certificates WHERE number = ?", number)
    return {bytes(r[0]) for r in rows}


class Together:
    """Processes that start their command at one moment: each loads everything, says it is
    ready, then waits for the start signal (a file) and its own small delay. Every process is
    killed when the ``with`` ends, whatever happened."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        self.signal = folder / "go"
        self.processes: list[subprocess.Popen] = []

    def start(self, args: list[str], env: dict[str, str], delay: float = 0.0) -> None:
        ready = self.folder / f"ready-{len(self.processes)}"
        spec = {"barrier": str(self.signal), "ready": str(ready), "delay": delay}
        self.processes.append(
            subprocess.Popen(
                [sys.executable, "-c", CHILD, *args],
                env={**env, SPEC_VAR: json.dumps(spec)},
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
        )

    def go(self, timeout: float = 60) -> None:
        """Wait until every process is ready, then give the start signal."""
        deadline = time.monotonic() + timeout
        for index, process in enumerate(self.processes):
            while not (self.folder / f"ready-{index}").exists():
                assert process.poll() is None, process.communicate()
                assert time.monotonic() < deadline, "a process never got ready"
                time.sleep(0.005)
        self.signal.touch()

    def results(self, timeout: float = 120) -> list[subprocess.CompletedProcess]:
        done = []
        for process in self.processes:
            out, err = process.communicate(timeout=timeout)
            done.append(subprocess.CompletedProcess(process.args, process.returncode, out, err))
        return done

    def __enter__(self) -> Together:
        return self

    def __exit__(self, *exc: object) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.kill()
            process.wait(30)
            for stream in (process.stdout, process.stderr):
                if stream is not None:
                    stream.close()


# --- the checks every suite makes --------------------------------------------------------------


def stderr_problems(runs: list[subprocess.CompletedProcess]) -> list[str]:
    """Lines of any run's stderr that are not one of Qoltanba's own ``qoltanba: `` lines, or that
    say the last-resort handler fired."""
    bad = []
    for run in runs:
        for line in (run.stderr or "").splitlines():
            if not line.startswith("qoltanba: ") or LAST_RESORT in line or "Traceback" in line:
                bad.append(line)
    return bad


def password_hits(*roots: Path) -> list[str]:
    """Files under ``roots`` holding either password (UTF-8, UTF-16BE as PKCS#12's BMPString,
    UTF-16LE as Windows would)."""
    needles = []
    for password in (OLD_PASSWORD, NEW_PASSWORD):
        needles += [password.encode(e) for e in ("utf-8", "utf-16-be", "utf-16-le")]
    hits = []
    for root in roots:
        if not root.exists():
            continue
        for path in sorted(root.rglob("*")):
            if path.is_file() and not path.is_symlink():
                data = path.read_bytes()
                hits += [f"{path}: {n!r}" for n in needles if n in data]
    return hits


def reports(case: Case) -> list[Path]:
    """Last-resort reports: in the home, or in this case's temporary folder."""
    found = list((case.home / "reports").glob("*")) if (case.home / "reports").exists() else []
    found += list(case.tmp.glob("qoltanba-reports-*/*"))
    if (case.home / "reports").exists():
        found.append(case.home / "reports")
    return found


def check_done(
    case: Case,
    report: dict,
    ledger: Path,
    *,
    stores: int,
    signer: bytes | None = None,
    runs: list[subprocess.CompletedProcess] | None = None,
    homes: tuple[Path, ...] = (),
) -> None:
    """The renewal is done, once: one application (the reported one) at the authority, one
    renewal in the journal, the new folder holding exactly the new stores and CA certificates
    (no pending key, no temporary file), the new stores opening with the new password and
    holding what the authority issued; the old stores untouched; no password anywhere."""
    from wizard.keys.store import open_store

    number = report["application"]
    assert report["status"] == "done" and number, report
    filed = applications(ledger, signer)
    assert filed == [(number, "downloaded")], f"exactly one application: {filed}"
    assert case.journal_rows() == [("done", number)], "exactly one renewal, done"
    names = case.folder_names()
    assert names == sorted(Path(f).name for f in report["files"]), names
    assert all(n.endswith((".p12", ".cer")) and not n.startswith((".", "PENDING_")) for n in names)
    p12 = [n for n in names if n.endswith(".p12")]
    assert len(p12) == stores and len(names) == stores + 2, names  # + issuing and root CA
    installed = {open_store(case.out / n, NEW_PASSWORD).contents.certificates[0] for n in p12}
    assert installed == issued_for(ledger, number), "the stores hold what was issued"
    old = {name: (case.current / name).read_bytes() for name in case.template.stores}
    assert old == case.template.digests, "the old stores are byte for byte as they were"
    assert sorted(p.name for p in case.current.iterdir()) == sorted(case.template.stores)
    places = (case.home, *homes, case.out, case.tmp)
    assert not password_hits(*places), password_hits(*places)
    assert not reports(case), reports(case)
    for home in homes:
        assert not (home / "reports").exists(), home
    assert not stderr_problems(case.runs if runs is None else runs), stderr_problems(
        case.runs if runs is None else runs
    )
