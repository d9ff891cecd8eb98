"""What the wizard needs from the device, behind one small class so that tests can replace it:
picking key files, copying to the clipboard, saving a file the person asked for, opening a folder.

Saving goes through Flet's ``FilePicker.save_file`` (flet 1.0.5 and its Flutter plugin
``file_picker`` 11), which does a different thing on each kind of client:

- **web**: the browser downloads ``src_bytes`` under ``file_name`` (a Blob and a clicked
  ``<a download>``); nothing comes back, not even whether the person kept the file.
- **Android, iOS**: the system's "save as" screen (Storage Access Framework,
  ``ACTION_CREATE_DOCUMENT``); the plugin itself writes ``src_bytes`` through the content resolver
  into the document the person made, and returns its content path, or None when cancelled.
- **desktop** (Linux through the XDG desktop portal, Windows, macOS): a save dialog that asks
  before replacing a file, then the plugin writes ``src_bytes`` with a plain ``File.writeAsBytes``
  (not atomic, permissions of the umask). So on desktop Qoltanba passes no bytes, takes the path
  and writes the file itself: atomically, mode 0600, and over an existing file only when the person
  chose that file in the dialog (which asked them) and it is not a key store, since no key store is
  ever overwritten.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import flet as ft

from wizard.errors import OutputRefused
from wizard.ui.model import PickedFile

STORE_EXTENSIONS = ["p12", "pfx"]
KEY_STORE_SUFFIXES = (".p12", ".pfx")


def _suffix(name: str) -> str:
    return os.path.splitext(name)[1].lower()


def write_chosen(path: Path, data: bytes) -> Path:
    """Write ``data`` to the file the person chose in a save dialog, atomically with mode 0600.

    A new name is written without ever replacing a file (should one appear meanwhile, it stays).
    An existing file was confirmed in the dialog: it is replaced atomically, unless it is a key
    store (refused: no key store is ever overwritten), or already holds exactly these bytes."""
    from wizard.keys.files import replace_file, write_new_file

    folder, name = path.parent, path.name
    if not (path.exists() or path.is_symlink()):
        return write_new_file(folder, name, data)
    try:
        same = path.is_file() and path.stat().st_size == len(data) and path.read_bytes() == data
    except OSError:
        same = False
    if same:
        return path
    if _suffix(name) in KEY_STORE_SUFFIXES or path.is_dir():
        raise OutputRefused("output_exists", detail=str(path), path=str(path))
    return replace_file(folder, name, data)


def _start(argv: list[str]) -> None:
    """Start a program without a shell, detached, its output discarded; never waited for."""
    subprocess.Popen(  # noqa: S603 - a fixed program and one path argument, no shell
        argv,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        close_fds=True,
        start_new_session=True,
    )


def folder_opener(system: str | None = None) -> list[str] | None:
    """The command that shows a folder in the desktop's file manager (on ``system``, by default
    this one); None for Windows (``os.startfile``) and where there is none (no xdg-open)."""
    system = sys.platform if system is None else system
    if system.startswith("win"):
        return None
    if system == "darwin":
        return ["open"]
    found = shutil.which("xdg-open")
    return [found] if found else None


class Platform:
    """The device. ``page`` is the Flet page (by default the current one, ``ft.context.page``)."""

    def __init__(self, page: Any = None) -> None:
        self._given_page = page

    # --- what this device is -----------------------------------------------------------------

    def _page(self) -> Any:
        return self._given_page if self._given_page is not None else ft.context.page

    def _file_picker(self) -> Any:
        return ft.FilePicker()  # a service: it attaches to the current page when made

    @property
    def web(self) -> bool:
        """A browser: files leave as downloads, the folder is on the server."""
        return bool(self._page().web)

    @property
    def desktop(self) -> bool:
        """A desktop window (Linux, Windows, macOS) on the machine that holds the files."""
        page = self._page()
        platform = getattr(page, "platform", None)
        return not page.web and isinstance(platform, ft.PagePlatform) and platform.is_desktop()

    @property
    def mobile(self) -> bool:
        """A phone or tablet app (Android, iOS): the new keys are in the app's private storage and
        leave it only through the system picker."""
        page = self._page()
        return not page.web and not self.desktop

    @property
    def can_open_folder(self) -> bool:
        """Whether open_folder can show a folder here: a desktop window only, never the web (the
        folder is the server's) nor Android or iOS (the keys are in the app's private storage)."""
        try:
            desktop = self.desktop
        except RuntimeError:  # no page: not a window
            return False
        if sys.platform.startswith("win"):
            return desktop and hasattr(os, "startfile")
        return desktop and folder_opener() is not None

    # --- what the wizard asks of it ----------------------------------------------------------

    async def pick_stores(self) -> list[PickedFile]:
        """Key stores chosen by the person; on the web a picked file has no path, only bytes."""
        files = await self._file_picker().pick_files(
            file_type=ft.FilePickerFileType.CUSTOM,
            allowed_extensions=STORE_EXTENSIONS,
            allow_multiple=True,
            with_data=True,
            cancel_upload_on_window_blur=False,
        )
        picked = []
        for item in files or []:
            path = Path(item.path) if item.path else None
            data = item.bytes
            if data is None and path is not None:
                from wizard.keys.store import read_store_file

                data = read_store_file(path)
            picked.append(PickedFile(name=item.name, data=data or b"", path=path))
        return picked

    async def copy(self, text: str) -> None:
        await ft.Clipboard().set(text)

    async def save(self, name: str, data: bytes) -> bool:
        """Offer ``data`` to save as ``name``: True once saved (on the web: once the download
        started), False when the person cancelled. OutputRefused when it could not be saved."""
        if not data or os.path.basename(name) != name or not _suffix(name):
            raise OutputRefused("output_bad_name", detail=name, path=name)
        web, desktop = self.web, self.desktop
        picker = self._file_picker()
        try:
            if desktop:
                chosen = await picker.save_file(file_name=name)  # the dialog only: we write
            else:  # web (a download) or a phone (the plugin writes through the picker)
                chosen = await picker.save_file(file_name=name, src_bytes=data)
        except (RuntimeError, TimeoutError, ValueError) as exc:  # the client said no
            raise OutputRefused("save_failed", file=name) from exc
        if web:
            return True  # the browser has the file; whether it was kept, it does not say
        if not chosen:
            return False
        if desktop:
            write_chosen(Path(chosen), data)
        return True

    def open_folder(self, path: Path) -> bool:
        """Show ``path`` in the desktop's file manager; False where that cannot be done (the web,
        a phone, no file manager, no such folder). Never through a shell."""
        if not self.can_open_folder:
            return False
        try:
            folder = Path(path).resolve(strict=True)
        except (OSError, RuntimeError):
            return False
        if not folder.is_dir():
            return False
        try:
            if sys.platform.startswith("win"):
                getattr(os, "startfile")(str(folder))  # noqa: B009 - Windows only; mypy on Linux
                return True
            opener = folder_opener()
            if opener is None:
                return False
            _start([*opener, str(folder)])
        except OSError:  # no such program, or it could not start
            return False
        return True
