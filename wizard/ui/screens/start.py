"""Step 1: language and mode (the demo authority, or a real authority's address)."""

from __future__ import annotations

import flet as ft

from wizard.i18n import LANGUAGE_NAMES, LANGUAGES
from wizard.ui.model import WizardModel
from wizard.ui.widgets import buttons, choice, error_notice, heading, para


def view(m: WizardModel, ui) -> list[ft.Control]:
    language_buttons: list[ft.Control] = [
        (ft.FilledButton if lang == m.lang else ft.OutlinedButton)(
            LANGUAGE_NAMES[lang], on_click=lambda _, lang=lang: m.set_language(lang)
        )
        for lang in LANGUAGES
    ]
    mode = ft.RadioGroup(
        value="demo" if m.demo else "real",
        on_change=lambda e: m.set_mode(e.control.value == "demo"),
        content=ft.Column(
            [
                choice("demo", m.t("start.mode_demo"), lambda v: m.set_mode(True)),
                choice("real", m.t("start.mode_real"), lambda v: m.set_mode(False)),
            ]
        ),
    )
    controls: list[ft.Control] = [
        heading(m.t("start.title")),
        para(m.t("start.language")),
        ft.Row(language_buttons, wrap=True),
        para(m.t("start.mode")),
        mode,
    ]
    if m.demo:
        controls.append(para(m.t("start.demo_explained"), color=ft.Colors.GREY_700))
    else:
        controls.append(
            ft.TextField(
                key="start.authority_url",
                label=m.t("start.authority_url"),
                value=m.authority_url,
                hint_text="https://",
                on_change=lambda e: m.set_authority_url(e.control.value),
            )
        )
    controls += error_notice(m, m.mode_error)
    controls.append(buttons(m, (m.t("nav.continue"), m.confirm_start), back="home"))
    return controls
