"""Help: the Kazakh FAQ's questions and answers (DOMAIN.md §3), in the chosen language."""

from __future__ import annotations

import flet as ft

from wizard.ui.help_topics import TOPICS
from wizard.ui.model import WizardModel
from wizard.ui.widgets import heading, para


def view(m: WizardModel, ui) -> list[ft.Control]:
    tiles = [
        ft.ExpansionTile(
            title=ft.Text(m.t(f"help.{slug}.q"), size=15, weight=ft.FontWeight.W_500),
            controls=[
                ft.Container(
                    content=ft.Text(m.t(f"help.{slug}.a"), size=14),
                    padding=ft.Padding.only(left=16, right=16, bottom=12),
                )
            ],
        )
        for slug in TOPICS
    ]
    return [
        heading(m.t("help.title")),
        para(m.t("help.intro")),
        *tiles,
        ft.FilledButton(m.t("nav.back"), icon=ft.Icons.ARROW_BACK, on_click=m.back_from_help),
    ]
