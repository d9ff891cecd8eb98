"""A double click on a step's Continue or Back, in the real wizard (Debian Chromium), moves one
step, never two: the next step's button sits where the pressed one did, and the second click of
the pair landed on it (step 1's double click skipped the storage step). The two clicks are a
person's: the mouse pressed twice at the button's place, a short gap apart (SETTLE_SECONDS in
wizard/ui/app.py keeps the new step's buttons disabled for longer than that)."""

from __future__ import annotations

import pytest

from wizard.ui.app import SETTLE_SECONDS

pytestmark = pytest.mark.e2e

# gaps between the two clicks, in ms: at once (the second sent before the next step is drawn),
# a quick double click and a slow one (inside Windows' 500 ms)
GAPS = (0, 150, 450)


def _double_click(w, key: str, gap: int) -> None:
    button = w.button(key).first
    button.wait_for(timeout=30_000)
    w.page.wait_for_timeout(int(SETTLE_SECONDS * 1000) + 200)  # this step's buttons settled
    box = button.bounding_box()
    assert box is not None, key
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    w.page.mouse.click(x, y)
    w.page.wait_for_timeout(gap)
    w.page.mouse.click(x, y)
    w.page.wait_for_timeout(1000)  # whatever the second click did has been drawn


def test_a_double_click_moves_one_step(start_wizard, open_page):
    w = open_page(start_wizard(lang="en"))
    w.click("home.renew")
    w.expect_text(w.t("start.mode"))
    for gap in GAPS:
        _double_click(w, "nav.continue", gap)
        assert w.has_text(w.t("storage.question")), (gap, w.shot(f"continue-{gap}"))
        assert not w.has_text(w.t("open.explain")), (gap, w.shot(f"skipped-{gap}"))
        _double_click(w, "nav.back", gap)
        assert w.has_text(w.t("start.mode")), (gap, w.shot(f"back-{gap}"))
        assert w.button("home.renew").count() == 0, (gap, w.shot(f"back-twice-{gap}"))
    # settled, one click goes on at once, as before
    w.page.wait_for_timeout(int(SETTLE_SECONDS * 1000) + 200)
    w.click("nav.continue")
    w.expect_text(w.t("storage.question"))
    # a field clicked the moment its step opens takes what is typed (only Back and Continue
    # settle on a step with fields: a disabled field took no focus, and the typing was lost)
    w.page.wait_for_timeout(int(SETTLE_SECONDS * 1000) + 200)
    w.button("nav.continue").click()
    field = w.page.get_by_role("textbox", name=w.t("open.password"), exact=True)
    field.wait_for(timeout=30_000)
    box = field.bounding_box()  # the mouse, as a person's: Playwright's click would wait
    assert box is not None
    w.page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    w.page.wait_for_timeout(150)
    w.page.keyboard.insert_text("Qwerty12")
    w.page.wait_for_timeout(int(SETTLE_SECONDS * 1000) + 300)
    typed = w.page.evaluate("() => document.activeElement?.value")
    assert typed == "Qwerty12", (typed, w.shot("typed-at-once"))


def test_a_double_click_on_renew_leaves_step_1_as_it_was(start_wizard, open_page):
    """Home's "Renew" sits where step 1's "A real authority at an address" does: the second
    click of a double click must not choose it (hostile walk, session 6)."""
    w = open_page(start_wizard(lang="en"))
    address = w.page.get_by_role("textbox", name=w.t("start.authority_url"), exact=True)
    for gap in (150, 450):
        _double_click(w, "home.renew", gap)
        assert w.has_text(w.t("start.mode")), (gap, w.shot(f"renew-{gap}"))
        assert address.count() == 0, (gap, w.shot(f"real-chosen-{gap}"))
        _double_click(w, "nav.back", 0)  # home again
        assert w.button("home.renew").count() == 1, (gap, w.shot(f"home-{gap}"))
