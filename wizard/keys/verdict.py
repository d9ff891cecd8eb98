"""May this key be renewed online? One verdict with one reason, checked in order of severity."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from wizard.keys.certificate import CertificateFacts
from wizard.keys.oids import Scheme
from wizard.keys.revocation import Revocation

# Schemes this build can renew: the old two-key RSA scheme and the current GOST 2015 512 one.
# GOST 34.310-2004 (GOSTKNCA) keys are read but never renewed: the NCA no longer issues them.
RENEWABLE_SCHEMES: frozenset[Scheme] = frozenset({Scheme.RSA, Scheme.GOST2015})


@dataclass(frozen=True)
class Verdict:
    """`renewable`, and when not, a stable `reason` code (catalogue key ``verdict.<reason>``)."""

    renewable: bool
    reason: str | None = None

    @property
    def message_key(self) -> str:
        return f"verdict.{self.reason or 'renewable'}"


def renewability(
    facts: CertificateFacts,
    now: datetime,
    *,
    revocation: Revocation | None = None,
    key_matches: bool | None = True,
    schemes: frozenset[Scheme] = RENEWABLE_SCHEMES,
) -> Verdict:
    """The verdict for one store's certificate at ``now`` (timezone-aware UTC)."""
    if facts.is_ca or not facts.is_nca_profile or not facts.usage:
        return Verdict(False, "wrong_kind")
    if key_matches is False:
        return Verdict(False, "key_mismatch")
    if revocation is not None and revocation.revoked:
        return Verdict(False, "revoked")
    if now >= facts.not_after:
        return Verdict(False, "expired")
    if now < facts.not_before:
        return Verdict(False, "not_yet_valid")
    if facts.scheme is Scheme.GOST2004:
        return Verdict(False, "legacy_gost")
    if facts.scheme not in schemes or key_matches is None:
        # A scheme this build does not renew, or a key of it this build cannot use (say a GOST
        # 2015 key on another curve): the store and its password are fine all the same.
        return Verdict(False, "algorithm_not_supported")
    return Verdict(True)
