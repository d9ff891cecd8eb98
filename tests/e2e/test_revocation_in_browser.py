"""Step 3 in the real wizard (Debian Chromium): each key card says whether the key is revoked and
where the answer came from, in kk, ru and en — ``good`` from the in-process demo authority's
OCSP responder, then ``revoked`` once the demo holder is revoked at the authority (and no way on),
and ``unknown`` with its reason for the NCA's real GOST test store picked offline. Screenshots
of each card are kept in tests/e2e/artifacts/<test>/."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from driver import (
    choose_language,
    confirm_code,
    fill_application,
    open_demo_keys,
    open_files,
    set_new_password,
    to_open_keys,
)

from wizard.keys.store import open_store
from wizard.ui.model import DEMO_PASSWORD

pytestmark = pytest.mark.e2e


def _revoke(home: Path, stores: list[Path]) -> None:
    """Revoke the demo holder's certificates through the test endpoint of the demo authority's
    own books (the wizard's in-process authority reads the same SQLite file)."""
    from wizard.authority.mock import create_app

    app = create_app(home / "demo-authority", test_endpoints=True)

    async def revoke() -> None:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://books") as client:
            for path in stores:
                serial = format(open_store(path, DEMO_PASSWORD).certificate.serial_number, "x")
                body = {"serial": serial, "reason": "key_compromise"}
                answer = await client.post("/v1/_test/revocations", json=body)
                assert answer.status_code == 200, answer.text

    # Playwright's sync API keeps an event loop running in this thread: run ours in another.
    with ThreadPoolExecutor(1) as pool:
        pool.submit(lambda: asyncio.run(revoke())).result(60)
    app.state.authority.close()


def _show_card(w) -> None:
    """Scroll the page down so that the key card, with its revocation, fills the screenshot."""
    w.page.mouse.move(550, 600)
    w.page.mouse.wheel(0, 520)
    w.page.wait_for_timeout(800)


def _line(w, status: str, source: str) -> str:
    return w.t(
        "revocation.line",
        status=w.t(f"revocation.status.{status}"),
        source=w.t(f"revocation.source.{source}"),
    )


def _in_every_language(w, status: tuple[str, str], check, shot: str) -> None:
    """``check(w)`` and a screenshot in kk, ru and en: one page, the language switched (the card
    re-translates; nothing is opened again)."""
    from wizard.i18n import LANGUAGE_NAMES

    for lang in ("kk", "ru", "en"):
        w.lang = lang
        w.page.mouse.wheel(0, -2000)  # back to the top, where the language buttons are
        w.page.get_by_role("button", name=LANGUAGE_NAMES[lang], exact=True).first.click()
        w.expect_text(_line(w, *status), timeout=30_000)  # the card in this language
        check(w)
        _show_card(w)
        w.shot(f"{shot}-{lang}")


def test_the_key_card_says_good_then_revoked(start_wizard, open_page, monkeypatch):
    monkeypatch.delenv("QOLTANBA_OFFLINE", raising=False)
    server = start_wizard(lang="en")
    w = open_page(server, "kk")
    choose_language(w, "kk")
    to_open_keys(w)
    open_demo_keys(w)
    w.expect_text(_line(w, "good", "ocsp"), timeout=60_000)

    def good(w) -> None:
        w.expect_text(_line(w, "good", "ocsp"))
        w.expect_text(w.t("revocation.detail.responder_good"))

    _in_every_language(w, ("good", "ocsp"), good, "key-card-good")

    stores = sorted((server.home / "demo-keys").rglob("*.p12"))
    assert len(stores) == 2
    _revoke(server.home, stores)
    w.click("open.open")  # open them again: the authority now says revoked
    w.expect_text(_line(w, "revoked", "ocsp"), timeout=60_000)

    def revoked(w) -> None:
        w.expect_text(_line(w, "revoked", "ocsp"))
        w.expect_text(w.t("verdict.revoked"))
        w.expect_text(w.t("revocation.reason.key_compromise"))
        w.expect_text(w.t("open.cannot_renew"))
        assert w.button("nav.continue").is_disabled()

    _in_every_language(w, ("revoked", "ocsp"), revoked, "key-card-revoked")


def test_the_real_gost_store_offline_is_unknown_with_its_reason(
    start_wizard, open_page, material, monkeypatch
):
    monkeypatch.setenv("QOLTANBA_OFFLINE", "1")  # the same answer on a machine with internet
    # the demo trusts the NCA test CA (else step 3 says at once it does not renew these keys)
    monkeypatch.setenv("QOLTANBA_TRUST", str(material / "gost2015-2026" / "ca"))
    server = start_wizard(lang="en")
    w = open_page(server, "en")
    to_open_keys(w)
    open_files(w, [material / "gost2015-2026" / "individual_revoked.p12"], "Qwerty12")
    # Picked in a browser the file has no folder, so the CRLs beside it are not at hand, and
    # offline there is nothing else to ask: unknown (offline), and the renewal may go on.
    w.expect_text(_line(w, "unknown", "none"), timeout=60_000)
    w.expect_text(w.t("revocation.detail.offline"))
    w.expect_text(w.t("revocation.unknown_policy"))
    w.expect_text(w.t("verdict.renewable"))
    _show_card(w)
    w.shot("key-card-unknown")


def test_the_done_screen_revokes_the_old_keys_at_the_authority(start_wizard, open_page):
    server = start_wizard(lang="en")
    w = open_page(server, "en")
    to_open_keys(w)
    open_demo_keys(w)
    old = sorted((server.home / "demo-keys").rglob("*.p12"))
    fill_application(w)
    set_new_password(w)
    confirm_code(w)
    w.expect_text(w.t("done.title"), timeout=60_000)
    w.expect_text(w.t("done.revoke_old_explain"))
    w.click("done.revoke_old")
    w.expect_text(w.t("done.revoke_what"))  # it cannot be undone: asked first
    w.shot("done-revoke-asked")
    w.page.keyboard.press("Escape")  # Escape is "keep them for now"
    w.page.get_by_text(w.t("done.revoke_what")).wait_for(state="hidden", timeout=10_000)
    assert not w.has_text(w.t("done.revoked_old", count=2))
    w.click("done.revoke_old")
    w.expect_text(w.t("done.revoke_what"))
    w.click("done.revoke_yes")
    w.expect_text(w.t("done.revoked_old", count=2), timeout=60_000)
    w.shot("done-old-keys-revoked")
    # The authority's OCSP responder now says so of the old keys.
    from wizard.authority.revocation import RevocationOptions, check_certificate

    options = RevocationOptions(home=server.home)

    def ask(certificate):
        return asyncio.run(check_certificate(certificate, options))

    with ThreadPoolExecutor(1) as pool:
        for path in old:
            certificate = open_store(path, DEMO_PASSWORD).certificate
            answer = pool.submit(ask, certificate).result(60)
            assert (answer.status.value, answer.source, answer.reason) == (
                "revoked",
                "ocsp",
                "superseded",
            )
