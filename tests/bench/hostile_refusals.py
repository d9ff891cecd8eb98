"""Benchmark: how fast hostile stores are refused. The seeded corpus of tests/hostile (truncations,
bit flips, length and nesting bombs, iteration bombs, damage behind a valid MAC...) made from the
NCA test material, each case written to a file and opened with `open_store` and the right password.

Run from the project root:  python tests/bench/hostile_refusals.py [--cases N]
(default 600, or QOLTANBA_HOSTILE_CASES). Prints `name: value` lines; a refusal is a StoreError or
a WrongPassword; target: slowest_refusal_ms <= 1000. Any other exception ends the run with its
case named (that is a bug, not a measurement).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
for entry in (ROOT, ROOT / "tests" / "hostile"):
    if str(entry) not in sys.path:
        sys.path.insert(0, str(entry))  # runs from a checkout without installing the package

DEFAULT_CASES = 600


def main() -> None:
    from hostile_corpus import MATERIAL, PASSWORD, build_corpus, case_count, seed_stores

    from wizard.errors import StoreError, WrongPassword
    from wizard.keys.store import open_store

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=case_count(DEFAULT_CASES))
    args = parser.parse_args()
    if not MATERIAL.is_dir():
        raise SystemExit(f"the NCA test material is not at {MATERIAL}")
    corpus = build_corpus(seed_stores(MATERIAL), args.cases)
    refusals: list[float] = []
    opened: list[float] = []
    slowest_case = ""
    with tempfile.TemporaryDirectory(prefix="qoltanba-hostile-") as folder:
        path = Path(folder) / "store.p12"
        for case in corpus:
            path.write_bytes(case.data)
            started = time.perf_counter()
            try:
                open_store(path, PASSWORD)
            except (StoreError, WrongPassword):
                elapsed = (time.perf_counter() - started) * 1000
                if not refusals or elapsed > max(refusals):
                    slowest_case = case.id
                refusals.append(elapsed)
                continue
            except Exception as exc:
                raise SystemExit(f"{case.id}: {type(exc).__name__}: {exc}") from exc
            opened.append((time.perf_counter() - started) * 1000)
    print(f"cases: {len(corpus)}")
    print(f"refused: {len(refusals)}")
    print(f"opened: {len(opened)}")
    print(f"slowest_refusal_ms: {max(refusals):.2f}")
    print(f"median_refusal_ms: {statistics.median(refusals):.2f}")
    print(f"slowest_refusal_case: {slowest_case}")
    if opened:
        print(f"median_open_ms: {statistics.median(opened):.2f}")


if __name__ == "__main__":
    main()
