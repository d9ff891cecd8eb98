"""The last resort: an exception nobody expected becomes one translated line and a report file.

The report holds what a developer needs (Qoltanba's version, the platform, the traceback's frames
and the exception's type and message) and nothing secret: no locals, no environment, no command
line, and every password this process was given is blotted out of the text before it is written.
Tests assert that this handler never fires in the hostile, crash and concurrency suites.
"""

from __future__ import annotations

import os
import platform
import sys
import tempfile
import traceback
from datetime import UTC, datetime
from pathlib import Path

from wizard import __version__
from wizard.errors import InternalError

_SECRETS: set[str] = set()
# Set by tests to see that the handler never fired; each report's path is added.
FIRED: list[Path] = []


def remember_secret(value: str) -> str:
    """Note a password this process holds, so that no report ever shows it; returns it."""
    if value and len(value) >= 3:
        _SECRETS.add(value)
    return value


def _scrub(text: str) -> str:
    for secret in sorted(_SECRETS, key=len, reverse=True):
        text = text.replace(secret, "***")
    return text


def _folders(home: Path | None) -> list[Path]:
    tag = str(os.getuid()) if hasattr(os, "getuid") else "user"
    places = [home / "reports"] if home is not None else []
    return [*places, Path(tempfile.gettempdir()) / f"qoltanba-reports-{tag}"]


def write_report(error: BaseException, home: Path | None) -> Path | None:
    """Write the report (mode 0600, in HOME/reports or the temporary folder); its path, or None
    when nowhere could take it."""
    from wizard.keys.files import write_new_file

    frames = "".join(traceback.format_exception(type(error), error, error.__traceback__))
    text = _scrub(
        f"Qoltanba {__version__} internal error report\n"
        f"time: {datetime.now(UTC).isoformat()}\n"
        f"python: {sys.version.split()[0]} on {platform.platform()}\n\n{frames}"
    )
    name = f"report-{datetime.now(UTC).strftime('%Y%m%dT%H%M%S%fZ')}.txt"
    data = text.encode("utf-8", "backslashreplace")
    for folder in _folders(home):
        try:
            folder.mkdir(mode=0o700, parents=True, exist_ok=True)
            path = write_new_file(folder, name, data)
        except Exception:  # noqa: S112 - a report that cannot be written must not raise
            continue
        FIRED.append(path)
        return path
    return None


def internal_error(error: BaseException, home: Path | None) -> InternalError:
    """The one-line InternalError for an unexpected exception, after its report was written."""
    report = write_report(error, home)
    if report is None:
        return InternalError("internal")
    return InternalError("internal_report", report=str(report))
