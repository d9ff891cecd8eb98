"""Revocation in the wizard (the model driven as its buttons drive it, in-process demo authority):
step 3's key cards say whether each key is revoked and where that answer came from; a revoked key
cannot go on; the done screen revokes the old keys at the authority, whose OCSP then says so."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import httpx
import pytest

from wizard.authority.mock import create_app
from wizard.authority.revocation import RevocationOptions, check_certificate
from wizard.i18n import LANGUAGES, translate
from wizard.keys.revocation import Status
from wizard.ui.model import WizardModel

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "ui"))  # wizard_steps
from wizard_steps import enter_demo_code, model, shown_text, to_code, to_keys


@pytest.fixture(autouse=True)
def _online(monkeypatch):
    for var in ("QOLTANBA_OFFLINE", "QOLTANBA_OCSP_URL", "QOLTANBA_TRUST"):
        monkeypatch.delenv(var, raising=False)


_model = model


async def _opened(m: WizardModel) -> None:
    """Step 3 with the demo keys opened and asked about at the authority ("Open")."""
    await to_keys(m, check=True)


def _revoke_in_books(home: Path, serial: int, reason: str = "key_compromise") -> None:
    app = create_app(home / "demo-authority", test_endpoints=True)

    async def revoke() -> None:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://books") as client:
            body = {"serial": format(serial, "x"), "reason": reason}
            assert (await client.post("/v1/_test/revocations", json=body)).status_code == 200

    asyncio.run(revoke())
    app.state.authority.close()


def test_the_key_cards_say_good_by_ocsp_in_every_language(tmp_path):
    from wizard.ui.screens import open_keys

    m = _model(tmp_path)
    asyncio.run(_opened(m))
    assert m.keys.keys_ok and not m.keys.revocation_checking
    for card in m.keys.cards:
        assert (card.revocation.status, card.revocation.source) == (Status.GOOD, "ocsp")
    for lang in LANGUAGES:
        m.set_language(lang)
        shown = shown_text(m, open_keys.view)
        status = translate("revocation.status.good", lang)
        source = translate("revocation.source.ocsp", lang)
        assert translate("revocation.line", lang, status=status, source=source) in shown
        assert translate("revocation.detail.responder_good", lang) in shown
    asyncio.run(m.close())


def test_a_revoked_key_is_refused_at_step_3(tmp_path):
    from wizard.ui.screens import open_keys

    m = _model(tmp_path, "kk")
    asyncio.run(_opened(m))
    serial = m.keys._stores[0].certificate.serial_number
    _revoke_in_books(tmp_path, serial)
    m.keys.open_keys()  # again, as the button does: the CRLs at hand know nothing yet
    assert m.keys.keys_ok
    asyncio.run(m.keys.check_revocation())
    revoked = m.keys.cards[0]
    assert (revoked.revocation.status, revoked.revocation.source) == (Status.REVOKED, "ocsp")
    assert (revoked.renewable, revoked.reason) == (False, "revoked")
    assert revoked.revocation.reason == "key_compromise"
    assert not m.keys.keys_ok
    m.continue_from_keys()
    assert m.screen == "open"  # no way on
    shown = shown_text(m, open_keys.view)
    assert translate("revocation.status.revoked", "kk") in shown
    assert translate("verdict.revoked", "kk") in shown  # what to do instead: egov.kz or a ЦОН
    assert translate("revocation.reason.key_compromise", "kk") in shown
    asyncio.run(m.close())


def test_unknown_goes_on_and_says_so(tmp_path, monkeypatch):
    from wizard.ui.screens import open_keys

    monkeypatch.setenv("QOLTANBA_OFFLINE", "1")
    m = _model(tmp_path, "ru")
    asyncio.run(_opened(m))
    assert all(card.revocation.status is Status.UNKNOWN for card in m.keys.cards)
    assert all(card.revocation.detail == "offline" for card in m.keys.cards)
    assert m.keys.keys_ok
    shown = shown_text(m, open_keys.view)
    assert translate("revocation.unknown_policy", "ru") in shown
    m.continue_from_keys()
    assert m.screen == "application"
    asyncio.run(m.close())


def test_the_done_screen_revokes_the_old_keys(tmp_path):
    from wizard.ui.screens import done
    from wizard.ui.widgets import revoke_dialog

    async def scenario() -> WizardModel:
        m = _model(tmp_path)
        await to_code(m, check=True)
        await enter_demo_code(m)
        assert m.screen == "done", (m.screen, m.progress.work_error)
        assert m.done.can_revoke_old
        assert translate("done.revoke_old", "en") in shown_text(m, done.view)
        # it cannot be undone: the button asks first; "Keep them for now" changes nothing
        m.done.ask_revoke()
        for lang in ("kk", "ru", "en"):
            m.set_language(lang)
            asked = shown_text(m, done.view)
            assert translate("done.revoke_what", lang) in asked, lang
            assert translate("done.revoke_yes", lang) in asked, lang
        m.done.keep_old_keys()
        assert revoke_dialog(m) is None and m.done.can_revoke_old
        m.done.ask_revoke()
        assert revoke_dialog(m) is not None
        await m.done.revoke_old_keys()  # the dialog's "Revoke the old keys"
        assert revoke_dialog(m) is None
        return m

    m = asyncio.run(scenario())
    said = m.done
    assert said.revoke_error is None, said.revoke_error and said.revoke_error.text("en")
    assert said.old_keys_revoked is not None and not said.can_revoke_old
    assert said.old_keys_revoked.text("en") == translate("done.revoked_old", "en", count=2)
    shown = shown_text(m, done.view)
    assert translate("done.revoked_old", "en", count=2) in shown
    old = [s.certificate for s in m.keys._current.stores.values()]
    asyncio.run(m.close())
    options = RevocationOptions(home=tmp_path)
    for certificate in old:
        answer = asyncio.run(check_certificate(certificate, options))
        assert (answer.status, answer.source, answer.reason) == (
            Status.REVOKED,
            "ocsp",
            "superseded",
        )


def test_the_served_authority_revokes_and_the_wizard_refuses_at_step_3(tmp_path, served):
    """End to end against the served mock: demo keys from it, its OCSP over a socket says good;
    revoked through its test endpoint, the wizard's step 3 says revoked and goes no further."""
    m = _model(tmp_path, authority=served)
    asyncio.run(_opened(m))
    cards = m.keys.cards
    assert all(c.revocation.origin == f"{served}/v1/pki/ocsp" for c in cards)
    assert all(c.revocation.status is Status.GOOD for c in cards) and m.keys.keys_ok
    serial = format(m.keys._stores[1].certificate.serial_number, "x")
    answer = httpx.post(f"{served}/v1/_test/revocations", json={"serial": serial}, timeout=10)
    assert answer.status_code == 200
    m.keys.open_keys()
    asyncio.run(m.keys.check_revocation())
    cards = m.keys.cards
    assert [c.revocation.status for c in cards] == [Status.GOOD, Status.REVOKED]
    assert cards[1].reason == "revoked" and not m.keys.keys_ok
    m.continue_from_keys()
    assert m.screen == "open"
    asyncio.run(m.close())
