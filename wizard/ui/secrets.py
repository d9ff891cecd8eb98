"""Where secrets that must survive a restart go (see wizard.renewal.secrets): the OS keyring on
desktop, Flet secure storage (the platform keystore) on Android and iOS, memory when neither
is usable (a restart then logs in again with the authentication key)."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from wizard.renewal.secrets import MemorySecrets, SecretStore

SERVICE = "qoltanba"


class KeyringSecrets:
    """The OS keyring (Secret Service, macOS Keychain, Windows Credential Locker)."""

    persistent = True

    def __init__(self, backend: Any) -> None:
        self._backend = backend

    async def get(self, name: str) -> str | None:
        return await asyncio.to_thread(self._backend.get_password, SERVICE, name)

    async def put(self, name: str, value: str) -> None:
        await asyncio.to_thread(self._backend.set_password, SERVICE, name, value)

    async def delete(self, name: str) -> None:
        import keyring.errors

        with contextlib.suppress(keyring.errors.PasswordDeleteError):
            await asyncio.to_thread(self._backend.delete_password, SERVICE, name)


class FletSecrets:
    """Flet secure storage: Android Keystore / iOS Keychain through the Flet client."""

    persistent = True

    def __init__(self) -> None:
        from flet_secure_storage import SecureStorage

        self._storage = SecureStorage()

    async def get(self, name: str) -> str | None:
        return await self._storage.get(f"{SERVICE}.{name}")

    async def put(self, name: str, value: str) -> None:
        await self._storage.set(f"{SERVICE}.{name}", value)

    async def delete(self, name: str) -> None:
        await self._storage.remove(f"{SERVICE}.{name}")


def desktop_secret_store() -> SecretStore:
    """The keyring when it has a real backend here; memory otherwise (never a plain file)."""
    try:
        import keyring
        from keyring.backends import chainer, fail
    except ImportError:
        return MemorySecrets()
    backend = keyring.get_keyring()
    if isinstance(backend, fail.Keyring):
        return MemorySecrets()
    if isinstance(backend, chainer.ChainerBackend) and not backend.backends:
        return MemorySecrets()
    if getattr(backend, "priority", 0) < 1:
        return MemorySecrets()
    return KeyringSecrets(backend)
