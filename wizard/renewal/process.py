"""One renewal, step by step, each step recorded in the journal before the next begins.

Run it again after any interruption and it continues where the journal says it stopped; it never
files a second application. Everything before submitting happens on the device, offline; the
authority is reached only through the `Authority` interface (no network code here).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
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
    AuthorityUnreachable,
    CertificateRefused,
    DetailsInvalid,
    NotRenewable,
    OutputRefused,
    QoltanbaError,
    RenewalElsewhere,
    RenewalWaiting,
    StoreError,
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
from wizard.keys.chain import verify_chain
from wizard.keys.files import (
    TEMPORARY,
    prepare_new_folder,
    refuse_folder_with_keys,
    resolve_path,
    sweep_temporary,
    user_path,
    write_new_file,
)
from wizard.keys.keypair import KeyPair, generate, key_pair_from_pkcs8
from wizard.keys.oids import Scheme
from wizard.keys.pkcs12 import decrypt_private_key, encrypt_private_key, read_pkcs12
from wizard.keys.request import build_request, certificate_subject
from wizard.keys.safe_read import read_regular_file
from wizard.keys.store import KeyStore
from wizard.keys.writer import save_store, store_file_name
from wizard.renewal.journal import BEFORE_SUBMISSION, Renewal, RenewalJournal, RenewalState
from wizard.renewal.locks import RenewalLock
from wizard.renewal.secrets import SecretStore
from wizard.renewal.trust import RenewalTrust, intermediates

S = RenewalState
CodeSource = Callable[[str, int | None], Awaitable[str]]
Progress = Callable[[Renewal], None]

TOKEN_STORAGES = ("kaztoken", "idcard", "etoken", "jacarta", "akey")
STORAGES = ("pkcs12", *TOKEN_STORAGES)
CLOCK_SKEW = timedelta(minutes=10)
VALIDITY_SLACK = timedelta(days=7)
# The part before "@" as RFC 5322's dot-atom: the certificate's rfc822Name is an IA5String.
EMAIL_LOCAL = re.compile(r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*$")
EMAIL_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
MAX_EMAIL = 254
MAX_LOCALITY = 128
# Each run's remote part (after the offline steps) ends within max_wait plus this much.
RUN_SLACK = 30.0
MAX_PENDING_BYTES = 1 << 20  # an encrypted pending key is a few KB


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


def _shown(text: str) -> str:
    """``text`` safe to print: what is not valid Unicode (bytes from a non-UTF-8 terminal) shown
    as U+FFFD."""
    return text.encode("utf-8", "surrogatepass").decode("utf-8", "replace")


def _valid_text(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return not any(ord(ch) < 0x20 or 0x7F <= ord(ch) < 0xA0 for ch in text)


def normal_email(email: str) -> str:
    """The e-mail as the certificate will carry it, or DetailsInvalid with an example.

    A Cyrillic domain (почта.кз) becomes its IDNA form (xn--...), the form every mail system
    delivers to; a non-Latin part before "@" is refused, since an NCA certificate's e-mail field
    (rfc822Name, IA5String) can only hold ASCII and few mail servers take SMTPUTF8."""
    text = email.strip()
    if not text or not _valid_text(text) or text.count("@") != 1:
        raise DetailsInvalid("renewal_bad_email", email=_shown(email) or "-", field="email")
    local, domain = text.split("@")
    if not local.isascii():
        raise DetailsInvalid("renewal_email_local_ascii", email=_shown(text), field="email")
    if len(local) > 64 or not EMAIL_LOCAL.match(local):
        raise DetailsInvalid("renewal_bad_email", email=_shown(text), field="email")
    try:
        import idna

        ascii_domain = idna.encode(domain.rstrip("."), uts46=True).decode("ascii").lower()
    except (idna.IDNAError, UnicodeError, ValueError):
        raise DetailsInvalid("renewal_bad_email", email=_shown(text), field="email") from None
    labels = ascii_domain.split(".")
    if len(labels) < 2 or not all(EMAIL_LABEL.match(label) for label in labels):
        raise DetailsInvalid("renewal_bad_email", email=_shown(text), field="email")
    normal = f"{local}@{ascii_domain}"
    if len(normal) > MAX_EMAIL:
        raise DetailsInvalid("renewal_bad_email", email=_shown(text), field="email")
    return normal


def normal_details(details: RenewalDetails) -> RenewalDetails:
    """The details checked, as the request and the application will carry them (before any key is
    made): DetailsInvalid for an e-mail, a locality or a storage they cannot carry."""
    email = normal_email(details.email)
    locality = " ".join(details.locality.split())
    if not locality:
        raise DetailsInvalid("renewal_no_locality", field="locality")
    if not _valid_text(locality) or len(locality) > MAX_LOCALITY:
        raise DetailsInvalid("renewal_bad_locality", limit=MAX_LOCALITY, field="locality")
    if details.storage not in STORAGES:
        raise DetailsInvalid(
            "renewal_bad_storage", storage=_shown(details.storage), field="storage"
        )
    return replace(details, email=email, locality=locality)


def _pending_names(renewal: Renewal) -> list[str]:
    keys = renewal.data.get("keys")
    return [str(entry.get("file")) for entry in keys.values()] if isinstance(keys, dict) else []


def sweep_folder(journal: RenewalJournal, folder: Path, renewal: Renewal | None = None) -> None:
    """Remove what no live renewal needs from a new-keys folder: our temporary files left by a
    killed write, the pending keys of renewals that ended, and the pending keys ``renewal`` wrote
    just before a kill could record them. A pending key nobody in this journal knows of is never
    touched (it may be a lost journal's only copy of a submitted renewal's key)."""
    renewals = journal.all()
    live = {name for r in renewals if not r.state.finished for name in _pending_names(r)}
    ended = {
        name
        for r in renewals
        if r.state.finished and r.folder == folder
        for name in _pending_names(r)
    }
    sweep_temporary(folder, names={*live, *ended, *_pending_names(renewal)} if renewal else None)
    for name in ended - live:
        (folder / name).unlink(missing_ok=True)
    if renewal is not None and renewal.state is S.DETAILED and "keys" not in renewal.data:
        started = renewal.created_at.timestamp() - 2
        for path in [*folder.glob("PENDING_*.p8"), *folder.glob(".PENDING_*.p8.*.tmp")]:
            name = path.name
            match = TEMPORARY.match(name)
            try:
                if (match or name not in live) and path.stat().st_mtime >= started:
                    path.unlink()  # written by this renewal's key step, killed before recording
            except OSError:
                continue


@dataclass(frozen=True)
class Cancelled:
    """What ``cancel`` did: the renewal ended; ``application`` stays at the authority if set."""

    renewal: Renewal
    application: str | None
    removed: tuple[str, ...]  # the unsent (or now useless) new keys removed


def cancel(journal: RenewalJournal, renewal: Renewal, *, home: Path | None = None) -> Cancelled:
    """End a pending renewal (qoltanba cancel, the wizard's button). Before submission nothing
    exists at the authority; after, the application number is kept in the journal."""
    if renewal.state.finished or renewal.state is S.INSTALLED:
        raise UsageError("cancel_finished", state=renewal.state.value)
    with RenewalLock(renewal.current, home):  # not while another window works on it
        renewal = journal.get(renewal.id)
        if renewal.state.finished or renewal.state is S.INSTALLED:
            raise UsageError("cancel_finished", state=renewal.state.value)
        submitted = renewal.state not in BEFORE_SUBMISSION
        ended, removed = end_without_keys(
            journal, renewal, S.CANCELLED, cancelled_after_submission=submitted
        )
    return Cancelled(renewal=ended, application=ended.application, removed=removed)


def end_without_keys(
    journal: RenewalJournal, renewal: Renewal, state: RenewalState, **data: Any
) -> tuple[Renewal, tuple[str, ...]]:
    """End a renewal that will never have new stores (cancelled, rejected, lapsed, refused): the
    state recorded with ``data``, then its pending new keys removed (of no use any more)."""
    ended = journal.advance(renewal, state, **data)
    return ended, _discard_pending(ended)


def _discard_pending(renewal: Renewal) -> tuple[str, ...]:
    folder = renewal.folder
    if folder is None:
        return ()
    removed = []
    for name in _pending_names(renewal):
        path = folder / name
        if path.exists():
            path.unlink(missing_ok=True)
            removed.append(name)
    sweep_temporary(folder, names=set(_pending_names(renewal)))
    with contextlib.suppress(OSError):
        folder.rmdir()  # only if nothing else is in it
    return tuple(removed)


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
        home: Path | None = None,
        trust: RenewalTrust | None = None,
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
        self.home = home
        # What new certificates must chain to (renewal/trust.py): the adapter's declared roots.
        self.trust = trust or RenewalTrust()
        self.lock: RenewalLock | None = None
        # what the run should tell the person besides its result (message key, params)
        self.notices: list[tuple[str, dict[str, Any]]] = []
        self._keys: dict[str, KeyPair] = {}
        self._session: str | None = None

    def release(self) -> None:
        """Let other windows work on these keys again (also when the process ends)."""
        if self.lock is not None:
            self.lock.release()

    # --- the whole run -------------------------------------------------------------------------

    def begin(self, current: CurrentKeys, details: RenewalDetails) -> Renewal:
        """The pending renewal of these keys, or a new one after every offline check passed.
        Holds these keys' lock from here on (``release()``): a second window hears RenewalBusy."""
        if self.lock is None or self.lock.fingerprints != tuple(sorted(current.fingerprints)):
            self.release()
            self.lock = RenewalLock(current.fingerprints, self.home)
        self.lock.acquire()
        try:
            return self._begin(current, details)
        except BaseException:
            self.release()
            raise

    def _begin(self, current: CurrentKeys, details: RenewalDetails) -> Renewal:
        from wizard.keys.passwords import require_acceptable

        renewal = self.journal.pending_for(current.fingerprints)
        folder = _folder(details.folder)
        if renewal is not None:
            return self._resume(renewal, details, folder)
        details = normal_details(details)
        now = self.clock()
        for store in current.stores.values():
            verdict = store.verdict(now)
            if not verdict.renewable:
                raise NotRenewable(reason=verdict.reason)
        require_acceptable(details.new_password, identity=current.identity())
        if self.home is not None and _inside(resolve_path(user_path(self.home)), folder):
            # the journal and the demo authority's books never go among the new keys
            raise OutputRefused("output_holds_state", path=str(folder))
        prepare_new_folder(folder, [s.path for s in current.stores.values() if s.path])
        refuse_folder_with_keys(folder)
        ended = self.journal.last_ended(current.fingerprints)
        renewal, created = self.journal.start_or_resume(
            current.fingerprints,
            self.authority_name,
            scheme=current.scheme.value,
            subject=_b64(current.subject),
            folder=str(folder),
            current_files=[
                str(resolve_path(user_path(s.path))) for s in current.stores.values() if s.path
            ],
        )
        if not created:
            return self._resume(renewal, details, folder)
        if ended is not None and ended.application:
            self.notices.append(("notice.new_application", {"application": ended.application}))
        elif ended is not None:
            self.notices.append(("notice.new_renewal", {}))
        sweep_folder(self.journal, folder)
        return renewal

    def _resume(self, renewal: Renewal, details: RenewalDetails, folder: Path) -> Renewal:
        if renewal.authority != self.authority_name:
            raise RenewalElsewhere(
                "renewal_other_authority",
                authority=renewal.authority,
                application=renewal.application or "-",
            )
        if renewal.folder is not None and renewal.folder != folder:
            code = (
                "renewal_done_elsewhere" if renewal.state is S.DONE else "renewal_pending_elsewhere"
            )
            raise RenewalElsewhere(code, folder=str(renewal.folder))
        if renewal.state is S.DONE:
            return renewal
        if renewal.state in (S.CHECKED, S.DETAILED, S.KEYS_SAVED):
            # Nothing carries the details yet: corrected ones (a bad e-mail) replace them.
            normal = normal_details(details)
            recorded = (renewal.data.get("email"), renewal.data.get("locality"))
            if renewal.state is not S.CHECKED and recorded != (normal.email, normal.locality):
                renewal = self.journal.record(renewal, email=normal.email, locality=normal.locality)
        if renewal.folder is not None:
            sweep_folder(self.journal, renewal.folder, renewal)
        if "keys" in renewal.data and renewal.state is not S.INSTALLED:
            # a wrong new password stops here; once installed, the new stores are all it needs
            # (a run killed while it removed the pending copies must still be able to finish)
            self._load_keys(renewal, details.new_password)
        return renewal

    async def run(
        self, current: CurrentKeys, details: RenewalDetails, code_source: CodeSource
    ) -> Renewal:
        renewal = self.begin(current, details)
        try:
            renewal = await self._drive(renewal, current, details, code_source)
        finally:
            self.release()
        if renewal.state is S.REJECTED:
            raise ApplicationRejected(reason=renewal.data.get("reason") or "")
        if renewal.state is S.LAPSED:
            raise ApplicationRejected("application_lapsed", reason="lapsed")
        return renewal

    async def _drive(
        self,
        renewal: Renewal,
        current: CurrentKeys,
        details: RenewalDetails,
        code_source: CodeSource,
    ) -> Renewal:
        # The whole run talks to the authority for at most max_wait plus RUN_SLACK: a server that
        # dribbles its answers cannot hold it longer (the journal keeps every step: run again).
        budget = max(self.max_wait, 0.0) + RUN_SLACK
        try:
            async with asyncio.timeout(budget) as deadline:

                async def patient_code_source(number: str, attempts_left: int | None) -> str:
                    # the time a person takes to type the code is not the authority's
                    started = asyncio.get_running_loop().time()
                    try:
                        return await code_source(number, attempts_left)
                    finally:
                        spent = asyncio.get_running_loop().time() - started
                        when = deadline.when()
                        if when is not None:
                            deadline.reschedule(when + spent)

                while not renewal.state.finished:
                    renewal = await self.step(renewal, current, details, patient_code_source)
                    if self.progress:
                        self.progress(renewal)
        except TimeoutError:
            raise AuthorityUnreachable(
                "authority_run_timeout",
                seconds=round(budget),
                application=renewal.application or None,
            ) from None
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
            normal = normal_details(details)
            return self.journal.advance(
                renewal,
                S.DETAILED,
                email=normal.email,
                locality=normal.locality,
                storage=normal.storage,
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
        try:
            for usage in self._usages(renewal):
                key = self.new_key_pair(current.scheme, not_equal_to=old)
                name = f"PENDING_{usage.upper()}_{key.key_identifier().hex()}.p8"
                write_new_file(
                    folder, name, encrypt_private_key(key.private_key_info(), details.new_password)
                )
                self._keys[usage] = key
                recorded[usage] = {"file": name, "spki": _b64(key.public_key_info())}
            return self.journal.advance(renewal, S.KEYS_SAVED, keys=recorded)
        except BaseException:
            # Nothing partial: keys written but not recorded are of no use to anyone.
            for entry in recorded.values():
                (folder / entry["file"]).unlink(missing_ok=True)
            self._keys.clear()
            raise

    def _load_keys(self, renewal: Renewal, new_password: str) -> dict[str, KeyPair]:
        """The new keys: from memory, or decrypted from the pending files (same new password)."""
        folder = Path(renewal.data["folder"])
        for usage, entry in renewal.data["keys"].items():
            if usage in self._keys:
                continue
            path = folder / entry["file"]
            try:
                data = read_regular_file(path, MAX_PENDING_BYTES)
            except (OSError, StoreError) as exc:
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
            document,
            _usable_key(signer),
            signer.contents.certificates[0],
            signing_time=self.clock(),
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
                _usable_key(auth),
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
            # Trust is decided here, before submitting, and recorded (renewal/trust.py): a demo's
            # DEMO roots, or the NCA's pinned roots and the adapter's; never what a real one says.
            renewal = self.journal.record(
                renewal,
                ca_certificates=[_b64(c) for c in info.ca_certificates],
                anchors=[_b64(c) for c in self.trust.anchors(info, self.clock())],
                authority_display=info.name,
                demo=info.demo,
            )
        cms_bytes = _unb64(renewal.data["application_cms"])
        try:
            status = await self._with_session(
                current, lambda s: self.authority.submit(s, cms_bytes, renewal.id)
            )
        except ApplicationRejected as error:
            return self._rejected(renewal, str(error.params.get("reason", "")))
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
            return self._rejected(renewal, str(error.params.get("reason", "")))
        return await self._follow(renewal, current, status)

    def _rejected(self, renewal: Renewal, reason: str, state: RenewalState = S.REJECTED) -> Renewal:
        return end_without_keys(self.journal, renewal, state, reason=reason)[0]

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
            try:
                certificates = self.verify_issued(renewal, issued)
            except CertificateRefused as error:
                # Nothing is installed, and this renewal ends here, the evidence kept: the same
                # command then files a new application instead of refusing forever.
                ended, _ = end_without_keys(
                    self.journal,
                    renewal,
                    S.REFUSED,
                    refused=str(error.params.get("detail", "")),
                    refused_certificates=[
                        {"usage": c.usage, "certificate": _b64(c.certificate)}
                        for c in issued.certificates
                    ],
                )
                error.params["application"] = ended.application
                raise
            chain = [_b64(c) for c in issued.chain]
            return self.journal.advance(renewal, S.ISSUED, certificates=certificates, chain=chain)
        if target is None or target is renewal.state:
            return renewal
        if target in (S.REJECTED, S.LAPSED):
            return self._rejected(renewal, status.reason or "", target)
        return self.journal.advance(renewal, target)

    def verify_issued(self, renewal: Renewal, issued: IssuedCertificates) -> dict[str, str]:
        """Check every issued certificate before anything is installed; refuse the lot if one
        fails: our key, the same subject, chained to the anchors recorded at submission (valid
        CAs on the way), valid now, the promised validity, the usage."""
        cas, anchors = self._trust_path(renewal, issued.chain)
        subject = _unb64(renewal.data["subject"])
        years = 3 if renewal.data.get("storage") in TOKEN_STORAGES else 1
        now = self.clock()
        by_usage: dict[str, str] = {}
        for usage, entry in renewal.data["keys"].items():
            spki = _unb64(entry["spki"])
            match = [c for c in issued.certificates if c.usage == usage]
            if len(match) != 1:
                raise CertificateRefused(detail="missing:" + usage)
            der = match[0].certificate
            try:
                certificate = load_certificate(der)
                facts = describe(certificate)
                cert_spki = certificate_public_key_info(der)
                cert_subject = certificate_subject(der)
            except (QoltanbaError, ValueError) as exc:
                raise CertificateRefused(detail="malformed") from exc
            problem = None
            if cert_spki != spki:
                problem = "wrong_key"
            elif cert_subject != subject:
                problem = "subject_changed"
            elif verify_chain(certificate, cas, anchors, now) is None:
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
                raise CertificateRefused(detail=problem)
            by_usage[usage] = _b64(der)
        return by_usage

    def _trust_path(
        self, renewal: Renewal, sent_chain: Sequence[bytes]
    ) -> tuple[list[x509.Certificate], list[x509.Certificate]]:
        """The CAs this renewal's certificates may chain through, and the anchors recorded when
        it was submitted (renewal/trust.py)."""
        sent = [_unb64(c) for c in renewal.data["ca_certificates"]]
        demo = bool(renewal.data.get("demo"))
        recorded = renewal.data.get("anchors")
        if recorded is None:  # submitted before anchors were recorded: decided now, never TOFU
            anchors = self.trust.anchors_for(demo, sent, self.clock())
        else:
            anchors = [_unb64(c) for c in recorded]
        cas = intermediates(sent, sent_chain, nca=not demo)
        return cas, [load_certificate(c) for c in anchors]

    # --- installing ----------------------------------------------------------------------------

    def _install(self, renewal: Renewal, details: RenewalDetails) -> Renewal:
        folder = Path(renewal.data["folder"])
        keys = self._load_keys(renewal, details.new_password)
        files: list[str] = []
        not_after: datetime | None = None
        cas, anchors = self._trust_path(renewal, [_unb64(c) for c in renewal.data.get("chain", [])])
        now = self.clock()
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
            above = verify_chain(certificate, cas, anchors, now) or []
            chain += [c for c in above if c not in chain]
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
        done = self.journal.advance(renewal, S.DONE)
        names = {*_pending_names(done), *done.data.get("files", [])}
        sweep_temporary(folder, names=names)
        return done


def _usage_set(usage: str) -> set[str]:
    return {"auth", "sign"} if usage == "both" else {usage}


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


def _folder(folder: Path) -> Path:
    return resolve_path(user_path(folder))


def _inside(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def _usable_key(store: KeyStore) -> KeyPair:
    """The store's private key; current_keys() already refused a store whose key cannot be used."""
    if store.private_key is None:
        raise NotRenewable(reason="algorithm_not_supported")
    return store.private_key
