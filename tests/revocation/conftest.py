"""Fixtures of the revocation tests: the RSA and GOST throwaway chains (made once per run), and
``chain``, each test run once per scheme."""

from __future__ import annotations

import contextlib
import socket
import subprocess
import sys
import time

import pytest
from revocation_support import Chain, free_port, make_chain

from wizard.keys.oids import Scheme


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="session")
def rsa_chain() -> Chain:
    return make_chain(Scheme.RSA)


@pytest.fixture(scope="session")
def gost_chain() -> Chain:
    return make_chain(Scheme.GOST2015)


@pytest.fixture(params=["rsa", "gost"])
def chain(request) -> Chain:
    return request.getfixturevalue(f"{request.param}_chain")


@pytest.fixture
def served(tmp_path):
    """`qoltanba authority serve --test-faults` in a child process on a free loopback port: its
    certificates name that port for OCSP and CRLs."""
    port = free_port()
    log_path = tmp_path / "authority.log"
    command = [sys.executable, "-m", "wizard", "authority", "serve", "--test-faults"]
    command += ["--port", str(port), "--data", str(tmp_path / "books")]
    with log_path.open("wb") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 30
    while True:
        assert process.poll() is None, log_path.read_text()
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            break
        assert time.monotonic() < deadline, "the authority did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    process.terminate()
    try:
        process.wait(15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(15)
