"""httpx without its command-line tool.

httpx imports its own CLI (rich, click, pygments) whenever those happen to be installed; Qoltanba
never uses it, and every import counts on a phone and in the command line. Import httpx from here.
"""

import sys

sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]

import httpx  # noqa: E402

__all__ = ["httpx"]
