"""The Flet app: one observable WizardModel (the navigator, with its step models), one component
that shows the model's current screen, and the launcher (desktop window, or the local web UI on
127.0.0.1 when that cannot be had)."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import socket
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import flet as ft

from wizard.i18n import (
    FALLBACK_LANGUAGE,
    LANGUAGES,
    environment_language,
    language_of,
    translate,
)
from wizard.ui.model import Services, WizardModel
from wizard.ui.platform import Platform
from wizard.ui.screens import (
    application,
    code,
    done,
    help,
    home,
    open_keys,
    password,
    start,
    status,
    storage,
    work,
)
from wizard.ui.widgets import (
    MAX_WIDTH,
    NAV_KEY,
    PHONE_WIDTH,
    cancel_dialog,
    fault_notice,
    notice,
    revoke_dialog,
    step_indicator,
    top_bar,
)

logger = logging.getLogger(__name__)

ASSETS = Path(__file__).resolve().parents[2] / "assets"
# A step's Back and Continue sit where the last step's did, and step 1's choice where home's
# "Renew" was: for this long after a screen opens its controls are disabled (drawn so), so that
# the second click of a double click is not also a click on the new screen (it skipped the storage
# step, went home from step 2, chose a real authority). As long as a double click's two clicks
# apart may be (Windows: 500 ms); shorter than anyone reads a new step.
SETTLE_SECONDS = 0.5
# The screens whose whole column settles so; on the others (a field to type into first) only
# Back and Continue do: a field clicked while disabled takes no focus, and what is typed next is
# lost (hostile walk). A click on a field is harmless anyway.
BODY_SETTLES = frozenset({"home", "start", "storage", "work", "status", "done", "help"})
VIEWS: dict[str, Callable] = {
    "home": home.view,
    "start": start.view,
    "storage": storage.view,
    "open": open_keys.view,
    "application": application.view,
    "password": password.view,
    "work": work.view,
    "code": code.view,
    "status": status.view,
    "done": done.view,
    "help": help.view,
}


class _ObservedWizard(WizardModel):
    """The navigator as the UI holds it (made Flet's Observable below): a change of its attributes
    re-renders the screen, and so does a change inside a step model (``m.keys``, ``m.form``, ...),
    which calls ``notify``. ``ft.observable`` puts a class's own methods before Observable's:
    given WizardModel itself, its plain ``notify`` would hide Observable's; given this subclass,
    it does not."""


FLUTTER_LOCALES = {
    "kk": ft.Locale("kk", "KZ"),
    "ru": ft.Locale("ru", "RU"),
    "en": ft.Locale("en", "GB"),
}

Wizard = ft.observable(_ObservedWizard)


@dataclass
class UiContext:
    platform: Platform
    toast: Callable[[str], None]


def first_language(services: Services, explicit: str | None = None) -> tuple[str, bool]:
    """The language to open in, and whether it is settled: the one asked for (``--lang``,
    QOLTANBA_LANG), else the one the person chose before (remembered); otherwise not settled: the
    locale variables (LC_ALL, LANG, ...) or Kazakh (i18n.FALLBACK_LANGUAGE) until the device's own
    locale (Flet's get_device_info(), in App) says better."""
    if explicit in LANGUAGES:
        return str(explicit), True
    if asked := language_of(os.environ.get("QOLTANBA_LANG")):
        return asked, True
    if saved := services.saved_language():
        return saved, True
    return environment_language() or FALLBACK_LANGUAGE, False


def device_language(info: object) -> str | None:
    """Ours among the device's locales (DeviceInfo.locales: the browser's, the phone's)."""
    locales = getattr(info, "locales", None) or []
    return language_of([getattr(loc, "language_code", "") or "" for loc in locales])


@ft.component
def App(services: Services, platform: Platform, lang: str, settled: bool = True) -> ft.Control:
    m, _ = ft.use_state(lambda: Wizard(services, lang))
    width, set_width = ft.use_state(ft.context.page.width or MAX_WIDTH)
    page = ft.context.page

    async def ask_device() -> None:
        if settled:
            return
        try:
            info = await page.get_device_info()
        except Exception:  # an older client, a closed page: the first guess stays
            return
        m.use_device_language(device_language(info))

    ft.use_effect(ask_device, [])

    def follow_language() -> None:
        """Flutter's own words (a field's counter, a dialog's name, read out by screen readers)
        in the language the wizard speaks now, not the first guess's."""
        config = page.locale_configuration
        wanted = FLUTTER_LOCALES.get(m.lang)
        if config is None or wanted is None or config.current_locale == wanted:
            return
        config.current_locale = wanted
        page.update()

    ft.use_effect(follow_language, [m.lang])

    def on_resize(e) -> None:
        set_width(page.width or MAX_WIDTH)

    page.on_resize = on_resize
    page.title = translate("app.title", m.lang)

    def toast(text: str) -> None:
        page.show_dialog(ft.SnackBar(ft.Text(text), duration=2500))

    ui = UiContext(platform=platform, toast=toast)

    # the screen whose buttons have settled (SETTLE_SECONDS after it opened)
    settled_screen, set_settled_screen = ft.use_state(m.screen)

    async def settle() -> None:
        await asyncio.sleep(SETTLE_SECONDS)
        set_settled_screen(m.screen)

    ft.use_effect(settle, [m.screen])
    settling = settled_screen != m.screen

    # the status screen refreshes by itself while it is shown
    ft.use_effect(lambda: m.keep_refreshing(status.REFRESH_SECONDS), [m.screen, m.progress.offline])
    # Help opened at an answer scrolls it into view (issue #11)
    ft.use_effect(functools.partial(help.scroll_to_topic, page, m), [m.screen, m.help_topic])
    ft.on_unmounted(m.close)
    # the tab closed: a renewal waiting at the code must not stay locked for the session's hour
    page.on_disconnect = lambda _e: m.disconnected()
    # "End this renewal?" wherever it was asked (the model says when)
    ft.use_dialog(cancel_dialog(m))
    # "Revoke the old keys?" on the done screen (it cannot be undone)
    ft.use_dialog(revoke_dialog(m))

    try:
        indicator = step_indicator(m)
        body = [indicator] if indicator is not None else []
        # the last resort's line (m.fault): every model method is guarded by it
        body += fault_notice(m)
        body += VIEWS[m.screen](m, ui)
    except Exception:  # a bug in one screen (or a model property it reads) must not leave a
        logger.exception("screen %s failed", m.screen)  # blank window: a way home instead
        body = [
            notice(translate("app.screen_failed", m.lang), "bad"),
            ft.FilledButton(translate("app.to_home", m.lang), on_click=lambda: m.go("home")),
        ]
    # the step's bottom buttons (Back, Continue) stay in view below its scrolling column
    footer = [c for c in body if getattr(c, "key", None) == NAV_KEY]
    body = [c for c in body if getattr(c, "key", None) != NAV_KEY]
    content_width = max(280, min(MAX_WIDTH, (width or MAX_WIDTH) - 24))
    phone = (width or MAX_WIDTH) < PHONE_WIDTH
    try:
        bar: ft.Control = top_bar(m, compact=phone)
    except Exception:
        logger.exception("the top bar failed")
        bar = ft.Text(translate("app.title", m.lang), size=18)
    rows: list[ft.Control] = [
        bar,
        ft.Container(
            expand=True,
            alignment=ft.Alignment.TOP_CENTER,
            content=ft.Column(
                [
                    ft.Container(
                        width=content_width,
                        padding=ft.Padding.only(top=6 if phone else 8, bottom=16),
                        content=ft.Column(body, spacing=10 if phone else 12),
                        disabled=settling and m.screen in BODY_SETTLES,
                    )
                ],
                scroll=ft.ScrollMode.AUTO,
                horizontal_alignment=ft.CrossAxisAlignment.CENTER,
                expand=True,
                # one scrolling column per screen: every step opens at its top, never
                # at the previous step's scroll position (issue #11)
                key=f"screen-{m.screen}",
            ),
        ),
    ]
    if footer:
        rows.append(
            ft.Container(
                alignment=ft.Alignment.TOP_CENTER,
                padding=ft.Padding.symmetric(vertical=8, horizontal=0),
                border=ft.Border.only(top=ft.BorderSide(1, ft.Colors.BLUE_GREY_100)),
                content=ft.Container(
                    width=content_width,
                    content=footer[-1],
                    disabled=settling,
                ),
            )
        )
    return ft.SafeArea(expand=True, content=ft.Column(rows, spacing=0, expand=True))


def make_main(services: Services, platform: Platform | None = None, lang: str | None = None):
    def main(page: ft.Page) -> None:
        chosen, settled = first_language(services, lang)
        page.padding = 0
        page.theme_mode = ft.ThemeMode.LIGHT
        page.theme = ft.Theme(color_scheme_seed=ft.Colors.INDIGO)
        page.locale_configuration = ft.LocaleConfiguration(
            supported_locales=list(FLUTTER_LOCALES.values()),
            current_locale=FLUTTER_LOCALES.get(chosen, FLUTTER_LOCALES["en"]),
        )
        page.render(App, services, platform or Platform(), chosen, settled)

    return main


# --- launching ---------------------------------------------------------------------------------


def free_port(host: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def desktop_unavailable() -> str | None:
    """Why the desktop window cannot be opened here (a catalogue key), or None if it can."""
    if sys.platform.startswith("linux") and not (
        os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
    ):
        return "gui.no_display"
    try:
        import flet_desktop
    except ImportError:
        return "gui.no_desktop_package"
    try:
        flet_desktop.ensure_client_cached()
    except Exception:  # the client is downloaded on first use: offline, that fails
        return "gui.no_desktop_client"
    return None


def launch(
    *,
    authority: str = "demo",
    web: bool = False,
    host: str = "127.0.0.1",
    port: int = 0,
    home: Path,
    lang: str,
    out=sys.stdout,
) -> None:
    """Open the wizard: the desktop window, or the local web UI (URL printed, reason given)."""
    services = Services(home=home, authority=authority, secrets=_secret_store())
    main = make_main(services, lang=None)
    reason = "gui.web_asked" if web else desktop_unavailable()
    if reason is None:
        ft.run(main, view=ft.AppView.FLET_APP, assets_dir=_assets())
        return
    port = port or free_port(host)
    url = f"http://{host}:{port}/"
    line = translate("gui.web_url", lang, reason=translate(reason, lang), url=url)
    # said once the server takes connections: a browser opened at once never meets "refused"
    threading.Thread(
        target=_announce_when_listening, args=(host, port, line, out), daemon=True
    ).start()
    if reason in ("gui.no_display",) or os.environ.get("QOLTANBA_NO_BROWSER"):
        os.environ["FLET_FORCE_WEB_SERVER"] = "1"  # nothing to open a browser with
    with contextlib.suppress(KeyboardInterrupt):
        ft.run(
            main,
            view=ft.AppView.WEB_BROWSER,
            host=host,
            port=port,
            assets_dir=_assets(),
            no_cdn=True,
        )


def _announce_when_listening(
    host: str, port: int, line: str, out, timeout: float = 120.0, pause: float = 0.05
) -> None:
    """Print ``line`` as soon as ``host:port`` accepts a connection (at most ``timeout`` later:
    then it is printed anyway, so the person is never left without the address)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((host, port), timeout=1):
                break
        except OSError:
            time.sleep(pause)
    print(line, file=out, flush=True)


def _secret_store():
    from wizard.ui.secrets import desktop_secret_store

    return desktop_secret_store()


def _assets() -> str | None:
    """The project's assets/ when running from a checkout; an installed wheel has none."""
    return str(ASSETS) if ASSETS.is_dir() else None
