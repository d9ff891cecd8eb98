"""Shared helpers for the authority tests: a served mock authority, and servers on loopback that
misbehave at the socket level (dribbling, silent, endless, hanging up). Demo holders for the
contract suite: wizard.authority.testing."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.05)
    raise RuntimeError(f"the authority did not start on port {port}")


class ServedAuthority:
    """`qoltanba authority serve` in a child process on 127.0.0.1; can be stopped and restarted."""

    def __init__(self, data: Path, *, test_faults: bool = True) -> None:
        self.data = data
        self.port = free_port()
        self.test_faults = test_faults
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> ServedAuthority:
        args = [
            sys.executable,
            "-m",
            "wizard",
            "authority",
            "serve",
            "--port",
            str(self.port),
            "--data",
            str(self.data),
        ]
        if self.test_faults:
            args.append("--test-faults")
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        self.process = subprocess.Popen(
            args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        wait_for_port(self.port)
        return self

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
            self.process = None


class SlowServer:
    """A raw HTTP/1.1 server on 127.0.0.1 that answers badly on purpose, one thread per connection:

    - ``dribble``: status line and headers at once, then a JSON body one byte every ``interval``
      seconds, forever;
    - ``dribble_head``: the status line and headers themselves one byte every ``interval``;
    - ``silent``: reads the request and never answers;
    - ``huge``: a 200 JSON answer of ``size`` bytes, as fast as the client reads it;
    - ``truncated``: announces 1000 bytes of body, sends 10, hangs up.

    Use as a context manager. It stops by itself when the ``with`` ends, and in any case after
    ``lifetime`` seconds (a test that forgets it cannot leave it running)."""

    MODES = ("dribble", "dribble_head", "silent", "huge", "truncated")

    def __init__(
        self,
        mode: str,
        *,
        interval: float = 1.0,
        size: int = 8 * 1024 * 1024,
        lifetime: float = 120.0,
    ) -> None:
        assert mode in self.MODES, mode
        self.mode = mode
        self.interval = interval
        self.size = size
        self.lifetime = lifetime
        self.requests = 0
        self.sent = 0  # body bytes sent, all connections together
        self._stopped = threading.Event()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.1)
        self.port = self._listener.getsockname()[1]
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        self._timer: threading.Timer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> SlowServer:
        self._spawn(self._accept)
        self._timer = threading.Timer(self.lifetime, self.stop)
        self._timer.daemon = True
        self._timer.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def stop(self) -> None:
        self._stopped.set()
        with contextlib.suppress(OSError):
            self._listener.close()
        if threading.current_thread() is self._timer:
            return  # the lifetime ran out: the threads end on their own
        if self._timer is not None:
            self._timer.cancel()
        for thread in list(self._threads):
            thread.join(5)

    def _spawn(self, target, *args) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True)
        with self._lock:
            self._threads.append(thread)
        thread.start()

    def _accept(self) -> None:
        while not self._stopped.is_set():
            try:
                connection, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return  # closed by stop()
            self._spawn(self._serve, connection)

    def _serve(self, connection: socket.socket) -> None:
        with connection, contextlib.suppress(OSError):
            connection.settimeout(0.1)
            if not self._read_head(connection):
                return
            with self._lock:
                self.requests += 1
            getattr(self, "_" + self.mode)(connection)

    def _read_head(self, connection: socket.socket) -> bool:
        data = b""
        while b"\r\n\r\n" not in data:
            if self._stopped.is_set():
                return False
            try:
                chunk = connection.recv(65536)
            except TimeoutError:
                continue
            if not chunk:
                return False
            data += chunk
        return True

    def _drip(self, connection: socket.socket, data: bytes, *, body: bool) -> bool:
        """``data`` one byte every ``interval``; False once stopped or the client is gone."""
        for index in range(len(data)):
            connection.sendall(data[index : index + 1])
            if body:
                with self._lock:
                    self.sent += 1
            if self._stopped.wait(self.interval):
                return False
        return True

    _HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n"

    def _dribble(self, connection: socket.socket) -> None:
        connection.sendall(self._HEAD)
        if self._drip(connection, b"{", body=True):
            while self._drip(connection, b" ", body=True):
                pass

    def _dribble_head(self, connection: socket.socket) -> None:
        if self._drip(connection, self._HEAD, body=False):
            self._dribble(connection)

    def _silent(self, connection: socket.socket) -> None:
        while not self._stopped.is_set():
            try:
                if not connection.recv(65536):
                    return  # the client gave up
            except TimeoutError:
                continue

    def _huge(self, connection: socket.socket) -> None:
        connection.settimeout(5)
        connection.sendall(self._HEAD + b'{"name": "')
        chunk = b"A" * 65536
        while self.sent < self.size and not self._stopped.is_set():
            connection.sendall(chunk)
            with self._lock:
                self.sent += len(chunk)

    def _truncated(self, connection: socket.socket) -> None:
        head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n"
        connection.sendall(head + b'{"name": "')
        with self._lock:
            self.sent += 10
