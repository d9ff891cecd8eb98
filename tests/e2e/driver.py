"""Drive the real wizard in Debian Chromium through Flutter's accessibility tree (Playwright,
no browser download). Names come from the catalogues, so one scenario runs in every language."""

from __future__ import annotations

import base64
import contextlib
import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from playwright.sync_api import TimeoutError as PlaywrightTimeout

from wizard.i18n import translate
from wizard.ui.app import SETTLE_SECONDS

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = Path(os.environ.get("QOLTANBA_TEST_ARTIFACTS", ROOT / "tests" / "e2e" / "artifacts"))
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-dev-shm-usage",
]
URL_LINE = re.compile(r"(http://127\.0\.0\.1:\d+/)")

DESKTOP = {"width": 1100, "height": 900}  # viewports: a laptop, and a phone
PHONE = {"width": 360, "height": 800}
# A kept screenshot with more of one colour than this is blank (FLET.md: a defect).
BLANK = 0.99
# Waiting, in milliseconds: how often a changing state is looked at again, and the longest each
# wait lasts (what a fixed wait of that length used to give).
POLL = 100
ENABLED_WITHIN = 10_000  # a button being enabled (the keys being checked)
SCROLL_SETTLES_WITHIN = 400  # the page after one turn of the wheel
SHOT_SETTLES_WITHIN = 600  # the frame catching up with the semantics tree
SHOT_NOT_BLANK_WITHIN = 2_800  # a blank canvas getting painted


def chromium_path() -> str | None:
    for candidate in (os.environ.get("QOLTANBA_CHROMIUM"), "/usr/bin/chromium", "chromium"):
        if candidate and (found := shutil.which(candidate)):
            return found
    return None


@dataclass
class WizardServer:
    """`qoltanba gui --web` in a subprocess with its own QOLTANBA_HOME."""

    home: Path
    port: int
    authority: str = "demo"
    lang: str | None = "en"
    process: subprocess.Popen | None = None
    url: str = ""
    output: list[str] = field(default_factory=list)

    def start(self, timeout: float = 60.0) -> WizardServer:
        env = {
            **os.environ,
            "QOLTANBA_HOME": str(self.home),
            "QOLTANBA_NO_BROWSER": "1",
            "PYTHONUNBUFFERED": "1",
        }
        env.pop("QOLTANBA_LANG", None)
        if self.lang:  # None: the device (the browser's locale) or what was chosen before says
            env["QOLTANBA_LANG"] = self.lang
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "wizard",
                "gui",
                "--web",
                "--port",
                str(self.port),
                "--authority",
                self.authority,
            ],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        deadline = time.monotonic() + timeout
        assert self.process.stdout is not None
        while time.monotonic() < deadline:
            line = self.process.stdout.readline()
            if not line:
                if self.process.poll() is not None:
                    raise RuntimeError("the wizard exited: " + "".join(self.output))
                continue
            self.output.append(line)
            if match := URL_LINE.search(line):
                self.url = match.group(1)
                break
        else:
            raise RuntimeError("the wizard printed no URL")
        _wait_http(self.url, deadline)
        return self

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)


def _wait_http(url: str, deadline: float) -> None:
    import urllib.request

    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as answer:  # noqa: S310 - our http URL
                if answer.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer")


class WizardPage:
    """One browser page on the wizard, in one language."""

    def __init__(self, page, lang: str, shots: Path) -> None:
        self.page = page
        self.lang = lang
        self.shots = shots
        self.blocked: list[str] = []
        self._shot_number = 0
        # what the person did (issue #11: a demo renewal in at most a dozen actions)
        self.actions = {"clicks": 0, "typed": 0, "ticks": 0}
        self.scrolls = 0  # counted apart: what a person must scroll to reach a button
        # and per step: the screen arrived at last (arrive()), "home" before the first
        self.step = "home"
        self.step_scrolls: dict[str, int] = {}

    @property
    def action_count(self) -> int:
        return sum(self.actions.values())

    def t(self, key: str, **params) -> str:
        return translate(key, self.lang, **params)

    def open(self, url: str) -> None:
        def route(route) -> None:
            if route.request.url.startswith(("http://127.0.0.1", "ws://127.0.0.1")):
                route.continue_()
            else:  # the page may reach nothing but this machine
                self.blocked.append(route.request.url)
                route.abort()

        self.page.route("**/*", route)
        self.page.goto(url)
        # never time.sleep() here: the route handler above runs only inside Playwright calls
        try:
            self.page.wait_for_selector("#loading", state="detached", timeout=30_000)
        except Exception:
            # seen once in CI: the first load stayed on the splash on a loaded machine; a person
            # would reload the page, and so do we, once
            self.page.reload()
            self.page.wait_for_selector("#loading", state="detached", timeout=60_000)
        placeholder = self.page.locator("flt-semantics-placeholder")
        placeholder.wait_for(state="attached", timeout=60_000)
        placeholder.dispatch_event("click")
        self.page.get_by_role("button").first.wait_for(timeout=30_000)

    def dump(self) -> str:
        """What the accessibility tree shows now (kept beside the screenshots on a failure)."""
        return self.page.evaluate(
            """() => Array.from(document.querySelectorAll('flt-semantics'))
                .map(e => (e.getAttribute('role') || '-') + ': '
                    + (e.getAttribute('aria-label') || e.innerText || '').slice(0, 100))
                .join('\\n')"""
        )

    def _waited(self, locator, what: str, timeout: float = 30_000):
        try:
            locator.wait_for(timeout=timeout)
        except Exception:
            path = self.shot("FAILED-" + re.sub(r"\W+", "-", what)[:40])
            path.with_suffix(".txt").write_text(self.dump(), encoding="utf-8")
            raise
        return locator

    def button(self, key: str, **params):
        return self.page.get_by_role("button", name=self.t(key, **params), exact=True)

    def click(self, key: str, timeout: float = 30_000, **params) -> None:
        button = self._waited(self.button(key, **params), key, timeout)
        self.scroll_to(button)
        for _ in range(ENABLED_WITHIN // POLL):  # a state change may still be on its way (the
            if not button.is_disabled():  # keys being checked)
                break
            self.page.wait_for_timeout(POLL)
        if button.is_disabled():
            self._waited(self.page.locator("nothing-here"), "disabled-" + key, 1)
        button.click()
        self.actions["clicks"] += 1

    def click_text(self, text: str) -> None:
        self.page.get_by_text(text, exact=True).first.click()
        self.actions["clicks"] += 1

    def fill(self, label_key: str, value: str) -> None:
        box = self.page.get_by_role("textbox", name=self.t(label_key), exact=True).first
        self._waited(box, label_key)
        self.scroll_to(box)  # as a person must, counted (a click alone would scroll unseen)
        for _attempt in range(4):
            self.page.evaluate("() => document.activeElement?.blur()")  # forget the last field
            box.click()
            # Flutter moves the focus into its own editing element; type into whatever has it,
            # once Flutter listens to it (text typed into a brand-new element can be lost)
            self.page.wait_for_function(
                "() => ['INPUT', 'TEXTAREA'].includes(document.activeElement?.tagName)",
                timeout=10_000,
            )
            self.page.wait_for_timeout(250)
            self.page.keyboard.press("Control+A")
            self.page.keyboard.press("Delete")
            self.page.keyboard.insert_text(value)
            self.page.wait_for_timeout(250)
            if self.page.evaluate("() => document.activeElement?.value") == value:
                self.actions["typed"] += 1
                return
        raise AssertionError(f"could not type into {label_key}")

    def check(self, label_key: str) -> None:
        """Tick a checkbox and see it ticked (a click during a re-render can be lost)."""
        box = self.page.get_by_role("checkbox", name=self.t(label_key), exact=True)
        self._waited(box, label_key)
        self.scroll_to(box)
        ticked = "(el) => el.getAttribute('aria-checked') === 'true'"
        for _attempt in range(3):
            box.click()
            with contextlib.suppress(PlaywrightTimeout):
                self.page.wait_for_function(ticked, arg=box.element_handle(), timeout=3_000)
                self.actions["ticks"] += 1
                return
        raise AssertionError(f"could not tick {label_key}")

    def radio(self, label: str) -> None:
        self.page.get_by_role("radio", name=label).click()
        self.actions["clicks"] += 1

    def scroll_to(self, locator) -> None:
        """Scroll with the mouse wheel, as a person does, until ``locator`` is on screen (a
        click by Playwright alone would scroll it there without a trace)."""
        size = self.page.viewport_size
        for _ in range(10):
            if self.in_view(locator):
                return
            box = locator.bounding_box()
            down = box is None or box["y"] > 0
            self.page.mouse.move(size["width"] / 2, size["height"] / 2)
            self.page.mouse.wheel(0, (1 if down else -1) * size["height"] * 0.7)
            self._settle_after_scroll(locator, box)
            self.scrolls += 1
            self.step_scrolls[self.step] = self.step_scrolls.get(self.step, 0) + 1

    def _settle_after_scroll(self, locator, before) -> None:
        """Until the control has moved from ``before`` and stays put from one look to the next
        (or SCROLL_SETTLES_WITHIN has passed: the page could not scroll further)."""
        step = POLL // 2
        last = before
        for _ in range(SCROLL_SETTLES_WITHIN // step):
            self.page.wait_for_timeout(step)
            box = locator.bounding_box()
            if box != before and box == last:
                return
            last = box

    def in_view(self, locator) -> bool:
        """The control is on screen now, without scrolling (its top inside the viewport)."""
        box = locator.bounding_box()
        height = self.page.viewport_size["height"]
        return box is not None and 0 <= box["y"] < height and box["y"] + box["height"] > 0

    def arrive(
        self, text_key: str, first_field: str | None = None, *, step: str | None = None, first=None
    ) -> None:
        """A step has opened: its words shown, at its top (its heading, or its first field, in
        view without scrolling: issue #11). ``step`` names it: the scrolls from now on are
        counted for it (``step_scrolls``); ``first``: a locator of its first control, when that
        is no text field."""
        if step is not None:
            self.step = step
            self.step_scrolls.setdefault(step, 0)
        self.expect_text(self.t(text_key))
        # its controls settled: disabled for wizard.ui.app.SETTLE_SECONDS after it opens, and
        # Flutter tells the page of them differently meanwhile (a checkbox's label is no text
        # of its own yet)
        self.page.wait_for_timeout(int(SETTLE_SECONDS * 1000) + 100)
        if first is not None:
            target = self._waited(first.first, f"first-{step or text_key}")
        elif first_field is not None:
            target = self.page.get_by_role("textbox", name=self.t(first_field), exact=True).first
        else:
            target = self.page.get_by_text(self.t(text_key), exact=False).first
        if not self.in_view(target):
            path = self.shot("NOT-AT-TOP-" + text_key)
            raise AssertionError(f"{text_key}: the step did not open at its top ({path.name})")

    def expect_text(self, text: str, timeout: float = 30_000):
        return self._waited(self.page.get_by_text(text, exact=False).first, text, timeout)

    def has_text(self, text: str) -> bool:
        return self.page.get_by_text(text, exact=False).count() > 0

    def find_text(self, pattern: str, timeout: float = 30_000) -> str:
        locator = self.page.get_by_text(re.compile(pattern)).first
        return self._waited(locator, pattern, timeout).inner_text()

    def shot(self, name: str) -> Path:
        self._shot_number += 1
        self.shots.mkdir(parents=True, exist_ok=True)
        path = self.shots / f"{self._shot_number:02d}-{name}.png"
        # The viewport only: a full-page capture resizes Flutter's canvas and catches it blank.
        # The frame lags the semantics tree: a picture is kept once two in a row, taken frames
        # apart, are the same (a late frame or an animation has ended) or SHOT_SETTLES_WITHIN
        # has passed; and only if it is not blank, which may take up to SHOT_NOT_BLANK_WITHIN.
        start = time.monotonic()
        previous = None
        while True:
            self.page.evaluate(
                "() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))"
            )
            self.page.wait_for_timeout(POLL)
            image = self.page.screenshot()
            waited = (time.monotonic() - start) * 1000
            settled = image == previous or waited >= SHOT_SETTLES_WITHIN
            previous = image
            if settled and self.plain_fraction(image) <= BLANK:
                path.write_bytes(image)
                return path
            if waited >= SHOT_NOT_BLANK_WITHIN:
                break
        path.write_bytes(image)
        raise AssertionError(f"the screenshot {path.name} stays blank (one colour)")

    def plain_fraction(self, png: bytes) -> float:
        """The share of the image's pixels that have its most common colour (decoded by the
        browser itself: no imaging library needed)."""
        return self.page.evaluate(
            """async (b64) => {
                const bytes = Uint8Array.from(atob(b64), c => c.charCodeAt(0));
                const bitmap = await createImageBitmap(new Blob([bytes], {type: "image/png"}));
                const canvas = new OffscreenCanvas(bitmap.width, bitmap.height);
                const context = canvas.getContext("2d");
                context.drawImage(bitmap, 0, 0);
                const data = context.getImageData(0, 0, bitmap.width, bitmap.height).data;
                const counts = new Map();
                let most = 0;
                for (let i = 0; i < data.length; i += 4) {
                    const key = (data[i] << 16) | (data[i + 1] << 8) | data[i + 2];
                    const n = (counts.get(key) || 0) + 1;
                    counts.set(key, n);
                    if (n > most) most = n;
                }
                return most / (data.length / 4);
            }""",
            base64.b64encode(png).decode("ascii"),
        )


# --- the steps of a renewal, shared by the scenarios ---------------------------------------------

NEW_PASSWORD = "Tulpar-Saryarqa-42"


def choose_language(w: WizardPage, lang: str) -> None:
    from wizard.i18n import LANGUAGE_NAMES

    w.page.get_by_role("button", name=LANGUAGE_NAMES[lang], exact=True).first.click()
    w.actions["clicks"] += 1
    w.lang = lang
    w.button("home.renew").wait_for(timeout=30_000)


def to_open_keys(w: WizardPage) -> None:
    w.click("home.renew")
    w.arrive("start.mode", step="start", first=w.page.get_by_text(w.t("start.mode_demo")))
    w.shot("start")
    w.click("nav.continue")
    w.arrive("storage.question", step="storage", first=w.page.get_by_text(w.t("storage.file.name")))
    w.shot("storage")
    w.click("nav.continue")
    w.arrive("open.explain", step="open", first=w.button("open.pick"))


def open_demo_keys(w: WizardPage, holder_button: str = "open.make_demo") -> None:
    """One press: the demo keys are made, opened with their password (shown, filled in) and
    their folder said."""
    w.click(holder_button)
    w.page.locator('[flt-semantics-identifier="open.demo_made"]').wait_for(timeout=60_000)
    w.expect_text(w.t("verdict.renewable"), timeout=60_000)
    w.shot("keys")


def fill_application(w: WizardPage, *, type_details: bool = True) -> None:
    """The application: e-mail and locality typed (or, for demo keys, kept as pre-filled), "the
    application is correct" ticked."""
    w.click("nav.continue")
    w.arrive("application.explain", "application.email", step="application")
    if type_details:
        w.fill("application.email", "aigerim@example.kz")
        w.fill("application.locality", "Astana")
    w.check("application.correct")
    w.shot("application")
    w.click("nav.continue")
    w.arrive("password.explain", "password.new", step="password")


def set_new_password(w: WizardPage, password: str = NEW_PASSWORD) -> None:
    w.fill("password.new", password)
    w.fill("password.repeat", password)
    w.check("password.understand")
    w.shot("password")
    w.click("password.go")


def demo_code(w: WizardPage) -> str:
    pattern = re.escape(w.t("code.demo_sms", code="@@")).replace("@@", r"(\d+)")
    text = w.find_text(pattern, timeout=60_000)
    match = re.search(pattern, text)
    assert match, text
    return match.group(1)


def application_number(w: WizardPage) -> str:
    return w.find_text(r"^\d{4}-\d{8}$")


def confirm_code(w: WizardPage, *, type_code: bool = False) -> None:
    """The one-time code: in demo mode it is shown and already filled in (``type_code`` types
    it anyway, as a person may)."""
    code = demo_code(w)
    w.arrive("code.explain", "code.field", step="code")
    w.shot("code")
    if type_code:
        w.fill("code.field", code)
    w.click("code.confirm")


def demo_renewal_to_code(w: WizardPage, *, type_details: bool = True) -> str:
    """A demo renewal from home to the one-time code (demo keys made at step 3); its
    application number."""
    to_open_keys(w)
    open_demo_keys(w)
    fill_application(w, type_details=type_details)
    set_new_password(w)
    return application_number(w)


def finish_resumed(w: WizardPage, number: str) -> None:
    """A resumed renewal, its keys open at step 3, carried to done: Continue, the new password
    that unlocks its saved new keys, its button, the code; the same application."""
    w.click("nav.continue")
    w.expect_text(w.t("password.resume_explain"))
    w.fill("password.new", NEW_PASSWORD)
    w.click("password.resume_go")
    confirm_code(w)
    w.expect_text(w.t("done.title"), timeout=60_000)
    assert w.has_text(w.t("done.application", application=number))


def open_files(w: WizardPage, paths: list[Path], password: str) -> None:
    """Pick key stores in the browser's file chooser, type their password, press Open."""
    for attempt in range(3):
        # a press the page did not take (a loaded machine: it came as the step settled) is
        # pressed again, as a person would; counted once (a failed try takes its count back)
        try:
            with w.page.expect_file_chooser(timeout=10_000) as chooser:
                w.click("open.pick")
            break
        except PlaywrightTimeout:
            w.actions["clicks"] -= 1
            if attempt == 2:
                raise
    chooser.value.set_files([str(p) for p in paths])
    w.fill("open.password", password)
    w.click("open.open")
