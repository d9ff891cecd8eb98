"""What the wizard needs from the device, behind one small class so that tests can replace it:
picking key files, copying to the clipboard, saving a file the person asked for."""

from __future__ import annotations

from pathlib import Path

import flet as ft

from wizard.ui.model import PickedFile

STORE_EXTENSIONS = ["p12", "pfx"]


class Platform:
    async def pick_stores(self) -> list[PickedFile]:
        """Key stores chosen by the person; on the web a picked file has no path, only bytes."""
        files = await ft.FilePicker().pick_files(
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
        """Offer a file to save (a download in the browser). True if it was saved."""
        result = await ft.FilePicker().save_file(file_name=name, src_bytes=data)
        return result is not None or ft.context.page.web
