"""Step 3: open the current keys (the AUTH and signing stores, or the one GOST store) and show
them as NCALayer's "refresh the key list" does, each with a clear verdict: their own, what the
authority says of their revocation, and whether it renews keys of their issuer (said here, with
what to do, never after submitting: issue #11). "What does this mean?" opens Help at the answer
for what is shown."""

from __future__ import annotations

from functools import partial

import flet as ft

from wizard.ui.model import KeyCard, WizardModel
from wizard.ui.models.wizard import DEMO_ADVICE
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


def _verdict_text(m: WizardModel, card: KeyCard) -> str:
    if card.renewable:
        return m.t("verdict.renewable")
    refusal = m.keys.issuer_refusal
    if card.reason == "issuer_not_accepted" and refusal is not None:
        params = refusal.params
        if params.get("advice") in DEMO_ADVICE:  # "the demo authority", in the person's words
            return m.t("verdict_ui.card_demo", issuer=params["issuer"])
        return m.t("verdict_ui.card", authority=params["authority"], issuer=params["issuer"])
    return m.t(f"verdict.{card.reason}")


def _card(m: WizardModel, card: KeyCard) -> ft.Control:
    verdict = notice(_verdict_text(m, card), "good" if card.renewable else "bad")
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
    """Step 3 of a renewal being resumed says which application and where it stopped, and
    which key files it started with (chosen again, or to be chosen: where they were); keys
    opened for another authority than the one chosen since, that they are to be opened again."""
    controls: list[ft.Control] = []
    if m.keys.reopen_note is not None:
        reopen = notice(m.keys.reopen_note.text(m.lang), "info", ft.Icons.SYNC)
        controls.append(ft.Semantics(identifier="open.reopen_note", content=reopen))
    if m.resuming is None:
        return controls
    text = m.t(
        "open.resuming",
        application=m.resuming.application or "—",
        state=m.t(f"state.{m.resuming.state}"),
    )
    controls.append(notice(text, "info", ft.Icons.HISTORY))
    if m.keys.resume_note is not None:
        controls.append(
            ft.Semantics(
                identifier="open.resume_note",
                content=notice(m.keys.resume_note.text(m.lang), "info", ft.Icons.FOLDER_OUTLINED),
            )
        )
    return controls


def help_link(m: WizardModel, message=None, reason: str | None = None) -> ft.Control:
    """ "What does this mean? (Help)": Help opened at the answer for this error or verdict."""
    return ft.TextButton(
        m.t("open.faq_link"),
        icon=ft.Icons.HELP_OUTLINE,
        on_click=lambda: m.help_with(message, reason),
    )


def checking_rows(m: WizardModel) -> list[ft.Control]:
    """While the authority is asked about the keys (revocation, then their issuer)."""
    keys = m.keys
    if keys.revocation_checking:
        key = "open.revocation_checking"
    elif keys.issuer_checking:
        key = "verdict_ui.checking_issuer"
    else:
        return []
    return [ft.Row([ft.ProgressRing(width=18, height=18), para(m.t(key))])]


def refusals(m: WizardModel) -> list[ft.Control]:
    """Why the opened keys cannot go on, in words, with what to do: the authority does not
    renew keys of their issuer (with "Make demo keys for me" right here in demo mode), or a
    key's own verdict (the cards say which); each with its help link."""
    keys = m.keys
    if keys.issuer_refusal is not None:
        controls: list[ft.Control] = [
            ft.Semantics(
                identifier="issuer-verdict",
                content=notice(keys.issuer_refusal.text(m.lang), "bad", ft.Icons.GPP_BAD_OUTLINED),
            )
        ]
        actions: list[ft.Control] = []
        if m.demo and m.resuming is None and not m.token_mode:
            actions.append(
                ft.FilledTonalButton(
                    m.t("open.make_demo"),
                    icon=ft.Icons.SCIENCE_OUTLINED,
                    on_click=partial(keys.make_demo_keys, "individual"),
                    disabled=m.busy,
                )
            )
        actions.append(help_link(m, keys.issuer_refusal))
        controls.append(ft.Row(actions, wrap=True, spacing=8, run_spacing=8))
        return controls
    if keys.cards and not keys.keys_ok and keys.open_error is None:
        reason = next((c.reason for c in keys.cards if not c.renewable), None)
        return [notice(m.t("open.cannot_renew"), "bad"), help_link(m, reason=reason)]
    return []


def view(m: WizardModel, ui) -> list[ft.Control]:
    if m.token_mode:  # the keys are on a token: the token, its PIN, its keys (issue #13)
        from wizard.ui.screens.token_keys import view as token_view

        return token_view(m, ui)

    keys = m.keys

    async def pick() -> None:
        await keys.pick_files(ui.platform.pick_stores)

    async def open_and_check() -> None:
        keys.open_keys()  # at once: the keys, and what the CRLs at hand say
        await keys.check_with_authority()  # then the authority's answers, off the UI loop

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
            disabled=not keys.picked or m.busy or keys.asking,
        )
    )
    controls += checking_rows(m)
    if keys.issuer_unasked is not None and keys.keys_ok:
        unasked = notice(keys.issuer_unasked.text(m.lang), "info", ft.Icons.CLOUD_OFF)
        controls.append(ft.Semantics(identifier="open.issuer_unasked", content=unasked))
    controls += error_notice(m, keys.open_error)
    if keys.open_error is not None:
        controls.append(help_link(m, keys.open_error))
    # the authority's refusal first, at once in view after "Open", then the cards
    controls += refusals(m)
    controls += [_card(m, card) for card in keys.cards]
    controls.append(
        buttons(
            m,
            (m.t("nav.continue"), m.continue_from_keys),
            # not while the authority is asked: the press would be ignored (continue_from_keys)
            enabled=keys.keys_ok and not keys.asking,
            back="storage",
        )
    )
    return controls
