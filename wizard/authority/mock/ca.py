"""The mock authority's certification authorities and what they issue.

Two DEMO chains, never trusted outside demo mode: a root and an issuing CA in RSA 2048, and a root
and an issuing CA in GOST R 34.10-2015 512 (Kazakhstan's OIDs and byte order, like the NCA's GOST
2022 chain); and for fault tests a separate EVIL CA that nobody trusts. End-entity certificates
follow the NCA profile (DOMAIN.md §5): the request's subject unchanged, key usage, extended key
usage and policy by usage, the holder's type and role OIDs in the EKU, SKI, AKI and the e-mail in
SubjectAltName.

`cryptography` builds and signs the RSA-only certificates; it can neither carry a GOST key nor
sign with one, so every certificate with GOST on either side is built here with asn1crypto and
signed by the CA's `KeyPair`.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from asn1crypto import core, pem
from asn1crypto import keys as asn1_keys
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from wizard.keys import oids
from wizard.keys.asn1 import RawPublicKeyInfo, key_identifier
from wizard.keys.keypair import KeyPair, RsaKeyPair, generate, key_pair_from_pkcs8
from wizard.keys.oids import Scheme

if TYPE_CHECKING:
    from .revocation import PkiUrls

DEMO_ROOT_NAME = "QOLTANBA DEMO ROOT CA (NOT TRUSTED)"
DEMO_ISSUING_NAME = "QOLTANBA DEMO ISSUING CA"
DEMO_GOST_ROOT_NAME = "QOLTANBA DEMO GOST ROOT CA (NOT TRUSTED)"
DEMO_GOST_ISSUING_NAME = "QOLTANBA DEMO GOST ISSUING CA"
EVIL_NAME = "QOLTANBA EVIL CA (TEST FAULT - NEVER TRUSTED)"
CA_BITS = 2048


@dataclass(frozen=True)
class CertificationAuthority:
    """One CA: its certificate and its key pair (the mock keeps demo CA keys in its DB)."""

    certificate: x509.Certificate
    key: KeyPair

    @property
    def scheme(self) -> Scheme:
        return self.key.scheme

    @property
    def private_key(self) -> rsa.RSAPrivateKey:
        """The RSA key as `cryptography` holds it (RSA CAs only)."""
        if not isinstance(self.key, RsaKeyPair):
            raise TypeError("only an RSA CA has a cryptography private key")
        return self.key.key

    @property
    def der(self) -> bytes:
        return self.certificate.public_bytes(serialization.Encoding.DER)

    def private_pem(self) -> bytes:
        # Unencrypted on purpose: a DEMO CA, trusted by nobody, whose key lives in the mock's DB.
        return pem.armor("PRIVATE KEY", self.key.private_key_info())

    @classmethod
    def load(cls, certificate_der: bytes, private_pem: bytes) -> CertificationAuthority:
        # Our own CA key from our own database (PKCS#8 PEM, RSA or GOST).
        _, _, private_key_info = pem.unarmor(private_pem)
        key = key_pair_from_pkcs8(private_key_info)
        if key is None:
            raise ValueError("a mock CA key is RSA or GOST 2015 512")
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
    common_name: str,
    now: datetime,
    *,
    parent: CertificationAuthority | None = None,
    scheme: Scheme = Scheme.RSA,
) -> CertificationAuthority:
    """A new CA of ``scheme`` (RSA or GOST 2015 512): self-signed root (20 years) or, under
    ``parent`` (of the same scheme), an issuing CA (10 years)."""
    if scheme is not Scheme.RSA:
        return _create_ca_asn1(common_name, now, parent=parent, scheme=scheme)
    key = RsaKeyPair.generate(CA_BITS)
    name = _ca_name(common_name)
    issuer_name = parent.certificate.subject if parent else name
    signer = parent.private_key if parent else key.key
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(issuer_name)
        .public_key(key.key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(add_years(now, 10 if parent else 20))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0 if parent else 1), True)
        .add_extension(_ca_key_usage(), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.key.public_key()), False)
    )
    if parent is not None:
        builder = builder.add_extension(_authority_key_id(parent), critical=False)
    return CertificationAuthority(builder.sign(signer, hashes.SHA256()), key)


def _create_ca_asn1(
    common_name: str,
    now: datetime,
    *,
    parent: CertificationAuthority | None,
    scheme: Scheme,
) -> CertificationAuthority:
    """A CA whose key `cryptography` cannot hold (GOST), built and signed with asn1crypto."""
    key = generate(scheme)
    name = _ca_name(common_name).public_bytes()
    spki = key.public_key_info()
    extensions: list[dict] = [
        _extension(
            "basic_constraints",
            {"ca": True, "path_len_constraint": 0 if parent else 1},
            critical=True,
        ),
        _extension("key_usage", {"key_cert_sign", "crl_sign"}, critical=True),
        _extension("key_identifier", key_identifier(spki)),
    ]
    if parent is not None:
        extensions.append(_extension("authority_key_identifier", _key_id_of(parent)))
    der = build_certificate(
        parent.key if parent else key,
        issuer=parent.certificate.subject.public_bytes() if parent else name,
        subject=name,
        public_key_info=spki,
        serial=x509.random_serial_number(),
        not_before=now - timedelta(days=1),
        not_after=add_years(now, 10 if parent else 20),
        extensions=extensions,
    )
    return CertificationAuthority(x509.load_der_x509_certificate(der), key)


def _authority_key_id(ca: CertificationAuthority) -> x509.AuthorityKeyIdentifier:
    ski = ca.certificate.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    return x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski)


def _key_id_of(ca: CertificationAuthority) -> dict[str, bytes]:
    """The AuthorityKeyIdentifier value (asn1crypto) naming ``ca``'s key."""
    ski = ca.certificate.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    return {"key_identifier": ski.digest}


def _extension(name: str, value: object, *, critical: bool = False) -> dict:
    return {"extn_id": name, "critical": critical, "extn_value": value}


def _utc(moment: datetime) -> asn1_x509.Time:
    """RFC 5280 §4.1.2.5: UTCTime through 2049, GeneralizedTime from 2050; whole seconds."""
    moment = moment.replace(microsecond=0)
    return asn1_x509.Time(name="utc_time" if moment.year < 2050 else "general_time", value=moment)


def build_certificate(
    signer: KeyPair,
    *,
    issuer: bytes,
    subject: bytes,
    public_key_info: bytes,
    serial: int,
    not_before: datetime,
    not_after: datetime,
    extensions: list[dict],
) -> bytes:
    """An X.509 v3 certificate (DER) signed by ``signer``, whatever either key's scheme.

    ``issuer`` and ``subject`` are DER Names, copied byte for byte; ``extensions`` are asn1crypto
    Extension values."""
    signature_algorithm = {
        "algorithm": signer.signature_algorithm["algorithm"],
        "parameters": core.Null(),
    }
    tbs = asn1_x509.TbsCertificate(
        {
            "version": "v3",
            "serial_number": serial,
            "signature": signature_algorithm,
            "issuer": asn1_x509.Name.load(issuer),
            "validity": {"not_before": _utc(not_before), "not_after": _utc(not_after)},
            "subject": asn1_x509.Name.load(subject),
            # Loaded, never parsed (asn1crypto cannot parse the Kazakh GOST key OIDs): the
            # request's bytes go into the certificate unchanged.
            "subject_public_key_info": asn1_keys.PublicKeyInfo.load(public_key_info),
            "extensions": extensions,
        }
    )
    certificate = asn1_x509.Certificate(
        {
            "tbs_certificate": tbs,
            "signature_algorithm": signature_algorithm,
            "signature_value": signer.sign(tbs.dump()),
        }
    )
    return certificate.dump()


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


def _is_rsa(public_key_info: bytes) -> bool:
    return RawPublicKeyInfo.load(public_key_info)["algorithm"]["algorithm"].dotted == (
        oids.RSA_ENCRYPTION
    )


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
    pki: PkiUrls | None = None,
) -> x509.Certificate:
    """An NCA-profile end-entity certificate for the key, signed by ``ca``.

    ``holder`` is the EKU's holder type and role OIDs; their type decides the policy branch.
    ``pki``: where ``ca`` publishes revocation (AIA OCSP and caIssuers, CDP, Freshest CRL)."""
    flags, purpose, individual_policy, legal_policy = _PROFILES[usage]
    legal = oids.LEGAL_ENTITY in holder
    policy = legal_policy if legal else individual_policy
    if ca.scheme is not Scheme.RSA or not _is_rsa(public_key_info):
        return _issue_asn1(
            ca,
            subject=subject,
            public_key_info=public_key_info,
            flags=flags,
            eku=(purpose.dotted_string, *holder),
            policy=policy,
            email=email,
            not_before=not_before,
            not_after=not_after,
            pki=pki,
        )
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
    if pki is not None:
        for extension in _pki_extensions(pki):
            builder = builder.add_extension(extension, critical=False)
    return builder.sign(ca.private_key, hashes.SHA256())


def _pki_extensions(pki: PkiUrls) -> list[x509.ExtensionType]:
    """AIA, CDP and Freshest CRL as `cryptography` builds them (the RSA path)."""

    def point(url: str) -> x509.DistributionPoint:
        return x509.DistributionPoint([x509.UniformResourceIdentifier(url)], None, None, None)

    access = x509.AuthorityInformationAccessOID
    return [
        x509.AuthorityInformationAccess(
            [
                x509.AccessDescription(access.OCSP, x509.UniformResourceIdentifier(pki.ocsp)),
                x509.AccessDescription(
                    access.CA_ISSUERS, x509.UniformResourceIdentifier(pki.ca_issuers)
                ),
            ]
        ),
        x509.CRLDistributionPoints([point(pki.crl)]),
        x509.FreshestCRL([point(pki.delta)]),
    ]


# cryptography's KeyUsage names and asn1crypto's for the same bits.
_KEY_USAGE_NAMES = {
    "digital_signature": "digital_signature",
    "content_commitment": "non_repudiation",
    "key_encipherment": "key_encipherment",
    "data_encipherment": "data_encipherment",
    "key_agreement": "key_agreement",
}


def _issue_asn1(
    ca: CertificationAuthority,
    *,
    subject: x509.Name,
    public_key_info: bytes,
    flags: dict[str, bool],
    eku: tuple[str, ...],
    policy: str,
    email: str | None,
    not_before: datetime,
    not_after: datetime,
    pki: PkiUrls | None = None,
) -> x509.Certificate:
    """The same profile as `issue`, built with asn1crypto (a GOST key or a GOST CA)."""
    extensions = [
        _extension(
            "key_usage", {_KEY_USAGE_NAMES[n] for n, on in flags.items() if on}, critical=True
        ),
        _extension("extended_key_usage", list(eku)),
        _extension("certificate_policies", [{"policy_identifier": policy}]),
        _extension("key_identifier", key_identifier(public_key_info)),
        _extension("authority_key_identifier", _key_id_of(ca)),
    ]
    if email:
        extensions.append(
            _extension("subject_alt_name", [asn1_x509.GeneralName(name="rfc822_name", value=email)])
        )
    if pki is not None:
        from .revocation import pki_extensions

        extensions += pki_extensions(pki)
    der = build_certificate(
        ca.key,
        issuer=ca.certificate.subject.public_bytes(),
        subject=subject.public_bytes(),
        public_key_info=public_key_info,
        serial=x509.random_serial_number(),
        not_before=not_before,
        not_after=not_after,
        extensions=extensions,
    )
    return x509.load_der_x509_certificate(der)
