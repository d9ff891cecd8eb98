"""The wizard's model driven up to a step the way its buttons and fields drive it, and what a
screen shows: one copy for every test of the wizard (tests/ui, tests/tokens, tests/revocation,
tests/hostile), imported with ``sys.path`` pointing here (see ``WIZARD_STEPS`` in those tests).

Every step is reached through the step models' methods (``m.keys``, ``m.form``, ``m.password``,
``m.progress``), never by assigning their attributes, as the screens do it.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import flet as ft

from wizard.ui.model import DEMO_PASSWORD, PickedFile, Services, WizardModel

NEW = "Tulpar-Saryarqa-42"  # a new password the policy accepts
EMAIL = "aigerim@example.kz"
LOCALITY = "Astana"


def services(home: Path, **more: Any) -> Services:
    # keys_root: the new keys go under the test's folder, never the user's Documents
    return Services(home=home, max_wait=more.pop("max_wait", 0.5), keys_root=home / "keys", **more)


def model(home: Path, lang: str = "en", **more: Any) -> WizardModel:
    return WizardModel(services(home, **more), lang)


# --- up to a step --------------------------------------------------------------------------------


def to_open(m: WizardModel, kind: str = "file") -> None:
    """Home → step 3: "Renew", the authority chosen before (demo by default), the keys' kind."""
    m.start_new()
    m.confirm_start()
    assert m.screen == "storage", (m.mode_error, m.fault)
    m.choose_storage(kind)
    m.confirm_storage()
    assert m.screen == "open", (m.keys.open_error, m.fault)


async def to_keys(
    m: WizardModel,
    *,
    holder: str = "individual",
    picked: list[PickedFile] | None = None,
    password: str = DEMO_PASSWORD,
    check: bool = False,
) -> None:
    """Step 3 with the keys open: new demo keys of ``holder`` (or the ``picked`` files), their
    password typed and "Open" pressed; ``check``: then asked at the authority, as that button
    does too."""
    to_open(m)
    if picked:
        m.keys.set_files(picked)
    else:
        await m.keys.make_demo_keys(holder)
    m.keys.set_password(password)
    m.keys.open_keys()
    if check:
        await m.keys.check_revocation()


async def to_token_keys(m: WizardModel, pin: str, kind: str = "kaztoken") -> None:
    """Step 3 on a token: the token found (its PIN said "ok"), the PIN typed and "Open" pressed."""
    to_open(m, kind)
    assert m.token_mode
    assert m.tokens.chosen is not None and m.tokens.chosen.pin_state == "ok"
    m.keys.set_token_pin(pin)
    await m.keys.open_token()


def fill_application(
    m: WizardModel,
    email: str | None = EMAIL,
    locality: str | None = LOCALITY,
    folder: str | None = None,
) -> None:
    """Step 3's "Continue", then step 4 filled in (None: what is pre-filled kept), "the
    application is correct" ticked, "Continue": on the password step."""
    m.continue_from_keys()
    assert m.screen == "application", (m.keys.open_error, m.fault)
    if email is not None:
        m.form.set_email(email)
    if locality is not None:
        m.form.set_locality(locality)
    if folder is not None:
        m.form.set_folder(folder)
    m.form.confirm(True)
    m.form.submit()
    form = m.form
    assert m.screen == "password", (
        form.details_error,
        form.email_error,
        form.locality_error,
        form.folder_error,
        m.fault,
    )


def type_password(m: WizardModel, password: str = NEW) -> None:
    """Step 5 filled in: the new password twice and "I understand" ticked."""
    m.password.set_new(password)
    m.password.set_repeat(password)
    m.password.understand(True)


async def to_password(m: WizardModel, **keys: Any) -> None:
    """From home to the new password typed (not yet accepted), with demo keys (``to_keys``)."""
    await to_keys(m, **keys)
    assert m.keys.keys_ok, (m.keys.open_error, m.fault)
    fill_application(m)
    type_password(m)
    assert m.password.can_accept


async def to_code(m: WizardModel, **keys: Any) -> None:
    """From home to the one-time code: the new keys made, the application sent."""
    await to_password(m, **keys)
    await m.password.accept()
    assert m.screen == "code", (m.progress.work_error, m.fault, m.screen)
    assert m.progress.application and m.progress.demo_sms


async def enter_demo_code(m: WizardModel) -> None:
    """The demo's "SMS" typed into the code field and confirmed."""
    m.progress.set_code(m.progress.demo_sms or "")
    await m.progress.confirm_code()


# --- what a screen shows -------------------------------------------------------------------------


def texts(control: Any) -> list[str]:
    """Every text a control tree shows (its texts and its buttons' labels)."""
    found = []
    if isinstance(control, ft.Text) and control.value:
        found.append(str(control.value))
    for name in ("content", "controls"):
        child = getattr(control, name, None)
        if isinstance(child, list):
            for item in child:
                found += texts(item)
        elif isinstance(child, str):  # a button's label
            found.append(child)
        elif child is not None:
            found += texts(child)
    return found


def identifiers(control: Any) -> list[str]:
    """Every Semantics identifier in a control tree (what the browser tests find too)."""
    found = []
    if isinstance(control, ft.Semantics) and control.identifier:
        found.append(control.identifier)
    for name in ("content", "controls"):
        child = getattr(control, name, None)
        if isinstance(child, list):
            for item in child:
                found += identifiers(item)
        elif child is not None and not isinstance(child, str):
            found += identifiers(child)
    return found


def ui() -> Any:
    """The UI context a screen is built with: no device behind it."""
    from wizard.ui.app import UiContext
    from wizard.ui.platform import Platform

    return UiContext(platform=Platform(), toast=lambda text: None)


def view(m: WizardModel, screen: Callable[..., list[Any]] | None = None) -> list[Any]:
    """The controls of ``screen`` (a screen module's view; the current screen's by default)."""
    from wizard.ui.app import VIEWS

    return (screen or VIEWS[m.screen])(m, ui())


def shown(m: WizardModel, screen: Callable[..., list[Any]] | None = None) -> list[str]:
    """Every text the current screen (or ``screen``) shows as the app builds it, without a
    session: the last-resort line, the screen, field errors, buttons, the dialogs (end this
    renewal, revoke the old keys)."""
    from wizard.ui.widgets import cancel_dialog, fault_notice, revoke_dialog

    found: list[str] = []
    button = (ft.Button, ft.FilledButton, ft.FilledTonalButton, ft.OutlinedButton, ft.TextButton)

    def walk(value: Any) -> None:
        if isinstance(value, ft.Text) and isinstance(value.value, str):
            found.append(value.value)
        if isinstance(value, ft.TextField) and isinstance(value.error, str):
            found.append(value.error)
        if isinstance(value, button) and isinstance(value.content, str):
            found.append(value.content)
        if isinstance(value, (list, tuple)):
            for item in value:
                walk(item)
        elif isinstance(value, ft.BaseControl):
            for name in ("content", "controls", "actions", "title"):
                walk(getattr(value, name, None))

    walk([*fault_notice(m), *view(m, screen), cancel_dialog(m), revoke_dialog(m)])
    return found


def shown_text(m: WizardModel, screen: Callable[..., list[Any]] | None = None) -> str:
    return "\n".join(shown(m, screen))


# --- the renewal's lock --------------------------------------------------------------------------


def lock_is_free(m: WizardModel) -> bool:
    """Another window could take these keys' renewal on now."""
    from wizard.errors import RenewalBusy
    from wizard.renewal.locks import RenewalLock

    lock = RenewalLock(m.keys._current.fingerprints, m._services.home)
    try:
        lock.acquire()
    except RenewalBusy:
        return False
    lock.release()
    return True
