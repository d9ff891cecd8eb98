"""The mock authority's certification authorities and what they issue.

A DEMO root and a DEMO issuing CA (RSA 2048, never trusted outside demo mode), and for fault tests a
separate EVIL CA that nobody trusts. End-entity certificates follow the NCA profile (DOMAIN.md §5):
the request's subject unchanged, key usage, extended key usage and policy by usage, the holder's
type and role OIDs in the EKU, SKI, AKI and the e-mail in SubjectAltName.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from wizard.keys import oids
from wizard.keys.asn1 import key_identifier

DEMO_ROOT_NAME = "QOLTANBA DEMO ROOT CA (NOT TRUSTED)"
DEMO_ISSUING_NAME = "QOLTANBA DEMO ISSUING CA"
EVIL_NAME = "QOLTANBA EVIL CA (TEST FAULT - NEVER TRUSTED)"
CA_BITS = 2048


@dataclass(frozen=True)
class CertificationAuthority:
    """One CA: its certificate and its private key (the mock keeps demo CA keys in its DB)."""

    certificate: x509.Certificate
    private_key: rsa.RSAPrivateKey

    @property
    def der(self) -> bytes:
        return self.certificate.public_bytes(serialization.Encoding.DER)

    def private_pem(self) -> bytes:
        # Unencrypted on purpose: a DEMO CA, trusted by nobody, whose key lives in the mock's DB.
        return self.private_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )

    @classmethod
    def load(cls, certificate_der: bytes, private_pem: bytes) -> CertificationAuthority:
        # Our own CA key from our own database: validated when it was generated.
        key = serialization.load_pem_private_key(
            private_pem, None, unsafe_skip_rsa_key_validation=True
        )
        if not isinstance(key, rsa.RSAPrivateKey):
            raise ValueError("a mock CA key is RSA")
        return cls(x509.load_der_x509_certificate(certificate_der), key)


def add_years(moment: datetime, years: int) -> datetime:
    """The same calendar moment ``years`` later (29 February becomes 28 February)."""
    year = moment.year + years
    day = min(moment.day, calendar.monthrange(year, moment.month)[1])
    return moment.replace(year=year, day=day)


def _ca_name(common_name: str) -> x509.Name:
    organization = "Qoltanba EVIL" if common_name == EVIL_NAME else "Qoltanba DEMO"
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization),
            x509.NameAttribute(NameOID.COUNTRY_NAME, "KZ"),
        ]
    )


def _ca_key_usage() -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=False,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=True,
        crl_sign=True,
        encipher_only=False,
        decipher_only=False,
    )


def create_ca(
    common_name: str, now: datetime, *, parent: CertificationAuthority | None = None
) -> CertificationAuthority:
    """A new RSA CA: self-signed root (20 years) or, under ``parent``, an issuing CA (10 years)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=CA_BITS)
    name = _ca_name(common_name)
    issuer_name = parent.certificate.subject if parent else name
    signer = parent.private_key if parent else key
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(issuer_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(add_years(now, 10 if parent else 20))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0 if parent else 1), True)
        .add_extension(_ca_key_usage(), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
    )
    if parent is not None:
        builder = builder.add_extension(_authority_key_id(parent), critical=False)
    return CertificationAuthority(builder.sign(signer, hashes.SHA256()), key)


def _authority_key_id(ca: CertificationAuthority) -> x509.AuthorityKeyIdentifier:
    ski = ca.certificate.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    return x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski)


# Key usage, EKU purpose and the individual / legal policy, per usage (DOMAIN.md §5).
_PROFILES: dict[str, tuple[dict[str, bool], x509.ObjectIdentifier, str, str]] = {
    "auth": (
        {"digital_signature": True, "key_encipherment": True},
        ExtendedKeyUsageOID.CLIENT_AUTH,
        oids.POLICY_AUTH_INDIVIDUAL,
        oids.POLICY_AUTH_LEGAL,
    ),
    "sign": (
        {"digital_signature": True, "content_commitment": True},
        ExtendedKeyUsageOID.EMAIL_PROTECTION,
        oids.POLICY_SIGN_INDIVIDUAL,
        oids.POLICY_SIGN_LEGAL,
    ),
    "both": (
        {"digital_signature": True, "content_commitment": True, "key_agreement": True},
        ExtendedKeyUsageOID.EMAIL_PROTECTION,
        oids.POLICY_GOST512,
        oids.POLICY_GOST512,
    ),
}
USAGES = tuple(_PROFILES)


def holder_oids(holder_eku: Iterable[str]) -> tuple[str, ...]:
    """The holder type and role OIDs (1.2.398.3.3.4...) among a certificate's EKU values."""
    return tuple(o for o in holder_eku if o.startswith("1.2.398.3.3.4."))


def issue(
    ca: CertificationAuthority,
    *,
    subject: x509.Name,
    public_key_info: bytes,
    usage: str,
    holder: tuple[str, ...],
    email: str | None,
    not_before: datetime,
    not_after: datetime,
) -> x509.Certificate:
    """An NCA-profile end-entity certificate for the key, signed by ``ca``.

    ``holder`` is the EKU's holder type and role OIDs; their type decides the policy branch."""
    flags, purpose, individual_policy, legal_policy = _PROFILES[usage]
    key_usage = {
        name: flags.get(name, False)
        for name in (
            "digital_signature",
            "content_commitment",
            "key_encipherment",
            "data_encipherment",
            "key_agreement",
            "key_cert_sign",
            "crl_sign",
        )
    }
    legal = oids.LEGAL_ENTITY in holder
    policy = legal_policy if legal else individual_policy
    public_key = serialization.load_der_public_key(public_key_info)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(ca.certificate.subject)
        .public_key(public_key)  # type: ignore[arg-type]
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(
            x509.KeyUsage(**key_usage, encipher_only=False, decipher_only=False), critical=True
        )
        .add_extension(
            x509.ExtendedKeyUsage([purpose, *(x509.ObjectIdentifier(o) for o in holder)]),
            critical=False,
        )
        .add_extension(
            x509.CertificatePolicies([x509.PolicyInformation(x509.ObjectIdentifier(policy), None)]),
            critical=False,
        )
        .add_extension(x509.SubjectKeyIdentifier(key_identifier(public_key_info)), False)
        .add_extension(_authority_key_id(ca), critical=False)
    )
    if email:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.RFC822Name(email)]), critical=False
        )
    return builder.sign(ca.private_key, hashes.SHA256())
