"""The done screen's save row (wizard.ui.save_row), built with a fake device and driven by calling
its handlers: the full path selectable and copyable, a copy of each new file or all as one zip,
"Open folder" only where the device can, and every failure one translated line."""

from __future__ import annotations

import asyncio
import io
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import flet as ft
import pytest

from wizard.errors import OutputRefused
from wizard.i18n import translate
from wizard.ui.platform import Platform
from wizard.ui.save_row import save_controls

STORE = "AUTH_RSA256_" + "ab" * 20 + ".p12"
SIGN = "RSA256_" + "cd" * 20 + ".p12"
ROOT = "QOLTANBA_DEMO_ROOT_CA_1f2e.cer"
ISSUING = "QOLTANBA_DEMO_ISSUING_CA_3d4c.cer"
FILES = [ROOT, STORE, ISSUING, SIGN]


class FakeDevice:
    """What save_row asks of a Platform, recorded."""

    def __init__(
        self,
        *,
        can_open_folder: bool = False,
        saves: bool = True,
        error: BaseException | None = None,
        opens: bool = True,
    ) -> None:
        self.can_open_folder = can_open_folder
        self.web = False
        self.mobile = False
        self.saves, self.error, self.opens = saves, error, opens
        self.saved: list[tuple[str, bytes]] = []
        self.copied: list[str] = []
        self.opened: list[Path] = []

    async def save(self, name: str, data: bytes) -> bool:
        if self.error is not None:
            raise self.error
        self.saved.append((name, data))
        return self.saves

    async def copy(self, text: str) -> None:
        self.copied.append(text)

    def open_folder(self, path: Path) -> bool:
        self.opened.append(path)
        return self.opens


class Row:
    """The built controls, found by their keys."""

    def __init__(self, controls: list[ft.Control], toasts: list[str]) -> None:
        self.controls, self.toasts = controls, toasts

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

    def find(self, key: str) -> Any:
        found = [c for c in self.walk() if getattr(c, "key", None) == key]
        assert len(found) == 1, (key, found)
        return found[0]

    def has(self, key: str) -> bool:
        return any(getattr(c, "key", None) == key for c in self.walk())

    def texts(self) -> list[str]:
        """Every text shown: Text values, button labels, menu entries, tooltips."""
        found = []
        for c in self.walk():
            if isinstance(c, ft.Text):
                found.append(c.value)
            for attribute in ("content", "tooltip"):
                if isinstance(getattr(c, attribute, None), str):
                    found.append(getattr(c, attribute))
        return found

    def click(self, key: str) -> None:
        handler = self.find(key).on_click
        result = handler()
        if asyncio.iscoroutine(result):
            asyncio.run(result)


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    where = tmp_path / "a rather long folder name for the new keys" / "keys-2026-08-18"
    where.mkdir(parents=True)
    for name in FILES:
        (where / name).write_bytes(f"contents of {name}".encode())
    (where / "PENDING_AUTH_01.p8").write_bytes(b"pending")
    return where


def build(folder: Path, device: Any, lang: str = "en", files=None, **where: bool) -> Row:
    toasts: list[str] = []

    def t(key: str, **params: Any) -> str:
        return translate(key, lang, **params)

    controls = save_controls(
        t, folder, FILES if files is None else files, device, toasts.append, **where
    )
    return Row(controls, toasts)


def test_the_full_path_is_selectable_wrapping_text_never_cut(folder):
    row = build(folder, FakeDevice())
    path = row.find("done_save.path")
    assert isinstance(path, ft.Text) and path.value == str(folder)
    assert path.selectable is True
    assert path.max_lines is None and path.no_wrap is False
    assert path.overflow not in (ft.TextOverflow.ELLIPSIS, ft.TextOverflow.FADE)


def test_copy_path_copies_the_whole_path(folder):
    device = FakeDevice()
    row = build(folder, device)
    row.click("done_save.copy_path")
    assert device.copied == [str(folder)]
    assert row.toasts == [translate("done_save.path_copied", "en")]


def test_save_a_copy_offers_each_new_store_then_each_ca_certificate(folder):
    row = build(folder, FakeDevice(), files=[*FILES, "PENDING_AUTH_01.p8", "journal.sqlite3"])
    menu = row.find("done_save.save_copy")
    assert isinstance(menu, ft.PopupMenuButton)
    assert [item.content for item in menu.items] == [STORE, SIGN, ISSUING, ROOT]


@pytest.mark.parametrize(
    "web, toast_key", [(False, "done_save.saved"), (True, "done_save.downloading")]
)
def test_each_menu_item_saves_its_own_file(folder, web, toast_key):
    device = FakeDevice()
    row = build(folder, device, web=web)
    for name in (SIGN, ROOT):
        row.click(f"done_save.file.{name}")
    assert device.saved == [
        (SIGN, (folder / SIGN).read_bytes()),
        (ROOT, (folder / ROOT).read_bytes()),
    ]
    assert row.toasts == [translate(toast_key, "en", file=n) for n in (SIGN, ROOT)]


def test_save_all_gives_one_zip_of_exactly_the_new_files(folder):
    device = FakeDevice()
    row = build(folder, device)
    row.click("done_save.save_all")
    ((name, data),) = device.saved
    assert name == "qoltanba-keys-2026-08-18.zip"
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert archive.namelist() == [STORE, SIGN, ISSUING, ROOT]
        for member in archive.namelist():
            assert archive.read(member) == (folder / member).read_bytes()
    assert row.toasts == [translate("done_save.saved", "en", file=name)]


def test_a_cancelled_dialog_says_nothing(folder):
    row = build(folder, FakeDevice(saves=False))
    row.click("done_save.save_all")
    row.click(f"done_save.file.{STORE}")
    assert row.toasts == []


def test_a_missing_file_is_one_translated_line(folder):
    (folder / SIGN).unlink()
    device = FakeDevice()
    row = build(folder, device, lang="ru")
    row.click(f"done_save.file.{SIGN}")
    row.click("done_save.save_all")
    expected = translate("error.export_missing", "ru", file=SIGN, folder=str(folder))
    assert row.toasts == [expected, expected]
    assert device.saved == []
    assert "Traceback" not in expected and "\n" not in expected


def test_a_refusal_from_the_device_is_its_translated_line(folder, tmp_path):
    refusal = OutputRefused("output_exists", detail="x", path=str(tmp_path / "old.p12"))
    row = build(folder, FakeDevice(error=refusal), lang="kk")
    row.click(f"done_save.file.{STORE}")
    assert row.toasts == [refusal.message("kk")]


def test_an_unexpected_failure_is_still_one_line(folder, caplog):
    row = build(folder, FakeDevice(error=RuntimeError("the client went away")))
    row.click(f"done_save.file.{ROOT}")
    assert row.toasts == [translate("error.save_failed", "en", file=ROOT)]
    assert "the client went away" in caplog.text  # logged for a report, not shown


def test_open_folder_only_where_the_device_can(folder):
    assert not build(folder, FakeDevice(can_open_folder=False)).has("done_save.open_folder")
    device = FakeDevice(can_open_folder=True)
    row = build(folder, device)
    row.click("done_save.open_folder")
    assert device.opened == [folder] and row.toasts == []


def test_a_folder_that_would_not_open_gives_its_path(folder):
    row = build(folder, FakeDevice(can_open_folder=True, opens=False), lang="kk")
    row.click("done_save.open_folder")
    assert row.toasts == [translate("done_save.open_failed", "kk", folder=str(folder))]


def test_the_web_and_a_phone_say_where_the_folder_is(folder):
    web = build(folder, FakeDevice(), web=True).texts()
    phone = build(folder, FakeDevice(), mobile=True).texts()
    desktop = build(folder, FakeDevice()).texts()
    assert translate("done_save.web_explain", "en") in web
    assert translate("done_save.phone_explain", "en") in phone
    for explain in ("done_save.web_explain", "done_save.phone_explain"):
        assert translate(explain, "en") not in desktop
    assert translate("done_save.safe_to_copy", "en") in desktop  # the stores are encrypted


def test_where_is_asked_of_the_device_when_not_given(folder):
    device = FakeDevice()
    device.web = True
    assert translate("done_save.web_explain", "en") in build(folder, device).texts()


def test_no_files_no_save_buttons_but_the_path_stays(folder):
    row = build(folder, FakeDevice(), files=[])
    assert row.has("done_save.path") and row.has("done_save.copy_path")
    assert not row.has("done_save.save_copy") and not row.has("done_save.save_all")


def test_a_device_that_knows_less_still_builds(folder):
    class Older:  # like tests/ui's FakePlatform: no can_open_folder, web or mobile
        async def save(self, name: str, data: bytes) -> bool:
            return True

        async def copy(self, text: str) -> None:
            pass

    row = build(folder, Older())
    assert row.has("done_save.save_all") and not row.has("done_save.open_folder")
    # and the real Platform outside a Flet page (no context to ask) builds too
    assert not build(folder, Platform()).has("done_save.open_folder")


@pytest.mark.parametrize("lang", ["kk", "ru", "en"])
def test_every_text_is_translated(folder, lang):
    texts = build(folder, FakeDevice(can_open_folder=True), lang=lang, web=True).texts()
    assert not any(t.startswith(("done_save.", "error.")) for t in texts)
    for key in ("copy_path", "save_copy", "save_copy_tip", "save_all", "open_folder"):
        assert translate(f"done_save.{key}", lang) in texts, key


def test_the_row_renders_in_a_real_flet_session_and_its_buttons_answer_clicks(folder):
    """Serialised by Flet itself (internal API, flet pinned) and clicked the way a client does."""
    from flet.controls.context import _context_page
    from flet.messaging.connection import Connection
    from flet.messaging.protocol import MessageAction
    from flet.messaging.session import Session
    from flet.pubsub.pubsub_hub import PubSubHub

    class Recording(Connection):
        def __init__(self) -> None:
            super().__init__()
            self.messages: list[Any] = []

        def send_message(self, message: Any) -> None:
            self.messages.append(message)

    device = FakeDevice(can_open_folder=True)
    toasts: list[str] = []

    async def go() -> None:
        connection = Recording()
        connection.pubsubhub = PubSubHub()
        session = Session(connection)
        token = _context_page.set(session.page)
        try:

            def t(key: str, **params: Any) -> str:
                return translate(key, "en", **params)

            session.page.add(ft.Column(save_controls(t, folder, FILES, device, toasts.append)))
            session.get_page_patch()
            shown = {getattr(c, "key", None): c for c in session.index.values()}
            for key in ("done_save.path", "done_save.copy_path", "done_save.save_all"):
                assert key in shown, key
            await session.dispatch_event(shown["done_save.save_all"]._i, "click", None)
            await session.dispatch_event(shown["done_save.open_folder"]._i, "click", None)
            for _ in range(20):
                await asyncio.sleep(0)
            crashed = [m for m in connection.messages if m.action == MessageAction.SESSION_CRASHED]
            assert crashed == []
        finally:
            session.close()
            _context_page.reset(token)

    asyncio.run(go())
    assert [name for name, _ in device.saved] == ["qoltanba-keys-2026-08-18.zip"]
    assert device.opened == [folder]
    assert toasts == [translate("done_save.saved", "en", file="qoltanba-keys-2026-08-18.zip")]


def test_a_double_click_saves_once_and_a_later_press_again(folder):
    """Pressed twice at once (the second click queued behind the first, or landing as it ends):
    one download. Pressed again once the moment has passed: saved again."""
    from wizard.ui.models.common import PressGuard

    now = [100.0]
    presses = PressGuard(window=1.0, clock=lambda: now[0])
    device = FakeDevice()
    toasts: list[str] = []
    controls = save_controls(
        lambda key, **p: translate(key, "en", **p),
        folder,
        FILES,
        device,
        toasts.append,
        presses=presses,
    )
    row = Row(controls, toasts)
    handler = row.find("done_save.save_all").on_click

    async def twice_at_once() -> None:
        await asyncio.gather(handler(), handler())

    asyncio.run(twice_at_once())
    row.click("done_save.save_all")  # right after: the double click's second click
    assert len(device.saved) == 1
    row.click(f"done_save.file.{STORE}")  # another file: its own button
    assert [name for name, _ in device.saved][-1] == STORE
    now[0] += 1.5
    row.click("done_save.save_all")
    assert len(device.saved) == 3, device.saved
