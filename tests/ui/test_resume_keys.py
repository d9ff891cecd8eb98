"""Issue #11, item 4: a resumed renewal chooses its current keys again. Home → "Continue": the
key files it started with (their paths, recorded: Origin.current_files) are chosen again when
they are at hand, and the demo keys this app made are opened at once (their password is known);
otherwise step 3 says which files to choose and where they were."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import pytest
from wizard_steps import NEW, enter_demo_code, model, shown_text, to_code

import wizard.renewal.acceptance as acceptance
from wizard.i18n import LANGUAGES, translate
from wizard.ui.model import DEMO_PASSWORD, PickedFile, WizardModel


async def _started(home: Path, *, move_to: Path | None = None, without_path: bool = False):
    """A renewal stopped at the one-time code, with demo keys made here (or copies of them in
    ``move_to``, or their bytes alone, as a browser gives them); the window then closed."""
    m = model(home)
    picked = None
    if move_to is not None or without_path:
        maker = model(home)  # the same demo authority, which knows its demo keys
        from wizard_steps import to_open

        to_open(maker)
        await maker.keys.make_demo_keys()
        await maker.close()
        picked = []
        for file in maker.keys.picked:
            if without_path:
                picked.append(PickedFile(name=file.name, data=file.data))
                continue
            assert move_to is not None and file.path is not None
            move_to.mkdir(parents=True, exist_ok=True)
            copy = move_to / file.name
            shutil.copy(file.path, copy)
            picked.append(PickedFile(name=copy.name, data=copy.read_bytes(), path=copy))
    await to_code(m, picked=picked)
    number = m.progress.application
    files = list(m.keys.picked)
    await m.close()
    return number, files


def _resumed(home: Path) -> WizardModel:
    m = model(home)  # another window: the journal remembers the renewal
    assert len(m.pending) == 1
    m.resume(m.pending[0].id)
    assert m.screen == "open"
    return m


@pytest.fixture
def never_judged(monkeypatch):
    """never_judged(): from now on, the issuer is never asked (a submitted renewal is carried on
    as recorded); asked, the test fails (the guard's fault line is checked too)."""
    asked: list[int] = []

    async def never(*args, **kwargs):
        asked.append(1)
        raise AssertionError("the issuer verdict is for a new renewal only")

    def arm() -> list[int]:
        monkeypatch.setattr(acceptance, "judge_issuer", never)
        return asked

    return arm


def test_the_demo_keys_made_here_are_opened_again_at_once(tmp_path, never_judged):
    number, files = asyncio.run(_started(tmp_path))  # a new renewal: its issuer judged
    asked = never_judged()

    async def second() -> WizardModel:
        m = model(tmp_path)  # another window: the journal remembers the renewal
        await m.resume_checked(m.pending[0].id)  # home's "Continue"
        assert m.screen == "open"
        keys = m.keys
        # asked of the authority at once, as "Open keys" does: not left "not checked"
        assert [c.revocation.source for c in keys.cards] == ["ocsp", "ocsp"], keys.cards
        assert all(c.revocation.checked for c in keys.cards)
        # nothing to pick, nothing to type: the same files, open, with the known password
        assert [f.path for f in keys.picked] == [f.path for f in files]
        assert keys.current_password == DEMO_PASSWORD and keys.show_current_password
        assert keys.keys_ok and all(card.renewable for card in keys.cards)
        await keys.check_with_authority()  # the screen's "Open keys", should it be pressed
        assert keys.resume_note is not None
        assert keys.resume_note.key == "verdict_ui.resume_demo_opened"
        folder = str(files[0].path.parent)
        for lang in LANGUAGES:
            m.set_language(lang)
            text = shown_text(m)
            assert folder in text and files[0].name in text, lang
        m.set_language("en")
        m.continue_from_keys()
        assert m.screen == "password" and m.progress.application == number
        m.password.set_new(NEW)
        await m.password.accept()
        assert m.screen == "code"
        await enter_demo_code(m)
        await m.close()
        return m

    m = asyncio.run(second())
    assert m.screen == "done" and m.done.result["application"] == number
    assert asked == [] and m.fault is None


def test_own_key_files_at_hand_are_chosen_again_and_only_the_password_is_asked(tmp_path):
    mine = tmp_path / "my-keys"
    number, files = asyncio.run(_started(tmp_path / "home", move_to=mine))

    m = _resumed(tmp_path / "home")
    keys = m.keys
    assert [f.path for f in keys.picked] == [mine / f.name for f in files]
    assert keys.current_password == "" and not keys.show_current_password  # not ours to know
    assert not keys.cards and not keys.keys_ok
    assert keys.resume_note is not None and keys.resume_note.key == "verdict_ui.resume_chosen"
    text = shown_text(m)
    assert str(mine) in text and all(f.name in text for f in files)
    keys.set_password(DEMO_PASSWORD)  # the one thing typed
    keys.open_keys()
    m.continue_from_keys()
    assert m.screen == "password" and m.progress.application == number
    asyncio.run(m.close())


def test_files_not_at_hand_are_named_with_the_folder_they_were_in(tmp_path):
    mine = tmp_path / "usb-stick"
    _number, files = asyncio.run(_started(tmp_path / "home", move_to=mine))
    shutil.rmtree(mine)  # the stick is not plugged in

    m = _resumed(tmp_path / "home")
    keys = m.keys
    assert keys.picked == [] and not keys.cards
    assert keys.resume_note is not None and keys.resume_note.key == "verdict_ui.resume_pick"
    for lang in LANGUAGES:
        m.set_language(lang)
        text = shown_text(m)
        names = ", ".join(f.name for f in files)
        assert translate("verdict_ui.resume_pick", lang, files=names, folder=str(mine)) in text
    asyncio.run(m.close())


def test_files_chosen_in_a_browser_are_asked_for_again(tmp_path):
    asyncio.run(_started(tmp_path / "home", without_path=True))

    m = _resumed(tmp_path / "home")
    assert m.keys.picked == []
    assert m.keys.resume_note is not None
    assert m.keys.resume_note.key == "verdict_ui.resume_pick_same"
    for lang in LANGUAGES:
        m.set_language(lang)
        assert translate("verdict_ui.resume_pick_same", lang) in shown_text(m)
    asyncio.run(m.close())


def test_a_new_renewal_says_nothing_of_resuming(tmp_path):
    m = model(tmp_path)
    m.start_new()
    assert m.keys.resume_note is None
    asyncio.run(m.close())


def test_home_s_continue_asks_the_authority_about_the_keys_opened_again(tmp_path):
    """The real session (Flet's event dispatch): home's "Continue" is awaited, and the demo keys
    opened again at once are asked about (revocation: not "not checked"), as "Open keys" does."""
    from conftest import HeadlessWizard
    from wizard_steps import services

    asyncio.run(_started(tmp_path))
    good = translate(
        "revocation.line",
        "en",
        status=translate("revocation.status.good", "en"),
        source=translate("revocation.source.ocsp", "en"),
    )

    async def window() -> list[str]:
        async with HeadlessWizard(services(tmp_path)) as w:
            await w.click(translate("home.continue", "en"))
            await w.wait_for(lambda: sum(good in text for text in w.texts()) == 2, timeout=60)
            return w.texts()

    texts = asyncio.run(window())
    assert translate("verdict.renewable", "en") in "\n".join(texts)
