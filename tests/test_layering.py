"""Layering: the core (wizard.keys, wizard.renewal) never loads the UI (Flet) or the network
stack (httpx), and neither does the `qoltanba inspect` command.

Each check runs in a fresh interpreter with an import hook that records every attempt to import a
forbidden package, so it holds whether or not that package is installed here."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parents[1]
PASSWORD = "Qwerty12"  # README of the material: the password of every .p12 there
FORBIDDEN = ("flet", "httpx")
CORE = ("wizard.keys", "wizard.renewal")

# Prepended to every child script: refuse and record any import of a forbidden package.
GUARD = f"""
import importlib.abc, json, sys
FORBIDDEN = {FORBIDDEN!r}
attempts = []

class Guard(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in FORBIDDEN:
            attempts.append(name)
            raise ImportError(f"layering test: {{name}} must not be imported here")
        return None

sys.meta_path.insert(0, Guard())

def report(extra):
    loaded = sorted(m for m in sys.modules if m.split(".")[0] in FORBIDDEN)
    sys.__stdout__.write("\\nLAYERING " + json.dumps({{"attempts": attempts, "loaded": loaded,
                                                     **extra}}) + "\\n")
"""


def _run_child(body: str, *, env: dict[str, str] | None = None) -> tuple[dict, str]:
    script = GUARD + body
    result = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        cwd=PROJECT_ROOT,
        env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT), **(env or {})},
        check=False,
        timeout=120,
    )
    lines = [line for line in result.stdout.splitlines() if line.startswith("LAYERING ")]
    assert lines, result.stdout + result.stderr
    return json.loads(lines[-1].removeprefix("LAYERING ")), result.stdout + result.stderr


def test_the_guard_sees_an_attempt():
    found, _ = _run_child(
        """
try:
    import httpx  # noqa: F401
except ImportError:
    pass
report({})
"""
    )
    assert found["attempts"] == ["httpx"] and found["loaded"] == []


def test_importing_every_core_module_loads_neither_flet_nor_httpx():
    body = f"""
import importlib, pkgutil, traceback
imported, failed = [], {{}}
for package_name in {CORE!r}:
    package = importlib.import_module(package_name)
    imported.append(package_name)
    for info in pkgutil.walk_packages(package.__path__, package_name + "."):
        try:
            importlib.import_module(info.name)
            imported.append(info.name)
        except Exception:
            failed[info.name] = traceback.format_exc(limit=3)
report({{"imported": imported, "failed": failed}})
"""
    found, _ = _run_child(body)
    assert found["attempts"] == [], found
    assert found["loaded"] == [], found
    assert found["failed"] == {}, found["failed"]
    # The walk really walked: the modules we know of were imported.
    for module in ("wizard.keys.pkcs12", "wizard.keys.store", "wizard.keys.verdict"):
        assert module in found["imported"], found["imported"]


def _imports(path: Path) -> list[tuple[int, str]]:
    """Every module name a file imports, statically: import statements (also inside functions)
    and importlib.import_module / __import__ calls with a literal name."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.lineno, node.module))
        elif isinstance(node, ast.Call) and node.args:
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            first = node.args[0]
            if name in ("import_module", "__import__") and isinstance(first, ast.Constant):
                found.append((node.lineno, str(first.value)))
    return found


def test_static_check_finds_imports():
    # Guards the checker itself.
    sample = Path(__file__)
    names = {name for _, name in _imports(sample)}
    assert {"ast", "json", "subprocess", "pytest"} <= names


@pytest.mark.parametrize("package", CORE)
def test_no_core_file_imports_flet_or_httpx(package):
    folder = PROJECT_ROOT.joinpath(*package.split("."))
    files = sorted(folder.rglob("*.py"))
    assert files
    offenders = [
        f"{path.relative_to(PROJECT_ROOT)}:{line}: {name}"
        for path in files
        for line, name in _imports(path)
        if name.split(".")[0] in FORBIDDEN
    ]
    assert offenders == []


@pytest.mark.material_files("sdk2020/personal/active/RSA256_*.p12")
def test_inspect_command_loads_neither_flet_nor_httpx(material_file):
    body = f"""
import runpy
sys.argv = ["qoltanba", "--lang", "en", "inspect", {str(material_file)!r},
            "--password-env", "QOLTANBA_LAYERING_PASSWORD", "--json"]
code = None
try:
    runpy.run_module("wizard", run_name="__main__", alter_sys=True)
except SystemExit as exit:
    code = exit.code
report({{"code": code}})
"""
    found, output = _run_child(body, env={"QOLTANBA_LAYERING_PASSWORD": PASSWORD})
    assert found["code"] == 0, output
    assert '"iin": "123456789011"' in output
    assert found["attempts"] == [], found
    assert found["loaded"] == [], found
