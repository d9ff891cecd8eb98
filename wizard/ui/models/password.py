"""Step 5's model: the new password. What is typed twice, shown or hidden, "I understand this
password cannot be recovered", the policy's verdict (judged once per password typed) and what
"Continue" said. On a token there is no new password: the PIN protects the new keys; resuming,
only the password that unlocks the new keys saved encrypted is asked. Made anew with every
renewal."""

from __future__ import annotations

from typing import TYPE_CHECKING

from wizard.errors import QoltanbaError
from wizard.keys.passwords import PasswordVerdict, check_new_password, require_acceptable
from wizard.ui.models.common import Message, Step, guard_entry_points

if TYPE_CHECKING:
    from wizard.ui.models.wizard import WizardModel


@guard_entry_points
class NewPassword(Step):
    """Public attributes are what step 5 shows; methods are what its fields and button do."""

    def __init__(self, wizard: WizardModel) -> None:
        super().__init__(wizard)
        self._verdict: tuple[tuple[str, tuple[str, ...]], PasswordVerdict] | None = None
        self.new_password = ""
        self.new_password2 = ""  # the confirmation
        self.show_password = False
        self.understood = False
        self.password_error: Message | None = None

    def _secrets(self) -> tuple[str, ...]:
        return (self.new_password, self.new_password2)

    def _identity(self) -> tuple[str, ...]:
        current = self._wizard.keys._current
        return current.identity() if current is not None else ()

    # --- the fields ----------------------------------------------------------------------------

    def set_new(self, value: str) -> None:
        self.new_password = value

    def set_repeat(self, value: str) -> None:
        self.new_password2 = value

    def show(self, value: bool) -> None:
        self.show_password = bool(value)

    def understand(self, value: bool) -> None:
        self.understood = bool(value)

    # --- what the screen and its button ask ----------------------------------------------------

    @property
    def verdict(self) -> PasswordVerdict:
        """The policy's verdict on the new password, judged once per password typed (the screen
        and its button both ask, on every keystroke; zxcvbn is the costly part)."""
        identity = self._identity()
        asked = (self.new_password, identity)
        if self._verdict is None or self._verdict[0] != asked:
            self._verdict = (asked, check_new_password(self.new_password, identity=identity))
        return self._verdict[1]

    @property
    def passwords_match(self) -> bool:
        return bool(self.new_password) and self.new_password == self.new_password2

    @property
    def can_accept(self) -> bool:
        wizard = self._wizard
        if wizard.token_mode:
            return wizard.tokens.session is not None  # no new password: the PIN protects them
        if wizard.resuming is not None and wizard.progress._renewal is not None:
            return bool(self.new_password)
        return self.verdict.acceptable and self.passwords_match and self.understood

    async def accept(self) -> None:
        """ "Make the new keys": the password checked (unless resuming or on a token), then the
        renewal is carried on (WizardModel.progress.run)."""
        wizard = self._wizard
        if wizard.token_mode:
            self.password_error = None
            await wizard.progress.run()
            return
        if wizard.resuming is None or wizard.progress._renewal is None:
            try:
                require_acceptable(self.new_password, identity=self._identity())
            except QoltanbaError as error:
                self.password_error = Message.of(error)
                return
            if not self.passwords_match:
                self.password_error = Message("password.confirm_mismatch")
                return
            if not self.understood:
                self.password_error = Message("password.understand_needed")
                return
        self.password_error = None
        await wizard.progress.run()
