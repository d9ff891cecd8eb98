"""An example Qoltanba authority adapter, packaged as a third party would package one.

``--authority example`` talks to the example authority (server.py) over its own wire protocol,
JSON lines over TCP (wire.py), at the address in QOLTANBA_EXAMPLE_AUTHORITY (``127.0.0.1:PORT``;
the server prints it when it starts). QOLTANBA_EXAMPLE_ROOTS (files, path-separated) names root
certificates the adapter declares: `qoltanba authority list` shows them, and a renewal with a
non-demo example authority may chain to them besides the NCA's pinned roots.
"""

from __future__ import annotations

import os
from pathlib import Path

from wizard.authority.adapters import AuthorityAdapter, OpenOptions
from wizard.authority.connect import call_deadline_for
from wizard.errors import UsageError

from .client import ExampleAuthority

ADDRESS_VARIABLE = "QOLTANBA_EXAMPLE_AUTHORITY"
ROOTS_VARIABLE = "QOLTANBA_EXAMPLE_ROOTS"

__all__ = ["ExampleAdapter", "ExampleAuthority"]


def address() -> tuple[str, int] | None:
    """The example authority's (host, port) from QOLTANBA_EXAMPLE_AUTHORITY, or None."""
    host, _, port = os.environ.get(ADDRESS_VARIABLE, "").strip().rpartition(":")
    if host and port.isdigit() and 0 < int(port) < 65536:
        return host, int(port)
    return None


class ExampleAdapter(AuthorityAdapter):
    """What the entry point names (pyproject.toml: ``example = "qoltanba_example:ExampleAdapter"``):
    found by name, usable once it knows the server's address."""

    title = "Example authority: JSON lines over TCP (tests/adapters/example)"

    def describe(self, lang: str) -> str:
        titles = {
            "kk": "Мысал куәландырушы орталық: TCP арқылы JSON жолдары (tests/adapters/example)",
            "ru": "Пример удостоверяющего центра: строки JSON по TCP (tests/adapters/example)",
        }
        return titles.get(lang, self.title)

    def usable(self) -> str | None:
        if address() is None:
            return f"set {ADDRESS_VARIABLE}=127.0.0.1:PORT (the example server prints it)"
        return None

    def roots(self) -> tuple[bytes, ...]:
        paths = [p for p in os.environ.get(ROOTS_VARIABLE, "").split(os.pathsep) if p.strip()]
        return tuple(Path(path).read_bytes() for path in paths)

    def open(self, spec: str, options: OpenOptions) -> ExampleAuthority:
        found = address()
        if found is None:
            raise UsageError(detail=f"{ADDRESS_VARIABLE} is not set")
        host, port = found
        return ExampleAuthority(host, port, call_deadline=call_deadline_for(options.max_wait))
