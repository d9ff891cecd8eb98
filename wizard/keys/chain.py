"""Certificate chains: does a certificate chain to a trust anchor at a given moment? One pure
function, `verify_chain`, used by the renewal (issued certificates) and by the mock authority
(current certificates), whatever the scheme (RSA, GOST R 34.10-2015 512: `issuer_signed`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from cryptography import x509

from wizard.keys.signatures import issuer_signed

MAX_CHAIN = 6  # CA certificates between a leaf and its anchor, anchor included
MAX_SIGNATURE_CHECKS = 64  # a pile of look-alike CAs cannot make one check run for minutes


def is_ca(certificate: x509.Certificate) -> bool:
    """Whether the certificate says it is a CA (basicConstraints cA)."""
    try:
        basic = certificate.extensions.get_extension_for_class(x509.BasicConstraints).value
    except (x509.ExtensionNotFound, ValueError):
        return False
    return basic.ca


def signed_by(issuer: x509.Certificate, subject: x509.Certificate) -> bool:
    """Whether ``issuer``'s key signed ``subject``; a scheme this build cannot check proves
    nothing (False), never an exception."""
    try:
        return issuer_signed(issuer, subject)
    except (ValueError, TypeError, ImportError, NotImplementedError):
        return False


def valid_at(certificate: x509.Certificate, now: datetime) -> bool:
    return certificate.not_valid_before_utc <= now < certificate.not_valid_after_utc


def verify_chain(
    leaf: x509.Certificate,
    intermediates: Iterable[x509.Certificate],
    anchors: Sequence[x509.Certificate],
    now: datetime,
) -> list[x509.Certificate] | None:
    """The CA certificates above ``leaf``, its issuer first and a trust anchor last, or None when
    no such path holds at ``now``.

    Each step is a name match and a signature check. Every certificate between the leaf and the
    anchor comes from ``intermediates``, says it is a CA and is valid at ``now``. Anchors are
    trusted as given: which anchors count, and until when, is the caller's policy. The leaf's own
    validity is not judged here (the callers say "expired" or "not yet valid" in their own words).
    Paths are tried depth first, an anchor before an intermediate at every step."""
    candidates = [c for c in intermediates if is_ca(c) and valid_at(c, now)]
    budget = [MAX_SIGNATURE_CHECKS]
    checked: dict[tuple[int, int], bool] = {}

    def signs(issuer: x509.Certificate, subject: x509.Certificate) -> bool:
        key = (id(issuer), id(subject))
        if key not in checked:
            if budget[0] <= 0:
                return False
            budget[0] -= 1
            checked[key] = signed_by(issuer, subject)
        return checked[key]

    def climb(current: x509.Certificate, path: list[x509.Certificate]) -> list[x509.Certificate]:
        if len(path) >= MAX_CHAIN:
            return []
        for anchor in anchors:
            if anchor.subject == current.issuer and signs(anchor, current):
                return [*path, anchor]
        for step in candidates:
            if step.subject != current.issuer or step in path or step == leaf:
                continue
            if signs(step, current):
                found = climb(step, [*path, step])
                if found:
                    return found
        return []

    return climb(leaf, []) or None
