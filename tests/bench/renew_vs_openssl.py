"""Benchmark: a whole demo RSA renewal through `qoltanba renew` against the OpenSSL command line
doing the same cryptographic work (2 key pairs, 2 requests, 2 certificates signed by a CA,
2 legacy PKCS#12 stores), alternated in one run. Also the command's import time (wizard.cli alone,
then with everything a demo renewal imports) and its peak memory.

Both sides do that work and more on ours (the renewal also opens the current stores, encrypts the
pending keys, signs and checks CMS, verifies and re-opens what it writes, keeps its journal). One
difference in shape: `renew` makes its RSA key pairs in a worker thread while it loads the
authority (OpenSSL generates them outside the GIL), so on a machine with a free second core that
time overlaps; the OpenSSL side is one process after another, as a script would run them.

Run from the project root: python tests/bench/renew_vs_openssl.py [--rounds N]
Prints `name: value` lines; target: renew_vs_openssl_ratio <= 1.0, peak_memory_mb <= 100.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "Demo2026keys"
NEW_PASSWORD = "Fresh2026Keys"
SUBJECT = "/CN=DEMO BENCH/SN=DEMO/serialNumber=IIN900101400013/C=KZ"


def run(cmd: list[str], env: dict[str, str], cwd: Path | None = None) -> None:
    result = subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise SystemExit(f"failed: {' '.join(cmd)}\n{result.stdout}\n{result.stderr}")


def qoltanba(env: dict[str, str], *args: str) -> None:
    run([sys.executable, "-m", "wizard", *args], env)


def genrsa(path: Path, env: dict[str, str]) -> None:
    run(
        [
            "openssl",
            "genpkey",
            "-algorithm",
            "RSA",
            "-pkeyopt",
            "rsa_keygen_bits:2048",
            "-out",
            str(path),
        ],
        env,
    )


def openssl_ca(work: Path, env: dict[str, str]) -> None:
    """A CA made once, outside the timing, as the authority's own CA would be."""
    genrsa(work / "ca.key", env)
    run(
        [
            "openssl",
            "req",
            "-x509",
            "-new",
            "-key",
            str(work / "ca.key"),
            "-subj",
            "/CN=BENCH CA",
            "-days",
            "3650",
            "-out",
            str(work / "ca.pem"),
        ],
        env,
    )


def openssl_round(work: Path, env: dict[str, str]) -> float:
    """The same cryptographic work as one renewal, through the OpenSSL command line."""
    start = time.perf_counter()
    for usage in ("auth", "sign"):
        key, csr, cert, p12 = (work / f"{usage}.{ext}" for ext in ("key", "csr", "pem", "p12"))
        for path in (key, csr, cert, p12):
            path.unlink(missing_ok=True)
        genrsa(key, env)
        run(["openssl", "req", "-new", "-key", str(key), "-subj", SUBJECT, "-out", str(csr)], env)
        run(
            [
                "openssl",
                "x509",
                "-req",
                "-in",
                str(csr),
                "-CA",
                str(work / "ca.pem"),
                "-CAkey",
                str(work / "ca.key"),
                "-CAcreateserial",
                "-days",
                "365",
                "-out",
                str(cert),
            ],
            env,
        )
        run(
            [
                "openssl",
                "pkcs12",
                "-export",
                "-legacy",
                "-inkey",
                str(key),
                "-in",
                str(cert),
                "-out",
                str(p12),
                "-passout",
                "env:NEW_PASSWORD",
            ],
            env,
        )
    return time.perf_counter() - start


def demo_renewal(work: Path, env: dict[str, str], label: str) -> list[str]:
    """Fresh demo current keys (untimed) and the `renew` arguments that renew them."""
    current = work / f"current-{label}"
    qoltanba(env, "demo-keys", "--out", str(current), "--password-env", "PASSWORD")
    args = [
        "renew",
        "--password-env",
        "PASSWORD",
        "--new-password-env",
        "NEW_PASSWORD",
        "--email",
        "bench@example.kz",
        "--locality",
        "Almaty",
        "--out",
        str(work / f"new-{label}"),
        "--authority",
        "demo",
    ]
    for store in sorted(current.glob("*.p12")):
        args += ["--store", str(store)]
    return args


def qoltanba_round(work: Path, env: dict[str, str], index: int) -> float:
    args = demo_renewal(work, env, str(index))
    start = time.perf_counter()
    qoltanba(env, *args)
    return time.perf_counter() - start


# What a demo `renew` imports besides wizard.cli: its handler imports these when it runs.
RENEW_MODULES = (
    "asyncio",
    "wizard.keys.store",
    "wizard.renewal.journal",
    "wizard.renewal.keys_ahead",
    "wizard.renewal.process",
    "wizard.authority.client",
    "wizard.authority.mock",
)


def import_ms(env: dict[str, str], modules: tuple[str, ...] = ()) -> float:
    """Import time of the command line module (what every `qoltanba` call pays), and of
    ``modules`` besides (what a demo `renew` pays before it does any work)."""

    def timed(code: str) -> float:
        samples = []
        for _ in range(5):
            start = time.perf_counter()
            run([sys.executable, "-c", code], env)
            samples.append(time.perf_counter() - start)
        return statistics.median(samples)

    code = "; ".join(f"import {m}" for m in ("wizard.cli", *modules))
    return max(0.0, timed(code) - timed("pass")) * 1000


def peak_memory_mb(work: Path, env: dict[str, str]) -> float:
    """Peak resident memory of one `qoltanba renew` process (measured in a child of its own)."""
    probe = (
        "import resource, subprocess, sys; "
        "subprocess.run(sys.argv[1:], check=True, capture_output=True); "
        "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
    )
    cmd = [
        sys.executable,
        "-c",
        probe,
        sys.executable,
        "-m",
        "wizard",
        *demo_renewal(work, env, "mem"),
    ]
    result = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True)
    return int(result.stdout.strip()) / 1024  # Linux reports KiB


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=7)
    rounds = parser.parse_args().rounds
    with tempfile.TemporaryDirectory(prefix="qoltanba-bench-") as tmp:
        work = Path(tmp)
        env = {
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "QOLTANBA_HOME": str(work / "home"),
            "PASSWORD": PASSWORD,
            "NEW_PASSWORD": NEW_PASSWORD,
        }
        # Measure the command as installed: pip compiles an installed package's modules.
        run([sys.executable, "-m", "compileall", "-q", str(ROOT / "wizard")], env)
        env_compiled = {k: v for k, v in env.items() if k != "PYTHONDONTWRITEBYTECODE"}
        env = env_compiled
        openssl_ca(work, env)
        qoltanba_round(work, env, -1)  # warm-up: creates the demo authority's CAs once
        ours, theirs, ratios = [], [], []
        for index in range(rounds):  # alternated, so both see the same machine state
            a = qoltanba_round(work, env, index)
            b = openssl_round(work, env)
            ours.append(a)
            theirs.append(b)
            ratios.append(a / b)
        print(f"renew_ms: {statistics.median(ours) * 1000:.1f}")
        print(f"openssl_ms: {statistics.median(theirs) * 1000:.1f}")
        print(f"renew_vs_openssl_ratio: {statistics.median(ratios):.2f}")
        print(f"import_ms: {import_ms(env):.1f}")
        print(f"renew_import_ms: {import_ms(env, RENEW_MODULES):.1f}")
        print(f"peak_memory_mb: {peak_memory_mb(work, env):.1f}")


if __name__ == "__main__":
    main()
