"""Step 1: who issues the new keys: the demo authority, or an installed authority
adapter (the same list as ``qoltanba authority list``; one reached by address asks for it).
The language is chosen in the header, on every screen, and remembered (issue #11)."""

from __future__ import annotations

import flet as ft

from wizard.ui.model import WizardModel
from wizard.ui.widgets import buttons, choice, error_notice, heading, para


def _authority_options(m: WizardModel) -> list[ft.Control]:
    options: list[ft.Control] = [
        choice("demo", m.t("start.mode_demo"), lambda v: m.choose_authority("demo"))
    ]
    for entry in m.authority_choices():
        if entry.name == "demo":
            continue
        if entry.name == "mock-http":
            title, subtitle = m.t("start.mode_real"), ""
        else:
            title = entry.title
            subtitle = "" if entry.usable else m.t("start.authority_unusable", reason=entry.reason)
        options.append(
            choice(
                entry.name,
                title,
                m.choose_authority,
                subtitle=subtitle,
                disabled=not entry.usable,
            )
        )
    return options


def view(m: WizardModel, ui) -> list[ft.Control]:
    mode = ft.RadioGroup(
        value=m.authority_choice,
        on_change=lambda e: m.choose_authority(e.control.value),
        content=ft.Column(_authority_options(m)),
    )
    controls: list[ft.Control] = [
        heading(m.t("start.title")),
        para(m.t("start.mode")),
        mode,
    ]
    if m.demo:
        controls.append(para(m.t("start.demo_explained"), color=ft.Colors.GREY_700))
    else:
        if m.authority_choice_by_address:
            controls.append(
                ft.TextField(
                    key="start.authority_url",
                    label=m.t("start.authority_url"),
                    value=m.authority_url,
                    hint_text="https://",
                    on_change=lambda e: m.set_authority_url(e.control.value),
                    # its problem said at the field, gone once the address is changed
                    error=m.mode_error.text(m.lang) if m.mode_error is not None else None,
                    error_max_lines=4,
                )
            )
        controls.append(para(m.t("start.authority_trust"), color=ft.Colors.GREY_700))
    if m.demo or not m.authority_choice_by_address:  # else said at the address field
        controls += error_notice(m, m.mode_error)
    controls.append(buttons(m, (m.t("nav.continue"), m.confirm_start), back="home"))
    return controls
