"""A served mock authority on loopback for the authority tests (the contract suite's adapters are
in test_contract.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from authority_support import ServedAuthority


@pytest.fixture
def served(tmp_path) -> Iterator[ServedAuthority]:
    server = ServedAuthority(tmp_path / "served-authority").start()
    yield server
    server.stop()
