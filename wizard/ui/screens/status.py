"""Step 8: the application's status, refreshing by itself; "offline — will send when connected".
A renewal stuck here can be ended ("End this renewal"); one that ended without new keys (rejected,
refused, ended in another window) says why and offers a new renewal."""

from __future__ import annotations

import flet as ft

from wizard.ui.model import WizardModel
from wizard.ui.screens.code import application_number
from wizard.ui.widgets import cancel_button, heading, notice, para, problem, run_notices

REFRESH_SECONDS = 5


def view(m: WizardModel, ui) -> list[ft.Control]:
    progress = m.progress
    controls: list[ft.Control] = [heading(m.t("status.title"))]
    if progress.application:
        controls.append(application_number(m, ui))
    if progress.rejection is not None:
        controls.append(notice(progress.rejection.text(m.lang), "bad"))
        controls.append(para(m.t("status.rejected_what_now")))
        controls.append(
            ft.Row(
                [
                    ft.FilledButton(
                        m.t("status.start_again"), icon=ft.Icons.AUTORENEW, on_click=m.start_again
                    ),
                    ft.OutlinedButton(m.t("app.to_home"), on_click=lambda: m.go("home")),
                ],
                wrap=True,
            )
        )
        return controls
    controls += run_notices(m)
    if progress.offline:
        controls.append(notice(m.t("status.offline"), "warn", ft.Icons.CLOUD_OFF))
    else:
        state = progress.remote_state or progress.stage
        controls.append(notice(m.t(f"state.{state}") if state else m.t("status.checking"), "info"))
        if state == "awaiting_head":
            controls.append(para(m.t("status.head_explain")))
    checked = progress.checked_at.astimezone().strftime("%H:%M:%S") if progress.checked_at else "—"
    controls.append(
        para(
            m.t("status.auto", seconds=REFRESH_SECONDS, time=checked),
            size=12,
            color=ft.Colors.GREY_700,
        )
    )
    if m.busy:
        controls.append(ft.ProgressBar())
    if progress.work_error is not None:
        controls += problem(m)
    row: list[ft.Control] = [
        ft.FilledTonalButton(
            m.t("status.check_now"),
            icon=ft.Icons.REFRESH,
            on_click=m.refresh,
            disabled=m.busy,
        ),
        ft.OutlinedButton(m.t("app.to_home"), on_click=lambda: m.go("home")),
    ]
    if progress.can_cancel:
        row.append(cancel_button(m))
    controls.append(ft.Row(row, wrap=True))
    return controls
