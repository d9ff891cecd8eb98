"""Help and storage content: every help topic and storage kind has its texts in kk, ru and en,
nothing stray, short enough for a phone, plain text, and the Kazakh is Kazakh."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from wizard.i18n import LANGUAGES, catalogue
from wizard.ui.help_topics import (
    DEFAULT_PIN_KINDS,
    RENEWABLE_KINDS,
    STORAGE_CODES,
    STORAGE_KINDS,
    TOPICS,
)

LOCALES = Path(__file__).resolve().parents[2] / "wizard" / "locales"
KINDS = ("file", "id_card", "kaztoken", "etoken", "jacarta", "akey")
STORAGE_FIELDS = ("name", "what", "qoltanba")
STORAGE_EXTRA = ("storage.title", "storage.question", "storage.insecure_advice")
STORAGE_EXTRA += ("storage.default_pin_warning",)
HELP_EXTRA = ("help.title", "help.intro")
# Letters Kazakh has and Russian does not (Cyrillic і and һ, not the Latin look-alikes).
KAZAKH_LETTERS = frozenset("әғқңөұүһіӘҒҚҢӨҰҮҺІ")
SLUG = re.compile(r"^[a-z][a-z0-9]*(_[a-z0-9]+)*$")


def _file(lang: str, name: str) -> dict[str, str]:
    return json.loads((LOCALES / lang / name).read_text(encoding="utf-8"))


def _help_keys() -> set[str]:
    return set(HELP_EXTRA) | {f"help.{slug}.{part}" for slug in TOPICS for part in ("q", "a")}


def _storage_keys() -> set[str]:
    kinds = {f"storage.{kind}.{field}" for kind in KINDS for field in STORAGE_FIELDS}
    return kinds | set(STORAGE_EXTRA)


def _content(lang: str) -> dict[str, str]:
    return {**_file(lang, "help.json"), **_file(lang, "storage.json")}


def _has_kazakh(text: str) -> bool:
    return any(ch in KAZAKH_LETTERS for ch in text)


# ---------------------------------------------------------------------------------------------
# The lists


def test_topics_are_unique_snake_case_slugs():
    assert len(TOPICS) >= 7
    assert len(set(TOPICS)) == len(TOPICS)
    for slug in TOPICS:
        assert SLUG.match(slug), slug


def test_every_kazakh_faq_question_is_a_topic():
    # The seven questions of the official Kazakh FAQ (DOMAIN.md §3).
    faq = {
        "forgot_password",
        "what_is_eds",
        "how_to_get",
        "employee_left",
        "which_certificate",
        "not_signed_by_user",
        "storage_password",
    }
    assert faq <= set(TOPICS)


def test_storage_kinds_match_the_renewal_codes():
    assert STORAGE_KINDS == KINDS
    assert set(STORAGE_CODES) == set(KINDS)
    assert RENEWABLE_KINDS.issubset(KINDS) and DEFAULT_PIN_KINDS.issubset(KINDS)
    assert STORAGE_CODES["file"] == "pkcs12"
    process = pytest.importorskip("wizard.renewal.process")
    assert set(STORAGE_CODES.values()) == set(process.STORAGES)


# ---------------------------------------------------------------------------------------------
# The catalogues


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_topic_has_a_question_and_an_answer(lang):
    texts = _file(lang, "help.json")
    for slug in TOPICS:
        for part in ("q", "a"):
            assert texts.get(f"help.{slug}.{part}", "").strip(), (lang, slug, part)
    for key in HELP_EXTRA:
        assert texts.get(key, "").strip(), (lang, key)


@pytest.mark.parametrize("lang", LANGUAGES)
def test_no_stray_help_keys(lang):
    assert set(_file(lang, "help.json")) == _help_keys(), lang
    # Nor anywhere else in the language's catalogue.
    assert {key for key in catalogue(lang) if key.startswith("help.")} == _help_keys(), lang


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_storage_kind_has_its_texts(lang):
    texts = _file(lang, "storage.json")
    for key in _storage_keys():
        assert texts.get(key, "").strip(), (lang, key)
    assert set(texts) == _storage_keys(), lang
    assert {key for key in catalogue(lang) if key.startswith("storage.")} == _storage_keys()


@pytest.mark.parametrize("lang", LANGUAGES)
def test_texts_are_plain_and_phone_sized(lang):
    for key, text in _content(lang).items():
        assert not re.search(r"<[a-zA-Z/]|\*\*|__|`|\[[^\]]*\]\(|^#", text), (lang, key)
        assert "\r" not in text and "\n\n\n" not in text, (lang, key)
        assert "{" not in text and "}" not in text, (lang, key)  # no placeholders here
        if key.endswith((".q", ".name", ".what")) or key in ("help.title", "storage.title"):
            assert "\n" not in text, (lang, key)
        if key.endswith(".q"):
            assert len(text) <= 130, (lang, key, len(text))
        if key.endswith(".name"):
            assert len(text) <= 40, (lang, key, len(text))
        if key.endswith(".what"):
            assert len(text) <= 130, (lang, key, len(text))
        assert len(text) <= 800, (lang, key, len(text))
        for paragraph in text.split("\n\n"):
            assert paragraph.strip() == paragraph and paragraph, (lang, key)
            assert len(paragraph) <= 320, (lang, key, len(paragraph))


# ---------------------------------------------------------------------------------------------
# The languages are what they claim to be


def test_kazakh_text_is_kazakh():
    texts = _content("kk")
    brands = {f"storage.{kind}.name" for kind in ("kaztoken", "etoken", "jacarta", "akey")}
    rest = {key: text for key, text in texts.items() if key not in brands}
    without = sorted(key for key, text in rest.items() if not _has_kazakh(text))
    # Token brand names may carry none; nearly everything else must.
    assert len(without) <= len(rest) // 20, without
    for slug in TOPICS:
        for part in ("q", "a"):
            assert _has_kazakh(texts[f"help.{slug}.{part}"]), slug


def test_russian_text_has_no_kazakh_letters():
    for key, text in _content("ru").items():
        assert not _has_kazakh(text), key


def test_english_text_is_mostly_latin():
    for key, text in _content("en").items():
        letters = [ch for ch in text if ch.isalpha()]
        latin = [ch for ch in letters if ch.isascii()]
        assert len(latin) >= 0.8 * len(letters), key


def test_the_three_languages_differ():
    kk, ru, en = (_content(lang) for lang in ("kk", "ru", "en"))
    for key, text in en.items():
        if key.endswith(".name"):
            continue  # brand names (eToken, JaCarta, aKey) are the same everywhere
        assert kk[key] != text and ru[key] != text and kk[key] != ru[key], key


# ---------------------------------------------------------------------------------------------
# Facts the sources give, said in every language


@pytest.mark.parametrize("lang", LANGUAGES)
def test_default_pin_warning_names_the_defaults(lang):
    text = _file(lang, "storage.json")["storage.default_pin_warning"]
    assert "12345678" in text and "1234567890" in text


@pytest.mark.parametrize("lang", LANGUAGES)
def test_key_facts_are_stated(lang):
    texts = _content(lang)
    # en: one English name for a ЦОН, never the Cyrillic inside English text (issue #11)
    office = {"kk": "ХҚКО", "ru": "ЦОН", "en": "Public Service Centre (CON)"}[lang]
    assert "egov.kz" in texts["help.forgot_password.a"]
    assert "egov.kz" in texts["help.expired.a"] and office in texts["help.expired.a"]
    assert office in texts["storage.id_card.qoltanba"]
    for kind in DEFAULT_PIN_KINDS:
        assert "NCALayer" in texts[f"storage.{kind}.qoltanba"], kind
    assert "1" in texts["storage.file.what"] and "3" in texts["storage.id_card.what"]
    assert "GOST512_" in texts["help.which_certificate.a"]
