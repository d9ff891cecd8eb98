"""Issue #11, item 7: "What does this mean? (Help)" opens the answer for the error at hand, open and
scrolled into view (not Help at its top with every answer collapsed); "Back" returns to the step.
The answer for what is shown comes from plain data (wizard/ui/help_topics.py)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import flet as ft
import pytest
from flet.messaging.protocol import MessageAction
from wizard_steps import model, to_open

from wizard.errors import NotRenewable, StoreError, WrongPassword
from wizard.i18n import LANGUAGES, catalogue, translate
from wizard.ui.help_topics import (
    HELP_FOR_CLASS,
    HELP_FOR_CODE,
    HELP_FOR_REASON,
    MORE_TOPICS,
    TOPICS,
)
from wizard.ui.model import Message, PickedFile, Services, WizardModel
from wizard.ui.models.wizard import help_topic_for
from wizard.ui.screens import help as help_screen

LOCALES = Path(__file__).resolve().parents[2] / "wizard" / "locales"


def test_every_link_leads_to_a_topic_that_exists():
    topics = set(TOPICS) | set(MORE_TOPICS)
    assert not set(TOPICS) & set(MORE_TOPICS)
    for mapping in (HELP_FOR_REASON, HELP_FOR_CODE, HELP_FOR_CLASS):
        assert set(mapping.values()) <= topics, mapping
    # every reason a key card can refuse a key for, and the authority's refusal, has its answer
    reasons = {k.split(".")[1] for k in catalogue("en") if k.startswith("verdict.")}
    for reason in ("expired", "not_yet_valid", "revoked", "issuer_not_accepted", "wrong_kind"):
        assert reason in reasons and reason in HELP_FOR_REASON, reason
    for code in HELP_FOR_CODE:
        assert f"error.{code}" in catalogue("en"), code


@pytest.mark.parametrize("lang", LANGUAGES)
def test_qoltanba_s_own_answers_are_in_their_own_file(lang):
    texts = json.loads((LOCALES / lang / "help_more.json").read_text(encoding="utf-8"))
    wanted = {f"help_more.{slug}.{part}" for slug in MORE_TOPICS for part in ("q", "a")}
    assert set(texts) == wanted
    for key, text in texts.items():
        assert text.strip() == text and text and "{" not in text, key
        if key.endswith(".q"):
            assert "\n" not in text and len(text) <= 130, key
    if lang == "en":
        assert "Public Service Centre (CON)" in texts["help_more.revoked.a"]
        assert not any("\u0400" <= ch <= "\u04ff" for text in texts.values() for ch in text)


@pytest.mark.parametrize(
    ("message", "reason", "topic"),
    [
        (Message.of(WrongPassword()), None, "storage_password"),
        (Message.of(NotRenewable(reason="expired")), None, "expired"),
        (Message.of(NotRenewable(reason="revoked")), None, "revoked"),
        (
            Message.of(NotRenewable(reason="issuer_not_accepted", advice="demo_trust", issuer="X")),
            None,
            "issuer_not_accepted",
        ),
        (Message.of(StoreError("store_not_pkcs12")), None, "which_certificate"),
        (Message.of(StoreError("store_corrupt")), None, "which_certificate"),
        # a file's error as step 3 says it: the file's name, then the error's words
        (
            Message("open.file_error", {"file": "a.png", "code": "store_not_pkcs12"}),
            None,
            "which_certificate",
        ),
        (None, "not_yet_valid", "validity"),
        (None, "wrong_kind", "which_certificate"),
        (Message("open.none_picked"), None, None),  # nothing to explain: Help at its top
        (None, None, None),
    ],
)
def test_the_topic_for_what_is_shown(message, reason, topic):
    assert help_topic_for(message, reason) == topic


def _tiles(m: WizardModel) -> list[ft.ExpansionTile]:
    found: list[ft.ExpansionTile] = []

    def walk(value) -> None:
        if isinstance(value, list):
            for item in value:
                walk(item)
        elif isinstance(value, ft.ExpansionTile):
            found.append(value)
        elif isinstance(value, ft.BaseControl):
            walk(getattr(value, "content", None))

    walk(help_screen.view(m, None))
    return found


def _expanded(m: WizardModel) -> list[str]:
    return [str(tile.key) for tile in _tiles(m) if tile.expanded]


def test_the_wrong_password_link_opens_its_answer_and_back_returns(tmp_path):
    async def scenario() -> WizardModel:
        m = model(tmp_path)
        to_open(m)
        await m.keys.make_demo_keys()
        m.keys.set_password("not-the-password")
        m.keys.open_keys()
        assert m.keys.open_error is not None
        m.help_with(m.keys.open_error)  # "What does this mean? (Help)"
        await m.close()
        return m

    m = asyncio.run(scenario())
    assert m.screen == "help" and m.help_topic == "storage_password"
    assert _expanded(m) == ["help-storage_password"]  # that one open, the others collapsed
    [tile] = [t for t in _tiles(m) if t.expanded]
    assert isinstance(tile.key, ft.ScrollKey)  # what the screen scrolls to
    answer = tile.controls[0].content.value
    assert answer == translate("help.storage_password.a", "en")
    m.back_from_help()
    assert m.screen == "open" and m.keys.current_password == "not-the-password"
    assert m.keys.open_error is not None  # the step as it was left
    m.go("help")  # Help from its own button: at its top, nothing open
    assert m.help_topic is None and _expanded(m) == []


def test_a_refused_key_s_link_opens_the_answer_for_its_verdict(tmp_path, material):
    expired = sorted((material / "sdk2020" / "personal" / "active").glob("*.p12"))
    m = model(tmp_path, lang="kk")
    to_open(m)
    m.keys.set_files([PickedFile(name=p.name, data=p.read_bytes(), path=p) for p in expired])
    m.keys.set_password("Qwerty12")
    m.keys.open_keys()
    assert {card.reason for card in m.keys.cards} == {"expired"}
    from wizard_steps import shown

    assert translate("open.faq_link", "kk") in shown(m)
    m.help_with(reason="expired")
    assert m.screen == "help" and _expanded(m) == ["help-expired"]
    # Qoltanba's own answers are listed after the FAQ's, in the same language
    questions = [tile.title.value for tile in _tiles(m)]
    assert questions[-len(MORE_TOPICS) :] == [
        translate(f"help_more.{slug}.q", "kk") for slug in MORE_TOPICS
    ]
    asyncio.run(m.close())


def test_in_a_session_the_help_screen_is_scrolled_to_the_answer(tmp_path, headless, fake_platform):
    """The app's effect asks the client to scroll the answer's tile into view (Flet's scroll_to
    with its ScrollKey); from Help's own button it does not."""

    def scrolls(wizard) -> list:
        found = []
        for message in wizard.connection.messages:
            if message.action != MessageAction.INVOKE_METHOD:
                continue
            body = message.body
            name = getattr(body, "name", None) or (
                body.get("name") if isinstance(body, dict) else None
            )
            if name == "scroll_to":
                found.append(body)
        return found

    async def scenario() -> tuple[list, list]:
        services = Services(home=tmp_path, max_wait=0.5, keys_root=tmp_path / "keys")
        picture = PickedFile(name="photo.png", data=b"\x89PNG\r\n\x1a\n" + bytes(64))
        async with headless(services, platform=fake_platform([picture])) as wizard:
            await wizard.click(translate("help.title", "en"))  # from home: Help's top
            await asyncio.sleep(help_screen.SCROLL_PAUSE + 0.3)
            plain = scrolls(wizard)
            await wizard.click(translate("nav.back", "en"))
            await wizard.click(translate("home.renew", "en"))
            await wizard.click(translate("nav.continue", "en"))
            await wizard.click(translate("nav.continue", "en"))
            await wizard.click(translate("open.pick", "en"))  # a picture, not a key store
            await wizard.type("open.password", "Qwerty12")
            await wizard.click(translate("open.open", "en"))
            await wizard.click(translate("open.faq_link", "en"))
            await asyncio.sleep(help_screen.SCROLL_PAUSE + 0.3)
            await wizard.settle()
            return plain, scrolls(wizard)

    plain, asked = asyncio.run(scenario())
    assert plain == []
    assert asked, "no scroll_to was sent"
    assert "help-which_certificate" in str(asked[-1])
