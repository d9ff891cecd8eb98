"""The password policy for a NEW key store, as data: NCA rules, refusals, strength and advice.

The NCA rule for the password of the new store (DOMAIN.md §2): **Latin lower-case and upper-case
letters and digits, at least 6 characters**; it cannot be recovered. On top of that rule Qoltanba
refuses passwords anyone can guess (a token's factory PIN, one of the most common passwords, the
holder's IIN/BIN or name) and rates the rest: a weak password that keeps the rules is ACCEPTED,
with a strength of 0..4 and advice.

Everything here is pure: no I/O except reading the shipped common-password list once, no logging,
no caching of passwords. A verdict holds codes and booleans only, never the password or a piece of
it, so it may be logged, shown or kept. The catalogue keys are ``password.rule.<code>``,
``password.problem.<code>``, ``password.advice.<code>``, ``password.strength.<0..4>``
(``wizard/locales/<lang>/passwords.json``); :func:`render_verdict` turns a verdict into text.

Strength comes from ``zxcvbn`` (imported lazily, on the first estimate) when it is installed, and
from a small built-in estimate otherwise.
"""

from __future__ import annotations

import itertools
import math
import re
import string
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from wizard.errors import PasswordRejected
from wizard.i18n import translate

MIN_LENGTH = 6
"""The NCA minimum length."""

# Symbols. The NCA text only names what a password must contain (Latin upper- and lower-case
# letters, digits, 6+ characters); it does not forbid anything else. Qoltanba allows the printable
# ASCII punctuation (string.punctuation: ! " # $ % & ' ( ) * + , - . / : ; < = > ? @ [ \ ] ^ _ `
# { | } ~) because every Latin keyboard layout, desktop or phone, can type it, it is encoded the
# same way in every code page and in the PKCS#12 BMPString the password becomes, and it makes a
# password stronger. Everything else is refused ("not_allowed_character"): spaces and control
# characters (invisible, trimmed by some input fields), and non-ASCII symbols or digits such as
# "№" (Shift+3 on a Russian layout), "€" or full-width digits (they depend on the keyboard layout
# and the Unicode normal form, and may be impossible to type where the key is used next).
# Non-ASCII letters get their own code ("non_latin_letter"). Unverified: whether every NCALayer
# version accepts ASCII symbols in a store password.
ALLOWED_SYMBOLS = frozenset(string.punctuation)

# Factory PINs of the tokens NCA keys live on. Kaztoken 12345678, eToken PRO 72K and JaCarta
# 1234567890 are from the NCA's own guide (DOMAIN.md §2); the others are vendor defaults as
# published by Russian resellers, not checked on a device: Rutoken user 12345678 / admin 87654321,
# eToken admin 0987654321, JaCarta PKI user 11111111 / admin 00000000.
TOKEN_DEFAULT_PINS = frozenset(
    {"12345678", "1234567890", "87654321", "0987654321", "11111111", "00000000"}
)

# The NCA rules in the order the UI shows them.
RULE_CODES: tuple[str, ...] = ("min_length", "has_upper", "has_lower", "has_digit", "latin_only")

# Problems: any of them makes the password unacceptable. Order = display order.
PROBLEM_CODES: tuple[str, ...] = (
    "too_short",
    "no_upper",
    "no_lower",
    "no_digit",
    "non_latin_letter",
    "not_allowed_character",
    "token_default_pin",
    "common_password",
    "contains_identity",
)

# Advice for weak passwords (strength < 3). Order = display order.
ADVICE_CODES: tuple[str, ...] = (
    "use_longer",
    "add_symbol",
    "avoid_common_words",
    "avoid_personal_info",
    "avoid_dates",
    "avoid_sequences",
    "avoid_keyboard_patterns",
    "avoid_repeats",
    "avoid_predictable_pattern",
)

STRENGTH_LEVELS: tuple[int, ...] = (0, 1, 2, 3, 4)
WEAK_BELOW = 3
"""Strength below this is "weak": advice is given."""
LONG_ENOUGH = 12
"""Below this length "use_longer" is advised."""

_ZXCVBN_MAX = 72  # zxcvbn refuses longer input; a prefix this long is a fair lower bound
_MIN_FRAGMENT = 3  # identity pieces shorter than this are ignored ("Ли", "Ан")
_MIN_PARTIAL = 4  # a name prefix this long is "personal info" (advice, not refusal)


@dataclass(frozen=True)
class RuleCheck:
    """One NCA rule and whether the password meets it (``code`` is one of RULE_CODES)."""

    code: str
    met: bool


@dataclass(frozen=True)
class PasswordVerdict:
    """What the policy says about one password. Never holds the password or any part of it."""

    acceptable: bool
    problems: tuple[str, ...]
    rules: tuple[RuleCheck, ...]
    strength: int
    advice: tuple[str, ...]
    empty: bool = False  # nothing typed yet: no verdict to show

    @property
    def weak(self) -> bool:
        return self.strength < WEAK_BELOW

    @property
    def common(self) -> bool:
        """One of the passwords anybody tries first (a common one, a token's factory PIN)."""
        return "common_password" in self.problems or "token_default_pin" in self.problems

    @property
    def level(self) -> str:
        """The one verdict a screen shows: "empty" (nothing to say yet), "refused" (a rule or a
        refusal says no: never shown as strong), "weak" (allowed, but weak) or "good"."""
        if self.empty:
            return "empty"
        if not self.acceptable:
            return "refused"
        return "weak" if self.weak else "good"


@dataclass(frozen=True)
class RenderedRule:
    code: str
    met: bool
    text: str


@dataclass(frozen=True)
class RenderedVerdict:
    """A verdict's messages in one language."""

    summary: str
    strength: str
    rules: tuple[RenderedRule, ...]
    problems: tuple[str, ...]
    advice: tuple[str, ...]
    level: str = ""  # PasswordVerdict.level
    # Qoltanba's own rule, its own line beside the NCA's: not a password anybody tries first
    extra_rules: tuple[RenderedRule, ...] = ()


# --------------------------------------------------------------------------- characters


def _is_upper(ch: str) -> bool:
    return "A" <= ch <= "Z"


def _is_lower(ch: str) -> bool:
    return "a" <= ch <= "z"


def _is_digit(ch: str) -> bool:
    return "0" <= ch <= "9"


def _is_allowed(ch: str) -> bool:
    return _is_upper(ch) or _is_lower(ch) or _is_digit(ch) or ch in ALLOWED_SYMBOLS


def _is_foreign_letter(ch: str) -> bool:
    """A letter outside A-Z/a-z: Cyrillic (Kazakh Ә Ғ Қ Ң Ө Ұ Ү Һ І included), accented, ..."""
    return not ch.isascii() and ch.isalpha()


def check_rules(password: str) -> tuple[RuleCheck, ...]:
    """The NCA rules met or not, cheap enough to run on every keystroke."""
    latin_only = bool(password) and all(_is_allowed(ch) for ch in password)
    return (
        RuleCheck("min_length", len(password) >= MIN_LENGTH),
        RuleCheck("has_upper", any(_is_upper(ch) for ch in password)),
        RuleCheck("has_lower", any(_is_lower(ch) for ch in password)),
        RuleCheck("has_digit", any(_is_digit(ch) for ch in password)),
        RuleCheck("latin_only", latin_only),
    )


# --------------------------------------------------------------------------- common passwords


@cache
def common_passwords() -> frozenset[str]:
    """The shipped list of common passwords (lower-case), comment lines skipped."""
    text = (
        resources.files("wizard.keys")
        .joinpath("data", "common_passwords.txt")
        .read_text(encoding="utf-8")
    )
    return frozenset(
        line.strip().lower()
        for line in text.splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    )


# --------------------------------------------------------------------------- identity

# Cyrillic -> Latin, with the spellings people actually use: passport (ICAO), the 2021 Kazakh
# Latin alphabet written in ASCII, and informal ones (j for ж, q for қ, ...).
_TRANSLIT: dict[str, tuple[str, ...]] = {
    "а": ("a",), "б": ("b",), "в": ("v", "w"), "г": ("g",), "д": ("d",), "е": ("e", "ye"),
    "ё": ("e", "yo"), "ж": ("zh", "j"), "з": ("z",), "и": ("i", "y"), "й": ("i", "y", "j"),
    "к": ("k",), "л": ("l",), "м": ("m",), "н": ("n",), "о": ("o",), "п": ("p",), "р": ("r",),
    "с": ("s",), "т": ("t",), "у": ("u",), "ф": ("f",), "х": ("kh", "h", "x"),
    "ц": ("ts", "c"), "ч": ("ch",), "ш": ("sh",), "щ": ("shch", "sch", "sh"), "ъ": ("",),
    "ы": ("y", "i"), "ь": ("",), "э": ("e",), "ю": ("yu", "iu", "ju"), "я": ("ya", "ia", "ja"),
    # Kazakh letters
    "ә": ("a", "ae"), "ғ": ("g", "gh"), "қ": ("k", "q"), "ң": ("n", "ng"), "ө": ("o", "oe"),
    "ұ": ("u",), "ү": ("u", "ue"), "һ": ("h",), "і": ("i",),
}  # fmt: skip
_MAX_VARIANTS = 256

# Digits and symbols people put for letters; two readings of "1".
_LEET = (
    str.maketrans({"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "@": "a", "$": "s"}),
    str.maketrans({"0": "o", "1": "l", "3": "e", "4": "a", "5": "s", "7": "t", "@": "a", "$": "s"}),
)


def _transliterations(word: str) -> set[str]:
    """Latin spellings of a (lower-case) word; the word itself if it has no Cyrillic."""
    options = [_TRANSLIT.get(ch, (ch,)) for ch in word]
    count = math.prod(len(o) for o in options)
    if count <= _MAX_VARIANTS:
        return {"".join(combo) for combo in itertools.product(*options)}
    # Too many combinations: one spelling per "column" of options.
    width = max(len(o) for o in options)
    return {"".join(o[min(i, len(o) - 1)] for o in options) for i in range(width)}


@dataclass(frozen=True)
class _Identity:
    numbers: tuple[str, ...]  # IIN/BIN digits
    names: tuple[str, ...]  # names and their spellings, lower-case, >= 3 characters
    partial: tuple[str, ...]  # name prefixes and IIN birth dates: advice only


def _identity(identity: Iterable[str]) -> _Identity:
    numbers: set[str] = set()
    names: set[str] = set()
    partial: set[str] = set()
    for item in identity:
        if not item:
            continue
        text = str(item).strip().lower()
        digits = "".join(ch for ch in text if _is_digit(ch))
        if len(digits) >= _MIN_FRAGMENT and len(digits) * 2 >= len(text.replace(" ", "")):
            # "123456789012" or "IIN123456789012": an identification number
            numbers.add(digits)
            if len(digits) == 12:  # IIN: YYMMDD... (BIN: YYMM... registration date)
                partial.add(digits[:6])
            continue
        for word in re.split(r"[^\w]+|[\d_]+", text):
            if len(word) < _MIN_FRAGMENT:
                continue
            for spelling in {word} | _transliterations(word):
                if len(spelling) >= _MIN_FRAGMENT:
                    names.add(spelling)
                if len(spelling) > _MIN_PARTIAL:
                    partial.add(spelling[:_MIN_PARTIAL])
    return _Identity(tuple(sorted(numbers)), tuple(sorted(names)), tuple(sorted(partial)))


def _readings(password: str) -> set[str]:
    """The lower-cased password and its de-leeted readings."""
    lower = password.lower()
    return {lower} | {lower.translate(table) for table in _LEET}


def _contains_identity(password: str, ident: _Identity) -> bool:
    if any(number in password for number in ident.numbers):
        return True
    readings = _readings(password)
    return any(name in reading for name in ident.names for reading in readings)


# --------------------------------------------------------------------------- patterns (advice)

_Span = tuple[int, int]

_KEYBOARD_LINES = (
    "1234567890-=",
    "qwertyuiop[]",
    "asdfghjkl;'",
    "zxcvbnm,./",
    "1qaz",
    "2wsx",
    "3edc",
    "4rfv",
    "5tgb",
    "6yhn",
    "7ujm",
    "8ik,",
    "9ol.",
    "0p;/",
    "qazwsx",
    "zaq1xsw2",
)
_KEYBOARD_RUN = 4
_SEQUENCE_RUN = 3
_YEAR = re.compile(r"(?<!\d)(?:19[4-9]\d|20[0-4]\d)(?!\d)")
_DATE = re.compile(
    r"(?<!\d)(?:0[1-9]|[12]\d|3[01])[./-]?(?:0[1-9]|1[0-2])[./-]?(?:\d{4}|\d{2})(?!\d)"
)
_REPEAT = re.compile(r"(.)\1\1+|(.{2,}?)\2+")
_PREDICTABLE = re.compile(r"[A-Z][a-z]+[0-9]+[^A-Za-z0-9]*")


def _occurrences(text: str, piece: str) -> list[_Span]:
    spans = []
    start = text.find(piece)
    while start >= 0:
        spans.append((start, start + len(piece)))
        start = text.find(piece, start + 1)
    return spans


def _sequences(lower: str) -> list[_Span]:
    """Runs like abc, 1234, zyx, 987 (3+ characters of one class, step +1 or -1)."""
    spans: list[_Span] = []
    start, step = 0, 0
    for i in range(1, len(lower) + 1):
        diff = ord(lower[i]) - ord(lower[i - 1]) if i < len(lower) else 0
        prev = lower[i - 1]
        cur = lower[i] if i < len(lower) else ""
        same_class = cur.isascii() and prev.isascii() and cur.isalnum() and prev.isalnum()
        same_class = same_class and cur.isdigit() == prev.isdigit()
        if same_class and diff in (1, -1) and (step in (0, diff)):
            step = diff
            continue
        if i - start >= _SEQUENCE_RUN:
            spans.append((start, i))
        if same_class and diff in (1, -1):  # direction changed: the run restarts at i - 1
            start, step = i - 1, diff
        else:
            start, step = i, 0
    return spans


def _keyboard_runs(lower: str) -> list[_Span]:
    spans: list[_Span] = []
    for line in _KEYBOARD_LINES:
        for row in (line, line[::-1]):
            for start in range(len(row) - _KEYBOARD_RUN + 1):
                spans += _occurrences(lower, row[start : start + _KEYBOARD_RUN])
    return spans


def _common_words(password: str) -> list[_Span]:
    """Letter runs (also read de-leeted) that are, or start with, a common password."""
    common = common_passwords()
    spans: list[_Span] = []
    for reading in _readings(password):
        for match in re.finditer(r"[a-z]{4,}", reading):
            run = match.group()
            for n in range(len(run), 5, -1):  # the list holds 6+ characters only
                if run[:n] in common:
                    spans.append((match.start(), match.start() + n))
                    break
    return spans


def _personal(password: str, ident: _Identity) -> list[_Span]:
    """Name prefixes and the IIN's birth date (identity pieces that are advice, not refusal)."""
    spans: list[_Span] = []
    for reading in _readings(password):
        for piece in ident.partial:
            spans += _occurrences(reading, piece)
    return spans


def _patterns(password: str, ident: _Identity) -> dict[str, list[_Span]]:
    """Advice codes with the spans of the password they cover (empty list: no span)."""
    lower = password.lower()
    found: dict[str, list[_Span]] = {
        "avoid_common_words": _common_words(password),
        "avoid_personal_info": _personal(password, ident),
        "avoid_dates": [
            m.span() for m in itertools.chain(_YEAR.finditer(lower), _DATE.finditer(lower))
        ],
        "avoid_sequences": _sequences(lower),
        "avoid_keyboard_patterns": _keyboard_runs(lower),
        # a repeat explains its copies, not the first chunk ("aaa": "aa"; "ab1ab1": "ab1")
        "avoid_repeats": [
            (m.start() + len(m.group(1) or m.group(2)), m.end()) for m in _REPEAT.finditer(lower)
        ],
    }
    found = {code: spans for code, spans in found.items() if spans}
    if len(password) < LONG_ENOUGH:
        found["use_longer"] = []
    if not any(ch in ALLOWED_SYMBOLS for ch in password):
        found["add_symbol"] = []
    if _PREDICTABLE.fullmatch(password):
        found["avoid_predictable_pattern"] = []
    return found


# --------------------------------------------------------------------------- strength

_zxcvbn_lock = threading.Lock()
_ZXCVBN_ADVICE = {
    "sequence": "avoid_sequences",
    "spatial": "avoid_keyboard_patterns",
    "repeat": "avoid_repeats",
    "date": "avoid_dates",
    "regex": "avoid_dates",  # zxcvbn's only regex is "recent_year"
}


@cache
def _zxcvbn() -> Any:
    """zxcvbn's entry point, or None when it is not installed (imported on first use only)."""
    try:
        from zxcvbn import zxcvbn
    except ImportError:
        return None
    return zxcvbn


def _zxcvbn_estimate(estimate: Any, password: str, hints: list[str]) -> tuple[int, set[str]]:
    with _zxcvbn_lock:
        try:
            result = estimate(password[:_ZXCVBN_MAX], user_inputs=hints)
        finally:
            # zxcvbn keeps the last user_inputs in a module global: do not leave the holder's
            # IIN and name there.
            try:
                from zxcvbn import matching

                matching.RANKED_DICTIONARIES["user_inputs"] = {}
            except (ImportError, AttributeError):  # pragma: no cover - other zxcvbn versions
                pass
    score = int(result.get("score", 0))
    advice: set[str] = set()
    for match in result.get("sequence", ()):
        pattern = match.get("pattern")
        if pattern in _ZXCVBN_ADVICE:
            advice.add(_ZXCVBN_ADVICE[pattern])
        elif pattern == "dictionary" and len(match.get("token", "")) >= _MIN_PARTIAL:
            if match.get("dictionary_name") == "user_inputs":
                advice.add("avoid_personal_info")
            else:
                advice.add("avoid_common_words")
    del result  # it holds the password
    return max(0, min(4, score)), advice


# zxcvbn's score thresholds, on log10(guesses): 1e3, 1e6, 1e8, 1e10.
_SCORE_THRESHOLDS = ((4, 10.0), (3, 8.0), (2, 6.0), (1, 3.0))
_PATTERN_COST = 1.5  # log10 of the guesses one recognised pattern costs an attacker


def _builtin_estimate(password: str, patterns: dict[str, list[_Span]]) -> int:
    """A rough score when zxcvbn is missing, in zxcvbn's manner: ten guesses per character no
    pattern explains (its brute-force cardinality), about thirty per recognised pattern."""
    covered = sorted(span for spans in patterns.values() for span in spans)
    merged: list[list[int]] = []
    for start, end in covered:
        if merged and start < merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    explained = sum(end - start for start, end in merged)
    log10_guesses = (len(password) - explained) + _PATTERN_COST * len(merged)
    for level, threshold in _SCORE_THRESHOLDS:
        if log10_guesses >= threshold:
            return level
    return 0


def _identity_hints(ident: _Identity) -> list[str]:
    return [*ident.numbers, *ident.names, *ident.partial]


# --------------------------------------------------------------------------- the verdict


def check_new_password(
    password: str, *, identity: Iterable[str] = (), estimate: bool = True
) -> PasswordVerdict:
    """Judge ``password`` for a new key store.

    ``identity``: what others know about the holder — IIN, BIN, surname, name, patronymic (any may
    be empty; Cyrillic names are also checked in Latin spellings). Any problem makes it
    unacceptable; advice is given whenever the strength is below 3 (refused or not). The password
    is neither kept, logged nor returned. ``estimate=False`` uses the quick built-in strength
    estimate instead of zxcvbn (acceptance never depends on it).
    """
    rules = {check.code: check.met for check in check_rules(password)}
    ident = _identity(identity)
    problems: list[str] = []
    if not rules["min_length"]:
        problems.append("too_short")
    if not rules["has_upper"]:
        problems.append("no_upper")
    if not rules["has_lower"]:
        problems.append("no_lower")
    if not rules["has_digit"]:
        problems.append("no_digit")
    if any(_is_foreign_letter(ch) for ch in password):
        problems.append("non_latin_letter")
    if any(not _is_allowed(ch) and not _is_foreign_letter(ch) for ch in password):
        problems.append("not_allowed_character")
    is_pin = password.strip() in TOKEN_DEFAULT_PINS
    if is_pin:
        problems.append("token_default_pin")
    elif password.lower() in common_passwords():
        problems.append("common_password")  # a factory PIN is common too; say the precise thing
    if password and _contains_identity(password, ident):
        problems.append("contains_identity")

    patterns = _patterns(password, ident) if password else {}
    advice = set(patterns)
    estimator = _zxcvbn() if estimate else None
    if not password:
        strength = 0
    elif estimator is not None:
        strength, found = _zxcvbn_estimate(estimator, password, _identity_hints(ident))
        advice |= found
    else:
        strength = _builtin_estimate(password, patterns)
    guessable = {"token_default_pin", "common_password", "contains_identity"}
    if guessable.intersection(problems):
        strength = 0
    if "contains_identity" in problems:
        advice.discard("avoid_personal_info")  # already a problem, not advice

    return PasswordVerdict(
        acceptable=not problems,
        problems=tuple(problems),
        rules=tuple(RuleCheck(code, rules[code]) for code in RULE_CODES),
        strength=strength,
        advice=tuple(code for code in ADVICE_CODES if code in advice)
        if strength < WEAK_BELOW
        else (),
        empty=not password,
    )


def require_acceptable(
    password: str, *, identity: Iterable[str] = (), estimate: bool = False
) -> PasswordVerdict:
    """The verdict, or PasswordRejected (params: ``problems``, the codes) when it is refused.
    Acceptance never depends on the strength estimate, so the gate skips zxcvbn by default."""
    verdict = check_new_password(password, identity=identity, estimate=estimate)
    if not verdict.acceptable:
        raise PasswordRejected(problems=verdict.problems, min_length=MIN_LENGTH)
    return verdict


def preload() -> None:
    """Load the common-password list and zxcvbn now (e.g. in a background thread)."""
    common_passwords()
    _zxcvbn()


# --------------------------------------------------------------------------- messages


def rule_key(code: str) -> str:
    return f"password.rule.{code}"


def problem_key(code: str) -> str:
    return f"password.problem.{code}"


def advice_key(code: str) -> str:
    return f"password.advice.{code}"


def strength_key(level: int) -> str:
    return f"password.strength.{level}"


def render_verdict(verdict: PasswordVerdict, lang: str) -> RenderedVerdict:
    """The verdict's texts in ``lang`` (kk, ru, en), through ``wizard.i18n.translate``."""
    params = {"min_length": MIN_LENGTH}
    if not verdict.acceptable:
        summary = translate("password.verdict.rejected", lang)
    elif verdict.weak:
        summary = translate("password.verdict.acceptable_weak", lang)
    else:
        summary = translate("password.verdict.acceptable", lang)
    level = translate(strength_key(verdict.strength), lang)
    return RenderedVerdict(
        summary=summary,
        strength=translate("password.strength.label", lang, level=level),
        rules=tuple(
            RenderedRule(rule.code, rule.met, translate(rule_key(rule.code), lang, **params))
            for rule in verdict.rules
        ),
        problems=tuple(translate(problem_key(code), lang, **params) for code in verdict.problems),
        advice=tuple(translate(advice_key(code), lang) for code in verdict.advice),
        level=verdict.level,
        extra_rules=(
            RenderedRule(
                "not_common",
                not verdict.empty and not verdict.common,
                translate(rule_key("not_common"), lang),
            ),
            # the holder's own name or IIN: refused as guessable, so a line of its own too (every
            # other rule ticked green above a red verdict said nothing of why)
            RenderedRule(
                "not_personal",
                not verdict.empty and "contains_identity" not in verdict.problems,
                translate(rule_key("not_personal"), lang),
            ),
        ),
    )
