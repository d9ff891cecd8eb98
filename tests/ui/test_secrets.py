"""Secrets behind one small interface: the keyring when it has a real backend, memory otherwise;
the renewal's authority session goes there and comes back after a restart."""

from __future__ import annotations

import asyncio

import keyring
from keyring.backend import KeyringBackend
from keyring.backends import fail

from wizard.renewal.secrets import MemorySecrets
from wizard.ui.secrets import KeyringSecrets, desktop_secret_store


class DictKeyring(KeyringBackend):
    priority = 5

    def __init__(self) -> None:
        super().__init__()
        self.values: dict[tuple[str, str], str] = {}

    def get_password(self, service, username):
        return self.values.get((service, username))

    def set_password(self, service, username, password):
        self.values[(service, username)] = password

    def delete_password(self, service, username):
        import keyring.errors

        if (service, username) not in self.values:
            raise keyring.errors.PasswordDeleteError(username)
        del self.values[(service, username)]


def test_keyring_round_trip_and_delete_of_a_missing_one():
    backend = DictKeyring()
    store = KeyringSecrets(backend)

    async def run():
        await store.put("session:demo:1", "token")
        assert await store.get("session:demo:1") == "token"
        await store.delete("session:demo:1")
        await store.delete("session:demo:1")  # already gone: not an error
        return await store.get("session:demo:1")

    assert asyncio.run(run()) is None
    assert backend.values == {}


def test_no_real_keyring_means_memory(monkeypatch):
    monkeypatch.setattr(keyring, "get_keyring", lambda: fail.Keyring())
    assert isinstance(desktop_secret_store(), MemorySecrets)
    monkeypatch.setattr(keyring, "get_keyring", DictKeyring)
    assert isinstance(desktop_secret_store(), KeyringSecrets)


def test_memory_secrets_never_show_their_values():
    store = MemorySecrets()
    asyncio.run(store.put("session", "s3cr3t"))
    assert "s3cr3t" not in repr(store)
