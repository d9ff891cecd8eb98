"""Translations (wizard.i18n): kk, ru and en catalogues agree key for key and placeholder for
placeholder, and every code the source raises or returns has its text."""

from __future__ import annotations

import ast
import json
import string
from functools import cache
from pathlib import Path

import pytest

from wizard.i18n import (
    DEFAULT_LANGUAGE,
    LANGUAGES,
    catalogue,
    detect_language,
    placeholders,
    translate,
)
from wizard.keys.oids import Holder

PACKAGE = Path(__file__).resolve().parents[1] / "wizard"
LOCALES = PACKAGE / "locales"


def _fields(text: str) -> set[str]:
    """Named replacement fields, read with the standard library alone."""
    return {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}


@cache
def _sources() -> tuple[tuple[Path, ast.Module], ...]:
    return tuple(
        (path, ast.parse(path.read_text(encoding="utf-8"), filename=str(path)))
        for path in sorted(PACKAGE.rglob("*.py"))
    )


def _base_name(node: ast.expr) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return None


@cache
def _error_classes() -> dict[str, list[str]]:
    """Every QoltanbaError subclass defined in wizard/, with the default codes it declares."""
    bases: dict[str, set[str]] = {}
    defaults: dict[str, list[str]] = {}
    for _, tree in _sources():
        for node in ast.walk(tree):
            if not isinstance(node, ast.ClassDef):
                continue
            bases[node.name] = {b for b in map(_base_name, node.bases) if b}
            for item in node.body:
                targets = []
                if isinstance(item, ast.Assign):
                    targets = [_base_name(t) for t in item.targets]
                elif isinstance(item, ast.AnnAssign):
                    targets = [_base_name(item.target)]
                value = getattr(item, "value", None)
                if "default_code" in targets and isinstance(value, ast.Constant):
                    defaults.setdefault(node.name, []).append(value.value)
    family = {"QoltanbaError"}
    changed = True
    while changed:
        changed = False
        for name, parents in bases.items():
            if name not in family and parents & family:
                family.add(name)
                changed = True
    return {name: defaults.get(name, []) for name in family}


def _constant_strings(node: ast.expr) -> list[str]:
    """The string constants an argument can be: "a", or "a" if x else "b"."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    if isinstance(node, ast.IfExp):
        return _constant_strings(node.body) + _constant_strings(node.orelse)
    return []


@cache
def _raised_codes() -> dict[str, list[tuple[str, set[str] | None]]]:
    """code -> [(where, keyword names passed or None when **params hide them)] over wizard/."""
    classes = _error_classes()
    found: dict[str, list[tuple[str, set[str] | None]]] = {}
    for path, tree in _sources():
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Call) and _base_name(node.func) in classes):
                continue
            if not node.args:
                continue
            keywords: set[str] | None = {k.arg for k in node.keywords if k.arg}
            if any(k.arg is None for k in node.keywords):
                keywords = None
            where = f"{path.relative_to(PACKAGE.parent)}:{node.lineno}"
            for code in _constant_strings(node.args[0]):
                found.setdefault(code, []).append((where, keywords))
    return found


def _all_codes() -> list[str]:
    codes = set(_raised_codes())
    for defaults in _error_classes().values():
        codes.update(defaults)
    return sorted(codes)


def _verdict_reasons() -> set[str]:
    tree = ast.parse((PACKAGE / "keys" / "verdict.py").read_text(encoding="utf-8"))
    reasons = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and _base_name(node.func) == "Verdict":
            args = list(node.args[1:2]) + [k.value for k in node.keywords if k.arg == "reason"]
            for arg in args:
                reasons.update(_constant_strings(arg))
    return reasons


# ---------------------------------------------------------------------------------------------
# The catalogues agree


def _files(lang: str) -> dict[str, dict[str, str]]:
    return {
        path.name: json.loads(path.read_text(encoding="utf-8"))
        for path in sorted((LOCALES / lang).glob("*.json"))
    }


def test_every_language_has_the_same_catalogue_files():
    names = {lang: set(_files(lang)) for lang in LANGUAGES}
    assert names["en"], "no catalogue files"
    for lang in LANGUAGES:
        assert names[lang] == names["en"], lang


@pytest.mark.parametrize("lang", [lang for lang in LANGUAGES if lang != "en"])
def test_same_keys_file_by_file(lang):
    english = _files("en")
    for name, texts in _files(lang).items():
        assert set(texts) == set(english[name]), (lang, name)


def test_identical_key_sets():
    keys = {lang: set(catalogue(lang)) for lang in LANGUAGES}
    for lang in LANGUAGES:
        missing = keys["en"] - keys[lang]
        extra = keys[lang] - keys["en"]
        assert not missing and not extra, (lang, sorted(missing), sorted(extra))


def test_identical_placeholders_per_key():
    english = catalogue("en")
    for lang in LANGUAGES:
        texts = catalogue(lang)
        for key in english:
            assert _fields(texts[key]) == _fields(english[key]), (lang, key)


def test_no_empty_or_untrimmed_texts():
    for lang in LANGUAGES:
        for key, text in catalogue(lang).items():
            assert isinstance(text, str) and text.strip(), (lang, key)
            assert text == text.strip() or text.endswith(": "), (lang, key, text)


def test_every_text_formats_with_its_placeholders():
    for lang in LANGUAGES:
        for key, text in catalogue(lang).items():
            names = _fields(text)
            assert all(name.isidentifier() for name in names), (lang, key, names)
            filled = text.format(**{name: "X" for name in names})
            assert "{" not in filled and "}" not in filled, (lang, key)


def test_translations_are_translated():
    # Most texts must differ between the languages (a few, like "IIN"-style labels, may not).
    english = catalogue("en")
    for lang in ("kk", "ru"):
        texts = catalogue(lang)
        same = [key for key in english if texts[key] == english[key]]
        assert len(same) <= len(english) // 10, (lang, same)
    assert catalogue("kk")["error.wrong_password"] != catalogue("ru")["error.wrong_password"]


def test_error_messages_are_one_line():
    for lang in LANGUAGES:
        for key, text in catalogue(lang).items():
            if key.startswith("error."):
                assert "\n" not in text and "\r" not in text, (lang, key)


def test_wrong_password_is_said_only_by_the_wrong_password_errors():
    # errors.py: only WrongPassword ever says "wrong password".
    for key, text in catalogue("en").items():
        if key.startswith("error.") and not key.startswith("error.wrong_password"):
            assert "wrong password" not in text.lower(), (key, text)


# ---------------------------------------------------------------------------------------------
# Every code the source uses has its text


def test_the_source_scan_finds_the_known_codes():
    # Guards the scan itself: codes that certainly exist must be found.
    codes = set(_all_codes())
    assert {"internal", "usage", "wrong_password", "store_corrupt", "store_missing"} <= codes
    assert {"store_no_key", "store_many_keys", "password_env_missing"} <= codes
    assert {"UsageError", "WrongPassword", "StoreError"} <= set(_error_classes())
    assert {"expired", "revoked", "wrong_kind", "not_yet_valid"} <= _verdict_reasons()


@pytest.mark.parametrize("code", _all_codes())
def test_every_error_code_has_a_message(code):
    for lang in LANGUAGES:
        assert f"error.{code}" in catalogue(lang), (lang, code, _raised_codes().get(code))


@pytest.mark.parametrize("code", sorted(_raised_codes()))
def test_every_raise_passes_the_placeholders_its_message_needs(code):
    needed = _fields(catalogue("en").get(f"error.{code}", ""))
    for where, keywords in _raised_codes()[code]:
        if keywords is not None:
            assert needed <= keywords, (where, code, needed - keywords)


def test_every_verdict_reason_has_a_message():
    for reason in sorted(_verdict_reasons() | {"renewable"}):
        for lang in LANGUAGES:
            assert f"verdict.{reason}" in catalogue(lang), (lang, reason)


def test_every_holder_and_usage_has_a_name():
    for lang in LANGUAGES:
        texts = catalogue(lang)
        for holder in Holder:
            assert f"holder.{holder.value}" in texts, (lang, holder)
        for usage in ("auth", "sign"):
            assert f"usage.{usage}" in texts, (lang, usage)


def test_every_literal_key_the_source_translates_exists():
    used = set()
    for path, tree in _sources():
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id in ("translate", "t")
                and node.args
            ):
                for key in _constant_strings(node.args[0]):
                    used.add((key, str(path.relative_to(PACKAGE.parent))))
    assert used
    for key, where in sorted(used):
        for lang in LANGUAGES:
            assert key in catalogue(lang), (lang, key, where)


# ---------------------------------------------------------------------------------------------
# translate() and placeholders()


def test_translate_fills_placeholders_and_falls_back():
    text = translate("error.store_missing", "en", path="/tmp/x.p12")
    assert "/tmp/x.p12" in text and "{" not in text
    assert translate("error.store_missing", "ru", path="/tmp/x.p12") != text
    # Unknown language: English. Unknown key: the key itself. Missing parameter: no crash.
    assert translate("error.store_missing", "de", path="/p") == translate(
        "error.store_missing", "en", path="/p"
    )
    assert translate("no.such.key", "kk") == "no.such.key"
    assert translate("error.store_missing", "en") == catalogue("en")["error.store_missing"]


def test_placeholders_reads_named_fields():
    assert placeholders("{a} and {b:>3} but not {{c}}") == {"a", "b"}
    assert placeholders("no fields") == set()


def test_unknown_catalogue_language_is_refused():
    with pytest.raises(ValueError):
        catalogue("de")


# ---------------------------------------------------------------------------------------------
# detect_language


@pytest.mark.parametrize(
    "environ, expected",
    [
        ({}, DEFAULT_LANGUAGE),
        ({"LANG": "C"}, "en"),
        ({"LANG": "C.UTF-8"}, "en"),
        ({"LANG": "POSIX"}, "en"),
        ({"LANG": "de_DE.UTF-8"}, "en"),
        ({"LANG": "ru_RU.UTF-8"}, "ru"),
        ({"LANG": "kk_KZ.UTF-8"}, "kk"),
        ({"LANG": "en_US.UTF-8"}, "en"),
        ({"LANG": "RU_ru"}, "ru"),
        ({"LC_ALL": "kk_KZ.UTF-8", "LANG": "ru_RU.UTF-8"}, "kk"),
        ({"LC_MESSAGES": "ru_RU.UTF-8", "LANG": "en_US.UTF-8"}, "ru"),
        ({"LANGUAGE": "de:ru:en"}, "ru"),
        ({"QOLTANBA_LANG": "kk", "LC_ALL": "ru_RU.UTF-8"}, "kk"),
        ({"QOLTANBA_LANG": "ru", "LANG": "kk_KZ.UTF-8"}, "ru"),
        ({"QOLTANBA_LANG": "xx", "LANG": "ru_RU.UTF-8"}, "ru"),
        ({"QOLTANBA_LANG": " ", "LANG": "kk_KZ"}, "kk"),
        ({"QOLTANBA_LANG": "KK"}, "kk"),
    ],
)
def test_detect_language(environ, expected):
    assert detect_language(environ) == expected


def test_detect_language_reads_the_process_environment(monkeypatch):
    for var in ("LC_ALL", "LC_MESSAGES", "LANG", "LANGUAGE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("QOLTANBA_LANG", "ru")
    assert detect_language() == "ru"
    monkeypatch.delenv("QOLTANBA_LANG")
    assert detect_language() == DEFAULT_LANGUAGE
