"""`qoltanba renew` against `qoltanba authority serve` on loopback, every command a real process
(issue 3, "Done means"; DESIGN.md, "The command line").

With the server down the renewal waits, queued (exit 6, said so), and the new folder holds only
the pending keys, encrypted; the same command completes once the server is back with the same
data; a restarted server changes nothing. A server killed in the middle of a renewal and started
again leaves exactly one application, which the same command carries to the end. The same keys
renewed from a second folder meanwhile are refused (exit 11), never handed the first application.

Every `renew` below is the very same command line. Its hidden --max-wait keeps the client's
pauses between attempts short, so that "unreachable" is known in about a second; it also sets the
deadline of each call to the authority (5 s at least), so that an authority that answers one byte
a second queues the renewal after seconds, not minutes.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "authority"))  # authority_support
from authority_support import SlowServer

from wizard.i18n import translate
from wizard.keys.store import open_store

ROOT = Path(__file__).resolve().parents[2]
OLD_PASSWORD = "Current2025ab"
NEW_PASSWORD = "Renewed2026cd"
OLD_VAR = "QOLTANBA_TEST_OLD_PASSWORD"
NEW_VAR = "QOLTANBA_TEST_NEW_PASSWORD"
EXIT_QUEUED = 6  # AuthorityUnreachable: the renewal waits in the journal
MAX_WAIT = "0.3"  # seconds: the longest pause between two attempts at one call


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """`qoltanba authority serve` in a child process, always on one port and one data folder."""

    def __init__(self, tmp: Path, env: dict[str, str]) -> None:
        self.data = tmp / "authority"
        self.log = tmp / "authority.log"
        self.port = _free_port()
        self.env = env
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Server:
        command = [sys.executable, "-m", "wizard", "authority", "serve", "--test-faults"]
        command += ["--port", str(self.port), "--data", str(self.data)]
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                command, env=self.env, stdout=log, stderr=subprocess.STDOUT
            )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            assert self.process.poll() is None, self.log.read_text(errors="replace")
            with contextlib.suppress(OSError), socket.create_connection(self.address, 0.2):
                return self
            time.sleep(0.03)
        raise AssertionError(f"the authority did not start on {self.url}")

    @property
    def address(self) -> tuple[str, int]:
        return ("127.0.0.1", self.port)

    def stop(self, *, kill: bool = False) -> None:
        """Ctrl+C-like (terminate), or killed outright with no chance to finish anything."""
        if self.process is None:
            return
        self.process.kill() if kill else self.process.terminate()
        try:
            self.process.wait(15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(15)
        self.process = None

    def faults(self, **faults) -> None:
        import httpx

        answer = httpx.put(f"{self.url}/v1/_test/faults", json=faults, timeout=10)
        assert answer.status_code == 200, answer.text

    def applications(self) -> list[tuple[str, str]]:
        """(number, state) of every application in the authority's books."""
        with contextlib.closing(self._ledger()) as db:
            return db.execute("SELECT number, state FROM applications").fetchall()

    def _ledger(self) -> sqlite3.Connection:
        path = self.data / "authority.sqlite3"
        return sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)


class Scenario:
    """A holder with demo keys issued by the served authority, and the one `renew` command."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.home = tmp / "home"
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("QOLTANBA_")}
        self.env.update(
            PYTHONPATH=str(ROOT),
            QOLTANBA_HOME=str(self.home),
            **{OLD_VAR: OLD_PASSWORD, NEW_VAR: NEW_PASSWORD},
        )
        self.server = Server(tmp, self.env)
        self.out = tmp / "new-keys"
        self.stores: list[Path] = []

    def qoltanba(self, *args: str) -> subprocess.CompletedProcess:
        command = [sys.executable, "-m", "wizard", "--lang", "en", *args]
        return subprocess.run(
            command, env=self.env, capture_output=True, text=True, timeout=120, check=False
        )

    def demo_keys(self) -> None:
        run = self.qoltanba(
            *("demo-keys", "--out", str(self.tmp / "current"), "--password-env", OLD_VAR),
            *("--authority", self.server.url, "--json"),
        )
        assert run.returncode == 0, run
        self.stores = [Path(f) for f in json.loads(run.stdout)["files"]]
        assert len(self.stores) == 2

    def renew_command(self, *, authority: str | None = None, max_wait: str = MAX_WAIT) -> list[str]:
        """The renew command line: against the served authority unless told another URL."""
        command = [sys.executable, "-m", "wizard", "--lang", "en", "renew"]
        for store in self.stores:
            command += ["--store", str(store)]
        command += ["--password-env", OLD_VAR, "--new-password-env", NEW_VAR]
        command += ["--email", "aigerim@example.kz", "--locality", "Алматы"]
        command += ["--out", str(self.out), "--authority", authority or self.server.url, "--json"]
        return [*command, "--max-wait", max_wait]

    def renew(self) -> subprocess.CompletedProcess:
        return subprocess.run(
            self.renew_command(),
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    def journal(self) -> list[tuple[str, str | None]]:
        """(state, application) of every renewal in the journal, read as `status --json` says."""
        run = self.qoltanba("status", "--json")
        assert run.returncode == 0, run
        return [(r["status"], r["application"]) for r in json.loads(run.stdout)["renewals"]]

    def folder(self) -> dict[str, str]:
        return {p.name: _digest(p) for p in sorted(self.out.iterdir())}


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def scenario(tmp_path):
    scenario = Scenario(tmp_path)
    yield scenario
    scenario.server.stop(kill=True)


def _says_queued(run: subprocess.CompletedProcess) -> None:
    assert run.returncode == EXIT_QUEUED, run
    assert run.stderr.strip() == f"qoltanba: {translate('error.authority_unreachable', 'en')}"
    assert json.loads(run.stdout)["error"] == "authority_unreachable"


def _only_pending_encrypted_keys(folder: Path) -> None:
    names = sorted(p.name for p in folder.iterdir())
    assert [n.split("_")[:2] for n in names] == [["PENDING", "AUTH"], ["PENDING", "SIGN"]], names
    for name in names:
        data = (folder / name).read_bytes()
        with pytest.raises(TypeError):  # encrypted: nothing opens it without a password
            serialization.load_der_private_key(data, None)
        with pytest.raises(ValueError):
            serialization.load_der_private_key(data, OLD_PASSWORD.encode())
        serialization.load_der_private_key(data, NEW_PASSWORD.encode())  # standard PKCS#8


def _done(scenario: Scenario, run: subprocess.CompletedProcess) -> dict:
    assert run.returncode == 0, run
    report = json.loads(run.stdout)
    assert report["status"] == "done" and report["application"]
    names = sorted(Path(f).name for f in report["files"])
    assert sorted(scenario.folder()) == names, "the new stores and CA certificates, nothing else"
    stores = [n for n in names if n.endswith(".p12")]
    assert len(stores) == 2 and sum(n.endswith(".cer") for n in names) == 2
    old = {open_store(p, OLD_PASSWORD).facts.usage: p for p in scenario.stores}
    for name in stores:
        new = open_store(scenario.out / name, NEW_PASSWORD)
        previous = open_store(old[new.facts.usage], OLD_PASSWORD)
        assert new.certificate.subject == previous.certificate.subject
        assert not new.private_key.same_public_key(previous.private_key.public_key_info())
        assert 364 <= (new.facts.not_after - new.facts.not_before).days <= 366
    return report


def _no_password_persisted(scenario: Scenario) -> None:
    for path in [*scenario.home.rglob("*"), *scenario.out.iterdir()]:
        if path.is_file():
            data = path.read_bytes()
            for password in (OLD_PASSWORD, NEW_PASSWORD):
                assert password.encode() not in data, path
                assert password.encode("utf-16-be") not in data, path


def test_down_then_back_then_restarted(scenario):
    """The issue's "Done means" against a served authority, step by step."""
    server = scenario.server
    server.start()
    scenario.demo_keys()
    old = {p: _digest(p) for p in scenario.stores}

    # (a) The server is down: the renewal is prepared offline, then waits, queued.
    server.stop()
    _says_queued(scenario.renew())
    _only_pending_encrypted_keys(scenario.out)
    assert scenario.journal() == [("signed", None)]  # signed, not submitted: no number yet
    pending = scenario.folder()

    # (b) Back, with the same data: the same command completes.
    server.start()
    report = _done(scenario, scenario.renew())
    assert server.applications() == [(report["application"], "downloaded")]
    assert scenario.journal() == [("done", report["application"])]
    assert not set(pending) & set(scenario.folder()), "the pending keys are gone"
    installed = scenario.folder()

    # (c) Restarted again: the same command changes nothing and files nothing new.
    server.stop()
    server.start()
    again = _done(scenario, scenario.renew())
    assert again["application"] == report["application"]
    assert again["renewal"] == report["renewal"]
    assert scenario.folder() == installed
    assert server.applications() == [(report["application"], "downloaded")]
    assert scenario.journal() == [("done", report["application"])]
    assert {p: _digest(p) for p in scenario.stores} == old, "old stores untouched"
    _no_password_persisted(scenario)


def test_server_killed_mid_renewal_then_restarted(scenario):
    """Killed (SIGKILL) between two calls of a running renewal, after the application was filed:
    the command says it is queued; after a restart the same command finishes that application."""
    server = scenario.server
    server.start()
    scenario.demo_keys()
    delay = 0.3  # every answer waits this long: the renewal is slow enough to be caught in flight
    server.faults(delay=delay)
    running = subprocess.Popen(
        scenario.renew_command(),
        env=scenario.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        number = _wait_for_application(scenario.home / "journal.sqlite3", running, timeout=30)
        server.stop(kill=True)  # the next answer never comes; neither does any after it
        out, err = running.communicate(timeout=60)
    finally:
        if running.poll() is None:
            running.kill()
            running.wait()
    killed = subprocess.CompletedProcess(running.args, running.returncode, out, err)
    _says_queued(killed)
    assert json.loads(out)["application"] == number
    assert [n for n, _ in server.applications()] == [number]
    assert scenario.journal()[0][1] == number
    assert all(name.startswith("PENDING_") for name in scenario.folder())

    server.start()  # the same data; the delay fault lived only in the killed process
    report = _done(scenario, scenario.renew())
    assert report["application"] == number
    assert server.applications() == [(number, "downloaded")], "exactly one application"
    assert scenario.journal() == [("done", number)]


def test_an_authority_answering_one_byte_a_second_queues_the_renewal_within_seconds(scenario):
    """An authority that accepts, sends its status line and headers, then one byte a second for
    ever: each read comes well within httpx's timeouts, so only the call deadline ends it. With
    --max-wait 0.5 that is 5 s (the floor) for the one call made, and the renewal is queued."""
    scenario.server.start()
    scenario.demo_keys()  # the current keys come from the real (served) authority
    scenario.server.stop()
    with SlowServer("dribble", interval=1.0) as slow:
        started = time.monotonic()
        run = subprocess.run(
            scenario.renew_command(authority=slow.url, max_wait="0.5"),
            env=scenario.env,
            capture_output=True,
            text=True,
            timeout=60,  # without the call deadline: 5 attempts of a minute each
            check=False,
        )
        elapsed = time.monotonic() - started
    assert run.returncode == EXIT_QUEUED, run
    report = json.loads(run.stdout)
    assert report["error"] == "authority_call_timeout", report
    message = translate("error.authority_call_timeout", "en", seconds="5")
    assert run.stderr.strip() == f"qoltanba: {message}"
    assert slow.requests == 1 and slow.sent >= 2  # one call, its body trickling in
    # Start-up, key generation and signing, then one 5 s call: far from the renewal driver's own
    # bound of the whole run (max-wait + 30 s) and from the minutes it took before.
    assert elapsed < 25, elapsed
    _only_pending_encrypted_keys(scenario.out)
    assert scenario.journal() == [("signed", None)]  # queued: the same command continues it


def test_the_same_keys_renewed_from_a_second_folder_are_told_the_first_is_open(scenario, tmp_path):
    """Two QOLTANBA_HOME folders renewing the same keys: the second is refused at the authority
    (exit 11, the open application named) instead of being handed the first one's application,
    whose certificates would then certify keys it does not hold."""
    server = scenario.server
    server.start()
    scenario.demo_keys()
    server.faults(stuck=True)  # the first application stays open (processing)
    first = scenario.renew()
    assert first.returncode == EXIT_QUEUED, first
    number = json.loads(first.stdout)["application"]
    assert number

    elsewhere = Scenario(tmp_path / "elsewhere")
    elsewhere.server, elsewhere.stores = server, scenario.stores
    second = elsewhere.renew()
    assert second.returncode == 11, second  # RenewalBusy
    report = json.loads(second.stdout)
    assert (report["error"], report["application"]) == ("renewal_open_at_authority", number)
    message = translate("error.renewal_open_at_authority", "en", application=number)
    assert second.stderr.strip() == f"qoltanba: {message}"
    assert [n for n, _ in server.applications()] == [number], "no second application"

    server.faults()  # processing ends: the first folder's same command finishes its renewal
    assert _done(scenario, scenario.renew())["application"] == number


def _wait_for_application(journal: Path, running: subprocess.Popen, timeout: float) -> str:
    """The application number, as soon as the running renewal has recorded it."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert running.poll() is None, running.communicate()
        if journal.exists():
            for number in _applications(journal):
                return number
        time.sleep(0.01)
    raise AssertionError("the renewal never recorded an application number")


def _applications(journal: Path) -> list[str]:
    """The application numbers recorded in the journal so far (read-only, never waiting)."""
    database = sqlite3.connect(f"file:{journal}?mode=ro", uri=True)
    with contextlib.closing(database) as db, contextlib.suppress(sqlite3.OperationalError):
        rows = db.execute("SELECT data FROM renewals").fetchall()
        return [n for (data,) in rows if (n := json.loads(data).get("application"))]
    return []  # the table is not there yet
