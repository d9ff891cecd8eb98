"""`qoltanba` with no display serves the wizard on 127.0.0.1, prints the URL and says why."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import urllib.request
from pathlib import Path

from wizard.i18n import translate

ROOT = Path(__file__).resolve().parents[2]


def test_no_display_means_the_local_web_ui_with_its_address(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    env.update(QOLTANBA_HOME=str(tmp_path), QOLTANBA_LANG="ru", PYTHONUNBUFFERED="1")
    process = subprocess.Popen(
        [sys.executable, "-m", "wizard"],  # no command at all: the wizard
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        line = process.stdout.readline()
        assert translate("gui.no_display", "ru") in line
        url = re.search(r"http://127\.0\.0\.1:(\d+)/", line)
        assert url, line
        # the address is said only once the server takes connections: opened at once, it answers
        with urllib.request.urlopen(url.group(0), timeout=10) as answer:  # noqa: S310
            page = answer.read().decode()
        assert "flet.noCdn=true" in page  # offline: the renderer and fonts come from here
    finally:
        process.terminate()
        process.wait(10)
