"""A renewal killed (SIGKILL, no chance to clean up) at every journal transition and at every file
write, then the very same command run again: it must end done, with one application at the
authority, the new folder holding only the new stores and CA certificates, the old stores as they
were, no password anywhere, and the last-resort handler never fired.

Every point is found, not assumed: one renewal runs with a counting hook (crash_support) when this
module is collected, and each point it passed becomes a case, with each of its phases: a journal
write before it starts, inside its transaction (before COMMIT) and after it committed; a file
write half written, complete but not linked, linked with its temporary file still there, and done.
RSA covers every point; GOST a few of the same kinds (one store for both usages).

The current keys are made once per scheme (the demo authority's books come with them in the
copied home), so each case costs one killed run and one or two resumed ones, about a second.
"""

from __future__ import annotations

import itertools
import json
import signal
import sys
import tempfile
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))  # crash_support
import crash_support as cs

KILLED = -signal.SIGKILL
MAX_RUNS = 3  # the same command after the kill, until it is done
# The happy path, as the journal walks it (demo authority: the code at once, no head, no wait).
STATES = (
    "checked",
    "detailed",
    "keys_saved",
    "requests_built",
    "signed",
    "submitted",
    "awaiting_code",
    "processing",
    "issued",
    "installed",
    "done",
)
# GOST: one store for both usages; a few points of every kind.
GOST_POINTS = [
    ("journal", "start", 1, "after"),
    ("file", "PENDING_BOTH_*.p8", 1, "before_link"),
    ("journal", "detailed>keys_saved", 1, "inside"),
    ("journal", "signed>submitted", 1, "before"),
    ("journal", "awaiting_code+confirmation", 1, "after"),
    ("file", "GOST512_*.p12", 1, "partial"),
    ("file", "GOST512_*.p12", 1, "after_link"),
    ("journal", "issued>installed", 1, "before"),
]

_ENUMERATION: dict = {}


def _enumerate() -> dict:
    """Run one RSA renewal with the counting hook: the points it passes, what its journal
    recorded (events) and what its new folder ended with. Done once, when collected."""
    if _ENUMERATION:
        return _ENUMERATION
    with tempfile.TemporaryDirectory(prefix="qoltanba-crash-count-") as folder:
        base = Path(folder)
        try:
            case = cs.Case(cs.Template(base / "template"), base / "case")
            log = base / "points.jsonl"
            run = case.run_hooked({"count": str(log)})
            assert run.returncode == 0, run
            points = [json.loads(line) for line in log.read_text().splitlines()]
            events = cs.read_only(case.home / "journal.sqlite3", "SELECT to_state FROM events")
            _ENUMERATION.update(
                points=[(p["kind"], p["label"], p["occurrence"]) for p in points],
                events=[e[0] for e in events],
                files=case.folder_names(),
                report=json.loads(run.stdout),
            )
        except Exception as exc:  # reported by the tests, not as a collection error
            _ENUMERATION.update(points=[], error=f"{type(exc).__name__}: {exc}")
    return _ENUMERATION


def _cases() -> list[tuple[str, str, int, str]]:
    found = _enumerate()
    return [
        (kind, label, occurrence, phase)
        for kind, label, occurrence in found["points"]
        for phase in (cs.JOURNAL_PHASES if kind == "journal" else cs.FILE_PHASES)
    ]


def _id(point: tuple[str, str, int, str]) -> str:
    kind, label, occurrence, phase = point
    return f"{kind}:{label}#{occurrence}:{phase}"


def pytest_generate_tests(metafunc):
    if "rsa_point" in metafunc.fixturenames:
        cases = _cases()
        if not cases:  # the enumeration failed: one case that says why
            metafunc.parametrize("rsa_point", [None], ids=["enumeration-failed"])
        else:
            metafunc.parametrize("rsa_point", cases, ids=[_id(c) for c in cases])


@pytest.fixture(scope="module")
def rsa_template(tmp_path_factory) -> cs.Template:
    return cs.Template(tmp_path_factory.mktemp("rsa-template"), "rsa")


@pytest.fixture(scope="module")
def gost_template(tmp_path_factory) -> cs.Template:
    return cs.Template(tmp_path_factory.mktemp("gost-template"), "gost")


def test_the_counting_run_sees_every_journal_write_and_every_file_write():
    """The hooks see every step: one journal point per state the journal recorded (its events
    table), and one file point per file the renewal wrote (the final ones and the two pending
    keys it removed). Without this, a write the hooks missed would be a crash never tried."""
    found = _enumerate()
    assert not found.get("error"), found.get("error")
    points = found["points"]
    moves = [label for kind, label, _ in points if kind == "journal" and ">" in label]
    assert moves == [f"{a}>{b}" for a, b in itertools.pairwise(STATES)], moves
    assert found["events"] == list(STATES), "one journal point per recorded state"
    assert next(label for kind, label, _ in points if kind == "journal") == "start"
    files = [label for kind, label, _ in points if kind == "file"]
    # the revocation check's cache (issuer certificates, its index) comes first, in the home
    cache = [label for label in files if label.startswith("revocation/")]
    assert cache and files[: len(cache)] == cache, files
    files = files[len(cache) :]
    assert files[:2] == ["PENDING_AUTH_*.p8", "PENDING_SIGN_*.p8"], files
    assert sorted(files[2:]) == sorted(cs.file_label(n) for n in found["files"]), files
    files += cache
    assert found["report"]["status"] == "done"
    assert len(_cases()) == 3 * (len(points) - len(files)) + 4 * len(files)


def _crash_then_resume(template: cs.Template, point: tuple, folder: Path, *, stores: int) -> None:
    case = cs.Case(template, folder)
    log = folder / "hook.jsonl"
    killed = case.run_hooked({"kill": list(point), "log": str(log)})
    assert killed.returncode == KILLED, f"the run never reached {_id(point)}: {killed}"
    assert json.loads(log.read_text().splitlines()[-1]) == {"killed": list(point)}
    assert sorted(p.name for p in case.current.iterdir()) == sorted(template.stores)
    assert not cs.password_hits(case.home, case.out), "killed, it left no password behind"
    codes = []
    for _ in range(MAX_RUNS):
        run = case.renew()
        codes.append(run.returncode)
        if run.returncode == 0:
            break
    assert run.returncode == 0, (codes, run.stderr)
    cs.check_done(case, json.loads(run.stdout), case.demo_ledger(), stores=stores)


def test_killed_at_every_point_of_an_rsa_renewal_the_same_command_finishes_it(
    rsa_template, rsa_point, tmp_path
):
    if rsa_point is None:
        pytest.fail(f"the counting run failed: {_enumerate().get('error')}")
    _crash_then_resume(rsa_template, rsa_point, tmp_path, stores=2)


@pytest.mark.parametrize("point", GOST_POINTS, ids=[_id(p) for p in GOST_POINTS])
def test_killed_at_points_of_a_gost_renewal_the_same_command_finishes_it(
    gost_template, point, tmp_path
):
    _crash_then_resume(gost_template, point, tmp_path, stores=1)
