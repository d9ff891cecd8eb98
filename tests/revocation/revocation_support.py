"""Shared pieces of the revocation tests (imported as ``revocation_support``): a throwaway RSA
and a throwaway GOST 2015 512 chain made with the mock authority's own CA code, certificates they
issue, and OCSP answers and CRLs built with the mock's builders (asn1crypto, signed by the CA's
key, RSA or GOST alike)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from wizard.authority.mock import ca as authorities
from wizard.authority.mock.revocation import SingleStatus, build_crl, build_ocsp_response
from wizard.keys import oids
from wizard.keys.asn1 import key_identifier
from wizard.keys.keypair import KeyPair, generate
from wizard.keys.oids import Scheme

NOW = dt.datetime(2026, 6, 1, 12, 0, tzinfo=dt.UTC)
HOUR = dt.timedelta(hours=1)
DAY = dt.timedelta(days=1)


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def der(certificate: x509.Certificate) -> bytes:
    return certificate.public_bytes(serialization.Encoding.DER)


@dataclass
class Chain:
    """A root and issuing CA of one scheme, an end-entity certificate they issued, and helpers
    that answer for it as a responder or a CRL would."""

    scheme: Scheme
    root: authorities.CertificationAuthority
    issuing: authorities.CertificationAuthority
    leaf: x509.Certificate
    other: authorities.CertificationAuthority  # same scheme, not the leaf's issuer

    def issue(self, *, not_before=None, not_after=None, ca=None, pki=None) -> x509.Certificate:
        key = generate(self.scheme)
        usage = "both" if self.scheme is Scheme.GOST2015 else "sign"
        return authorities.issue(
            ca or self.issuing,
            subject=x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, "ТЕСТОВ ТЕСТ")]),
            public_key_info=key.public_key_info(),
            usage=usage,
            holder=(oids.INDIVIDUAL,),
            email=None,
            not_before=not_before or NOW - 30 * DAY,
            not_after=not_after or NOW + 335 * DAY,
            pki=pki,
        )

    def responder(
        self, *, ocsp_signing: bool = True, signer: authorities.CertificationAuthority | None = None
    ) -> tuple[x509.Certificate, KeyPair]:
        """A delegated responder certificate issued by ``signer`` (the issuing CA by default)."""
        ca = signer or self.issuing
        key = generate(self.scheme)
        spki = key.public_key_info()
        extensions = [
            {"extn_id": "key_usage", "critical": True, "extn_value": {"digital_signature"}},
            {"extn_id": "key_identifier", "critical": False, "extn_value": key_identifier(spki)},
        ]
        if ocsp_signing:
            extensions.append(
                {"extn_id": "extended_key_usage", "critical": False, "extn_value": ["ocsp_signing"]}
            )
        else:
            extensions.append(
                {"extn_id": "extended_key_usage", "critical": False, "extn_value": ["client_auth"]}
            )
        name = x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, "DEMO OCSP RESPONDER")])
        certificate = authorities.build_certificate(
            ca.key,
            issuer=ca.certificate.subject.public_bytes(),
            subject=name.public_bytes(),
            public_key_info=spki,
            serial=x509.random_serial_number(),
            not_before=NOW - 10 * DAY,
            not_after=NOW + 10 * DAY,
            extensions=extensions,
        )
        return x509.load_der_x509_certificate(certificate), key

    def answer(
        self,
        nonce: bytes | None,
        *,
        status: str = "good",
        certificate: x509.Certificate | None = None,
        serial: int | None = None,
        this_update: dt.datetime | None = None,
        next_update: dt.datetime | bool | None = True,
        signer: KeyPair | None = None,
        responder: x509.Certificate | None = None,
        included: tuple[x509.Certificate, ...] = (),
        by_name: bool = False,
        revoked_at: dt.datetime | None = None,
        reason: str | None = None,
        produced_at: dt.datetime | None = None,
        issuer: x509.Certificate | None = None,
    ) -> bytes:
        """An OCSP answer about the leaf (or ``certificate``), by default from the issuing CA,
        made now, valid an hour, with the nonce given."""
        this = this_update or NOW - dt.timedelta(minutes=1)
        if next_update is True:
            upto: dt.datetime | None = this + HOUR
        elif next_update is False:
            upto = None
        else:
            upto = next_update  # type: ignore[assignment]
        single = SingleStatus.for_certificate(
            serial if serial is not None else (certificate or self.leaf).serial_number,
            issuer or self.issuing.certificate,
            status,
            this,
            upto,
            revoked_at=revoked_at,
            reason=reason,
        )
        return build_ocsp_response(
            signer=signer or self.issuing.key,
            responder=responder or self.issuing.certificate,
            singles=[single],
            produced_at=produced_at or this,
            nonce=nonce,
            certificates=included,
            by_name=by_name,
        )

    def crl(
        self,
        serials=(),
        *,
        this_update: dt.datetime | None = None,
        next_update: dt.datetime | bool | None = True,
        number: int = 100,
        delta_base: int | None = None,
        signer: authorities.CertificationAuthority | None = None,
        reason: str | None = None,
    ) -> bytes:
        from wizard.authority.mock.revocation import Entry

        this = this_update or NOW - HOUR
        if next_update is True:
            upto: dt.datetime | None = this + 7 * DAY
        elif next_update is False:
            upto = None
        else:
            upto = next_update  # type: ignore[assignment]
        return build_crl(
            (signer or self.issuing).key,
            self.issuing.certificate,
            [Entry(s, this - dt.timedelta(minutes=5), reason) for s in serials],
            this_update=this,
            next_update=upto,
            number=number,
            delta_base=delta_base,
        )


def make_chain(scheme: Scheme) -> Chain:
    root = authorities.create_ca(
        f"REVOCATION TEST ROOT {scheme.value}", NOW - 365 * DAY, scheme=scheme
    )
    issuing = authorities.create_ca(
        f"REVOCATION TEST ISSUING {scheme.value}", NOW - 365 * DAY, parent=root, scheme=scheme
    )
    # Same name as the issuing CA, another key: whatever it signs proves nothing.
    other = authorities.create_ca(
        f"REVOCATION TEST ISSUING {scheme.value}", NOW - 365 * DAY, parent=root, scheme=scheme
    )
    chain = Chain(scheme, root, issuing, None, other)  # type: ignore[arg-type]
    chain.leaf = chain.issue()
    return chain
