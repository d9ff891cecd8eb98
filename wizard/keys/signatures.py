"""Check an X.509 signature (certificate or CRL) under an issuer's key, whatever the scheme."""

from __future__ import annotations

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

from wizard.keys import oids


def issuer_signed(
    issuer: x509.Certificate, signed: x509.Certificate | x509.CertificateRevocationList
) -> bool:
    """True when ``signed`` (a certificate or a CRL) carries a valid signature by ``issuer``."""
    if isinstance(signed, x509.Certificate):
        tbs = signed.tbs_certificate_bytes
    else:
        tbs = signed.tbs_certlist_bytes
    signature_oid = signed.signature_algorithm_oid.dotted_string
    if signature_oid == oids.GOST2015_512_SIGNATURE:
        from wizard.keys.gost import verify_certificate_signature

        return verify_certificate_signature(issuer, tbs, signed.signature)
    key = issuer.public_key()
    hash_algorithm = signed.signature_hash_algorithm
    if hash_algorithm is None:
        return False
    try:
        if isinstance(key, rsa.RSAPublicKey):
            key.verify(signed.signature, tbs, padding.PKCS1v15(), hash_algorithm)
        elif isinstance(key, ec.EllipticCurvePublicKey):
            key.verify(signed.signature, tbs, ec.ECDSA(hash_algorithm))
        else:
            return False
    except InvalidSignature:
        return False
    return True
