"""The renewal core's ways out (issue "no dead ends"): details checked before any key is made and
correctable, one renewal per key set at a time, a renewal bound to its authority, cancel before
and after submission, a refused certificate that ends its renewal, clean folders, a damaged
journal set aside, a full disk said as such."""

from __future__ import annotations

import asyncio
import errno
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from dataclasses import replace
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from test_process import NEW_PASSWORD, OLD_PASSWORD, Setup

from wizard.errors import (
    DetailsInvalid,
    LocalStateError,
    NoSpace,
    OutputRefused,
    RenewalBusy,
    RenewalElsewhere,
    UsageError,
)
from wizard.keys.files import sweep_temporary, write_new_file
from wizard.keys.store import open_store
from wizard.renewal.journal import RenewalJournal, RenewalState, ensure_home
from wizard.renewal.locks import RenewalLock, lock_folder
from wizard.renewal.process import (
    RenewalDetails,
    Renewer,
    cancel,
    current_keys,
    normal_details,
    normal_email,
)
from wizard.renewal.record import Origin

S = RenewalState
FP = ("ab" * 32,)


@pytest.fixture
def setup(tmp_path) -> Setup:
    return Setup(tmp_path)


def _details(out: Path, email: str = "aigerim@example.kz", locality: str = "Алматы"):
    return RenewalDetails(email, locality, out, NEW_PASSWORD)


async def _code(authority, number, attempts_left):
    return (await authority.demo_codes(number))[-1]


def _renewer(setup: Setup, authority, name: str = "demo") -> Renewer:
    return Renewer(setup.journal, authority, name, max_wait=5, home=setup.tmp / "home")


# --- details --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("email", "normal"),
    [
        ("Aigerim@Example.KZ", "Aigerim@example.kz"),
        ("  aigerim@mail.kz ", "aigerim@mail.kz"),
        ("aigerim@почта.кз", "aigerim@xn--80a1acny.xn--g1af"),
        ("a.b+c@sub.example.com", "a.b+c@sub.example.com"),
    ],
)
def test_an_email_the_certificate_can_carry_is_normalised(email, normal):
    assert normal_email(email) == normal


@pytest.mark.parametrize(
    ("email", "code"),
    [
        ("айгерим@почта.кз", "renewal_email_local_ascii"),
        ("aigerim@", "renewal_bad_email"),
        ("aigerim", "renewal_bad_email"),
        ("a@b@c.kz", "renewal_bad_email"),
        ("a b@mail.kz", "renewal_bad_email"),
        ("a@mail", "renewal_bad_email"),
        ("\udcff\udcfe@mail.kz", "renewal_bad_email"),  # bytes from a non-UTF-8 terminal
        ("a@-x.kz", "renewal_bad_email"),
        ("x" * 65 + "@mail.kz", "renewal_bad_email"),
        ("", "renewal_bad_email"),
    ],
)
def test_an_email_the_certificate_cannot_carry_is_refused_with_its_reason(email, code):
    with pytest.raises(DetailsInvalid) as info:
        normal_email(email)
    assert info.value.code == code and info.value.exit_code == 2
    message = info.value.message("ru")
    message.encode("utf-8")  # printable, whatever was typed
    assert "\n" not in message


@pytest.mark.parametrize("locality", ["", "   ", "Alma\x00ty", "Алматы\udcff", "x" * 129])
def test_a_locality_the_application_cannot_carry_is_refused(locality, tmp_path):
    with pytest.raises(DetailsInvalid):
        normal_details(_details(tmp_path, locality=locality))


def test_bad_details_are_refused_before_any_key_is_made(setup, tmp_path):
    stores = setup.demo_stores()
    out = tmp_path / "new-keys"

    async def go():
        async with setup.authority() as authority:
            renewer = _renewer(setup, authority)
            current = current_keys([open_store(p, OLD_PASSWORD) for p in stores])
            await renewer.run(current, _details(out, email="айгерим@почта.кз"), _code)

    with pytest.raises(DetailsInvalid):
        asyncio.run(go())
    assert not out.exists() and setup.journal.all() == []


def test_a_renewal_stopped_on_bad_details_continues_with_corrected_ones(setup, tmp_path):
    """A journal an older Qoltanba left at keys_saved with an e-mail no request can carry."""
    stores = setup.demo_stores()
    out = tmp_path / "new-keys"
    current = current_keys([open_store(p, OLD_PASSWORD) for p in stores])

    async def go(email: str, stop_at: RenewalState | None = None):
        async with setup.authority() as authority:
            renewer = _renewer(setup, authority)
            code = lambda n, a: _code(authority, n, a)  # noqa: E731
            renewal = renewer.begin(current, _details(out, email=email))
            try:
                while not renewal.state.finished and renewal.state is not stop_at:
                    renewal = await renewer.step(renewal, current, _details(out, email), code)
            finally:
                renewer.release()
            return renewal

    stopped = asyncio.run(go("aigerim@example.kz", S.KEYS_SAVED))
    assert stopped.record.details is not None
    old = replace(stopped.record.details, email="айгерим@почта.кз")  # what an old version recorded
    setup.journal.record(stopped, details=old)
    done = asyncio.run(go("aigerim@почта.кз"))
    assert done.id == stopped.id and done.state is S.DONE
    assert done.record.details is not None
    assert done.record.details.email == "aigerim@xn--80a1acny.xn--g1af"


# --- one renewal at a time ------------------------------------------------------------------


def test_a_second_lock_of_the_same_keys_is_refused_at_once(tmp_path):
    first = RenewalLock(FP, tmp_path)
    first.acquire()
    try:
        started = time.monotonic()
        with pytest.raises(RenewalBusy) as info:
            RenewalLock(FP, tmp_path).acquire()
        assert time.monotonic() - started < 1 and info.value.exit_code == 11
        with RenewalLock(("cd" * 32,), tmp_path):  # other keys are free
            pass
    finally:
        first.release()
    with RenewalLock(FP, tmp_path) as again:
        assert again.held


def test_a_killed_holder_leaves_no_lock_behind(tmp_path):
    script = textwrap.dedent(
        f"""
        import sys, time
        from pathlib import Path
        from wizard.renewal.locks import RenewalLock
        lock = RenewalLock({FP!r}, Path({str(tmp_path)!r}))
        lock.acquire()
        print("held", flush=True)
        time.sleep(60)
        """
    )
    child = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == "held"
        with pytest.raises(RenewalBusy):
            RenewalLock(FP, tmp_path).acquire()
        os.kill(child.pid, signal.SIGKILL)
        child.wait(10)
        with RenewalLock(FP, tmp_path) as lock:
            assert lock.held
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()


def test_a_planted_lock_folder_is_not_trusted(tmp_path, monkeypatch):
    monkeypatch.setattr("tempfile.gettempdir", lambda: str(tmp_path / "shared-tmp"))
    (tmp_path / "shared-tmp").mkdir()
    elsewhere = tmp_path / "attacker"
    elsewhere.mkdir()
    planted = f"qoltanba-locks-{os.getuid()}"
    (tmp_path / "shared-tmp" / planted).symlink_to(elsewhere)
    home = tmp_path / "home"
    home.mkdir()
    assert lock_folder(home) == home / "locks"


def test_check_and_start_is_one_transaction(tmp_path):
    journal_path = tmp_path / "home" / "journal.sqlite3"
    results = []

    def start():
        journal = RenewalJournal(journal_path)
        results.append(journal.start_or_resume(FP, "demo", Origin(folder=tmp_path / "x")))

    threads = [threading.Thread(target=start) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(created for _, created in results) == 1
    assert len({renewal.id for renewal, _ in results}) == 1
    assert len(RenewalJournal(journal_path).all()) == 1


def test_a_running_renewal_refuses_a_second_window(setup, tmp_path):
    stores = setup.demo_stores()
    out = tmp_path / "new-keys"
    current = current_keys([open_store(p, OLD_PASSWORD) for p in stores])

    async def go():
        async with setup.authority() as authority:
            first, second = _renewer(setup, authority), _renewer(setup, authority)
            first.begin(current, _details(out))
            try:
                with pytest.raises(RenewalBusy):
                    second.begin(current, _details(out))
            finally:
                first.release()
            renewal = await second.run(current, _details(out), lambda n, a: _code(authority, n, a))
            return renewal

    assert asyncio.run(go()).state is S.DONE
    assert len(setup.journal.all()) == 1


def test_a_renewal_is_bound_to_its_authority(setup, tmp_path):
    stores = setup.demo_stores()
    out = tmp_path / "new-keys"
    current = current_keys([open_store(p, OLD_PASSWORD) for p in stores])

    async def go():
        async with setup.authority() as authority:
            renewer = _renewer(setup, authority)
            renewer.begin(current, _details(out))
            renewer.release()
            other = _renewer(setup, authority, "https://another.example.kz")
            other.begin(current, _details(out))

    with pytest.raises(RenewalElsewhere) as info:
        asyncio.run(go())
    assert info.value.code == "renewal_other_authority"
    assert "demo" in info.value.message("en") and "cancel" in info.value.message("en")


# --- cancel ---------------------------------------------------------------------------------


def test_cancel_before_submission_removes_the_unsent_keys(setup, tmp_path):
    stores = setup.demo_stores()
    out = tmp_path / "new-keys"
    setup.app.state.faults.drop_count = 100  # the authority is down: the renewal waits, signed
    with pytest.raises(Exception) as info:
        setup.renew(stores, out)
    assert info.value.exit_code == 6
    waiting = setup.journal.all()[0]
    assert waiting.state is S.SIGNED and list(out.glob("PENDING_*"))
    outcome = cancel(setup.journal, waiting, home=setup.tmp / "home")
    assert outcome.renewal.state is S.CANCELLED and outcome.application is None
    assert len(outcome.removed) == 2 and not out.exists()
    setup.app.state.faults.drop_count = 0
    again = setup.renew(stores, out)  # starts afresh
    assert again.state is S.DONE and again.id != waiting.id
    with pytest.raises(UsageError):
        cancel(setup.journal, again)


def test_cancel_after_submission_keeps_the_application_number(setup, tmp_path):
    stores = setup.demo_stores()
    out = tmp_path / "new-keys"
    current = current_keys([open_store(p, OLD_PASSWORD) for p in stores])

    async def submit():
        async with setup.authority() as authority:
            renewer = _renewer(setup, authority)
            renewal = renewer.begin(current, _details(out))
            try:
                while renewal.state is not S.AWAITING_CODE:
                    renewal = await renewer.step(renewal, current, _details(out), None)
            finally:
                renewer.release()
            return renewal

    waiting = asyncio.run(submit())
    assert waiting.application
    with RenewalLock(waiting.current, setup.tmp / "home"), pytest.raises(RenewalBusy):
        cancel(setup.journal, waiting, home=setup.tmp / "home")  # another window works on it
    outcome = cancel(setup.journal, waiting, home=setup.tmp / "home")
    assert outcome.application == waiting.application
    ended = setup.journal.get(waiting.id)
    assert ended.state is S.CANCELLED and ended.application == waiting.application
    assert ended.record.ending is not None
    assert ended.record.ending.cancelled_after_submission is True


# --- files ----------------------------------------------------------------------------------


def test_a_full_disk_is_said_as_such_and_leaves_nothing(tmp_path, monkeypatch):
    folder = tmp_path / "new"
    folder.mkdir()

    def full(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", full)
    with pytest.raises(NoSpace) as info:
        write_new_file(folder, "RSA256_x.p12", b"x" * 1000)
    assert isinstance(info.value, OutputRefused) and info.value.exit_code == 9
    assert str(folder) in info.value.message("en")
    assert list(folder.iterdir()) == []


def test_a_killed_write_leaves_a_temporary_file_that_is_swept(tmp_path):
    folder = tmp_path / "new"
    folder.mkdir()
    ours = folder / ".RSA256_x.p12.0123456789ab.tmp"
    stale = folder / ".other.p12.abcdefabcdef.tmp"
    fresh = folder / ".busy.p12.aaaaaaaaaaaa.tmp"
    keep = folder / "notes.txt"
    for path in (ours, stale, fresh, keep):
        path.write_bytes(b"x")
    os.utime(stale, (time.time() - 3600, time.time() - 3600))
    sweep_temporary(folder, names={"RSA256_x.p12"})
    assert sorted(p.name for p in folder.iterdir()) == [fresh.name, keep.name]


def test_orphan_pending_keys_of_a_killed_key_step_are_removed_on_resume(setup, tmp_path):
    stores = setup.demo_stores()
    out = tmp_path / "new-keys"
    current = current_keys([open_store(p, OLD_PASSWORD) for p in stores])

    async def detail():
        async with setup.authority() as authority:
            renewer = _renewer(setup, authority)
            renewal = renewer.begin(current, _details(out))
            renewal = await renewer.step(renewal, current, _details(out), None)
            renewer.release()
            return renewal

    detailed = asyncio.run(detail())
    assert detailed.state is S.DETAILED
    orphan = out / ("PENDING_AUTH_" + "0" * 40 + ".p8")  # written, then killed before recording
    orphan.write_bytes(b"encrypted")
    unknown = tmp_path / "elsewhere"
    done = setup.renew(stores, out)
    assert done.state is S.DONE and not orphan.exists()
    assert not list(out.glob("PENDING_*")) and not list(out.glob(".*.tmp"))
    assert not unknown.exists()


def test_a_pending_key_no_renewal_knows_is_never_deleted(setup, tmp_path):
    stores = setup.demo_stores()
    out = tmp_path / "new-keys"
    out.mkdir()
    stranger = out / ("PENDING_SIGN_" + "1" * 40 + ".p8")
    stranger.write_bytes(b"a lost journal's only copy")
    os.utime(stranger, (time.time() - 3600, time.time() - 3600))
    assert setup.renew(stores, out).state is S.DONE
    assert stranger.read_bytes() == b"a lost journal's only copy"


# --- the journal ----------------------------------------------------------------------------


@pytest.mark.parametrize("damage", ["garbage", "unknown_state", "bad_json"])
def test_a_damaged_journal_is_set_aside_never_deleted(tmp_path, damage):
    path = tmp_path / "home" / "journal.sqlite3"
    journal = RenewalJournal(path)
    keep = journal.start(("aa" * 32,), "demo", Origin(folder=tmp_path / "a"))
    bad = journal.start(("bb" * 32,), "demo", Origin(folder=tmp_path / "b"))
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "PENDING_AUTH_x.p8").write_bytes(b"k")
    journal.close()
    for suffix in ("-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    if damage == "garbage":
        path.write_bytes(b"not a database at all" * 50)
    else:
        db = sqlite3.connect(path)
        folder = str(tmp_path / "b")
        broken = '{"v": 2, "origin": {"folder": "' + folder + '", "keys": {'  # cut: not JSON
        column, value = ("state", "bogus") if damage == "unknown_state" else ("data", broken)
        db.execute(f"UPDATE renewals SET {column} = ? WHERE id = ?", (value, bad.id))  # noqa: S608
        db.commit()
        db.close()
    damaged = path.read_bytes()
    reopened = RenewalJournal(path)
    aside = reopened.set_aside
    assert aside is not None and aside.path.read_bytes() == damaged
    if damage == "garbage":
        assert reopened.all() == []
    else:
        assert [r.id for r in reopened.all()] == [keep.id] and aside.salvaged == 1
        assert tmp_path / "b" / "PENDING_AUTH_x.p8" in aside.pending_files
    assert RenewalJournal(path).set_aside is None  # the new journal reads fine


def test_a_home_that_is_a_file_or_read_only_is_said_plainly(tmp_path, monkeypatch):
    not_a_folder = tmp_path / "home"
    not_a_folder.write_text("x")
    with pytest.raises(LocalStateError) as info:
        RenewalJournal(not_a_folder / "journal.sqlite3")
    assert info.value.exit_code == 12 and str(not_a_folder) in info.value.message("kk")
    home = tmp_path / "ro"
    home.mkdir()
    monkeypatch.setattr(os, "access", lambda *a, **k: False)  # root ignores modes; a ro mount
    with pytest.raises(LocalStateError):
        ensure_home(home)


def test_a_read_only_journal_can_still_be_read(tmp_path):
    path = tmp_path / "home" / "journal.sqlite3"
    journal = RenewalJournal(path)
    started = journal.start(FP, "demo")
    journal.close()
    reader = RenewalJournal(path, read_only=True)
    assert [r.id for r in reader.all()] == [started.id]
    assert RenewalJournal(tmp_path / "none" / "journal.sqlite3", read_only=True).all() == []
    assert not (tmp_path / "none").exists()


def test_home_and_journal_are_private(tmp_path):
    home = tmp_path / "home"
    RenewalJournal(home / "journal.sqlite3").start(FP, "demo")
    assert home.stat().st_mode & 0o777 == 0o700
    for path in home.iterdir():
        assert path.stat().st_mode & 0o777 == 0o600, path


def test_a_new_renewal_never_goes_into_a_folder_that_holds_keys(setup, tmp_path):
    stores = setup.demo_stores()
    out = tmp_path / "new-keys"
    out.mkdir()
    (out / ("RSA256_" + "a" * 40 + ".p12")).write_bytes(b"another window's new store")
    with pytest.raises(OutputRefused) as info:
        setup.renew(stores, out)
    assert info.value.code == "output_holds_keys" and setup.journal.all() == []


def test_a_dangling_link_as_the_new_folder_is_refused(tmp_path):
    from wizard.keys.files import prepare_new_folder

    link = tmp_path / "new-keys"
    link.symlink_to(tmp_path / "nowhere" / "target")
    with pytest.raises(OutputRefused):
        prepare_new_folder(link)
    assert not (tmp_path / "nowhere").exists()


def test_an_empty_existing_folder_for_new_keys_is_made_private(tmp_path):
    from wizard.keys.files import prepare_new_folder

    folder = tmp_path / "new-keys"
    folder.mkdir(mode=0o755)
    folder.chmod(0o755)
    assert prepare_new_folder(folder).stat().st_mode & 0o777 == 0o700
