"""Translations: kk, ru and en catalogues as data (``wizard/locales/<lang>/*.json``).

Every catalogue file is a flat JSON object ``{"key": "text with {placeholders}"}``; the files of one
language are merged (a key defined twice is an error). All three languages must have the same keys
and the same placeholders per key (tests/test_i18n.py checks it).
"""

from __future__ import annotations

import json
import os
import string
from collections.abc import Mapping
from functools import cache
from pathlib import Path

LANGUAGES: tuple[str, ...] = ("kk", "ru", "en")
DEFAULT_LANGUAGE = "en"
LANGUAGE_NAMES: Mapping[str, str] = {"kk": "Қазақша", "ru": "Русский", "en": "English"}


@cache
def catalogue(lang: str) -> Mapping[str, str]:
    """All strings of one language, merged from its catalogue files."""
    if lang not in LANGUAGES:
        raise ValueError(f"unknown language {lang!r}")
    merged: dict[str, str] = {}
    folder = Path(__file__).with_name("locales") / lang
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if not entry.name.endswith(".json"):
            continue
        data = json.loads(entry.read_text(encoding="utf-8"))
        for key, text in data.items():
            if key in merged:
                raise ValueError(f"{lang}: key {key!r} defined twice ({entry.name})")
            merged[key] = text
    return merged


def placeholders(text: str) -> set[str]:
    """The named placeholders of one catalogue text."""
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def translate(key: str, lang: str = DEFAULT_LANGUAGE, /, **params: object) -> str:
    """The text for ``key`` in ``lang``, with ``params`` filled in; the key itself if unknown."""
    lang = lang if lang in LANGUAGES else DEFAULT_LANGUAGE
    text = catalogue(lang).get(key) or catalogue(DEFAULT_LANGUAGE).get(key)
    if text is None:
        return key
    try:
        return text.format(**params)
    except (KeyError, IndexError, ValueError):
        return text


# When neither the person, the device nor the environment says which language: Kazakh, the state
# language of Kazakhstan (Constitution, art. 7), which every public service, the NCA's included,
# must offer; Russian is one tap away in the header of every screen.
FALLBACK_LANGUAGE = "kk"


def language_of(tags: object) -> str | None:
    """The first of ``tags`` (locale names such as "ru_RU.UTF-8", "kk-KZ", "en") that is one of
    ours, or None ("C", "POSIX" and unknown languages say nothing)."""
    for tag in tags if isinstance(tags, (list, tuple)) else [tags]:
        for part in str(tag or "").strip().lower().split(":"):
            code = part.replace("-", "_").split("_")[0].split(".")[0]
            if code in LANGUAGES:
                return code
    return None


def environment_language(environ: Mapping[str, str] | None = None) -> str | None:
    """The language the POSIX locale variables name (LC_ALL, LC_MESSAGES, LANG, LANGUAGE)."""
    env = os.environ if environ is None else environ
    for var in ("LC_ALL", "LC_MESSAGES", "LANG", "LANGUAGE"):
        if found := language_of(env.get(var)):
            return found
    return None


def detect_language(environ: Mapping[str, str] | None = None) -> str:
    """The language from QOLTANBA_LANG, then the POSIX locale variables; English otherwise."""
    env = os.environ if environ is None else environ
    for var in ("QOLTANBA_LANG", "LC_ALL", "LC_MESSAGES", "LANG", "LANGUAGE"):
        value = (env.get(var) or "").strip().lower()
        for part in value.split(":"):
            code = part[:2]
            if code in LANGUAGES:
                return code
    return DEFAULT_LANGUAGE
