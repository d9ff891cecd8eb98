"""Step 6: new keys generated and saved encrypted, requests built, the application signed with the
current key and sent. Progress shown; the screen stays responsive. An error is said with its way
forward: try again, back, end the renewal, choose another folder."""

from __future__ import annotations

import flet as ft

from wizard.ui.model import WORK_STAGES, WizardModel
from wizard.ui.widgets import GOOD, heading, para, problem, run_notices


def view(m: WizardModel, ui) -> list[ft.Control]:
    rows: list[ft.Control] = []
    current_found = False
    for stage in WORK_STAGES:
        done = stage.value in m.progress.stages_done
        if done:
            icon: ft.Control = ft.Icon(ft.Icons.CHECK_CIRCLE, color=GOOD)
        elif not current_found and m.busy:
            icon = ft.ProgressRing(width=20, height=20, stroke_width=3)
            current_found = True
        else:
            icon = ft.Icon(ft.Icons.RADIO_BUTTON_UNCHECKED, color=ft.Colors.GREY_500)
        rows.append(ft.Row([icon, ft.Text(m.t(f"work.stage.{stage.value}"), size=15)]))
    controls: list[ft.Control] = [heading(m.t("work.title")), para(m.t("work.explain"))]
    controls += run_notices(m)
    controls += rows
    if m.busy:
        controls.append(ft.ProgressBar())
    controls += problem(m)
    return controls
