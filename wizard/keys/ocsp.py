"""OCSP (RFC 6960) without the network: build a request, and believe an answer only once it
verifies. Sending the request is `wizard.authority.revocation`'s (httpx lives outside the core).

The request names the certificate by its issuer (SHA-1 of the issuer's name and key, as RFC 5019
and the NCA's responder expect) and serial, and carries a fresh 32-byte nonce.

An answer is believed only when all of this holds, and is otherwise ``unknown`` with the reason,
never ``good``:

1. it parses, and its responseStatus is successful (else ``responder_refused``);
2. it is signed by the issuing CA itself (the responder ID names the issuer's name or key), or by a
   responder certificate included in the answer that the issuing CA signed, that carries
   id-kp-OCSPSigning in its extended key usage and is valid now (RFC 6960 §4.2.2.2). Another
   signer is ``responder_foreign``; a delegate without the key purpose ``responder_not_delegated``;
   a signature that does not verify ``response_bad_signature``. RSA (PKCS#1 v1.5, SHA-1/2) and
   GOST R 34.10-2015 512 (Kazakhstan's OIDs and byte order, `wizard.keys.gost`) both verify;
3. one of its single responses is for this very certificate: the same hash algorithm, issuer name
   hash, issuer key hash and serial (else ``response_wrong_certificate``);
4. the nonce sent is echoed unchanged (``response_nonce_missing`` / ``response_nonce_mismatch``);
5. it is fresh: thisUpdate (and producedAt) not later than now + TOLERANCE, nextUpdate later than
   now − TOLERANCE; without a nextUpdate, thisUpdate no older than MAX_AGE_WITHOUT_NEXT_UPDATE
   (``response_not_yet_valid`` / ``response_stale``).

Then the status is the answer's: ``good``, ``revoked`` (with the date and reason), or ``unknown``
when the responder does not know the certificate (``responder_unknown``).
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509 import ocsp
from cryptography.x509.oid import ExtendedKeyUsageOID

from wizard.keys.asn1 import PARSE_ERRORS, public_key_bits
from wizard.keys.certificate import CERTIFICATE_ERRORS, certificate_public_key_info
from wizard.keys.revocation import REASONS, TOLERANCE, Revocation, Status, unknown

MAX_RESPONSE_BYTES = 64 << 10  # an answer for one certificate is a few KB with its certificates
MAX_AGE_WITHOUT_NEXT_UPDATE = timedelta(hours=1)
NONCE_BYTES = 32
MAX_RESPONDER_CERTIFICATES = 8
# The hash algorithms a CertID may use, by cryptography's name.
_CERT_ID_HASHES: dict[str, type[hashes.SHA1 | hashes.SHA256 | hashes.SHA384 | hashes.SHA512]] = {
    "sha1": hashes.SHA1,
    "sha256": hashes.SHA256,
    "sha384": hashes.SHA384,
    "sha512": hashes.SHA512,
}
_ERRORS = (*CERTIFICATE_ERRORS, *PARSE_ERRORS, UnsupportedAlgorithm)


@dataclass(frozen=True)
class OcspRequest:
    """A request as sent: its DER, the nonce it carries (None: none sent) and what it asks."""

    der: bytes
    nonce: bytes | None
    serial: int


def _der(certificate: x509.Certificate) -> bytes:
    return certificate.public_bytes(serialization.Encoding.DER)


def _key_bits(certificate: x509.Certificate) -> bytes:
    """The subjectPublicKey bits of a certificate, whatever its algorithm (GOST too)."""
    return public_key_bits(certificate_public_key_info(_der(certificate)))


def _digest(name: str, data: bytes) -> bytes:
    return hashlib.new(name, data, usedforsecurity=False).digest()


def build_request(
    certificate: x509.Certificate, issuer: x509.Certificate, *, nonce: bytes | bool | None = True
) -> OcspRequest:
    """A request for ``certificate`` issued by ``issuer``, with a fresh nonce (``nonce=True``),
    the nonce given, or none (``nonce=None`` or False)."""
    chosen: bytes | None
    if nonce is True:
        chosen = secrets.token_bytes(NONCE_BYTES)
    elif nonce is False or nonce is None:
        chosen = None
    else:
        chosen = bytes(nonce)
    builder = ocsp.OCSPRequestBuilder().add_certificate_by_hash(
        _digest("sha1", issuer.subject.public_bytes()),
        _digest("sha1", _key_bits(issuer)),
        certificate.serial_number,
        hashes.SHA1(),  # noqa: S303 - names, not signs: the CertID hash RFC 5019 requires
    )
    if chosen is not None:
        builder = builder.add_extension(x509.OCSPNonce(chosen), critical=False)
    request = builder.build()
    return OcspRequest(
        request.public_bytes(serialization.Encoding.DER), chosen, certificate.serial_number
    )


def _signature_ok(signer: x509.Certificate, response: ocsp.OCSPResponse) -> bool:
    from wizard.keys.signatures import verify

    try:
        return verify(
            certificate_public_key_info(_der(signer)),
            response.signature_algorithm_oid.dotted_string,
            response.tbs_response_bytes,
            response.signature,
        )
    except (*_ERRORS, ImportError, NotImplementedError):
        return False


def _names(response: ocsp.OCSPResponse, certificate: x509.Certificate) -> bool:
    """Whether the responder ID of ``response`` names ``certificate`` (by name or key hash)."""
    try:
        by_name = response.responder_name
        if by_name is not None:
            return by_name == certificate.subject
        by_key = response.responder_key_hash
        return by_key is not None and by_key == _digest("sha1", _key_bits(certificate))
    except _ERRORS:
        return False


def _delegated(candidate: x509.Certificate, issuer: x509.Certificate, now: datetime) -> str | None:
    """Why ``candidate`` may not answer for ``issuer`` (a detail code), or None."""
    from wizard.keys.revocation import issuers_of

    if not issuers_of(candidate, [issuer]):
        return "responder_foreign"
    try:
        purposes = candidate.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
        delegated = ExtendedKeyUsageOID.OCSP_SIGNING in purposes
    except x509.ExtensionNotFound:
        delegated = False
    except _ERRORS:
        return "responder_not_delegated"
    if not delegated:
        return "responder_not_delegated"
    start, end = candidate.not_valid_before_utc, candidate.not_valid_after_utc
    if not start - TOLERANCE <= now < end + TOLERANCE:
        return "responder_not_delegated"
    return None


def _signer(response: ocsp.OCSPResponse, issuer: x509.Certificate, now: datetime) -> str | None:
    """Why the signer of ``response`` is not to be believed for ``issuer``'s certificates (a
    detail code), or None once its signature verified."""
    if _names(response, issuer):
        return None if _signature_ok(issuer, response) else "response_bad_signature"
    try:
        included = list(response.certificates)[:MAX_RESPONDER_CERTIFICATES]
    except _ERRORS:
        return "response_malformed"
    named = [c for c in included if _names(response, c)]
    if not named:
        return "responder_foreign"
    problem = "responder_foreign"
    for candidate in named:
        problem = _delegated(candidate, issuer, now) or ""
        if problem:
            continue
        return None if _signature_ok(candidate, response) else "response_bad_signature"
    return problem


def _matches(single: ocsp.OCSPSingleResponse, certificate, issuer) -> bool:
    try:
        name = single.hash_algorithm.name
    except _ERRORS:
        return False
    if name not in _CERT_ID_HASHES:
        return False
    return (
        single.serial_number == certificate.serial_number
        and single.issuer_name_hash == _digest(name, issuer.subject.public_bytes())
        and single.issuer_key_hash == _digest(name, _key_bits(issuer))
    )


def _nonce(response: ocsp.OCSPResponse) -> bytes | None:
    try:
        return response.extensions.get_extension_for_class(x509.OCSPNonce).value.nonce
    except x509.ExtensionNotFound:
        return None


def verify_response(
    data: bytes,
    request: OcspRequest,
    certificate: x509.Certificate,
    issuer: x509.Certificate,
    *,
    now: datetime,
    url: str = "",
    tolerance: timedelta = TOLERANCE,
) -> Revocation:
    """What the OCSP answer ``data`` to ``request`` says about ``certificate`` (issued by
    ``issuer``) at ``now``: believed only when it verifies (module docstring)."""
    try:
        return _verify(data, request, certificate, issuer, now, url, tolerance)
    except _ERRORS:
        return _unknown("response_malformed", url, now)


def _unknown(detail: str, url: str, now: datetime) -> Revocation:
    return unknown(detail, source="ocsp", origin=url, now=now)


def _verify(
    data: bytes,
    request: OcspRequest,
    certificate: x509.Certificate,
    issuer: x509.Certificate,
    now: datetime,
    url: str,
    tolerance: timedelta,
) -> Revocation:
    if len(data) > MAX_RESPONSE_BYTES:
        return _unknown("response_too_large", url, now)
    try:
        response = ocsp.load_der_ocsp_response(data)
    except _ERRORS:
        return _unknown("response_malformed", url, now)
    if response.response_status is not ocsp.OCSPResponseStatus.SUCCESSFUL:
        return _unknown("responder_refused", url, now)
    problem = _signer(response, issuer, now)
    if problem is not None:
        return _unknown(problem, url, now)
    single = next((s for s in response.responses if _matches(s, certificate, issuer)), None)
    if single is None:
        return _unknown("response_wrong_certificate", url, now)
    if request.nonce is not None:
        echoed = _nonce(response)
        if echoed is None:
            return _unknown("response_nonce_missing", url, now)
        if echoed != request.nonce:
            return _unknown("response_nonce_mismatch", url, now)
    this_update, next_update = single.this_update_utc, single.next_update_utc
    if this_update > now + tolerance or response.produced_at_utc > now + tolerance:
        return _unknown("response_not_yet_valid", url, now)
    if next_update is not None:
        if next_update + tolerance <= now:
            return _unknown("response_stale", url, now)
    elif this_update + MAX_AGE_WITHOUT_NEXT_UPDATE + tolerance <= now:
        return _unknown("response_stale", url, now)
    status = single.certificate_status
    if status is ocsp.OCSPCertStatus.GOOD:
        return Revocation(
            Status.GOOD,
            "ocsp",
            "responder_good",
            checked_at=now,
            next_update=next_update,
            origin=url,
        )
    if status is ocsp.OCSPCertStatus.REVOKED:
        reason = single.revocation_reason
        return Revocation(
            Status.REVOKED,
            "ocsp",
            "responder_revoked",
            checked_at=now,
            next_update=next_update,
            revoked_at=single.revocation_time_utc,
            reason=REASONS.get(reason) if reason is not None else None,
            origin=url,
        )
    return _unknown("responder_unknown", url, now)


# --- where a certificate says to ask ------------------------------------------------------------


def _access(certificate: x509.Certificate, method: x509.ObjectIdentifier) -> list[str]:
    try:
        info = certificate.extensions.get_extension_for_class(x509.AuthorityInformationAccess)
    except (x509.ExtensionNotFound, *_ERRORS):
        return []
    return _unique(
        d.access_location.value
        for d in info.value
        if d.access_method == method
        and isinstance(d.access_location, x509.UniformResourceIdentifier)
    )


def _points(certificate: x509.Certificate, kind: type) -> list[str]:
    try:
        points: Any = certificate.extensions.get_extension_for_class(kind).value
    except (x509.ExtensionNotFound, *_ERRORS):
        return []
    return _unique(
        name.value
        for point in points
        for name in (point.full_name or ())
        if isinstance(name, x509.UniformResourceIdentifier)
    )


def _unique(urls) -> list[str]:
    found: list[str] = []
    for url in urls:
        web = isinstance(url, str) and url.lower().startswith(("http://", "https://"))
        if web and url not in found:
            found.append(url)
    return found[:4]


def responder_urls(certificate: x509.Certificate) -> list[str]:
    """The OCSP responders named in the certificate's Authority Information Access."""
    return _access(certificate, x509.AuthorityInformationAccessOID.OCSP)


def ca_issuer_urls(certificate: x509.Certificate) -> list[str]:
    """Where the issuing CA's certificate is published (AIA caIssuers)."""
    return _access(certificate, x509.AuthorityInformationAccessOID.CA_ISSUERS)


def crl_urls(certificate: x509.Certificate) -> list[str]:
    """The CRL Distribution Points, then the Freshest CRL (delta CRL) points."""
    return _unique(
        [
            *_points(certificate, x509.CRLDistributionPoints),
            *_points(certificate, x509.FreshestCRL),
        ]
    )
