"""Shared pieces of the wizard's screens: the top bar (demo mark, language, help), the step
indicator, headings, notices and the bottom buttons. Text always comes from the catalogues."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import flet as ft

from wizard.i18n import LANGUAGE_NAMES, LANGUAGES
from wizard.ui.model import STEP_NUMBERS, STEPS, Message, WizardModel

MAX_WIDTH = 760
PHONE_WIDTH = 576  # narrower than this is a phone (ResponsiveRow's "sm" breakpoint)
NAV_KEY = "nav-bar"  # a screen's bottom buttons (buttons()): shown below its scrolling column
GOOD = ft.Colors.GREEN_700
WARN = ft.Colors.AMBER_800
BAD = ft.Colors.RED_700
DEMO_COLOUR = ft.Colors.DEEP_ORANGE_600


def top_bar(m: WizardModel, *, compact: bool = False) -> ft.Control:
    """Name, the DEMO mark (on every screen in demo mode), language switch, help: one row, or
    on a phone (``compact``) the languages on a second row."""
    languages = ft.SegmentedButton(
        segments=[
            ft.Segment(value=lang, label=ft.Text(LANGUAGE_NAMES[lang], size=12))
            for lang in LANGUAGES
        ],
        selected=[m.lang],
        show_selected_icon=False,
        on_change=lambda e: m.set_language(next(iter(e.control.selected))),
    )
    mark: list[ft.Control] = []
    if m.demo:
        mark.append(
            ft.Container(
                content=ft.Text(
                    m.t("app.demo_mark"), color=ft.Colors.WHITE, size=12, weight=ft.FontWeight.BOLD
                ),
                bgcolor=DEMO_COLOUR,
                padding=ft.Padding.symmetric(horizontal=8, vertical=3),
                border_radius=6,
                tooltip=m.t("app.demo_explained"),
            )
        )
    else:
        mark.append(
            ft.Text(
                m.t("app.real_authority", url=m.authority),
                size=11,
                color=ft.Colors.GREY_700,
                expand=compact,
            )
        )
    first: list[ft.Control] = [
        ft.TextButton(
            content=ft.Text(m.t("app.name"), size=20, weight=ft.FontWeight.BOLD),
            on_click=lambda: m.go("home"),
            tooltip=m.t("app.to_home"),
        ),
        *mark,
        ft.Container(expand=True),
    ]
    if not compact:
        first.append(languages)
    first.append(
        ft.IconButton(
            icon=ft.Icons.HELP_OUTLINE, tooltip=m.t("help.title"), on_click=lambda: m.go("help")
        )
    )
    rows: list[ft.Control] = [
        ft.Row(first, vertical_alignment=ft.CrossAxisAlignment.CENTER, spacing=8)
    ]
    if compact:
        rows.append(ft.Row([languages], alignment=ft.MainAxisAlignment.END))
    return ft.Container(
        content=ft.Column(rows, spacing=2),
        padding=ft.Padding.only(left=8, right=8, top=4, bottom=4),
        bgcolor=ft.Colors.BLUE_GREY_50,
    )


def step_indicator(m: WizardModel) -> ft.Control | None:
    if m.screen not in STEPS:
        return None
    number, total = STEP_NUMBERS[m.screen], max(STEP_NUMBERS.values())
    return ft.Column(
        [
            ft.Text(
                m.t("step.counter", number=number, total=total, name=m.t(f"step.{m.screen}")),
                size=12,
                color=ft.Colors.GREY_700,
            ),
            ft.ProgressBar(value=number / total, bar_height=4),
        ],
        spacing=4,
    )


def heading(text: str) -> ft.Control:
    return ft.Text(text, size=22, weight=ft.FontWeight.BOLD)


def para(text: str, size: int = 15, **kw: Any) -> ft.Control:
    return ft.Text(text, size=size, **kw)


def notice(text: str, kind: str = "info", icon: ft.IconData | None = None) -> ft.Control:
    colours = {
        "info": (ft.Colors.BLUE_50, ft.Colors.BLUE_800, ft.Icons.INFO_OUTLINE),
        "good": (ft.Colors.GREEN_50, GOOD, ft.Icons.CHECK_CIRCLE_OUTLINE),
        "warn": (ft.Colors.AMBER_50, WARN, ft.Icons.WARNING_AMBER),
        "bad": (ft.Colors.RED_50, BAD, ft.Icons.ERROR_OUTLINE),
    }
    bg, fg, default_icon = colours[kind]
    return ft.Container(
        content=ft.Row(
            [
                ft.Icon(icon or default_icon, color=fg),
                ft.Text(text, color=fg, size=14, expand=True),
            ],
            vertical_alignment=ft.CrossAxisAlignment.START,
        ),
        bgcolor=bg,
        padding=12,
        border_radius=8,
    )


def error_notice(m: WizardModel, message: Message | None) -> list[ft.Control]:
    return [notice(message.text(m.lang), "bad")] if message is not None else []


def fault_notice(m: WizardModel) -> list[ft.Control]:
    """The last-resort line (what no step could handle itself), with a way to put it away."""
    if m.fault is None:
        return []
    return [
        ft.Container(
            key="app.fault",
            content=ft.Row(
                [
                    ft.Icon(ft.Icons.ERROR_OUTLINE, color=BAD),
                    ft.Text(m.fault.text(m.lang), color=BAD, size=14, expand=True),
                    ft.IconButton(
                        icon=ft.Icons.CLOSE,
                        tooltip=m.t("app.fault_close"),
                        on_click=m.dismiss_fault,
                    ),
                ],
                vertical_alignment=ft.CrossAxisAlignment.START,
            ),
            bgcolor=ft.Colors.RED_50,
            padding=12,
            border_radius=8,
        )
    ]


def run_notices(m: WizardModel) -> list[ft.Control]:
    """What the renewal run said besides its result (e.g. "this files a new application")."""
    return [notice(message.text(m.lang), "info") for message in m.progress.run_notices]


def cancel_button(m: WizardModel, renewal_id: str | None = None) -> ft.Control:
    """ "End this renewal": asks first (the confirmation dialog, cancel_dialog)."""
    return ft.OutlinedButton(
        m.t("cancel.button"),
        icon=ft.Icons.CANCEL_OUTLINED,
        on_click=lambda: m.cancel.ask(renewal_id),
        disabled=m.busy,
        style=ft.ButtonStyle(color=BAD),
    )


def cancel_dialog(m: WizardModel) -> ft.AlertDialog | None:
    """The confirmation of "End this renewal": what ending it does, before or after the
    application was sent; "yes" ends it, "no" (or Escape) keeps it."""
    asked = m.cancel.asked
    if asked is None:
        return None
    if asked.submitted and asked.application:
        what = m.t("cancel.after_submission", application=asked.application)
    else:
        what = m.t("cancel.before_submission")
    content: list[ft.Control] = [ft.Text(what, size=15)]
    if asked.folder:
        content.append(
            ft.Text(
                m.t("home.pending_folder", folder=asked.folder), size=12, color=ft.Colors.GREY_700
            )
        )
    content += error_notice(m, m.cancel.error)
    return confirm_dialog(
        m,
        m.t("cancel.title"),
        content,
        keep=(m.t("cancel.keep"), m.cancel.keep),
        confirm=(m.t("cancel.confirm"), ft.Icons.CANCEL_OUTLINED, m.cancel.end),
    )


def confirm_dialog(
    m: WizardModel,
    title: str,
    content: list[ft.Control],
    *,
    keep: tuple[str, Callable[..., Any]],
    confirm: tuple[str, ft.IconData, Callable[..., Any]],
) -> ft.AlertDialog:
    """A question before something that cannot be undone: "keep" (or Escape) changes nothing,
    "confirm", in red, does it."""
    keep_label, on_keep = keep
    label, icon, on_confirm = confirm
    return ft.AlertDialog(
        modal=False,  # Escape, or a click beside it, is "keep": the safe answer
        title=ft.Text(title),
        content=ft.Column(content, tight=True, spacing=10, width=min(MAX_WIDTH, 520)),
        actions=[
            ft.TextButton(keep_label, on_click=on_keep),
            ft.FilledButton(
                label,
                icon=icon,
                on_click=on_confirm,
                disabled=m.busy,
                style=ft.ButtonStyle(bgcolor=BAD, color=ft.Colors.WHITE),
            ),
        ],
        on_dismiss=on_keep,
    )


def revoke_dialog(m: WizardModel) -> ft.AlertDialog | None:
    """The confirmation of "Revoke the old keys at the authority": it cannot be undone; "yes"
    revokes them, "no" (or Escape) keeps them."""
    if not m.done.revoke_asked:
        return None
    return confirm_dialog(
        m,
        m.t("done.revoke_title"),
        [ft.Text(m.t("done.revoke_what"), size=15)],
        keep=(m.t("done.revoke_keep"), m.done.keep_old_keys),
        confirm=(m.t("done.revoke_yes"), ft.Icons.GPP_MAYBE_OUTLINED, m.done.revoke_old_keys),
    )


def problem(m: WizardModel) -> list[ft.Control]:
    """A renewal step's error, said with its way forward (m.progress.work_actions): try again,
    back to the password, end the renewal, choose another folder, home."""
    progress = m.progress
    if m.busy or (progress.work_error is None and m.fault is None):
        return []
    controls = error_notice(m, progress.work_error)
    if progress.work_error is not None and "cancel" in progress.work_actions:
        controls.append(para(m.t("work.elsewhere_what_now"), size=14))
    row: list[ft.Control] = []
    for action in progress.work_actions:
        if action == "retry":
            row.append(
                ft.FilledButton(m.t("work.retry"), icon=ft.Icons.REFRESH, on_click=progress.run)
            )
        elif action == "back":
            row.append(
                ft.OutlinedButton(
                    m.t("nav.back"), icon=ft.Icons.ARROW_BACK, on_click=lambda: m.go("password")
                )
            )
        elif action == "cancel":
            row.append(cancel_button(m))
        elif action == "choose_folder":
            row.append(
                ft.FilledButton(
                    m.t("work.choose_folder"),
                    icon=ft.Icons.FOLDER_OPEN,
                    on_click=progress.choose_folder,
                )
            )
        elif action == "home":
            row.append(
                ft.OutlinedButton(
                    m.t("app.to_home"), icon=ft.Icons.HOME, on_click=lambda: m.go("home")
                )
            )
    if row:
        controls.append(ft.Row(row, wrap=True, spacing=8, run_spacing=8))
    return controls


def buttons(
    m: WizardModel,
    primary: tuple[str, Callable[..., Any]] | None,
    *,
    enabled: bool = True,
    back: str | None = None,
    extra: Sequence[ft.Control] = (),
) -> ft.Control:
    row: list[ft.Control] = []
    # keyed by the step: each step's buttons are controls of their own, so a click the browser
    # sent before it drew the next step goes to the pressed step's button, not to the same
    # control given the next step's action (app.SETTLE_SECONDS covers a click after it)
    if back:
        row.append(
            ft.OutlinedButton(
                m.t("nav.back"),
                icon=ft.Icons.ARROW_BACK,
                on_click=lambda: m.go(back),
                key=f"back-{m.screen}",
            )
        )
    row.extend(extra)
    if primary is not None:
        label, action = primary
        row.append(
            ft.FilledButton(
                label,
                icon=ft.Icons.ARROW_FORWARD,
                on_click=action,
                disabled=not enabled or m.busy,
                key=f"continue-{m.screen}",
            )
        )
    # a Wrap (no expanding spacer inside one): on a phone the buttons go onto two lines
    bar = ft.Row(
        row, wrap=True, spacing=8, run_spacing=8, alignment=ft.MainAxisAlignment.SPACE_BETWEEN
    )
    why = m.why_not_continue if primary is not None and not enabled else None
    # a disabled button says why, above it; the same structure either way (the buttons are not
    # rebuilt when it comes and goes: a click meanwhile is not lost)
    reason: ft.Control = ft.Container(key="why-disabled-none")
    if why is not None:
        reason = ft.Row(
            [
                ft.Semantics(
                    identifier="why-disabled",
                    content=ft.Icon(ft.Icons.INFO_OUTLINE, color=ft.Colors.BLUE_GREY_700, size=18),
                ),
                ft.Text(why.text(m.lang), size=13, color=ft.Colors.BLUE_GREY_700, expand=True),
            ],
            vertical_alignment=ft.CrossAxisAlignment.START,
            key="why-disabled",
        )
    # kept in view under the screen, outside its scrolling column (app.App): Continue never has
    # to be scrolled to (issue #11)
    return ft.Column([reason, bar], spacing=6, key=NAV_KEY)


# A value longer than this goes under its label on a phone (a file name, an organisation): in
# a column beside the label it would wrap over four lines (issue #11).
LONG_VALUE = 24
# ResponsiveRow's columns (of 12) for a label and its value: on a phone (xs, under 576 px) a
# narrow label column, or the label above a long value; wider, a quarter for the label.
Columns = dict[str | ft.ResponsiveRowBreakpoint, int | float]
_LABEL_COLUMNS: Columns = {"xs": 5, "sm": 3}
_VALUE_COLUMNS: Columns = {"xs": 7, "sm": 9}
_STACKED: tuple[Columns, Columns] = ({"xs": 12, "sm": 3}, {"xs": 12, "sm": 9})


def field_row(label: str, value: str) -> ft.Control:
    """A label and its value, side by side; on a phone a long value goes under its label."""
    value = value or "—"
    label_columns, value_columns = (
        _STACKED if len(value) > LONG_VALUE else (_LABEL_COLUMNS, _VALUE_COLUMNS)
    )
    return ft.ResponsiveRow(
        [
            ft.Text(label, size=13, color=ft.Colors.GREY_700, col=label_columns),
            ft.Text(value, size=15, col=value_columns),
        ],
        spacing=8,
        run_spacing=0,
        vertical_alignment=ft.CrossAxisAlignment.START,
    )


def tick_box(
    key: str,
    label: str,
    value: bool,
    on_change: Callable[[bool], Any],
    *,
    disabled: bool = False,
) -> ft.Control:
    """A checkbox whose words wrap (a Checkbox's own label does not: on a phone it is cut off).
    The box keeps ``label`` as its accessible name (what a screen reader says, what the browser
    tests find it by), and a tap on the words ticks it too."""
    return ft.Row(
        [
            ft.Checkbox(
                key=key,
                value=value,
                semantics_label=label,
                disabled=disabled,
                on_change=lambda e: on_change(bool(e.control.value)),
            ),
            ft.Container(
                content=ft.Text(label, size=15),
                expand=True,
                on_click=None if disabled else (lambda: on_change(not value)),
                padding=ft.Padding.only(top=10, bottom=8),
            ),
        ],
        spacing=2,
        vertical_alignment=ft.CrossAxisAlignment.START,
    )


def days_colour(days_left: int) -> str:
    if days_left < 0:
        return BAD
    if days_left <= 30:
        return WARN
    return GOOD


def time_left_bar(m: WizardModel, days_left: int, total_days: int = 365) -> ft.Control:
    """A clear picture of time left: a bar, a colour and the words."""
    value = max(0.0, min(1.0, days_left / total_days))
    if days_left < 0:
        words = m.t("keys.expired_days", days=-days_left)
    else:
        words = m.t("keys.days_left", days=days_left)
    return ft.Column(
        [
            ft.ProgressBar(
                value=value, color=days_colour(days_left), bar_height=8, bgcolor=ft.Colors.GREY_200
            ),
            ft.Text(words, color=days_colour(days_left), weight=ft.FontWeight.BOLD, size=14),
        ],
        spacing=4,
    )


def choice(
    value: str,
    title: str,
    on_pick: Callable[[str], Any],
    subtitle: str = "",
    disabled: bool = False,
) -> ft.Control:
    """One radio option whose words wrap (a Radio's own label does not: it would be cut off on a
    phone). Tapping the words picks it too. Goes inside a RadioGroup."""
    words: list[ft.Control] = [
        ft.Text(title, size=15, color=ft.Colors.GREY_600 if disabled else None)
    ]
    if subtitle:
        words.append(ft.Text(subtitle, size=12, color=ft.Colors.GREY_700))
    return ft.Row(
        [
            ft.Radio(value=value, disabled=disabled),
            ft.Container(
                content=ft.Column(words, spacing=2),
                expand=True,
                on_click=None if disabled else (lambda: on_pick(value)),
                padding=ft.Padding.only(top=6, bottom=6),
            ),
        ],
        vertical_alignment=ft.CrossAxisAlignment.START,
    )
