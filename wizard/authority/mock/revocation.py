"""The mock authority publishes revocation as the NCA does: an OCSP responder, full and delta CRLs
and its CA certificates, for its DEMO CAs (RSA and GOST 2015 512), at the addresses it writes
into the certificates it issues (AIA OCSP and caIssuers, CRL Distribution Points, Freshest CRL).

    POST /v1/pki/ocsp                    application/ocsp-request -> application/ocsp-response
    GET  /v1/pki/crl/{ca}                the full CRL of a DEMO CA (DER)
    GET  /v1/pki/crl/{ca}/delta          its delta CRL
    GET  /v1/pki/ca/{ca}                 its certificate (DER)
    POST /v1/revocations {"cms": b64}    a holder revokes their own certificates (CMS signed with
                                         one of them, `revocation_document`)

``{ca}`` is the CA's role in the books: ``issuing``, ``root``, ``gost-issuing``, ``gost-root``.

What is said comes from the books: the certificates table (what this authority issued, so what
its responder knows) and the revocations (the test endpoint, or a holder's own request). The
responder signs with the issuing CA's own key (RSA with SHA-256, or GOST R 34.10-2015 512 in
Kazakhstan's byte order), names it by key hash, echoes the request's nonce, and answers for
10 minutes. A malformed request is an OCSP ``malformedRequest``, a CA it does not keep
``unauthorized``, a serial it never issued ``unknown``.

CRLs, built on demand and the same whenever asked within one period: the full CRL is "published"
at the start of each UTC day (thisUpdate 00:00, nextUpdate a week later) and lists what was
revoked before it; the delta CRL is made now, valid for an hour, and lists what was revoked since
the full CRL (its BaseCRLNumber is the full CRL's number). Numbers are the seconds since the epoch
of each one's thisUpdate, so they only grow.

Everything here is built with asn1crypto and signed by the CA's `KeyPair`, whatever its scheme:
`cryptography` can neither hold nor sign with a GOST key.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from asn1crypto import core
from asn1crypto import crl as asn1_crl
from asn1crypto import ocsp as asn1_ocsp
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from wizard.authority.interface import REVOCATION_TYPE
from wizard.keys.asn1 import public_key_bits
from wizard.keys.certificate import certificate_public_key_info
from wizard.keys.keypair import KeyPair
from wizard.keys.revocation import REASON_CODES

from .ca import CertificationAuthority
from .ledger import iso
from .problems import Problem, bad_request, not_found, refusal

if TYPE_CHECKING:
    from .engine import MockAuthority

PKI_PREFIX = "/v1/pki"
OCSP_PATH = f"{PKI_PREFIX}/ocsp"
OCSP_REQUEST_TYPE = "application/ocsp-request"
OCSP_RESPONSE_TYPE = "application/ocsp-response"
CRL_TYPE = "application/pkix-crl"
CERTIFICATE_TYPE = "application/pkix-cert"
MAX_OCSP_REQUEST = 16 << 10
MAX_REQUESTS = 8  # single requests in one OCSP request
OCSP_VALIDITY = timedelta(minutes=10)
BASE_CRL_PERIOD = timedelta(days=1)
BASE_CRL_VALIDITY = timedelta(days=7)
DELTA_CRL_VALIDITY = timedelta(hours=1)
PUBLISHED_ROLES = ("issuing", "root", "gost-issuing", "gost-root")
MAX_REVOKED = 4  # certificates in one holder's revocation
_HASHES = {"sha1": "sha1", "sha256": "sha256", "sha384": "sha384", "sha512": "sha512"}


@dataclass(frozen=True)
class PkiUrls:
    """Where a DEMO CA publishes, as its certificates say (AIA, CDP, Freshest CRL)."""

    ocsp: str
    ca_issuers: str
    crl: str
    delta: str


def urls_for(base: str, role: str) -> PkiUrls:
    base = base.rstrip("/")
    return PkiUrls(
        ocsp=f"{base}{OCSP_PATH}",
        ca_issuers=f"{base}{PKI_PREFIX}/ca/{role}",
        crl=f"{base}{PKI_PREFIX}/crl/{role}",
        delta=f"{base}{PKI_PREFIX}/crl/{role}/delta",
    )


def pki_extensions(urls: PkiUrls) -> list[dict[str, Any]]:
    """AIA (OCSP, caIssuers), CRL Distribution Points and Freshest CRL, as asn1crypto values."""

    def point(url: str) -> list[dict[str, Any]]:
        return [{"distribution_point": {"full_name": [_uri(url)]}}]

    return [
        {
            "extn_id": "authority_information_access",
            "critical": False,
            "extn_value": [
                {"access_method": "ocsp", "access_location": _uri(urls.ocsp)},
                {"access_method": "ca_issuers", "access_location": _uri(urls.ca_issuers)},
            ],
        },
        {"extn_id": "crl_distribution_points", "critical": False, "extn_value": point(urls.crl)},
        {"extn_id": "freshest_crl", "critical": False, "extn_value": point(urls.delta)},
    ]


def _uri(url: str) -> asn1_x509.GeneralName:
    return asn1_x509.GeneralName(name="uniform_resource_identifier", value=url)


def _when(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(microsecond=0)


def _algorithm(signer: KeyPair) -> dict[str, Any]:
    return {"algorithm": signer.signature_algorithm["algorithm"], "parameters": core.Null()}


def _key_hash(certificate_der: bytes, name: str = "sha1") -> bytes:
    return hashlib.new(name, public_key_bits(certificate_public_key_info(certificate_der))).digest()


def _name_hash(certificate: x509.Certificate, name: str = "sha1") -> bytes:
    return hashlib.new(name, certificate.subject.public_bytes()).digest()


def _der(certificate: x509.Certificate) -> bytes:
    return certificate.public_bytes(serialization.Encoding.DER)


# --- OCSP answers -------------------------------------------------------------------------------


@dataclass(frozen=True)
class SingleStatus:
    """One single response: for which certificate (CertID fields), what, and when."""

    hash_algorithm: str
    issuer_name_hash: bytes
    issuer_key_hash: bytes
    serial: int
    status: str  # good | revoked | unknown
    this_update: datetime
    next_update: datetime | None
    revoked_at: datetime | None = None
    reason: str | None = None

    @classmethod
    def for_certificate(
        cls,
        serial: int,
        issuer: x509.Certificate,
        status: str,
        this_update: datetime,
        next_update: datetime | None,
        **extra: Any,
    ) -> SingleStatus:
        return cls(
            "sha1",
            _name_hash(issuer),
            _key_hash(_der(issuer)),
            serial,
            status,
            this_update,
            next_update,
            **extra,
        )


def _single(item: SingleStatus) -> asn1_ocsp.SingleResponse:
    if item.status == "revoked":
        info: dict[str, Any] = {"revocation_time": _when(item.revoked_at or item.this_update)}
        if item.reason:
            info["revocation_reason"] = item.reason
        status = asn1_ocsp.CertStatus(name="revoked", value=info)
    elif item.status == "good":
        status = asn1_ocsp.CertStatus(name="good", value=core.Null())
    else:
        status = asn1_ocsp.CertStatus(name="unknown", value=core.Null())
    value: dict[str, Any] = {
        "cert_id": {
            "hash_algorithm": {"algorithm": item.hash_algorithm},
            "issuer_name_hash": item.issuer_name_hash,
            "issuer_key_hash": item.issuer_key_hash,
            "serial_number": item.serial,
        },
        "cert_status": status,
        "this_update": _when(item.this_update),
    }
    if item.next_update is not None:
        value["next_update"] = _when(item.next_update)
    return asn1_ocsp.SingleResponse(value)


def build_ocsp_response(
    *,
    signer: KeyPair,
    responder: x509.Certificate,
    singles: Sequence[SingleStatus],
    produced_at: datetime,
    nonce: bytes | None = None,
    certificates: Iterable[x509.Certificate] = (),
    by_name: bool = False,
) -> bytes:
    """A successful OCSP response (DER) signed by ``signer``, whose certificate ``responder`` the
    responder ID names (by key hash, or ``by_name``); ``certificates`` go along (a delegated
    responder's own)."""
    responder_id = (
        asn1_ocsp.ResponderId(
            name="by_name", value=asn1_x509.Name.load(responder.subject.public_bytes())
        )
        if by_name
        else asn1_ocsp.ResponderId(name="by_key", value=_key_hash(_der(responder)))
    )
    data: dict[str, Any] = {
        "version": "v1",
        "responder_id": responder_id,
        "produced_at": _when(produced_at),
        "responses": [_single(item) for item in singles],
    }
    if nonce is not None:
        data["response_extensions"] = [
            {"extn_id": "nonce", "critical": False, "extn_value": core.OctetString(nonce)}
        ]
    tbs = asn1_ocsp.ResponseData(data)
    basic: dict[str, Any] = {
        "tbs_response_data": tbs,
        "signature_algorithm": _algorithm(signer),
        "signature": signer.sign(tbs.dump()),
    }
    extra = [asn1_x509.Certificate.load(_der(c)) for c in certificates]
    if extra:
        basic["certs"] = extra
    return asn1_ocsp.OCSPResponse(
        {
            "response_status": "successful",
            "response_bytes": {
                "response_type": "basic_ocsp_response",
                "response": asn1_ocsp.BasicOCSPResponse(basic),
            },
        }
    ).dump()


def ocsp_error(status: str) -> bytes:
    """An unsuccessful OCSP response: malformed_request, internal_error, try_later,
    sign_required or unauthorized."""
    return asn1_ocsp.OCSPResponse({"response_status": status}).dump()


# --- CRLs ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Entry:
    serial: int
    revoked_at: datetime
    reason: str | None = None


def build_crl(
    signer: KeyPair,
    issuer: x509.Certificate,
    entries: Iterable[Entry],
    *,
    this_update: datetime,
    next_update: datetime | None,
    number: int,
    delta_base: int | None = None,
) -> bytes:
    """A CRL (DER) in ``issuer``'s name signed by ``signer``: a full one, or a delta CRL on the
    full CRL numbered ``delta_base``."""
    revoked = []
    for entry in entries:
        item: dict[str, Any] = {
            "user_certificate": entry.serial,
            "revocation_date": asn1_x509.Time(name="utc_time", value=_when(entry.revoked_at)),
        }
        if entry.reason:
            item["crl_entry_extensions"] = [
                {"extn_id": "crl_reason", "critical": False, "extn_value": entry.reason}
            ]
        revoked.append(item)
    extensions: list[dict[str, Any]] = [
        {"extn_id": "crl_number", "critical": False, "extn_value": number},
    ]
    try:
        ski = issuer.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest
        extensions.append(
            {
                "extn_id": "authority_key_identifier",
                "critical": False,
                "extn_value": {"key_identifier": ski},
            }
        )
    except x509.ExtensionNotFound:
        pass
    if delta_base is not None:
        extensions.append(
            {"extn_id": "delta_crl_indicator", "critical": True, "extn_value": delta_base}
        )
    tbs_value: dict[str, Any] = {
        "version": "v2",
        "signature": _algorithm(signer),
        "issuer": asn1_x509.Name.load(issuer.subject.public_bytes()),
        "this_update": asn1_x509.Time(name="utc_time", value=_when(this_update)),
        "crl_extensions": extensions,
    }
    if next_update is not None:
        tbs_value["next_update"] = asn1_x509.Time(name="utc_time", value=_when(next_update))
    if revoked:
        tbs_value["revoked_certificates"] = revoked
    tbs = asn1_crl.TbsCertList(tbs_value)
    return asn1_crl.CertificateList(
        {
            "tbs_cert_list": tbs,
            "signature_algorithm": _algorithm(signer),
            "signature": signer.sign(tbs.dump()),
        }
    ).dump()


def base_period(now: datetime) -> datetime:
    """The thisUpdate of the full CRL published for ``now``: the start of its UTC day."""
    moment = now.astimezone(UTC)
    return moment.replace(hour=0, minute=0, second=0, microsecond=0)


# --- the publisher ------------------------------------------------------------------------------


class Publisher:
    """The mock authority's revocation services, reading (and for holders, writing) its books."""

    def __init__(self, authority: MockAuthority) -> None:
        self.authority = authority

    def _ca(self, role: str) -> CertificationAuthority:
        engine = self.authority
        cas = {
            "issuing": engine.issuing,
            "root": engine.root,
            "gost-issuing": engine.gost_issuing,
            "gost-root": engine.gost_root,
        }
        if role not in cas:
            raise not_found("no such CA")
        return cas[role]

    def _cas(self) -> list[CertificationAuthority]:
        return [self._ca(role) for role in PUBLISHED_ROLES]

    def ca_certificate(self, role: str) -> bytes:
        return self._ca(role).der

    # Revocations in the books -------------------------------------------------------------------

    def _issued_by(self, ca: CertificationAuthority, serial: int) -> bool:
        row = self.authority.ledger.one(
            "SELECT certificate FROM certificates WHERE serial = ?", format(serial, "x")
        )
        if row is None:
            return False
        try:
            return x509.load_der_x509_certificate(row[0]).issuer == ca.certificate.subject
        except ValueError:
            return False

    def _revocation(self, serial: int) -> Entry | None:
        row = self.authority.ledger.one(
            "SELECT r.revoked_at, n.reason FROM revocations r "
            "LEFT JOIN revocation_reasons n ON n.serial = r.serial WHERE r.serial = ?",
            format(serial, "x"),
        )
        if row is None:
            return None
        return Entry(serial, datetime.fromisoformat(row[0]), row[1])

    def _entries(self, ca: CertificationAuthority) -> list[Entry]:
        rows = self.authority.ledger.all(
            "SELECT r.serial, r.revoked_at, n.reason, c.certificate FROM revocations r "
            "JOIN certificates c ON c.serial = r.serial "
            "LEFT JOIN revocation_reasons n ON n.serial = r.serial ORDER BY r.revoked_at"
        )
        found = []
        for row in rows:
            try:
                if x509.load_der_x509_certificate(row[3]).issuer != ca.certificate.subject:
                    continue
            except ValueError:
                continue
            found.append(Entry(int(row[0], 16), datetime.fromisoformat(row[1]), row[2]))
        return found

    # OCSP ---------------------------------------------------------------------------------------

    def ocsp(self, request_der: bytes) -> bytes:
        """The answer to an OCSP request (DER), whatever the request holds."""
        if not request_der or len(request_der) > MAX_OCSP_REQUEST:
            return ocsp_error("malformed_request")
        try:
            request = asn1_ocsp.OCSPRequest.load(request_der, strict=True)
            tbs = request["tbs_request"]
            asked = [item["req_cert"] for item in tbs["request_list"]]
            nonce = None
            for extension in tbs["request_extensions"] or ():
                if extension["extn_id"].native == "nonce":
                    nonce = extension["extn_value"].parsed.native
            fields = [
                (
                    cert_id["hash_algorithm"]["algorithm"].native,
                    cert_id["issuer_name_hash"].native,
                    cert_id["issuer_key_hash"].native,
                    cert_id["serial_number"].native,
                )
                for cert_id in asked
            ]
        except Exception:
            return ocsp_error("malformed_request")
        if not 1 <= len(fields) <= MAX_REQUESTS or (nonce is not None and len(nonce) > 128):
            return ocsp_error("malformed_request")
        now = self.authority.now()
        singles = []
        signer: CertificationAuthority | None = None
        for algorithm, name_hash, key_hash, serial in fields:
            ca = self._ca_for(algorithm, name_hash, key_hash)
            if ca is None or (signer is not None and ca is not signer):
                return ocsp_error("unauthorized")
            signer = ca
            singles.append(self._status(ca, algorithm, name_hash, key_hash, serial, now))
        assert signer is not None
        return build_ocsp_response(
            signer=signer.key,
            responder=signer.certificate,
            singles=singles,
            produced_at=now,
            nonce=nonce,
        )

    def _ca_for(self, algorithm: str, name_hash: bytes, key_hash: bytes):
        name = _HASHES.get(algorithm)
        if name is None:
            return None
        for ca in self._cas():
            if (
                _name_hash(ca.certificate, name) == name_hash
                and _key_hash(ca.der, name) == key_hash
            ):
                return ca
        return None

    def _status(self, ca, algorithm, name_hash, key_hash, serial, now) -> SingleStatus:
        status, revoked_at, reason = "unknown", None, None
        if isinstance(serial, int) and self._issued_by(ca, serial):
            entry = self._revocation(serial)
            if entry is None:
                status = "good"
            else:
                status, revoked_at, reason = "revoked", entry.revoked_at, entry.reason
        return SingleStatus(
            algorithm,
            name_hash,
            key_hash,
            serial if isinstance(serial, int) else 0,
            status,
            now,
            now + OCSP_VALIDITY,
            revoked_at,
            reason,
        )

    # CRLs ---------------------------------------------------------------------------------------

    def crl(self, role: str, *, delta: bool = False) -> bytes:
        ca = self._ca(role)
        now = _when(self.authority.now())
        base = base_period(now)
        base_number = int(base.timestamp())
        entries = self._entries(ca)
        if not delta:
            return build_crl(
                ca.key,
                ca.certificate,
                [e for e in entries if e.revoked_at < base],
                this_update=base,
                next_update=base + BASE_CRL_VALIDITY,
                number=base_number,
            )
        return build_crl(
            ca.key,
            ca.certificate,
            [e for e in entries if e.revoked_at >= base],
            this_update=now,
            next_update=now + DELTA_CRL_VALIDITY,
            number=max(int(now.timestamp()), base_number + 1),
            delta_base=base_number,
        )

    # A holder revokes their own keys ------------------------------------------------------------

    def holder_revoke(self, body: Any) -> dict[str, Any]:
        """Revoke the certificates a holder's signed request names: the CMS verifies, its signer
        chains to a CA this authority trusts, is valid now, and is one of the certificates named
        or has their very subject; every certificate named was issued by this authority."""
        from .checks import (
            b64decode,
            cms_from_body,
            cms_intermediates,
            signer_certificate,
            verify_cms,
        )

        verified = verify_cms(cms_from_body(body))
        document = _revocation_fields(verified.content)
        signer = signer_certificate(verified)
        engine = self.authority
        now = engine.now()
        reason = engine.trust.examine(signer, now, cms_intermediates(verified))
        if reason:
            raise refusal(reason)
        certificates = []
        for text in document["certificates"]:
            der = b64decode(text)
            try:
                certificate = x509.load_der_x509_certificate(der or b"")
            except ValueError:
                raise bad_request("a certificate is not DER") from None
            if certificate.subject != signer.subject:
                raise refusal("subject_mismatch")
            if not any(self._issued_by(ca, certificate.serial_number) for ca in self._cas()):
                raise refusal("certificate_untrusted")  # it revokes only what it issued
            certificates.append(certificate)
        revoked = []
        with engine.ledger.transaction() as db:
            for certificate in certificates:
                serial = format(certificate.serial_number, "x")
                db.execute("INSERT OR IGNORE INTO revocations VALUES (?, ?)", (serial, iso(now)))
                db.execute(
                    "INSERT OR IGNORE INTO revocation_reasons VALUES (?, ?)",
                    (serial, document["reason"]),
                )
        for certificate in certificates:
            entry = self._revocation(certificate.serial_number)
            assert entry is not None
            revoked.append(
                {
                    "serial": format(certificate.serial_number, "x"),
                    "revoked_at": entry.revoked_at.isoformat(),
                    "reason": entry.reason,
                }
            )
        return {"revoked": revoked}


def _revocation_fields(content: bytes) -> dict[str, Any]:
    try:
        document = json.loads(content)
    except (UnicodeDecodeError, ValueError):
        raise refusal("document_malformed") from None
    if (
        not isinstance(document, dict)
        or set(document) != {"type", "certificates", "reason"}
        or document["type"] != REVOCATION_TYPE
        or document["reason"] not in REASON_CODES
        or not isinstance(document["certificates"], list)
        or not 1 <= len(document["certificates"]) <= MAX_REVOKED
        or not all(isinstance(c, str) for c in document["certificates"])
    ):
        raise refusal("document_malformed")
    return document


__all__ = [
    "OCSP_PATH",
    "Entry",
    "PkiUrls",
    "Problem",
    "Publisher",
    "SingleStatus",
    "build_crl",
    "build_ocsp_response",
    "ocsp_error",
    "pki_extensions",
    "urls_for",
]
