"""Finding the PKCS#11 module, refusing what is not one (one translated line, exit 4), and saying
that phones have no tokens. Also: the token code is never loaded by the file commands."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from wizard.errors import TokenError
from wizard.i18n import LANGUAGES
from wizard.keys.tokens import modules

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def test_every_desktop_platform_knows_the_vendors_modules():
    for system in ("linux", "windows", "macos"):
        vendors = {c.vendor for c in modules.candidates(system)}
        assert {"etoken", "jacarta", "opensc", "softhsm2"} <= vendors, system
    linux = modules.candidates("linux")
    assert linux[-1].vendor == "p11-kit"  # the proxy last: it repeats every registered module
    assert any(str(c.path).endswith("libeTPkcs11.so") for c in linux)
    assert any(str(c.path).endswith("jcPKCS11-2.dll") for c in modules.candidates("windows"))


def test_p11_kit_registry_is_read(tmp_path, monkeypatch):
    registry = tmp_path / "modules"
    registry.mkdir()
    (registry / "kaztoken.module").write_text("# vendor\nmodule: /opt/kaztoken/libk.so\n")
    (registry / "relative.module").write_text("module: vendor-pkcs11.so\n")
    found = modules._registered((str(registry),))
    assert modules.ModuleCandidate("kaztoken", Path("/opt/kaztoken/libk.so")) in found
    assert any(c.vendor == "relative" and c.path.name == "vendor-pkcs11.so" for c in found)


def test_find_modules_keeps_what_exists_once(tmp_path, monkeypatch):
    real = tmp_path / "libsofthsm2.so"
    real.write_bytes(b"\x7fELF")
    link = tmp_path / "link.so"
    link.symlink_to(real)
    fake = {"linux": {"softhsm2": (str(real), str(link), str(tmp_path / "absent.so"))}}
    monkeypatch.setattr(modules, "KNOWN_MODULES", fake)
    monkeypatch.setattr(modules, "P11_KIT_REGISTRIES", ())
    monkeypatch.setattr(modules, "_registered", lambda: [])
    assert [c.path for c in modules.find_modules("linux")] == [real]


@pytest.mark.parametrize("system", ["android", "ios"])
def test_phones_have_no_tokens(system):
    with pytest.raises(TokenError) as refused:
        modules.candidates(system)
    assert refused.value.code == "tokens_not_on_mobile" and refused.value.exit_code == 4
    for lang in LANGUAGES:
        assert "PKCS#11" in refused.value.message(lang)


def test_tokens_command_on_android_says_so(qoltanba, monkeypatch):
    monkeypatch.setattr(modules, "platform_name", lambda: "android")
    run = qoltanba("--lang", "en", "tokens")
    assert run.code == 4 and "Android" in run.err and run.err.count("\n") == 1


def _not_modules(tmp_path: Path) -> list[Path]:
    text = tmp_path / "notes.so"
    text.write_text("not a library\n")
    empty = tmp_path / "empty.so"
    empty.write_bytes(b"")
    folder = tmp_path / "folder.so"
    folder.mkdir()
    # A real shared library that is no PKCS#11 module (no C_GetFunctionList): libpython or
    # the interpreter itself, whichever this build has.
    candidates = [Path(sys.executable).resolve()]
    libdir = Path(sys.base_prefix) / "lib"
    candidates += sorted(libdir.glob("libpython3*.so*"))
    return [text, empty, folder, candidates[-1]]


def test_a_file_that_is_not_a_pkcs11_module_is_one_line_exit_4(qoltanba, tmp_path, pkcs11_lib):
    for path in _not_modules(tmp_path):
        for argv in (["tokens"], ["inspect", "--token", "--pin-env", "P"]):
            lines = set()
            for lang in LANGUAGES:
                run = qoltanba("--lang", lang, *argv, "--module", path, env={"P": "12345678"})
                assert run.code == 4, (path, run)
                assert run.err.count("\n") == 1 and "Traceback" not in run.err
                assert str(path) in run.err
                lines.add(run.err)
            assert len(lines) == len(LANGUAGES)
    missing = qoltanba("--lang", "en", "tokens", "--module", tmp_path / "absent.so", "--json")
    assert missing.code == 4 and json.loads(missing.out)["error"] == "token_module_missing"


def test_file_commands_never_import_the_token_code(tmp_path):
    """`import wizard.cli`, a file `demo-keys` and `renew`, and `inspect` load neither
    python-pkcs11 nor wizard.keys.tokens (the token code costs the file path nothing)."""
    script = """
import io, os, sys, glob
from wizard.cli import main
assert main(["demo-keys", "--out", "cur", "--password-env", "OLD"], out=io.StringIO()) == 0
stores = sorted(glob.glob("cur/*.p12"))
argv = ["renew", "--password-env", "OLD", "--new-password-env", "NEW", "--email", "a@b.kz",
        "--locality", "Almaty", "--out", "new"]
for store in stores:
    argv += ["--store", store]
assert main(argv, out=io.StringIO()) == 0, "renew"
assert main(["inspect", stores[0], "--password-env", "OLD", "--json"], out=io.StringIO()) == 0
loaded = sorted(m for m in sys.modules if m == "pkcs11" or m.startswith(("pkcs11.",
                "wizard.keys.tokens", "wizard.tokens_cli", "wizard.renewal.token_home")))
print("LOADED", loaded)
"""
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={
            **os.environ,
            "PYTHONPATH": str(PROJECT_ROOT),
            "QOLTANBA_HOME": str(tmp_path / "home"),
            "OLD": "Demo2026keys",
            "NEW": "Fresh2026Keys",
        },
        check=False,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "LOADED []" in result.stdout, result.stdout


def test_without_the_extra_the_token_commands_say_how_to_install_it(tmp_path):
    script = """
import io, sys
sys.modules["pkcs11"] = None  # as if python-pkcs11 were not installed
from wizard.cli import main
for argv in (["tokens"], ["inspect", "--token", "--pin-env", "P"],
             ["demo-keys", "--token", "--pin-env", "P"],
             ["renew", "--token", "--pin-env", "P", "--email", "a@b.kz", "--locality", "X"]):
    err = io.StringIO()
    code = main(["--lang", "en", *argv, "--module", sys.executable], out=io.StringIO(), err=err)
    print("RESULT", code, err.getvalue().strip())
"""
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={
            **os.environ,
            "PYTHONPATH": str(PROJECT_ROOT),
            "P": "12345678",
            "QOLTANBA_HOME": str(tmp_path / "home"),
        },
        check=False,
        timeout=120,
    )
    lines = [line for line in result.stdout.splitlines() if line.startswith("RESULT")]
    assert len(lines) == 4, result.stdout + result.stderr
    for line in lines:
        assert line.startswith("RESULT 4 ") and 'pip install "qoltanba[tokens]"' in line, line
