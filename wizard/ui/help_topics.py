"""What the Help screen and the "where are your keys" step show, in display order.

Each help topic ``<slug>`` has ``help.<slug>.q`` and ``help.<slug>.a`` in the catalogues
(``wizard/locales/<lang>/help.json``); each storage kind ``<kind>`` has ``storage.<kind>.name``,
``.what`` and ``.qoltanba`` (``storage.json``). Plain data: no Flet here.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

# The official Kazakh FAQ first, in its own order, then what the NCA's renewal guides add.
TOPICS: tuple[str, ...] = (
    # The Kazakh FAQ (DOMAIN.md §3).
    "forgot_password",
    "what_is_eds",
    "how_to_get",
    "employee_left",
    "which_certificate",
    "not_signed_by_user",
    "storage_password",
    # From the renewal guides (DOMAIN.md §1-2).
    "expired",
    "validity",
    "id_card",
    "new_keys",
    "head_approval",
)

# Where the current keys can be, in the order the storage step lists them.
STORAGE_KINDS: tuple[str, ...] = ("file", "id_card", "kaztoken", "etoken", "jacarta", "akey")

# The storage kind as the renewal process and the authority name it (wizard.renewal.process).
STORAGE_CODES: Mapping[str, str] = MappingProxyType(
    {
        "file": "pkcs12",
        "id_card": "idcard",
        "kaztoken": "kaztoken",
        "etoken": "etoken",
        "jacarta": "jacarta",
        "akey": "akey",
    }
)

# The only kind Qoltanba renews itself; the others are renewed on the device or at a ЦОН.
RENEWABLE_KINDS: frozenset[str] = frozenset({"file"})

# Tokens that may still carry a factory PIN (DOMAIN.md §2: Kaztoken, eToken PRO 72K, JaCarta).
DEFAULT_PIN_KINDS: frozenset[str] = frozenset({"kaztoken", "etoken", "jacarta"})
