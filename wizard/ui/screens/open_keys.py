"""Step 3: open the current keys (the AUTH and signing stores, or the one GOST store) and show
them as NCALayer's "refresh the key list" does, each with a clear verdict."""

from __future__ import annotations

from functools import partial

import flet as ft

from wizard.ui.model import KeyCard, WizardModel
from wizard.ui.widgets import (
    BAD,
    GOOD,
    buttons,
    error_notice,
    field_row,
    heading,
    notice,
    para,
    time_left_bar,
)


def _revocation(m: WizardModel, card: KeyCard) -> list[ft.Control]:
    """Is the key revoked: the status and where it came from, then why, in plain words."""
    answer = card.revocation
    if answer is None:
        return []
    status = answer.status.value
    line = m.t(
        "revocation.line",
        status=m.t(f"revocation.status.{status}"),
        source=m.t(f"revocation.source.{answer.source}"),
    )
    words = [m.t(answer.message_key)]
    if answer.revoked and answer.revoked_at is not None:
        words.append(m.t("revocation.revoked_on", date=m.format_date(answer.revoked_at)))
    if answer.reason:
        reason = m.t(f"revocation.reason.{answer.reason}")
        words.append(m.t("revocation.reason_line", reason=reason))
    if status == "unknown" and card.renewable:
        words.append(m.t("revocation.unknown_policy"))
    kind = {"good": "good", "revoked": "bad"}.get(status, "warn")
    icon = {
        "good": ft.Icons.VERIFIED_USER_OUTLINED,
        "revoked": ft.Icons.GPP_BAD_OUTLINED,
    }.get(status, ft.Icons.HELP_OUTLINE)
    return [
        ft.Semantics(
            identifier=f"revocation-{status}",
            content=field_row(m.t("inspect.revocation"), line),
        ),
        notice(" ".join(words), kind, icon),
    ]


def _card(m: WizardModel, card: KeyCard) -> ft.Control:
    verdict = (
        notice(m.t("verdict.renewable"), "good")
        if card.renewable
        else notice(m.t(f"verdict.{card.reason}"), "bad")
    )
    rows = [
        ft.Row(
            [
                ft.Icon(ft.Icons.KEY, color=GOOD if card.renewable else BAD),
                ft.Text(card.name, size=17, weight=ft.FontWeight.BOLD, expand=True),
            ]
        ),
        field_row(m.t("inspect.iin"), card.iin),
    ]
    if card.bin:
        rows.append(field_row(m.t("inspect.bin"), card.bin))
        rows.append(field_row(m.t("inspect.organization"), card.organization))
    rows += [
        field_row(m.t("inspect.holder"), m.t(f"holder.{card.holder}")),
        field_row(m.t("inspect.usage"), ", ".join(m.t(f"usage.{u}") for u in card.usage)),
        field_row(m.t("inspect.algorithm"), card.algorithm),
        field_row(m.t("open.valid_until"), m.format_date(card.not_after)),
        field_row(m.t("open.file"), card.file_name),
        time_left_bar(m, card.days_left),
        *_revocation(m, card),
        verdict,
    ]
    return ft.Card(
        semantic_container=False,
        content=ft.Container(padding=14, content=ft.Column(rows, spacing=6)),
    )


def resuming_notice(m: WizardModel) -> list[ft.Control]:
    """Step 3 of a renewal being resumed says which application and where it stopped."""
    if m.resuming is None:
        return []
    text = m.t(
        "open.resuming",
        application=m.resuming.application or "—",
        state=m.t(f"state.{m.resuming.state}"),
    )
    return [notice(text, "info", ft.Icons.HISTORY)]


def view(m: WizardModel, ui) -> list[ft.Control]:
    if m.token_mode:  # the keys are on a token: the token, its PIN, its keys (issue #13)
        from wizard.ui.screens.token_keys import view as token_view

        return token_view(m, ui)

    keys = m.keys

    async def pick() -> None:
        await keys.pick_files(ui.platform.pick_stores)

    async def open_and_check() -> None:
        keys.open_keys()  # at once: the keys, and what the CRLs at hand say
        await keys.check_revocation()  # then the authority's answer, off the UI loop

    controls: list[ft.Control] = [heading(m.t("open.title"))]
    controls += resuming_notice(m)
    controls.append(para(m.t("open.explain")))
    pick_row: list[ft.Control] = [
        ft.FilledTonalButton(m.t("open.pick"), icon=ft.Icons.FOLDER_OPEN, on_click=pick)
    ]
    if m.demo and m.resuming is None:
        pick_row.append(
            ft.OutlinedButton(
                m.t("open.make_demo"),
                icon=ft.Icons.SCIENCE_OUTLINED,
                on_click=partial(keys.make_demo_keys, "individual"),
                disabled=m.busy,
            )
        )
        pick_row.append(
            ft.OutlinedButton(
                m.t("open.make_demo_employee"),
                icon=ft.Icons.BUSINESS,
                on_click=partial(keys.make_demo_keys, "legal-employee"),
                disabled=m.busy,
            )
        )
    controls.append(ft.Row(pick_row, wrap=True))
    if m.busy:
        controls.append(ft.ProgressBar())
    if keys.demo_keys_note is not None:
        controls.append(
            ft.Semantics(
                identifier="open.demo_made",
                content=notice(keys.demo_keys_note.text(m.lang), "info", ft.Icons.SCIENCE_OUTLINED),
            )
        )
    for picked in keys.picked:
        controls.append(
            ft.Row(
                [
                    ft.Icon(ft.Icons.INSERT_DRIVE_FILE_OUTLINED),
                    ft.Text(picked.name, expand=True),
                    ft.IconButton(
                        icon=ft.Icons.CLOSE,
                        tooltip=m.t("open.remove"),
                        on_click=lambda _, name=picked.name: keys.remove_file(name),
                    ),
                ]
            )
        )
    if not keys.picked:
        controls.append(para(m.t("open.nothing_picked"), color=ft.Colors.GREY_700))
    controls.append(
        ft.TextField(
            key="open.password",
            label=m.t("open.password"),
            value=keys.current_password,
            # the demo keys' password is no secret: shown as it is filled in
            password=not keys.show_current_password,
            can_reveal_password=not keys.show_current_password,
            on_change=lambda e: keys.set_password(e.control.value),
            on_submit=open_and_check,
        )
    )
    controls.append(para(m.t("open.password_hint"), size=12, color=ft.Colors.GREY_700))
    controls.append(
        ft.FilledTonalButton(
            m.t("open.open"),
            icon=ft.Icons.LOCK_OPEN,
            on_click=open_and_check,
            disabled=not keys.picked or m.busy or keys.revocation_checking,
        )
    )
    if keys.revocation_checking:
        controls.append(
            ft.Row([ft.ProgressRing(width=18, height=18), para(m.t("open.revocation_checking"))])
        )
    controls += error_notice(m, keys.open_error)
    if keys.open_error is not None:
        controls.append(
            ft.TextButton(
                m.t("open.faq_link"), icon=ft.Icons.HELP_OUTLINE, on_click=lambda: m.go("help")
            )
        )
    controls += [_card(m, card) for card in keys.cards]
    if keys.cards and not keys.keys_ok and keys.open_error is None:
        controls.append(notice(m.t("open.cannot_renew"), "bad"))
    controls.append(
        buttons(
            m,
            (m.t("nav.continue"), m.continue_from_keys),
            # not while the authority is asked: the press would be ignored (continue_from_keys)
            enabled=keys.keys_ok and not keys.revocation_checking,
            back="storage",
        )
    )
    return controls
