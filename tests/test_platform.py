"""The device behind wizard.ui.platform.Platform, with Flet's file picker and the file manager
replaced: what "save" does in a browser, on a phone and on a desktop (where Qoltanba writes the
file itself, atomically and 0600), and "open folder" only in a desktop window, without a shell."""

from __future__ import annotations

import asyncio
import inspect
import os
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import flet as ft
import pytest

from wizard.errors import OutputRefused
from wizard.ui import platform as platform_module
from wizard.ui.platform import Platform, folder_opener, write_chosen

DATA = b"\x30\x82 a new key store, encrypted"


class FakePage:
    def __init__(self, *, web: bool = False, platform: ft.PagePlatform = ft.PagePlatform.LINUX):
        self.web = web
        self.platform = platform


class FakePicker:
    """Flet's FilePicker as seen from Python: records each call, answers what it is told."""

    def __init__(self, answer: Any = None, error: BaseException | None = None) -> None:
        self.answer, self.error = answer, error
        self.calls: list[dict[str, Any]] = []

    async def save_file(self, **kwargs: Any) -> Any:
        self.calls.append(kwargs)
        if self.error is not None:
            raise self.error
        return self.answer

    async def pick_files(self, **kwargs: Any) -> list[ft.FilePickerFile]:
        self.calls.append(kwargs)
        return self.answer


class Device(Platform):
    def __init__(self, page: FakePage, picker: FakePicker | None = None) -> None:
        super().__init__(page)
        self.picker = picker or FakePicker()

    def _file_picker(self) -> FakePicker:  # type: ignore[override]
        return self.picker


def save(device: Platform, name: str = "RSA256_ab.p12", data: bytes = DATA) -> bool:
    return asyncio.run(device.save(name, data))


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_flet_save_file_takes_what_platform_passes():
    # Guards a Flet upgrade: the names Platform.save passes are still save_file's.
    parameters = inspect.signature(ft.FilePicker.save_file).parameters
    assert {"file_name", "src_bytes"} <= set(parameters)


# --- the browser: a download ----------------------------------------------------------------


def test_on_the_web_the_bytes_go_to_the_browser_as_a_download(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    device = Device(FakePage(web=True, platform=ft.PagePlatform.WINDOWS))  # the browser's OS
    assert save(device) is True  # save_file answers None on the web: the download started
    assert device.picker.calls == [{"file_name": "RSA256_ab.p12", "src_bytes": DATA}]
    assert list(tmp_path.iterdir()) == []  # nothing written on the server
    assert device.web and not device.desktop and not device.mobile


# --- a phone: the system picker (SAF) writes the bytes ----------------------------------------


@pytest.mark.parametrize("system", [ft.PagePlatform.ANDROID, ft.PagePlatform.IOS])
def test_on_a_phone_the_picker_gets_the_bytes(system):
    device = Device(FakePage(platform=system), FakePicker("/document/primary:Download/x.p12"))
    assert save(device) is True
    assert device.picker.calls == [{"file_name": "RSA256_ab.p12", "src_bytes": DATA}]
    assert device.mobile and not device.desktop and not device.web


def test_on_a_phone_cancelling_the_picker_saves_nothing():
    device = Device(FakePage(platform=ft.PagePlatform.ANDROID), FakePicker(None))
    assert save(device) is False


# --- a desktop: the dialog, then Qoltanba writes --------------------------------------------


@pytest.mark.parametrize(
    "system", [ft.PagePlatform.LINUX, ft.PagePlatform.WINDOWS, ft.PagePlatform.MACOS]
)
def test_on_a_desktop_the_dialog_names_the_file_and_qoltanba_writes_it(tmp_path, system):
    chosen = tmp_path / "Documents" / "RSA256_ab.p12"
    chosen.parent.mkdir()
    device = Device(FakePage(platform=system), FakePicker(str(chosen)))
    assert save(device) is True
    assert device.picker.calls == [{"file_name": "RSA256_ab.p12"}]  # no bytes: Flet writes none
    assert chosen.read_bytes() == DATA
    assert mode(chosen) == 0o600
    assert sorted(p.name for p in chosen.parent.iterdir()) == ["RSA256_ab.p12"]  # no temp left
    assert device.desktop and not device.mobile and not device.web


def test_on_a_desktop_cancelling_the_dialog_writes_nothing(tmp_path):
    device = Device(FakePage(), FakePicker(None))
    assert save(device) is False


def test_a_file_the_person_chose_to_replace_is_replaced_atomically(tmp_path):
    chosen = tmp_path / "copy.zip"
    chosen.write_bytes(b"an older zip")
    chosen.chmod(0o644)
    device = Device(FakePage(), FakePicker(str(chosen)))
    assert save(device, "qoltanba-keys.zip") is True
    assert chosen.read_bytes() == DATA and mode(chosen) == 0o600


def test_a_key_store_is_never_overwritten_even_if_chosen(tmp_path):
    old = tmp_path / "AUTH_RSA256_old.p12"
    old.write_bytes(b"the current key store")
    device = Device(FakePage(), FakePicker(str(old)))
    with pytest.raises(OutputRefused) as refused:
        save(device)
    assert refused.value.code == "output_exists" and refused.value.params["path"] == str(old)
    assert old.read_bytes() == b"the current key store"


def test_saving_the_same_bytes_onto_the_same_file_is_fine(tmp_path):
    same = tmp_path / "RSA256_ab.p12"
    same.write_bytes(DATA)
    assert write_chosen(same, DATA) == same
    assert same.read_bytes() == DATA


def test_a_folder_that_cannot_be_written_is_a_translated_refusal(tmp_path):
    missing = tmp_path / "no-such-folder" / "x.cer"
    device = Device(FakePage(), FakePicker(str(missing)))
    with pytest.raises(OutputRefused) as refused:
        save(device, "x.cer")
    assert refused.value.code == "output_unwritable"
    assert not missing.parent.exists()


# --- failures: one translated line ---------------------------------------------------------


@pytest.mark.parametrize(
    "page",
    [FakePage(web=True), FakePage(platform=ft.PagePlatform.ANDROID), FakePage()],
    ids=["web", "android", "desktop"],
)
@pytest.mark.parametrize("error", [RuntimeError("Error while saving file"), TimeoutError()])
def test_a_client_error_becomes_save_failed(page, error):
    device = Device(page, FakePicker(error=error))
    with pytest.raises(OutputRefused) as failed:
        save(device)
    assert failed.value.code == "save_failed" and failed.value.params == {"file": "RSA256_ab.p12"}
    for lang in ("kk", "ru", "en"):
        assert "RSA256_ab.p12" in failed.value.message(lang)


@pytest.mark.parametrize(
    "name, data", [("", DATA), ("no-extension", DATA), ("a/b.p12", DATA), ("x.p12", b"")]
)
def test_unusable_names_or_nothing_to_save_are_refused_before_any_dialog(name, data):
    device = Device(FakePage())
    with pytest.raises(OutputRefused) as refused:
        asyncio.run(device.save(name, data))
    assert refused.value.code == "output_bad_name"
    assert device.picker.calls == []


# --- picking stores still works through the same picker ------------------------------------


def test_pick_stores_reads_picked_bytes():
    picked = [ft.FilePickerFile(id=0, name="AUTH.p12", size=3, path=None, bytes=b"abc")]
    device = Device(FakePage(web=True), FakePicker(picked))
    files = asyncio.run(device.pick_stores())
    assert [(f.name, f.data, f.path) for f in files] == [("AUTH.p12", b"abc", None)]
    assert device.picker.calls[0]["allowed_extensions"] == ["p12", "pfx"]


# --- opening the folder --------------------------------------------------------------------


class Started:
    def __init__(self) -> None:
        self.calls: list[tuple[list[str], dict[str, Any]]] = []

    def __call__(self, argv: list[str], **kwargs: Any) -> object:
        self.calls.append((argv, kwargs))
        return object()


@pytest.fixture
def started(monkeypatch) -> Started:
    record = Started()
    monkeypatch.setattr(platform_module.subprocess, "Popen", record)
    return record


@pytest.fixture
def linux_with_xdg_open(monkeypatch):
    monkeypatch.setattr(sys, "platform", "linux")
    monkeypatch.setattr(platform_module.shutil, "which", lambda name: f"/usr/bin/{name}")


def test_open_folder_on_a_linux_desktop_runs_xdg_open_without_a_shell(
    tmp_path, started, linux_with_xdg_open
):
    device = Device(FakePage())
    assert device.can_open_folder is True
    assert device.open_folder(tmp_path) is True
    ((argv, kwargs),) = started.calls
    assert argv == ["/usr/bin/xdg-open", str(tmp_path.resolve())]
    assert not kwargs.get("shell")
    assert kwargs["stdin"] is subprocess.DEVNULL and kwargs["start_new_session"] is True


def test_open_folder_on_macos_runs_open(tmp_path, started, monkeypatch):
    monkeypatch.setattr(sys, "platform", "darwin")
    device = Device(FakePage(platform=ft.PagePlatform.MACOS))
    assert device.open_folder(tmp_path) is True
    assert started.calls[0][0] == ["open", str(tmp_path.resolve())]


def test_open_folder_on_windows_uses_startfile(tmp_path, started, monkeypatch):
    opened: list[str] = []
    monkeypatch.setattr(sys, "platform", "win32")
    monkeypatch.setattr(os, "startfile", opened.append, raising=False)
    device = Device(FakePage(platform=ft.PagePlatform.WINDOWS))
    assert device.can_open_folder is True
    assert device.open_folder(tmp_path) is True
    assert opened == [str(tmp_path.resolve())] and started.calls == []


@pytest.mark.parametrize(
    "page",
    [
        FakePage(web=True, platform=ft.PagePlatform.LINUX),  # the folder is the server's
        FakePage(platform=ft.PagePlatform.ANDROID),  # app storage: no file manager to show it
        FakePage(platform=ft.PagePlatform.IOS),
    ],
    ids=["web", "android", "ios"],
)
def test_never_on_the_web_or_a_phone(tmp_path, started, linux_with_xdg_open, page):
    device = Device(page)
    assert device.can_open_folder is False
    assert device.open_folder(tmp_path) is False
    assert started.calls == []


def test_not_without_a_file_manager(tmp_path, started, monkeypatch):
    monkeypatch.setattr(sys, "platform", "linux")
    monkeypatch.setattr(platform_module.shutil, "which", lambda name: None)
    assert folder_opener("linux") is None
    device = Device(FakePage())
    assert device.can_open_folder is False and device.open_folder(tmp_path) is False
    assert started.calls == []


def test_not_a_folder_that_is_gone_or_a_file(tmp_path, started, linux_with_xdg_open):
    device = Device(FakePage())
    (tmp_path / "file.p12").write_bytes(b"x")
    assert device.open_folder(tmp_path / "gone") is False
    assert device.open_folder(tmp_path / "file.p12") is False
    assert started.calls == []


def test_a_file_manager_that_cannot_start_is_false(tmp_path, monkeypatch, linux_with_xdg_open):
    def refuse(argv, **kwargs):
        raise FileNotFoundError(argv[0])

    monkeypatch.setattr(platform_module.subprocess, "Popen", refuse)
    assert Device(FakePage()).open_folder(tmp_path) is False


def test_without_a_page_nothing_can_be_opened(tmp_path, started):
    device = Platform()  # no Flet page in this test: not a window
    assert device.can_open_folder is False
    assert device.open_folder(tmp_path) is False
