"""What a person needs to know about an NCA certificate: who, which role, what for, until when."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from datetime import UTC, datetime

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtensionOID, NameOID

from wizard.errors import StoreError
from wizard.keys import oids
from wizard.keys.asn1 import PARSE_ERRORS
from wizard.keys.oids import Holder, Scheme

# The NCA's own CA names are longer than X.520's 64-character bound; that is theirs, not an error.
warnings.filterwarnings("ignore", message="Attribute's length must be", category=UserWarning)

# What a malformed certificate raises (cryptography parses names and extensions on first access).
CERTIFICATE_ERRORS = (*PARSE_ERRORS, x509.DuplicateExtension, UnsupportedAlgorithm)


def load_certificate(data: bytes) -> x509.Certificate:
    """A certificate from DER or PEM bytes; StoreError when it is neither."""
    try:
        if data.lstrip().startswith(b"-----BEGIN"):
            return x509.load_pem_x509_certificate(data)
        return x509.load_der_x509_certificate(data)
    except CERTIFICATE_ERRORS as exc:
        raise StoreError("certificate_corrupt") from exc


def iin_checksum_ok(number: str) -> bool:
    """The IIN/BIN control digit by the official two-pass weighting; NCA test IINs fail it."""
    if len(number) != 12 or not number.isdigit():
        return False
    digits = [int(c) for c in number]
    for weights in (range(1, 12), [3, 4, 5, 6, 7, 8, 9, 10, 11, 1, 2]):
        control = sum(d * w for d, w in zip(digits[:11], weights, strict=True)) % 11
        if control != 10:
            return control == digits[11]
    return False


def _attr(name: x509.Name, oid: x509.ObjectIdentifier) -> str:
    values = name.get_attributes_for_oid(oid)
    return str(values[0].value).strip() if values else ""


def _strip_prefix(value: str, prefix: str) -> str:
    return value[len(prefix) :] if value.upper().startswith(prefix) else ""


def certificate_extensions(cert: x509.Certificate) -> dict[str, object]:
    """The values of the certificate's extensions by dotted OID, tolerating a damaged one that is
    not critical (it is left out: the facts are read without it). StoreError("certificate_corrupt")
    when a critical extension does not parse, or an extension appears twice (RFC 5280 4.2)."""
    try:
        return {ext.oid.dotted_string: ext.value for ext in cert.extensions}
    except x509.DuplicateExtension as exc:
        raise StoreError("certificate_corrupt") from exc
    except CERTIFICATE_ERRORS:
        pass  # cryptography parses all of them or none: find which ones it refuses
    try:
        return _extensions_one_by_one(cert)
    except StoreError:
        raise
    except CERTIFICATE_ERRORS as exc:
        raise StoreError("certificate_corrupt") from exc


def _extensions_one_by_one(cert: x509.Certificate) -> dict[str, object]:
    """Ask cryptography about each extension alone, in a copy of the certificate holding only that
    one (the signature is not checked by a load), so each is judged by the same parser."""
    from asn1crypto import x509 as asn1_x509

    parsed = asn1_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER), strict=True)
    tbs = parsed["tbs_certificate"]
    found: dict[str, object] = {}
    seen: set[str] = set()
    for extension in tbs["extensions"]:
        oid = extension["extn_id"].dotted
        critical = bool(extension["critical"].native)
        if oid in seen:
            raise StoreError("certificate_corrupt")
        seen.add(oid)
        alone = tbs.copy()
        alone["extensions"] = asn1_x509.Extensions([extension.copy()])
        probe = asn1_x509.Certificate(
            {
                "tbs_certificate": alone,
                "signature_algorithm": parsed["signature_algorithm"].copy(),
                "signature_value": parsed["signature_value"].copy(),
            }
        )
        try:
            value = x509.load_der_x509_certificate(probe.dump()).extensions[0].value
        except CERTIFICATE_ERRORS:
            if critical:  # what it restricts cannot be known: the certificate is unusable
                raise StoreError("certificate_corrupt") from None
            continue  # a damaged optional extension says nothing; the facts go without it
        found[oid] = value
    return found


def _extension(extensions: dict[str, object], oid: x509.ObjectIdentifier, kind: type):
    value = extensions.get(oid.dotted_string)
    return value if isinstance(value, kind) else None


@dataclass(frozen=True)
class CertificateFacts:
    """The facts `inspect` shows and renewal relies on, read from one certificate."""

    common_name: str
    surname: str
    given_name: str
    patronymic: str
    iin: str
    bin: str
    organization: str
    locality: str
    region: str
    country: str
    email: str
    holder: Holder
    usage: tuple[str, ...]  # "auth", "sign"
    scheme: Scheme
    algorithm: str  # as shown: "RSA 2048", "GOST 2015 512", "GOST 2004"
    key_algorithm_oid: str
    not_before: datetime
    not_after: datetime
    issuer: str
    serial: str
    subject_key_id: str
    policies: tuple[str, ...]
    is_ca: bool

    @property
    def full_name(self) -> str:
        return " ".join(p for p in (self.surname, self.given_name, self.patronymic) if p) or (
            self.common_name
        )

    @property
    def iin_checksum_ok(self) -> bool:
        return iin_checksum_ok(self.iin)

    @property
    def is_nca_profile(self) -> bool:
        """Whether the certificate carries an NCA end-user policy (demo certificates do too)."""
        return any(p.startswith(oids.NCA_POLICY_PREFIX) for p in self.policies)

    def days_left(self, now: datetime) -> int:
        """Whole days until expiry (negative once expired); `now` is timezone-aware."""
        return days_until(self.not_after, now)


def days_until(moment: datetime, now: datetime) -> int:
    """Calendar days from ``now``'s date to ``moment``'s (UTC, the dates Qoltanba shows; negative
    once passed); both aware. A key valid a year from now reads 365, as its date says, not the
    364 whole days and some hours a subtraction gives. Later the same day it is 0 ("today"),
    and once passed it is negative, even on that very date."""
    days = (moment.astimezone(UTC).date() - now.astimezone(UTC).date()).days
    return min(days, -1) if moment <= now else days


def describe(cert: x509.Certificate) -> CertificateFacts:
    """Read the facts from a certificate (RSA, GOST or anything else parseable as X.509);
    StoreError("certificate_corrupt") when a part the facts need does not parse."""
    try:
        return _describe(cert)
    except StoreError:
        raise
    except CERTIFICATE_ERRORS as exc:
        raise StoreError("certificate_corrupt") from exc


def _describe(cert: x509.Certificate) -> CertificateFacts:
    extensions = certificate_extensions(cert)
    subject = cert.subject
    common_name = _attr(subject, NameOID.COMMON_NAME)
    surname = _attr(subject, NameOID.SURNAME)
    # The NCA puts "SURNAME NAME" in CN and the patronymic in givenName (DOMAIN.md §5).
    given_name = common_name
    if surname and common_name.upper().startswith(surname.upper()):
        given_name = common_name[len(surname) :].strip()
    elif surname:
        given_name = common_name.replace(surname, "", 1).strip()
    patronymic = _attr(subject, NameOID.GIVEN_NAME)
    iin = _strip_prefix(_attr(subject, NameOID.SERIAL_NUMBER), "IIN")
    bin_ = _strip_prefix(_attr(subject, NameOID.ORGANIZATIONAL_UNIT_NAME), "BIN")

    eku_value = _extension(extensions, ExtensionOID.EXTENDED_KEY_USAGE, x509.ExtendedKeyUsage)
    eku = {o.dotted_string for o in eku_value} if eku_value is not None else set()
    key_usage = _extension(extensions, ExtensionOID.KEY_USAGE, x509.KeyUsage)
    policies_value = _extension(
        extensions, ExtensionOID.CERTIFICATE_POLICIES, x509.CertificatePolicies
    )
    policies = tuple(p.policy_identifier.dotted_string for p in policies_value or ())
    basic = _extension(extensions, ExtensionOID.BASIC_CONSTRAINTS, x509.BasicConstraints)
    ski = _extension(extensions, ExtensionOID.SUBJECT_KEY_IDENTIFIER, x509.SubjectKeyIdentifier)
    san = _extension(extensions, ExtensionOID.SUBJECT_ALTERNATIVE_NAME, x509.SubjectAlternativeName)
    emails = san.get_values_for_type(x509.RFC822Name) if san is not None else []
    email = emails[0] if emails else _attr(subject, NameOID.EMAIL_ADDRESS)

    holder = _holder(eku, bool(bin_), bool(iin))
    key_oid = cert.public_key_algorithm_oid.dotted_string
    scheme, algorithm = _algorithm(cert, key_oid)
    usage = _usage(scheme, eku, key_usage, policies)

    return CertificateFacts(
        common_name=common_name,
        surname=surname,
        given_name=given_name,
        patronymic=patronymic,
        iin=iin,
        bin=bin_,
        organization=_attr(subject, NameOID.ORGANIZATION_NAME),
        locality=_attr(subject, NameOID.LOCALITY_NAME),
        region=_attr(subject, NameOID.STATE_OR_PROVINCE_NAME),
        country=_attr(subject, NameOID.COUNTRY_NAME),
        email=email,
        holder=holder,
        usage=usage,
        scheme=scheme,
        algorithm=algorithm,
        key_algorithm_oid=key_oid,
        not_before=cert.not_valid_before_utc,
        not_after=cert.not_valid_after_utc,
        issuer=_attr(cert.issuer, NameOID.COMMON_NAME) or cert.issuer.rfc4514_string(),
        serial=format(cert.serial_number, "x"),
        subject_key_id=ski.digest.hex() if ski is not None else "",
        policies=policies,
        is_ca=bool(basic is not None and basic.ca),
    )


def _holder(eku: set[str], has_bin: bool, has_iin: bool) -> Holder:
    for oid, holder in oids.ROLE_OIDS.items():
        if oid in eku:
            return holder
    if oids.LEGAL_ENTITY in eku or has_bin:
        return Holder.LEGAL_ENTITY
    if oids.INDIVIDUAL in eku or has_iin:
        return Holder.INDIVIDUAL
    return Holder.UNKNOWN


def _algorithm(cert: x509.Certificate, key_oid: str) -> tuple[Scheme, str]:
    if key_oid == oids.RSA_ENCRYPTION:
        key = cert.public_key()
        bits = key.key_size if isinstance(key, rsa.RSAPublicKey) else 0
        return Scheme.RSA, f"RSA {bits}"
    if key_oid == oids.GOST2015_512_KEY:
        return Scheme.GOST2015, Scheme.GOST2015.value
    if key_oid == oids.GOST2004_KEY:
        return Scheme.GOST2004, Scheme.GOST2004.value
    return Scheme.OTHER, key_oid


def _usage(scheme: Scheme, eku: set[str], key_usage, policies: tuple[str, ...]) -> tuple[str, ...]:
    if scheme is Scheme.GOST2015 or oids.POLICY_GOST512 in policies:
        return ("auth", "sign")  # the current scheme: one key for login and signing
    usage: list[str] = []
    if oids.CLIENT_AUTH in eku or any(
        p in policies for p in (oids.POLICY_AUTH_INDIVIDUAL, oids.POLICY_AUTH_LEGAL)
    ):
        usage.append("auth")
    if (
        oids.EMAIL_PROTECTION in eku
        or any(p in policies for p in (oids.POLICY_SIGN_INDIVIDUAL, oids.POLICY_SIGN_LEGAL))
        or (key_usage is not None and key_usage.content_commitment)
    ):
        usage.append("sign")
    if not usage and key_usage is not None and key_usage.digital_signature:
        usage.append("auth")
    return tuple(usage)


def certificate_public_key_info(certificate_der: bytes) -> bytes:
    """A certificate's SubjectPublicKeyInfo, DER, whatever the key's algorithm."""
    from asn1crypto import x509 as asn1_x509

    tbs = asn1_x509.Certificate.load(certificate_der)["tbs_certificate"]
    return tbs["subject_public_key_info"].dump()


def certificate_pem(cert: x509.Certificate) -> str:
    """PEM text, as NCALayer's getKeyInfo returns the certificate."""
    return cert.public_bytes(serialization.Encoding.PEM).decode("ascii")


def utc_now() -> datetime:
    return datetime.now(UTC)
