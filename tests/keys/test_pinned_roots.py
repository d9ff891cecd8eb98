"""The NCA's production CA certificates shipped as package data (wizard/keys/data/nca-roots) are
exactly the public ones of ../shared/nca-roots: each file's SHA-256 matches the provenance table
there and the copy of it shipped beside the files, and the anchors are the roots valid now."""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from pathlib import Path

from cryptography.hazmat.primitives import serialization

from wizard.keys.anchors import pinned_anchors, pinned_certificates, pinned_intermediates

PROJECT = Path(__file__).resolve().parents[2]
SHIPPED = PROJECT / "wizard" / "keys" / "data" / "nca-roots"
SHARED = PROJECT.parent / "shared" / "nca-roots"
ROW = re.compile(r"^\|\s*(\S+\.cer)\s*\|.*\|\s*([0-9a-f]{64})\s*\|\s*$")


def table(readme: Path) -> dict[str, str]:
    """file -> SHA-256, from a README's markdown table."""
    rows = [ROW.match(line) for line in readme.read_text(encoding="utf-8").splitlines()]
    return {m.group(1): m.group(2) for m in rows if m}


def shared_table() -> dict[str, str]:
    readme = SHARED / "README.md"
    assert readme.is_file(), f"{readme} is needed: the public NCA roots, with their provenance"
    return table(readme)


def test_every_shipped_file_matches_the_provenance_table():
    expected = shared_table()
    assert len(expected) == 9, expected
    shipped = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in SHIPPED.glob("*.cer")}
    assert shipped == expected
    # The README shipped beside them carries the same table.
    assert table(SHIPPED / "README.md") == expected


def test_the_loader_reads_them_all_as_certificates():
    loaded = {p.file: p for p in pinned_certificates()}
    assert set(loaded) == {p.name for p in SHIPPED.glob("*.cer")}
    for name, pinned in loaded.items():
        assert pinned.sha256 == hashlib.sha256((SHIPPED / name).read_bytes()).hexdigest()
        assert pinned.certificate.public_bytes(serialization.Encoding.DER) == pinned.der


def test_the_anchors_are_the_roots_valid_at_the_moment_asked():
    def names(certificates):
        return {c.subject.rfc4514_string() for c in certificates}

    inside = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)
    roots = {p.file for p in pinned_certificates() if p.is_root}
    assert roots == {f"root_{n}.cer" for n in ("rsa", "rsa_2020", "gost", "gost_2020", "gost_2022")}
    now_anchors = pinned_anchors(inside)
    assert all(c.subject == c.issuer for c in now_anchors)
    by_file = {p.file: p.certificate for p in pinned_certificates()}
    assert names(now_anchors) == names(
        [by_file["root_rsa_2020.cer"], by_file["root_gost_2020.cer"], by_file["root_gost_2022.cer"]]
    )
    # Before the 2015 roots expired they counted too; after 2045 none does.
    assert by_file["root_rsa.cer"] in pinned_anchors(dt.datetime(2024, 1, 1, tzinfo=dt.UTC))
    assert pinned_anchors(dt.datetime(2046, 1, 1, tzinfo=dt.UTC)) == []
    assert {c.subject == c.issuer for c in pinned_intermediates()} == {False}
