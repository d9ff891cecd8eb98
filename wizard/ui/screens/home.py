"""Home: the keys Qoltanba knows with the time they have left, applications under way, and a
renewal that was interrupted, reopened where it stopped (or ended: "End this renewal")."""

from __future__ import annotations

from functools import partial

import flet as ft

from wizard.ui.model import WizardModel
from wizard.ui.widgets import cancel_button, heading, notice, para, time_left_bar


def view(m: WizardModel, ui) -> list[ft.Control]:
    controls: list[ft.Control] = [heading(m.t("home.title"))]
    # said once: how an "End this renewal" ended, a damaged journal set aside
    controls += [notice(message.text(m.lang), "info") for message in m.home_notices]
    controls.append(para(m.t("home.intro")))
    for pending in m.pending:
        actions: list[ft.Control] = [
            ft.FilledButton(
                m.t("home.continue"),
                icon=ft.Icons.PLAY_ARROW,
                on_click=partial(m.resume_checked, pending.id),
            )
        ]
        if pending.cancellable:
            actions.append(cancel_button(m, pending.id))
        controls.append(
            ft.Card(
                semantic_container=False,
                content=ft.Container(
                    padding=14,
                    content=ft.Column(
                        [
                            ft.Text(m.t("home.pending_title"), weight=ft.FontWeight.BOLD, size=16),
                            ft.Text(
                                m.t("home.pending_application", application=pending.application)
                                if pending.application
                                else m.t("home.pending_not_sent"),
                                size=15,
                            ),
                            ft.Text(m.t(f"state.{pending.state}"), size=14),
                            ft.Text(
                                m.t("home.pending_folder", folder=pending.folder or "—"),
                                size=12,
                                color=ft.Colors.GREY_700,
                            ),
                            ft.Row(actions, wrap=True, spacing=8, run_spacing=8),
                        ],
                        spacing=6,
                    ),
                ),
            )
        )
    if m.known:
        controls.append(ft.Text(m.t("home.known_title"), weight=ft.FontWeight.BOLD, size=16))
        for key in m.known:
            controls.append(
                ft.Card(
                    semantic_container=False,
                    content=ft.Container(
                        padding=14,
                        content=ft.Column(
                            [
                                ft.Text(
                                    m.t("home.known_until", date=m.format_date(key.not_after)),
                                    size=15,
                                ),
                                time_left_bar(m, key.days_left),
                                ft.Text(key.folder, size=12, color=ft.Colors.GREY_700),
                            ],
                            spacing=6,
                        ),
                    ),
                )
            )
    elif not m.pending:
        controls.append(notice(m.t("home.nothing_yet")))
    controls.append(
        ft.Row(
            [
                ft.FilledButton(
                    m.t("home.renew"), icon=ft.Icons.AUTORENEW, on_click=lambda: m.start_new()
                ),
                ft.OutlinedButton(
                    m.t("help.title"), icon=ft.Icons.HELP_OUTLINE, on_click=lambda: m.go("help")
                ),
            ],
            wrap=True,
        )
    )
    controls.append(para(m.t("home.when_to_renew"), color=ft.Colors.GREY_700))
    return controls
