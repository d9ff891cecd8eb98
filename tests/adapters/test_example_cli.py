"""The example adapter through the real command line (issue 10, "Done means"): installed by pip
through its entry point, `qoltanba authority list` shows it (and why it is unusable until told
where its server is), and `qoltanba renew --authority example` renews demo keys end to end. Posing
as a real authority, it issues from its own root: refused (exit 10) unless the adapter declares
that root, which the user then sees in the list. Every command is a real process; the example
server runs on 127.0.0.1, started here and stopping by itself."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from example_support import ExampleServer, ca_file, installed

from wizard.authority.mock.ca import DEMO_ROOT_NAME
from wizard.errors import CertificateRefused

ROOT = Path(__file__).resolve().parents[2]
OLD_PASSWORD = "Current2025ab"
NEW_PASSWORD = "Renewed2026cd"
EXIT_REFUSED = 10  # AuthorityProtocolError: CertificateRefused


@pytest.fixture
def env(tmp_path) -> dict[str, str]:
    installed()
    values = {**os.environ, "PYTHONPATH": str(ROOT), "QOLTANBA_HOME": str(tmp_path / "home")}
    values.update({"OLD": OLD_PASSWORD, "NEW": NEW_PASSWORD, "QOLTANBA_LANG": "en"})
    for name in ("QOLTANBA_EXAMPLE_AUTHORITY", "QOLTANBA_EXAMPLE_ROOTS", "QOLTANBA_TRUST"):
        values.pop(name, None)
    return values


def qoltanba(env: dict[str, str], *args: str, code: str | None = None):
    """One `qoltanba` process; ``code`` is typed on standard input once asked for."""
    return subprocess.run(
        [sys.executable, "-m", "wizard", *args],
        env=env,
        input=code + "\n" if code is not None else None,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def listing(env: dict[str, str]) -> dict[str, dict]:
    run = qoltanba(env, "authority", "list", "--json")
    assert run.returncode == 0, run.stderr
    return {entry["name"]: entry for entry in json.loads(run.stdout)["adapters"]}


def renew_args(current: Path, out: Path, *more: str) -> list[str]:
    args = ["renew", "--authority", "example", "--password-env", "OLD", "--new-password-env"]
    args += ["NEW", "--email", "holder@example.kz", "--locality", "Алматы", "--out", str(out)]
    for store in sorted(current.glob("*.p12")):
        args += ["--store", str(store)]
    return [*args, *more, "--json"]


def test_the_list_shows_the_installed_example_and_what_it_needs(env, tmp_path):
    before = listing(env)
    assert before["demo"]["usable"] and before["mock-http"]["usable"]
    example = before["example"]
    assert example["usable"] is False and not example["builtin"]
    assert "QOLTANBA_EXAMPLE_AUTHORITY" in example["reason"]
    text = qoltanba(env, "authority", "list")
    assert text.returncode == 0 and "example" in text.stdout and "unusable" in text.stdout
    env["QOLTANBA_EXAMPLE_AUTHORITY"] = "127.0.0.1:9"
    assert listing(env)["example"]["usable"] is True
    unknown = qoltanba(
        env,
        "demo-keys",
        "--authority",
        "nonesuch",
        "--out",
        str(tmp_path / "x"),
        "--password-env",
        "OLD",
    )
    assert unknown.returncode == 2 and "example" in unknown.stderr  # the ready ones are named


def test_renew_with_the_example_adapter_end_to_end(env, tmp_path):
    with ExampleServer(tmp_path / "books") as server:
        env["QOLTANBA_EXAMPLE_AUTHORITY"] = server.address
        current = tmp_path / "current"
        made = qoltanba(
            env,
            "demo-keys",
            "--authority",
            "example",
            "--out",
            str(current),
            "--password-env",
            "OLD",
        )
        assert made.returncode == 0, made.stderr
        out = tmp_path / "new-keys"
        run = qoltanba(env, *renew_args(current, out))
        assert run.returncode == 0, run.stderr + server.log()
        report = json.loads(run.stdout)
        assert report["status"] == "done" and report["application"]
        names = sorted(Path(f).name for f in report["files"])
        assert [n for n in names if n.endswith(".p12")] == sorted(p.name for p in out.glob("*.p12"))
        assert len([n for n in names if n.endswith(".cer")]) == 2  # issuing CA and root
        for store in out.glob("*.p12"):
            inspected = qoltanba(env, "inspect", str(store), "--password-env", "NEW", "--json")
            assert inspected.returncode == 0, inspected.stderr
            assert "DEMO" in json.loads(inspected.stdout)["issuer"]
        status = json.loads(qoltanba(env, "status", "--json").stdout)["renewals"]
        assert [(r["authority"], r["status"]) for r in status] == [("example", "done")]


def _production(tmp_path: Path, throwaway_ca) -> ExampleServer:
    return ExampleServer(
        tmp_path / "books",
        production=True,
        trust=(ca_file(throwaway_ca, tmp_path),),
        sms=tmp_path / "sms.jsonl",
    )


def _current_stores(throwaway_ca, folder: Path) -> Path:
    """A holder's current stores issued by the throwaway CA the production pose trusts."""
    from example_support import ca_holder

    from wizard.keys.writer import save_store

    holder = ca_holder(throwaway_ca)
    folder.mkdir()
    for usage, key in holder.keys.items():
        save_store(folder, key, holder.certificates[usage], OLD_PASSWORD)
    return folder


def _renew_typing_the_sms(env, server: ExampleServer, args: list[str]):
    """`renew --otp-stdin` as a person would run it: the code typed once the SMS arrives."""
    process = subprocess.Popen(
        [sys.executable, "-m", "wizard", *args, "--otp-stdin"],
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        _, code = server.code()
        out, err = process.communicate(code + "\n", timeout=120)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)
    return process.returncode, out, err


def _own_root(server: ExampleServer, folder: Path) -> Path:
    """The example authority's own RSA root, as its adapter's user would save it to declare it."""
    from qoltanba_example import ExampleAuthority

    host, port = server.address.rsplit(":", 1)
    info = asyncio.run(ExampleAuthority(host, int(port)).info())
    for der in info.ca_certificates:
        certificate = x509.load_der_x509_certificate(der)
        common_name = certificate.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)
        if common_name and common_name[0].value == DEMO_ROOT_NAME:
            path = folder / "example-root.cer"
            path.write_bytes(certificate.public_bytes(serialization.Encoding.DER))
            return path
    raise AssertionError("the example authority publishes no RSA root")


def test_a_non_demo_authority_whose_root_is_not_pinned_is_refused(env, tmp_path, throwaway_ca):
    with _production(tmp_path, throwaway_ca) as server:
        env["QOLTANBA_EXAMPLE_AUTHORITY"] = server.address
        current = _current_stores(throwaway_ca, tmp_path / "current")
        out = tmp_path / "new-keys"
        code, stdout, stderr = _renew_typing_the_sms(env, server, renew_args(current, out))
    assert code == EXIT_REFUSED, stderr
    report = json.loads(stdout)
    assert report["error"] == "certificate_refused" and report["application"]
    said = CertificateRefused(detail="untrusted_issuer").message("en")
    assert stderr == f"qoltanba: {said}\n"
    assert not list(out.glob("*.p12")) and not list(out.glob("*.cer"))  # nothing installed
    status = json.loads(qoltanba(env, "status", "--json").stdout)["renewals"]
    assert [(r["authority"], r["status"]) for r in status] == [("example", "refused")]


def test_a_root_the_adapter_declares_is_trusted_and_shown(env, tmp_path, throwaway_ca):
    with _production(tmp_path, throwaway_ca) as server:
        env["QOLTANBA_EXAMPLE_AUTHORITY"] = server.address
        root = _own_root(server, tmp_path)
        env["QOLTANBA_EXAMPLE_ROOTS"] = str(root)
        declared = listing(env)["example"]["roots"]
        digest = hashlib.sha256(root.read_bytes()).hexdigest()
        assert [r["sha256"] for r in declared] == [digest]
        assert DEMO_ROOT_NAME in declared[0]["subject"]
        current = _current_stores(throwaway_ca, tmp_path / "current")
        out = tmp_path / "new-keys"
        code, stdout, stderr = _renew_typing_the_sms(env, server, renew_args(current, out))
    assert code == 0, stderr
    report = json.loads(stdout)
    assert report["status"] == "done"
    cers = [Path(f) for f in report["files"] if f.endswith(".cer")]
    installed_roots = [x509.load_pem_x509_certificate(p.read_bytes()) for p in cers]
    assert root.read_bytes() in [
        c.public_bytes(serialization.Encoding.DER) for c in installed_roots
    ]
