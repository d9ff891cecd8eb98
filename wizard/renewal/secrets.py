"""Secrets that must survive a restart (an authority session token), behind one small interface:
the OS keyring on desktop, Flet secure storage on Android (both in wizard.ui.secrets), memory in
tests and where neither is available. The journal itself never holds a secret."""

from __future__ import annotations

from typing import Protocol


class SecretStore(Protocol):
    async def get(self, name: str) -> str | None: ...

    async def put(self, name: str, value: str) -> None: ...

    async def delete(self, name: str) -> None: ...


class MemorySecrets:
    """Kept for this run only (a restart logs in again with the authentication key)."""

    persistent = False

    def __init__(self) -> None:
        self._values: dict[str, str] = {}

    async def get(self, name: str) -> str | None:
        return self._values.get(name)

    async def put(self, name: str, value: str) -> None:
        self._values[name] = value

    async def delete(self, name: str) -> None:
        self._values.pop(name, None)

    def __repr__(self) -> str:  # never show the values
        return f"<MemorySecrets {len(self._values)} kept>"
