"""Two renewals of the same current keys at one moment, again and again: one wins, the other is told
"running in another window" or "already open at the authority" (exit 11), or carries on the very
same renewal (on two homes, if it comes late, that the folder already holds keys: exit 9);
never a second application, never exit 10, never a traceback. Rerun, the loser
reports the winner's application and the new folder holds one set of stores.

The pairs: two command lines on one QOLTANBA_HOME (the in-process demo authority); two command
lines on two homes against one served authority; the wizard's model (headless, in this process)
and a command line. Each pair starts together (crash_support.Together: both loaded, then one
start signal, then a small seeded random delay each). Last, two runs on a home that does not
exist yet never say "database is locked" nor crash.
"""

from __future__ import annotations

import asyncio
import json
import random
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))  # crash_support
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "renewal"))  # test_served_cli
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "ui"))  # wizard_steps
import crash_support as cs
from test_served_cli import Server

from wizard.i18n import translate

PAIRS = 4
# Seconds after the start signal, each drawn at random (seeded). SPREAD: two command lines at
# once, both reaching the renewal's lock together. LATE: the window, which has nothing left to
# load, starts up to this much later, so that either side may win. LATER: on one home, one command
# line may also start once the other is done (and then finds that renewal done).
SPREAD = 0.04
LATE = 0.3
LATER = 0.4
BUSY = (
    translate("error.renewal_busy", "en"),
    translate("error.renewal_open_at_authority", "en", application="{application}"),
)
NEW_HOME_RUNS = 4


def _delays(rng: random.Random, first: float = SPREAD) -> tuple[float, float]:
    return rng.uniform(0, first), rng.uniform(0, SPREAD)


def _says_busy(run) -> bool:
    """The loser's one line: this renewal runs elsewhere, or is open at the authority."""
    lines = run.stderr.splitlines()
    if len(lines) != 1:
        return False
    line = lines[0].removeprefix("qoltanba: ")
    head, _, tail = BUSY[1].partition("{application}")
    return line == BUSY[0] or (line.startswith(head) and line.endswith(tail))


def _pair_outcome(runs, *, two_homes: bool = False) -> tuple[dict, list]:
    """Check one pair's two runs: one done, the other busy (11) or done with the very same
    application. Returns the winner's report and the runs that lost.

    On two homes neither journal knows the other's renewal; a loser that reaches the shared
    folder only once the winner has saved its stores there (a loaded machine can delay it that
    long) is told the folder already holds keys (9), having filed nothing."""
    codes = [r.returncode for r in runs]
    allowed = [[0, 0], [0, 11]] + ([[0, 9]] if two_homes else [])
    assert sorted(codes) in allowed, [(r.returncode, r.stderr) for r in runs]
    for late in (r for r in runs if r.returncode == 9):
        assert json.loads(late.stdout)["error"] == "output_holds_keys", late.stdout
        assert len(late.stderr.splitlines()) == 1, late.stderr
    assert not cs.stderr_problems(runs), cs.stderr_problems(runs)
    winners = [json.loads(r.stdout) for r in runs if r.returncode == 0]
    assert len({w["application"] for w in winners}) == 1, winners
    assert all(w["status"] == "done" for w in winners), winners
    losers = [r for r in runs if r.returncode == 11]
    for loser in losers:
        assert _says_busy(loser), loser.stderr
        assert json.loads(loser.stdout)["error"].startswith("renewal_"), loser.stdout
    return winners[0], losers


# ---------------------------------------------------------------------------------------------
# (a) two command lines, one home


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> cs.Template:
    return cs.Template(tmp_path_factory.mktemp("concurrency-template"))


def test_two_command_lines_on_one_home_file_one_application(template, tmp_path):
    rng = random.Random("one home")
    pairs = []
    for number in range(PAIRS):
        case = cs.Case(template, tmp_path / f"pair-{number}", own_tmp=False)
        with cs.Together(case.folder / "start") as together:
            for delay in _delays(rng, LATER):
                together.start(case.renew_args(), case.env, delay)
            together.go()
            runs = together.results()
        case.runs += runs
        winner, losers = _pair_outcome(runs)
        assert len(cs.applications(case.demo_ledger())) == 1, "at most one application"
        pairs.append((case, winner, losers))
    for case, winner, losers in pairs:
        final = winner
        for _ in losers:  # the loser, run again, finds the renewal done: the same application
            again = case.renew()
            assert again.returncode == 0, again
            final = json.loads(again.stdout)
            assert (final["application"], final["renewal"]) == (
                winner["application"],
                winner["renewal"],
            )
        cs.check_done(case, final, case.demo_ledger(), stores=2)


# ---------------------------------------------------------------------------------------------
# (b) two command lines, two homes, one served authority


@pytest.fixture
def server(tmp_path):
    served = Server(tmp_path / "served", cs.base_env(tmp_path / "served" / "home"))
    (tmp_path / "served").mkdir()
    served.start()
    try:
        yield served
    finally:
        served.stop(kill=True)


def test_two_command_lines_on_two_homes_file_one_application(server, tmp_path):
    rng = random.Random("two homes")
    ledger = server.data / "authority.sqlite3"
    pairs = []
    for number in range(PAIRS):
        folder = tmp_path / f"pair-{number}"
        keys = cs.Template(folder / "template", authority=server.url)
        first = cs.Case(keys, folder, home=folder / "home-1", copy_home=False, own_tmp=False)
        second = cs.Case(keys, folder, home=folder / "home-2", copy_home=False, own_tmp=False)
        with cs.Together(folder / "start") as together:
            for case, delay in zip((first, second), _delays(rng), strict=True):
                together.start(case.renew_args(server.url), case.env, delay)
            together.go()
            runs = together.results()
        winner, _ = _pair_outcome(runs, two_homes=True)
        assert len(cs.applications(ledger, keys.signer())) == 1, "at most one application"
        cases = [c for c, r in zip((first, second), runs, strict=True) if r.returncode == 0]
        pairs.append((keys, first, second, runs, winner, cases[0]))
    for keys, first, second, runs, winner, won in pairs:
        runs = list(runs)
        final = winner
        for case in (first, second):
            if case is won:
                continue
            # The loser, in its own home, run again once the winner is done: its home knows
            # nothing of that renewal, but the folder does: it already holds the new stores,
            # so no second application is filed and nothing is mixed into it.
            again = case.renew(server.url)
            runs.append(again)
            assert again.returncode == 9, again
            assert json.loads(again.stdout)["error"] == "output_holds_keys", again
            assert len(cs.applications(ledger, keys.signer())) == 1
        cs.check_done(
            won,
            final,
            ledger,
            stores=2,
            signer=keys.signer(),
            runs=runs,
            homes=(first.home, second.home),
        )


# ---------------------------------------------------------------------------------------------
# (c) the wizard's model and a command line


async def _model_to_password(case: cs.Case):
    """A wizard window (its model, headless) on the password step of these keys' renewal."""
    from wizard_steps import fill_application, to_keys, type_password

    from wizard.ui.model import PickedFile, Services, WizardModel

    model = WizardModel(Services(home=case.home, max_wait=2.0), "en")
    picked = [PickedFile(name=p.name, data=p.read_bytes(), path=p) for p in case.stores]
    await to_keys(model, picked=picked, password=cs.OLD_PASSWORD)
    assert model.keys.keys_ok, model.keys.open_error
    fill_application(model, "aigerim@example.kz", "Алматы", folder=str(case.out))
    type_password(model, cs.NEW_PASSWORD)
    return model


async def _model_and_command_line(case: cs.Case, delays: tuple[float, float]) -> dict:
    """One pair; returns what the model and the command line ended with."""
    from wizard.errors import RenewalBusy

    model = await _model_to_password(case)
    try:
        with cs.Together(case.folder / "start") as together:
            together.start(case.renew_args(), case.env, delays[1])
            together.go()
            await asyncio.sleep(delays[0])
            await model.password.accept()  # the window's renewal runs (to the code, or done)
            first_screen, first_error = model.screen, model.progress.work_error
            if model.screen == "code":  # the window holds the renewal: the code, then done
                model.progress.set_code(model.progress.demo_sms)
                await model.progress.confirm_code()
            (cli,) = together.results()
        case.runs.append(cli)
        retried = False
        if model.screen != "done":
            # it lost: told "running in another window" (retry), then retried once the
            # command line is done: the very same renewal, done
            assert first_error is not None and isinstance(first_error.error, RenewalBusy), (
                model.screen,
                first_error,
            )
            await model.progress.run()
            retried = True
        assert model.screen == "done", (model.screen, model.progress.work_error, model.fault)
        assert model.fault is None, model.fault
        result = dict(model.done.result)
    finally:
        await model.close()
    return {
        "model": result,
        "first_screen": first_screen,
        "retried": retried,
        "cli": cli,
    }


def test_the_wizard_and_a_command_line_file_one_application(tmp_path):
    from wizard import reports

    rng = random.Random("wizard and command line")
    for number in range(PAIRS):
        # fresh keys per pair: a window's lock is never in the way of the next pair's
        template = cs.Template(tmp_path / f"template-{number}")
        case = cs.Case(template, tmp_path / f"pair-{number}", own_tmp=False)
        outcome = asyncio.run(_model_and_command_line(case, _delays(rng, LATE)))
        cli, application = outcome["cli"], outcome["model"]["application"]
        assert not cs.stderr_problems([cli]), cs.stderr_problems([cli])
        assert len(cs.applications(case.demo_ledger())) == 1, "at most one application"
        if outcome["first_screen"] == "code":  # the window won: the command line was told
            assert cli.returncode == 11 and _says_busy(cli), (cli.returncode, cli.stderr)
        else:
            assert cli.returncode == 0, (cli.returncode, cli.stderr)
            assert json.loads(cli.stdout)["application"] == application
        final = case.renew()  # the command line again, the window closed: the same, done
        assert final.returncode == 0, final
        report = json.loads(final.stdout)
        assert report["application"] == application
        cs.check_done(case, report, case.demo_ledger(), stores=2)
    assert not reports.FIRED, reports.FIRED  # the window's last-resort handler never fired


# ---------------------------------------------------------------------------------------------
# Two runs on a home that does not exist yet


def _no_lock_trouble(runs) -> None:
    for run in runs:
        text = (run.stdout + run.stderr).lower()
        assert "database is locked" not in text and "locked" not in run.stderr.lower(), run
    assert not cs.stderr_problems(runs), cs.stderr_problems(runs)


def test_two_renewals_at_once_on_a_new_home_never_trip_over_its_creation(server, tmp_path):
    """Both create the home and its journal at the same moment (against one served authority):
    one renews, the other is told it is busy or finds the same renewal; nothing else."""
    ledger = server.data / "authority.sqlite3"
    for number in range(NEW_HOME_RUNS):
        folder = tmp_path / f"run-{number}"
        keys = cs.Template(folder / "template", authority=server.url)
        home = folder / "new" / "home"  # neither it nor its parent exists yet
        case = cs.Case(keys, folder, home=home, copy_home=False, own_tmp=False)
        assert not home.parent.exists()
        with cs.Together(folder / "start") as together:
            for _ in range(2):
                together.start(case.renew_args(server.url), case.env, 0.0)
            together.go()
            runs = together.results()
        _no_lock_trouble(runs)
        winner, _ = _pair_outcome(runs)
        assert cs.applications(ledger, keys.signer()) == [(winner["application"], "downloaded")]
        assert case.journal_rows() == [("done", winner["application"])]
        assert not (home / "reports").exists()


def test_two_demo_key_runs_at_once_on_a_new_home_share_one_demo_authority(tmp_path):
    """Both create the home and its demo authority (its books, its CAs) at the same moment:
    both succeed, their keys come from one CA, and the keys renew against that home."""
    from cryptography import x509

    from wizard.keys.store import open_store

    for number in range(NEW_HOME_RUNS):
        folder = tmp_path / f"run-{number}"
        home = folder / "new" / "home"
        env = cs.base_env(home)
        with cs.Together(folder / "start") as together:
            for index in range(2):
                args = ["--lang", "en", "demo-keys", "--out", str(folder / f"keys-{index}")]
                together.start([*args, "--password-env", cs.OLD_VAR, "--json"], env, 0.0)
            together.go()
            runs = together.results()
        _no_lock_trouble(runs)
        assert [r.returncode for r in runs] == [0, 0], runs
        issuers = set()
        for run in runs:
            for name in json.loads(run.stdout)["files"]:
                certificate = open_store(Path(name), cs.OLD_PASSWORD).certificate
                aki = certificate.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier)
                issuers.add(aki.value.key_identifier)
        assert len(issuers) == 1, "one demo authority, one issuing CA"
        stores = json.loads(runs[1].stdout)["files"]
        renew = cs.qoltanba(
            env,
            "renew",
            *[arg for store in stores for arg in ("--store", store)],
            *("--password-env", cs.OLD_VAR, "--new-password-env", cs.NEW_VAR),
            *("--email", "aigerim@example.kz", "--locality", "Алматы"),
            *("--out", str(folder / "new-keys"), "--json"),
        )
        assert renew.returncode == 0, renew
        assert not cs.stderr_problems([renew]), renew.stderr
        assert not (home / "reports").exists()
