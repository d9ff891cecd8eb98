"""A seeded corpus of hostile stores made from the real NCA ones (tests/hostile/hostile_corpus.py):
every case opens, or is refused as StoreError or WrongPassword, within a second, without touching
the file, from a path and from bytes alike; a sample goes through the real command line, which
says one line and exits 3 or 4. QOLTANBA_HOSTILE_CASES=N runs N cases instead of 300."""

from __future__ import annotations

import hashlib
import io
import json
import time
import traceback
from collections import Counter

import pytest
from hostile_corpus import (
    DEFAULT_CASES,
    MUTATIONS,
    PASSWORD,
    build_corpus,
    case_count,
    seed_stores,
)

from wizard.errors import StoreError, WrongPassword
from wizard.keys.store import KeyStore, open_store, open_store_bytes

CASE_SECONDS = 1.0
CLI_SAMPLE = 20


@pytest.fixture(scope="module")
def seeds(material):
    return seed_stores(material)


@pytest.fixture(scope="module")
def corpus(seeds):
    return build_corpus(seeds, case_count())


def _outcome(func, *args, **kw) -> str:
    """ "open", the StoreError's or WrongPassword's code; any other exception propagates."""
    try:
        store = func(*args, **kw)
    except StoreError as error:
        assert error.exit_code == 4
        return f"store_error:{error.code}"
    except WrongPassword as error:
        assert error.exit_code == 3
        return f"wrong_password:{error.code}"
    assert isinstance(store, KeyStore)
    return "open"


def test_the_corpus_is_big_varied_and_repeatable(seeds, corpus):
    assert DEFAULT_CASES >= 300
    assert len(corpus) == case_count()
    if len(corpus) >= len(MUTATIONS):
        assert {case.kind for case in corpus} == set(MUTATIONS)
    assert len({case.id for case in corpus}) == len(corpus)
    assert {seed.name.split("/")[0] for seed in seeds} == {"gost2015-2026", "sdk2020"}
    # Seeded: built again, the very same bytes.
    again = build_corpus(seeds, min(len(corpus), 40))
    assert [c.data for c in again] == [c.data for c in corpus[:40]]


def test_every_case_opens_or_is_refused_cleanly(corpus, tmp_path):
    failures: list[str] = []
    outcomes: Counter[str] = Counter()
    slowest = 0.0
    path = tmp_path / "store.p12"
    for case in corpus:
        path.write_bytes(case.data)
        digest = hashlib.sha256(case.data).digest()
        for name, func, target in (
            ("open_store", open_store, path),
            ("open_store_bytes", open_store_bytes, case.data),
        ):
            started = time.perf_counter()
            try:
                outcome = _outcome(func, target, PASSWORD)
            except Exception as exc:  # the very thing this test looks for
                lines = traceback.format_exception_only(type(exc), exc)
                failures.append(f"{case.id} {name}: {''.join(lines).strip()}")
                continue
            elapsed = time.perf_counter() - started
            slowest = max(slowest, elapsed)
            if elapsed >= CASE_SECONDS:
                failures.append(f"{case.id} {name}: took {elapsed:.2f} s")
            outcomes[outcome.split(":")[0]] += 1
        if hashlib.sha256(path.read_bytes()).digest() != digest:
            failures.append(f"{case.id}: the file changed")
    assert not failures, "\n".join(failures[:40])
    # Both kinds of answer come up: the corpus is not all one easy refusal.
    assert outcomes["store_error"] > len(corpus) // 2
    if len(corpus) >= 100:
        assert outcomes["open"] > 0


def _cli(path, monkeypatch) -> tuple[int, str, str]:
    from wizard.cli import main

    monkeypatch.setenv("P", PASSWORD)
    out, err = io.StringIO(), io.StringIO()
    code = main(["inspect", str(path), "--password-env", "P", "--json"], out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def test_a_sample_through_the_command_line(corpus, tmp_path, monkeypatch):
    monkeypatch.setenv("QOLTANBA_LANG", "en")
    # A sample over every kind: the corpus takes the kinds in turn.
    sample = corpus[: min(CLI_SAMPLE, len(corpus))]
    codes = Counter()
    for case in sample:
        path = tmp_path / f"{case.id}.p12"
        path.write_bytes(case.data)
        code, out, err = _cli(path, monkeypatch)
        assert code in (0, 3, 4), (case.id, code, err)
        assert "Traceback" not in err + out, case.id
        if code == 0:
            assert err == "", case.id
            assert json.loads(out)["file"] == str(path)
        else:
            assert err.startswith("qoltanba: "), (case.id, err)
            assert err.endswith("\n") and err.count("\n") == 1, (case.id, err)
            assert json.loads(out)["error"], case.id
        assert path.read_bytes() == case.data
        codes[code] += 1
    assert codes[4] > 0
