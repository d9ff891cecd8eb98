"""Issue #11 in the real wizard: the right verdict first (a real NCA GOST test key in demo mode is
refused at step 3, in words, with Continue disabled; with QOLTANBA_TRUST it is renewed), the help
link opening its answer, and a resumed renewal finding its keys already chosen.

The NCA GOST test batch expires on 2027-05-08: from then on step 3 says "expired" (the key's own
verdict comes first), which the tests check instead."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from driver import (
    NEW_PASSWORD,
    application_number,
    confirm_code,
    demo_renewal_to_code,
    fill_application,
    finish_resumed,
    open_files,
    set_new_password,
    to_open_keys,
)

from wizard.keys.certificate import utc_now
from wizard.keys.store import open_store

pytestmark = pytest.mark.e2e

MATERIAL_PASSWORD = "Qwerty12"


@pytest.fixture(autouse=True)
def no_trust(monkeypatch):
    """The wizard's server inherits this process's environment (WizardServer.start)."""
    monkeypatch.delenv("QOLTANBA_TRUST", raising=False)


def _nca_store(material: Path) -> Path:
    return material / "gost2015-2026" / "individual_valid.p12"


def _still_valid(store: Path) -> bool:
    return open_store(store, MATERIAL_PASSWORD).verdict(utc_now()).renewable


def _identifier(w, name: str):
    return w.page.locator(f'[flt-semantics-identifier="{name}"]')


def test_an_nca_test_key_is_refused_at_step_3_and_help_opens_its_answer(
    start_wizard, open_page, material
):
    store = _nca_store(material)
    server = start_wizard()
    w = open_page(server, "en")
    to_open_keys(w)
    open_files(w, [store], MATERIAL_PASSWORD)
    if not _still_valid(store):  # the batch has expired (2027-05-08): that is said first
        w.expect_text(w.t("verdict.expired"))
        w.shot("expired")
        assert w.button("nav.continue").is_disabled()
        return
    # the refusal, at once, in words, with what to do; nothing says "can be renewed"
    verdict = _identifier(w, "issuer-verdict")
    w._waited(verdict, "issuer-verdict", 60_000)
    w.expect_text("QOLTANBA_TRUST")
    w.expect_text("ҰЛТТЫҚ КУӘЛАНДЫРУШЫ ОРТАЛЫҚ (GOST) TEST 2022")
    assert not w.has_text(w.t("verdict.renewable"))
    assert not w.has_text("certificate_untrusted")
    w.shot("issuer-refused")
    assert w.button("nav.continue").is_disabled()
    assert _identifier(w, "why-disabled").count() == 1
    # "Make demo keys for me" right beside it, as well as at the top
    assert w.button("open.make_demo").count() == 2
    assert not list(server.home.rglob("PENDING_*"))  # nothing was made

    # "What does this mean? (Help)": the answer for this refusal, open and in view
    w.click("open.faq_link")
    w.expect_text(w.t("help.title"))
    answer = w.t("help_more.issuer_not_accepted.a").split("\n")[0]
    # the open tile's answer is one accessible group, labelled with its text
    shown = w.page.get_by_role("group", name=re.compile(re.escape(answer[:60]))).first
    w._waited(shown, "help-answer")
    w.page.wait_for_timeout(1200)  # the scroll to it
    w.shot("help-answer")
    assert w.in_view(shown), "the answer is not in view"
    w.click("nav.back")
    w._waited(_identifier(w, "issuer-verdict"), "back-to-the-keys")
    w.shot("back-at-the-keys")


def test_with_qoltanba_trust_the_nca_test_key_is_renewed(
    start_wizard, open_page, material, monkeypatch
):
    store = _nca_store(material)
    if not _still_valid(store):
        pytest.skip("the NCA GOST test batch has expired (2027-05-08)")
    monkeypatch.setenv("QOLTANBA_TRUST", str(material / "gost2015-2026" / "ca"))
    server = start_wizard()
    w = open_page(server, "en")
    to_open_keys(w)
    open_files(w, [store], MATERIAL_PASSWORD)
    w.expect_text(w.t("verdict.renewable"), timeout=60_000)
    w.page.wait_for_timeout(1500)  # the authority's answers (revocation, issuer) arrive
    assert _identifier(w, "issuer-verdict").count() == 0
    w.shot("nca-key-accepted")
    fill_application(w)
    set_new_password(w)
    number = application_number(w)
    confirm_code(w)
    w.expect_text(w.t("done.title"), timeout=120_000)
    assert w.has_text(w.t("done.application", application=number))
    w.shot("done")
    [folder] = list((server.home / "keys").iterdir())
    stores = sorted(folder.glob("*.p12"))
    assert [p.name.split("_")[0] for p in stores] == ["GOST512"]
    assert open_store(stores[0], NEW_PASSWORD).verdict().renewable


def test_a_resumed_renewal_finds_its_demo_keys_already_open(start_wizard, open_page, tmp_path):
    home = tmp_path / "home"
    server = start_wizard(home=home)
    w = open_page(server, "en")
    number = demo_renewal_to_code(w, type_details=False)
    server.stop()  # the window closed, the phone restarted...

    server = start_wizard(home=home)
    w = open_page(server, "en")
    w.expect_text(w.t("home.pending_application", application=number))
    w.click("home.continue")
    # nothing to choose, nothing to type: the same keys, open, their folder said
    w._waited(_identifier(w, "open.resume_note"), "resume-note")
    w.expect_text(w.t("verdict.renewable"))
    folder = str(next((home / "demo-keys").iterdir()))
    assert w.has_text(folder)
    w.shot("resumed-keys-open")
    finish_resumed(w, number)
    w.shot("resumed-done")
    # after the restart: Continue, Continue, the new password, its button, the code's button
    assert w.action_count <= 5, w.actions
