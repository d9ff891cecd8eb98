"""The repository keeps its promises: the README's two commands, CI running the test one, ruff."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def readme_commands() -> list[str]:
    blocks = re.findall(
        r"```sh\n(.*?)\n```", (ROOT / "README.md").read_text(encoding="utf-8"), re.S
    )
    return [line for block in blocks for line in block.splitlines() if line.strip()]


def test_readme_gives_exactly_two_setup_commands():
    commands = readme_commands()
    assert len(commands) == 2, commands
    install, test = commands
    assert "pip install ." in install and install.rstrip().endswith("qoltanba")
    assert '".[test]"' in test and "pytest" in test


def test_the_test_command_installs_the_example_adapter_through_its_entry_point():
    # The contract suite runs against three adapters in CI: the two built-in ones and the
    # example package, installed by pip like any third-party adapter (tests/adapters).
    assert "-e tests/adapters/example" in readme_commands()[1]
    example = tomllib.loads(
        (ROOT / "tests" / "adapters" / "example" / "pyproject.toml").read_text(encoding="utf-8")
    )
    assert example["project"]["entry-points"]["qoltanba.authorities"] == {
        "example": "qoltanba_example:ExampleAdapter"
    }
    ours = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert set(ours["project"]["entry-points"]["qoltanba.authorities"]) == {"demo", "mock-http"}


def test_ci_runs_the_readme_test_command_verbatim():
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert readme_commands()[1] in ci.splitlines()
    assert ci.startswith("#!/usr/bin/env bash") and "set -euo pipefail" in ci


def test_pyproject_declares_the_contract():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert project["project"]["name"] == "qoltanba"
    assert project["project"]["scripts"]["qoltanba"] == "wizard.cli:main"
    assert "test" in project["project"]["optional-dependencies"]
    assert "flet" in project["tool"]
    for dependency in project["project"]["dependencies"]:
        assert "==" not in dependency, f"pin a lower bound, not an exact version: {dependency}"


def test_ruff_is_clean():
    ruff = shutil.which("ruff") or str(Path(sys.executable).with_name("ruff"))
    if not Path(ruff).exists():
        pytest.fail("ruff is part of the test extra; install it with pip install -e '.[test]'")
    result = subprocess.run(
        [ruff, "check", "wizard", "tests"], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_is_clean():
    """mypy is configured in pyproject.toml and kept clean on the package, as ruff is."""
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--no-incremental", "wizard"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
