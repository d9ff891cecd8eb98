"""Benchmark: our pure-Python GOST R 34.10-2015 512 (wizard.keys.gost) against PyPI's gostcrypto.

Run from the project root:  python tests/bench/gost_vs_gostcrypto.py

Every figure is a median in milliseconds.  Signing and verifying include the Streebog-512 hash of
a 100-byte message on both sides.  ``tables_ms`` is the one-off cost of building the generator
tables on first use (excluded from the other figures); ``import_ms`` is a cold
``import wizard.keys.gost`` in a fresh interpreter.  Without gostcrypto its lines say ``n/a``.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # runs from a checkout without installing the package

MESSAGE = os.urandom(100)


def median_ms(fn: Callable[[], object], repeat: int) -> float:
    """Median wall time of ``fn`` over ``repeat`` calls, in milliseconds."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def import_ms(repeat: int = 7) -> float:
    """Median cold import time of wizard.keys.gost, each in a fresh interpreter."""
    code = (
        "import time; t = time.perf_counter(); import wizard.keys.gost; "
        "print((time.perf_counter() - t) * 1000)"
    )
    runs = []
    for _ in range(repeat):
        out = subprocess.run(
            [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
        )
        runs.append(float(out.stdout))
    return statistics.median(runs)


def bench_ours() -> dict[str, float]:
    from wizard.keys.gost import curve, gost3410

    start = time.perf_counter()
    curve.precompute()
    tables = (time.perf_counter() - start) * 1000
    d, pub = gost3410.generate_keypair()
    sig = gost3410.sign(d, MESSAGE)
    assert gost3410.verify(pub, MESSAGE, sig)
    return {
        "tables_ms": tables,
        "sign_ms": median_ms(lambda: gost3410.sign(d, MESSAGE), 300),
        "verify_ms": median_ms(lambda: gost3410.verify(pub, MESSAGE, sig), 150),
        "keygen_ms": median_ms(gost3410.generate_keypair, 300),
    }


def bench_gostcrypto() -> dict[str, float] | None:
    try:
        import gostcrypto
        from gostcrypto.gostsignature.gost_34_10_2012 import CURVES_R_1323565_1_024_2019
    except ImportError:
        print("gostcrypto is not installed (pip install gostcrypto)", file=sys.stderr)
        return None
    signer = gostcrypto.gostsignature.new(
        gostcrypto.gostsignature.MODE_512,
        CURVES_R_1323565_1_024_2019["id-tc26-gost-3410-12-512-paramSetA"],
    )
    private = bytearray(os.urandom(32).rjust(64, b"\x00"))  # any scalar below q will do
    public = signer.public_key_generate(private)

    def digest() -> bytearray:
        return gostcrypto.gosthash.new("streebog512", data=bytearray(MESSAGE)).digest()

    sig = signer.sign(private, digest())
    assert signer.verify(public, digest(), sig)
    return {
        "gostcrypto_sign_ms": median_ms(lambda: signer.sign(private, digest()), 9),
        "gostcrypto_verify_ms": median_ms(lambda: signer.verify(public, digest(), sig), 7),
    }


def main() -> None:
    cold_import = import_ms()
    ours = bench_ours()
    theirs = bench_gostcrypto()
    print(f"import_ms: {cold_import:.2f}")
    print(f"tables_ms: {ours['tables_ms']:.2f}")
    for name in ("sign_ms", "verify_ms", "keygen_ms"):
        print(f"{name}: {ours[name]:.2f}")
    if theirs is None:
        for name in ("gostcrypto_sign_ms", "gostcrypto_verify_ms", "sign_ratio", "verify_ratio"):
            print(f"{name}: n/a")
        return
    print(f"gostcrypto_sign_ms: {theirs['gostcrypto_sign_ms']:.2f}")
    print(f"gostcrypto_verify_ms: {theirs['gostcrypto_verify_ms']:.2f}")
    print(f"sign_ratio: {theirs['gostcrypto_sign_ms'] / ours['sign_ms']:.1f}")
    print(f"verify_ratio: {theirs['gostcrypto_verify_ms'] / ours['verify_ms']:.1f}")


if __name__ == "__main__":
    main()
