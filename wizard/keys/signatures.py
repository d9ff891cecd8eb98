"""Check a signature under a SubjectPublicKeyInfo, whatever the scheme (RSA through `cryptography`,
GOST R 34.10-2015 through `wizard.keys.gost`): certificates, CRLs, requests' proof of possession."""

from __future__ import annotations

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

from wizard.keys import oids
from wizard.keys.certificate import certificate_public_key_info

_RSA_HASHES: dict[str, type[hashes.SHA1 | hashes.SHA256 | hashes.SHA384 | hashes.SHA512]] = {
    "1.2.840.113549.1.1.5": hashes.SHA1,
    "1.2.840.113549.1.1.11": hashes.SHA256,
    "1.2.840.113549.1.1.12": hashes.SHA384,
    "1.2.840.113549.1.1.13": hashes.SHA512,
}
_ECDSA_HASHES: dict[str, type[hashes.SHA256 | hashes.SHA384 | hashes.SHA512]] = {
    "1.2.840.10045.4.3.2": hashes.SHA256,
    "1.2.840.10045.4.3.3": hashes.SHA384,
    "1.2.840.10045.4.3.4": hashes.SHA512,
}


def verify(public_key_info: bytes, algorithm_oid: str, data: bytes, signature: bytes) -> bool:
    """True when ``signature`` over ``data`` verifies under the key; False for any mismatch."""
    if algorithm_oid == oids.GOST2015_512_SIGNATURE:
        from wizard.keys.gost.x509 import verify_spki

        return verify_spki(public_key_info, data, signature)
    try:
        key = serialization.load_der_public_key(public_key_info)
    except (ValueError, UnsupportedAlgorithm):
        return False
    try:
        if isinstance(key, rsa.RSAPublicKey) and algorithm_oid in _RSA_HASHES:
            key.verify(signature, data, padding.PKCS1v15(), _RSA_HASHES[algorithm_oid]())
            return True
        if isinstance(key, ec.EllipticCurvePublicKey) and algorithm_oid in _ECDSA_HASHES:
            key.verify(signature, data, ec.ECDSA(_ECDSA_HASHES[algorithm_oid]()))
            return True
    except InvalidSignature:
        return False
    return False


def issuer_signed(
    issuer: x509.Certificate, signed: x509.Certificate | x509.CertificateRevocationList
) -> bool:
    """True when ``signed`` (a certificate or a CRL) carries a valid signature by ``issuer``."""
    if isinstance(signed, x509.Certificate):
        tbs = signed.tbs_certificate_bytes
    else:
        tbs = signed.tbs_certlist_bytes
    return verify(
        certificate_public_key_info(issuer.public_bytes(serialization.Encoding.DER)),
        signed.signature_algorithm_oid.dotted_string,
        tbs,
        signed.signature,
    )
