"""Step 5: the new password. The NCA rules ticked off live, a strength meter, a confirmation,
show/hide, and "I understand this password cannot be recovered"."""

from __future__ import annotations

import flet as ft

from wizard.keys.passwords import render_verdict
from wizard.ui.model import WizardModel
from wizard.ui.widgets import (
    BAD,
    GOOD,
    WARN,
    buttons,
    cancel_button,
    error_notice,
    heading,
    notice,
    para,
    tick_box,
)

LEVEL_COLOURS = {"refused": BAD, "weak": WARN, "good": GOOD}


def _rule_line(rule, *, typed: bool) -> ft.Control:
    """A rule, ticked green when met, crossed red when the password typed breaks it (grey
    before anything is typed)."""
    if rule.met:
        icon, colour = ft.Icons.CHECK_CIRCLE, GOOD
    elif typed:
        icon, colour = ft.Icons.CANCEL, BAD
    else:
        icon, colour = ft.Icons.RADIO_BUTTON_UNCHECKED, ft.Colors.GREY_500
    return ft.Semantics(
        identifier=f"rule-{rule.code}-{'met' if rule.met else 'unmet'}",
        content=ft.Row(
            [ft.Icon(icon, color=colour, size=20), ft.Text(rule.text, size=14, expand=True)]
        ),
    )


def _verdict_line(level: str, strength: int, rendered) -> ft.Control:
    """The one verdict: refused (red: the rules say no, however "strong" it looks), allowed but
    weak (amber), good (green); nothing while the field is empty."""
    if level == "empty":
        return ft.Container(key="password-verdict")
    colour = LEVEL_COLOURS[level]
    words = rendered.summary
    value = 1.0
    if level != "refused":
        words = f"{rendered.summary} {rendered.strength}"
        value = (strength + 1) / 5
    # the identifier on the bar alone: around the words too, they would become its label and no
    # longer read as text
    bar = ft.ProgressBar(value=value, color=colour, bar_height=8, bgcolor=ft.Colors.GREY_200)
    return ft.Column(
        [
            ft.Semantics(identifier=f"password-verdict-{level}", content=bar),
            ft.Text(words, size=13, color=colour, weight=ft.FontWeight.BOLD),
        ],
        spacing=4,
        key="password-verdict",
    )


def _resume_view(m: WizardModel) -> list[ft.Control]:
    password = m.password
    return [
        heading(m.t("password.resume_title")),
        para(m.t("password.resume_explain")),
        ft.TextField(
            key="password.new",
            label=m.t("password.new"),
            value=password.new_password,
            password=True,
            can_reveal_password=True,
            on_change=lambda e: password.set_new(e.control.value),
        ),
        *error_notice(m, password.password_error),
        buttons(
            m,
            (m.t("password.resume_go"), password.accept),
            enabled=password.can_accept,
            # the new password forgotten: the saved new keys cannot be opened; end it instead
            extra=[cancel_button(m)] if m.progress.can_cancel else [],
        ),
    ]


def view(m: WizardModel, ui) -> list[ft.Control]:
    if m.token_mode:  # new keys on the token: its PIN protects them, no new password (#13)
        from wizard.ui.screens.token_keys import confirm_view

        return confirm_view(m)
    if m.resuming is not None:
        return _resume_view(m)
    password = m.password
    verdict = password.verdict
    rendered = render_verdict(verdict, m.lang)
    rules = [_rule_line(rule, typed=not verdict.empty) for rule in rendered.rules]
    extra = [_rule_line(rule, typed=not verdict.empty) for rule in rendered.extra_rules]
    strength = _verdict_line(verdict.level, verdict.strength, rendered)
    repeat = ft.TextField(
        key="password.repeat",
        label=m.t("password.repeat"),
        value=password.new_password2,
        password=not password.show_password,
        on_change=lambda e: password.set_repeat(e.control.value),
        error=m.t("password.confirm_mismatch")
        if password.new_password2 and not password.passwords_match
        else None,
    )
    # both fields first, so that on a phone they are in view as the step opens (issue #11);
    # the rules, ticked off live, and the one verdict under them
    controls: list[ft.Control] = [
        heading(m.t("password.title")),
        para(m.t("password.explain")),
        ft.TextField(
            key="password.new",
            label=m.t("password.new"),
            value=password.new_password,
            password=not password.show_password,
            on_change=lambda e: password.set_new(e.control.value),
        ),
        repeat,
        tick_box("password.show", m.t("password.show"), password.show_password, password.show),
        ft.Column(
            [ft.Text(m.t("password.rules.title"), weight=ft.FontWeight.BOLD), *rules, *extra],
            spacing=4,
        ),
        strength,
    ]
    feedback: list[ft.Control] = []
    if password.new_password:
        feedback += [notice(problem, "bad") for problem in rendered.problems]
        feedback += [
            para(f"• {advice}", size=13, color=ft.Colors.GREY_800) for advice in rendered.advice
        ]
    # one container whatever the feedback, so what is below keeps its place while typing
    controls.append(ft.Column(feedback, spacing=6, key="password-feedback"))
    controls.append(notice(m.t("password.remember"), "warn", ft.Icons.LOCK_OUTLINE))
    controls.append(
        tick_box(
            "password.understand",
            m.t("password.understand"),
            password.understood,
            password.understand,
        )
    )
    controls += error_notice(m, password.password_error)
    controls.append(
        buttons(
            m,
            (m.t("password.go"), password.accept),
            enabled=password.can_accept,
            back="application",
        )
    )
    return controls
