"""SoftHSM2 tokens for the token tests, each in its own temporary SOFTHSM2_CONF and token folder.

Without SoftHSM2 (Debian's softhsm2), OpenSC's pkcs11-tool (opensc) or python-pkcs11 (the
``tokens`` extra, in the ``test`` extra too) these tests skip locally with the reason, and fail in
CI, which installs them (.ci/run).
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import pytest

SOFTHSM_MODULES = (
    "/usr/lib/softhsm/libsofthsm2.so",
    "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
    "/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so",
    "/usr/lib64/pkcs11/libsofthsm2.so",
    "/usr/local/lib/softhsm/libsofthsm2.so",
)
SO_PIN = "Qo-so-8842"
PIN = "Kx7mQ2pL"  # not a factory PIN
FACTORY_PIN = "12345678"  # Kaztoken's
LABEL = "qoltanba-test"


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def need(reason: str) -> None:
    if in_ci():
        pytest.fail(f"{reason}; CI must install it (.ci/run)", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def pkcs11_lib() -> None:
    """python-pkcs11 is importable (skip locally, fail in CI, when it is not)."""
    try:
        import pkcs11  # noqa: F401
    except ImportError:
        need("python-pkcs11 is not installed (pip install -e '.[test]' or '.[tokens]')")


@pytest.fixture(scope="session")
def softhsm_module(pkcs11_lib) -> Path:
    if shutil.which("softhsm2-util") is None:
        need("SoftHSM2 is not installed (apt-get install softhsm2)")
    for path in SOFTHSM_MODULES:
        if Path(path).is_file():
            return Path(path)
    need("SoftHSM2's PKCS#11 module was not found")
    raise AssertionError("unreachable")


@pytest.fixture(scope="session")
def pkcs11_tool() -> str:
    tool = shutil.which("pkcs11-tool")
    if tool is None:
        need("OpenSC's pkcs11-tool is not installed (apt-get install opensc)")
    return str(tool)


@dataclass
class SoftToken:
    """One initialised SoftHSM2 token in its own configuration."""

    module: Path
    conf: Path
    label: str
    pin: str
    home: Path
    env: dict[str, str] = field(default_factory=dict)

    def tool(self, pkcs11_tool: str, *args: str, login: bool = True) -> str:
        """pkcs11-tool on this token (the independent checker), logged in; its stdout."""
        login_args = ["--login", "--pin", self.pin] if login else []
        result = subprocess.run(
            [
                pkcs11_tool,
                "--module",
                str(self.module),
                "--token-label",
                self.label,
                *login_args,
                *args,
            ],
            capture_output=True,
            env={**os.environ, "SOFTHSM2_CONF": str(self.conf)},
            check=False,
            timeout=120,
        )
        assert result.returncode == 0, result.stderr.decode(errors="replace")
        return result.stdout.decode("utf-8", "replace")

    def tool_bytes(self, pkcs11_tool: str, *args: str) -> bytes:
        result = subprocess.run(
            [pkcs11_tool, "--module", str(self.module), "--token-label", self.label, *args],
            capture_output=True,
            env={**os.environ, "SOFTHSM2_CONF": str(self.conf)},
            check=False,
            timeout=120,
        )
        assert result.returncode == 0, result.stderr.decode(errors="replace")
        return result.stdout


def make_token(tmp: Path, module: Path, *, pin: str = PIN, label: str = LABEL) -> SoftToken:
    folder = tmp / "softhsm"
    (folder / "tokens").mkdir(parents=True)
    conf = folder / "softhsm2.conf"
    conf.write_text(
        f"directories.tokendir = {folder / 'tokens'}\nobjectstore.backend = file\n"
        "log.level = ERROR\n",
        encoding="utf-8",
    )
    subprocess.run(
        [
            *("softhsm2-util", "--init-token", "--free", "--label", label),
            *("--so-pin", SO_PIN, "--pin", pin),
        ],
        env={**os.environ, "SOFTHSM2_CONF": str(conf)},
        capture_output=True,
        check=True,
        timeout=60,
    )
    return SoftToken(module=module, conf=conf, label=label, pin=pin, home=tmp / "home")


@pytest.fixture
def soft_token(tmp_path, softhsm_module, monkeypatch) -> SoftToken:
    token = make_token(tmp_path, softhsm_module)
    monkeypatch.setenv("SOFTHSM2_CONF", str(token.conf))
    monkeypatch.setenv("QOLTANBA_HOME", str(token.home))
    return token


@pytest.fixture
def factory_token(tmp_path, softhsm_module, monkeypatch) -> SoftToken:
    token = make_token(tmp_path, softhsm_module, pin=FACTORY_PIN)
    monkeypatch.setenv("SOFTHSM2_CONF", str(token.conf))
    monkeypatch.setenv("QOLTANBA_HOME", str(token.home))
    return token


class Run:
    def __init__(self, code: int, out: str, err: str) -> None:
        self.code, self.out, self.err = code, out, err

    def __repr__(self) -> str:
        return f"<exit {self.code} out={self.out[:300]!r} err={self.err!r}>"


@pytest.fixture
def qoltanba(monkeypatch):
    """qoltanba(*argv, env={...}) through wizard.cli.main in this process."""
    from wizard.cli import main

    def run(*argv: str, env: dict[str, str] | None = None) -> Run:
        for name, value in (env or {}).items():
            monkeypatch.setenv(name, value)
        out, err = io.StringIO(), io.StringIO()
        code = main([str(a) for a in argv], out=out, err=err)
        return Run(code, out.getvalue(), err.getvalue())

    return run
