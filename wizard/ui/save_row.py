"""The done screen's save row (issue #11): where the new keys are, and ways to take them along.

- the folder's full path as selectable, wrapping text, with "Copy path";
- "Save a copy…": a menu of the new key stores and CA certificates, one file each, saved through
  the device (a download in the browser, the system picker on Android, a dialog on desktop);
- "Save all as one zip";
- "Open folder", only where the device can show a folder (a desktop window).

It knows nothing of the wizard's model: give it a translator, the folder and its files' names,
the Platform and a way to say one line (a toast). Every failure becomes one translated line.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import flet as ft

from wizard.errors import QoltanbaError
from wizard.renewal.export import LIMITS, bundle_zip, read_export
from wizard.ui.models.common import PressGuard
from wizard.ui.platform import Platform

logger = logging.getLogger(__name__)

Translate = Callable[..., str]


def error_line(t: Translate, error: QoltanbaError) -> str:
    """An error's one translated line, through the screen's translator."""
    return t(f"error.{error.code}", **error.params)


def _fact(platform: Any, name: str) -> bool:
    """A yes/no the platform tells (False when it cannot: a test's fake, no page)."""
    try:
        return bool(getattr(platform, name, False))
    except RuntimeError:
        return False


def _exportable(files: list[str]) -> list[str]:
    """The names of the files one may save a copy of, key stores first, each once."""
    names = {Path(f).name for f in files}
    usable = [n for n in names if Path(n).suffix.lower() in LIMITS]
    return sorted(usable, key=lambda n: (Path(n).suffix.lower() != ".p12", n))


def save_controls(
    t: Translate,
    folder: Path,
    files: list[str],
    platform: Platform,
    toast: Callable[[str], None],
    *,
    web: bool | None = None,
    mobile: bool | None = None,
    presses: PressGuard | None = None,
) -> list[ft.Control]:
    """The controls of the save row. ``web`` and ``mobile`` (asked of ``platform`` when None) say
    where the person is: in a browser a copy is a download and the folder is the server's, on a
    phone the folder is inside the app."""
    web = _fact(platform, "web") if web is None else web
    mobile = _fact(platform, "mobile") if mobile is None else mobile
    folder = Path(folder)
    names = _exportable(files)

    presses = presses or PressGuard()

    async def guarded(action: Callable[[], Awaitable[None]], file: str) -> None:
        try:
            async with presses.once(f"save:{file}") as go:  # a double click: one download
                if go:
                    await action()
        except QoltanbaError as error:
            toast(error_line(t, error))
        except Exception:  # a bug or a client that broke off: one line, never a traceback
            logger.exception("saving %s failed", file)
            toast(t("error.save_failed", file=file))

    async def offer(name: str, data: bytes) -> None:
        if await platform.save(name, data):
            toast(t("done_save.downloading" if web else "done_save.saved", file=name))

    def save_one(name: str) -> Callable[[], Awaitable[None]]:
        async def handler() -> None:
            async def action() -> None:
                await offer(name, read_export(folder, name))

            await guarded(action, name)

        return handler

    async def save_all() -> None:
        async def action() -> None:
            await offer(*bundle_zip(folder, names))

        await guarded(action, "zip")

    async def copy_path() -> None:
        async def action() -> None:
            await platform.copy(str(folder))
            toast(t("done_save.path_copied"))

        await guarded(action, str(folder))

    def open_folder() -> None:
        opened = False
        try:
            opened = bool(platform.open_folder(folder))
        except Exception:  # the file manager could not be started: say where the folder is
            logger.exception("opening %s failed", folder)
        if not opened:
            toast(t("done_save.open_failed", folder=str(folder)))

    controls: list[ft.Control] = [
        ft.Text(t("done_save.folder"), size=13, color=ft.Colors.GREY_700),
        ft.Text(
            str(folder),
            key="done_save.path",
            selectable=True,
            size=14,
            weight=ft.FontWeight.BOLD,
            no_wrap=False,
            overflow=ft.TextOverflow.VISIBLE,
        ),
    ]
    buttons: list[ft.Control] = [
        ft.OutlinedButton(
            t("done_save.copy_path"),
            key="done_save.copy_path",
            icon=ft.Icons.CONTENT_COPY,
            on_click=copy_path,
        )
    ]
    if names:
        buttons.append(
            ft.PopupMenuButton(
                key="done_save.save_copy",
                # drawn as the outlined buttons beside it: a menu that looks like text is missed
                content=ft.Container(
                    ft.Row(
                        [
                            ft.Icon(ft.Icons.SAVE_ALT, size=18, color=ft.Colors.PRIMARY),
                            ft.Text(t("done_save.save_copy"), color=ft.Colors.PRIMARY),
                            ft.Icon(ft.Icons.ARROW_DROP_DOWN, size=18, color=ft.Colors.PRIMARY),
                        ],
                        tight=True,
                        spacing=8,
                    ),
                    border=ft.Border.all(1, ft.Colors.OUTLINE),
                    border_radius=20,
                    padding=ft.Padding.symmetric(horizontal=16, vertical=8),
                ),
                tooltip=t("done_save.save_copy_tip"),
                items=[
                    ft.PopupMenuItem(
                        key=f"done_save.file.{name}",
                        content=name,
                        icon=(
                            ft.Icons.KEY
                            if name.lower().endswith(".p12")
                            else ft.Icons.VERIFIED_USER_OUTLINED
                        ),
                        on_click=save_one(name),
                    )
                    for name in names
                ],
            )
        )
        buttons.append(
            ft.FilledTonalButton(
                t("done_save.save_all"),
                key="done_save.save_all",
                icon=ft.Icons.FOLDER_ZIP_OUTLINED,
                on_click=save_all,
            )
        )
    if _fact(platform, "can_open_folder"):
        buttons.append(
            ft.OutlinedButton(
                t("done_save.open_folder"),
                key="done_save.open_folder",
                icon=ft.Icons.FOLDER_OPEN,
                on_click=open_folder,
            )
        )
    controls.append(ft.Row(buttons, wrap=True, spacing=8, run_spacing=8))
    if names and (web or mobile):
        explain = "done_save.web_explain" if web else "done_save.phone_explain"
        controls.append(ft.Text(t(explain), size=13, color=ft.Colors.GREY_700))
    if any(n.lower().endswith(".p12") for n in names):
        controls.append(ft.Text(t("done_save.safe_to_copy"), size=13, color=ft.Colors.GREY_700))
    return controls
