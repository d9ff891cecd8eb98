"""What a hostile review of the step models found (session 5), each as a test that failed before:

- the window closed (Flet unmounts the page: ``m.close()``) while a run was under way: its client
  closed under the run, which became "Something went wrong" and a bug report, and the renewal's
  lock was let go while the run still went on;
- a renewal queued before it was submitted (the authority could not be reached) skipped step 3's
  issuer verdict when reopened, and could only end "rejected" after submitting.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from wizard_steps import fill_application, lock_is_free, model, to_keys, to_open, to_password

from wizard.authority.client import HttpAuthority
from wizard.errors import AuthorityUnreachable
from wizard.renewal.journal import BEFORE_SUBMISSION, RenewalJournal, RenewalState
from wizard.ui.model import PickedFile

PASSWORD = "Qwerty12"


def test_closing_the_window_during_a_run_is_no_fault_and_the_next_window_goes_on(tmp_path):
    async def scenario():
        m = model(tmp_path)
        await to_password(m)
        run = asyncio.create_task(m.password.accept())
        await asyncio.sleep(0.05)  # the run is under way (keys being made, or sent)
        await m.close()
        await run
        return m

    m = asyncio.run(scenario())
    assert m.fault is None, m.fault
    assert not list((tmp_path / "reports").glob("*")), "no bug report for a closed window"
    assert lock_is_free(m), "let go once the run stopped"
    [renewal] = RenewalJournal(tmp_path / "journal.sqlite3").all()
    assert not renewal.state.finished  # kept where it stopped

    async def next_window():  # opened again: the same renewal goes on to the code
        again = model(tmp_path)
        again.load_home()
        [pending] = again.pending
        again.resume(pending.id)
        await asyncio.sleep(0)
        return again

    again = asyncio.run(next_window())
    assert again.screen == "open" and again.fault is None


def _foreign_stores(throwaway_ca, folder: Path) -> list[PickedFile]:
    picked = []
    for kind, key in (("auth", throwaway_ca.spare_keys[0]), ("sign", throwaway_ca.spare_keys[1])):
        cert, key = throwaway_ca.issue(kind=kind, key=key)
        path = folder / f"{kind.upper()}_foreign.p12"
        path.write_bytes(throwaway_ca.store(cert, key))
        picked.append(PickedFile(name=path.name, data=path.read_bytes(), path=path))
    return picked


def test_a_queued_renewal_of_keys_the_authority_does_not_renew_ends_at_step_3(
    tmp_path, throwaway_ca, monkeypatch
):
    home = tmp_path / "home"
    home.mkdir()
    picked = _foreign_stores(throwaway_ca, tmp_path)
    real_info = HttpAuthority.info

    async def unreachable(self):
        raise AuthorityUnreachable(detail="test: no answer")

    async def queued():
        m = model(home)
        monkeypatch.setattr(HttpAuthority, "info", unreachable)
        await to_keys(m, picked=picked, password=PASSWORD, check=True)
        await m.keys.check_issuer()  # no answer: no verdict, the renewal may be made
        assert m.keys.keys_ok and m.keys.issuer_refusal is None
        fill_application(m)
        m.password.set_new("Renewed2026cd")
        m.password.set_repeat("Renewed2026cd")
        m.password.understand(True)
        await m.password.accept()
        await m.close()

    asyncio.run(queued())
    [renewal] = RenewalJournal(home / "journal.sqlite3").all()
    assert renewal.state in BEFORE_SUBMISSION and renewal.application is None
    assert list((home / "keys").rglob("PENDING_*")), "its new keys wait, encrypted"

    async def answered():  # the authority answers now: it does not renew this CA's keys
        monkeypatch.setattr(HttpAuthority, "info", real_info)
        m = model(home)
        to_open(m)
        m.keys.set_files(picked)
        m.keys.set_password(PASSWORD)
        m.keys.open_keys()
        await m.keys.check_with_authority()
        await m.close()
        return m

    m = asyncio.run(answered())
    assert m.keys.issuer_refusal is not None and not m.keys.keys_ok
    [renewal] = RenewalJournal(home / "journal.sqlite3").all()
    assert renewal.state is RenewalState.CANCELLED
    assert not list((home / "keys").rglob("PENDING_*")), "the unsent keys went with it"


def test_a_tab_closed_at_the_code_lets_another_tab_carry_the_renewal_on(tmp_path):
    """Flet keeps a closed tab's session for an hour: its lock must not keep the renewal from
    a new tab (which heard "running in another window", and could not even end it)."""
    from wizard_steps import NEW, enter_demo_code, to_code

    async def scenario():
        first = model(tmp_path)
        await to_code(first)
        assert not lock_is_free(first)  # while its tab is open, the code is this window's
        first.disconnected()  # the tab closed (page.on_disconnect)
        assert lock_is_free(first)

        second = model(tmp_path)  # a new tab carries it on to the end
        [pending] = second.pending
        second.resume(pending.id)
        await asyncio.sleep(0)
        await second.keys.check_with_authority()
        second.continue_from_keys()
        assert second.screen == "password", (second.progress.work_error, second.fault)
        second.password.set_new(NEW)
        await second.password.accept()
        assert second.screen == "code", (second.progress.work_error, second.fault)
        await enter_demo_code(second)
        await second.close()
        await first.close()
        return second

    second = asyncio.run(scenario())
    assert second.screen == "done" and second.fault is None


def test_a_folder_that_already_holds_key_stores_is_refused_at_its_field(tmp_path):
    """Any key store, not only NCA-named ones: someone's legal_ceo.p12 beside new keys would mix
    two sets up. Said at the folder field, before anything is made."""
    from wizard_steps import EMAIL, LOCALITY

    taken = tmp_path / "somebody"
    taken.mkdir()
    (taken / "legal_ceo_valid.p12").write_bytes(b"\x30\x82 not ours")

    async def scenario():
        m = model(tmp_path / "home")
        await to_keys(m, check=True)
        m.continue_from_keys()
        m.form.set_email(EMAIL)
        m.form.set_locality(LOCALITY)
        m.form.set_folder(str(taken))
        m.form.confirm(True)
        m.form.submit()
        await m.close()
        return m

    m = asyncio.run(scenario())
    assert m.screen == "application" and m.form.folder_error is not None
    assert m.form.folder_error.key == "error.output_holds_keys" or (
        m.form.folder_error.error is not None
        and m.form.folder_error.error.code == "output_holds_keys"
    )
    assert "legal_ceo_valid.p12" in m.form.folder_error.text("en")
    assert sorted(p.name for p in taken.iterdir()) == ["legal_ceo_valid.p12"]


def test_make_demo_keys_pressed_twice_makes_one_set(tmp_path):
    async def scenario():
        m = model(tmp_path)
        to_open(m)
        await asyncio.gather(m.keys.make_demo_keys(), m.keys.make_demo_keys())
        await m.close()
        return m

    m = asyncio.run(scenario())
    assert m.keys.keys_ok and m.fault is None
    assert len(list((tmp_path / "demo-keys").iterdir())) == 1
