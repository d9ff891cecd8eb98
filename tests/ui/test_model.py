"""The wizard's logic without a browser: the WizardModel driven the way its buttons drive it,
against the in-process demo authority, and every screen built in every language."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

import pytest
from wizard_steps import NEW, enter_demo_code, fill_application, model, to_code, type_password

from wizard.i18n import LANGUAGES, translate
from wizard.keys.store import open_store
from wizard.renewal.reminders import expiry_calendar
from wizard.ui.model import DEMO_PASSWORD, SCREENS, Services, WizardModel

_model = model


def test_a_whole_demo_renewal(tmp_path):
    async def scenario() -> WizardModel:
        m = _model(tmp_path)
        await to_code(m)
        assert len(m.keys.picked) == 2 and all(card.renewable for card in m.keys.cards)
        await enter_demo_code(m)
        await m.close()
        return m

    m = asyncio.run(scenario())
    assert m.screen == "done"
    folder = Path(m.done.result["folder"])
    stores = sorted(folder.glob("*.p12"))
    assert len(stores) == 2
    for path in stores:
        assert open_store(path, NEW).facts.iin == "900101400013"
    assert m.done.new_not_after is not None
    name, data = m.done.calendar_file()
    assert name.endswith(".ics") and data.count(b"BEGIN:VEVENT") == 3
    # home now lists the new keys and nothing pending
    m.go("home")
    assert m.known and not m.pending


def test_wrong_password_is_told_and_changes_nothing(tmp_path):
    async def scenario() -> WizardModel:
        m = _model(tmp_path, "ru")
        m.start_new()
        await m.keys.make_demo_keys()
        await m.close()
        return m

    m = asyncio.run(scenario())
    m.keys.set_password("Qwerty13")
    m.keys.open_keys()
    assert not m.keys.keys_ok and not m.keys.cards
    assert m.keys.open_error.text("ru") == translate("error.wrong_password", "ru")
    m.keys.set_password("Йцукен12")  # the Russian layout
    m.keys.open_keys()
    assert m.keys.open_error.text("kk") == translate("error.wrong_password_layout", "kk")


def test_a_refused_password_cannot_go_on(tmp_path):
    m = _model(tmp_path)
    type_password(m, "12345678")
    assert not m.password.can_accept
    asyncio.run(m.password.accept())
    assert m.screen != "work" and m.password.password_error is not None
    m.password.set_new(NEW)
    m.password.set_repeat(NEW + "x")
    assert not m.password.can_accept  # the confirmation differs


def test_switching_language_keeps_what_was_typed(tmp_path):
    m = _model(tmp_path)
    m.form.set_email("a@example.kz")
    m.form.set_locality("Astana")
    m.password.set_new(NEW)
    for lang in LANGUAGES:
        m.set_language(lang)
        typed = (m.form.email, m.form.locality, m.password.new_password)
        assert typed == ("a@example.kz", "Astana", NEW)
    assert m.lang == "en"


def test_an_interrupted_renewal_resumes_where_it_stopped(tmp_path):
    async def first_run() -> tuple[str, list]:
        m = _model(tmp_path)
        await to_code(m)
        await m.close()
        return m.progress.application, m.keys.picked

    number, picked = asyncio.run(first_run())

    async def second_run() -> WizardModel:
        m = _model(tmp_path)  # a new window: only the journal remembers
        assert [p.application for p in m.pending] == [number]
        m.resume(m.pending[0].id)
        assert m.screen == "open" and m.resuming.application == number
        m.keys.set_files(picked)
        m.keys.set_password(DEMO_PASSWORD)
        m.keys.open_keys()
        m.continue_from_keys()
        assert m.screen == "password"
        m.password.set_new("Wrong-Password-1")
        await m.password.accept()
        assert m.screen == "password"
        assert m.password.password_error is not None  # it cannot unlock them
        m.password.set_new(NEW)
        await m.password.accept()
        assert m.screen == "code"
        from wizard.authority.connect import open_authority

        async with open_authority("demo", tmp_path) as authority:
            m.progress.set_code((await authority.demo_codes(number))[-1])
        await m.progress.confirm_code()
        await m.close()
        return m

    m = asyncio.run(second_run())
    assert m.screen == "done" and m.done.result["application"] == number


def test_authority_down_waits_offline_and_a_refresh_keeps_saying_so(tmp_path):
    """Queued, offline, the new keys' pending files kept; the status screen's refresh tries
    again and meanwhile still says "no connection" (it flickered to "signed, waiting to be
    sent" for seconds on every refresh: hostile walk, session 6)."""
    seen: list[bool] = []

    async def scenario() -> WizardModel:
        m = _model(tmp_path)
        await m.keys.make_demo_keys()
        m.authority = "http://127.0.0.1:9"  # nothing listens there
        m.keys.set_password(DEMO_PASSWORD)
        m.keys.open_keys()
        fill_application(m)
        type_password(m)
        await m.password.accept()
        assert m.screen == "status" and m.progress.offline
        assert len(list(Path(m.form.folder).glob("PENDING_*.p8"))) == 2
        m.notify = lambda: seen.append(m.progress.offline)  # every change the screen shows
        await m.refresh()
        await m.close()
        return m

    m = asyncio.run(scenario())
    assert seen and all(seen), seen
    assert m.screen == "status" and m.progress.offline


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_screen_builds_in_every_language(tmp_path, lang):
    from wizard.ui.app import VIEWS, UiContext
    from wizard.ui.platform import Platform

    m = _model(tmp_path, lang)
    ui = UiContext(platform=Platform(), toast=lambda text: None)
    assert set(VIEWS) == set(SCREENS)
    for screen in SCREENS:
        m.screen = screen
        controls = VIEWS[screen](m, ui)
        assert controls, screen


def test_expiry_reminders_a_month_two_weeks_a_week_before():
    from datetime import UTC, datetime

    not_after = datetime(2027, 11, 20, 9, 0, tzinfo=UTC)
    data = expiry_calendar(
        not_after, title="EDS expires in {days} days", description="On 20 November", key_id="x"
    ).decode()
    starts = [line.split(":")[1] for line in data.splitlines() if line.startswith("DTSTART")]
    expected = [(not_after - timedelta(days=d)).strftime("%Y%m%d") for d in (30, 14, 7)]
    assert starts == expected
    assert "EDS expires in 14 days" in data
    assert all(len(line.encode()) <= 75 for line in data.split("\r\n"))


def test_keys_on_a_token_or_id_card_are_not_taken_further(tmp_path):
    # without token support here (no PKCS#11 module; with one: tests/tokens/test_wizard_token.py)
    m = WizardModel(Services(home=tmp_path, keys_root=tmp_path / "keys", token_modules=()), "en")
    m.start_new()
    m.confirm_start()
    for kind in ("id_card", "kaztoken", "etoken", "jacarta", "akey"):
        m.choose_storage(kind)
        m.confirm_storage()
        assert m.screen == "storage"  # Qoltanba says what to do instead; it does not pretend
    m.choose_storage("file")
    m.confirm_storage()
    assert m.screen == "open"


def test_a_company_employee_waits_for_the_head_then_gets_the_keys(tmp_path):
    async def scenario() -> WizardModel:
        m = _model(tmp_path)
        await to_code(m, holder="legal-employee")
        assert m.keys.identity["holder"] == "legal-employee" and m.keys.identity["bin"]
        await enter_demo_code(m)
        for _ in range(20):  # the status screen refreshes by itself until the head approves
            if m.screen == "done":
                break
            assert m.screen == "status" and m.progress.rejection is None
            await m.refresh()
        await m.close()
        return m

    m = asyncio.run(scenario())
    assert m.screen == "done"
    assert len(list(Path(m.done.result["folder"]).glob("*.p12"))) == 2


def test_the_status_screen_keeps_one_refresh_loop(tmp_path):
    async def scenario() -> tuple[int, bool]:
        m = _model(tmp_path)
        m.keep_refreshing(0.01)
        assert m._refresh_task is None  # not on the status screen: nothing to refresh
        m.screen = "status"
        refreshed = []

        async def refresh() -> None:
            refreshed.append(1)

        m.refresh = refresh
        m.keep_refreshing(0.01)
        first = m._refresh_task
        m.keep_refreshing(0.01)  # asked again (the screen re-rendered): still the same loop
        same = m._refresh_task is first
        await asyncio.sleep(0.05)
        m.screen = "home"
        await asyncio.sleep(0.03)
        return len(refreshed), same and first.done()

    count, one_loop_that_ended = asyncio.run(scenario())
    assert count >= 2 and one_loop_that_ended
