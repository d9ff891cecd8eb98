"""PINs as the NCA's guides demand: a wrong PIN is "wrong" (exit 3) only when the token answers
CKR_PIN_INCORRECT, the tries the token reports are told before each attempt, a locked PIN is said
plainly and never tried, the factory PIN is detected and can be changed under the PIN rules.

SoftHSM2 2.6 counts wrong PINs only as far as CKF_USER_PIN_COUNT_LOW (set after a wrong PIN,
cleared by a right one): it never reports a final try or locks. Those answers, and the other CKR_
codes, come from a scripted module standing in for a device (the `FakeLib` below)."""

from __future__ import annotations

import importlib.util
import json
import os
from pathlib import Path

import pytest

if importlib.util.find_spec("pkcs11") is None:  # the tokens extra (in the test extra too)
    _reason = "python-pkcs11 is not installed (pip install -e '.[test]')"
    if os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no"):
        pytest.fail(f"{_reason}; CI must install it", pytrace=False)
    pytest.skip(_reason, allow_module_level=True)

from pkcs11 import TokenFlag
from pkcs11 import exceptions as p11

from wizard.errors import PasswordRejected, TokenError, TokenLocked, WrongPin
from wizard.i18n import LANGUAGES
from wizard.keys.tokens import device
from wizard.keys.tokens.device import (
    DEFAULT_PINS,
    PinState,
    TokenModule,
    is_factory_pin,
    pin_problems,
)

PIN_VAR = "QOLTANBA_TEST_PIN"
NEW_VAR = "QOLTANBA_TEST_NEW_PIN"
READY = int(TokenFlag.TOKEN_INITIALIZED | TokenFlag.USER_PIN_INITIALIZED | TokenFlag.LOGIN_REQUIRED)


# ---------------------------------------------------------------------------------------------
# SoftHSM2


# where a locked token is taken, as each language names it (English: no Cyrillic)
CENTRE = {"kk": "ЦОН", "ru": "ЦОН", "en": "Public Service Centre"}


def test_wrong_pin_is_exit_3_and_the_count_is_told_before_the_next_try(qoltanba, soft_token):
    argv = ("inspect", "--token", "--module", soft_token.module, "--pin-env", PIN_VAR)
    first = qoltanba("--lang", "en", *argv, "--json", env={PIN_VAR: "00000000"})
    assert first.code == 3, first
    # SoftHSM2 raises CKF_USER_PIN_COUNT_LOW after the first wrong PIN: the message says so.
    assert json.loads(first.out)["error"] == "wrong_pin_low"
    assert first.err.count("\n") == 1 and "00000000" not in first.out + first.err
    second = qoltanba("--lang", "en", *argv, env={PIN_VAR: "11111111"})
    assert second.code == 3
    notice, error = second.err.splitlines()
    assert "counted wrong PIN tries" in notice and "Wrong PIN" in error
    listing = json.loads(qoltanba("tokens", "--module", soft_token.module, "--json").out)
    assert listing["tokens"][0]["pin"]["count_low"] is True
    # The right PIN works, and the token forgets the count.
    right = qoltanba(*argv, "--json", env={PIN_VAR: soft_token.pin})
    assert right.code == 0, right
    listing = json.loads(qoltanba("tokens", "--module", soft_token.module, "--json").out)
    assert listing["tokens"][0]["pin"]["count_low"] is False


def test_wrong_pin_is_said_in_every_language(qoltanba, soft_token):
    lines = set()
    for lang in LANGUAGES:
        run = qoltanba("--lang", lang, "inspect", "--token", "--module", soft_token.module,
                       "--pin-env", PIN_VAR, env={PIN_VAR: "00000000"})  # fmt: skip
        assert run.code == 3
        lines.add(run.err.splitlines()[-1])
    assert len(lines) == len(LANGUAGES)


def test_factory_pin_is_warned_about_and_changed(qoltanba, factory_token):
    argv = ("inspect", "--token", "--module", factory_token.module, "--pin-env", PIN_VAR)
    run = qoltanba("--lang", "en", *argv, env={PIN_VAR: factory_token.pin})
    assert run.code == 0, run
    assert "factory PIN" in run.err and "--change-pin" in run.err
    change = ("tokens", "--change-pin", "--module", factory_token.module)
    change += ("--pin-env", PIN_VAR, "--new-pin-env", NEW_VAR)
    # The rules: no factory PIN, no run, no repeat, not too short.
    for weak in ("1234567890", "345678", "777777", "12a"):
        refused = qoltanba("--lang", "en", *change, env={PIN_VAR: factory_token.pin, NEW_VAR: weak})
        assert refused.code == 8, (weak, refused)
        assert weak not in refused.err
    done = qoltanba("--lang", "en", *change, env={PIN_VAR: factory_token.pin, NEW_VAR: "Kz-90_14x"})
    assert done.code == 0, done
    assert qoltanba(*argv, env={PIN_VAR: factory_token.pin}).code == 3
    after = qoltanba("--lang", "en", *argv, env={PIN_VAR: "Kz-90_14x"})
    assert after.code == 0 and "factory PIN" not in after.err


def test_change_pin_with_a_wrong_old_pin_is_exit_3(qoltanba, soft_token):
    run = qoltanba(
        *("tokens", "--change-pin", "--module", soft_token.module),
        *("--pin-env", PIN_VAR, "--new-pin-env", NEW_VAR),
        env={PIN_VAR: "00000000", NEW_VAR: "Kz-90_14x"},
    )
    assert run.code == 3


# ---------------------------------------------------------------------------------------------
# The rules and the flags


def test_pin_rules():
    assert pin_problems("Kz-90_14x") == []
    assert pin_problems("40718265") == []  # digits alone are fine: a token locks after a few
    assert "pin_too_short" in pin_problems("4071")
    assert "pin_too_long" in pin_problems("4" + "0718265" * 5)
    assert "pin_default" in pin_problems("12345678")
    assert "pin_trivial" in pin_problems("000000")
    assert "pin_trivial" in pin_problems("987654")
    assert "pin_not_ascii" in pin_problems("пинкод12")
    assert "pin_same" in pin_problems("Kz-90_14x", "Kz-90_14x")
    rejected = PasswordRejected("pin_rejected", problems=["pin_too_short"], min=6, max=32)
    for lang in LANGUAGES:
        assert "6" in rejected.message(lang)


def test_pin_state_from_flags():
    state = PinState.from_flags(READY | TokenFlag.USER_PIN_FINAL_TRY | TokenFlag.USER_PIN_COUNT_LOW)
    assert state.tries == "final" and not state.locked
    assert PinState.from_flags(READY | TokenFlag.USER_PIN_LOCKED).tries == "locked"
    assert PinState.from_flags(READY).tries == "unknown"


# ---------------------------------------------------------------------------------------------
# A scripted module: what a device answers that SoftHSM2 never does


class FakeToken:
    def __init__(self, script: FakeScript) -> None:
        self._script = script
        self.label = "KAZTOKEN"
        self.serial = b"0042"
        self.manufacturer_id = "Vendor"
        self.model = "Model"
        self.flags = script.flags

    def open(self, rw: bool = False, user_pin: str | None = None):
        if user_pin is None:  # a public session: no login, nothing counted
            return FakeSession()
        self._script.attempts.append(user_pin)
        outcome = self._script.outcomes.pop(0)
        if isinstance(outcome, int):
            self._script.flags = outcome
            raise p11.PinIncorrect()
        if isinstance(outcome, BaseException):
            raise outcome
        return FakeSession()


class FakeSession:
    def get_objects(self, attrs=None) -> list:
        return []

    def close(self) -> None:
        pass


class FakeSlot:
    def __init__(self, script: FakeScript) -> None:
        self._script = script
        self.slot_id = 7
        self.slot_description = "reader"

    def get_token(self) -> FakeToken:
        return FakeToken(self._script)

    def get_mechanisms(self) -> set[int]:
        return set()


class FakeScript:
    """Flags now, and what each C_Login does: an int (PinIncorrect, then these flags), an
    exception to raise, or None (success)."""

    def __init__(self, flags: int, outcomes: list) -> None:
        self.flags = flags
        self.outcomes = outcomes
        self.attempts: list[str | None] = []


class FakeLib:
    initialized = True
    manufacturer_id = "Vendor"
    library_description = "scripted"

    def __init__(self, script: FakeScript) -> None:
        self._slot = FakeSlot(script)

    def get_slots(self, token_present: bool = False) -> list[FakeSlot]:
        return [self._slot]

    def finalize(self) -> None:
        self.initialized = False


def _module(script: FakeScript) -> TokenModule:
    return TokenModule(Path("/scripted.so"), FakeLib(script))


def test_final_try_is_said_and_a_lock_after_it_is_not_called_wrong_pin():
    script = FakeScript(READY, [READY | TokenFlag.USER_PIN_FINAL_TRY])
    module = _module(script)
    info = module.token()
    with pytest.raises(WrongPin) as wrong:
        module.login(info, "1111")
    assert wrong.value.code == "wrong_pin_final" and wrong.value.exit_code == 3
    assert module.refresh(info).pin.final_try
    script.outcomes.append(READY | TokenFlag.USER_PIN_LOCKED)
    with pytest.raises(TokenLocked) as locked:
        module.login(info, "2222")
    assert locked.value.exit_code == 4
    for lang in LANGUAGES:
        assert CENTRE[lang] in locked.value.message(lang)
    # Locked now: no PIN is tried any more.
    tried = len(script.attempts)
    with pytest.raises(TokenLocked):
        module.login(info, "3333")
    assert len(script.attempts) == tried


def test_ckr_pin_locked_is_locked_not_wrong():
    module = _module(FakeScript(READY, [p11.PinLocked()]))
    with pytest.raises(TokenLocked):
        module.login(module.token(), "1111")


@pytest.mark.parametrize(
    "answer, code",
    [
        (p11.PinLenRange(), "token_pin_unfit"),
        (p11.PinInvalid(), "token_pin_unfit"),
        (p11.PinExpired(), "token_pin_expired"),
        (p11.TokenNotPresent(), "token_absent"),
        (p11.DeviceRemoved(), "token_absent"),
        (p11.GeneralError(), "token_failed"),
    ],
)
def test_other_answers_are_never_wrong_pin(answer, code):
    module = _module(FakeScript(READY, [answer]))
    with pytest.raises(TokenError) as refused:
        module.login(module.token(), "1111")
    assert refused.value.code == code
    assert not isinstance(refused.value, WrongPin) and refused.value.exit_code == 4


def test_factory_pin_by_flag_or_by_value():
    module = _module(FakeScript(READY | TokenFlag.USER_PIN_TO_BE_CHANGED, [None]))
    info = module.token()
    assert info.pin.to_be_changed and is_factory_pin(info)
    plain = _module(FakeScript(READY, [None])).token()
    assert not is_factory_pin(plain, "Kz-90_14x")
    assert all(is_factory_pin(plain, pin) for pin in DEFAULT_PINS.values())


def test_a_locked_token_is_said_plainly_on_the_command_line(qoltanba, monkeypatch, tmp_path):
    script = FakeScript(READY | TokenFlag.USER_PIN_LOCKED, [])
    module_file = tmp_path / "vendor.so"
    module_file.write_bytes(b"\x7fELF" + b"\0" * 60)
    monkeypatch.setattr(device.pkcs11, "lib", lambda path: FakeLib(script))
    for lang in LANGUAGES:
        run = qoltanba("--lang", lang, "inspect", "--token", "--module", module_file,
                       "--pin-env", PIN_VAR, env={PIN_VAR: "1111"})  # fmt: skip
        assert run.code == 4, run
        assert CENTRE[lang] in run.err and run.err.count("\n") == 1
    assert script.attempts == []
    listing = json.loads(qoltanba("tokens", "--module", module_file, "--json").out)
    assert listing["tokens"][0]["pin"]["locked"] is True
