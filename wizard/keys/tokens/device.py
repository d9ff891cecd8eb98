"""A PKCS#11 module opened, its tokens listed, a PIN tried: the part that talks to the device.

Errors are Qoltanba's own, decided by what the token answered, never guessed:
- WrongPin (exit 3) only on CKR_PIN_INCORRECT, with what the token's flags tell of the tries left;
- TokenLocked on CKR_PIN_LOCKED, or when the flags already say locked (no PIN is tried then);
- TokenAbsent when the token is not there (unplugged, CKR_TOKEN_NOT_PRESENT, CKR_DEVICE_REMOVED);
- TokenError for anything else the module or token refuses, and for a file that is no module.
A PIN is passed to the module and dropped: it is never kept, logged or put in an error.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pkcs11
from pkcs11 import TokenFlag
from pkcs11 import exceptions as p11

from wizard.errors import PasswordRejected, TokenAbsent, TokenError, TokenLocked, WrongPin
from wizard.keys.tokens.modules import check_module_file, refuse_mobile

# GOST R 34.10-2012/2015 512-bit in PKCS#11: TC 26's vendor range (CK_VENDOR_PKCS11_RU_TEAM_TC26).
_TC26 = 0xD4321000
CKM_GOSTR3410_512_KEY_PAIR_GEN = _TC26 | 0x005
CKM_GOSTR3410_512 = _TC26 | 0x006
CKM_GOSTR3410_WITH_GOSTR3411_12_512 = _TC26 | 0x009

# Factory PINs the NCA's guides name (DOMAIN.md §2): a token still using one must be changed.
DEFAULT_PINS: dict[str, str] = {
    "kaztoken": "12345678",
    "etoken": "1234567890",
    "jacarta": "1234567890",
}
# PIN rules for a new PIN. A token locks itself after a few wrong tries, so a PIN needs no
# password-like mix of letters: it must not be guessable in those few tries (no factory PIN, no
# repeated digit or run) and must be typeable on any keyboard layout and PIN pad (printable ASCII).
PIN_MIN = 6
PIN_MAX = 32

_ABSENT = (
    p11.TokenNotPresent,
    p11.DeviceRemoved,
    p11.SessionHandleInvalid,
    p11.SessionClosed,
    p11.SlotIDInvalid,
)


@dataclass(frozen=True)
class PinState:
    """What a token's flags say about its user PIN. PKCS#11 tells no number of tries left:
    only "some wrong tries already" (count low), "the next wrong one locks" and "locked"."""

    initialized: bool
    count_low: bool
    final_try: bool
    locked: bool
    to_be_changed: bool  # the token says its PIN is still the factory one (or must be changed)
    pin_pad: bool  # a protected authentication path: the PIN is typed on the device

    @classmethod
    def from_flags(cls, flags: int) -> PinState:
        return cls(
            initialized=bool(flags & TokenFlag.USER_PIN_INITIALIZED),
            count_low=bool(flags & TokenFlag.USER_PIN_COUNT_LOW),
            final_try=bool(flags & TokenFlag.USER_PIN_FINAL_TRY),
            locked=bool(flags & TokenFlag.USER_PIN_LOCKED),
            to_be_changed=bool(flags & TokenFlag.USER_PIN_TO_BE_CHANGED),
            pin_pad=bool(flags & TokenFlag.PROTECTED_AUTHENTICATION_PATH),
        )

    @property
    def tries(self) -> str:
        """locked, final, low or unknown (the token does not say how many are left)."""
        if self.locked:
            return "locked"
        if self.final_try:
            return "final"
        if self.count_low:
            return "low"
        return "unknown"

    def as_json(self) -> dict[str, Any]:
        return {
            "initialized": self.initialized,
            "tries": self.tries,
            "count_low": self.count_low,
            "final_try": self.final_try,
            "locked": self.locked,
            "factory_pin": self.to_be_changed,
            "pin_pad": self.pin_pad,
        }


@dataclass(frozen=True)
class TokenInfo:
    """One token in one slot of one module, as C_GetTokenInfo and C_GetMechanismList say."""

    module: Path
    slot_id: int
    slot_description: str
    label: str
    manufacturer: str
    model: str
    serial: str
    pin: PinState
    mechanisms: frozenset[int]

    @property
    def name(self) -> str:
        """How messages name it: its label, else its serial number."""
        return self.label or self.serial or str(self.slot_id)

    @property
    def gost512(self) -> bool:
        """The module offers GOST R 34.10-2015 512 key generation and signing on this token."""
        return CKM_GOSTR3410_512_KEY_PAIR_GEN in self.mechanisms and bool(
            {CKM_GOSTR3410_512, CKM_GOSTR3410_WITH_GOSTR3411_12_512} & self.mechanisms
        )

    def as_json(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "manufacturer": self.manufacturer,
            "model": self.model,
            "serial": self.serial,
            "slot": self.slot_id,
            "slot_description": self.slot_description,
            "module": str(self.module),
            "pin": self.pin.as_json(),
            "gost512": self.gost512,
        }


def is_factory_pin(token: TokenInfo, pin: str | None = None) -> bool:
    """The token still has its factory PIN: it says so, or ``pin`` is a known default."""
    return token.pin.to_be_changed or (pin is not None and pin in DEFAULT_PINS.values())


def pin_problems(new_pin: str, old_pin: str | None = None) -> list[str]:
    """What a new PIN breaks of the rules (codes ``password.problem.pin_*``); empty when none."""
    problems: list[str] = []
    if not all(" " <= ch <= "~" for ch in new_pin):
        problems.append("pin_not_ascii")
    if len(new_pin) < PIN_MIN:
        problems.append("pin_too_short")
    elif len(new_pin) > PIN_MAX:
        problems.append("pin_too_long")
    if new_pin in DEFAULT_PINS.values():
        problems.append("pin_default")
    elif _trivial(new_pin):
        problems.append("pin_trivial")
    if old_pin is not None and new_pin == old_pin:
        problems.append("pin_same")
    return problems


def _trivial(pin: str) -> bool:
    """One character repeated, or a run up or down by one (123456, 987654, abcdef)."""
    if len(set(pin)) <= 1:
        return True
    steps = {ord(b) - ord(a) for a, b in itertools.pairwise(pin)}
    return steps in ({1}, {-1})


def _text(value: bytes | str) -> str:
    if isinstance(value, bytes):
        return value.decode("ascii", "replace").strip()
    return value.strip()


@contextmanager
def device_errors(token: str) -> Iterator[None]:
    """Turn what the module raises during work on ``token`` into Qoltanba's errors."""
    try:
        yield
    except _ABSENT as exc:
        raise TokenAbsent("token_absent", token=token) from exc
    except p11.PinLocked as exc:
        raise TokenLocked("token_pin_locked", token=token) from exc
    except p11.UserNotLoggedIn as exc:
        raise TokenError("token_not_logged_in", token=token) from exc
    except p11.TokenWriteProtected as exc:
        raise TokenError("token_write_protected", token=token) from exc
    except p11.DeviceMemory as exc:
        raise TokenError("token_full", token=token) from exc
    except p11.PKCS11Error as exc:
        raise TokenError("token_failed", token=token, detail=type(exc).__name__) from exc


class TokenModule:
    """An initialised PKCS#11 module (C_Initialize); ``close`` finalises it (C_Finalize)."""

    def __init__(self, path: Path, lib: Any) -> None:
        self.path = path
        self._lib = lib

    def __enter__(self) -> TokenModule:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        try:
            if self._lib.initialized:
                self._lib.finalize()
        except p11.PKCS11Error:
            pass

    @property
    def description(self) -> str:
        return f"{_text(self._lib.manufacturer_id)} {_text(self._lib.library_description)}".strip()

    def _slots(self) -> list[Any]:
        with device_errors(str(self.path)):
            return list(self._lib.get_slots(token_present=True))

    def _info(self, slot: Any) -> TokenInfo | None:
        try:
            token = slot.get_token()
        except _ABSENT:
            return None
        flags = int(token.flags)
        if not flags & TokenFlag.TOKEN_INITIALIZED:
            return None  # an empty slot of a soft token, or a card never initialised
        try:
            mechanisms = frozenset(int(m) for m in slot.get_mechanisms())
        except p11.PKCS11Error:
            mechanisms = frozenset()
        return TokenInfo(
            module=self.path,
            slot_id=int(slot.slot_id),
            slot_description=_text(slot.slot_description),
            label=_text(token.label),
            manufacturer=_text(token.manufacturer_id),
            model=_text(token.model),
            serial=_text(token.serial),
            pin=PinState.from_flags(flags),
            mechanisms=mechanisms,
        )

    def tokens(self) -> list[TokenInfo]:
        """The initialised tokens present now, in slot order."""
        found = []
        for slot in self._slots():
            info = self._info(slot)
            if info is not None:
                found.append(info)
        return found

    def token(self, label: str | None = None, serial: str | None = None) -> TokenInfo:
        """The one token with this label (and serial); TokenAbsent when none is there, UsageError
        when several are and none was named."""
        from wizard.errors import UsageError

        found = [
            t
            for t in self.tokens()
            if (label is None or t.label == label) and (serial is None or t.serial == serial)
        ]
        if not found:
            raise TokenAbsent("token_absent", token=label or serial or str(self.path))
        if len(found) > 1:
            raise UsageError("token_which", tokens=", ".join(t.name for t in found))
        return found[0]

    def _token_object(self, info: TokenInfo) -> Any:
        for slot in self._slots():
            if int(slot.slot_id) != info.slot_id:
                continue
            try:
                token = slot.get_token()
            except _ABSENT:
                break
            if _text(token.serial) == info.serial and _text(token.label) == info.label:
                return token
        raise TokenAbsent("token_absent", token=info.name)

    def refresh(self, info: TokenInfo) -> TokenInfo:
        """The token's state now (its PIN flags change with every try)."""
        for slot in self._slots():
            if int(slot.slot_id) == info.slot_id:
                fresh = self._info(slot)
                if fresh is not None and fresh.serial == info.serial:
                    return fresh
        raise TokenAbsent("token_absent", token=info.name)

    def public_session(self, info: TokenInfo) -> TokenSession:
        """A read-only session without a login: public objects only (certificates)."""
        token = self._token_object(info)
        with device_errors(info.name):
            return TokenSession(info, token.open())

    def login(self, info: TokenInfo, pin: str, *, rw: bool = False) -> TokenSession:
        """A session logged in as the user. A locked PIN is not tried."""
        current = self.refresh(info)
        if current.pin.locked:
            raise TokenLocked("token_pin_locked", token=current.name)
        token = self._token_object(current)
        try:
            session = token.open(rw=rw, user_pin=pin)
        except p11.PinIncorrect as exc:
            after = self._state_after_wrong_pin(current)
            if after.locked:
                raise TokenLocked("token_pin_locked", token=current.name) from exc
            raise WrongPin(_WRONG_PIN[after.tries], token=current.name) from exc
        except p11.PinLocked as exc:
            raise TokenLocked("token_pin_locked", token=current.name) from exc
        except (p11.PinLenRange, p11.PinInvalid) as exc:
            # The token refused the PIN's form without checking it: not "wrong".
            raise TokenError("token_pin_unfit", token=current.name) from exc
        except p11.PinExpired as exc:
            raise TokenError("token_pin_expired", token=current.name) from exc
        except p11.TokenNotRecognised as exc:
            raise TokenError("token_not_recognised", token=current.name) from exc
        except p11.UserPinNotInitialized as exc:
            raise TokenError("token_pin_not_initialised", token=current.name) from exc
        except _ABSENT as exc:
            raise TokenAbsent("token_absent", token=current.name) from exc
        except p11.PKCS11Error as exc:
            raise TokenError("token_failed", token=current.name, detail=type(exc).__name__) from exc
        return TokenSession(current, session)

    def _state_after_wrong_pin(self, info: TokenInfo) -> PinState:
        try:
            return self.refresh(info).pin
        except TokenError:
            return info.pin

    def change_pin(self, info: TokenInfo, old_pin: str, new_pin: str) -> None:
        """C_SetPIN after the new PIN passed the rules; the old one is checked by the login."""
        problems = pin_problems(new_pin, old_pin)
        if problems:
            raise PasswordRejected(
                "pin_rejected", problems=problems, min=PIN_MIN, max=PIN_MAX, detail=""
            )
        with self.login(info, old_pin, rw=True) as session:
            try:
                session.session.set_pin(old_pin, new_pin)
            except (p11.PinLenRange, p11.PinInvalid, p11.PinTooWeak) as exc:
                raise PasswordRejected(
                    "pin_rejected",
                    problems=["pin_token_refused"],
                    min=PIN_MIN,
                    max=PIN_MAX,
                    detail="",  # PasswordRejected.message says the problems there
                ) from exc
            except p11.PinIncorrect as exc:
                raise WrongPin("wrong_pin", token=info.name) from exc
            except p11.PKCS11Error:
                with device_errors(info.name):
                    raise


_WRONG_PIN = {"unknown": "wrong_pin", "low": "wrong_pin_low", "final": "wrong_pin_final"}


class TokenSession:
    """A session on one token, logged in as the user; closed (and logged out) by ``close``."""

    def __init__(self, token: TokenInfo, session: Any) -> None:
        self.token = token
        self.session = session

    def __enter__(self) -> TokenSession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        with suppress(p11.PKCS11Error):
            self.session.close()

    def __repr__(self) -> str:
        return f"<TokenSession {self.token.name!r}>"


def open_module(path: str | os.PathLike[str]) -> TokenModule:
    """Load and initialise the PKCS#11 module at ``path``. A file that is not one: TokenError
    ("token_module_not_pkcs11", exit 4), decided before the loader sees anything but a library."""
    refuse_mobile()
    module = check_module_file(path)
    try:
        lib = pkcs11.lib(str(module))
    except p11.PKCS11Error as exc:  # no C_GetFunctionList, a library for another machine, ...
        raise TokenError("token_module_not_pkcs11", path=str(module)) from exc
    except OSError as exc:
        raise TokenError("token_module_not_pkcs11", path=str(module)) from exc
    return TokenModule(module, lib)
