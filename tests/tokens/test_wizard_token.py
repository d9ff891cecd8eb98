"""The wizard's token path (issue #13 item 5) on a SoftHSM2 token, driven as its buttons drive it:
the storage step offers the token, the keys screen says the PIN state before the PIN is typed and
lists the token's keys with verdicts, the same flow goes on to "done", which names the token."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from types import SimpleNamespace

import flet as ft
import pytest

from wizard.i18n import LANGUAGES
from wizard.ui.model import Services, WizardModel

PIN_VAR = "QOLTANBA_TEST_PIN"


def _texts(control) -> list[str]:
    found = []
    if isinstance(control, ft.Text) and control.value:
        found.append(str(control.value))
    for name in ("content", "controls"):
        child = getattr(control, name, None)
        if isinstance(child, list):
            for item in child:
                found += _texts(item)
        elif isinstance(child, str):
            found.append(child)
        elif child is not None:
            found += _texts(child)
    return found


def _shown(m: WizardModel) -> str:
    from wizard.ui.app import VIEWS

    ui = SimpleNamespace(platform=SimpleNamespace(), toast=lambda text: None)
    return "\n".join(t for control in VIEWS[m.screen](m, ui) for t in _texts(control))


def _model(token, lang: str = "en", modules=None) -> WizardModel:
    services = Services(
        home=token.home,
        max_wait=0.5,
        keys_root=token.home / "keys",
        token_modules=(token.module,) if modules is None else modules,
    )
    return WizardModel(services, lang)


def _demo(qoltanba, token) -> dict:
    run = qoltanba("--lang", "en", "demo-keys", "--token", "--module", token.module,
                   "--pin-env", PIN_VAR, "--json", env={PIN_VAR: token.pin})  # fmt: skip
    assert run.code == 0, run
    return json.loads(run.out)


def _applications(token) -> int:
    ledger = token.home / "demo-authority" / "authority.sqlite3"
    with sqlite3.connect(f"file:{ledger}?mode=ro", uri=True) as db:
        return db.execute("SELECT count(*) FROM applications").fetchone()[0]


async def _to_keys(m: WizardModel, pin: str) -> None:
    m.start_new()
    m.confirm_start()
    m.choose_storage("kaztoken")
    assert m.token_mode
    m.confirm_storage()
    assert m.screen == "open", m.open_error
    assert m.tokens.chosen is not None and m.tokens.chosen.pin_state == "ok"
    m.set_token_pin(pin)
    await m.open_token()


def test_a_whole_renewal_on_the_token_in_the_wizard(qoltanba, soft_token, pkcs11_tool):
    made = _demo(qoltanba, soft_token)

    async def scenario() -> tuple[WizardModel, dict[str, str]]:
        m = _model(soft_token)
        await _to_keys(m, "not-the-pin-1")  # a wrong one first: the token says so
        shown = {"wrong": m.open_error.text("en") if m.open_error else ""}
        assert not m.keys_ok and m.token_pin == ""
        assert m.tokens.chosen.pin_state == "count_low"  # what SoftHSM2 says after a wrong one
        shown["pin_state"] = _shown(m)
        m.set_token_pin(soft_token.pin)
        await m.open_token()
        assert m.token_pin == ""  # the PIN went to the token; the model keeps none
        assert m.keys_ok, m.open_error
        assert sorted(c.file_name[:4] for c in m.cards) == ["AUTH", "RSA2"]
        assert all(card.renewable for card in m.cards)
        shown["keys"] = _shown(m)
        m.continue_from_keys()
        assert m.screen == "application"
        shown["application"] = _shown(m)
        m.email, m.locality, m.application_ok = "a@example.kz", "Astana", True
        m.submit_application()
        assert m.screen == "password", (m.details_error, m.folder_error)
        shown["confirm"] = _shown(m)
        assert m.can_accept_password
        await m.accept_password()
        assert m.screen == "code", (m.work_error, m.open_error, m.screen)
        m.code = m.demo_sms
        await m.confirm_code()
        assert m.screen == "done", (m.work_error, m.open_error, m.screen)
        shown["done"] = _shown(m)
        await m.close()
        return m, shown

    m, shown = asyncio.run(scenario())
    assert "Wrong PIN" in shown["wrong"] and "token itself said so" in shown["wrong"]
    assert "counted wrong PIN tries" in shown["pin_state"]
    assert "Can be renewed online." in shown["keys"]
    assert "Kaztoken" in shown["application"] and "folder" not in shown["application"].lower()
    assert soft_token.label in shown["confirm"] and "no new password" in shown["confirm"]
    assert m.result["token"]["serial"] == made["token"]["serial"]
    assert soft_token.label in shown["done"] and made["token"]["serial"] in shown["done"]
    assert "on the token" in shown["done"]
    assert [f for f in m.result["files"] if f.startswith(("AUTH_RSA256_", "RSA256_"))]
    assert _applications(soft_token) == 1
    listing = soft_token.tool(pkcs11_tool, "--list-objects")
    assert listing.count("Private Key Object") == 4
    # the same window's home lists nothing pending; the CLI sees the renewal done on the token
    status = json.loads(qoltanba("status", "--json").out)["renewals"]
    assert [(r["status"], r["token"]) for r in status] == [("done", made["token"]["serial"])]


def test_the_storage_step_offers_the_token_only_where_it_can_be_used(soft_token, tmp_path):
    with_module = _model(soft_token)
    without = _model(soft_token, modules=())
    for m in (with_module, without):
        m.start_new()
        m.confirm_start()
    with_module.choose_storage("id_card")  # an ID card is re-written at a ЦОН, never here
    with_module.confirm_storage()
    assert with_module.screen == "storage"
    for kind in ("kaztoken", "etoken", "jacarta", "akey"):
        without.choose_storage(kind)
        without.confirm_storage()
        assert without.screen == "storage"
        with_module.choose_storage(kind)
        assert with_module.token_mode
        assert "generated on the token itself" in _shown(with_module)
    with_module.confirm_storage()
    assert with_module.screen == "open"


def test_a_renewal_left_on_the_token_resumes_from_home(qoltanba, soft_token):
    _demo(qoltanba, soft_token)

    async def first() -> str:
        m = _model(soft_token)
        await _to_keys(m, soft_token.pin)
        m.continue_from_keys()
        m.email, m.locality, m.application_ok = "a@example.kz", "Astana", True
        m.submit_application()
        await m.accept_password()
        assert m.screen == "code"
        number = m.application
        await m.close()  # the window closed at the code
        return number

    number = asyncio.run(first())

    async def second() -> WizardModel:
        m = _model(soft_token)
        [pending] = m.pending
        assert pending.application == number
        m.resume(pending.id)
        assert m.token_mode and m.screen == "open"
        m.set_token_pin(soft_token.pin)
        await m.open_token()
        m.continue_from_keys()
        assert m.screen == "password"  # the token's confirmation: no password asked
        assert "nothing is filed twice" in _shown(m)
        await m.accept_password()
        assert m.screen == "code", m.work_error
        m.code = m.demo_sms
        await m.confirm_code()
        await m.close()
        return m

    m = asyncio.run(second())
    assert m.screen == "done" and m.result["application"] == number
    assert _applications(soft_token) == 1


@pytest.mark.parametrize("lang", LANGUAGES)
def test_the_token_screens_build_in_every_language(qoltanba, soft_token, lang):
    _demo(qoltanba, soft_token)

    async def scenario() -> None:
        m = _model(soft_token, lang)
        await _to_keys(m, soft_token.pin)
        for screen in ("storage", "open", "application", "password"):
            m.screen = screen
            assert _shown(m).strip(), screen
        await m.close()

    asyncio.run(scenario())
