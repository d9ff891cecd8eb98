"""The wizard's state and actions: the navigator (`WizardModel`) and the step models it composes
live in wizard/ui/models/ (one model per file); this module names them where the app and the tests
have always imported them from."""

from wizard.ui.models import *  # noqa: F403  (the one list of names: wizard.ui.models.__all__)
from wizard.ui.models import __all__ as __all__
