"""Fixtures for the mock authority: a DEMO CA made once per run and copied, spare RSA keys made
once, and `desk`, a factory of (app, client, clock) whose answers are checked against OpenAPI."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator

import httpx
import pytest
from mock_support import BASE_URL, Clock, Desk, conforming

from wizard.authority.mock import create_app
from wizard.authority.mock.ledger import DATABASE_NAME
from wizard.keys.keypair import RsaKeyPair

SPARE_KEYS = 10


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="session")
def spare_keys() -> list[RsaKeyPair]:
    """RSA-2048 pairs made once (generation is the slow part); each test's authority is its own,
    so tests may reuse them, but within one test every key is used once."""
    return [RsaKeyPair.generate() for _ in range(SPARE_KEYS)]


@pytest.fixture(scope="session")
def ca_template(tmp_path_factory):
    """A data folder whose DEMO CAs are already made: copying it saves two RSA generations."""
    folder = tmp_path_factory.mktemp("authority-template")
    app = create_app(folder)
    app.state.authority.close()
    return folder / DATABASE_NAME


@pytest.fixture
async def desk(tmp_path, spare_keys, ca_template) -> AsyncIterator:
    """``await desk(**create_app options)`` -> a Desk; every answer is checked against OpenAPI."""
    opened: list[Desk] = []
    keys = list(spare_keys)  # shared by every Desk of the test: a restarted app sees new keys

    async def make(*, data_dir=None, clock=None, fresh=False, **options) -> Desk:
        folder = data_dir or tmp_path / f"authority-{len(opened)}"
        if not fresh and not (folder / DATABASE_NAME).exists():
            folder.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(ca_template, folder / DATABASE_NAME)
        clock = clock or Clock()
        options.setdefault("test_endpoints", True)
        app = create_app(folder, clock=clock, **options)
        client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app),
            base_url=BASE_URL,
            event_hooks={
                "response": [
                    conforming(
                        demo=options.get("demo", True), test_endpoints=options["test_endpoints"]
                    )
                ]
            },
        )
        made = Desk(app, client, clock, folder, keys=keys)
        opened.append(made)
        return made

    yield make
    for made in opened:
        await made.client.aclose()
        made.authority.close()
