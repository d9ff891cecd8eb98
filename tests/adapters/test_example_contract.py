"""The contract suite (wizard.authority.testing) against the example adapter, proved from outside:
the adapter is a separate package (tests/adapters/example), installed through its entry point
and found by name in the registry, with its own wire protocol (JSON lines over TCP) and its own
server. Its server poses as a real authority (``--production``): info says it is no demo, its
holders come from a CA it was told to trust (made here with `cryptography`), and its one-time
codes arrive by "SMS" (a file), so every hook of the suite is the adapter's own."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.serialization import Encoding
from example_support import ExampleServer, ca_file, ca_holder, installed

from wizard.authority.adapters import OpenOptions, resolve
from wizard.authority.interface import Authority
from wizard.authority.testing import AuthorityContract, HolderKeys


class TestExampleAdapter(AuthorityContract):
    server: ExampleServer
    home: Path

    @pytest.fixture(autouse=True, scope="class")
    @classmethod
    def _server(cls, tmp_path_factory, throwaway_ca) -> Iterator[None]:
        installed()
        folder = tmp_path_factory.mktemp("example")
        cls.home = folder / "home"
        cls.ca = throwaway_ca
        server = ExampleServer(
            folder / "books",
            production=True,
            trust=(ca_file(throwaway_ca, folder),),
            sms=folder / "sms.jsonl",
        )
        cls.server = server.start()
        try:
            yield
        finally:
            server.stop()

    @pytest.fixture(autouse=True)
    def _address(self, monkeypatch) -> None:
        monkeypatch.setenv("QOLTANBA_EXAMPLE_AUTHORITY", self.server.address)

    def make_authority(self) -> Authority:
        chosen = resolve("example")  # through the entry point, as `--authority example` does
        assert type(chosen.adapter).__module__ == "qoltanba_example"
        return chosen.open(OpenOptions(home=self.home, max_wait=5))

    async def make_holder(
        self, authority: Authority, holder: str = "individual", days_left: int = 30
    ) -> HolderKeys:
        return ca_holder(self.ca, holder, days_left)

    async def one_time_code(self, authority: Authority, number: str) -> str:
        return self.server.code(number)[1]

    def test_it_says_it_is_no_demo_and_takes_the_ca_it_was_given(self) -> None:
        async def scenario(authority: Authority) -> None:
            info = await authority.info()
            assert info.demo is False
            assert self.ca.cert.public_bytes(Encoding.DER) in info.accepted_issuers

        self.run(scenario)
