"""What the wizard's models need from the outside world (the home folder, the authority, the
clock, where secrets and new keys go); tests pass their own."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from wizard.keys.certificate import utc_now
from wizard.renewal.journal import RenewalJournal
from wizard.renewal.secrets import MemorySecrets, SecretStore


@dataclass
class Services:
    """What the model needs from the outside world; tests pass their own."""

    home: Path
    authority: str = "demo"  # "demo" or a URL
    secrets: SecretStore = field(default_factory=MemorySecrets)
    clock: Callable[[], datetime] = utc_now
    keys_root: Path | None = None  # where new folders are proposed
    token_modules: tuple[Path, ...] | None = None  # PKCS#11 modules; None: the known paths
    max_wait: float = 3.0  # one status poll's patience before the screen refreshes by itself
    demo_days_left: int = 20

    def journal(self) -> RenewalJournal:
        return RenewalJournal(self.home / "journal.sqlite3")

    def open_authority(self, spec: str):
        from wizard.authority.connect import open_authority

        return open_authority(spec, self.home)

    def authorities(self, lang: str) -> list[Any]:
        """The installed authority adapters (`qoltanba authority list`'s), usable ones first."""
        from wizard.authority.adapters import available_authorities

        return available_authorities(lang)

    def resolve(self, spec: str) -> Any:
        """The adapter ``spec`` names or whose address it is (UsageError when none)."""
        from wizard.authority.adapters import resolve

        return resolve(spec)

    def trust_for(self, spec: str) -> Any:
        """What certificates from ``spec``'s authority must chain to: the demo's DEMO roots, or
        the pinned NCA roots and those the adapter declares (renewal/trust.py)."""
        from wizard.renewal.trust import RenewalTrust

        return RenewalTrust(declared_roots=self.resolve(spec).roots())

    def saved_language(self) -> str | None:
        """The language the person chose here before (prefs.json under the home), if any."""
        from wizard.renewal.prefs import saved_language

        return saved_language(self.home)

    def remember_language(self, lang: str) -> None:
        from wizard.renewal.prefs import save_language

        save_language(self.home, lang)

    def default_keys_root(self) -> Path:
        if self.keys_root is not None:
            return self.keys_root
        if os.environ.get("QOLTANBA_HOME"):
            return self.home / "keys"
        from platformdirs import user_documents_path

        return user_documents_path() / "Qoltanba"
