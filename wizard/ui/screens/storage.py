"""Step 2: where the keys are. Truthful about what Qoltanba can do for each kind of storage."""

from __future__ import annotations

import flet as ft

from wizard.ui.model import STORAGE_KINDS, WizardModel
from wizard.ui.widgets import buttons, choice, heading, notice, para


def view(m: WizardModel, ui) -> list[ft.Control]:
    group = ft.RadioGroup(
        value=m.storage_kind,
        on_change=lambda e: m.choose_storage(e.control.value),
        content=ft.Column(
            [
                choice(
                    kind,
                    m.t(f"storage.{kind}.name"),
                    m.choose_storage,
                    subtitle=m.t(f"storage.{kind}.what"),
                )
                for kind in STORAGE_KINDS
            ],
            spacing=0,
        ),
    )
    kind = m.storage_kind
    controls: list[ft.Control] = [
        heading(m.t("storage.title")),
        para(m.t("storage.question")),
        group,
    ]
    if m.token_mode:  # the tokens extra installed and a PKCS#11 module found (issue #13)
        from wizard.ui.screens.token_keys import storage_notice

        controls.append(storage_notice(m))
    else:
        controls.append(
            notice(m.t(f"storage.{kind}.qoltanba"), "good" if kind == "file" else "warn")
        )
    if kind == "file":
        controls.append(notice(m.t("storage.insecure_advice"), "info", ft.Icons.SHIELD_OUTLINED))
    else:
        controls.append(notice(m.t("storage.default_pin_warning"), "warn", ft.Icons.PIN_OUTLINED))
    controls.append(
        buttons(
            m,
            (m.t("nav.continue"), m.confirm_storage),
            enabled=kind == "file" or m.token_mode,
            back="start",
        )
    )
    return controls
