"""Step 7: the application number (large, copyable, kept) and the one-time code. No code coming?
The renewal can be ended here ("End this renewal")."""

from __future__ import annotations

import flet as ft

from wizard.ui.model import WizardModel
from wizard.ui.widgets import (
    buttons,
    cancel_button,
    error_notice,
    heading,
    notice,
    para,
    run_notices,
)


def application_number(m: WizardModel, ui) -> ft.Control:
    async def copy() -> None:
        if await m.progress.copy_application(ui.platform.copy):
            ui.toast(m.t("code.copied"))

    return ft.Container(
        content=ft.Column(
            [
                ft.Text(m.t("code.application"), size=13, color=ft.Colors.GREY_700),
                ft.Row(
                    [
                        ft.Text(m.progress.application or "—", size=30, weight=ft.FontWeight.BOLD),
                        ft.IconButton(icon=ft.Icons.COPY, tooltip=m.t("code.copy"), on_click=copy),
                    ],
                    wrap=True,
                ),
                ft.Text(m.t("code.application_kept"), size=12, color=ft.Colors.GREY_700),
            ],
            spacing=2,
        ),
        padding=14,
        border_radius=10,
        bgcolor=ft.Colors.BLUE_GREY_50,
    )


def view(m: WizardModel, ui) -> list[ft.Control]:
    progress = m.progress
    controls: list[ft.Control] = [heading(m.t("code.title")), application_number(m, ui)]
    controls += run_notices(m)
    controls.append(para(m.t("code.explain")))
    if progress.demo_sms:
        controls.append(
            notice(m.t("code.demo_sms", code=progress.demo_sms), "info", ft.Icons.SMS_OUTLINED)
        )
    controls.append(
        ft.TextField(
            key="code.field",
            label=m.t("code.field"),
            value=progress.code,
            keyboard_type=ft.KeyboardType.NUMBER,
            max_length=8,
            on_change=lambda e: progress.set_code(e.control.value),
            on_submit=progress.confirm_code,
        )
    )
    controls += error_notice(m, progress.code_error)
    if m.busy:
        controls.append(ft.ProgressBar())
    extra = [cancel_button(m)] if progress.can_cancel else []
    controls.append(
        buttons(
            m,
            (m.t("code.confirm"), progress.confirm_code),
            enabled=bool(progress.code.strip()),
            extra=extra,
        )
    )
    return controls
