"""PKCS#10 renewal requests as the NCA expects them: the subject copied unchanged from the current
certificate (renewal cannot change identity), the e-mail in SubjectAltName, the NCA key-store
extension, signed by the new key (proof of possession), checked before use."""

from __future__ import annotations

from dataclasses import dataclass

from asn1crypto import core, csr, keys
from asn1crypto import x509 as asn1_x509

from wizard.errors import RequestError
from wizard.keys import oids
from wizard.keys.keypair import KeyPair
from wizard.keys.signatures import verify


def key_store_extension() -> bytes:
    """The NCA key-store extension value: SEQUENCE { OID 1.2.398.3.3.5.1.1 } (a PKCS#12 file)."""
    return core.Sequence(contents=core.ObjectIdentifier(oids.KEY_STORE_PKCS12).dump()).dump()


def certificate_subject(certificate_der: bytes) -> bytes:
    """The subject Name of a certificate, DER, byte for byte as the authority wrote it."""
    return asn1_x509.Certificate.load(certificate_der)["tbs_certificate"]["subject"].dump()


def build_request(
    key: KeyPair, subject_der: bytes, *, email: str | None = None, key_store: bool = True
) -> bytes:
    """A signed PKCS#10 request (DER) for ``key`` with exactly ``subject_der`` as its subject.
    ``key_store``: carry the NCA key-store extension, which says "a PKCS#12 file" (DOMAIN.md §5
    knows no value for a token, so a key made on a token goes without it)."""
    extensions = []
    if email:
        extensions.append(
            {
                "extn_id": "subject_alt_name",
                "critical": False,
                "extn_value": [asn1_x509.GeneralName(name="rfc822_name", value=email)],
            }
        )
    if key_store:
        extensions.append(
            {
                "extn_id": oids.KEY_STORE_EXTENSION,
                "critical": False,
                "extn_value": core.ParsableOctetString(key_store_extension()),
            }
        )
    info = csr.CertificationRequestInfo(
        {
            "version": "v1",
            "subject": asn1_x509.Name.load(subject_der),
            "subject_pk_info": keys.PublicKeyInfo.load(key.public_key_info()),
            # Extensions is SEQUENCE SIZE (1..MAX): no attribute rather than an empty one
            "attributes": [{"type": "extension_request", "values": [extensions]}]
            if extensions
            else [],
        }
    )
    tbs = info.dump()
    algorithm = key.signature_algorithm
    request = csr.CertificationRequest(
        {
            "certification_request_info": info,
            "signature_algorithm": {"algorithm": algorithm["algorithm"], "parameters": core.Null()},
            "signature": key.sign(tbs),
        }
    )
    return request.dump()


@dataclass(frozen=True)
class CheckedRequest:
    """What a request asks for, after its proof of possession verified."""

    subject: bytes  # DER
    public_key_info: bytes  # DER
    email: str | None
    key_store: bool  # carries the NCA key-store extension (a PKCS#12 file store)
    signature_algorithm: str


def check_request(der: bytes) -> CheckedRequest:
    """Parse a request and verify its self-signature; RequestError when either fails."""
    try:
        request = csr.CertificationRequest.load(der, strict=True)
        info = request["certification_request_info"]
        tbs = info.dump()
        algorithm = request["signature_algorithm"]["algorithm"].dotted
        signature = request["signature"].native
        spki = info["subject_pk_info"].dump()
        subject = info["subject"].dump()
        email, key_store = None, False
        for attribute in info["attributes"]:
            if attribute["type"].native != "extension_request":
                continue
            for extension in attribute["values"][0]:
                extn_id = extension["extn_id"].dotted
                if extn_id == "2.5.29.17":
                    for name in extension["extn_value"].parsed:
                        if name.name == "rfc822_name":
                            # as written (IA5): .native turns an IDNA domain back into Unicode
                            email = name.chosen.contents.decode("ascii")
                elif extn_id == oids.KEY_STORE_EXTENSION:
                    key_store = extension["extn_value"].contents == key_store_extension()
    except (ValueError, TypeError, KeyError, IndexError) as exc:
        raise RequestError() from exc
    if not verify(spki, algorithm, tbs, signature):
        raise RequestError("request_no_possession")
    return CheckedRequest(subject, spki, email, key_store, algorithm)
