"""The Authority contract (wizard.authority.testing) run against the built-in adapters: the mock
in-process (``--authority demo``: ASGI, no socket) and the mock served on loopback
(``--authority http://127.0.0.1:PORT``, a real `qoltanba authority serve` process). The example
adapter installed from tests/adapters/example runs it too (tests/adapters/test_example_contract.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from authority_support import ServedAuthority

from wizard.authority.adapters import OpenOptions, resolve
from wizard.authority.interface import Authority
from wizard.authority.testing import DemoAuthorityContract


class TestInProcessMock(DemoAuthorityContract):
    """``--authority demo``, opened through the adapter registry as the command line opens it."""

    @pytest.fixture(autouse=True)
    def _home(self, tmp_path) -> None:
        self.home = tmp_path / "home"
        self.home.mkdir()

    def make_authority(self) -> Authority:
        return resolve("demo").open(OpenOptions(home=self.home, keep_loop_responsive=False))


class TestServedMock(DemoAuthorityContract):
    """``--authority http://127.0.0.1:PORT``: the `mock-http` adapter against a served mock, one
    server process for the whole class (each test makes its own holders)."""

    url: str
    home: Path

    @pytest.fixture(autouse=True, scope="class")
    @classmethod
    def _server(cls, tmp_path_factory) -> Iterator[None]:
        server = ServedAuthority(tmp_path_factory.mktemp("served")).start()
        cls.url = server.url
        cls.home = tmp_path_factory.mktemp("served-home")
        try:
            yield
        finally:
            server.stop()

    def make_authority(self) -> Authority:
        chosen = resolve(self.url)
        assert chosen.name == "mock-http"
        return chosen.open(OpenOptions(home=self.home, max_wait=0.5))
