"""Shared helpers for the authority tests: demo holders and a served mock authority."""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from wizard.keys import cms, profile
from wizard.keys.keypair import KeyPair, RsaKeyPair
from wizard.keys.oids import Holder
from wizard.keys.request import build_request

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


@dataclass
class DemoHolder:
    """A demo holder's current keys, issued by the authority under test."""

    keys: dict[str, KeyPair]
    certificates: dict[str, bytes]

    def sign(self, usage: str, data: bytes) -> bytes:
        return cms.sign(
            data,
            self.keys[usage],
            self.certificates[usage],
            signing_time=dt.datetime.now(dt.UTC),
        )


async def demo_holder(authority, holder: str = "individual", days_left: int = 30) -> DemoHolder:
    subject = profile.subject(profile.DEMO_HOLDERS[Holder(holder)])
    keys = {usage: RsaKeyPair.generate() for usage in ("auth", "sign")}
    requests = [(u, build_request(k, subject)) for u, k in keys.items()]
    issued = await authority.demo_issue_holder("RSA", holder, days_left, requests)
    return DemoHolder(keys, {c.usage: c.certificate for c in issued.certificates})
