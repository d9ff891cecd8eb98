"""Browser fixtures: the real wizard (`qoltanba gui --web`) in Debian Chromium via Playwright.

Without Chromium these tests skip locally with the reason, and fail in CI (`.ci/run` installs it).
Every page routes anything that is not 127.0.0.1 to abort(): the wizard must work offline.
Screenshots of every step are kept in tests/e2e/artifacts/<test>/ (QOLTANBA_TEST_ARTIFACTS).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "authority"))  # authority_support
from authority_support import free_port
from driver import (
    ARTIFACTS,
    CHROMIUM_ARGS,
    DESKTOP,
    WizardPage,
    WizardServer,
    chromium_path,
)


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


@pytest.fixture(scope="session")
def chromium() -> str:
    path = chromium_path()
    if path is None:
        reason = "Debian chromium is not installed (apt-get install chromium)"
        if in_ci():
            pytest.fail(f"{reason}; CI must install it", pytrace=False)
        pytest.skip(reason)
    return path


@pytest.fixture(scope="module")
def browser(chromium: str) -> Iterator:
    # Module scope: Playwright's sync API keeps an event loop running in this thread while it
    # lives, and later tests' asyncio.run() must not find it.
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def start_wizard(tmp_path: Path) -> Iterator:
    """start_wizard(lang=..., authority=..., home=...) -> a running WizardServer."""
    servers: list[WizardServer] = []

    def start(
        lang: str | None = "en", authority: str = "demo", home: Path | None = None
    ) -> WizardServer:
        server = WizardServer(
            home=home or tmp_path / "home", port=free_port(), authority=authority, lang=lang
        )
        servers.append(server)
        return server.start()

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def open_page(browser, request) -> Iterator:
    """open_page(server, lang, viewport) -> a WizardPage showing the wizard."""
    contexts = []
    name = request.node.name.replace("[", "-").replace("]", "")

    def open_(
        server: WizardServer,
        lang: str = "en",
        viewport: dict | None = None,
        locale: str | None = None,  # the browser's (the device's) language, e.g. "kk-KZ"
    ) -> WizardPage:
        options = {"locale": locale} if locale else {}
        context = browser.new_context(
            viewport=viewport or DESKTOP, accept_downloads=True, **options
        )
        contexts.append(context)
        wizard = WizardPage(context.new_page(), lang, ARTIFACTS / name)
        wizard.open(server.url)
        return wizard

    yield open_
    for context in contexts:
        context.close()
