"""The done screen's model: the new keys installed (where, until when, the application), which of
them can be saved elsewhere (the save row, wizard/ui/save_row.py, saves them), the expiry
reminders for a calendar, and revoking the old keys at the authority (the NCA's advice).
Made anew with every renewal."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from wizard.errors import QoltanbaError, UsageError
from wizard.renewal.journal import Renewal
from wizard.ui.models.common import Message, Step, guard_entry_points

if TYPE_CHECKING:
    from wizard.ui.models.wizard import WizardModel


@guard_entry_points
class Done(Step):
    """Public attributes are what the done screen shows; methods are what its buttons do."""

    def __init__(self, wizard: WizardModel) -> None:
        super().__init__(wizard)
        # folder, files, not_after (ISO), application; token (serial, name) for keys on a token
        self.result: dict[str, Any] = {}
        self.old_keys_revoked: Message | None = None
        self.revoke_error: Message | None = None
        # "Revoke the old keys?" asked: it cannot be undone, so it is confirmed first
        self.revoke_asked = False

    def _show(self, renewal: Renewal) -> None:
        installed = renewal.record.installed
        not_after = installed.not_after if installed else None
        result: dict[str, Any] = {
            "folder": str(renewal.folder or ""),
            "files": list(installed.files if installed else ()),
            "not_after": not_after.isoformat() if not_after else None,
            "application": renewal.application,
        }
        if renewal.record.origin.token:  # the new keys are on a token: the done screen names it
            chosen = self._wizard.tokens.chosen
            name = chosen.name if chosen is not None else ""
            result["token"] = {"serial": renewal.record.origin.token, "name": name}
        self.result = result

    @property
    def on_token(self) -> bool:
        """The new keys are on a token: no file to save, the done screen names the token."""
        return bool(self.result.get("token"))

    @property
    def folder(self) -> Path | None:
        """The folder of the new keys (None on a token, or before a result)."""
        folder = self.result.get("folder")
        return Path(folder) if folder and not self.on_token else None

    @property
    def key_files(self) -> list[str]:
        """The new key stores' names (none on a token: the keys never leave it)."""
        return [n for n in self._names() if not n.lower().endswith(".cer")]

    @property
    def ca_files(self) -> list[str]:
        """The authority's CA certificates installed beside the new stores."""
        return [n for n in self._names() if n.lower().endswith(".cer")]

    @property
    def saveable(self) -> list[str]:
        """What the save row may offer: the new stores and CA certificates (read_export refuses
        anything else, a PENDING_* key among them), nothing for keys on a token."""
        return self.key_files + self.ca_files

    def _names(self) -> list[str]:
        if self.on_token:
            return []
        return [Path(str(name)).name for name in self.result.get("files", [])]

    @property
    def new_not_after(self) -> datetime | None:
        value = self.result.get("not_after")
        return datetime.fromisoformat(value) if value else None

    # --- the expiry reminders (.ics) -----------------------------------------------------------

    def calendar_file(self) -> tuple[str, bytes]:
        """The expiry reminders (.ics) of the new keys: a month, two weeks and a week before."""
        from wizard.renewal.reminders import expiry_calendar

        wizard = self._wizard
        not_after = self.new_not_after
        if not_after is None:
            raise UsageError("no_result")
        data = expiry_calendar(
            not_after,
            title=wizard.t("done.calendar_title"),
            description=wizard.t("done.calendar_description", date=wizard.format_date(not_after)),
            key_id=self.result.get("application") or "",
            now=wizard._services.clock(),
        )
        return f"qoltanba-{not_after.date().isoformat()}.ics", data

    async def save_calendar(self, save: Callable[[str, bytes], Awaitable[bool]]) -> bool:
        """Offer the expiry reminders (.ics) to save; True once saved (offered once for a double
        click)."""
        async with self._presses.once("calendar") as go:
            if not go:
                return False
            name, data = self.calendar_file()
            return bool(await save(name, data))

    # --- revoke the old keys at the authority --------------------------------------------------

    @property
    def can_revoke_old(self) -> bool:
        """The old keys are open in this window and have not been revoked here yet."""
        current = self._wizard.keys._current
        return (
            current is not None
            and self.old_keys_revoked is None
            and any(s.private_key is not None for s in current.stores.values())
        )

    def ask_revoke(self) -> None:
        """ "Revoke the old keys at the authority": ask to confirm first (it cannot be undone)."""
        if self.can_revoke_old and not self._wizard.busy:
            self.revoke_error = None
            self.revoke_asked = True

    def keep_old_keys(self) -> None:
        """The confirmation answered "no": nothing changes."""
        self.revoke_asked = False

    async def revoke_old_keys(self) -> None:
        """Revoke the current (old) keys at the authority, signed with them; its OCSP and CRLs
        then say "revoked" for them."""
        from wizard.authority.interface import RevokingAuthority
        from wizard.authority.revocation import signed_revocation
        from wizard.errors import AuthorityProtocolError

        wizard = self._wizard
        self.revoke_asked = False
        if not self.can_revoke_old or wizard.busy:
            return
        wizard.busy = True
        self.revoke_error = None
        wizard.notify()
        try:
            authority = await wizard._open_authority()
            if not isinstance(authority, RevokingAuthority):
                raise AuthorityProtocolError("revocation_unavailable")
            stores = list(wizard.keys._current.stores.values())
            request = await asyncio.to_thread(signed_revocation, stores)
            serials = await authority.revoke(request)
            self.old_keys_revoked = Message("done.revoked_old", {"count": len(serials)})
        except QoltanbaError as error:
            self.revoke_error = Message.of(error)
        finally:
            wizard.busy = False
