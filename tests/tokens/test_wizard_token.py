"""The wizard's token path (issue #13 item 5) on a SoftHSM2 token, driven as its buttons drive it:
the storage step offers the token, the keys screen says the PIN state before the PIN is typed and
lists the token's keys with verdicts, the same flow goes on to "done", which names the token."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import sys
from pathlib import Path

import pytest

from wizard.i18n import LANGUAGES
from wizard.ui.model import WizardModel

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "ui"))  # wizard_steps
from wizard_steps import enter_demo_code, fill_application, model, texts, to_token_keys, view

PIN_VAR = "QOLTANBA_TEST_PIN"


def _shown(m: WizardModel) -> str:
    return "\n".join(t for control in view(m) for t in texts(control))


def _model(token, lang: str = "en", modules=None) -> WizardModel:
    modules = (token.module,) if modules is None else modules
    return model(token.home, lang, token_modules=modules)


def _demo(qoltanba, token) -> dict:
    run = qoltanba("--lang", "en", "demo-keys", "--token", "--module", token.module,
                   "--pin-env", PIN_VAR, "--json", env={PIN_VAR: token.pin})  # fmt: skip
    assert run.code == 0, run
    return json.loads(run.out)


def _applications(token) -> int:
    ledger = token.home / "demo-authority" / "authority.sqlite3"
    with sqlite3.connect(f"file:{ledger}?mode=ro", uri=True) as db:
        return db.execute("SELECT count(*) FROM applications").fetchone()[0]


def test_a_whole_renewal_on_the_token_in_the_wizard(qoltanba, soft_token, pkcs11_tool):
    made = _demo(qoltanba, soft_token)

    async def scenario() -> tuple[WizardModel, dict[str, str]]:
        m = _model(soft_token)
        await to_token_keys(m, "not-the-pin-1")  # a wrong one first: the token says so
        keys = m.keys
        shown = {"wrong": keys.open_error.text("en") if keys.open_error else ""}
        assert not keys.keys_ok and keys.token_pin == ""
        assert m.tokens.chosen.pin_state == "count_low"  # what SoftHSM2 says after a wrong one
        shown["pin_state"] = _shown(m)
        keys.set_token_pin(soft_token.pin)
        await keys.open_token()
        assert keys.token_pin == ""  # the PIN went to the token; the model keeps none
        assert keys.keys_ok, keys.open_error
        assert sorted(c.file_name[:4] for c in keys.cards) == ["AUTH", "RSA2"]
        assert all(card.renewable for card in keys.cards)
        shown["keys"] = _shown(m)
        m.continue_from_keys()
        assert m.screen == "application"
        shown["application"] = _shown(m)
        fill_application(m)
        shown["confirm"] = _shown(m)
        assert m.password.can_accept
        await m.password.accept()
        assert m.screen == "code", (m.progress.work_error, keys.open_error, m.screen)
        await enter_demo_code(m)
        assert m.screen == "done", (m.progress.work_error, keys.open_error, m.screen)
        shown["done"] = _shown(m)
        await m.close()
        return m, shown

    m, shown = asyncio.run(scenario())
    assert "Wrong PIN" in shown["wrong"] and "token itself said so" in shown["wrong"]
    assert "counted wrong PIN tries" in shown["pin_state"]
    assert "Can be renewed online." in shown["keys"]
    assert "Kaztoken" in shown["application"] and "folder" not in shown["application"].lower()
    assert soft_token.label in shown["confirm"] and "no new password" in shown["confirm"]
    result = m.done.result
    assert result["token"]["serial"] == made["token"]["serial"]
    assert soft_token.label in shown["done"] and made["token"]["serial"] in shown["done"]
    assert "on the token" in shown["done"]
    assert [f for f in result["files"] if f.startswith(("AUTH_RSA256_", "RSA256_"))]
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
        await to_token_keys(m, soft_token.pin)
        fill_application(m)
        await m.password.accept()
        assert m.screen == "code"
        number = m.progress.application
        await m.close()  # the window closed at the code
        return number

    number = asyncio.run(first())

    async def second() -> WizardModel:
        m = _model(soft_token)
        [pending] = m.pending
        assert pending.application == number
        m.resume(pending.id)
        assert m.token_mode and m.screen == "open"
        m.keys.set_token_pin(soft_token.pin)
        await m.keys.open_token()
        m.continue_from_keys()
        assert m.screen == "password"  # the token's confirmation: no password asked
        assert "nothing is filed twice" in _shown(m)
        await m.password.accept()
        assert m.screen == "code", m.progress.work_error
        await enter_demo_code(m)
        await m.close()
        return m

    m = asyncio.run(second())
    assert m.screen == "done" and m.done.result["application"] == number
    assert _applications(soft_token) == 1


@pytest.mark.parametrize("lang", LANGUAGES)
def test_the_token_screens_build_in_every_language(qoltanba, soft_token, lang):
    _demo(qoltanba, soft_token)

    async def scenario() -> None:
        m = _model(soft_token, lang)
        await to_token_keys(m, soft_token.pin)
        for screen in ("storage", "open", "application", "password"):
            m.go(screen)
            assert _shown(m).strip(), screen
        await m.close()

    asyncio.run(scenario())
