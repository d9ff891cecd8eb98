"""Copy what `flet build` packages into build/flet/app, and build from there.

Run from anywhere: ``python build/stage.py [DEST]`` (standard library only); prints DEST.

Why not run `flet build` in the project root: flet-cli keeps its work in ``<app>/build`` and
deletes that whole folder on ``flet clean`` and whenever the bundled Python version changes, which
here would take build/README.md and the icon script with it; it would also package whatever
untracked files lie around. A staged copy holds exactly the app (pyproject.toml, main.py, wizard/,
assets/), and its ``build`` folder sits under build/flet/, which git ignores. Re-staging keeps that
``build`` folder, so the next `flet build` reuses its Flutter project and downloads.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEST = ROOT / "build" / "flet" / "app"
FILES = ("pyproject.toml", "README.md")
ENTRY = Path("build") / "main.py"  # kept in build/, staged at the top where flet build looks
DIRS = ("wizard", "assets")
KEEP = "build"  # flet-cli's work folder inside the staged app
JUNK = shutil.ignore_patterns("__pycache__", "*.pyc", "*.pyo", ".*")


def stage(dest: Path = DEST, root: Path = ROOT) -> Path:
    dest = dest.resolve()
    if dest == root.resolve() or root.resolve().is_relative_to(dest):
        raise ValueError(f"refusing to stage into {dest}: it holds the project itself")
    dest.mkdir(parents=True, exist_ok=True)
    for entry in dest.iterdir():
        if entry.name == KEEP:
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry)
        else:
            entry.unlink()
    for name in FILES:
        shutil.copy2(root / name, dest / name)
    shutil.copy2(root / ENTRY, dest / ENTRY.name)
    for name in DIRS:
        shutil.copytree(root / name, dest / name, ignore=JUNK)
    return dest


if __name__ == "__main__":
    print(stage(Path(sys.argv[1]) if len(sys.argv) > 1 else DEST))
