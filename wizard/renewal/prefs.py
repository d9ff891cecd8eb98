"""What the person chose once and the wizard remembers across restarts: the language. A small
JSON file under the Qoltanba home (``prefs.json``), mode 0600, written atomically; it holds no
secret. An unreadable or foreign file is ignored (the wizard then asks the device)."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path

from wizard.errors import QoltanbaError
from wizard.i18n import LANGUAGES
from wizard.keys.files import replace_file

PREFS_FILE = "prefs.json"


def load_prefs(home: Path) -> dict[str, str]:
    try:
        data = json.loads((home / PREFS_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict):
        return {}
    return {k: v for k, v in data.items() if isinstance(k, str) and isinstance(v, str)}


def saved_language(home: Path) -> str | None:
    lang = load_prefs(home).get("language")
    return lang if lang in LANGUAGES else None


def save_language(home: Path, lang: str) -> bool:
    """Remember ``lang``; False when it could not be written (the choice still holds now)."""
    if lang not in LANGUAGES:
        return False
    prefs = {**load_prefs(home), "language": lang}
    data = json.dumps(prefs, ensure_ascii=False, sort_keys=True).encode("utf-8")
    with contextlib.suppress(QoltanbaError, OSError):
        replace_file(home, PREFS_FILE, data)
        return True
    return False
