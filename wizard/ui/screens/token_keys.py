"""The wizard's token path (issue #13), screen by screen: the keys on the token (step 3, in place
of picking files), the confirmation before the new keys are made on it (step 5, in place of the
new password), and what the done screen says of where the new keys are.

What the token says of its PIN is shown before the PIN is typed; the PIN goes to the token and
is never kept (CurrentKeys.open_token).
"""

from __future__ import annotations

import re

import flet as ft

from wizard.ui.model import WizardModel
from wizard.ui.widgets import (
    GOOD,
    buttons,
    cancel_button,
    error_notice,
    heading,
    notice,
    para,
)

_PIN_NOTICE = {
    "ok": ("info", ft.Icons.PIN_OUTLINED),
    "count_low": ("warn", ft.Icons.WARNING_AMBER),
    "final_try": ("bad", ft.Icons.WARNING_AMBER),
    "locked": ("bad", ft.Icons.LOCK_OUTLINE),
    "factory": ("warn", ft.Icons.PIN_OUTLINED),
}
_KEY_LABEL = re.compile(r"^(AUTH_RSA256|RSA256|GOSTKNCA|GOST512)_[0-9a-f]{40}$")


def storage_notice(m: WizardModel) -> ft.Control:
    """Step 2 for a token kind when tokens can be used here."""
    return notice(m.t("token.ui.storage_available"), "good", ft.Icons.USB)


def view(m: WizardModel, ui) -> list[ft.Control]:
    """Step 3 on a token: which token, what it says of its PIN, the PIN, then its keys."""
    from wizard.ui.screens.open_keys import (
        _card,
        checking_rows,
        help_link,
        refusals,
        resuming_notice,
    )

    keys = m.keys

    async def open_and_check() -> None:
        await keys.open_token()
        await keys.check_with_authority()  # then the authority's answers, off the UI loop

    controls: list[ft.Control] = [heading(m.t("token.ui.title"))]
    controls += resuming_notice(m)
    controls.append(para(m.t("token.ui.explain")))
    found = m.tokens.found
    chosen = m.tokens.chosen
    if not found:
        controls.append(notice(m.t("token.ui.none_found"), "warn", ft.Icons.USB_OFF))
    elif len(found) > 1:
        controls.append(para(m.t("token.ui.which")))
        controls.append(
            ft.RadioGroup(
                value=chosen.serial if chosen else None,
                on_change=lambda e: keys.choose_token(e.control.value),
                content=ft.Column(
                    [
                        ft.Radio(
                            value=t.serial,
                            label=m.t(
                                "token.ui.token_line", name=t.name, model=t.model, serial=t.serial
                            ),
                        )
                        for t in found
                    ],
                    spacing=0,
                ),
            )
        )
    controls.append(
        ft.OutlinedButton(
            m.t("token.ui.search"),
            icon=ft.Icons.REFRESH,
            on_click=keys.find_tokens,
            disabled=m.busy,
        )
    )
    if chosen is not None:
        controls.append(
            ft.Row(
                [
                    ft.Icon(ft.Icons.USB, color=GOOD),
                    ft.Text(
                        m.t(
                            "token.ui.token_line",
                            name=chosen.name,
                            model=chosen.model,
                            serial=chosen.serial,
                        ),
                        weight=ft.FontWeight.BOLD,
                        expand=True,
                    ),
                ]
            )
        )
        kind, icon = _PIN_NOTICE[chosen.pin_state]
        controls.append(
            ft.Semantics(
                identifier=f"token-pin-{chosen.pin_state}",
                content=notice(m.t(f"token.ui.pin_state.{chosen.pin_state}"), kind, icon),
            )
        )
        controls.append(
            ft.TextField(
                key="token.pin",
                label=m.t("token.ui.pin"),
                value=keys.token_pin,
                password=True,
                can_reveal_password=True,
                on_change=lambda e: keys.set_token_pin(e.control.value),
                on_submit=open_and_check,
                disabled=chosen.pin_state == "locked",
            )
        )
        controls.append(
            ft.FilledTonalButton(
                m.t("token.ui.open"),
                icon=ft.Icons.LOCK_OPEN,
                on_click=open_and_check,
                disabled=m.busy or keys.asking or chosen.pin_state == "locked",
            )
        )
    if m.busy:
        controls.append(ft.ProgressBar())
    controls += checking_rows(m)
    controls += error_notice(m, keys.open_error)
    if keys.open_error is not None:
        controls.append(help_link(m, keys.open_error))
    if keys.token_notice is not None:
        controls.append(notice(keys.token_notice.text(m.lang), "warn", ft.Icons.PIN_OUTLINED))
    controls += refusals(m)
    controls += [_card(m, card) for card in keys.cards]
    controls.append(
        buttons(
            m,
            (m.t("nav.continue"), m.continue_from_keys),
            enabled=keys.keys_ok and not keys.asking,
            back="storage",
        )
    )
    return controls


def confirm_view(m: WizardModel) -> list[ft.Control]:
    """Step 5 on a token: no new password (the PIN protects the new keys); a last word before
    the key pairs are generated on the token."""
    chosen = m.tokens.chosen
    name = chosen.name if chosen is not None else "-"
    resuming = m.resuming is not None
    return [
        heading(m.t("token.ui.confirm_title")),
        para(
            m.t("token.ui.resume_explain" if resuming else "token.ui.confirm_explain", token=name)
        ),
        notice(m.t("token.ui.done_pin"), "info", ft.Icons.PIN_OUTLINED),
        *error_notice(m, m.password.password_error),
        buttons(
            m,
            (m.t("token.ui.confirm_go"), m.password.accept),
            enabled=m.password.can_accept,
            back=None if resuming else "application",
            extra=[cancel_button(m)] if m.progress.can_cancel else [],
        ),
    ]


def done_rows(m: WizardModel) -> list[ft.Control]:
    """The done screen's "where the new keys are", for keys on a token."""
    token = m.done.result.get("token") or {}
    files = list(m.done.result.get("files", []))
    name = token.get("name") or token.get("serial") or "-"
    rows: list[ft.Control] = [
        para(m.t("token.ui.done_where")),
        ft.Text(
            m.t("token.ui.done_token", token=name, serial=token.get("serial") or "-"),
            size=14,
            weight=ft.FontWeight.BOLD,
        ),
    ]
    for label in files:
        key = bool(_KEY_LABEL.match(label))
        icon = ft.Icons.KEY if key else ft.Icons.VERIFIED_USER_OUTLINED
        colour = GOOD if key else ft.Colors.GREY_700
        rows.append(ft.Row([ft.Icon(icon, color=colour), ft.Text(label, expand=True)]))
    rows.append(para(m.t("token.ui.done_ca"), size=13, color=ft.Colors.GREY_700))
    rows.append(notice(m.t("token.ui.done_pin"), "info", ft.Icons.PIN_OUTLINED))
    return rows
