"""Step 4's model: the application form. The e-mail, the locality, the new folder and storage,
"the application is correct", and each field's problem said at the field (gone once the field is
changed). Made anew when a renewal starts over; "Start a new renewal" of the same keys keeps the
details typed (`ApplicationForm.kept`)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from wizard.errors import DetailsInvalid, QoltanbaError, UsageError
from wizard.ui.models.common import Message, Step, guard_entry_points
from wizard.ui.token_step import TOKEN_KINDS

if TYPE_CHECKING:
    from wizard.ui.models.wizard import WizardModel


@guard_entry_points
class ApplicationForm(Step):
    """Public attributes are what step 4 shows; methods are what its fields and button do."""

    def __init__(
        self,
        wizard: WizardModel,
        *,
        email: str = "",
        locality: str = "",
        folder: str = "",
        new_storage: str = "pkcs12",
    ) -> None:
        super().__init__(wizard)
        self.email = email
        self.locality = locality
        self.folder = folder
        self.new_storage = new_storage
        self.application_ok = False  # "the application is correct", ticked
        self.details_error: Message | None = None  # said under the form
        self.email_error: Message | None = None  # said at the field
        self.locality_error: Message | None = None
        self.folder_error: Message | None = None

    def kept(self) -> ApplicationForm:
        """A fresh form with the details typed here (nothing ticked, no error)."""
        return ApplicationForm(
            self._wizard,
            email=self.email,
            locality=self.locality,
            folder=self.folder,
            new_storage=self.new_storage,
        )

    def _fill_in(
        self, *, email: str = "", locality: str = "", propose_folder: bool = False
    ) -> None:
        """Pre-fill what was not typed: from the certificate, or the demo's e-mail; a new folder
        proposed under the keys' root."""
        self.email = self.email or email
        self.locality = self.locality or locality
        if propose_folder and not self.folder:
            from wizard.keys.files import free_folder

            services = self._wizard._services
            day = services.clock().date().isoformat()
            self.folder = str(free_folder(services.default_keys_root(), f"keys-{day}"))

    def _resumed(self, details: Any, folder: Path | None) -> None:
        """The details an interrupted renewal recorded (the journal's)."""
        if folder is not None:
            self.folder = str(folder)
        if details is not None:
            self.email = details.email
            self.locality = details.locality

    # --- the fields ----------------------------------------------------------------------------

    def set_email(self, value: str) -> None:
        self.email = value
        self.email_error = None

    def set_locality(self, value: str) -> None:
        self.locality = value
        self.locality_error = None

    def set_folder(self, value: str) -> None:
        self.folder = value
        self.folder_error = None

    def set_storage(self, value: str) -> None:
        self.new_storage = value

    def confirm(self, value: bool) -> None:
        """ "The application is correct", ticked or not."""
        self.application_ok = bool(value)

    # --- "Continue" ----------------------------------------------------------------------------

    def submit(self) -> None:
        """Check the details as the request will carry them; on to the new password."""
        from wizard.renewal.process import normal_details

        self.email_error = self.locality_error = self.folder_error = self.details_error = None
        if not self.email.strip():  # said at the field, in words of its own (not "…address: -")
            self.email_error = Message("application.email_empty")
            return
        details = self.details(self._wizard.password.new_password)
        try:
            normal_details(details)
        except DetailsInvalid as error:
            self._details_invalid(error)
            return
        try:
            if not self._wizard.token_mode and not self.folder.strip():
                raise UsageError("renewal_no_folder")
            if details.folder is not None:
                self._check_folder(details.folder)
        except QoltanbaError as error:
            self.folder_error = Message.of(error)
            return
        if not self.application_ok:
            self.details_error = Message("application.confirm_needed")
            return
        self.details_error = None
        self._wizard.screen = "password"

    def details(self, new_password: str) -> Any:
        """The renewal's details (wizard.renewal.process.RenewalDetails) as typed here."""
        from wizard.renewal.process import RenewalDetails

        wizard = self._wizard
        if wizard.token_mode:  # the new keys go on the token: no folder, no password
            storage = TOKEN_KINDS[wizard.storage_kind]
            return RenewalDetails(self.email, self.locality, None, "", storage=storage)
        return RenewalDetails(
            email=self.email,
            locality=self.locality,
            folder=Path(self.folder.strip()).expanduser(),
            new_password=new_password,
            storage=self.new_storage,
        )

    def _details_invalid(self, error: DetailsInvalid) -> None:
        """Put the message at the field it is about: the e-mail when the e-mail alone is refused,
        else the locality (or the storage, said under the form)."""
        from wizard.renewal.process import STORAGES, normal_email

        message = Message.of(error)
        try:
            normal_email(self.email)
        except DetailsInvalid:
            self.email_error = message
            return
        if self.new_storage not in STORAGES:
            self.details_error = message
        else:
            self.locality_error = message

    def _check_folder(self, folder: Path) -> None:
        """Said at the field, before anything is made: not where the current keys are, not a
        file, and not a folder that already holds key stores (one folder, one set of keys)."""
        from wizard.keys.files import check_new_folder, refuse_folder_with_keys

        stores = self._wizard.keys._stores
        refuse_folder_with_keys(
            check_new_folder(folder, [s.path for s in stores if s.path is not None])
        )
