"""Issue #11: the wizard a person finishes without help (demo without friction, one password
verdict, the language chosen once, validation at the field, plain words)."""

from __future__ import annotations

import asyncio
import itertools
from pathlib import Path

from wizard_steps import (
    NEW,
    fill_application,
    identifiers,
    model,
    texts,
    to_open,
    type_password,
    view,
)

from wizard.ui.model import DEMO_PASSWORD, Services, WizardModel

_model = model


def test_demo_keys_are_opened_at_once_and_their_folder_said(tmp_path):
    async def scenario() -> WizardModel:
        m = _model(tmp_path)
        to_open(m)
        await m.keys.make_demo_keys()
        await m.close()
        return m

    m = asyncio.run(scenario())
    keys = m.keys
    # nothing typed, nothing else pressed: the keys are open and can go on
    assert keys.current_password == DEMO_PASSWORD and keys.show_current_password
    assert keys.keys_ok and keys.cards and all(card.renewable for card in keys.cards)
    folder = keys.picked[0].path.parent
    assert folder.is_dir()
    for lang in ("kk", "ru", "en"):
        said = keys.demo_keys_note.text(lang)
        assert str(folder) in said and DEMO_PASSWORD in said
    m.continue_from_keys()
    assert m.screen == "application"
    assert m.form.email  # pre-filled for the demo: one field less to type


def _password_screen(tmp_path: Path, password: str, lang: str = "en"):
    from wizard.ui.screens import password as screen

    m = _model(tmp_path, lang)
    m.go("password")
    m.password.set_new(password)
    controls = view(m, screen.view)
    return [t for c in controls for t in texts(c)], [i for c in controls for i in identifiers(c)]


def test_nothing_is_judged_before_a_password_is_typed(tmp_path):
    from wizard.i18n import translate

    for lang in ("kk", "ru", "en"):
        said, ids = _password_screen(tmp_path, "", lang)
        label = translate("password.strength.label", lang, level="@").split("@")[0]
        assert not [t for t in said if label in t], said  # no "very weak" before typing
        assert not [i for i in ids if i.startswith("password-verdict")]


def test_a_refused_password_never_reads_strong(tmp_path):
    from wizard.i18n import translate

    said, ids = _password_screen(tmp_path, "Пароль123", "ru")
    assert "password-verdict-refused" in ids
    assert translate("password.verdict.rejected", "ru") in said
    strong = [translate(f"password.strength.{n}", "ru") for n in (3, 4)]
    assert not [t for t in said if any(word in t for word in strong)], said


def test_a_common_password_has_its_own_red_rule_line(tmp_path):
    _, ids = _password_screen(tmp_path, "Qwerty12")
    for code in ("min_length", "has_upper", "has_lower", "has_digit", "latin_only"):
        assert f"rule-{code}-met" in ids  # every NCA rule is kept...
    assert "rule-not_common-unmet" in ids  # ...but it is one anybody tries first
    assert "password-verdict-refused" in ids


def test_a_legal_but_weak_password_and_a_good_one(tmp_path):
    _, ids = _password_screen(tmp_path, "Aqtobe12")
    assert "rule-not_common-met" in ids
    assert "password-verdict-weak" in ids
    _, ids = _password_screen(tmp_path, "Tulpar-Saryarqa-42")
    assert "password-verdict-good" in ids


def test_the_language_chosen_is_remembered_across_restarts(tmp_path, monkeypatch):
    import stat

    from wizard.ui.app import first_language

    monkeypatch.delenv("QOLTANBA_LANG", raising=False)
    for var in ("LC_ALL", "LC_MESSAGES", "LANG", "LANGUAGE"):
        monkeypatch.delenv(var, raising=False)
    services = Services(home=tmp_path, keys_root=tmp_path / "keys")
    # nothing says: Kazakh, not settled (the device's own locale may still say better)
    assert first_language(services) == ("kk", False)
    monkeypatch.setenv("LANG", "C.UTF-8")
    assert first_language(services) == ("kk", False)  # "C" says nothing
    monkeypatch.setenv("LANG", "ru_RU.UTF-8")
    assert first_language(services) == ("ru", False)
    m = WizardModel(services, "ru")
    m.set_language("en")  # the person's choice, in the header
    prefs = tmp_path / "prefs.json"
    assert stat.S_IMODE(prefs.stat().st_mode) == 0o600
    assert not list(tmp_path.glob(".prefs.json.*"))  # written atomically, nothing left over
    # the next start opens in it, whatever the locale says
    assert first_language(Services(home=tmp_path)) == ("en", True)
    m.set_language("kk")
    assert first_language(Services(home=tmp_path)) == ("kk", True)
    prefs.write_text("{not json", encoding="utf-8")  # a broken file is ignored, never fatal
    assert first_language(Services(home=tmp_path)) == ("ru", False)


def test_the_device_locale_comes_before_the_environment(tmp_path):
    import flet as ft

    from wizard.ui.app import device_language

    class Info:
        locales = [ft.Locale("de", "DE"), ft.Locale("ru", "RU"), ft.Locale("en", "US")]

    assert device_language(Info()) == "ru"
    assert device_language(None) is None
    m = _model(tmp_path, "kk")
    m.use_device_language("ru")
    assert m.lang == "ru" and not (tmp_path / "prefs.json").exists()  # a guess is not a choice


def test_step_one_does_not_ask_the_language_again(tmp_path):
    from wizard.i18n import LANGUAGE_NAMES

    m = _model(tmp_path)
    m.start_new()
    said = [t for c in view(m) for t in texts(c)]
    assert not set(LANGUAGE_NAMES.values()) & set(said), said


def test_an_empty_email_is_said_at_the_field_and_cleared_when_fixed(tmp_path):
    async def scenario() -> WizardModel:
        m = _model(tmp_path)
        to_open(m)
        await m.keys.make_demo_keys()
        m.continue_from_keys()
        await m.close()
        return m

    m = asyncio.run(scenario())
    form = m.form
    form.set_email("")
    form.confirm(True)
    form.submit()
    assert m.screen == "application" and form.details_error is None
    for lang in ("kk", "ru", "en"):
        said = form.email_error.text(lang)
        assert said and not said.rstrip(" -").endswith(":"), said  # never "…address:" alone
    form.set_email("aigerim@example.kz")
    assert form.email_error is None  # cleared when fixed
    form.submit()
    assert m.screen == "password"


def test_an_empty_authority_address_is_said_at_its_field(tmp_path):
    m = _model(tmp_path)
    m.start_new()
    m.choose_authority("mock-http")
    m.confirm_start()
    assert m.screen == "start" and m.mode_error is not None
    assert m.mode_error.key == "start.authority_url_empty"
    m.set_authority_url("https://")
    assert m.mode_error is None


def test_a_disabled_continue_says_why(tmp_path):
    def disabled_says_why() -> bool:
        return "why-disabled" in [i for c in view(m) for i in identifiers(c)]

    m = _model(tmp_path)
    to_open(m)
    assert disabled_says_why()
    assert m.why_not_continue.key == "open.why_not_continue"
    m.go("application")
    assert m.why_not_continue.key == "application.confirm_needed"
    assert disabled_says_why()
    m.form.confirm(True)
    assert m.why_not_continue is None
    assert not disabled_says_why()
    m.go("password")
    assert m.why_not_continue.key == "password.why_rules"
    m.password.set_new(NEW)
    assert m.why_not_continue.key == "password.why_repeat"
    m.password.set_repeat(NEW)
    assert m.why_not_continue.key == "password.understand_needed"
    assert disabled_says_why()
    m.password.understand(True)
    assert m.why_not_continue is None


def test_every_step_opens_at_its_top(tmp_path):
    """One scrolling column per screen (its key names the screen): a new step never inherits
    the previous step's scroll position. The browser test checks it on a phone."""
    import inspect

    from wizard.ui import app

    source = inspect.getsource(app.App)
    assert 'key=f"screen-{m.screen}"' in source


def test_english_says_one_english_name_for_a_con():
    from wizard.i18n import catalogue

    en = catalogue("en")
    assert not [k for k, v in en.items() if "ЦОН" in v]  # never Cyrillic inside English text
    said = [v for v in en.values() if "(CON)" in v]
    assert said and all("Public Service Centre (CON)" in v for v in said)
    assert not [k for k, v in en.items() if "Government for Citizens" in v]


def test_kaztoken_is_named_the_same_on_every_step():
    from wizard.i18n import LANGUAGES, translate

    for lang in LANGUAGES:
        name = translate("storage.kaztoken.name", lang)
        assert translate("application.storage.kaztoken", lang).startswith(name), lang


def test_a_russian_date_ending_a_sentence_has_one_period(tmp_path):
    from datetime import date

    m = _model(tmp_path, "ru")
    said = m.t("done.calendar_description", date=m.format_date(date(2027, 12, 1)))
    assert "1 декабря 2027 года." in said and ".." not in said


def test_the_step_indicator_never_jumps_on_the_way_of_a_demo_renewal(tmp_path):
    from wizard.ui.model import STEP_NUMBERS, STEPS

    assert set(STEP_NUMBERS) == set(STEPS)
    path = ["start", "storage", "open", "application", "password", "work", "code", "done"]
    numbers = [STEP_NUMBERS[s] for s in path]
    assert all(0 <= b - a <= 1 for a, b in itertools.pairwise(numbers)), numbers
    assert numbers[-1] == max(STEP_NUMBERS.values())  # done is the last step


def test_the_demo_code_is_filled_in_for_the_person(tmp_path):
    async def scenario() -> WizardModel:
        m = _model(tmp_path)
        to_open(m)
        await m.keys.make_demo_keys()
        fill_application(m, email=None, locality=None)  # the demo e-mail, the certificate's
        type_password(m)
        await m.password.accept()
        assert m.screen == "code" and m.progress.demo_sms
        # shown as the demo's "SMS" and already in the field
        assert m.progress.code == m.progress.demo_sms
        await m.progress.confirm_code()
        await m.close()
        return m

    assert asyncio.run(scenario()).screen == "done"
