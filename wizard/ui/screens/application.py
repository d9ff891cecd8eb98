"""Step 4: the application, pre-filled from the certificate (identity read-only): e-mail,
locality, the new folder (never the current one), key storage, "the application is correct"."""

from __future__ import annotations

import flet as ft

from wizard.ui.model import Message, WizardModel
from wizard.ui.widgets import (
    Columns,
    buttons,
    choice,
    error_notice,
    field_row,
    heading,
    notice,
    para,
    tick_box,
)

GREY = ft.Colors.GREY_700
HALF: Columns = {"xs": 12, "sm": 6}  # a field beside another where there is room, alone on a phone
NEW_STORAGES = ("pkcs12", "idcard", "kaztoken", "etoken", "jacarta", "akey")
TOKEN_STORAGES = ("kaztoken", "etoken", "jacarta", "akey")


def _said(m: WizardModel, message: Message | None) -> str | None:
    """A field's problem, said under the field itself."""
    return message.text(m.lang) if message is not None else None


def _tokens_here(m: WizardModel) -> bool:
    """Qoltanba can renew keys on a token here itself (the token path: issue #13)."""
    return m.tokens.supported()


def _storage_label(m: WizardModel, kind: str) -> str:
    """A storage for the new keys. A token's says "NCALayer" only where Qoltanba cannot renew
    keys on a token itself; where it can, it says how (choose the token at step 2)."""
    if kind in TOKEN_STORAGES and _tokens_here(m):
        return m.t(f"layout.storage.{kind}")
    return m.t(f"application.storage.{kind}")


def _tokens_note(m: WizardModel) -> str:
    return "layout.tokens_note" if _tokens_here(m) else "application.tokens_note"


def view(m: WizardModel, ui) -> list[ft.Control]:
    form = m.form
    ident = m.keys.identity
    identity_rows = [
        field_row(m.t("inspect.name"), ident.get("name", "")),
        field_row(m.t("inspect.iin"), ident.get("iin", "")),
    ]
    if ident.get("bin"):
        identity_rows.append(field_row(m.t("inspect.bin"), ident["bin"]))
        identity_rows.append(field_row(m.t("inspect.organization"), ident.get("organization", "")))
    identity_rows.append(
        field_row(m.t("inspect.holder"), m.t(f"holder.{ident.get('holder', 'unknown')}"))
    )
    card = [*identity_rows, para(m.t("application.identity_readonly"), size=12, color=GREY)]
    email = ft.TextField(
        key="application.email",
        label=m.t("application.email"),
        value=form.email,
        keyboard_type=ft.KeyboardType.EMAIL,
        on_change=lambda e: form.set_email(e.control.value),
        error=_said(m, form.email_error),
        error_max_lines=4,
        col=HALF,
    )
    locality = ft.TextField(
        key="application.locality",
        label=m.t("application.locality"),
        value=form.locality,
        on_change=lambda e: form.set_locality(e.control.value),
        error=_said(m, form.locality_error),
        error_max_lines=4,
        col=HALF,
    )
    controls: list[ft.Control] = [
        heading(m.t("application.title")),
        para(m.t("application.explain")),
        ft.Card(
            semantic_container=False,
            margin=0,
            content=ft.Container(padding=12, content=ft.Column(card, spacing=4)),
        ),
        # side by side where there is room, one under the other on a phone
        ft.ResponsiveRow([email, locality], spacing=12, run_spacing=12),
    ]
    if m.token_mode:  # the new keys go on the token: no folder; the storage is the token's (#13)
        storage = m.t(f"storage.{m.storage_kind}.name")
        controls.append(
            notice(m.t("token.ui.application_storage", storage=storage), "info", ft.Icons.USB)
        )
    else:
        controls += _folder_and_storage(m)
    controls.append(
        tick_box(
            "application.correct", m.t("application.correct"), form.application_ok, form.confirm
        )
    )
    controls += error_notice(m, form.details_error)
    controls.append(
        buttons(m, (m.t("nav.continue"), form.submit), enabled=form.application_ok, back="open")
    )
    return controls


def _folder_and_storage(m: WizardModel) -> list[ft.Control]:
    """The new folder (as wide as the screen: a path is long) and the storage of the new keys:
    a file, the one Qoltanba writes from files; the others, which need another way, folded
    under one line with what to do instead."""
    form = m.form
    folder = ft.TextField(
        key="application.folder",
        label=m.t("application.folder"),
        value=form.folder,
        helper=m.t("application.folder_help"),
        helper_max_lines=3,
        on_change=lambda e: form.set_folder(e.control.value),
        error=_said(m, form.folder_error),
        error_max_lines=4,
        col=12,
    )
    others = [
        choice(kind, _storage_label(m, kind), form.set_storage, disabled=kind != "pkcs12")
        for kind in NEW_STORAGES
        if kind != "pkcs12"
    ]
    storage = ft.RadioGroup(
        value=form.new_storage,
        on_change=lambda e: form.set_storage(e.control.value),
        content=ft.Column(
            [
                choice("pkcs12", _storage_label(m, "pkcs12"), form.set_storage),
                ft.ExpansionTile(
                    key="application.other_storages",
                    title=ft.Text(m.t("layout.other_storages"), size=14, color=GREY),
                    dense=True,
                    tile_padding=ft.Padding.only(left=8, right=8),
                    controls_padding=ft.Padding.only(bottom=8),
                    shape=ft.RoundedRectangleBorder(radius=8),
                    collapsed_shape=ft.RoundedRectangleBorder(radius=8),
                    controls=[*others, notice(m.t(_tokens_note(m)), "info")],
                ),
            ],
            spacing=0,
        ),
    )
    return [ft.ResponsiveRow([folder]), para(m.t("application.storage")), storage]
