"""The example authority's server as a child process on 127.0.0.1 (tests/adapters/example), and
holders whose current keys come from a throwaway CA it was told to trust."""

from __future__ import annotations

import datetime as dt
import json
import os
import select
import subprocess
import sys
import time
from pathlib import Path

from cryptography.hazmat.primitives import serialization

from wizard.authority.testing import HolderKeys
from wizard.keys.keypair import RsaKeyPair

ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT = 30.0


def installed() -> None:
    """Fail (never skip) when the example adapter is not installed the way CI installs it."""
    try:
        import qoltanba_example  # noqa: F401
    except ImportError as exc:
        raise AssertionError(
            "the example adapter is not installed: .venv/bin/pip install -e tests/adapters/example"
            " (the README's test command does it)"
        ) from exc


class ExampleServer:
    """`python -m qoltanba_example.server` in a child process; it also stops by itself after
    ``lifetime`` seconds, so a test that forgets it cannot leave it running."""

    def __init__(
        self,
        data: Path,
        *,
        production: bool = False,
        trust: tuple[Path, ...] = (),
        sms: Path | None = None,
        lifetime: float = 300.0,
    ) -> None:
        self.data, self.production, self.trust = data, production, trust
        self.sms, self.lifetime = sms, lifetime
        self.process: subprocess.Popen[bytes] | None = None
        self.address = ""

    def __enter__(self) -> ExampleServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def start(self) -> ExampleServer:
        command = [sys.executable, "-m", "qoltanba_example.server", "--data", str(self.data)]
        command += ["--lifetime", str(self.lifetime)]
        for path in self.trust:
            command += ["--trust", str(path)]
        if self.production:
            command.append("--production")
        if self.sms is not None:
            command += ["--sms", str(self.sms)]
        self.data.mkdir(parents=True, exist_ok=True)
        log = (self.data / "server.log").open("ab")
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        self.process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=log, env=env)
        log.close()
        assert self.process.stdout is not None
        ready, _, _ = select.select([self.process.stdout], [], [], START_TIMEOUT)
        line = self.process.stdout.readline().decode() if ready else ""
        if not line.startswith("listening "):
            self.stop()
            raise AssertionError(f"the example server did not start: {self.log()}")
        self.address = line.split()[1]
        return self

    def log(self) -> str:
        path = self.data / "server.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop(self) -> None:
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(10)
        if self.process.stdout is not None:
            self.process.stdout.close()
        self.process = None

    def code(self, number: str | None = None, timeout: float = 20.0) -> tuple[str, str]:
        """(application number, one-time code) of the latest SMS the production pose sent (for
        ``number`` when given), waiting for it to arrive."""
        assert self.sms is not None, "only the production pose has an SMS gateway"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.sms.exists():
                lines = self.sms.read_text(encoding="utf-8").splitlines()
                found = [json.loads(line) for line in lines if line.strip()]
                found = [m for m in found if number is None or m["number"] == number]
                if found:
                    return found[-1]["number"], found[-1]["code"]
            time.sleep(0.05)
        raise AssertionError(f"no SMS for {number or 'any application'} within {timeout} s")


def ca_file(ca, folder: Path) -> Path:
    """A throwaway CA's certificate as a file the server can be told to trust."""
    path = folder / "holder-ca.cer"
    path.write_bytes(ca.cert.public_bytes(serialization.Encoding.DER))
    return path


def ca_holder(ca, holder: str = "individual", days_left: int = 30) -> HolderKeys:
    """Current NCA-shaped RSA keys of kind ``holder`` issued by the throwaway CA ``ca``."""
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    if days_left > 0:
        not_before, not_after = now - dt.timedelta(days=30), now + dt.timedelta(days=days_left)
    else:
        not_before, not_after = now - dt.timedelta(days=365), now + dt.timedelta(days=days_left - 1)
    keys, certificates = {}, {}
    for usage in ("auth", "sign"):
        pair = RsaKeyPair.generate()
        certificate, _ = ca.issue(
            kind=usage, holder=holder, key=pair.key, not_before=not_before, not_after=not_after
        )
        keys[usage] = pair
        certificates[usage] = certificate.public_bytes(serialization.Encoding.DER)
    return HolderKeys(keys, certificates)
