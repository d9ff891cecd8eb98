"""New keys on a PKCS#11 token: the `NewKeyHome` (renewal/new_keys.py) of a token renewal.

Imported only when a token is used (wizard.tokens_cli, the wizard's token path): it needs
python-pkcs11. The caller opens the module and a read-write session logged in with the PIN and
gives it here; the renewal core never opens a token itself.

- Made: each new key pair generated on the token (sensitive, never extractable), under a CKA_ID
  derived from the renewal and the usage, so that a run killed between generating and recording
  finds what it made and removes it before making it again.
- Recorded: ``PendingKey(usage, spki, token_object=<CKA_ID hex>)``; ``Origin.token`` is the
  token's serial number. A resumed run needs the same token (by serial).
- Reloaded: ``find_key_pair`` by that CKA_ID and public key (token_key_missing / _changed).
- Installed: each certificate written beside its key under the same CKA_ID with the NCA label
  (``AUTH_RSA256_<key id>``...), never overwriting, then read back as `inspect --token` sees it;
  the authority's CA certificates (issuing, root) written onto the token as authority
  certificates, so that the chain goes wherever the token goes (a token renewal has no folder).
  A token with no room for them keeps the holder's certificates, and the run says so.
- Discarded (cancelled, rejected, refused before anything was issued): the new key pairs
  destroyed; an object under an ID that has a certificate (every current key has one) never.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from contextlib import suppress
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from pkcs11 import Mechanism

from wizard.errors import (
    DetailsInvalid,
    RenewalElsewhere,
    TokenError,
    UsageError,
)
from wizard.keys.keypair import KeyPair
from wizard.keys.store import KeyStore
from wizard.keys.tokens.device import TokenInfo, TokenSession
from wizard.keys.tokens.keys import (
    TokenKeyPair,
    TokenKeyStore,
    certificate_label,
    destroy_uncertified_key_pair,
    find_key_pair,
    generate_key_pair,
    token_key_stores,
    write_ca_certificate,
    write_certificate,
)
from wizard.renewal.journal import Renewal, RenewalJournal, RenewalState
from wizard.renewal.new_keys import NewKeyPair, ca_label
from wizard.renewal.process import (
    TOKEN_STORAGES,
    CurrentKeys,
    RenewalDetails,
    current_keys,
    fingerprint,
)
from wizard.renewal.record import Origin, PendingKey

S = RenewalState
USAGES = ("auth", "sign", "both")


def provisional_id(renewal: Renewal, usage: str) -> bytes:
    """The CKA_ID this renewal gives its new ``usage`` key: 20 bytes, like a key identifier."""
    return hashlib.sha256(f"qoltanba-new-key:{renewal.id}:{usage}".encode()).digest()[:20]


class TokenHome:
    """New keys on the token of ``session`` (read-write, logged in)."""

    kind = "token"
    key_store_extension = False  # DOMAIN.md's key-store value says "a PKCS#12 file": not sent

    def __init__(self, session: TokenSession) -> None:
        self.session = session
        # what the run should tell besides its result (message key, params), as Renewer.notices
        self.notices: list[tuple[str, dict[str, Any]]] = []

    @property
    def token(self) -> TokenInfo:
        return self.session.token

    def place(self, details: RenewalDetails) -> Path | None:
        return None

    def check_resume(self, renewal: Renewal, place: Path | None) -> None:
        origin = renewal.record.origin
        if origin.folder is not None:
            code = (
                "renewal_done_elsewhere" if renewal.state is S.DONE else "renewal_pending_elsewhere"
            )
            raise RenewalElsewhere(code, folder=str(origin.folder))
        if origin.token != self.token.serial:
            raise RenewalElsewhere("renewal_pending_other_token", token=origin.token or "-")

    def prepare(
        self,
        current: CurrentKeys,
        details: RenewalDetails,
        place: Path | None,
        state_home: Path | None,
    ) -> Origin:
        serial = self.token.serial
        for store in current.stores.values():
            if not isinstance(store, TokenKeyStore) or store.token.serial != serial:
                raise UsageError("renewal_keys_not_on_token", token=self.token.name)
        if details.storage not in TOKEN_STORAGES:
            raise DetailsInvalid(
                "renewal_token_storage",
                storage=details.storage,
                storages=", ".join(TOKEN_STORAGES),
                field="storage",
            )
        if int(Mechanism.RSA_PKCS_KEY_PAIR_GEN) not in self.token.mechanisms:
            raise TokenError("token_cannot_generate", token=self.token.name)
        return Origin(token=serial)

    def sweep(self, journal: RenewalJournal, renewal: Renewal, *, started: bool) -> None:
        """This renewal's key made by a run killed before recording it; the never-certified new
        keys of this token's renewals that ended without new keys (cancelled with the token
        away). Nothing under an ID with a certificate is ever touched."""
        if renewal.state is S.DETAILED and not renewal.record.keys:
            for usage in USAGES:
                destroy_uncertified_key_pair(self.session, provisional_id(renewal, usage))
        for ended in journal.all():
            if ended.state.finished and ended.state is not S.DONE and ended.id != renewal.id:
                self.discard(ended)

    def save_key(
        self,
        renewal: Renewal,
        current: CurrentKeys,
        details: RenewalDetails,
        usage: str,
        old: Sequence[bytes],
        new_key_pair: NewKeyPair,
    ) -> tuple[KeyPair, PendingKey]:
        object_id = provisional_id(renewal, usage)
        destroy_uncertified_key_pair(self.session, object_id)  # a killed try's, never recorded
        key, made = generate_key_pair(
            self.session, current.scheme, usage, not_equal_to=old, object_id=object_id
        )
        return key, PendingKey(usage=usage, spki=key.public_key_info(), token_object=made.hex())

    def forget(self, renewal: Renewal, made: Sequence[PendingKey]) -> None:
        for entry in made:
            with suppress(TokenError):  # the token gone: the next run's sweep removes them
                destroy_uncertified_key_pair(
                    self.session, bytes.fromhex(entry.token_object), entry.spki
                )

    def load_key(self, renewal: Renewal, entry: PendingKey, details: RenewalDetails) -> KeyPair:
        return find_key_pair(self.session, bytes.fromhex(entry.token_object), entry.spki)

    def install_key(
        self, renewal: Renewal, details: RenewalDetails, key: KeyPair, certificate: bytes
    ) -> str:
        if not isinstance(key, TokenKeyPair):
            raise AssertionError("a token renewal's new key is on the token")
        write_certificate(self.session, key.object_id, certificate)
        # Read back as `inspect --token` will see it: the key and its certificate under one ID.
        seen = [s for s in token_key_stores(self.session) if s.object_id == key.object_id]
        if (
            len(seen) != 1
            or seen[0].contents.certificates[0] != certificate
            or seen[0].key_matches is not True
        ):
            raise TokenError("token_write_failed", token=self.token.name)
        return certificate_label(certificate, key)

    def install_ca(self, renewal: Renewal, certificate: x509.Certificate) -> str | None:
        label = ca_label(certificate)
        try:
            write_ca_certificate(
                self.session, certificate.public_bytes(serialization.Encoding.DER), label
            )
        except TokenError as error:
            if error.code != "token_full":
                raise
            self.notices.append(("token.ca_not_written", {"token": self.token.name}))
            return None
        return label

    def finish(self, renewal: Renewal) -> None:
        return None  # nothing but the keys and their certificates was ever written

    def finished(self, renewal: Renewal) -> None:
        return None

    def discard(self, renewal: Renewal) -> tuple[str, ...]:
        """The new key pairs of a renewal that ended before anything was issued for them (object
        IDs, hex). A renewal that reached "issued" keeps them: its certificates are known."""
        origin = renewal.record.origin
        if origin.token != self.token.serial or renewal.record.issued is not None:
            return ()
        wanted: dict[bytes, bytes | None] = {
            bytes.fromhex(k.token_object): k.spki for k in renewal.record.keys if k.token_object
        }
        for usage in USAGES:
            wanted.setdefault(provisional_id(renewal, usage), None)
        removed = []
        for object_id, spki in wanted.items():
            try:
                if destroy_uncertified_key_pair(self.session, object_id, spki):
                    removed.append(object_id.hex())
            except TokenError:
                continue  # the token gone meanwhile: a later run's sweep removes them
        return tuple(removed)


# --- which keys on the token, which renewal waits -----------------------------------------------


def current_keys_on_token(
    journal: RenewalJournal, stores: Sequence[TokenKeyStore], token: TokenInfo
) -> CurrentKeys:
    """The current keys to renew among the NCA keys on ``token``: those of this token's renewal
    under way (or just done, while its keys are still valid: the same command says it is done),
    else the keys no renewal renewed yet, the renewable ones if that leaves more than one set;
    UsageError("token_keys_which") when it is still not one set."""
    if not stores:
        raise TokenError("token_no_nca_keys", token=token.name)
    by_print: dict[str, KeyStore] = {fingerprint(s.contents.certificates[0]): s for s in stores}
    renewals = [r for r in journal.all() if r.record.origin.token == token.serial]
    for renewal in reversed(renewals):
        if renewal.state.finished and renewal.state is not S.DONE:
            continue
        if renewal.current and all(p in by_print for p in renewal.current):
            chosen = [by_print[p] for p in renewal.current]
            if renewal.state is S.DONE and not all(s.verdict().renewable for s in chosen):
                continue  # renewed long ago: its keys are not the ones asked about now
            return current_keys(chosen)
    renewed = {p for r in renewals if r.state is S.DONE for p in r.current}
    candidates = [s for p, s in by_print.items() if p not in renewed] or list(by_print.values())
    try:
        return current_keys(candidates)
    except UsageError as error:
        if len(candidates) <= 2 or error.code not in SET_ERRORS:
            raise
        renewable = [s for s in candidates if s.verdict().renewable]
        with suppress(UsageError):
            if renewable and len(renewable) < len(candidates):
                return current_keys(renewable)
        labels = ", ".join(sorted(getattr(s, "label", "") or "-" for s in candidates))
        raise UsageError("token_keys_which", token=token.name, keys=labels) from error


SET_ERRORS = ("renewal_store_roles", "renewal_different_holders")


def waiting_renewal(journal: RenewalJournal, serial: str | None = None) -> Renewal | None:
    """The newest renewal of keys on a token (this one's, by serial, if given) that is under way."""
    for renewal in reversed(journal.all()):
        token = renewal.record.origin.token
        if token and (serial is None or token == serial) and not renewal.state.finished:
            return renewal
    return None
