"""Steps 5 to 7 as they run: the renewal carried forward (the work screen's ticks), the
application number and the one-time code, the authority's answer on the status screen, what the
run said besides (notices) and its error with a way forward. The renewal this window follows (and
its lock, held by the Renewer) lives here too. Made anew with every renewal, so a late answer of
a renewal left behind lands in the model left behind, never in the new one."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from wizard.errors import (
    ApplicationRejected,
    AuthorityUnreachable,
    CertificateRefused,
    CodeWrong,
    DetailsInvalid,
    LocalStateError,
    OutputRefused,
    QoltanbaError,
    RenewalBusy,
    RenewalElsewhere,
    TokenAbsent,
    WrongPassword,
)
from wizard.renewal.journal import Renewal, RenewalState
from wizard.ui.models.common import WORK_STAGES, Message, PendingRenewal, Step, guard_entry_points

logger = logging.getLogger(__name__)

if TYPE_CHECKING:
    from wizard.ui.models.wizard import WizardModel

S = RenewalState


@guard_entry_points
class Progress(Step):
    """Public attributes are what the work, code and status screens show."""

    def __init__(self, wizard: WizardModel) -> None:
        super().__init__(wizard)
        self._renewal: Renewal | None = None  # the renewal this window follows
        self._renewer: Any = None  # wizard.renewal.process.Renewer; holds the keys' lock
        self.stage = ""
        self.stages_done: list[str] = []
        self.work_error: Message | None = None
        self.application: str | None = None
        self.demo_sms: str | None = None
        self.code = ""
        self.code_error: Message | None = None
        self.remote_state = ""
        self.offline = False
        self.checked_at: datetime | None = None
        self.rejection: Message | None = None
        # what the renewal run tells besides its result ("this files a new application")
        self.run_notices: list[Message] = []

    def _release(self) -> None:
        """The renewal finished or ended: other windows may work on these keys again."""
        if self._renewer is not None:
            self._renewer.release()

    def _to(self, screen: str) -> None:
        """Show ``screen`` as a run's outcome, unless the person has left the renewal meanwhile
        (this model is then no longer the navigator's: a new renewal has its own)."""
        wizard = self._wizard
        if not wizard._leaving and wizard.progress is self:
            wizard.screen = screen

    # --- the code ------------------------------------------------------------------------------

    def set_code(self, value: str) -> None:
        self.code = value

    async def confirm_code(self) -> None:
        code = self.code.strip()
        if not code:
            self.code_error = Message("code.empty")
            return
        self.code = code
        self.code_error = None
        await self.run()

    async def copy_application(self, copy: Callable[[str], Awaitable[Any]]) -> bool:
        await copy(self.application or "")
        return True

    async def _typed_code(self, number: str, attempts_left: int | None) -> str | None:
        """The code typed on the code screen, taken once; None before one is typed (the driver
        stops at the code, and the code screen is shown)."""
        code, self.code = self.code, ""
        return code or None

    async def _show_code_screen(self, authority: Any, renewal: Renewal) -> None:
        self.application = renewal.application
        self.demo_sms = None
        if self._wizard.demo and renewal.application:
            with contextlib.suppress(QoltanbaError):
                codes = await authority.demo_codes(renewal.application)
                self.demo_sms = codes[-1] if codes else None
            if self.demo_sms and not self.code:
                self.code = self.demo_sms  # the demo's "SMS" is shown: filled in, not retyped
        self._to("code")

    # --- the run -------------------------------------------------------------------------------

    def _on_progress(self, renewal: Renewal) -> None:
        if self._renewer is not None:
            self._take_notices(self._renewer)
        if self._renewal is None or renewal.state is not self._renewal.state:
            self.offline = False  # it moved on; trying again from where it was says nothing yet
        self._renewal = renewal
        self.stage = renewal.state.value
        self.stages_done = [s.value for s in WORK_STAGES if _reached(renewal.state, s)]
        self.application = renewal.application
        self._wizard.notify()

    def _take_notices(self, renewer: Any) -> None:
        notices = []
        for key, params in renewer.notices:
            message = Message(key, dict(params))
            if message not in notices:
                notices.append(message)
        self.run_notices = notices

    async def run(self) -> None:
        """Carry the renewal forward as far as it goes without the person: stops at the one-time
        code, at a wait for the authority (status screen), at the end or at an error. Every
        Qoltanba error is said with a way forward (``work_actions``)."""
        from wizard.errors import RenewalWaiting
        from wizard.renewal.process import Renewer

        wizard = self._wizard
        # the steps this run reads and answers to: should the person start over meanwhile, its
        # late answers go to these, not to the new renewal's
        keys, form, password = wizard.keys, wizard.form, wizard.password
        if self._ended_elsewhere():
            return
        wizard.busy = True
        wizard._running = True
        wizard._leaving = False
        wizard._run_idle = idle = asyncio.Event()
        self.work_error = None
        wizard.fault = None
        if wizard.screen not in ("work", "status"):
            wizard.screen = "work"
        wizard.notify()
        renewer = None
        try:
            authority = await wizard._open_authority()
            if self._renewer is None:
                services = wizard._services
                self._renewer = Renewer(
                    wizard._journal,
                    authority,
                    wizard.authority,
                    clock=services.clock,
                    max_wait=services.max_wait,
                    secrets=services.secrets,
                    home=services.home,
                    progress=self._on_progress,
                    trust=services.trust_for(wizard.authority),
                    new_keys=wizard.tokens.new_keys() if wizard.token_mode else None,
                )
            renewer = self._renewer
            # The one driver the command line uses too; it holds these keys' lock from here
            # (let go when the renewal ends or the person leaves), runs key generation, signing
            # and writing off this loop, and stops between steps when the person went elsewhere.
            renewal = await renewer.drive(
                keys._current,
                form.details(password.new_password),
                self._typed_code,
                stop=lambda: wizard._leaving,
                hold=True,
            )
            if wizard._leaving:
                return  # the person went elsewhere: the journal keeps this step
            if renewal.state is S.AWAITING_CODE:
                await self._show_code_screen(authority, renewal)
                return
            if renewal.state.finished:
                self._finished(renewal)
        except WrongPassword as error:
            # the new password typed when resuming does not unlock the saved new keys
            password.password_error = Message.of(error)
            self._to("password")
        except DetailsInvalid as error:
            # an e-mail or locality the request cannot carry: said at its field
            form._details_invalid(error)
            self._to("application")
        except RenewalWaiting:  # before its parent, AuthorityUnreachable
            self._waiting(offline=False)
        except AuthorityUnreachable:
            self._waiting(offline=True)
        except CodeWrong as error:  # before its parent, ApplicationRejected
            self.code = ""
            self.code_error = Message.of(error)
            self._to("code")
        except (ApplicationRejected, CertificateRefused) as error:
            # refused: the journal ended this renewal, nothing installed, a new one may start
            self._release()
            self.rejection = Message.of(error)
            self._to("status")
        except TokenAbsent as error:
            # unplugged meanwhile: the journal keeps the step; plugged in and the PIN typed
            # again on the keys screen, the same renewal goes on from there
            self._renewer = None
            keys._token_gone(error)
            self._to("open")
        except QoltanbaError as error:
            # RenewalBusy, RenewalElsewhere, OutputRefused, LocalStateError, ...: said on the
            # screen with what can be done (work_actions)
            if not wizard._closing:
                self.work_error = Message.of(error)
        except Exception:
            if wizard._closing:
                # the window closed under a step (its client closed): nobody to tell, nothing
                # lost: the journal keeps the last step recorded, and the next window goes on
                logger.info("a run stopped as its window closed")
                return
            raise
        finally:
            idle.set()
            wizard.busy = False
            wizard._running = False
            if wizard._leaving:
                wizard._leaving = False
                if renewer is not None:
                    renewer.release()

    def _waiting(self, *, offline: bool) -> None:
        """The authority has not answered yet (or cannot be reached): the status screen."""
        self.offline = offline
        self.checked_at = self._wizard._services.clock()
        self.remote_state = self._renewal.state.value if self._renewal else ""
        self._to("status")

    def _ended_elsewhere(self) -> bool:
        """The renewal this window follows was ended meanwhile (another window cancelled it, or
        it was refused): say so instead of starting a new renewal behind the person's back."""
        if self._renewal is None or self._renewal.state.finished:
            return False
        try:
            latest = self._wizard._journal.get(self._renewal.id)
        except KeyError:
            return False
        if not latest.state.finished or latest.state is S.DONE:
            return False
        self._renewal = latest
        self._finished(latest)
        return True

    def _finished(self, renewal: Renewal) -> None:
        """The renewal is over: its lock let go, and the outcome shown (new keys, or why there
        are none, with "Start a new renewal")."""
        self._release()
        if renewal.state is S.DONE:
            self._show_done(renewal)
            return
        if renewal.state is S.REFUSED:
            ending = renewal.record.ending
            detail = (ending.refused if ending else "") or "-"
            self.rejection = Message.of(CertificateRefused(detail=detail))
        elif renewal.state is S.CANCELLED:
            self.rejection = Message("status.cancelled_elsewhere")
        elif renewal.state in (S.REJECTED, S.LAPSED):
            reason = (renewal.record.ending.reason if renewal.record.ending else "") or (
                renewal.state.value
            )
            self.rejection = Message("status.rejected", {"reason": reason})
        else:
            return
        self._to("status")

    def _show_done(self, renewal: Renewal) -> None:
        self._wizard.done._show(renewal)
        self.application = renewal.application
        self._to("done")

    # --- what the screens offer ----------------------------------------------------------------

    @property
    def work_actions(self) -> tuple[str, ...]:
        """What the work and status screens offer with their error, by the error's class:
        "retry", "back" (to the password), "cancel", "choose_folder", "home"."""
        error = self.work_error.error if self.work_error is not None else None
        if error is None:
            return ("retry", "home") if self._wizard.fault is not None else ()
        if isinstance(error, RenewalBusy):
            return ("retry", "home")  # another window works on it: when it is done
        if isinstance(error, RenewalElsewhere):
            return ("cancel", "home")
        if isinstance(error, OutputRefused):  # NoSpace too
            return ("choose_folder", "retry")
        if isinstance(error, LocalStateError):
            return ()  # its message says what to do (QOLTANBA_HOME)
        return ("retry", "back")

    def choose_folder(self) -> None:
        """Back to the application step, the folder's problem said at the folder."""
        self._wizard.form.folder_error = self.work_error
        self.work_error = None
        self._wizard.screen = "application"

    @property
    def can_cancel(self) -> bool:
        """The renewal this window follows can be ended here (status, code, password screens)."""
        renewal = self._renewal
        return (
            renewal is not None
            and self.rejection is None
            and PendingRenewal.of(renewal).cancellable
        )


def _reached(state: RenewalState, stage: RenewalState) -> bool:
    order = list(RenewalState)
    if state in (S.REJECTED, S.REFUSED, S.CANCELLED, S.LAPSED):
        return False
    return order.index(state) >= order.index(stage)
