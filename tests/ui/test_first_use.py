"""Issue #11: the wizard a person finishes without help (demo without friction, one password
verdict, the language chosen once, validation at the field, plain words)."""

from __future__ import annotations

import asyncio
import itertools
from pathlib import Path

from wizard.ui.model import DEMO_PASSWORD, Services, WizardModel


def _model(home: Path, lang: str = "en") -> WizardModel:
    return WizardModel(Services(home=home, max_wait=0.5, keys_root=home / "keys"), lang)


def test_demo_keys_are_opened_at_once_and_their_folder_said(tmp_path):
    async def scenario() -> WizardModel:
        m = _model(tmp_path)
        m.start_new()
        m.confirm_start()
        m.confirm_storage()
        await m.make_demo_keys()
        await m.close()
        return m

    m = asyncio.run(scenario())
    # nothing typed, nothing else pressed: the keys are open and can go on
    assert m.current_password == DEMO_PASSWORD and m.show_current_password
    assert m.keys_ok and m.cards and all(card.renewable for card in m.cards)
    folder = m.picked[0].path.parent
    assert folder.is_dir()
    for lang in ("kk", "ru", "en"):
        said = m.demo_keys_note.text(lang)
        assert str(folder) in said and DEMO_PASSWORD in said
    m.continue_from_keys()
    assert m.screen == "application"
    assert m.email  # pre-filled for the demo: one field less to type


def _texts(control) -> list[str]:
    """Every text a control tree shows."""
    import flet as ft

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


def _identifiers(control) -> list[str]:
    import flet as ft

    found = []
    if isinstance(control, ft.Semantics) and control.identifier:
        found.append(control.identifier)
    for name in ("content", "controls"):
        child = getattr(control, name, None)
        if isinstance(child, list):
            for item in child:
                found += _identifiers(item)
        elif child is not None and not isinstance(child, str):
            found += _identifiers(child)
    return found


def _password_screen(tmp_path: Path, password: str, lang: str = "en"):
    from wizard.ui.app import UiContext
    from wizard.ui.platform import Platform
    from wizard.ui.screens import password as screen

    m = _model(tmp_path, lang)
    m.screen = "password"
    m.new_password = password
    controls = screen.view(m, UiContext(platform=Platform(), toast=lambda text: None))
    texts = [t for c in controls for t in _texts(c)]
    ids = [i for c in controls for i in _identifiers(c)]
    return texts, ids


def test_nothing_is_judged_before_a_password_is_typed(tmp_path):
    from wizard.i18n import translate

    for lang in ("kk", "ru", "en"):
        texts, ids = _password_screen(tmp_path, "", lang)
        label = translate("password.strength.label", lang, level="@").split("@")[0]
        assert not [t for t in texts if label in t], texts  # no "very weak" before typing
        assert not [i for i in ids if i.startswith("password-verdict")]


def test_a_refused_password_never_reads_strong(tmp_path):
    from wizard.i18n import translate

    texts, ids = _password_screen(tmp_path, "Пароль123", "ru")
    assert "password-verdict-refused" in ids
    assert translate("password.verdict.rejected", "ru") in texts
    strong = [translate(f"password.strength.{n}", "ru") for n in (3, 4)]
    assert not [t for t in texts if any(word in t for word in strong)], texts


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
    from wizard.ui.app import UiContext
    from wizard.ui.platform import Platform
    from wizard.ui.screens import start

    m = _model(tmp_path)
    m.start_new()
    controls = start.view(m, UiContext(platform=Platform(), toast=lambda text: None))
    texts = [t for c in controls for t in _texts(c)]
    assert not set(LANGUAGE_NAMES.values()) & set(texts), texts


def test_an_empty_email_is_said_at_the_field_and_cleared_when_fixed(tmp_path):
    async def scenario() -> WizardModel:
        m = _model(tmp_path)
        m.start_new()
        m.confirm_start()
        m.confirm_storage()
        await m.make_demo_keys()
        m.continue_from_keys()
        await m.close()
        return m

    m = asyncio.run(scenario())
    m.set_email("")
    m.application_ok = True
    m.submit_application()
    assert m.screen == "application" and m.details_error is None
    for lang in ("kk", "ru", "en"):
        said = m.email_error.text(lang)
        assert said and not said.rstrip(" -").endswith(":"), said  # never "…address:" alone
    m.set_email("aigerim@example.kz")
    assert m.email_error is None  # cleared when fixed
    m.submit_application()
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
    from wizard.ui.app import UiContext
    from wizard.ui.platform import Platform
    from wizard.ui.screens import application, open_keys, password

    ui = UiContext(platform=Platform(), toast=lambda text: None)
    m = _model(tmp_path)
    m.start_new()
    m.confirm_start()
    m.confirm_storage()
    assert "why-disabled" in [i for c in open_keys.view(m, ui) for i in _identifiers(c)]
    assert m.why_not_continue.key == "open.why_not_continue"
    m.screen = "application"
    assert m.why_not_continue.key == "application.confirm_needed"
    assert "why-disabled" in [i for c in application.view(m, ui) for i in _identifiers(c)]
    m.application_ok = True
    assert m.why_not_continue is None
    assert "why-disabled" not in [i for c in application.view(m, ui) for i in _identifiers(c)]
    m.screen = "password"
    assert m.why_not_continue.key == "password.why_rules"
    m.new_password = "Tulpar-Saryarqa-42"
    assert m.why_not_continue.key == "password.why_repeat"
    m.new_password2 = "Tulpar-Saryarqa-42"
    assert m.why_not_continue.key == "password.understand_needed"
    assert "why-disabled" in [i for c in password.view(m, ui) for i in _identifiers(c)]
    m.understood = True
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
        m.start_new()
        m.confirm_start()
        m.confirm_storage()
        await m.make_demo_keys()
        m.continue_from_keys()
        m.application_ok = True
        m.submit_application()  # the demo e-mail and the certificate's locality kept
        assert m.screen == "password", (m.email_error, m.locality_error, m.folder_error)
        m.new_password = m.new_password2 = "Tulpar-Saryarqa-42"
        m.understood = True
        await m.accept_password()
        assert m.screen == "code" and m.demo_sms
        assert m.code == m.demo_sms  # shown as the demo's "SMS" and already in the field
        await m.confirm_code()
        await m.close()
        return m

    assert asyncio.run(scenario()).screen == "done"
