"""Step 9: installed. The new files and where they are (the full path, selectable and copyable; a
copy of each or all as one zip; "Open folder" where the device can), the new expiry date, the
reminder that the old keys stay valid (revoke them once the new ones work), and expiry reminders
for a calendar."""

from __future__ import annotations

import flet as ft

from wizard.ui.model import WizardModel
from wizard.ui.save_row import save_controls
from wizard.ui.widgets import GOOD, error_notice, heading, notice, para


def _file_row(icon: ft.IconData, colour: str, name: str) -> ft.Control:
    """One new file by its name, wrapping (a store's name is long)."""
    return ft.Row(
        [ft.Icon(icon, color=colour, size=20), ft.Text(name, size=13, expand=True)],
        vertical_alignment=ft.CrossAxisAlignment.START,
    )


def view(m: WizardModel, ui) -> list[ft.Control]:
    done = m.done

    async def save_calendar() -> None:
        if await done.save_calendar(ui.platform.save):
            ui.toast(m.t("done.calendar_saved"))

    result = done.result
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
    if done.on_token:  # the new keys are on a token: name it (issue #13); nothing to save
        from wizard.ui.screens.token_keys import done_rows

        controls += done_rows(m)
    elif done.folder is not None:
        # the full path, selectable and copyable; a copy of each new file or all as one zip (a
        # download in the browser); "Open folder" where the device can (issue #11 item 6)
        controls += save_controls(
            m.t, done.folder, done.saveable, ui.platform, ui.toast, presses=done.presses
        )
        for name in done.key_files:
            controls.append(_file_row(ft.Icons.KEY, GOOD, name))
        for name in done.ca_files:
            controls.append(_file_row(ft.Icons.VERIFIED_USER_OUTLINED, ft.Colors.GREY_700, name))
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
                on_click=done.ask_revoke,
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
