"""Help: the Kazakh FAQ's questions and answers (DOMAIN.md §3), then Qoltanba's own
(help_topics.MORE_TOPICS), in the chosen language. Opened from a "What does this mean?" link, the
answer for what that screen showed is open and scrolled into view (issue #11); "Back" returns to
that screen."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import flet as ft

from wizard.ui.help_topics import MORE_TOPICS, TOPICS
from wizard.ui.model import WizardModel
from wizard.ui.widgets import heading, para

SCROLL_PAUSE = 0.4  # seconds: the screen is drawn before it is scrolled to the answer


def topic_key(slug: str) -> str:
    """The scroll key of a topic's tile (and its Semantics identifier)."""
    return f"help-{slug}"


def scroll_key(slug: str) -> ft.ScrollKey:
    """The tile's ScrollKey: what Flet's scroll_to finds (a plain str key is no scroll target)."""
    return ft.ScrollKey(topic_key(slug))  # type: ignore[call-arg]  # flet's lazy dataclass


def catalogue_key(slug: str) -> str:
    """Where a topic's texts are: ``help.<slug>`` (the FAQ's), ``help_more.<slug>`` (ours)."""
    return f"help_more.{slug}" if slug in MORE_TOPICS else f"help.{slug}"


def _tile(m: WizardModel, slug: str) -> ft.Control:
    key = catalogue_key(slug)
    chosen = slug == m.help_topic
    tile = ft.ExpansionTile(
        key=scroll_key(slug),
        title=ft.Text(m.t(f"{key}.q"), size=15, weight=ft.FontWeight.W_500),
        expanded=chosen,  # the answer asked for is open; the others collapsed
        controls=[
            ft.Container(
                content=ft.Text(m.t(f"{key}.a"), size=14),
                padding=ft.Padding.only(left=16, right=16, bottom=12),
            )
        ],
    )
    if not chosen:
        return tile
    return ft.Semantics(identifier=topic_key(slug), content=tile)


def view(m: WizardModel, ui) -> list[ft.Control]:
    return [
        heading(m.t("help.title")),
        para(m.t("help.intro")),
        *(_tile(m, slug) for slug in (*TOPICS, *MORE_TOPICS)),
        ft.FilledButton(m.t("nav.back"), icon=ft.Icons.ARROW_BACK, on_click=m.back_from_help),
    ]


async def scroll_to_topic(page: Any, m: WizardModel) -> None:
    """The app's effect on (screen, help topic): Help opened at an answer scrolls it into view
    (Flet's scroll_to with the tile's ScrollKey: Flutter's ensureVisible, whichever column
    scrolls)."""
    if m.screen != "help" or not m.help_topic:
        return
    await asyncio.sleep(SCROLL_PAUSE)
    if m.screen != "help" or not m.help_topic:
        return
    with contextlib.suppress(Exception):  # a page closed meanwhile: nothing to scroll
        await page.scroll_to(scroll_key=scroll_key(m.help_topic), duration=300)
