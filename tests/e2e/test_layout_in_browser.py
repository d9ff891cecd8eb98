"""Every step of a demo renewal fits a person's screen (issue #11): on a phone (360×800) in
Russian and English, and on a wide laptop screen (1280×900), each step opens with its first field
in view (driver.arrive), no step needs more than one turn of the wheel on the phone and none on
the laptop; checkbox labels wrap instead of being cut off and a key card's long values (the file
name) get the card's width on a phone. The Kazakh phone and the 1100 px laptop are walked by
test_renewal_in_browser.py's demo renewal."""

from __future__ import annotations

import pytest
from driver import (
    PHONE,
    WizardPage,
    confirm_code,
    fill_application,
    open_demo_keys,
    set_new_password,
    to_open_keys,
)

pytestmark = pytest.mark.e2e

WIDE = {"width": 1280, "height": 900}
STEPS = ["start", "storage", "open", "application", "password", "code", "done"]


def look_below(w: WizardPage, name: str) -> None:
    """A screenshot of the bottom of the step, for a person to look at (not counted: the
    scrolling column is put back at its top afterwards)."""
    size = w.page.viewport_size
    w.page.mouse.move(size["width"] / 2, size["height"] / 2)
    w.page.mouse.wheel(0, 4000)
    w.page.wait_for_timeout(500)
    w.shot(f"{name}-bottom")
    w.page.mouse.wheel(0, -4000)
    w.page.wait_for_timeout(500)


def _inside(w: WizardPage, locator) -> dict:
    box = locator.bounding_box()
    assert box is not None
    width = w.page.viewport_size["width"]
    assert box["x"] >= 0 and box["x"] + box["width"] <= width + 1, (box, width)
    return box


@pytest.mark.parametrize(
    ("lang", "viewport"), [("ru", "phone"), ("en", "phone"), ("ru", "wide"), ("kk", "wide")]
)
def test_every_step_fits_the_screen(start_wizard, open_page, lang, viewport):
    phone = viewport == "phone"
    server = start_wizard(lang=lang)
    w = open_page(server, lang, PHONE if phone else WIDE)
    w.button("home.renew").wait_for(timeout=30_000)
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
    look_below(w, "keys")
    w.step_scrolls["open"] = 0  # looking at the card is not what the renewal asks for
    fill_application(w, type_details=False)
    # the checkbox labels wrap: their words are text of their own, inside the screen
    for key in ("password.show", "password.understand"):
        _inside(w, w.page.get_by_text(w.t(key), exact=True).first)
        assert w.page.get_by_role("checkbox", name=w.t(key), exact=True).count() == 1
    set_new_password(w)
    confirm_code(w)
    w.expect_text(w.t("done.title"), timeout=60_000)
    w.arrive("done.title", step="done", first=w.button("done_save.save_all"))
    w.shot("done")
    look_below(w, "done")
    (w.shots / "scrolls.txt").write_text(f"{w.step_scrolls}\n", encoding="utf-8")
    assert [s for s in STEPS if s in w.step_scrolls] == STEPS, w.step_scrolls
    most = 1 if phone else 0
    assert all(n <= most for n in w.step_scrolls.values()), w.step_scrolls
