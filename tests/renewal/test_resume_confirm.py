"""Resuming at the one-time code: a run that ended while confirming (the answer lost after the
authority acted on it, or the request never reaching it) never stops the next run of the same
renewal from finishing, and never makes a second application."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest

from wizard.authority.client import HttpAuthority
from wizard.authority.mock import create_app
from wizard.errors import AuthorityUnreachable
from wizard.keys import profile
from wizard.keys.keypair import RsaKeyPair
from wizard.keys.oids import Holder
from wizard.keys.request import build_request
from wizard.keys.store import open_store
from wizard.keys.writer import save_store
from wizard.renewal.journal import RenewalJournal, RenewalState
from wizard.renewal.process import RenewalDetails, Renewer, current_keys

OLD_PASSWORD = "Current2025ab"
NEW_PASSWORD = "Renewed2026cd"


class ConfirmTrouble(httpx.AsyncBaseTransport):
    """The in-process mock, except that confirming fails: "lost" (the authority acts, the answer
    never arrives) or "down" (the request never arrives)."""

    def __init__(self, app) -> None:
        self.inner = httpx.ASGITransport(app=app)
        self.trouble: str | None = None

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        confirming = request.url.path.endswith("/confirm")
        if confirming and self.trouble == "down":
            raise httpx.ConnectError("the authority is down", request=request)
        response = await self.inner.handle_async_request(request)
        if confirming and self.trouble == "lost":
            await response.aread()
            raise httpx.ReadError("the connection dropped after the answer", request=request)
        return response


@pytest.fixture
def setup(tmp_path: Path):
    app = create_app(tmp_path / "authority", demo=True)
    transport = ConfirmTrouble(app)
    journal = RenewalJournal(tmp_path / "home" / "journal.sqlite3")

    def authority() -> HttpAuthority:
        return HttpAuthority("http://authority.test", transport=transport, max_attempts=1)

    async def issue_current() -> list[Path]:
        subject = profile.subject(profile.DEMO_HOLDERS[Holder.INDIVIDUAL])
        keys = {u: RsaKeyPair.generate() for u in ("auth", "sign")}
        requests = [(u, build_request(k, subject)) for u, k in keys.items()]
        async with authority() as client:
            issued = await client.demo_issue_holder("RSA", "individual", 30, requests)
        folder = tmp_path / "current"
        folder.mkdir()
        return [
            save_store(folder, keys[c.usage], c.certificate, OLD_PASSWORD)
            for c in issued.certificates
        ]

    stores = asyncio.run(issue_current())

    async def renew():
        async with authority() as client:
            renewer = Renewer(journal, client, "demo", max_wait=2)
            current = current_keys([open_store(p, OLD_PASSWORD) for p in stores])
            details = RenewalDetails("a@b.kz", "Алматы", tmp_path / "new", NEW_PASSWORD)

            async def code(number, attempts_left):
                return (await client.demo_codes(number))[-1]

            return await asyncio.wait_for(renewer.run(current, details, code), timeout=10)

    return transport, journal, app, lambda: asyncio.run(renew())


@pytest.mark.parametrize(("trouble", "runs"), [("lost", 1), ("down", 3)])
def test_a_run_ended_while_confirming_does_not_block_the_next(setup, trouble, runs):
    transport, journal, app, renew = setup
    transport.trouble = trouble
    for _ in range(runs):  # "down" three times: as many attempts as the authority allows
        with pytest.raises(AuthorityUnreachable):
            renew()
        assert journal.all()[0].state is RenewalState.AWAITING_CODE
    transport.trouble = None
    done = renew()
    assert done.state is RenewalState.DONE
    assert len(journal.all()) == 1
    applications = app.state.authority.ledger.all("SELECT number FROM applications")
    assert [row["number"] for row in applications] == [done.application]
