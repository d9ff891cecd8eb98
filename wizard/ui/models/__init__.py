"""The wizard's models in plain Python (no Flet): the navigator (`WizardModel`, wizard.py) and one
model per step it composes (keys.py, application.py, password.py, progress.py, done.py,
cancel.py), with what they share (common.py) and need from outside (services.py)."""

from wizard.ui.models.application import ApplicationForm
from wizard.ui.models.cancel import CancelRenewal
from wizard.ui.models.common import (
    DEMO_EMAIL,
    DEMO_PASSWORD,
    NOT_ENTRY_POINTS,
    SCREENS,
    STEP_NUMBERS,
    STEPS,
    STORAGE_KINDS,
    WORK_STAGES,
    KeyCard,
    KnownKey,
    Message,
    PendingRenewal,
    PickedFile,
    PressGuard,
    Step,
    guard_entry_points,
    last_resort,
)
from wizard.ui.models.done import Done
from wizard.ui.models.keys import CurrentKeys
from wizard.ui.models.password import NewPassword
from wizard.ui.models.progress import Progress
from wizard.ui.models.services import Services
from wizard.ui.models.wizard import WizardModel

# The step models, each made anew when its step starts over.
STEP_MODELS: tuple[type[Step], ...] = (
    CurrentKeys,
    ApplicationForm,
    NewPassword,
    Progress,
    Done,
    CancelRenewal,
)

__all__ = [
    "DEMO_EMAIL",
    "DEMO_PASSWORD",
    "NOT_ENTRY_POINTS",
    "SCREENS",
    "STEPS",
    "STEP_MODELS",
    "STEP_NUMBERS",
    "STORAGE_KINDS",
    "WORK_STAGES",
    "ApplicationForm",
    "CancelRenewal",
    "CurrentKeys",
    "Done",
    "KeyCard",
    "KnownKey",
    "Message",
    "NewPassword",
    "PendingRenewal",
    "PickedFile",
    "PressGuard",
    "Progress",
    "Services",
    "Step",
    "WizardModel",
    "guard_entry_points",
    "last_resort",
]
