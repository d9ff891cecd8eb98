"""CMS SignedData (RFC 5652) as NCALayer makes it: the content attached, the signer's certificate
inside, signed attributes (content type, signing time, message digest). Signing uses a KeyPair of
any scheme; verification checks the digest and the signature, and hands back the signer."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime

from asn1crypto import algos, cms, core
from asn1crypto import x509 as asn1_x509

from wizard.errors import SignatureError
from wizard.keys import oids
from wizard.keys.keypair import KeyPair
from wizard.keys.signatures import verify

RSA_ENCRYPTION = oids.RSA_ENCRYPTION
_DIGESTS = {
    "2.16.840.1.101.3.4.2.1": hashlib.sha256,
    "2.16.840.1.101.3.4.2.2": hashlib.sha384,
    "2.16.840.1.101.3.4.2.3": hashlib.sha512,
    "1.3.14.3.2.26": hashlib.sha1,
}
_RSA_BY_DIGEST = {
    "2.16.840.1.101.3.4.2.1": "1.2.840.113549.1.1.11",
    "2.16.840.1.101.3.4.2.2": "1.2.840.113549.1.1.12",
    "2.16.840.1.101.3.4.2.3": "1.2.840.113549.1.1.13",
    "1.3.14.3.2.26": "1.2.840.113549.1.1.5",
}


def digest(algorithm_oid: str, data: bytes) -> bytes:
    if algorithm_oid == oids.STREEBOG_512:
        from wizard.keys.gost.streebog import streebog512

        return streebog512(data)
    if algorithm_oid not in _DIGESTS:
        raise SignatureError("signature_unsupported")
    return _DIGESTS[algorithm_oid](data).digest()


def sign(content: bytes, key: KeyPair, certificate_der: bytes, *, signing_time: datetime) -> bytes:
    """An attached CMS SignedData over ``content`` by ``key``, carrying its certificate."""
    certificate = asn1_x509.Certificate.load(certificate_der)
    digest_oid = key.digest_algorithm
    attributes = cms.CMSAttributes(
        [
            {"type": "content_type", "values": ["data"]},
            {"type": "signing_time", "values": [cms.Time({"utc_time": signing_time})]},
            {"type": "message_digest", "values": [digest(digest_oid, content)]},
        ]
    )
    signature = key.sign(attributes.dump())
    signer = cms.SignerInfo(
        {
            "version": "v1",
            "sid": cms.SignerIdentifier(
                {
                    "issuer_and_serial_number": {
                        "issuer": certificate.issuer,
                        "serial_number": certificate.serial_number,
                    }
                }
            ),
            "digest_algorithm": {"algorithm": digest_oid},
            "signed_attrs": attributes,
            "signature_algorithm": {
                "algorithm": key.signature_algorithm["algorithm"],
                "parameters": core.Null(),
            },
            "signature": signature,
        }
    )
    signed_data = cms.SignedData(
        {
            "version": "v1",
            "digest_algorithms": [algos.DigestAlgorithm({"algorithm": digest_oid})],
            "encap_content_info": {"content_type": "data", "content": content},
            "certificates": [certificate],
            "signer_infos": [signer],
        }
    )
    return cms.ContentInfo({"content_type": "signed_data", "content": signed_data}).dump()


@dataclass(frozen=True)
class VerifiedContent:
    """The content of a CMS whose signature verified, and who signed it."""

    content: bytes
    signer_certificate: bytes  # DER
    signing_time: datetime | None
    certificates: tuple[bytes, ...]  # every certificate the CMS carried, DER


def verify_signed(data: bytes, *, detached_content: bytes | None = None) -> VerifiedContent:
    """Verify an attached (or detached) CMS SignedData with one signer; SignatureError if not."""
    try:
        info = cms.ContentInfo.load(data, strict=True)
        if info["content_type"].native != "signed_data":
            raise SignatureError()
        signed = info["content"]
        content = signed["encap_content_info"]["content"].native
        if content is None:
            content = detached_content
        if content is None or len(signed["signer_infos"]) != 1:
            raise SignatureError()
        signer = signed["signer_infos"][0]
        certificates = [c.chosen for c in signed["certificates"] if c.name == "certificate"]
        sid = signer["sid"]
        if sid.name != "issuer_and_serial_number":
            raise SignatureError()
        wanted = sid.chosen
        match = [
            c
            for c in certificates
            if c.serial_number == wanted["serial_number"].native and c.issuer == wanted["issuer"]
        ]
        if not match:
            raise SignatureError("signature_no_signer")
        certificate = match[0]
        digest_oid = signer["digest_algorithm"]["algorithm"].dotted
        attributes = signer["signed_attrs"]
        signing_time = None
        if len(attributes):
            found = {a["type"].native: a["values"][0] for a in attributes}
            content_type = found.get("content_type")
            if (
                "message_digest" not in found
                or content_type is None
                or content_type.native != "data"
            ):
                raise SignatureError()
            if found["message_digest"].native != digest(digest_oid, content):
                raise SignatureError()
            if "signing_time" in found:
                signing_time = found["signing_time"].native
            signed_bytes = b"\x31" + attributes.dump()[1:]  # signed as a SET, sent as [0]
        else:
            signed_bytes = content
        signature_oid = signer["signature_algorithm"]["algorithm"].dotted
        if signature_oid == RSA_ENCRYPTION:
            signature_oid = _RSA_BY_DIGEST.get(digest_oid, signature_oid)
        spki = certificate["tbs_certificate"]["subject_public_key_info"].dump()
        ok = verify(spki, signature_oid, signed_bytes, signer["signature"].native)
    except SignatureError:
        raise
    except (ValueError, TypeError, KeyError, IndexError, AttributeError) as exc:
        raise SignatureError() from exc
    if not ok:
        raise SignatureError()
    return VerifiedContent(
        content=content,
        signer_certificate=certificate.dump(),
        signing_time=signing_time,
        certificates=tuple(c.dump() for c in certificates),
    )
