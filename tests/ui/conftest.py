"""The wizard in a real Flet session without a browser: the App component rendered into a
`flet.messaging.session.Session` over a connection that only records what it would send, and
events dispatched the way the client sends them (internal API: flet is pinned).

`headless(services)` gives a HeadlessWizard: what the person sees (`texts`) and what they do
(`click`, `type`, `tick`); `crashes()` are the "session crashed" pages Flet would show instead.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import flet as ft
import pytest
from flet.controls.context import _context_page
from flet.messaging.connection import Connection
from flet.messaging.protocol import MessageAction
from flet.messaging.session import Session
from flet.pubsub.pubsub_hub import PubSubHub

from wizard.ui.model import PickedFile, Services

BUTTONS = (ft.Button, ft.FilledButton, ft.FilledTonalButton, ft.OutlinedButton, ft.TextButton)


class RecordingConnection(Connection):
    def __init__(self) -> None:
        super().__init__()
        self.messages: list[Any] = []

    def send_message(self, message: Any) -> None:
        self.messages.append(message)


class FakePlatform:
    """The device, replaced: no file picker, clipboard or save dialog to wait for. What it was
    asked to save, copy or open is recorded; ``save_error`` makes every save fail with it, and
    ``web``, ``mobile``, ``can_open_folder`` say what kind of device it plays (a desktop window
    that cannot show a folder, by default)."""

    def __init__(
        self,
        files: list[PickedFile] | None = None,
        *,
        web: bool = False,
        mobile: bool = False,
        can_open_folder: bool = False,
        save_error: BaseException | None = None,
    ) -> None:
        self.files = files or []
        self.copied: list[str] = []
        self.saved: list[tuple[str, bytes]] = []
        self.opened: list[Path] = []
        self.web = web
        self.mobile = mobile
        self.desktop = not (web or mobile)
        self.can_open_folder = can_open_folder
        self.save_error = save_error

    async def pick_stores(self) -> list[PickedFile]:
        return list(self.files)

    async def copy(self, text: str) -> None:
        self.copied.append(text)

    async def save(self, name: str, data: bytes) -> bool:
        if self.save_error is not None:
            raise self.save_error
        self.saved.append((name, data))
        return True

    def open_folder(self, path: Path) -> bool:
        self.opened.append(Path(path))
        return self.can_open_folder


class HeadlessWizard:
    def __init__(self, services: Services, lang: str = "en", platform: Any = None) -> None:
        self.services = services
        self.lang = lang
        self.platform = platform or FakePlatform()
        self.connection = RecordingConnection()
        self.connection.pubsubhub = PubSubHub()
        self.session = Session(self.connection)
        self._token: Any = None

    async def __aenter__(self) -> HeadlessWizard:
        from wizard.ui.app import make_main

        self._token = _context_page.set(self.session.page)
        make_main(self.services, self.platform, self.lang)(self.session.page)
        self.session.get_page_patch()
        await self.settle()
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.session.close()
        await self.settle()
        _context_page.reset(self._token)

    async def settle(self, turns: int = 20) -> None:
        """Let the session's update scheduler render what the last event changed."""
        for _ in range(turns):
            await asyncio.sleep(0)
        await asyncio.sleep(0.01)
        for _ in range(turns):
            await asyncio.sleep(0)

    # --- what the person sees --------------------------------------------------------------------

    def controls(self) -> list[Any]:
        """Every control on the page, and in the open dialogs (which this recording session
        never indexes: Flet's own tests reach them through page._dialogs too)."""
        found = list(self.session.index.values())
        seen = {id(c) for c in found}

        def walk(value: Any) -> None:
            if isinstance(value, (list, tuple)):
                for item in value:
                    walk(item)
            elif isinstance(value, ft.BaseControl) and id(value) not in seen:
                seen.add(id(value))
                found.append(value)
                for name in ("content", "controls", "actions", "title"):
                    walk(getattr(value, name, None))

        walk(self.dialogs())
        return found

    def texts(self) -> list[str]:
        found = []
        for control in self.controls():
            if isinstance(control, ft.Text) and isinstance(control.value, str):
                found.append(control.value)
            elif isinstance(control, ft.TextField) and isinstance(control.error, str):
                found.append(control.error)
        return found

    def shows(self, text: str) -> bool:
        return any(text in shown for shown in self.texts())

    def buttons(self, label: str) -> list[Any]:
        return [c for c in self.controls() if isinstance(c, BUTTONS) and c.content == label]

    def field(self, key: str) -> Any:
        [field] = [c for c in self.controls() if isinstance(c, ft.TextField) and c.key == key]
        return field

    def dialogs(self) -> list[Any]:
        return [d for d in self.session.page._dialogs.controls if getattr(d, "open", False)]

    def crashes(self) -> list[Any]:
        return [m for m in self.connection.messages if m.action == MessageAction.SESSION_CRASHED]

    # --- what the person does --------------------------------------------------------------------

    async def click(self, label: str) -> None:
        matches = [b for b in self.buttons(label) if not b.disabled]
        assert len(matches) == 1, (label, self.texts())
        await self._event(matches[0], "click")

    async def _event(self, control: Any, name: str) -> None:
        if control._i in self.session.index:
            await self.session.dispatch_event(control._i, name, None)
        else:  # in a dialog: what dispatch_event does once it has found the control
            await control._trigger_event(name, None)
        await self.settle()

    async def click_tooltip(self, tooltip: str) -> None:
        [button] = [
            c
            for c in self.controls()
            if isinstance(c, (ft.IconButton, *BUTTONS)) and c.tooltip == tooltip
        ]
        await self._event(button, "click")

    async def type(self, key: str, value: str) -> None:
        field = self.field(key)
        self.session.apply_patch(field._i, {"value": value})  # as the client does, then "change"
        await self.session.dispatch_event(field._i, "change", None)
        await self.settle()

    async def tick(self, key: str, value: bool = True) -> None:
        [box] = [c for c in self.controls() if isinstance(c, ft.Checkbox) and c.key == key]
        self.session.apply_patch(box._i, {"value": value})  # as the client does, then "change"
        await self.session.dispatch_event(box._i, "change", None)
        await self.settle()

    async def wait_for(self, check: Callable[[], bool], timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while not check():
            assert time.monotonic() < deadline, self.texts()
            await asyncio.sleep(0.05)
        await self.settle()


@pytest.fixture
def headless() -> type[HeadlessWizard]:
    return HeadlessWizard


@pytest.fixture
def fake_platform() -> type[FakePlatform]:
    """The fake device's class, to make one that plays the web, a phone or a failing save."""
    return FakePlatform
