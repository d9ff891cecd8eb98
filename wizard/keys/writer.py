"""Save a new key store the NCA way: `<PREFIX>_<SKI hex>.p12`, friendlyName and localKeyID = SKI,
written atomically into the new folder, then re-opened with the password and checked."""

from __future__ import annotations

from pathlib import Path

from cryptography import x509

from wizard.errors import StoreError
from wizard.keys import oids
from wizard.keys.certificate import (
    CertificateFacts,
    certificate_public_key_info,
    describe,
    load_certificate,
)
from wizard.keys.files import write_new_file
from wizard.keys.keypair import KeyPair
from wizard.keys.oids import Scheme
from wizard.keys.pkcs12 import Profile, read_pkcs12, write_pkcs12


def file_prefix(facts: CertificateFacts) -> str:
    """The NCA's file-name prefix for a certificate's scheme and usage."""
    if facts.scheme is Scheme.GOST2015:
        return oids.PREFIX_GOST512
    if facts.scheme is Scheme.GOST2004:
        return oids.PREFIX_SIGN_GOST2004
    if facts.usage == ("auth",):
        return oids.PREFIX_AUTH_RSA
    return oids.PREFIX_SIGN_RSA


def subject_key_identifier(certificate: x509.Certificate, key: KeyPair) -> bytes:
    """The certificate's SKI, or the key's own (RFC 5280 method 1) where it has none."""
    try:
        ext = certificate.extensions.get_extension_for_class(x509.SubjectKeyIdentifier)
    except x509.ExtensionNotFound:
        return key.key_identifier()
    return ext.value.digest


def store_file_name(certificate_der: bytes, key: KeyPair) -> str:
    certificate = load_certificate(certificate_der)
    return _file_name(certificate, subject_key_identifier(certificate, key))


def _file_name(certificate: x509.Certificate, ski: bytes) -> str:
    return f"{file_prefix(describe(certificate))}_{ski.hex()}.p12"


def save_store(
    folder: Path,
    key: KeyPair,
    certificate_der: bytes,
    password: str,
    *,
    profile: Profile = Profile.NCA,
) -> Path:
    """Write the store for ``key`` and its new certificate into ``folder``; return its path.

    Refuses a certificate that is not for this key, and checks the written file opens with the
    password and holds exactly this key and certificate before reporting success.
    """
    if not key.same_public_key(certificate_public_key_info(certificate_der)):
        raise StoreError("certificate_wrong_key")
    certificate = load_certificate(certificate_der)
    ski = subject_key_identifier(certificate, key)
    data = write_pkcs12(
        key.private_key_info(),
        certificate_der,
        password,
        friendly_name=ski.hex(),
        local_key_id=ski,
        profile=profile,
    )
    path = write_new_file(folder, _file_name(certificate, ski), data)
    reopened = read_pkcs12(path.read_bytes(), password)
    if (
        reopened.certificates[0] != certificate_der
        or reopened.private_key_info != key.private_key_info()
    ):
        raise StoreError("store_verify_failed", path=str(path))
    return path
