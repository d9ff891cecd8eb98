"""Key pairs on a token: the private half is generated there and never leaves it.

- ``TokenKeyPair`` is a ``KeyPair`` (wizard.keys.keypair) whose ``sign`` runs on the token, so
  ``request.build_request`` and ``cms.sign`` use it unchanged; ``private_key_info`` refuses.
- ``token_key_stores`` gives, per NCA key on the token (private key + certificate paired by
  CKA_ID), the same ``KeyStore`` a file store opens to (facts, revocation, verdict), plus the
  token and the object ID.
- ``generate_key_pair``, ``find_key_pair`` and ``write_certificate`` are what a renewal needs:
  new keys born on the token (CKA_TOKEN, CKA_PRIVATE, CKA_SENSITIVE true, CKA_EXTRACTABLE false,
  a fresh CKA_ID), found again by (token serial, CKA_ID) on resume, and their certificates
  written beside them; ``write_ca_certificate`` puts the authority's CA certificates there too.
- ``destroy_uncertified_key_pair`` is how a renewal that ended without new keys (cancelled,
  rejected) removes the key pair it made: only under its CKA_ID, only with its public key, and
  never while a certificate is stored under that ID (every current key has one).
No other function here modifies or deletes an object it did not just create.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from asn1crypto import algos
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from pkcs11 import Attribute, CertificateType, KeyType, Mechanism, MechanismFlag, ObjectClass
from pkcs11 import exceptions as p11

from wizard.errors import QoltanbaError, StoreError, TokenError
from wizard.keys import oids
from wizard.keys.certificate import (
    certificate_public_key_info,
    describe,
    load_certificate,
)
from wizard.keys.keypair import RSA_BITS, KeyPair, RsaSha256KeyPair
from wizard.keys.oids import Scheme
from wizard.keys.pkcs12 import StoreContents
from wizard.keys.revocation import check
from wizard.keys.store import KeyStore
from wizard.keys.tokens.device import TokenInfo, TokenSession, device_errors
from wizard.keys.verdict import Verdict
from wizard.keys.writer import file_prefix, subject_key_identifier

OBJECT_ID_BYTES = 20  # as long as a SHA-1 key identifier, the size tools expect of a CKA_ID
_PREFIX_BY_USAGE = {
    "auth": oids.PREFIX_AUTH_RSA,
    "sign": oids.PREFIX_SIGN_RSA,
    "both": oids.PREFIX_GOST512,
}


def _spki_from_rsa(modulus: bytes, exponent: bytes) -> bytes:
    numbers = rsa.RSAPublicNumbers(int.from_bytes(exponent, "big"), int.from_bytes(modulus, "big"))
    return numbers.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def _digest_info_sha256(data: bytes) -> bytes:
    """DigestInfo { sha256, H(data) }: what CKM_RSA_PKCS pads when the token cannot hash."""
    return algos.DigestInfo(
        {
            "digest_algorithm": {"algorithm": "sha256", "parameters": None},
            "digest": hashlib.sha256(data).digest(),
        }
    ).dump()


class TokenKeyPair(RsaSha256KeyPair):
    """An RSA key pair on a token. Signs exactly as RsaKeyPair: PKCS#1 v1.5 over SHA-256."""

    def __init__(
        self,
        private_key: Any,
        public_key_info: bytes,
        *,
        token: TokenInfo,
        object_id: bytes,
    ) -> None:
        self._key = private_key
        self._spki = public_key_info
        self.token = token
        self.object_id = object_id

    def public_key_info(self) -> bytes:
        return self._spki

    def private_key_info(self) -> bytes:
        raise StoreError("token_key_not_extractable")

    def sign(self, data: bytes) -> bytes:
        with device_errors(self.token.name):
            if int(Mechanism.SHA256_RSA_PKCS) in self.token.mechanisms:
                return bytes(self._key.sign(data, mechanism=Mechanism.SHA256_RSA_PKCS))
            return bytes(self._key.sign(_digest_info_sha256(data), mechanism=Mechanism.RSA_PKCS))

    def __repr__(self) -> str:
        return f"<TokenKeyPair {self.scheme.value} {self.object_id.hex()} on {self.token.name!r}>"


@dataclass(frozen=True)
class KeyObjects:
    """What the token holds under one CKA_ID (objects without an ID stand alone)."""

    object_id: bytes
    label: str
    private_key: Any = field(default=None, repr=False)
    public_key: Any = field(default=None, repr=False)
    certificate: bytes | None = None  # DER

    @property
    def private_key_info_visible(self) -> bool:
        return self.private_key is not None

    def public_key_info(self) -> bytes | None:
        """The key's SubjectPublicKeyInfo read from the token (never from the certificate)."""
        for obj in (self.private_key, self.public_key):
            if obj is None:
                continue
            try:
                if obj[Attribute.KEY_TYPE] != KeyType.RSA:
                    continue
                return _spki_from_rsa(obj[Attribute.MODULUS], obj[Attribute.PUBLIC_EXPONENT])
            except (p11.PKCS11Error, ValueError, TypeError):
                continue
        return None


def _read(obj: Any, attribute: Attribute, default: Any = None) -> Any:
    try:
        return obj[attribute]
    except (p11.AttributeTypeInvalid, p11.AttributeSensitive):
        return default


def key_objects(session: TokenSession) -> list[KeyObjects]:
    """Private keys, public keys and X.509 certificates on the token, grouped by CKA_ID. Without a
    login only public objects show (certificates; private keys are CKA_PRIVATE)."""
    groups: dict[bytes, dict[str, Any]] = {}
    loose: list[KeyObjects] = []
    with device_errors(session.token.name):
        for kind, wanted in (
            ("private_key", {Attribute.CLASS: ObjectClass.PRIVATE_KEY}),
            ("public_key", {Attribute.CLASS: ObjectClass.PUBLIC_KEY}),
            (
                "certificate",
                {
                    Attribute.CLASS: ObjectClass.CERTIFICATE,
                    Attribute.CERTIFICATE_TYPE: CertificateType.X_509,
                },
            ),
        ):
            for obj in session.session.get_objects(wanted):
                object_id = bytes(_read(obj, Attribute.ID, b"") or b"")
                label = str(_read(obj, Attribute.LABEL, "") or "")
                value: Any = bytes(obj[Attribute.VALUE]) if kind == "certificate" else obj
                if not object_id:
                    loose.append(KeyObjects(b"", label, **{kind: value}))
                    continue
                group = groups.setdefault(object_id, {"label": label})
                if kind not in group:  # two objects of a kind under one ID: the first counts
                    group[kind] = value
                group["label"] = group["label"] or label
    found = [
        KeyObjects(
            object_id=object_id,
            label=group["label"],
            private_key=group.get("private_key"),
            public_key=group.get("public_key"),
            certificate=group.get("certificate"),
        )
        for object_id, group in sorted(groups.items())
    ]
    return found + loose


@dataclass(frozen=True)
class TokenKeyStore(KeyStore):
    """A key on a token seen as an opened store: the same facts and verdict, plus where it is."""

    token: TokenInfo
    object_id: bytes
    label: str

    def verdict(self, now: datetime | None = None) -> Verdict:
        verdict = super().verdict(now)
        if self.facts.scheme is Scheme.GOST2015 and verdict.reason in (
            None,
            "algorithm_not_supported",
        ):
            # Qoltanba signs GOST only in software; on a token that needs the module's GOST
            # R 34.10-2015 512 mechanisms, and no module that has them was at hand to test.
            reason = "token_gost_untested" if self.token.gost512 else "token_gost_ncalayer"
            return Verdict(False, reason)
        return verdict


def certificate_label(certificate_der: bytes, key: KeyPair) -> str:
    """The NCA naming: <PREFIX>_<subject key identifier hex>, as the file stores are named."""
    certificate = load_certificate(certificate_der)
    return f"{file_prefix(describe(certificate))}_{subject_key_identifier(certificate, key).hex()}"


def _store_view(session: TokenSession, group: KeyObjects, certificate_der: bytes) -> TokenKeyStore:
    certificate = load_certificate(certificate_der)
    facts = describe(certificate)
    certified = certificate_public_key_info(certificate_der)
    on_token = group.public_key_info()
    key_matches = None if on_token is None else on_token == certified
    private_key: KeyPair | None = None
    if group.private_key is not None and facts.scheme is Scheme.RSA and key_matches:
        private_key = TokenKeyPair(
            group.private_key, certified, token=session.token, object_id=group.object_id
        )
    return TokenKeyStore(
        path=None,
        certificate=certificate,
        facts=facts,
        contents=StoreContents(
            private_key_info=b"",
            certificates=(certificate_der,),
            friendly_name=group.label or None,
            local_key_id=group.object_id or None,
            mac_algorithm="pkcs11",
            key_encryption="token",
            certificate_encryption=None,
        ),
        private_key=private_key,
        key_matches=key_matches,
        revocation=check(certificate, [], []),
        token=session.token,
        object_id=group.object_id,
        label=group.label,
    )


def token_key_stores(session: TokenSession) -> list[TokenKeyStore]:
    """Every end-entity key on the token that has both its private key and its certificate."""
    stores = []
    for group in key_objects(session):
        if group.certificate is None or group.private_key is None:
            continue
        try:
            if describe(load_certificate(group.certificate)).is_ca:
                continue
            stores.append(_store_view(session, group, group.certificate))
        except StoreError:
            continue  # a damaged certificate object is not a key to renew
    return stores


def _fresh_object_id(session: TokenSession) -> bytes:
    taken = {g.object_id for g in key_objects(session)}
    while True:
        object_id = os.urandom(OBJECT_ID_BYTES)
        if object_id not in taken:
            return object_id


def generate_key_pair(
    session: TokenSession,
    scheme: Scheme,
    usage: str,
    *,
    not_equal_to: Iterable[bytes] = (),
    object_id: bytes | None = None,
) -> tuple[TokenKeyPair, bytes]:
    """A new key pair generated on the token for ``usage`` (auth, sign; both for GOST), with a
    fresh CKA_ID (or ``object_id``, which no object may have yet); returns it and that ID. The
    private key is CKA_TOKEN, CKA_PRIVATE and CKA_SENSITIVE, never CKA_EXTRACTABLE; the token's
    answer is read back and a key that came out otherwise is destroyed and refused. The session
    must be read-write."""
    token = session.token
    if scheme is Scheme.GOST2015:
        raise TokenError(
            "token_gost_untested" if token.gost512 else "token_gost_ncalayer", token=token.name
        )
    if scheme is not Scheme.RSA or usage not in ("auth", "sign"):
        raise StoreError("store_unsupported")
    if int(Mechanism.RSA_PKCS_KEY_PAIR_GEN) not in token.mechanisms:
        raise TokenError("token_cannot_generate", token=token.name)
    if object_id is None:
        object_id = _fresh_object_id(session)
    elif object_id in {g.object_id for g in key_objects(session)}:
        raise TokenError("token_key_id_taken", token=token.name, object_id=object_id.hex())
    prefix = _PREFIX_BY_USAGE[usage]
    capabilities = MechanismFlag.SIGN | MechanismFlag.VERIFY
    if usage == "auth":  # keyEncipherment in the AUTH profile
        capabilities |= MechanismFlag.ENCRYPT | MechanismFlag.DECRYPT
    with device_errors(token.name):
        public, private = session.session.generate_keypair(
            KeyType.RSA,
            RSA_BITS,
            id=object_id,
            label=f"{prefix}_{object_id.hex()}",
            store=True,
            capabilities=capabilities,
            public_template={Attribute.TOKEN: True, Attribute.PRIVATE: False},
            private_template={
                Attribute.TOKEN: True,
                Attribute.PRIVATE: True,
                Attribute.SENSITIVE: True,
                Attribute.EXTRACTABLE: False,
            },
        )
        protected = (
            private[Attribute.SENSITIVE] is True
            and private[Attribute.EXTRACTABLE] is False
            and private[Attribute.TOKEN] is True
            and private[Attribute.PRIVATE] is True
        )
        if not protected:
            for obj in (private, public):
                obj.destroy()
            raise TokenError("token_key_extractable", token=token.name)
        spki = _spki_from_rsa(private[Attribute.MODULUS], private[Attribute.PUBLIC_EXPONENT])
    key = TokenKeyPair(private, spki, token=token, object_id=object_id)
    if any(key.same_public_key(old) for old in not_equal_to):
        with device_errors(token.name):
            for obj in (private, public):
                obj.destroy()
        raise QoltanbaError("key_not_new")
    label = f"{prefix}_{key.key_identifier().hex()}"
    for obj in (private, public):
        # The NCA's name; a token that will not relabel keeps the provisional one.
        with suppress(p11.PKCS11Error):
            obj[Attribute.LABEL] = label
    return key, object_id


def find_key_pair(session: TokenSession, object_id: bytes, spki: bytes) -> TokenKeyPair:
    """The key pair generated earlier under ``object_id`` (an interrupted renewal resuming), when
    its public key is still ``spki``; TokenError("token_key_missing" / "token_key_changed")."""
    token = session.token
    with device_errors(token.name):
        found = list(
            session.session.get_objects(
                {Attribute.CLASS: ObjectClass.PRIVATE_KEY, Attribute.ID: object_id}
            )
        )
    if len(found) != 1:
        raise TokenError("token_key_missing", token=token.name, object_id=object_id.hex())
    group = KeyObjects(object_id, "", private_key=found[0])
    with device_errors(token.name):
        on_token = group.public_key_info()
    if on_token != spki:
        raise TokenError("token_key_changed", token=token.name, object_id=object_id.hex())
    return TokenKeyPair(found[0], spki, token=token, object_id=object_id)


def write_certificate(
    session: TokenSession, object_id: bytes, der: bytes, label: str | None = None
) -> None:
    """Store the certificate ``der`` on the token beside the key pair ``object_id``, with the
    NCA's label unless ``label`` is given. Never overwrites: the same certificate already there
    is success (a resumed renewal), another one under this ID is TokenError; a certificate for
    another key than the one under ``object_id`` is StoreError("certificate_wrong_key")."""
    token = session.token
    load_certificate(der)  # refuses what is not a certificate before the token is touched
    with device_errors(token.name):
        existing = list(
            session.session.get_objects(
                {Attribute.CLASS: ObjectClass.CERTIFICATE, Attribute.ID: object_id}
            )
        )
        if existing:
            if len(existing) == 1 and bytes(existing[0][Attribute.VALUE]) == der:
                return
            raise TokenError("token_certificate_exists", token=token.name)
    try:
        key = find_key_pair(session, object_id, certificate_public_key_info(der))
    except TokenError as error:
        if error.code == "token_key_changed":  # the certificate is for another key
            raise StoreError("certificate_wrong_key") from error
        raise
    parsed = asn1_x509.Certificate.load(der)
    tbs = parsed["tbs_certificate"]
    with device_errors(token.name):
        created = session.session.create_object(
            {
                Attribute.CLASS: ObjectClass.CERTIFICATE,
                Attribute.CERTIFICATE_TYPE: CertificateType.X_509,
                Attribute.TOKEN: True,
                Attribute.PRIVATE: False,
                Attribute.ID: object_id,
                Attribute.LABEL: label or certificate_label(der, key),
                Attribute.SUBJECT: tbs["subject"].dump(),
                Attribute.ISSUER: tbs["issuer"].dump(),
                Attribute.SERIAL_NUMBER: tbs["serial_number"].dump(),
                Attribute.VALUE: der,
            }
        )
        if bytes(created[Attribute.VALUE]) != der:
            raise TokenError("token_write_failed", token=token.name)


def destroy_uncertified_key_pair(
    session: TokenSession, object_id: bytes, spki: bytes | None = None
) -> bool:
    """Destroy the key pair under ``object_id`` that was made for a renewal and never certified:
    nothing is touched when a certificate is stored under that ID (a current key, or a new one
    already installed), or when ``spki`` is given and the key there is another. True when a key
    pair was destroyed."""
    token = session.token
    with device_errors(token.name):
        found = list(session.session.get_objects({Attribute.ID: object_id}))
        classes = [obj[Attribute.CLASS] for obj in found]
    if not found or ObjectClass.CERTIFICATE in classes:
        return False
    private = [
        obj for obj, kind in zip(found, classes, strict=True) if kind == ObjectClass.PRIVATE_KEY
    ]
    if spki is not None:
        with device_errors(token.name):
            on_token = [
                KeyObjects(object_id, "", private_key=obj).public_key_info() for obj in private
            ]
        if len(private) != 1 or on_token[0] != spki:
            return False
    keys = [
        obj
        for obj, kind in zip(found, classes, strict=True)
        if kind in (ObjectClass.PRIVATE_KEY, ObjectClass.PUBLIC_KEY)
    ]
    with device_errors(token.name):
        for obj in keys:
            obj.destroy()
    return bool(keys)


def write_ca_certificate(session: TokenSession, der: bytes, label: str) -> bool:
    """Store an authority CA certificate on the token (public, its CKA_ID the CA's key
    identifier, so that it pairs with no key of the holder) unless the very same certificate is
    there already; True when written. TokenError("token_full") when the token has no room left.
    (CKA_CERTIFICATE_CATEGORY "authority" is not set: python-pkcs11 cannot write it.)"""
    token = session.token
    certificate = load_certificate(der)
    with device_errors(token.name):
        for obj in session.session.get_objects(
            {Attribute.CLASS: ObjectClass.CERTIFICATE, Attribute.VALUE: der}
        ):
            if bytes(obj[Attribute.VALUE]) == der:
                return False
    try:
        ski = certificate.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest
    except x509.ExtensionNotFound:
        ski = hashlib.sha1(der).digest()  # noqa: S324 - an identifier, not a security hash
    tbs = asn1_x509.Certificate.load(der)["tbs_certificate"]
    template: dict[Attribute, Any] = {
        Attribute.CLASS: ObjectClass.CERTIFICATE,
        Attribute.CERTIFICATE_TYPE: CertificateType.X_509,
        Attribute.TOKEN: True,
        Attribute.PRIVATE: False,
        Attribute.ID: ski,
        Attribute.LABEL: label,
        Attribute.SUBJECT: tbs["subject"].dump(),
        Attribute.ISSUER: tbs["issuer"].dump(),
        Attribute.SERIAL_NUMBER: tbs["serial_number"].dump(),
        Attribute.VALUE: der,
    }
    with device_errors(token.name):
        created = session.session.create_object(template)
        if bytes(created[Attribute.VALUE]) != der:
            raise TokenError("token_write_failed", token=token.name)
    return True


def token_key_report(store: TokenKeyStore, report: dict[str, Any]) -> dict[str, Any]:
    """The file ``inspect`` object of a token key, plus ``token``, ``object_id`` and ``label``."""
    return {
        **report,
        "token": store.token.as_json(),
        "object_id": store.object_id.hex(),
        "label": store.label,
    }
