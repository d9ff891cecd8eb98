"""Step 4: the application, pre-filled from the certificate (identity read-only): e-mail,
locality, the new folder (never the current one), key storage, "the application is correct"."""

from __future__ import annotations

import flet as ft

from wizard.ui.model import Message, WizardModel
from wizard.ui.widgets import (
    buttons,
    choice,
    error_notice,
    field_row,
    heading,
    notice,
    para,
)

NEW_STORAGES = ("pkcs12", "idcard", "kaztoken", "etoken", "jacarta", "akey")


def _said(m: WizardModel, message: Message | None) -> str | None:
    """A field's problem, said under the field itself."""
    return message.text(m.lang) if message is not None else None


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
    storage = ft.RadioGroup(
        value=form.new_storage,
        on_change=lambda e: form.set_storage(e.control.value),
        content=ft.Column(
            [
                choice(
                    kind,
                    m.t(f"application.storage.{kind}"),
                    form.set_storage,
                    disabled=kind != "pkcs12",
                )
                for kind in NEW_STORAGES
            ],
            spacing=0,
        ),
    )
    controls: list[ft.Control] = [
        heading(m.t("application.title")),
        para(m.t("application.explain")),
        ft.Card(
            semantic_container=False,
            content=ft.Container(padding=14, content=ft.Column(identity_rows, spacing=6)),
        ),
        para(m.t("application.identity_readonly"), size=12, color=ft.Colors.GREY_700),
        ft.TextField(
            key="application.email",
            label=m.t("application.email"),
            value=form.email,
            keyboard_type=ft.KeyboardType.EMAIL,
            on_change=lambda e: form.set_email(e.control.value),
            error=_said(m, form.email_error),
            error_max_lines=4,
        ),
        ft.TextField(
            key="application.locality",
            label=m.t("application.locality"),
            value=form.locality,
            on_change=lambda e: form.set_locality(e.control.value),
            error=_said(m, form.locality_error),
            error_max_lines=4,
        ),
        *(
            [  # the new keys go on the token: no folder; the storage is the token's kind (#13)
                notice(
                    m.t(
                        "token.ui.application_storage",
                        storage=m.t(f"storage.{m.storage_kind}.name"),
                    ),
                    "info",
                    ft.Icons.USB,
                )
            ]
            if m.token_mode
            else [
                ft.TextField(
                    key="application.folder",
                    label=m.t("application.folder"),
                    value=form.folder,
                    helper=m.t("application.folder_help"),
                    helper_max_lines=3,
                    on_change=lambda e: form.set_folder(e.control.value),
                    error=_said(m, form.folder_error),
                    error_max_lines=4,
                ),
                para(m.t("application.storage")),
                storage,
                notice(m.t("application.tokens_note"), "info"),
            ]
        ),
        ft.Checkbox(
            key="application.correct",
            label=m.t("application.correct"),
            value=form.application_ok,
            on_change=lambda e: form.confirm(bool(e.control.value)),
        ),
    ]
    controls += error_notice(m, form.details_error)
    controls.append(
        buttons(m, (m.t("nav.continue"), form.submit), enabled=form.application_ok, back="open")
    )
    return controls
