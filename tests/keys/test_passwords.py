"""The password policy for a new key store (wizard/keys/passwords.py), case by case."""

from __future__ import annotations

import dataclasses
import json
import logging
import pickle
import re
import string
from importlib import resources

import pytest

from wizard.errors import PasswordRejected
from wizard.i18n import LANGUAGES, placeholders
from wizard.keys import passwords
from wizard.keys.passwords import (
    ADVICE_CODES,
    PROBLEM_CODES,
    RULE_CODES,
    STRENGTH_LEVELS,
    TOKEN_DEFAULT_PINS,
    PasswordVerdict,
    RuleCheck,
    check_new_password,
    check_rules,
    common_passwords,
    render_verdict,
    require_acceptable,
)

# A holder: IIN, BIN, surname, name, patronymic (as the certificate spells them).
IDENTITY = ("940815300123", "080540001234", "ТЕСТОВ", "ҚАЙРАТ", "ЕРЖАНҰЛЫ")
KAZAKH_LETTERS = "ӘҒҚҢӨҰҮҺІәғқңөұүһі"


@pytest.fixture(params=["zxcvbn", "builtin"])
def estimator(request, monkeypatch):
    """Run a test with zxcvbn's estimate and with the built-in fallback."""
    if request.param == "zxcvbn":
        pytest.importorskip("zxcvbn")
    else:
        monkeypatch.setattr(passwords, "_zxcvbn", lambda: None)
    return request.param


# --------------------------------------------------------------------------- NCA rules

NCA_RULE_CASES = [
    # (password, expected problems, in order)
    ("", ("too_short", "no_upper", "no_lower", "no_digit")),
    ("Aa1", ("too_short",)),
    ("Mx7kq", ("too_short",)),  # 5 characters
    ("Mx7kqv", ()),  # exactly 6
    ("MXKV", ("too_short", "no_lower", "no_digit")),
    ("mxkv7q2z", ("no_upper",)),
    ("MXKV7Q2Z", ("no_lower",)),
    ("Mxkvtqrz", ("no_digit",)),
    ("97531", ("too_short", "no_upper", "no_lower")),
    ("Mxkv7q2z!", ()),  # ASCII symbols are allowed
    ("Mx7" + string.punctuation, ()),  # every one of them
    ("Mxkv 7q2z", ("not_allowed_character",)),  # space
    ("Mxkv7q2z ", ("not_allowed_character",)),  # trailing space
    ("Mxkv\t7q2z", ("not_allowed_character",)),
    ("Mxkv\u00a07q2z", ("not_allowed_character",)),  # no-break space
    ("Mxkv7q2z№", ("not_allowed_character",)),  # Shift+3 on a Russian layout
    ("Mxkv7q2z€", ("not_allowed_character",)),
    ("Mxkv٣q2z", ("not_allowed_character",)),  # an Arabic-Indic digit
    ("Mxkv7q2z😀", ("not_allowed_character",)),
    # the classic mistake: the keyboard is on Russian or Kazakh
    ("Пароль12", ("no_upper", "no_lower", "non_latin_letter")),
    ("Йцукен12", ("no_upper", "no_lower", "non_latin_letter")),  # "Qwerty12" on ЙЦУКЕН
    ("Mxkv7q2о", ("non_latin_letter",)),  # a Cyrillic о that looks Latin
    ("Мxkv7q2z", ("no_upper", "non_latin_letter")),  # a Cyrillic М that looks Latin
    ("Mxkv7q2é", ("non_latin_letter",)),
    ("Ｍxkv7q2z", ("no_upper", "non_latin_letter")),  # full-width M
    ("Mxkv7q2z№ә", ("non_latin_letter", "not_allowed_character")),
]


@pytest.mark.parametrize(("password", "expected"), NCA_RULE_CASES)
def test_nca_rules(password, expected):
    verdict = check_new_password(password)
    assert verdict.problems == expected
    assert verdict.acceptable is (not expected)


@pytest.mark.parametrize("letter", KAZAKH_LETTERS)
def test_kazakh_letters_are_not_latin(letter):
    verdict = check_new_password("Mxkv7q2" + letter)
    assert verdict.problems == ("non_latin_letter",)
    assert not verdict.acceptable
    assert dict((r.code, r.met) for r in verdict.rules)["latin_only"] is False


RULE_VIEW_CASES = [
    # (password, min_length, has_upper, has_lower, has_digit, latin_only)
    ("", False, False, False, False, False),
    ("a", False, False, True, False, True),
    ("aB", False, True, True, False, True),
    ("aB3", False, True, True, True, True),
    ("aB3xyz", True, True, True, True, True),
    ("aB3xyzә", True, True, True, True, False),
    ("aB3 xyz", True, True, True, True, False),
    ("123456", True, False, False, True, True),
]


@pytest.mark.parametrize(("password", *RULE_CODES), RULE_VIEW_CASES)
def test_rules_view(password, min_length, has_upper, has_lower, has_digit, latin_only):
    expected = (
        RuleCheck("min_length", min_length),
        RuleCheck("has_upper", has_upper),
        RuleCheck("has_lower", has_lower),
        RuleCheck("has_digit", has_digit),
        RuleCheck("latin_only", latin_only),
    )
    assert check_rules(password) == expected
    assert check_new_password(password).rules == expected
    assert tuple(rule.code for rule in expected) == RULE_CODES


# --------------------------------------------------------------------------- guessable passwords


@pytest.mark.parametrize("pin", sorted(TOKEN_DEFAULT_PINS))
def test_token_default_pins(pin):
    verdict = check_new_password(pin)
    assert "token_default_pin" in verdict.problems
    assert "common_password" not in verdict.problems  # the precise reason only
    assert not verdict.acceptable
    assert verdict.strength == 0


@pytest.mark.parametrize("pin", ["12345678", "1234567890"])  # Kaztoken; eToken 72K and JaCarta
def test_token_pins_from_the_nca_guide(pin):
    assert pin in TOKEN_DEFAULT_PINS
    assert "token_default_pin" in check_new_password(f" {pin} ").problems


COMMON_CASES = [
    "Qwerty12",  # the NCA test password
    "qwerty12",
    "QWERTY12",
    "Qwerty123",
    "Aa123456",
    "aA123456",
    "Password1",
    "P@ssw0rd",
    "1q2w3e4R",
    "Zaq12wsx",
    "1Qaz2wsx",
    "Kazakhstan2025",
    "Astana123",
    "Almaty2024",
    "Parol123",
    "Gfhjkm123",  # "Пароль123" typed on a Latin layout
    "Abc12345",
    "Qwertyuiop1",
]


@pytest.mark.parametrize("password", COMMON_CASES)
def test_common_passwords_are_refused(password):
    verdict = check_new_password(password)
    assert "common_password" in verdict.problems
    assert not verdict.acceptable
    assert verdict.strength == 0


@pytest.mark.parametrize("password", ["Qwerty12", "Aa123456", "Kazakhstan2025", "Mxkv7q2z"])
def test_common_is_the_only_problem_of_legal_common_passwords(password):
    problems = check_new_password(password).problems
    assert problems in ((), ("common_password",))
    assert (password.lower() in common_passwords()) is (problems == ("common_password",))


def test_common_password_list_is_shipped_and_loaded():
    raw = (
        resources.files("wizard.keys")
        .joinpath("data", "common_passwords.txt")
        .read_text(encoding="utf-8")
    )
    comments = [line for line in raw.splitlines() if line.startswith("#")]
    assert comments, "a header comment with the source and licence"
    header = "\n".join(comments)
    assert "zxcvbn" in header
    assert "MIT" in header
    listed = common_passwords()
    assert 2000 <= len(listed) <= 20000
    assert not any(entry.startswith("#") for entry in listed)
    assert all(entry == entry.lower() and entry.strip() == entry for entry in listed)
    for local in ("qwerty123", "aa123456", "qwerty12", "kazakhstan2025", "astana123", "parol123"):
        assert local in listed


# --------------------------------------------------------------------------- identity

IDENTITY_CASES = [
    # (password, identity, contains_identity expected)
    ("Ab940815300123", IDENTITY, True),  # IIN
    ("X080540001234y", IDENTITY, True),  # BIN
    ("Ab1IIN940815300123", ("IIN940815300123",), True),  # as the certificate's SERIALNUMBER
    ("Testov!2024", IDENTITY, True),  # surname, transliterated
    ("tESTOV99x", IDENTITY, True),  # case-insensitive
    ("T3st0v!Blue", IDENTITY, True),  # digits for letters
    ("Тестов2024", IDENTITY, True),  # Cyrillic as it is (and non-Latin)
    ("Kairat!77x", IDENTITY, True),  # Қ -> K
    ("Qairat!77x", IDENTITY, True),  # Қ -> Q (Kazakh Latin)
    ("My9Erzhanuly", IDENTITY, True),  # patronymic with Ж -> zh, Ұ -> u, Ы -> y
    ("My9Yerjanuly", IDENTITY, True),  # Е -> ye, Ж -> j
    ("Zhanna!2024", ("", "ЖАННА", ""), True),
    ("Janna!2024", ("", "ЖАННА", ""), True),
    ("Aliya77x!", ("", "ӘЛИЯ"), True),  # Ә -> a, Я -> ya
    ("Nurlan2000a", ("", "nurlan"), True),  # a Latin name as it is
    ("Ivanova-Petrova1", ("ИВАНОВА-ПЕТРОВА",), True),  # double surname, each part
    ("Petrova9x", ("ИВАНОВА-ПЕТРОВА",), True),
    # not identity
    ("Lian1234x", ("", "ЛИ", "АН"), False),  # fragments shorter than 3 are ignored
    ("Kxv9!Tundra", IDENTITY, False),
    ("Tundra-Velvet-42-Orbit", IDENTITY, False),
    ("Testov!2024", (), False),
    ("Testov!2024", ("", None, ""), False),
    ("Ab9408153x", IDENTITY, False),  # a part of the IIN is advice, not refusal
]


@pytest.mark.parametrize(("password", "identity", "expected"), IDENTITY_CASES)
def test_identity(password, identity, expected):
    verdict = check_new_password(password, identity=identity)
    assert ("contains_identity" in verdict.problems) is expected
    if expected:
        assert not verdict.acceptable
        assert verdict.strength == 0
        assert "avoid_personal_info" not in verdict.advice


def test_identity_is_optional():
    assert check_new_password("Kairat!77x").acceptable
    assert not check_new_password("Kairat!77x", identity=IDENTITY).acceptable


def test_zxcvbn_keeps_no_identity_behind():
    pytest.importorskip("zxcvbn")
    from zxcvbn import matching

    check_new_password("Mxkv7q2z", identity=IDENTITY)
    assert not matching.RANKED_DICTIONARIES.get("user_inputs")


# --------------------------------------------------------------------------- strength and advice

WEAK_BUT_LEGAL_CASES = [
    # (password, identity, advice codes that must be among the advice)
    ("Mxkv7q", (), {"use_longer", "add_symbol"}),
    ("Dragon77", (), {"use_longer", "add_symbol", "avoid_common_words"}),
    ("Nurlan1985", (), {"avoid_dates", "avoid_predictable_pattern"}),
    ("Marat1990", (), {"avoid_dates", "avoid_predictable_pattern"}),
    ("Summer2024!", (), {"avoid_common_words", "avoid_dates", "use_longer"}),
    ("Tiger1234", (), {"avoid_sequences"}),
    ("Abcd9xyz", (), {"avoid_sequences"}),
    ("Ab1ab1ab1", (), {"avoid_repeats"}),
    ("Aaa111bbb", (), {"avoid_repeats"}),
    ("Passw0rd!", (), {"avoid_common_words"}),
    ("Sunflower7", (), {"avoid_common_words", "avoid_predictable_pattern"}),
    ("Erjan55x", IDENTITY, {"avoid_personal_info"}),  # the start of the patronymic
    ("Tundra940815", IDENTITY, {"avoid_personal_info"}),  # the birth date in the IIN
]


@pytest.mark.parametrize(("password", "identity", "advice"), WEAK_BUT_LEGAL_CASES)
def test_weak_but_legal_is_accepted_with_advice(estimator, password, identity, advice):
    verdict = check_new_password(password, identity=identity)
    assert verdict.acceptable
    assert verdict.problems == ()
    assert verdict.strength < 3
    assert verdict.weak
    assert advice <= set(verdict.advice)
    assert list(verdict.advice) == [code for code in ADVICE_CODES if code in verdict.advice]


@pytest.mark.parametrize(
    "password",
    ["x7Kp2mQ9vL4w", "kV8#pL2!zQ9w", "Tundra-Velvet-42-Orbit", "Gq7-Lm2-Zx9-Rt4"],
)
def test_strong_is_accepted_without_advice(estimator, password):
    verdict = check_new_password(password, identity=IDENTITY)
    assert verdict.acceptable
    assert verdict.strength >= 3
    assert not verdict.weak
    assert verdict.advice == ()


def test_keyboard_patterns_are_advised(estimator):
    verdict = check_new_password("Asdfg7Lm")
    assert verdict.acceptable
    assert "avoid_keyboard_patterns" in verdict.advice


def test_use_longer_only_below_twelve(estimator):
    assert "use_longer" in check_new_password("Dragon77").advice
    assert "use_longer" not in check_new_password("Dragon77dragon").advice


def test_strength_is_in_range_for_anything(estimator):
    for password in ["", "a", "Aa1", "ӘӘӘ", "x" * 200, "Aa1" * 100, "Mx7" + string.punctuation]:
        verdict = check_new_password(password)
        assert verdict.strength in STRENGTH_LEVELS


def test_very_long_password_is_fine():
    verdict = check_new_password("Gq7-Lm2-Zx9-Rt4-" * 10)
    assert verdict.acceptable
    assert verdict.strength >= 3


def test_every_code_is_known():
    for password in [p for p, _ in NCA_RULE_CASES] + COMMON_CASES:
        verdict = check_new_password(password, identity=IDENTITY)
        assert set(verdict.problems) <= set(PROBLEM_CODES)
        assert set(verdict.advice) <= set(ADVICE_CODES)


# ------------------------------------------------------------------ the password stays secret

SECRET_CASES = [
    ("Zq8!Wv#3Kx", ()),  # acceptable
    ("Тестов-Zq8Wv", IDENTITY),  # refused, non-Latin and identity
    ("Qwerty12", ()),  # common
    ("12345678", ()),  # a token PIN
    ("Mxkv7q", ()),  # weak
]


@pytest.mark.parametrize(("password", "identity"), SECRET_CASES)
def test_verdict_never_holds_the_password(password, identity, caplog, capsys):
    caplog.set_level(logging.DEBUG)
    verdict = check_new_password(password, identity=identity)
    texts = [repr(verdict), str(verdict), repr(dataclasses.asdict(verdict))]
    texts.append(pickle.dumps(verdict).decode("latin-1"))
    fragments = {password[i : i + 4] for i in range(len(password) - 3)}
    for text in texts:
        assert password not in text
        assert not [f for f in fragments if f in text], text  # no piece of it either
    out, err = capsys.readouterr()
    assert password not in out + err
    assert not caplog.records


@pytest.mark.parametrize(("password", "identity"), SECRET_CASES)
@pytest.mark.parametrize("lang", LANGUAGES)
def test_rendered_texts_are_catalogue_texts_only(password, identity, lang):
    # The messages are fixed catalogue texts (a few quote examples such as 12345678 or qwerty);
    # nothing from the password is ever put into them.
    catalogue = _passwords_catalogue(lang)
    fixed = {
        text.format(min_length=passwords.MIN_LENGTH)
        for text in catalogue.values()
        if "{level}" not in text
    }
    fixed |= {
        catalogue["password.strength.label"].format(level=catalogue[f"password.strength.{n}"])
        for n in STRENGTH_LEVELS
    }
    rendered = render_verdict(check_new_password(password, identity=identity), lang)
    texts = [rendered.summary, rendered.strength, *rendered.problems, *rendered.advice]
    texts += [rule.text for rule in rendered.rules]
    assert set(texts) <= fixed


def test_verdict_is_frozen_and_hashable():
    verdict = check_new_password("Zq8!Wv#3Kx")
    assert isinstance(verdict, PasswordVerdict)
    with pytest.raises(dataclasses.FrozenInstanceError):
        verdict.acceptable = False  # type: ignore[misc]
    assert hash(verdict) == hash(check_new_password("Zq8!Wv#3Kx"))
    assert {f.name for f in dataclasses.fields(verdict)} == {
        "acceptable",
        "problems",
        "rules",
        "strength",
        "advice",
        "empty",  # a boolean too (issue #11: nothing is judged before anything is typed)
    }


def test_require_acceptable():
    assert require_acceptable("Zq8!Wv#3Kx").acceptable
    with pytest.raises(PasswordRejected) as caught:
        require_acceptable("Qwerty12")
    assert caught.value.params["problems"] == ("common_password",)
    assert caught.value.exit_code == 8
    assert "Qwerty12" not in repr(caught.value)


# --------------------------------------------------------------------------- messages


@pytest.mark.parametrize("lang", LANGUAGES)
def test_render_every_code(lang):
    catalogue = _passwords_catalogue(lang)
    verdict = PasswordVerdict(
        acceptable=False,
        problems=PROBLEM_CODES,
        rules=tuple(RuleCheck(code, i % 2 == 0) for i, code in enumerate(RULE_CODES)),
        strength=0,
        advice=ADVICE_CODES,
    )
    rendered = render_verdict(verdict, lang)
    assert rendered.summary == catalogue["password.verdict.rejected"]
    assert [r.code for r in rendered.rules] == list(RULE_CODES)
    assert [r.met for r in rendered.rules] == [r.met for r in verdict.rules]
    assert "6" in rendered.rules[0].text
    assert "{" not in "".join(r.text for r in rendered.rules)
    assert len(rendered.problems) == len(PROBLEM_CODES)
    assert len(rendered.advice) == len(ADVICE_CODES)
    for text in (*rendered.problems, *rendered.advice, rendered.strength):
        assert text and not text.startswith("password.") and "{" not in text
    for level in STRENGTH_LEVELS:
        strength = render_verdict(dataclasses.replace(verdict, strength=level), lang).strength
        assert catalogue[f"password.strength.{level}"] in strength


@pytest.mark.parametrize(("lang", "hint"), [("en", "Latin"), ("ru", "раскладку"), ("kk", "латын")])
def test_non_latin_message_says_switch_the_keyboard(lang, hint):
    rendered = render_verdict(check_new_password("Пароль12"), lang)
    assert any(hint in text for text in rendered.problems)


@pytest.mark.parametrize("lang", LANGUAGES)
def test_summaries(lang):
    catalogue = _passwords_catalogue(lang)
    strong = render_verdict(check_new_password("x7Kp2mQ9vL4w"), lang)
    weak = render_verdict(check_new_password("Mxkv7q"), lang)
    assert strong.summary == catalogue["password.verdict.acceptable"]
    assert weak.summary == catalogue["password.verdict.acceptable_weak"]


# --------------------------------------------------------------------------- catalogues


def _passwords_catalogue(lang: str) -> dict[str, str]:
    path = resources.files("wizard") / "locales" / lang / "passwords.json"
    return json.loads(path.read_text(encoding="utf-8"))


def test_catalogues_have_the_same_keys_and_placeholders():
    catalogues = {lang: _passwords_catalogue(lang) for lang in LANGUAGES}
    keys = set(catalogues["en"])
    for lang, catalogue in catalogues.items():
        assert set(catalogue) == keys, lang
        for key, text in catalogue.items():
            assert key.startswith("password."), key
            assert isinstance(text, str) and text.strip(), (lang, key)
            assert placeholders(text) == placeholders(catalogues["en"][key]), (lang, key)


def test_catalogues_cover_every_code():
    keys = set(_passwords_catalogue("en"))
    wanted = {f"password.rule.{c}" for c in RULE_CODES}
    wanted |= {f"password.problem.{c}" for c in PROBLEM_CODES}
    wanted |= {f"password.advice.{c}" for c in ADVICE_CODES}
    wanted |= {f"password.strength.{level}" for level in STRENGTH_LEVELS}
    wanted |= {"password.strength.label", "password.verdict.acceptable"}
    wanted |= {"password.verdict.acceptable_weak", "password.verdict.rejected"}
    assert wanted <= keys


@pytest.mark.parametrize("lang", ["kk", "ru"])
def test_cyrillic_words_have_no_latin_lookalikes(lang):
    for key, text in _passwords_catalogue(lang).items():
        for word in re.findall(r"\w+", text):
            if re.search("[а-яёәғқңөұүһі]", word, re.IGNORECASE):
                assert not re.search("[A-Za-z]", word), (key, word)


def test_kazakh_uses_kazakh_letters():
    text = " ".join(_passwords_catalogue("kk").values())
    assert set("әғқңөұүі") <= set(text.lower())
    assert "құпиясөз" in text.lower()


def test_the_holders_name_in_the_password_has_its_own_red_rule_line():
    """Every NCA rule met, refused as guessable: the reason is a rule line of its own (hostile
    walk: 'Testov123' showed all green above a red verdict), green once the name is gone."""
    identity = ("ТЕСТОВ", "TESTOV", "123456789011")
    for lang in ("kk", "ru", "en"):
        named = render_verdict(check_new_password("Testov123", identity=identity), lang)
        assert all(rule.met for rule in named.rules)
        lines = {rule.code: rule for rule in named.extra_rules}
        assert not lines["not_personal"].met and lines["not_personal"].text
        fine = render_verdict(check_new_password("Tulpar-Saryarqa-42", identity=identity), lang)
        assert all(rule.met for rule in fine.extra_rules) and len(fine.extra_rules) == 2
    empty = render_verdict(check_new_password("", identity=identity), "en")
    assert not any(rule.met for rule in empty.extra_rules)  # nothing typed: nothing ticked
