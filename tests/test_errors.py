"""The error tree: every QoltanbaError subclass is drawn in wizard/errors.py's docstring, inherits
its exit code by meaning, has a translated message, and every exit code is in the README's table."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import wizard.errors as errors
from wizard.errors import QoltanbaError, all_error_classes
from wizard.i18n import LANGUAGES, catalogue

ROOT = Path(__file__).resolve().parents[1]
# Codes the command line returns besides the error classes': done, and Ctrl+C.
NON_ERROR_CODES = {0, 130}


def _readme_codes() -> dict[int, str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    table = text[text.index("| exit code | meaning |") :]
    rows = {}
    for line in table.splitlines()[2:]:
        match = re.match(r"^\| (\d+) \| (.+) \|$", line)
        if not match:
            break
        rows[int(match.group(1))] = match.group(2)
    return rows


def _drawn() -> dict[str, int | None]:
    """Class name -> exit code as the docstring draws it (None: inherited, not repeated)."""
    drawn = {}
    for line in (errors.__doc__ or "").splitlines():
        match = re.match(r"^[\s│├└─]*([A-Z][A-Za-z]+)\s{2,}.*?(?:exit (\d+))?$", line)
        if match and match.group(1) in vars(errors):
            drawn[match.group(1)] = int(match.group(2)) if match.group(2) else None
    return drawn


def test_every_error_class_lives_in_wizard_errors_and_is_drawn():
    import wizard.authority.client  # import everything that might declare errors
    import wizard.authority.mock
    import wizard.cli
    import wizard.keys.store
    import wizard.renewal.process
    import wizard.ui.model  # noqa: F401

    drawn = _drawn()
    for cls in all_error_classes():
        assert cls.__module__ == "wizard.errors", f"{cls.__name__} lives in {cls.__module__}"
        assert cls.__name__ in drawn, f"{cls.__name__} is missing from the drawing"
        if drawn[cls.__name__] is not None:
            assert drawn[cls.__name__] == cls.exit_code, cls.__name__


def test_the_drawing_draws_nothing_that_does_not_exist():
    names = {cls.__name__ for cls in all_error_classes()}
    assert set(_drawn()) <= names


def test_exit_codes_are_inherited_by_meaning_not_copied():
    for cls in all_error_classes():
        parent = cls.__mro__[1]
        if parent is QoltanbaError or cls is QoltanbaError:
            continue
        assert "exit_code" not in vars(cls), f"{cls.__name__} repeats an exit code"
        assert cls.exit_code == parent.exit_code


def test_every_exit_code_is_in_the_readme_and_the_readme_lists_no_other():
    documented = _readme_codes()
    possible = {cls.exit_code for cls in all_error_classes()} | NON_ERROR_CODES
    assert set(documented) == possible


def test_the_main_branches_have_distinct_exit_codes():
    branches = [c for c in QoltanbaError.__subclasses__() if c is not errors.InternalError]
    codes = [c.exit_code for c in branches]
    assert len(codes) == len(set(codes)), codes


@pytest.mark.parametrize("cls", all_error_classes(), ids=lambda c: c.__name__)
def test_every_default_code_has_a_message_in_every_language(cls):
    for lang in LANGUAGES:
        assert f"error.{cls.default_code}" in catalogue(lang), (lang, cls.default_code)
