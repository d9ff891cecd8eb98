"""What `flet build` runs: the wizard as an installed app (Android APK/AAB, Linux, Windows and
macOS bundles; build/README.md has the commands).

`flet build` packages the directory named by ``[tool.flet.app] path`` (the project's root, as
copied by build/stage.py) and runs the module named by ``[tool.flet.app] module`` (this file) as
``__main__`` inside the app. flet-cli looks for ``<path>/<module>.py``, so in the staged copy this
file sits at the top, beside ``wizard/`` and ``assets/``; build/stage.py puts it there (the
repository's own top level stays as the design fixes it). It holds no wizard logic: it only
decides, for the device it runs on, where Qoltanba keeps its state and its secrets, then hands the
page to
``wizard.ui.app.make_main``.

The ``qoltanba`` command (``wizard.cli``) stays the way to run a pip-installed wizard.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import flet as ft

from wizard.ui.model import Services

# Set by the packaged app's Flutter shell: "android", "ios", "linux", "macos" or "windows".
MOBILE_PLATFORMS = ("android", "ios")


def on_mobile(environ: Mapping[str, str] | None = None) -> bool:
    env = os.environ if environ is None else environ
    return env.get("FLET_PLATFORM", "").strip().lower() in MOBILE_PLATFORMS


def state_home(environ: Mapping[str, str] | None = None) -> Path:
    """Where Qoltanba keeps its journal and demo authority. On a phone: the app's private data
    folder (FLET_APP_STORAGE_DATA: kept across updates, removed with the app, unreadable to other
    apps). Elsewhere, or when QOLTANBA_HOME is set: the folder the ``qoltanba`` command uses."""
    env = os.environ if environ is None else environ
    app_data = env.get("FLET_APP_STORAGE_DATA")
    if on_mobile(env) and app_data and not env.get("QOLTANBA_HOME"):
        return Path(app_data) / "qoltanba"
    from wizard.authority.connect import home

    return home()


def secret_store(environ: Mapping[str, str] | None = None):
    """Flet secure storage (Android Keystore, iOS Keychain) on a phone; the OS keyring on desktop.

    Flet secure storage is a Flet service: it attaches to the page that is current when it is
    made, so on a phone this must be called inside the page handler (``main`` below)."""
    if on_mobile(environ):
        from wizard.ui.secrets import FletSecrets

        return FletSecrets()
    from wizard.ui.secrets import desktop_secret_store

    return desktop_secret_store()


def device_services(environ: Mapping[str, str] | None = None) -> Services:
    home = state_home(environ)
    # On a phone the shared Documents folder is not ours to write to (scoped storage): new keys
    # go beside the journal, in the app's own storage.
    keys_root = home / "keys" if on_mobile(environ) else None
    return Services(home=home, secrets=secret_store(environ), keys_root=keys_root)


def main(page: ft.Page) -> None:
    """The page handler `ft.run` calls for each session of the packaged app."""
    from wizard.ui.app import make_main

    make_main(device_services(), lang=None)(page)


if __name__ == "__main__":
    from wizard.ui.app import ASSETS

    # In a `flet build` app Flet talks to its Flutter shell in-process: no window to download,
    # no web server, no network. Demo authority by default; the first screen can set a real one.
    ft.run(main, assets_dir=str(ASSETS))
