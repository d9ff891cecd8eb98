"""Will this authority take these keys? Decided from what it says about itself, before anything is
made: the right verdict first, never a rejection after submitting (issue #11).

An authority says which issuers it accepts (`AuthorityInfo.accepted_issuers`: the CAs whose current
certificates it renews; () when it does not say). A current certificate is accepted when it chains
to one of them (`wizard.keys.chain.verify_chain`, through the CAs the authority publishes and the
accepted ones themselves): the rule the mock authority applies when it checks a login or an
application (wizard/authority/mock/trust.py, where the certificate is what the CMS carries and the
anchors are what ``accepted_issuers`` lists), so that "not accepted" here is the
``certificate_untrusted`` refusal the authority would give, only said before any key is made.

Only the issuer is judged here: whether the key is expired, revoked or of the wrong kind is the
store's own verdict (`KeyStore.verdict`), which comes first. What an authority says it accepts is
never a reason to trust it (renewal/trust.py decides what its certificates must chain to).

- `issuer_acceptance(info, stores, now)` -> `IssuerAcceptance`: ACCEPTED, NOT_ACCEPTED (with the
  `NotRenewable` to raise) or UNKNOWN (the authority said nothing: say nothing yet).
- `check_issuer(info, stores, now)`: raises that NotRenewable when not accepted.
- `judge_issuer(authority, stores, now)`: the same after one ``authority.info()`` call, for the
  wizard's step 3 and the command line.

The refusal is ``NotRenewable(reason="issuer_not_accepted", issuer=CN, authority=name,
advice=...)``; its message (error.not_renewable, then ``verdict.issuer_not_accepted.<advice>``,
wizard/locales/*/acceptance.json) says what to do:

- ``demo_trust``: a demo authority and keys from an NCA test CA: let the demo trust the NCA test
  CA (QOLTANBA_TRUST, wizard.authority.connect.trusted_paths), or practise with demo keys;
- ``demo_keys``: a demo authority and any other keys: practise with demo keys;
- ``other_authority``: an authority that is not a demo: choose the one that issued these keys.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from cryptography import x509
from cryptography.x509.oid import NameOID

from wizard.authority.interface import Authority, AuthorityInfo
from wizard.errors import NotRenewable
from wizard.keys.chain import verify_chain
from wizard.keys.store import KeyStore
from wizard.renewal.journal import BEFORE_SUBMISSION, Renewal, RenewalJournal
from wizard.renewal.process import CurrentKeys
from wizard.renewal.trust import certificates_among

REASON = "issuer_not_accepted"
ADVICE_DEMO_TRUST = "demo_trust"
ADVICE_DEMO_KEYS = "demo_keys"
ADVICE_OTHER_AUTHORITY = "other_authority"
ADVICES = (ADVICE_DEMO_TRUST, ADVICE_DEMO_KEYS, ADVICE_OTHER_AUTHORITY)

# The NCA's test CAs say so in their names ("ҰЛТТЫҚ КУӘЛАНДЫРУШЫ ОРТАЛЫҚ (GOST) TEST 2022",
# "ҰКО 3.0 (RSA TEST)"): used only to choose the advice, never to trust anything.
_NCA_NAME = re.compile(r"ҰЛТТЫҚ\s+КУӘЛАНДЫРУШЫ|ҰКО|НУЦ|\bNCA\b|NATIONAL\s+CERTIFICATION", re.I)
_TEST_WORD = re.compile(r"\b(TEST|ТЕСТ)\b", re.I)


class Acceptance(StrEnum):
    ACCEPTED = "accepted"
    NOT_ACCEPTED = "not_accepted"
    UNKNOWN = "unknown"  # the authority did not say which issuers it accepts


@dataclass(frozen=True)
class IssuerAcceptance:
    """The answer for a set of current keys: accepted, not accepted (with the refusal), unknown."""

    acceptance: Acceptance
    refusal: NotRenewable | None = None  # set exactly when NOT_ACCEPTED

    def raise_if_refused(self) -> None:
        if self.refusal is not None:
            raise self.refusal


def _stores(stores: CurrentKeys | Iterable[KeyStore]) -> list[KeyStore]:
    if isinstance(stores, CurrentKeys):
        return list(stores.stores.values())
    return list(stores)


def issuer_name(certificate: x509.Certificate) -> str:
    """The issuer as people read it: its common name, else the whole name."""
    names = certificate.issuer.get_attributes_for_oid(NameOID.COMMON_NAME)
    value = names[0].value if names else ""
    text = value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
    return text.strip() or certificate.issuer.rfc4514_string()


def is_nca_test_issuer(certificate: x509.Certificate) -> bool:
    """Whether the certificate's issuer names itself an NCA test CA (advice only)."""
    name = issuer_name(certificate)
    return bool(_NCA_NAME.search(name) and _TEST_WORD.search(name))


def accepted(info: AuthorityInfo, certificate: x509.Certificate, now: datetime) -> bool | None:
    """Whether ``certificate`` chains to an issuer the authority accepts (None: it did not say)."""
    if not info.accepted_issuers:
        return None
    anchors = certificates_among(info.accepted_issuers)
    published = certificates_among(info.ca_certificates)
    return verify_chain(certificate, [*published, *anchors], anchors, now) is not None


def refusal_for(info: AuthorityInfo, certificate: x509.Certificate) -> NotRenewable:
    """The NotRenewable that says, in plain words and with what to do, that ``info``'s authority
    does not renew keys from ``certificate``'s issuer."""
    if not info.demo:
        advice = ADVICE_OTHER_AUTHORITY
    elif is_nca_test_issuer(certificate):
        advice = ADVICE_DEMO_TRUST
    else:
        advice = ADVICE_DEMO_KEYS
    return NotRenewable(
        reason=REASON, advice=advice, issuer=issuer_name(certificate), authority=info.name
    )


def issuer_acceptance(
    info: AuthorityInfo, stores: CurrentKeys | Iterable[KeyStore], now: datetime
) -> IssuerAcceptance:
    """Whether the authority ``info`` describes will accept every one of these current keys'
    issuers at ``now``; the first store it will not accept gives the refusal."""
    if not info.accepted_issuers:
        return IssuerAcceptance(Acceptance.UNKNOWN)
    if not certificates_among(info.accepted_issuers):
        # a list of issuers none of which is a certificate ("MAMCAQE=" is DER, not one): a broken
        # answer, never a refusal of every key with the wrong advice
        from wizard.errors import AuthorityProtocolError

        raise AuthorityProtocolError(detail="accepted_issuers: not one certificate among them")
    for store in _stores(stores):
        if not accepted(info, store.certificate, now):
            return IssuerAcceptance(Acceptance.NOT_ACCEPTED, refusal_for(info, store.certificate))
    return IssuerAcceptance(Acceptance.ACCEPTED)


def check_issuer(
    info: AuthorityInfo, stores: CurrentKeys | Iterable[KeyStore], now: datetime
) -> Acceptance:
    """`issuer_acceptance`, raising its NotRenewable("issuer_not_accepted") when not accepted;
    otherwise ACCEPTED or UNKNOWN (then say nothing: the authority checks anyway)."""
    answer = issuer_acceptance(info, stores, now)
    answer.raise_if_refused()
    return answer.acceptance


def unsent_renewal(journal: RenewalJournal, fingerprints, authority_name: str) -> Renewal | None:
    """The renewal of these keys that was recorded but not yet submitted (queued while the
    authority could not be reached), when it is this authority's: judged like a new one, and
    ended when refused (nothing of it exists at the authority). A submitted one, or another
    authority's (going on says so: renewal_other_authority), is None."""
    pending = journal.pending_for(fingerprints)
    if pending is None or pending.state not in BEFORE_SUBMISSION:
        return None
    return pending if pending.authority == authority_name else None


async def judge_issuer(
    authority: Authority, stores: CurrentKeys | Iterable[KeyStore], now: datetime
) -> None:
    """Step 3's verdict on the issuer: one ``authority.info()`` call, then `check_issuer`.

    Raises NotRenewable(reason="issuer_not_accepted", ...) when the authority will not renew these
    keys. Returns quietly when it will, and when it does not say (unknown: say nothing yet).
    Catches nothing: AuthorityUnreachable, AuthorityProtocolError and the rest of what ``info()``
    may raise reach the caller, which decides (an unreachable authority is no verdict: say nothing
    yet, the renewal can still be made and queued)."""
    check_issuer(await authority.info(), stores, now)
