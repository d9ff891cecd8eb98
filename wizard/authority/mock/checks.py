"""What a real authority checks in a renewal application before it files it (DESIGN.md).

Every check either passes or raises a Refusal with a stable reason; nothing here writes anything.
The signature, chain, validity and revocation checks reuse `wizard.keys` (CMS, requests,
certificate facts) and `trust.Trust`.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from wizard.errors import StoreError
from wizard.keys import oids
from wizard.keys.asn1 import RawPublicKeyInfo
from wizard.keys.certificate import (
    CertificateFacts,
    certificate_public_key_info,
    describe,
    load_certificate,
)
from wizard.keys.cms import SignatureError, VerifiedContent, verify_signed
from wizard.keys.oids import Scheme
from wizard.keys.request import CheckedRequest, RequestError, certificate_subject, check_request

from .problems import bad_request, refusal
from .settings import VALIDITY_YEARS
from .trust import Trust

DOCUMENT_TYPE = "qoltanba.renewal.v1"
_DOCUMENT_KEYS = {"type", "idempotency_key", "email", "locality", "storage", "requests", "current"}
MIN_RSA_BITS = 2048
# Requests a renewal must carry, per current scheme: the two-key RSA scheme, GOST's one key.
USAGES_BY_SCHEME: dict[Scheme, list[str]] = {
    Scheme.RSA: ["auth", "sign"],
    Scheme.GOST2015: ["both"],
}
# ASCII only: the e-mail goes into SubjectAltName as an IA5String.
_EMAIL = re.compile(
    r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+(?:[A-Za-z]{2,63}|xn--[A-Za-z0-9-]{1,59})"
)


def b64decode(value: Any) -> bytes | None:
    """Strict base64, or None."""
    if not isinstance(value, str) or not value:
        return None
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return None


def cms_from_body(body: Any) -> bytes:
    """The CMS of a {"cms": b64} body; 400 when the body is not that shape."""
    if not isinstance(body, dict) or set(body) != {"cms"}:
        raise bad_request('the body is {"cms": base64}')
    data = b64decode(body["cms"])
    if data is None:
        raise bad_request("cms is not base64")
    return data


def verify_cms(data: bytes) -> VerifiedContent:
    try:
        return verify_signed(data)
    except (SignatureError, ImportError, NotImplementedError) as exc:
        raise refusal("signature_invalid") from exc


def signer_certificate(verified: VerifiedContent) -> x509.Certificate:
    """The signer's certificate as `cryptography` reads it; one it cannot read signs nothing."""
    try:
        return load_certificate(verified.signer_certificate)
    except StoreError as exc:
        raise refusal("signature_invalid") from exc


def cms_intermediates(verified: VerifiedContent) -> list[x509.Certificate]:
    found = []
    for der in verified.certificates:
        try:
            found.append(x509.load_der_x509_certificate(der))
        except ValueError:
            continue
    return found


def acceptable(
    trust: Trust,
    certificate: x509.Certificate,
    now: datetime,
    usage: str,
    intermediates: Iterable[x509.Certificate] = (),
) -> CertificateFacts:
    """The facts of a certificate that chains, is valid now, is not revoked and can do ``usage``."""
    reason = trust.examine(certificate, now, intermediates)
    if reason:
        raise refusal(reason)
    facts = describe(certificate)
    if usage not in facts.usage:
        raise refusal("certificate_wrong_usage")
    return facts


def usage_fits(usage: str, capable: Iterable[str]) -> bool:
    """Whether a certificate capable of ``capable`` may be listed as ``usage`` ("both": GOST)."""
    capable = set(capable)
    return usage in capable or (usage == "both" and {"auth", "sign"} <= capable)


def email_valid(email: str) -> bool:
    local = email.partition("@")[0]
    return len(email) <= 254 and len(local) <= 64 and _EMAIL.fullmatch(email) is not None


@dataclass(frozen=True)
class RenewalApplication:
    """An application that passed every check, ready to be filed."""

    subject: bytes  # DER, the holder's (session, signer and every request agree)
    signer: bytes  # DER of the current signing certificate
    signer_key: str  # its issuer and serial, to find a pending application for it
    facts: CertificateFacts  # of the signer
    email: str
    locality: str
    storage: str
    document: bytes
    current: list[dict[str, str]]
    requests: list[dict[str, str]]


def signer_key(certificate: x509.Certificate) -> str:
    issuer = certificate.issuer.public_bytes().hex()
    return f"{issuer}:{certificate.serial_number:x}"


def parse_document(content: bytes) -> dict[str, Any]:
    """The application JSON (see `application_document`); Refusal("document_malformed") if not."""
    try:
        document = json.loads(content.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise refusal("document_malformed") from exc
    if not isinstance(document, dict) or set(document) != _DOCUMENT_KEYS:
        raise refusal("document_malformed")
    if document["type"] != DOCUMENT_TYPE:
        raise refusal("document_malformed")
    for name in ("idempotency_key", "email", "locality", "storage"):
        if not isinstance(document[name], str):
            raise refusal("document_malformed")
    for name, field in (("requests", "csr"), ("current", "certificate")):
        entries = document[name]
        if not isinstance(entries, list) or not 1 <= len(entries) <= 4:
            raise refusal("document_malformed")
        for entry in entries:
            if not isinstance(entry, dict) or set(entry) != {"usage", field}:
                raise refusal("document_malformed")
            if not isinstance(entry["usage"], str) or b64decode(entry[field]) is None:
                raise refusal("document_malformed")
    return document


def check_new_request(
    der: bytes,
    *,
    scheme_key_oid: str,
    subject: bytes | None = None,
    current_keys: Iterable[bytes] = (),
) -> CheckedRequest:
    """Proof of possession, the scheme's key, the subject unchanged (when ``subject`` is given)
    and a key that is none of ``current_keys``."""
    try:
        checked = check_request(der)
    except RequestError as exc:
        raise refusal(exc.code) from exc
    # asn1crypto's own PublicKeyInfo cannot parse Kazakhstan's GOST OIDs: read the OID raw.
    algorithm = RawPublicKeyInfo.load(checked.public_key_info)["algorithm"]["algorithm"]
    if algorithm.dotted != scheme_key_oid:
        raise refusal("request_wrong_scheme")
    if scheme_key_oid == oids.GOST2015_512_KEY:
        from wizard.keys.gost.keypair import is_nca_public_key_info

        # The proof of possession verified on the curve; the parameters must name it the NCA way.
        if not is_nca_public_key_info(checked.public_key_info):
            raise refusal("request_wrong_scheme")
    else:
        try:
            key = serialization.load_der_public_key(checked.public_key_info)
        except (ValueError, UnsupportedAlgorithm):
            key = None
        if isinstance(key, rsa.RSAPublicKey) and key.key_size < MIN_RSA_BITS:
            raise refusal("request_wrong_scheme")
    if subject is not None and checked.subject != subject:
        raise refusal("subject_changed")
    # The certificate must carry these exact bytes; a Name that cryptography re-encodes cannot be.
    if x509.load_der_x509_csr(der).subject.public_bytes() != checked.subject:
        raise refusal("subject_changed")
    if checked.public_key_info in set(current_keys):
        raise refusal("key_not_new")
    return checked


def check_application(
    verified: VerifiedContent,
    *,
    trust: Trust,
    now: datetime,
    session_subject: bytes,
    session_certificate: bytes,
    schemes: Iterable[str],
) -> RenewalApplication:
    """Everything a real authority checks before filing a renewal, in order; Refusal on the first
    failure."""
    intermediates = cms_intermediates(verified)
    signer = signer_certificate(verified)
    facts = acceptable(trust, signer, now, "sign", intermediates)
    subject = certificate_subject(verified.signer_certificate)
    if subject != session_subject:
        raise refusal("subject_mismatch")
    document = parse_document(verified.content)
    if facts.scheme.value not in set(schemes) or facts.scheme not in USAGES_BY_SCHEME:
        raise refusal("scheme_not_issued")
    email = document["email"].strip()
    if not email_valid(email):
        raise refusal("email_invalid")
    locality = document["locality"].strip()
    if not locality or len(locality) > 128 or not locality.isprintable():
        raise refusal("locality_missing")
    storage = document["storage"]
    if storage not in VALIDITY_YEARS:
        raise refusal("storage_unknown")

    current_keys = [certificate_public_key_info(session_certificate)]
    listed = []
    for entry in document["current"]:
        der = b64decode(entry["certificate"]) or b""
        try:
            certificate = x509.load_der_x509_certificate(der)
        except ValueError as exc:
            raise refusal("document_malformed") from exc
        reason = trust.examine(certificate, now, intermediates)
        if reason:
            raise refusal(reason)
        if certificate_subject(der) != subject:
            raise refusal("current_subject_mismatch")
        if not usage_fits(entry["usage"], describe(certificate).usage):
            raise refusal("current_usage_mismatch")
        current_keys.append(certificate_public_key_info(der))
        listed.append(der)
    if verified.signer_certificate not in listed:
        raise refusal("signer_not_listed")

    expected = USAGES_BY_SCHEME[facts.scheme]
    if sorted(entry["usage"] for entry in document["requests"]) != expected:
        raise refusal("requests_wrong_usage")
    new_keys: set[bytes] = set()
    for entry in document["requests"]:
        checked = check_new_request(
            b64decode(entry["csr"]) or b"",
            scheme_key_oid=facts.key_algorithm_oid,
            subject=subject,
            current_keys=current_keys,
        )
        if checked.public_key_info in new_keys:
            raise refusal("key_duplicated")
        new_keys.add(checked.public_key_info)
        if checked.email and checked.email.lower() != email.lower():
            raise refusal("email_mismatch")

    return RenewalApplication(
        subject=subject,
        signer=verified.signer_certificate,
        signer_key=signer_key(signer),
        facts=facts,
        email=email,
        locality=locality,
        storage=storage,
        document=verified.content,
        current=document["current"],
        requests=document["requests"],
    )
