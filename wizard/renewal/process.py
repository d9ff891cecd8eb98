"""One renewal, step by step, each step recorded in the journal before the next begins.

Run it again after any interruption and it continues where the journal says it stopped; it never
files a second application. Everything before submitting happens on the device, offline; the
authority is reached only through the `Authority` interface (no network code here).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from wizard.authority.interface import (
    ApplicationState,
    ApplicationStatus,
    Authority,
    CodeWrong,
    IssuedCertificates,
    SessionExpired,
    application_document,
)
from wizard.errors import (
    ApplicationRejected,
    AuthorityProtocolError,
    NotRenewable,
    OutputRefused,
    QoltanbaError,
    UsageError,
    WrongPassword,
)
from wizard.keys import cms
from wizard.keys.certificate import (
    certificate_public_key_info,
    describe,
    load_certificate,
    utc_now,
)
from wizard.keys.files import prepare_new_folder, write_new_file
from wizard.keys.keypair import KeyPair, generate, key_pair_from_pkcs8
from wizard.keys.oids import Scheme
from wizard.keys.pkcs12 import decrypt_private_key, encrypt_private_key, read_pkcs12
from wizard.keys.request import build_request, certificate_subject
from wizard.keys.signatures import issuer_signed
from wizard.keys.store import KeyStore
from wizard.keys.writer import save_store, store_file_name
from wizard.renewal.journal import Renewal, RenewalJournal, RenewalState
from wizard.renewal.secrets import SecretStore

S = RenewalState
CodeSource = Callable[[str, int | None], Awaitable[str]]
Progress = Callable[[Renewal], None]

TOKEN_STORAGES = ("kaztoken", "idcard", "etoken", "jacarta", "akey")
STORAGES = ("pkcs12", *TOKEN_STORAGES)
CLOCK_SKEW = timedelta(minutes=10)
VALIDITY_SLACK = timedelta(days=7)
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class RenewalWaiting(QoltanbaError):
    """The application waits on the authority (approval, processing); run again later."""

    exit_code = 6
    default_code = "renewal_waiting"


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.b64decode(text)


def fingerprint(certificate_der: bytes) -> str:
    return hashlib.sha256(certificate_der).hexdigest()


@dataclass(frozen=True)
class CurrentKeys:
    """The holder's current keys, checked: an AUTH and a SIGN store, or one GOST store."""

    stores: dict[str, KeyStore]  # usage ("auth", "sign", "both") -> store
    scheme: Scheme
    subject: bytes  # DER, identical in every current certificate

    @property
    def auth(self) -> KeyStore:
        return self.stores.get("auth") or self.stores["both"]

    @property
    def signer(self) -> KeyStore:
        return self.stores.get("sign") or self.stores["both"]

    @property
    def fingerprints(self) -> tuple[str, ...]:
        return tuple(sorted(fingerprint(s.contents.certificates[0]) for s in self.stores.values()))

    @property
    def usages(self) -> tuple[str, ...]:
        return tuple(sorted(self.stores))

    def identity(self) -> tuple[str, ...]:
        facts = self.signer.facts
        return (facts.iin, facts.bin, facts.surname, facts.given_name, facts.patronymic)


def current_keys(stores: Sequence[KeyStore]) -> CurrentKeys:
    """Sort the opened stores into the scheme's roles; refuse a set that cannot be renewed."""
    by_usage: dict[str, KeyStore] = {}
    for store in stores:
        usage = store.facts.usage
        role = "both" if set(usage) == {"auth", "sign"} else (usage[0] if usage else "")
        if not role or role in by_usage:
            raise UsageError("renewal_store_roles")
        if store.private_key is None:
            raise NotRenewable(reason=store.verdict().reason or "algorithm_not_supported")
        by_usage[role] = store
    if set(by_usage) not in ({"both"}, {"auth", "sign"}):
        raise UsageError("renewal_store_roles")
    subjects = {certificate_subject(s.contents.certificates[0]) for s in by_usage.values()}
    schemes = {s.facts.scheme for s in by_usage.values()}
    if len(subjects) != 1 or len(schemes) != 1:
        raise UsageError("renewal_different_holders")
    return CurrentKeys(stores=by_usage, scheme=schemes.pop(), subject=subjects.pop())


@dataclass(frozen=True)
class RenewalDetails:
    email: str
    locality: str
    folder: Path
    new_password: str  # held in memory for this run only; never recorded
    storage: str = "pkcs12"

    def __repr__(self) -> str:
        return f"RenewalDetails(email={self.email!r}, locality={self.locality!r}, ...)"


def check_details(details: RenewalDetails) -> None:
    if not EMAIL.match(details.email.strip()):
        raise UsageError("renewal_bad_email", email=details.email)
    if not details.locality.strip():
        raise UsageError("renewal_no_locality")
    if details.storage not in STORAGES:
        raise UsageError("renewal_bad_storage", storage=details.storage)


class Renewer:
    """Carries renewals through the journal against one authority."""

    def __init__(
        self,
        journal: RenewalJournal,
        authority: Authority,
        authority_name: str,
        *,
        clock: Callable[[], datetime] = utc_now,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
        max_wait: float = 60.0,
        progress: Progress | None = None,
        secrets: SecretStore | None = None,
        new_key_pair: Callable[..., KeyPair] = generate,
    ) -> None:
        self.journal = journal
        self.authority = authority
        self.authority_name = authority_name
        self.clock = clock
        self.sleep = sleep
        self.max_wait = max_wait
        self.progress = progress
        self.secrets = secrets
        # Makes each new key pair: keypair.generate, or keys made ahead (renewal/keys_ahead.py).
        self.new_key_pair = new_key_pair
        self._keys: dict[str, KeyPair] = {}
        self._session: str | None = None

    # --- the whole run -------------------------------------------------------------------------

    def begin(self, current: CurrentKeys, details: RenewalDetails) -> Renewal:
        """The pending renewal of these keys, or a new one after every offline check passed."""
        from wizard.keys.passwords import require_acceptable

        renewal = self.journal.pending_for(current.fingerprints)
        folder = details.folder.expanduser().absolute().resolve()
        if renewal is not None:
            if renewal.folder is not None and renewal.folder != folder:
                raise UsageError("renewal_pending_elsewhere", folder=str(renewal.folder))
            if "keys" in renewal.data and renewal.state is not S.DONE:
                self._load_keys(renewal, details.new_password)  # a wrong new password stops here
            return renewal
        check_details(details)
        now = self.clock()
        for store in current.stores.values():
            verdict = store.verdict(now)
            if not verdict.renewable:
                raise NotRenewable(reason=verdict.reason)
        require_acceptable(details.new_password, identity=current.identity())
        prepare_new_folder(folder, [s.path for s in current.stores.values() if s.path])
        return self.journal.start(
            current.fingerprints,
            self.authority_name,
            scheme=current.scheme.value,
            subject=_b64(current.subject),
            folder=str(folder),
        )

    async def run(
        self, current: CurrentKeys, details: RenewalDetails, code_source: CodeSource
    ) -> Renewal:
        renewal = self.begin(current, details)
        while not renewal.state.finished:
            renewal = await self.step(renewal, current, details, code_source)
            if self.progress:
                self.progress(renewal)
        if renewal.state is S.REJECTED:
            raise ApplicationRejected(reason=renewal.data.get("reason") or "")
        if renewal.state is S.LAPSED:
            raise ApplicationRejected("application_lapsed", reason="lapsed")
        return renewal

    async def step(
        self,
        renewal: Renewal,
        current: CurrentKeys,
        details: RenewalDetails,
        code_source: CodeSource,
    ) -> Renewal:
        """Take exactly one step from the renewal's state (recorded before returning)."""
        state = renewal.state
        if state is S.CHECKED:
            check_details(details)
            return self.journal.advance(
                renewal,
                S.DETAILED,
                email=details.email.strip(),
                locality=details.locality.strip(),
                storage=details.storage,
            )
        if state is S.DETAILED:
            return self._save_new_keys(renewal, current, details)
        if state is S.KEYS_SAVED:
            return self._build_requests(renewal, details)
        if state is S.REQUESTS_BUILT:
            return self._sign_application(renewal, current)
        if state is S.SIGNED:
            return await self._submit(renewal, current)
        if state is S.AWAITING_CODE:
            return await self._confirm(renewal, current, code_source)
        if state in (S.SUBMITTED, S.AWAITING_HEAD, S.PROCESSING):
            return await self._wait(renewal, current)
        if state is S.ISSUED:
            return self._install(renewal, details)
        if state is S.INSTALLED:
            return self._finish(renewal)
        raise AssertionError(f"no step from {state}")  # finished states never reach here

    # --- offline steps -------------------------------------------------------------------------

    def _usages(self, renewal: Renewal) -> tuple[str, ...]:
        return ("both",) if renewal.data["scheme"] == Scheme.GOST2015.value else ("auth", "sign")

    def _save_new_keys(
        self, renewal: Renewal, current: CurrentKeys, details: RenewalDetails
    ) -> Renewal:
        folder = Path(renewal.data["folder"])
        old = [
            certificate_public_key_info(s.contents.certificates[0]) for s in current.stores.values()
        ]
        recorded: dict[str, dict[str, str]] = {}
        for usage in self._usages(renewal):
            key = self.new_key_pair(current.scheme, not_equal_to=old)
            name = f"PENDING_{usage.upper()}_{key.key_identifier().hex()}.p8"
            write_new_file(
                folder, name, encrypt_private_key(key.private_key_info(), details.new_password)
            )
            self._keys[usage] = key
            recorded[usage] = {"file": name, "spki": _b64(key.public_key_info())}
        return self.journal.advance(renewal, S.KEYS_SAVED, keys=recorded)

    def _load_keys(self, renewal: Renewal, new_password: str) -> dict[str, KeyPair]:
        """The new keys: from memory, or decrypted from the pending files (same new password)."""
        folder = Path(renewal.data["folder"])
        for usage, entry in renewal.data["keys"].items():
            if usage in self._keys:
                continue
            path = folder / entry["file"]
            try:
                data = path.read_bytes()
            except OSError as exc:
                raise OutputRefused(
                    "pending_key_missing", detail=str(path), path=str(path)
                ) from exc
            try:
                key = key_pair_from_pkcs8(decrypt_private_key(data, new_password))
            except ValueError:
                key = None
            if key is None or not key.same_public_key(_unb64(entry["spki"])):
                # Decided by the recorded public key, not by a decryption error.
                raise WrongPassword("new_password_differs")
            self._keys[usage] = key
        return self._keys

    def _build_requests(self, renewal: Renewal, details: RenewalDetails) -> Renewal:
        keys = self._load_keys(renewal, details.new_password)
        subject = _unb64(renewal.data["subject"])
        requests = {
            usage: _b64(build_request(keys[usage], subject, email=renewal.data["email"]))
            for usage in self._usages(renewal)
        }
        return self.journal.advance(renewal, S.REQUESTS_BUILT, requests=requests)

    def _sign_application(self, renewal: Renewal, current: CurrentKeys) -> Renewal:
        document = application_document(
            idempotency_key=renewal.id,
            email=renewal.data["email"],
            locality=renewal.data["locality"],
            storage=renewal.data["storage"],
            requests=[(u, _unb64(d)) for u, d in sorted(renewal.data["requests"].items())],
            current_certificates=[
                (u, s.contents.certificates[0]) for u, s in sorted(current.stores.items())
            ],
        )
        signer = current.signer
        signed = cms.sign(
            document, signer.private_key, signer.contents.certificates[0], signing_time=self.clock()
        )
        return self.journal.advance(renewal, S.SIGNED, application_cms=_b64(signed))

    # --- talking to the authority --------------------------------------------------------------

    def _session_name(self, current: CurrentKeys) -> str:
        return f"session:{self.authority_name}:{current.auth.facts.serial}"

    async def _login(self, current: CurrentKeys) -> str:
        if self._session is None and self.secrets is not None:
            self._session = await self.secrets.get(self._session_name(current))
        if self._session is None:
            auth = current.auth
            challenge = await self.authority.challenge()
            signed = cms.sign(
                challenge,
                auth.private_key,
                auth.contents.certificates[0],
                signing_time=self.clock(),
            )
            self._session = await self.authority.login(signed)
            if self.secrets is not None:
                await self.secrets.put(self._session_name(current), self._session)
        return self._session

    async def _with_session(self, current: CurrentKeys, call):
        session = await self._login(current)
        try:
            return await call(session)
        except SessionExpired:
            self._session = None
            if self.secrets is not None:
                await self.secrets.delete(self._session_name(current))
            return await call(await self._login(current))

    async def _submit(self, renewal: Renewal, current: CurrentKeys) -> Renewal:
        if "ca_certificates" not in renewal.data:
            info = await self.authority.info()
            # Trust on first use: the CA certificates this renewal will accept, pinned here.
            renewal = self.journal.record(
                renewal,
                ca_certificates=[_b64(c) for c in info.ca_certificates],
                authority_display=info.name,
                demo=info.demo,
            )
        cms_bytes = _unb64(renewal.data["application_cms"])
        try:
            status = await self._with_session(
                current, lambda s: self.authority.submit(s, cms_bytes, renewal.id)
            )
        except ApplicationRejected as error:
            return self.journal.advance(
                renewal, S.REJECTED, reason=str(error.params.get("reason", ""))
            )
        # The application number is recorded before anything else happens.
        renewal = self.journal.advance(renewal, S.SUBMITTED, application=status.number)
        return await self._follow(renewal, current, status)

    async def _confirm(
        self, renewal: Renewal, current: CurrentKeys, code_source: CodeSource
    ) -> Renewal:
        number = renewal.application
        assert number is not None
        attempts = int(renewal.data.get("code_attempts", 0))
        attempts_left = renewal.data.get("attempts_left")
        if attempts:
            # An earlier attempt may have been answered with the answer lost, or never have
            # reached the authority: it says where the application is and what tries are left,
            # before another code is spent (a run ended by either must not block the next).
            status = await self._with_session(current, lambda s: self.authority.status(s, number))
            moved = await self._follow(renewal, current, status)
            if moved.state is not S.AWAITING_CODE:
                return moved
            if status.attempts_left is not None:
                attempts_left = status.attempts_left
        code = (await code_source(number, attempts_left)).strip()
        renewal = self.journal.record(renewal, code_attempts=attempts + 1)
        key = f"{renewal.id}:confirm:{attempts + 1}"
        try:
            status = await self._with_session(
                current, lambda s: self.authority.confirm(s, number, code, key)
            )
        except CodeWrong as error:
            left = error.params.get("attempts_left")
            renewal = self.journal.record(renewal, attempts_left=left)
            if left == 0:
                return await self._wait(renewal, current)
            raise
        except ApplicationRejected as error:
            return self.journal.advance(
                renewal, S.REJECTED, reason=str(error.params.get("reason", ""))
            )
        return await self._follow(renewal, current, status)

    async def _wait(self, renewal: Renewal, current: CurrentKeys) -> Renewal:
        """Poll the application's status, honouring retry hints, for at most max_wait."""
        number = renewal.application
        assert number is not None
        waited = 0.0
        while True:
            status = await self._with_session(current, lambda s: self.authority.status(s, number))
            moved = await self._follow(renewal, current, status)
            if moved.state is not renewal.state or moved.state is S.AWAITING_CODE:
                return moved
            delay = max(0.2, status.retry_after or 1.0)
            if waited + delay > self.max_wait:
                raise RenewalWaiting(application=number, state=status.state.value)
            await self.sleep(delay)
            waited += delay

    async def _follow(
        self, renewal: Renewal, current: CurrentKeys, status: ApplicationStatus
    ) -> Renewal:
        """Move the journal to where the authority says the application is."""
        if status.number != renewal.application:
            raise AuthorityProtocolError(detail="application number changed")
        target = {
            ApplicationState.SUBMITTED: S.SUBMITTED,
            ApplicationState.AWAITING_CODE: S.AWAITING_CODE,
            ApplicationState.AWAITING_HEAD: S.AWAITING_HEAD,
            ApplicationState.PROCESSING: S.PROCESSING,
            ApplicationState.REJECTED: S.REJECTED,
            ApplicationState.LAPSED: S.LAPSED,
        }.get(status.state)
        if status.state in (ApplicationState.ISSUED, ApplicationState.DOWNLOADED):
            issued = await self._with_session(
                current, lambda s: self.authority.download(s, status.number)
            )
            certificates = self.verify_issued(renewal, issued)
            return self.journal.advance(renewal, S.ISSUED, certificates=certificates)
        if target is None or target is renewal.state:
            return renewal
        if target in (S.REJECTED, S.LAPSED):
            return self.journal.advance(renewal, target, reason=status.reason or "")
        return self.journal.advance(renewal, target)

    def verify_issued(self, renewal: Renewal, issued: IssuedCertificates) -> dict[str, str]:
        """Check every issued certificate before anything is installed; refuse the lot if one
        fails: chained to the pinned CA, our key, the same subject, the promised validity."""
        cas = [load_certificate(_unb64(c)) for c in renewal.data["ca_certificates"]]
        subject = _unb64(renewal.data["subject"])
        years = 3 if renewal.data.get("storage") in TOKEN_STORAGES else 1
        now = self.clock()
        by_usage: dict[str, str] = {}
        for usage, entry in renewal.data["keys"].items():
            spki = _unb64(entry["spki"])
            match = [c for c in issued.certificates if c.usage == usage]
            if len(match) != 1:
                raise AuthorityProtocolError("certificate_refused", detail="missing:" + usage)
            der = match[0].certificate
            try:
                certificate = load_certificate(der)
                facts = describe(certificate)
                cert_spki = certificate_public_key_info(der)
                cert_subject = certificate_subject(der)
            except (QoltanbaError, ValueError) as exc:
                raise AuthorityProtocolError("certificate_refused", detail="malformed") from exc
            problem = None
            if cert_spki != spki:
                problem = "wrong_key"
            elif cert_subject != subject:
                problem = "subject_changed"
            elif not _chains(certificate, cas):
                problem = "untrusted_issuer"
            elif facts.not_before > now + CLOCK_SKEW or facts.not_after <= now:
                problem = "not_valid_now"
            elif abs((facts.not_after - facts.not_before) - timedelta(days=365 * years)) > (
                VALIDITY_SLACK
            ):
                problem = "validity"
            elif facts.is_ca or not (set(facts.usage) >= _usage_set(usage)):
                problem = "usage"
            if problem:
                self.journal.record(renewal, refused=problem)
                raise AuthorityProtocolError("certificate_refused", detail=problem)
            by_usage[usage] = _b64(der)
        return by_usage

    # --- installing ----------------------------------------------------------------------------

    def _install(self, renewal: Renewal, details: RenewalDetails) -> Renewal:
        folder = Path(renewal.data["folder"])
        keys = self._load_keys(renewal, details.new_password)
        files: list[str] = []
        not_after: datetime | None = None
        cas = [load_certificate(_unb64(c)) for c in renewal.data["ca_certificates"]]
        chain: list[x509.Certificate] = []
        for usage, cert_b64 in sorted(renewal.data["certificates"].items()):
            der = _unb64(cert_b64)
            key = keys[usage]
            target = folder / store_file_name(der, key)
            if target.exists():  # written before an interruption: accept it only if it is ours
                contents = read_pkcs12(target.read_bytes(), details.new_password)
                if contents.certificates[0] != der:
                    raise OutputRefused("output_exists", detail=str(target), path=str(target))
                path = target
            else:
                path = save_store(folder, key, der, details.new_password)
            files.append(path.name)
            certificate = load_certificate(der)
            expiry = certificate.not_valid_after_utc
            not_after = expiry if not_after is None else min(not_after, expiry)
            chain += [c for c in _chain(certificate, cas) or [] if c not in chain]
        # The CA certificates the new ones chain to (issuing, root): an authority issuing more
        # than one scheme publishes more CAs than this holder needs.
        for ca in sorted(chain, key=lambda c: c.subject == c.issuer):
            files.append(_write_ca(folder, ca))
        return self.journal.advance(
            renewal,
            S.INSTALLED,
            files=files,
            not_after=not_after.isoformat() if not_after else None,
        )

    def _finish(self, renewal: Renewal) -> Renewal:
        folder = Path(renewal.data["folder"])
        for entry in renewal.data["keys"].values():
            # The final stores were written and re-opened: the pending copies can go.
            (folder / entry["file"]).unlink(missing_ok=True)
        return self.journal.advance(renewal, S.DONE)


def _usage_set(usage: str) -> set[str]:
    return {"auth", "sign"} if usage == "both" else {usage}


def _chains(certificate: x509.Certificate, cas: list[x509.Certificate]) -> bool:
    """Issued by one of the pinned CAs, which itself chains to a pinned self-signed root."""
    return _chain(certificate, cas) is not None


def _chain(
    certificate: x509.Certificate, cas: list[x509.Certificate]
) -> list[x509.Certificate] | None:
    """The pinned CAs above ``certificate``, issuing CA first and self-signed root last; None
    when it does not chain to a pinned root."""
    for issuer in cas:
        if issuer.subject == certificate.issuer and issuer_signed(issuer, certificate):
            if issuer.subject == issuer.issuer:
                return [issuer] if issuer_signed(issuer, issuer) else None
            for root in cas:
                if (
                    root.subject == issuer.issuer
                    and root.subject == root.issuer
                    and issuer_signed(root, issuer)
                    and issuer_signed(root, root)
                ):
                    return [issuer, root]
            return None
    return None


def _write_ca(folder: Path, certificate: x509.Certificate) -> str:
    """Save an authority CA certificate (PEM .cer, as OpenSSL and Windows both read it)."""
    from cryptography.x509.oid import NameOID

    names = certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    label = str(names[0].value) if names else "CA"
    stem = re.sub(r"[^0-9A-Za-z]+", "_", label).strip("_") or "CA"
    name = f"{stem}_{format(certificate.serial_number, 'x')[:16]}.cer"
    pem = certificate.public_bytes(serialization.Encoding.PEM)
    path = folder / name
    if path.exists():
        if path.read_bytes() == pem:
            return name
        raise OutputRefused("output_exists", detail=str(path), path=str(path))
    write_new_file(folder, name, pem)
    return name
