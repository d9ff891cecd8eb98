"""Step 9: installed. The new files and where they are, the new expiry date, the reminder that the
old keys stay valid (revoke them once the new ones work), and expiry reminders for a calendar."""

from __future__ import annotations

from pathlib import Path

import flet as ft

from wizard.ui.model import WizardModel
from wizard.ui.widgets import GOOD, error_notice, heading, notice, para


def view(m: WizardModel, ui) -> list[ft.Control]:
    done = m.done

    async def save_calendar() -> None:
        if await done.save_calendar(ui.platform.save):
            ui.toast(m.t("done.calendar_saved"))

    result = done.result
    folder = result.get("folder", "")
    not_after = done.new_not_after
    controls: list[ft.Control] = [
        ft.Row(
            [ft.Icon(ft.Icons.VERIFIED, color=GOOD, size=40), heading(m.t("done.title"))], wrap=True
        ),
        para(m.t("done.application", application=result.get("application") or "—")),
    ]
    if not_after is not None:
        controls.append(
            ft.Text(
                m.t("done.valid_until", date=m.format_date(not_after)),
                size=18,
                weight=ft.FontWeight.BOLD,
            )
        )
    files = [] if result.get("token") else list(result.get("files", []))
    if result.get("token"):  # the new keys are on a token: name it (issue #13)
        from wizard.ui.screens.token_keys import done_rows

        controls += done_rows(m)
    else:
        controls.append(para(m.t("done.where")))
        controls.append(ft.Text(folder, size=14, weight=ft.FontWeight.BOLD))
    for name in [f for f in files if not f.endswith(".cer")]:
        controls.append(ft.Row([ft.Icon(ft.Icons.KEY, color=GOOD), ft.Text(name, expand=True)]))
    for name in [f for f in files if f.endswith(".cer")]:
        controls.append(
            ft.Row(
                [
                    ft.Icon(ft.Icons.VERIFIED_USER_OUTLINED, color=ft.Colors.GREY_700),
                    ft.Text(Path(name).name, expand=True),
                ]
            )
        )
    if not result.get("token"):
        controls.append(para(m.t("done.ca_explain"), size=13, color=ft.Colors.GREY_700))
        controls.append(notice(m.t("done.password_reminder"), "info", ft.Icons.LOCK_OUTLINE))
    controls.append(notice(m.t("done.old_keys"), "warn"))
    if done.old_keys_revoked is not None:
        controls.append(
            notice(done.old_keys_revoked.text(m.lang), "good", ft.Icons.GPP_GOOD_OUTLINED)
        )
    elif done.can_revoke_old:
        controls.append(para(m.t("done.revoke_old_explain"), size=13, color=ft.Colors.GREY_700))
        controls.append(
            ft.OutlinedButton(
                m.t("done.revoke_old"),
                icon=ft.Icons.GPP_MAYBE_OUTLINED,
                on_click=done.revoke_old_keys,
                disabled=m.busy,
            )
        )
    controls += error_notice(m, done.revoke_error)
    controls.append(
        ft.Row(
            [
                ft.FilledTonalButton(
                    m.t("done.calendar"), icon=ft.Icons.EVENT, on_click=save_calendar
                ),
                ft.FilledButton(
                    m.t("app.to_home"), icon=ft.Icons.HOME, on_click=lambda: m.go("home")
                ),
            ],
            wrap=True,
        )
    )
    return controls
