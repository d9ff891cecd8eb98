"""What keeps the steps readable on a 360 px phone in Kazakh (issue #11 problems 6 and 8), checked
on the controls the screens build: checkbox labels that wrap (and still name their box), key-card
values that get the card's width on a phone, and the storage choices saying NCALayer only where
Qoltanba cannot renew keys on a token itself."""

from __future__ import annotations

import asyncio
from typing import Any

import flet as ft
import pytest
from wizard_steps import fill_application, model, shown_text, to_keys, view

from wizard.i18n import LANGUAGES, translate
from wizard.ui.widgets import LONG_VALUE, NAV_KEY, field_row

TOKENS = ("kaztoken", "etoken", "jacarta", "akey")


def _walk(controls: list[Any]) -> list[Any]:
    found, stack = [], list(controls)
    while stack:
        control = stack.pop(0)
        found.append(control)
        stack.extend(getattr(control, "controls", None) or [])
        content = getattr(control, "content", None)
        if isinstance(content, ft.Control):
            stack.append(content)
    return found


def _at_application(tmp_path, lang: str = "en", *, tokens: bool) -> Any:
    m = model(tmp_path, lang)
    m.tokens.supported = lambda: tokens  # what the token path (token_step) finds here
    asyncio.run(to_keys(m))
    m.continue_from_keys()
    assert m.screen == "application"
    return m


@pytest.mark.parametrize("lang", LANGUAGES)
def test_the_storage_choices_say_ncalayer_only_where_tokens_cannot_be_renewed_here(tmp_path, lang):
    can = shown_text(_at_application(tmp_path / "can", lang, tokens=True))
    cannot = shown_text(_at_application(tmp_path / "cannot", lang, tokens=False))
    assert "NCALayer" not in can
    for kind in TOKENS:
        assert translate(f"layout.storage.{kind}", lang) in can
        assert translate(f"application.storage.{kind}", lang) in cannot
    assert translate("layout.tokens_note", lang) in can
    assert translate("application.tokens_note", lang) in cannot
    # the token's name as the storage step says it (issue #11 problem 8)
    name = translate("storage.kaztoken.name", lang)
    assert translate("layout.storage.kaztoken", lang).startswith(name)


@pytest.mark.parametrize("lang", LANGUAGES)
def test_checkbox_labels_wrap_and_still_name_their_box(tmp_path, lang):
    m = _at_application(tmp_path, lang, tokens=False)
    fill_application(m)
    boxes = {c.key: c for c in _walk(view(m)) if isinstance(c, ft.Checkbox)}
    assert set(boxes) == {"password.show", "password.understand"}
    for key, box in boxes.items():
        label = translate(key, lang)
        assert box.label is None  # a Checkbox's own label is one line, cut off on a phone
        assert box.semantics_label == label  # what a screen reader and the browser tests find
    [row] = [
        c
        for c in _walk(view(m))
        if isinstance(c, ft.Row)
        and any(getattr(x, "key", None) == "password.understand" for x in c.controls)
    ]
    words = row.controls[1]
    assert words.expand and isinstance(words.content, ft.Text) and not words.content.no_wrap
    assert words.content.value == translate("password.understand", lang)
    words.on_click()  # a tap on the words ticks the box
    assert m.password.understood
    # its Back and Continue are marked to stay in view below the scrolling column (app.App)
    assert [c for c in view(m) if getattr(c, "key", None) == NAV_KEY]


def test_a_long_value_goes_under_its_label_on_a_phone():
    name = "AUTH_RSA256_" + "ab" * 20 + ".p12"
    assert len(name) > LONG_VALUE
    label, value = field_row("File", name).controls
    assert label.col["xs"] == 12 and value.col["xs"] == 12  # stacked on a phone
    assert label.col["sm"] + value.col["sm"] == 12  # side by side where there is room
    label, value = field_row("IIN", "900101400013").controls
    assert label.col["xs"] + value.col["xs"] == 12 and label.col["xs"] < 6
    assert label.width is None  # no fixed 150 px column
