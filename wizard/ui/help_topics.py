"""What the Help screen and the "where are your keys" step show, in display order, and which
answer a "What does this mean?" link opens for what a screen shows.

Each help topic ``<slug>`` has ``help.<slug>.q`` and ``help.<slug>.a`` in the catalogues
(``wizard/locales/<lang>/help.json``); each of Qoltanba's own topics (MORE_TOPICS) has
``help_more.<slug>.q`` and ``.a`` (``help_more.json``); each storage kind ``<kind>`` has
``storage.<kind>.name``, ``.what`` and ``.qoltanba`` (``storage.json``). Plain data: no Flet here.
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

# Qoltanba's own answers, after the FAQ's (wizard/locales/<lang>/help_more.json).
MORE_TOPICS: tuple[str, ...] = ("issuer_not_accepted", "revoked")

# The answer a help link opens (issue #11: not Help at its top with every answer collapsed), by
# what the screen shows, looked up in this order: the verdict's reason (a key card's, or a
# NotRenewable's "reason"), the error's code, the error's own class (not its bases: a token's
# errors are StoreErrors too). Nothing found: Help at its top.
HELP_FOR_REASON: Mapping[str, str] = MappingProxyType(
    {
        "expired": "expired",
        "not_yet_valid": "validity",
        "revoked": "revoked",
        "issuer_not_accepted": "issuer_not_accepted",
        "wrong_kind": "which_certificate",
        "legacy_gost": "which_certificate",
    }
)
HELP_FOR_CODE: Mapping[str, str] = MappingProxyType(
    {
        "wrong_password": "storage_password",
        "wrong_pin": "storage_password",
        "token_pin_locked": "storage_password",
        "store_no_key": "which_certificate",
        "store_many_keys": "which_certificate",
        "store_not_pkcs12": "which_certificate",
        "store_is_certificate": "which_certificate",
    }
)
HELP_FOR_CLASS: Mapping[str, str] = MappingProxyType(
    {
        "WrongPassword": "storage_password",
        "StoreError": "which_certificate",
    }
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
