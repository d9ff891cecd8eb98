"""A person renews demo keys start to finish in the real wizard, in each language, on a phone
(360×800) and on a laptop (1100×900 or 1280×900); then an interrupted renewal and the error paths.

Each walk also checks that every step fits the screen (issue #11): each step opens with its first
field in view (driver.arrive), no step needs more than one turn of the wheel on the phone and none
on a laptop, checkbox labels wrap instead of being cut off, and a key card's long values (the file
name) get the card's width on a phone. Screenshots of each step's bottom are kept for a look."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from authority_support import ServedAuthority
from driver import (
    NEW_PASSWORD,
    PHONE,
    ROOT,
    application_number,
    choose_language,
    confirm_code,
    demo_renewal_to_code,
    fill_application,
    finish_resumed,
    open_demo_keys,
    open_files,
    set_new_password,
    to_open_keys,
)

from wizard.keys.store import open_store

pytestmark = pytest.mark.e2e


def _check_new_keys(folder: Path) -> list[Path]:
    stores = sorted(folder.glob("*.p12"))
    assert [p.name.split("_")[0] for p in stores] == ["AUTH", "RSA256"]
    for path in stores:
        assert path.stat().st_mode & 0o777 == 0o600
        store = open_store(path, NEW_PASSWORD)
        assert store.verdict().renewable
        assert store.facts.iin == "900101400013"
    assert len(list(folder.glob("*.cer"))) == 2
    assert not list(folder.glob("PENDING_*"))
    return stores


# The most a person does for a whole demo renewal, counted by the driver (clicks, typed fields,
# ticks): 17 before issue #11, its goal at most 12.
DEMO_RENEWAL_ACTIONS = 12
# At most this many turns of the mouse wheel on any one step at 360×800 (issue #11), none at all
# on a laptop.
MOST_SCROLLS_PER_PHONE_STEP = 1
DEVICE_LOCALES = {"kk": "kk-KZ", "ru": "ru-RU", "en": "en-GB"}


WIDE = {"width": 1280, "height": 900}


def look_below(w, name: str) -> None:
    """A screenshot of the bottom of the step, for a person to look at (not counted: the
    scrolling column is put back at its top afterwards)."""
    size = w.page.viewport_size
    w.page.mouse.move(size["width"] / 2, size["height"] / 2)
    w.page.mouse.wheel(0, 4000)
    w.page.wait_for_timeout(500)
    w.shot(f"{name}-bottom")
    w.page.mouse.wheel(0, -4000)
    w.page.wait_for_timeout(500)


def _inside(w, locator) -> dict:
    box = locator.bounding_box()
    assert box is not None, locator
    width = w.page.viewport_size["width"]
    assert box["x"] >= 0 and box["x"] + box["width"] <= width + 1, (box, width)
    return box


@pytest.mark.parametrize(
    ("lang", "viewport"),
    [
        ("kk", "phone"),
        ("ru", "phone"),
        ("en", "phone"),
        ("en", "desktop"),
        ("ru", "wide"),
        ("kk", "wide"),
    ],
)
def test_demo_renewal_start_to_finish(start_wizard, open_page, tmp_path, lang, viewport):
    from driver import DESKTOP

    phone = viewport == "phone"
    # nothing chosen yet: the wizard opens in the device's language (the browser's locale)
    server = start_wizard(lang=None)
    size = {"phone": PHONE, "desktop": DESKTOP, "wide": WIDE}[viewport]
    w = open_page(server, lang, size, locale=DEVICE_LOCALES[lang])
    w.button("home.renew").wait_for(timeout=30_000)
    w.shot("home")
    to_open_keys(w)
    open_demo_keys(w)
    if phone:
        # a key card's file name under its label, as wide as the card (a 150 px label column
        # left it a third of the phone: four lines)
        [store] = sorted((server.home / "demo-keys").rglob("AUTH_*.p12"))
        name = w.page.get_by_text(store.name, exact=True).last
        w.scroll_to(name)
        assert _inside(w, name)["width"] >= 0.6 * PHONE["width"]
        w.scroll_to(w.button("nav.continue"))
        w.step_scrolls["open"] = 0  # looking at the card is not what the renewal asks for
    look_below(w, "keys")
    fill_application(w, type_details=False)  # the demo keys' details are pre-filled
    # the checkbox labels wrap: their words are text of their own, inside the screen
    for key in ("password.show", "password.understand"):
        _inside(w, w.page.get_by_text(w.t(key), exact=True).first)
        assert w.page.get_by_role("checkbox", name=w.t(key), exact=True).count() == 1
    set_new_password(w)
    number = application_number(w)
    if lang == "en":  # Flutter's own words too (the code field's counter, for screen readers):
        # in the language the device gave, not the first guess's Kazakh
        said = w.dump()
        assert "characters remaining" in said and "таңба" not in said, said
    confirm_code(w)
    w.expect_text(w.t("done.title"), timeout=60_000)
    w.arrive("done.title", step="done", first=w.button("done_save.save_all"))
    w.expect_text(w.t("done.old_keys"))
    w.shot("done")
    look_below(w, "done")
    counted = dict(w.actions, total=w.action_count, scrolls=w.scrolls)
    (w.shots / "actions.txt").write_text(f"{counted}\n{w.step_scrolls}\n", encoding="utf-8")
    assert w.action_count <= DEMO_RENEWAL_ACTIONS, counted
    # scrolls a person needs, per step: none on a laptop, at most one per step on a phone
    steps = ["start", "storage", "open", "application", "password", "code", "done"]
    assert [s for s in steps if s in w.step_scrolls] == steps, w.step_scrolls
    if not phone:
        assert w.scrolls == 0, w.step_scrolls
    else:
        assert all(n <= MOST_SCROLLS_PER_PHONE_STEP for n in w.step_scrolls.values()), (
            w.step_scrolls
        )

    folder = server.home / "keys"
    [new_folder] = list(folder.iterdir())
    _check_new_keys(new_folder)
    assert w.has_text(w.t("done.application", application=number))
    # the new keys leave the server as one zip, a download in the browser (issue #11 item 6)
    with w.page.expect_download(timeout=30_000) as download:
        w.click("done_save.save_all")
    bundle = tmp_path / download.value.suggested_filename
    download.value.save_as(bundle)
    assert bundle.name == f"qoltanba-{new_folder.name}.zip"
    with zipfile.ZipFile(bundle) as archive:
        names = archive.namelist()
        assert sorted(n[-4:] for n in names) == [".cer", ".cer", ".p12", ".p12"], names
        for name in names:
            assert archive.read(name) == (new_folder / name).read_bytes(), name
    if viewport == "desktop":  # the expiry reminders, as a calendar file
        with w.page.expect_download(timeout=30_000) as download:
            w.click("done.calendar")
        saved = tmp_path / download.value.suggested_filename
        download.value.save_as(saved)
        assert saved.suffix == ".ics"
        assert saved.read_bytes().count(b"BEGIN:VEVENT") == 3
    # the home screen now shows the new keys with the time they have left
    w.click("app.to_home")
    w.expect_text(w.t("home.known_title"))
    w.shot("home-after")
    assert not [u for u in w.blocked if "rive" not in u], w.blocked


def test_the_language_chosen_is_remembered_after_a_restart(start_wizard, open_page, tmp_path):
    home = tmp_path / "home"
    server = start_wizard(lang=None, home=home)
    w = open_page(server, "en", locale="en-GB")
    w._waited(w.button("home.renew"), "home-in-english")  # the device says English
    choose_language(w, "kk")
    server.stop()

    server = start_wizard(lang=None, home=home)
    w = open_page(server, "kk", locale="en-GB")  # the device still says English...
    w.button("home.renew").wait_for(timeout=30_000)  # ...the wizard opens in the person's choice
    w.shot("kk-remembered")
    w.click("home.renew")
    assert not w.page.get_by_role("button", name="English", exact=True).count() > 1


def test_demo_keys_folder_and_validation_at_the_field(start_wizard, open_page):
    """The demo keys' folder is said; an empty e-mail is said at its field (not under the form)
    and cleared once fixed; a disabled Continue says why."""
    server = start_wizard()
    w = open_page(server, "en", PHONE)
    to_open_keys(w)
    assert w.page.locator('[flt-semantics-identifier="why-disabled"]').count() == 1
    open_demo_keys(w)
    folder = str(next((server.home / "demo-keys").iterdir()))
    assert w.has_text(folder)
    w.click("nav.continue")
    w.arrive("application.explain", "application.email")
    w.fill("application.email", "")
    w.check("application.correct")
    w.click("nav.continue")
    w.expect_text(w.t("application.email_empty"))
    w.shot("email-empty")
    w.fill("application.email", "aigerim@example.kz")
    w.page.wait_for_timeout(500)
    assert not w.has_text(w.t("application.email_empty"))


def test_switching_language_keeps_what_was_typed(start_wizard, open_page):
    server = start_wizard()
    w = open_page(server, "en")
    to_open_keys(w)
    open_demo_keys(w)
    fill_application(w)
    w.fill("password.new", NEW_PASSWORD)
    choose_language_anywhere(w, "kk")
    w.lang = "kk"
    # still on the password step, the rules ticked off for what was typed, now in Kazakh
    w.expect_text(w.t("password.explain"))
    w.expect_text(w.t("password.strength.label", level=w.t("password.strength.4")))
    w.shot("kk-password-kept")


def choose_language_anywhere(w, lang: str) -> None:
    from wizard.i18n import LANGUAGE_NAMES

    w.page.get_by_role("button", name=LANGUAGE_NAMES[lang], exact=True).first.click()


def test_interrupted_renewal_resumes_after_restart(start_wizard, open_page, tmp_path):
    home = tmp_path / "home"
    server = start_wizard(home=home)
    w = open_page(server, "en")
    number = demo_renewal_to_code(w)
    w.shot("code-before-restart")
    server.stop()  # the window closed, the phone restarted...

    server = start_wizard(home=home)
    w = open_page(server, "en")
    w.expect_text(w.t("home.pending_application", application=number))
    w.shot("home-pending")
    w.click("home.continue")
    w.expect_text(w.t("open.resuming", application=number, state=w.t("state.awaiting_code")))
    open_files(w, sorted((home / "demo-keys").rglob("*.p12")), "Qwerty12")
    w.expect_text(w.t("verdict.renewable"))
    finish_resumed(w, number)  # the same application
    [new_folder] = list((home / "keys").iterdir())
    _check_new_keys(new_folder)


def test_a_tab_closed_at_the_code_lets_a_new_tab_finish_the_renewal(start_wizard, open_page):
    """The same server (Flet keeps the closed tab's session for an hour): a new tab must be able
    to carry the renewal on, not hear "running in another window" (hostile walk, session 5)."""
    server = start_wizard()
    w = open_page(server, "en")
    number = demo_renewal_to_code(w)
    w.page.context.close()  # the tab closed at the one-time code

    w = open_page(server, "en")
    w.expect_text(w.t("home.pending_application", application=number))
    w.click("home.continue")
    w.expect_text(w.t("verdict.renewable"), timeout=60_000)  # its demo keys opened again
    w.shot("resumed-keys")
    finish_resumed(w, number)
    w.shot("done-in-a-new-tab")


def test_wrong_password_and_expired_key(start_wizard, open_page, material):
    server = start_wizard()
    w = open_page(server, "ru")
    choose_language(w, "ru")
    to_open_keys(w)
    active = material / "sdk2020" / "personal" / "active"
    open_files(w, sorted(active.glob("*.p12")), "Qwerty13")
    w.expect_text(w.t("error.wrong_password"))
    w.shot("wrong-password")
    w.fill("open.password", "Qwerty12")
    w.click("open.open")
    w.expect_text(w.t("verdict.expired"))
    w.expect_text(w.t("open.cannot_renew"))
    w.shot("expired")
    assert w.button("nav.continue").is_disabled()


def test_refused_new_password(start_wizard, open_page):
    server = start_wizard()
    w = open_page(server, "en")
    to_open_keys(w)
    open_demo_keys(w)
    fill_application(w)
    w.fill("password.new", "12345678")
    w.fill("password.repeat", "12345678")
    w.check("password.understand")
    w.expect_text(w.t("password.problem.token_default_pin"))
    w.shot("refused-password")
    assert w.button("password.go").is_disabled()
    w.fill("password.new", "Aigerim1990")  # her own name: refused too
    w.expect_text(w.t("password.problem.contains_identity"))
    # one verdict (issue #11): every NCA rule kept, but a common password: its own red line
    w.fill("password.new", "Qwerty12")
    w.page.locator('[flt-semantics-identifier="rule-not_common-unmet"]').wait_for()
    w.page.locator('[flt-semantics-identifier="password-verdict-refused"]').wait_for()
    assert not w.has_text(w.t("password.strength.label", level=w.t("password.strength.4")))
    w.shot("common-password")
    w.fill("password.new", "Пароль123")  # strong-looking, refused: never green "strong"
    w.page.locator('[flt-semantics-identifier="password-verdict-refused"]').wait_for()
    assert not w.has_text(w.t("password.strength.3"))
    w.shot("cyrillic-password")


def test_authority_down_then_back(start_wizard, open_page, tmp_path):
    authority = ServedAuthority(tmp_path / "authority").start()
    url = authority.url
    try:
        keys = tmp_path / "current"
        env = {**os.environ, "QOLTANBA_HOME": str(tmp_path / "cli"), "P": "Qwerty12"}
        subprocess.run(
            [
                sys.executable,
                "-m",
                "wizard",
                "demo-keys",
                "--out",
                str(keys),
                "--password-env",
                "P",
                "--authority",
                url,
            ],
            cwd=ROOT,
            env=env,
            check=True,
            capture_output=True,
        )
    finally:
        authority.stop()

    server = start_wizard(authority=url)
    w = open_page(server, "en")
    assert not w.has_text(w.t("app.demo_mark"))
    to_open_keys(w)
    open_files(w, sorted(keys.glob("*.p12")), "Qwerty12")
    w.expect_text(w.t("verdict.renewable"))
    fill_application(w)
    set_new_password(w)
    w.expect_text(w.t("status.offline"), timeout=60_000)
    w.shot("offline")
    pending = list((server.home / "keys").rglob("PENDING_*.p8"))
    assert len(pending) == 2  # the new keys are kept, encrypted, while it waits

    authority.start()  # the connection is back (same port, same data): it goes on by itself
    try:
        w.find_text(r"^\d{4}-\d{8}$", timeout=60_000)
        w.expect_text(w.t("code.explain"), timeout=60_000)
        w.shot("back-online")
    finally:
        authority.stop()
