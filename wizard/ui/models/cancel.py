"""The "End this renewal" confirmation's model: which renewal it asks about (the one listed on
the home screen, or the one this window follows) and what ending it said. Made anew with every
renewal."""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING

from wizard.errors import QoltanbaError
from wizard.renewal.journal import Renewal
from wizard.ui.models.common import Message, PendingRenewal, Step, guard_entry_points

if TYPE_CHECKING:
    from wizard.ui.models.wizard import WizardModel


@guard_entry_points
class CancelRenewal(Step):
    """Public attributes are what the confirmation shows; methods are its buttons."""

    def __init__(self, wizard: WizardModel) -> None:
        super().__init__(wizard)
        self.asked: PendingRenewal | None = None  # the renewal the confirmation asks about
        self.error: Message | None = None  # what ending it said (another window has it, ...)

    def _target(self, renewal_id: str | None) -> Renewal | None:
        wizard = self._wizard
        journal = wizard._journal
        with contextlib.suppress(KeyError):
            if renewal_id is not None:
                return journal.get(renewal_id)
            current = wizard.keys._current
            if current is not None:
                pending = journal.pending_for(current.fingerprints)
                if pending is not None:
                    return pending
            followed = wizard.progress._renewal
            if followed is not None:
                return journal.get(followed.id)
        return None

    def ask(self, renewal_id: str | None = None) -> None:
        """Ask to confirm ending a renewal (the one listed, or the one this window follows)."""
        renewal = self._target(renewal_id)
        self.error = None
        if renewal is None or not PendingRenewal.of(renewal).cancellable:
            self.asked = None
            self._wizard.load_home()
            return
        self.asked = PendingRenewal.of(renewal)

    def keep(self) -> None:
        """The confirmation answered "no": nothing changes."""
        self.asked = None
        self.error = None

    def end(self) -> None:
        """The confirmation answered "yes": end the renewal (wizard.renewal.process.cancel), say
        how it ended and go home. Another window working on it (RenewalBusy) is said instead."""
        from wizard.renewal.process import cancel

        wizard = self._wizard
        asked = self.asked
        if asked is None or wizard.busy:
            return
        renewal = self._target(asked.id)
        if renewal is None:
            self.keep()
            return
        renewer = wizard.progress._renewer
        if renewer is not None:
            renewer.release()  # this window's own lock must not stop its own cancel
        tokens = wizard.tokens
        try:
            session = tokens.session
            on_token = session is not None and renewal.record.origin.token == session.token.serial
            outcome = cancel(
                wizard._journal,
                renewal,
                home=wizard._services.home,
                new_keys=tokens.new_keys() if on_token else None,  # its new pair removed
            )
        except QoltanbaError as error:  # RenewalBusy, or it ended meanwhile (cancel_finished)
            self.error = Message.of(error)
            wizard.load_home()
            return
        if outcome.application:
            said = Message("cli.cancel_after_submission", {"application": outcome.application})
        else:
            said = Message("cli.cancel_before_submission")
        wizard.resuming = None
        wizard._fresh_renewal()  # this confirmation too: asked no more
        wizard.go("home")
        wizard.home_notices = [said]
