"""Revocation in the wizard (the model driven as its buttons drive it, in-process demo authority):
step 3's key cards say whether each key is revoked and where that answer came from; a revoked key
cannot go on; the done screen revokes the old keys at the authority, whose OCSP then says so."""

from __future__ import annotations

import asyncio
from pathlib import Path
from types import SimpleNamespace

import flet as ft
import httpx
import pytest

from wizard.authority.mock import create_app
from wizard.authority.revocation import RevocationOptions, check_certificate
from wizard.i18n import LANGUAGES, translate
from wizard.keys.revocation import Status
from wizard.ui.model import DEMO_PASSWORD, Services, WizardModel

NEW = "Tulpar-Saryarqa-42"


@pytest.fixture(autouse=True)
def _online(monkeypatch):
    for var in ("QOLTANBA_OFFLINE", "QOLTANBA_OCSP_URL", "QOLTANBA_TRUST"):
        monkeypatch.delenv(var, raising=False)


def _model(home: Path, lang: str = "en") -> WizardModel:
    return WizardModel(Services(home=home, max_wait=0.5, keys_root=home / "keys"), lang)


async def _opened(m: WizardModel) -> None:
    m.start_new()
    m.confirm_start()
    m.confirm_storage()
    await m.make_demo_keys()
    m.current_password = DEMO_PASSWORD
    m.open_keys()
    await m.check_revocation()


def _texts(control) -> list[str]:
    """Every text a control tree shows."""
    found = []
    if isinstance(control, ft.Text) and control.value:
        found.append(str(control.value))
    for name in ("content", "controls"):
        child = getattr(control, name, None)
        if isinstance(child, list):
            for item in child:
                found += _texts(item)
        elif isinstance(child, str):  # a button's label
            found.append(child)
        elif child is not None:
            found += _texts(child)
    return found


def _screen_texts(m: WizardModel, view) -> str:
    ui = SimpleNamespace(platform=SimpleNamespace(), toast=lambda text: None)
    return "\n".join(text for control in view(m, ui) for text in _texts(control))


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
    assert m.keys_ok and not m.revocation_checking
    for card in m.cards:
        assert (card.revocation.status, card.revocation.source) == (Status.GOOD, "ocsp")
    for lang in LANGUAGES:
        m.set_language(lang)
        shown = _screen_texts(m, open_keys.view)
        status = translate("revocation.status.good", lang)
        source = translate("revocation.source.ocsp", lang)
        assert translate("revocation.line", lang, status=status, source=source) in shown
        assert translate("revocation.detail.responder_good", lang) in shown
    asyncio.run(m.close())


def test_a_revoked_key_is_refused_at_step_3(tmp_path):
    from wizard.ui.screens import open_keys

    m = _model(tmp_path, "kk")
    asyncio.run(_opened(m))
    serial = m._stores[0].certificate.serial_number
    _revoke_in_books(tmp_path, serial)
    m.open_keys()  # again, as the button does: the CRLs at hand know nothing yet
    assert m.keys_ok
    asyncio.run(m.check_revocation())
    revoked = m.cards[0]
    assert (revoked.revocation.status, revoked.revocation.source) == (Status.REVOKED, "ocsp")
    assert (revoked.renewable, revoked.reason) == (False, "revoked")
    assert revoked.revocation.reason == "key_compromise"
    assert not m.keys_ok
    m.continue_from_keys()
    assert m.screen == "open"  # no way on
    shown = _screen_texts(m, open_keys.view)
    assert translate("revocation.status.revoked", "kk") in shown
    assert translate("verdict.revoked", "kk") in shown  # what to do instead: egov.kz or a ЦОН
    assert translate("revocation.reason.key_compromise", "kk") in shown
    asyncio.run(m.close())


def test_unknown_goes_on_and_says_so(tmp_path, monkeypatch):
    from wizard.ui.screens import open_keys

    monkeypatch.setenv("QOLTANBA_OFFLINE", "1")
    m = _model(tmp_path, "ru")
    asyncio.run(_opened(m))
    assert all(card.revocation.status is Status.UNKNOWN for card in m.cards)
    assert all(card.revocation.detail == "offline" for card in m.cards)
    assert m.keys_ok
    shown = _screen_texts(m, open_keys.view)
    assert translate("revocation.unknown_policy", "ru") in shown
    m.continue_from_keys()
    assert m.screen == "application"
    asyncio.run(m.close())


def test_the_done_screen_revokes_the_old_keys(tmp_path):
    from wizard.ui.screens import done

    async def scenario() -> WizardModel:
        m = _model(tmp_path)
        await _opened(m)
        m.continue_from_keys()
        m.email, m.locality, m.application_ok = "a@example.kz", "Astana", True
        m.submit_application()
        m.new_password = m.new_password2 = NEW
        m.understood = True
        await m.accept_password()
        m.code = m.demo_sms
        await m.confirm_code()
        assert m.screen == "done", (m.screen, m.work_error)
        assert m.can_revoke_old
        assert translate("done.revoke_old", "en") in _screen_texts(m, done.view)
        await m.revoke_old_keys()
        return m

    m = asyncio.run(scenario())
    assert m.revoke_error is None, m.revoke_error and m.revoke_error.text("en")
    assert m.old_keys_revoked is not None and not m.can_revoke_old
    assert m.old_keys_revoked.text("en") == translate("done.revoked_old", "en", count=2)
    shown = _screen_texts(m, done.view)
    assert translate("done.revoked_old", "en", count=2) in shown
    old = [s.certificate for s in m._current.stores.values()]
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
    m = WizardModel(
        Services(home=tmp_path, authority=served, max_wait=0.5, keys_root=tmp_path / "keys")
    )
    asyncio.run(_opened(m))
    assert all(c.revocation.origin == f"{served}/v1/pki/ocsp" for c in m.cards)
    assert all(c.revocation.status is Status.GOOD for c in m.cards) and m.keys_ok
    serial = format(m._stores[1].certificate.serial_number, "x")
    answer = httpx.post(f"{served}/v1/_test/revocations", json={"serial": serial}, timeout=10)
    assert answer.status_code == 200
    m.open_keys()
    asyncio.run(m.check_revocation())
    assert [c.revocation.status for c in m.cards] == [Status.GOOD, Status.REVOKED]
    assert m.cards[1].reason == "revoked" and not m.keys_ok
    m.continue_from_keys()
    assert m.screen == "open"
    asyncio.run(m.close())
