"""Step 3's model: the current keys. The files picked and their password, or the token and its
PIN (the token itself: ui/token_step.py), the stores opened, their cards with verdicts and what
the authority says of their revocation and of their issuer (whether it renews keys of that CA:
wizard.renewal.acceptance, the right verdict first, issue #11), and the identity they carry. Made
anew when a renewal starts over (WizardModel.start_new, resume); a resumed renewal's current
files are chosen again when they are at hand (``reselect``)."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from wizard.errors import AuthorityUnreachable, NotRenewable, QoltanbaError, WrongPassword
from wizard.keys.oids import Holder, Scheme
from wizard.renewal.journal import BEFORE_SUBMISSION
from wizard.ui.models.common import (
    DEMO_EMAIL,
    DEMO_PASSWORD,
    KeyCard,
    Message,
    PickedFile,
    Step,
    guard_entry_points,
)

if TYPE_CHECKING:
    from wizard.ui.models.wizard import WizardModel

ISSUER_NOT_ACCEPTED = "issuer_not_accepted"  # wizard.renewal.acceptance.REASON
# How long step 3 waits for the authority to say whether it renews these keys' issuer: past it,
# nothing is said (as when it cannot be reached; it checks again when the application is sent).
ISSUER_PATIENCE = 10.0


@guard_entry_points
class CurrentKeys(Step):
    """Public attributes are what step 3 shows; methods are what its buttons and fields do."""

    def __init__(self, wizard: WizardModel) -> None:
        super().__init__(wizard)
        self._stores: list[Any] = []  # the opened key stores (files, or the token's keys)
        self._current: Any = None  # wizard.renewal.process.CurrentKeys once they can go on
        self.picked: list[PickedFile] = []
        self.current_password = ""
        self.show_current_password = False  # shown only for the demo keys made here
        self.cards: list[KeyCard] = []
        self.open_error: Message | None = None
        self.keys_ok = False
        self.demo_keys_note: Message | None = None
        self.identity: dict[str, str] = {}
        # step 3 asks the authority whether the keys are revoked (issue #12)
        self.revocation_checking = False
        # and whether it renews keys of their issuer (issue #11): asked once the keys are open
        self.issuer_checking = False
        self.issuer_refusal: Message | None = None  # NotRenewable("issuer_not_accepted")
        # the authority could not be asked (unreachable, too slow): said, and asked again when
        # the application is sent
        self.issuer_unasked: Message | None = None
        # a resumed renewal: which files it started with, chosen again or to be chosen (#11)
        self.resume_note: Message | None = None
        # the authority the opened keys were checked for (the wizard's spec then); another one
        # chosen at step 1 since: they are to be opened again, and this says why (#11)
        self.opened_for: str | None = None
        self.reopen_note: Message | None = None
        # keys on a token (issue #13): the PIN typed (dropped once used), what the token said
        self.token_pin = ""
        self.token_notice: Message | None = None

    def _secrets(self) -> tuple[str, ...]:
        return (self.current_password, self.token_pin)

    def _forget_opened(self) -> None:
        self.cards, self.keys_ok, self._stores, self._current = [], False, [], None
        self.issuer_refusal = None
        self.issuer_unasked = None
        self.opened_for = None

    def _authority_chosen(self) -> None:
        """Step 1 chose an authority. Keys opened and checked for another one are opened again:
        its word on their issuer and their revocation is not the other's (#11)."""
        if self.cards and self.opened_for != self._wizard.authority:
            self._forget_opened()
            self.open_error = None
            self.reopen_note = Message("verdict_ui.authority_changed")

    def _opened(self) -> None:
        """Stores opened just now, for the wizard's authority of now."""
        self.opened_for = self._wizard.authority
        self.reopen_note = None

    # --- files ---------------------------------------------------------------------------------

    def set_files(self, files: list[PickedFile]) -> None:
        self.picked = list(files)
        self.show_current_password = False  # shown only for the demo keys made here
        self._forget_opened()
        self.open_error = None

    def remove_file(self, name: str) -> None:
        self.set_files([f for f in self.picked if f.name != name])

    def set_password(self, value: str) -> None:
        """The current keys' password, as typed."""
        self.current_password = value

    def _reselect(self, paths: Sequence[str], demo_folder: Path) -> None:
        """A resumed renewal's current key files (their paths as recorded when it started), chosen
        again when they are at hand: the person only types their password; the demo keys this
        app made are opened at once (their password is known). Otherwise ``resume_note`` says
        which files to choose and where they were (issue #11)."""
        from wizard.keys.store import read_store_file

        files = [Path(p) for p in paths]
        if not files:  # chosen in a browser: no path was known
            self.resume_note = Message("verdict_ui.resume_pick_same")
            return
        where = {
            "files": ", ".join(f.name for f in files),
            "folder": ", ".join(dict.fromkeys(str(f.parent) for f in files)),
        }
        try:
            picked = [PickedFile(name=f.name, data=read_store_file(f), path=f) for f in files]
        except QoltanbaError:  # moved, removed, unreadable: to be chosen by the person
            self.resume_note = Message("verdict_ui.resume_pick", where)
            return
        self.set_files(picked)
        if not all(_inside(f, demo_folder) for f in files):
            self.resume_note = Message("verdict_ui.resume_chosen", where)
            return
        self.resume_note = Message("verdict_ui.resume_demo_opened", where)
        self.current_password = DEMO_PASSWORD
        self.show_current_password = True
        self.open_keys()

    async def pick_files(self, pick: Callable[[], Awaitable[list[PickedFile]]]) -> None:
        """The person chose key files (the platform's picker)."""
        try:
            files = await pick()
        except QoltanbaError as error:  # a file that cannot be read as a key store
            self.open_error = Message.of(error)
            return
        if files:
            self.set_files(files)

    async def make_demo_keys(self, holder: str = "individual") -> None:
        """Demo mode: have the demo authority issue this demo holder's current keys (once for a
        double click: one set, not two)."""
        async with self._presses.once(f"demo-keys:{holder}") as go:
            if go:
                await self._make_demo_keys(holder)

    async def _make_demo_keys(self, holder: str) -> None:
        from wizard.keys.files import free_folder
        from wizard.keys.store import read_store_file
        from wizard.renewal.demo import issue_demo_keys

        wizard = self._wizard
        if wizard.busy:  # pressed twice: one set of demo keys, not two
            return
        wizard.busy = True
        self.open_error = None
        wizard.notify()
        try:
            authority = await wizard._open_authority()
            folder = free_folder(wizard._services.home / "demo-keys", holder)
            demo = await issue_demo_keys(
                authority,
                folder,
                DEMO_PASSWORD,
                scheme=Scheme.RSA,
                holder=Holder(holder),
                days_left=wizard._services.demo_days_left,
            )
            self.set_files(
                [PickedFile(name=p.name, data=read_store_file(p), path=p) for p in demo.files]
            )
            self.demo_keys_note = Message(
                "open.demo_made", {"password": DEMO_PASSWORD, "folder": str(demo.folder)}
            )
        except QoltanbaError as error:
            self.open_error = Message.of(error)
            return
        finally:
            wizard.busy = False
        # The keys are opened at once: the password the app has just set is shown and filled in
        # (nothing to type, nothing more to press), then the authority is asked about them.
        self.current_password = DEMO_PASSWORD
        self.show_current_password = True
        wizard.form._fill_in(email=DEMO_EMAIL)  # a demo holder's certificate carries none
        self.open_keys()
        if self.keys_ok:
            await self.check_with_authority()

    def open_keys(self) -> None:
        """Open every picked store with the password and show the key list with verdicts (the
        revocation as far as the CRLs at hand tell; `check_revocation` then asks the authority)."""
        from wizard.keys.store import open_store_bytes

        self._forget_opened()
        if not self.picked:
            self.open_error = Message("open.none_picked")
            return
        if not self.current_password:
            self.open_error = Message("open.no_password")
            return
        now = self._wizard._services.clock()
        stores, cards = [], []
        for picked in self.picked:
            try:
                store = open_store_bytes(picked.data, self.current_password, path=picked.path)
            except WrongPassword as error:
                self.open_error = Message.of(error)
                return
            except QoltanbaError as error:
                said = {"file": picked.name, "detail": error.message(self._wizard.lang)}
                # its code and class too: the help link opens the answer for it
                said |= {"code": error.code, "kind": type(error).__name__}
                self.open_error = Message("open.file_error", said, None)
                return
            stores.append(store)
            cards.append(_card(picked.name, store, now))
        self.cards = cards
        self._stores = stores
        self.open_error = None
        self._opened()
        self._keys_checked()

    async def check_revocation(self) -> None:
        """Ask whether the opened keys are revoked (OCSP, then CRLs: wizard.authority.revocation)
        in a worker thread, and show the answer on each card; a revoked key cannot go on."""
        from wizard.authority.revocation import RevocationOptions, check_stores

        services = self._wizard._services
        stores = list(self._stores)
        if not stores or self.revocation_checking:
            return
        options = RevocationOptions.from_environment(
            home=services.home, clock=services.clock, engine_in_thread=False
        )
        self.revocation_checking = True
        try:
            checked = await asyncio.to_thread(asyncio.run, check_stores(stores, options))
        finally:
            self.revocation_checking = False
        if [id(s) for s in self._stores] != [id(s) for s in stores]:
            return  # other keys were opened meanwhile: this answer is not theirs
        now = services.clock()
        self._stores = checked
        names = [card.file_name for card in self.cards]
        self.cards = [_card(name, s, now) for name, s in zip(names, checked, strict=True)]
        self._keys_checked()

    async def check_with_authority(self) -> None:
        """What the authority says of the opened keys, after "Open": whether they are revoked
        (`check_revocation`), then whether it renews keys of their issuer (`check_issuer`)."""
        await self.check_revocation()
        await self.check_issuer()

    async def check_issuer(self) -> None:
        """Ask the wizard's authority (one ``info()``: wizard.renewal.acceptance.judge_issuer)
        whether it renews keys of the opened keys' issuer, without blocking the screen. Refused:
        said at once, in words and with what to do, and the keys cannot go on (never a rejection
        after submitting, issue #11). Not asked when a key is refused for its own sake (expired,
        revoked: its card says so first) or for a renewal under way (carried on as recorded, as
        the command line does); an authority that cannot be reached, or does not say, says
        nothing: it checks again when the application is sent."""
        from wizard.renewal.acceptance import judge_issuer

        wizard = self._wizard
        stores = list(self._stores)
        if not stores or self.issuer_checking or not self.keys_ok or self._under_way():
            return
        self.issuer_checking = True
        refusal: NotRenewable | None = None
        unasked = False
        try:
            authority = await wizard._open_authority()
            now = wizard._services.clock()
            await asyncio.wait_for(judge_issuer(authority, stores, now), ISSUER_PATIENCE)
        except NotRenewable as error:
            refusal = error
        except (AuthorityUnreachable, TimeoutError):
            unasked = True  # no verdict yet: the renewal can still be made, and queued
        finally:
            self.issuer_checking = False
        if not _same_keys(self._stores, stores):
            return  # other keys were opened meanwhile: not their answer
        if unasked:
            self.issuer_unasked = Message("verdict_ui.issuer_unasked")
        if refusal is None:
            return  # accepted, or not asked yet
        self._end_unsent(stores)
        self.issuer_refusal = Message.of(refusal)
        self._keys_checked()

    def _end_unsent(self, stores: list[Any]) -> None:
        """A renewal of these keys queued before it was submitted (the authority could not be
        reached then) cannot go on: it ends here and its unsent new keys go (process.cancel, as
        the command line does); nothing of it exists at the authority."""
        from wizard.renewal.acceptance import unsent_renewal
        from wizard.renewal.process import cancel, current_keys

        wizard = self._wizard
        with contextlib.suppress(QoltanbaError):
            fingerprints = current_keys(stores).fingerprints
            pending = unsent_renewal(wizard._journal, fingerprints, wizard.authority)
            if pending is None:
                return
            wizard.progress._release()  # this window's own lock must not stop its own cancel
            cancel(wizard._journal, pending, home=wizard._services.home)

    @property
    def asking(self) -> bool:
        """The authority is being asked about the opened keys (revocation, or their issuer):
        Open and Continue wait for its word."""
        return self.revocation_checking or self.issuer_checking

    def _under_way(self) -> bool:
        """These keys' renewal was submitted (or is done): carried on as recorded, never judged
        again. One queued before it was submitted is judged (and ended when refused)."""
        if self._current is None:
            return False
        pending = self._wizard._journal.pending_for(self._current.fingerprints)
        return pending is not None and pending.state not in BEFORE_SUBMISSION

    def _keys_checked(self) -> None:
        """keys_ok and the renewal's identity from the opened stores and their cards; the
        application's fields filled in from the certificate where nothing was typed."""
        from wizard.renewal.process import current_keys

        self.keys_ok = False
        self._current = None
        if self.issuer_refusal is not None:  # the authority does not renew keys of this CA
            self.cards = [
                dataclasses.replace(card, renewable=False, reason=ISSUER_NOT_ACCEPTED)
                for card in self.cards
            ]
            return
        if not all(card.renewable for card in self.cards):
            return
        try:
            self._current = current_keys(self._stores)
        except QoltanbaError as error:
            self.open_error = Message.of(error)
            return
        self.keys_ok = True
        facts = self._current.signer.facts
        self.identity = {
            "name": facts.full_name,
            "iin": facts.iin,
            "bin": facts.bin,
            "organization": facts.organization,
            "holder": facts.holder.value,
        }
        self._wizard.form._fill_in(email=facts.email, locality=facts.locality, propose_folder=True)

    def _refuse_revoked(self) -> bool:
        """A revoked key never goes on (a new application instead): said, and True."""
        if not any(store.revocation.revoked for store in self._current.stores.values()):
            return False
        from wizard.errors import NotRenewable

        self.keys_ok = False
        self.open_error = Message.of(NotRenewable(reason="revoked"))
        return True

    # --- keys on a token (issue #13; the token itself: ui/token_step.py) -----------------------

    def find_tokens(self) -> None:
        """Look for the tokens plugged in (and what each says of its PIN); the keys read before
        are forgotten (the PIN is asked again)."""
        self.open_error = None
        self._forget_opened()
        try:
            self._wizard.tokens.scan()
        except QoltanbaError as error:
            self.open_error = Message.of(error)

    def choose_token(self, serial: str) -> None:
        self._wizard.tokens.choose(serial)
        self._forget_opened()

    def set_token_pin(self, value: str) -> None:
        self.token_pin = value
        self.open_error = None

    async def open_token(self) -> None:
        """Log in with the PIN (in a worker thread: a token may be slow) and show the NCA keys to
        renew with their verdicts. The PIN is dropped at once: the session stays logged in."""
        from wizard.renewal.token_home import current_keys_on_token

        wizard, tokens = self._wizard, self._wizard.tokens
        self._forget_opened()
        self.token_notice = None
        if tokens.chosen is None:
            self.find_tokens()
            if tokens.chosen is None:
                self.open_error = Message("token.ui.none_found")
                return
        if not self.token_pin:
            self.open_error = Message("token.ui.no_pin")
            return
        pin, self.token_pin = self.token_pin, ""
        wizard.busy = True
        wizard.notify()
        try:
            stores = await asyncio.to_thread(tokens.login, pin)
            info = tokens.session.token
            current = current_keys_on_token(wizard._journal, stores, info)
        except QoltanbaError as error:
            with contextlib.suppress(QoltanbaError):
                tokens.scan()  # what the token says of its PIN now
            self.open_error = Message.of(error)
            return
        finally:
            wizard.busy = False
        if tokens.factory_typed:
            self.token_notice = Message("token.ui.factory_after", {"token": info.name})
        now = wizard._services.clock()
        self._stores = list(current.stores.values())
        self.cards = [_card(s.label or s.object_id.hex(), s, now) for s in self._stores]
        self.open_error = None
        self._opened()
        self._keys_checked()

    def _token_gone(self, error: QoltanbaError) -> None:
        """Unplugged meanwhile: the keys are to be read again (the PIN typed again)."""
        self._wizard.tokens.close()
        self.cards, self.keys_ok = [], False
        self.open_error = Message.of(error)


def _inside(path: Path, folder: Path) -> bool:
    try:
        return path.resolve().is_relative_to(folder.resolve())
    except OSError:
        return False


def _same_keys(now: Sequence[Any], then: Sequence[Any]) -> bool:
    """The same keys are open as when a question about them was asked (re-read stores of the
    same certificates count as the same)."""
    return [s.certificate for s in now] == [s.certificate for s in then]


def _card(file_name: str, store: Any, now: datetime) -> KeyCard:
    """A store as its card shows it: who, what for, until when, the verdict, the revocation."""
    facts = store.facts
    verdict = store.verdict(now)
    return KeyCard(
        file_name=file_name,
        name=facts.full_name,
        iin=facts.iin,
        bin=facts.bin,
        organization=facts.organization,
        holder=facts.holder.value,
        usage=facts.usage,
        algorithm=facts.algorithm,
        not_after=facts.not_after,
        days_left=facts.days_left(now),
        renewable=verdict.renewable,
        reason=verdict.reason,
        revocation=store.revocation,
    )
