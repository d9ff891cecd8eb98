"""The done screen (issue #11 item 6): after a file renewal, the folder's full path is selectable
and copyable, each new store and CA certificate can be saved as a copy, or all as one zip, and
"Open folder" is there only where the device can show a folder; keys renewed on a token have
none of it. The screen is built from a real finished demo renewal (the model driven as its
buttons drive it) with a fake device, and its buttons' handlers are called as a click does."""

from __future__ import annotations

import asyncio
import io
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import flet as ft
import pytest
from wizard_steps import enter_demo_code, model, to_code

from wizard.errors import OutputRefused
from wizard.i18n import LANGUAGES, translate
from wizard.ui.app import UiContext
from wizard.ui.screens import done as done_screen

SAVE_KEYS = ("done_save.path", "done_save.copy_path", "done_save.save_copy", "done_save.save_all")


@pytest.fixture(scope="module")
def finished(tmp_path_factory) -> Any:
    """A demo renewal of files carried to its end (the done screen's model), once per module."""

    async def scenario() -> Any:
        m = model(tmp_path_factory.mktemp("done-home"))
        await to_code(m)
        await enter_demo_code(m)
        assert m.screen == "done", (m.progress.work_error, m.fault)
        await m.close()
        return m

    return asyncio.run(scenario())


class Screen:
    """The done screen as built for a device, its controls found by their keys."""

    def __init__(self, m: Any, device: Any) -> None:
        from wizard.ui.models.common import PressGuard

        # each screen built here is a press of its own, not a double click of the last test's
        m.done._presses = PressGuard()
        self.device = device
        self.toasts: list[str] = []
        self.controls = done_screen.view(m, UiContext(platform=device, toast=self.toasts.append))

    def walk(self) -> Iterator[Any]:
        stack: list[Any] = list(self.controls)
        while stack:
            control = stack.pop(0)
            yield control
            for attribute in ("controls", "items"):
                stack.extend(getattr(control, attribute, None) or [])
            content = getattr(control, "content", None)
            if isinstance(content, ft.Control):
                stack.append(content)

    def has(self, key: str) -> bool:
        return any(getattr(c, "key", None) == key for c in self.walk())

    def find(self, key: str) -> Any:
        found = [c for c in self.walk() if getattr(c, "key", None) == key]
        assert len(found) == 1, (key, found)
        return found[0]

    def texts(self) -> list[str]:
        return [c.value for c in self.walk() if isinstance(c, ft.Text) and c.value]

    def click(self, key: str) -> None:
        result = self.find(key).on_click()
        if asyncio.iscoroutine(result):
            asyncio.run(result)


def test_a_file_renewal_shows_the_full_path_and_the_save_buttons(finished, fake_platform):
    folder = finished.done.folder
    assert folder is not None and folder.is_dir()
    screen = Screen(finished, fake_platform())
    for key in SAVE_KEYS:
        assert screen.has(key), key
    path = screen.find("done_save.path")
    assert path.value == str(folder) and path.selectable and not path.no_wrap
    # the path is said once, by the save row (the bold text that cut it is gone)
    assert screen.texts().count(str(folder)) == 1
    # "Save a copy…": each new store, then each CA certificate, and nothing else
    items = [item.content for item in screen.find("done_save.save_copy").items]
    stores = sorted(p.name for p in folder.glob("*.p12"))
    certificates = sorted(p.name for p in folder.glob("*.cer"))
    assert len(stores) == 2 and len(certificates) == 2
    assert items == stores + certificates
    # "Open folder" only where the device can show one
    assert not screen.has("done_save.open_folder")
    device = fake_platform(can_open_folder=True)
    Screen(finished, device).click("done_save.open_folder")
    assert device.opened == [folder]


def test_copy_path_copies_the_whole_folder(finished, fake_platform):
    screen = Screen(finished, fake_platform())
    screen.click("done_save.copy_path")
    assert screen.device.copied == [str(finished.done.folder)]
    assert screen.toasts == [translate("done_save.path_copied", "en")]


def test_saving_one_store_hands_the_device_the_file_s_exact_bytes(finished, fake_platform):
    screen = Screen(finished, fake_platform())
    store = finished.done.key_files[0]
    screen.click(f"done_save.file.{store}")
    assert screen.device.saved == [(store, (finished.done.folder / store).read_bytes())]
    assert screen.toasts == [translate("done_save.saved", "en", file=store)]


def test_the_zip_holds_the_stores_and_ca_certificates_and_no_pending_key(finished, fake_platform):
    folder: Path = finished.done.folder
    stray = folder / "PENDING_AUTH_left-over.p8"  # as a broken earlier run would leave one
    stray.write_bytes(b"pending")
    try:
        screen = Screen(finished, fake_platform(web=True))
        screen.click("done_save.save_all")
    finally:
        stray.unlink()
    ((name, data),) = screen.device.saved
    assert name.startswith("qoltanba-keys-") and name.endswith(".zip")
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        names = archive.namelist()
        stores = sorted(p.name for p in folder.glob("*.p12"))
        certificates = sorted(p.name for p in folder.glob("*.cer"))
        assert names == stores + certificates  # the stores first, then the CA certificates
        assert not [n for n in names if n.upper().startswith("PENDING_")]
        for member in names:
            assert archive.read(member) == (folder / member).read_bytes()
    # on the web a copy is a download, and the screen says where the folder really is
    assert screen.toasts == [translate("done_save.downloading", "en", file=name)]
    assert translate("done_save.web_explain", "en") in screen.texts()


@pytest.mark.parametrize("lang", LANGUAGES)
def test_a_failing_save_is_one_translated_line(finished, fake_platform, lang):
    store = finished.done.key_files[0]
    refused = OutputRefused("save_failed", file=store)
    finished.set_language(lang)
    try:
        screen = Screen(finished, fake_platform(save_error=refused))
        screen.click(f"done_save.file.{store}")
        broken = Screen(finished, fake_platform(save_error=RuntimeError("client went away")))
        broken.click("done_save.save_all")
    finally:
        finished.set_language("en")
    expected = translate("error.save_failed", lang, file=store)
    assert screen.toasts == [expected]
    assert broken.toasts == [translate("error.save_failed", lang, file="zip")]
    for line in (*screen.toasts, *broken.toasts):
        assert "\n" not in line and "Traceback" not in line and "error." not in line
    assert screen.device.saved == [] and broken.device.saved == []


@pytest.mark.parametrize("lang", LANGUAGES)
def test_the_done_screen_is_translated(finished, fake_platform, lang):
    finished.set_language(lang)
    try:
        texts = Screen(finished, fake_platform(mobile=True)).texts()
    finally:
        finished.set_language("en")
    assert translate("done_save.phone_explain", lang) in texts
    assert not [t for t in texts if t.startswith(("done_save.", "done.", "error."))]


def test_keys_on_a_token_have_no_save_row(tmp_path, fake_platform, monkeypatch):
    """A renewal on a token (issue #13): the keys never leave it, so nothing to save or open."""
    from wizard.ui.screens import token_keys

    m = model(tmp_path)
    monkeypatch.setattr(token_keys, "done_rows", lambda m: [ft.Text("the token row")])
    m.done.result = {  # what Done._show records for keys renewed on a token
        "folder": str(tmp_path / "keys" / "token-home"),
        "files": ["AUTH_RSA256_ab.cer", "QOLTANBA_DEMO_ROOT_CA_1f.cer"],
        "not_after": "2029-08-18T00:00:00+00:00",
        "application": "0001-00000001",
        "token": {"serial": "1234", "name": "Kaztoken"},
    }
    assert m.done.on_token and m.done.saveable == [] and m.done.folder is None
    screen = Screen(m, fake_platform(can_open_folder=True))
    assert "the token row" in screen.texts()
    for key in (*SAVE_KEYS, "done_save.open_folder"):
        assert not screen.has(key), key
