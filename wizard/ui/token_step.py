"""The wizard's keys-on-a-token path (issue #13), the part that talks to the token.

The navigator (wizard/ui/models/wizard.py) keeps one `TokenStep`: whether tokens can be used here
(the ``tokens`` extra installed, not a phone, a PKCS#11 module found), the tokens plugged in with
what they say of their PIN, and, once the PIN was accepted, the open module and its read-write
session, kept until the renewal ends or the person leaves (the PIN itself is dropped at once: the
session stays logged in). python-pkcs11 is imported only here, and only when a token is asked for.
"""

from __future__ import annotations

import importlib.util
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from wizard.errors import QoltanbaError, TokenAbsent, TokenError

# The wizard's storage kinds (model.STORAGE_KINDS) renewed on the token, with the storage the
# application names. An ID card's keys are re-written at a ЦОН (DOMAIN.md §1): not here.
TOKEN_KINDS = {"kaztoken": "kaztoken", "etoken": "etoken", "jacarta": "jacarta", "akey": "akey"}


@dataclass(frozen=True)
class FoundToken:
    """A token plugged in, as the PIN screen shows it."""

    serial: str
    name: str
    model: str
    module: Path
    pin: dict[str, Any]  # PinState.as_json(): initialized, tries, locked, factory_pin, ...
    info: Any  # wizard.keys.tokens.device.TokenInfo

    @property
    def pin_state(self) -> str:
        """locked, factory, final_try, count_low or ok: the one line said above the PIN field."""
        if self.pin["locked"]:
            return "locked"
        if self.pin["final_try"]:
            return "final_try"
        if self.pin["count_low"]:
            return "count_low"
        if self.pin["factory_pin"]:
            return "factory"
        return "ok"


class TokenStep:
    """What the wizard knows of the tokens here; ``modules`` None: the known paths searched."""

    def __init__(self, modules: tuple[Path, ...] | None = None) -> None:
        self._modules = modules
        self._supported: bool | None = None
        self.found: list[FoundToken] = []
        self.chosen: FoundToken | None = None
        self._module: Any = None
        self.session: Any = None  # TokenSession, read-write, logged in
        self.factory_typed = False  # the PIN that opened it is a factory one (or the token says)

    def supported(self) -> bool:
        """python-pkcs11 is installed, this is no phone, and a PKCS#11 module is here."""
        if self._supported is None:
            self._supported = bool(self._module_paths())
        return self._supported

    def _module_paths(self) -> list[Path]:
        from wizard.keys.tokens.modules import find_modules, refuse_mobile

        try:
            refuse_mobile()
        except TokenError:
            return []
        if importlib.util.find_spec("pkcs11") is None:
            return []
        if self._modules is not None:
            return [p for p in self._modules if p.is_file()]
        return [candidate.path for candidate in find_modules()]

    def scan(self) -> list[FoundToken]:
        """The tokens plugged in now (each once, whichever module shows it). An open session is
        closed first: python-pkcs11 loads a module once per process, and finalising it after the
        scan would end that session anyway."""
        from wizard.keys.tokens.device import open_module

        self.close()
        found: dict[tuple[str, str, str], FoundToken] = {}
        for path in self._module_paths():
            try:
                with open_module(path) as module:
                    tokens = module.tokens()
            except TokenError:
                continue  # a module found by discovery that will not load: another may
            for info in tokens:
                key = (info.manufacturer, info.serial, info.label)
                found.setdefault(
                    key,
                    FoundToken(
                        serial=info.serial,
                        name=info.name,
                        model=f"{info.manufacturer} {info.model}".strip(),
                        module=path,
                        pin=info.pin.as_json(),
                        info=info,
                    ),
                )
        self.found = list(found.values())
        if self.chosen is not None:
            self.chosen = next((t for t in self.found if t.serial == self.chosen.serial), None)
        if self.chosen is None and len(self.found) == 1:
            self.chosen = self.found[0]
        return self.found

    def choose(self, serial: str) -> None:
        self.chosen = next((t for t in self.found if t.serial == serial), self.chosen)

    def login(self, pin: str) -> list[Any]:
        """Log in to the chosen token (read-write: the new keys are made there) and read its NCA
        keys (TokenKeyStore). WrongPin only when the token says so; TokenLocked, TokenAbsent."""
        from wizard.keys.tokens.device import open_module
        from wizard.keys.tokens.keys import token_key_stores

        chosen = self.chosen
        if chosen is None:
            raise TokenAbsent("token_absent", token="-")  # noqa: S106 - a name, not a PIN
        self.close()
        module = open_module(chosen.module)
        try:
            info = module.refresh(chosen.info)
            session = module.login(info, pin, rw=True)
            try:
                stores = token_key_stores(session)
            except BaseException:
                session.close()
                raise
        except BaseException:
            module.close()
            raise
        from wizard.keys.tokens.device import is_factory_pin

        self._module, self.session = module, session
        self.factory_typed = is_factory_pin(session.token, pin)
        return stores

    def new_keys(self) -> Any:
        """The renewal's NewKeyHome on the logged-in token (wizard.renewal.token_home)."""
        from wizard.renewal.token_home import TokenHome

        if self.session is None:
            raise TokenAbsent("token_absent", token=self.chosen.name if self.chosen else "-")
        return TokenHome(self.session)

    def close(self) -> None:
        """Log out and let the module go (the renewal ended, or the person left it)."""
        session, module = self.session, self._module
        self.session = self._module = None
        if session is not None:
            with suppress(QoltanbaError, Exception):
                session.close()
        if module is not None:
            with suppress(QoltanbaError, Exception):
                module.close()
