"""One renewal, step by step, each step recorded in the journal before the next begins.

Run it again after any interruption and it continues where the journal says it stopped; it never
files a second application. Everything before submitting happens on the device, offline; the
authority is reached only through the `Authority` interface (no network code here).
"""

from __future__ import annotations

import asyncio
import hashlib
import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography import x509

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
    QoltanbaError,
    RenewalElsewhere,
    RenewalWaiting,
    UsageError,
)
from wizard.keys import cms
from wizard.keys.certificate import (
    certificate_public_key_info,
    describe,
    load_certificate,
    utc_now,
)
from wizard.keys.chain import verify_chain
from wizard.keys.keypair import KeyPair, generate
from wizard.keys.oids import Scheme
from wizard.keys.request import build_request, certificate_subject
from wizard.keys.store import KeyStore
from wizard.renewal.journal import (
    BEFORE_SUBMISSION,
    STEPS,
    Renewal,
    RenewalJournal,
    RenewalState,
)
from wizard.renewal.locks import RenewalLock
from wizard.renewal.new_keys import FolderHome, NewKeyHome, discard_pending_files
from wizard.renewal.new_keys import sweep_folder as sweep_folder  # its home before new_keys.py
from wizard.renewal.record import (
    Confirmation,
    Details,
    Ending,
    Installed,
    Issued,
    PendingKey,
    Submission,
)
from wizard.renewal.secrets import SecretStore
from wizard.renewal.trust import RenewalTrust, intermediates

S = RenewalState
# Asked for the one-time code of application ``number`` (``attempts_left`` when known); None: no
# code now (the wizard shows its code screen): the run stops there, to be run again with one.
CodeSource = Callable[[str, int | None], Awaitable[str | None]]
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
    folder: Path | None  # the new folder for file stores; None when the new keys go on a token
    new_password: str  # held in memory for this run only; never recorded ("" for a token)
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


@dataclass(frozen=True)
class Cancelled:
    """What ``cancel`` did: the renewal ended; ``application`` stays at the authority if set."""

    renewal: Renewal
    application: str | None
    removed: tuple[str, ...]  # the unsent (or now useless) new keys removed


def cancel(
    journal: RenewalJournal,
    renewal: Renewal,
    *,
    home: Path | None = None,
    new_keys: NewKeyHome | None = None,
) -> Cancelled:
    """End a pending renewal (qoltanba cancel, the wizard's button). Before submission nothing
    exists at the authority; after, the application number is kept in the journal. ``new_keys``:
    where its new keys are, when that is not (only) a folder (a token's session, opened)."""
    if renewal.state.finished or renewal.state is S.INSTALLED:
        raise UsageError("cancel_finished", state=renewal.state.value)
    with RenewalLock(renewal.current, home):  # not while another window works on it
        renewal = journal.get(renewal.id)
        if renewal.state.finished or renewal.state is S.INSTALLED:
            raise UsageError("cancel_finished", state=renewal.state.value)
        submitted = renewal.state not in BEFORE_SUBMISSION
        ended, removed = end_without_keys(
            journal,
            renewal,
            S.CANCELLED,
            Ending(cancelled_after_submission=submitted),
            new_keys=new_keys,
        )
    return Cancelled(renewal=ended, application=ended.application, removed=removed)


def end_without_keys(
    journal: RenewalJournal,
    renewal: Renewal,
    state: RenewalState,
    ending: Ending,
    *,
    new_keys: NewKeyHome | None = None,
) -> tuple[Renewal, tuple[str, ...]]:
    """End a renewal that will never have new stores (cancelled, rejected, lapsed, refused): the
    state recorded with why, then its pending new keys removed (of no use any more): files in its
    folder, and on its token only through ``new_keys`` (a session on it; without one the
    never-certified key objects stay there, harmless, and are said to)."""
    ended = journal.advance(renewal, state, ending=ending)
    if new_keys is None:
        return ended, discard_pending_files(ended)
    return ended, new_keys.discard(ended)


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
        new_keys: NewKeyHome | None = None,
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
        # Where the new keys live (renewal/new_keys.py): a folder of files, or a token (given
        # opened from outside: wizard.renewal.token_home, never imported here).
        self.new_keys: NewKeyHome = new_keys or FolderHome()
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
        renewal = self.journal.pending_for(current.fingerprints)
        place = self.new_keys.place(details)
        if renewal is not None:
            return self._resume(renewal, details, place)
        details = normal_details(details)
        now = self.clock()
        for store in current.stores.values():
            verdict = store.verdict(now)
            if not verdict.renewable:
                raise NotRenewable(reason=verdict.reason)
        origin = replace(
            self.new_keys.prepare(current, details, place, self.home),
            scheme=current.scheme.value,
            subject=current.subject,
        )
        ended = self.journal.last_ended(current.fingerprints)
        renewal, created = self.journal.start_or_resume(
            current.fingerprints, self.authority_name, origin
        )
        if not created:
            return self._resume(renewal, details, place)
        if ended is not None and ended.application:
            self.notices.append(("notice.new_application", {"application": ended.application}))
        elif ended is not None:
            self.notices.append(("notice.new_renewal", {}))
        self.new_keys.sweep(self.journal, renewal, started=True)
        return renewal

    def _resume(self, renewal: Renewal, details: RenewalDetails, place: Path | None) -> Renewal:
        if renewal.authority != self.authority_name:
            raise RenewalElsewhere(
                "renewal_other_authority",
                authority=renewal.authority,
                application=renewal.application or "-",
            )
        self.new_keys.check_resume(renewal, place)
        if renewal.state is S.DONE:
            return renewal
        if renewal.state in (S.CHECKED, S.DETAILED, S.KEYS_SAVED):
            # Nothing carries the details yet: corrected ones (a bad e-mail) replace them.
            normal = normal_details(details)
            recorded = renewal.record.details
            if recorded is not None and (recorded.email, recorded.locality) != (
                normal.email,
                normal.locality,
            ):
                corrected = replace(recorded, email=normal.email, locality=normal.locality)
                renewal = self.journal.record(renewal, details=corrected)
        self.new_keys.sweep(self.journal, renewal, started=False)
        if renewal.record.keys and renewal.state is not S.INSTALLED:
            # a wrong new password stops here; once installed, the new stores are all it needs
            # (a run killed while it removed the pending copies must still be able to finish)
            self._load_keys(renewal, details)
        return renewal

    async def run(
        self, current: CurrentKeys, details: RenewalDetails, code_source: CodeSource
    ) -> Renewal:
        """The command line's run: as far as it goes, these keys' lock let go at the end; a
        rejected or lapsed application raised as ApplicationRejected."""
        renewal = await self.drive(current, details, code_source)
        ending = renewal.record.ending
        if renewal.state is S.REJECTED:
            raise ApplicationRejected(reason=ending.reason if ending else "")
        if renewal.state is S.LAPSED:
            raise ApplicationRejected("application_lapsed", reason="lapsed")
        return renewal

    async def drive(
        self,
        current: CurrentKeys,
        details: RenewalDetails,
        code_source: CodeSource,
        *,
        stop: Callable[[], bool] | None = None,
        hold: bool = False,
    ) -> Renewal:
        """The one driver, for the command line and the wizard: begin (or resume) the renewal of
        these keys, then take each state's step from `STEPS` until it is finished, the code
        source has no code yet (stopped at AWAITING_CODE), or ``stop()`` says so between steps.
        Offline steps run off the event loop (a UI stays responsive while keys are made); the
        remote ones together get at most max_wait plus RUN_SLACK (a person typing the code does
        not count). ``hold``: keep these keys' lock after returning (the wizard lets it go when
        the person leaves); otherwise it is let go here, whatever happens."""
        renewal = self.begin(current, details)
        try:
            if self.progress:
                self.progress(renewal)
            return await self._drive(renewal, current, details, code_source, stop)
        finally:
            if not hold:
                self.release()

    async def _drive(
        self,
        renewal: Renewal,
        current: CurrentKeys,
        details: RenewalDetails,
        code_source: CodeSource,
        stop: Callable[[], bool] | None,
    ) -> Renewal:
        budget = max(self.max_wait, 0.0) + RUN_SLACK
        remaining = budget
        loop = asyncio.get_running_loop()
        while not renewal.state.finished:
            if stop is not None and stop():
                return renewal
            if STEPS[renewal.state].remote:
                typing = [0.0]
                started = loop.time()
                try:
                    async with asyncio.timeout(max(remaining, 0.0)) as deadline:
                        patient = _patient(code_source, deadline, typing)
                        renewal = await self._remote_step(renewal, current, patient)
                except _NoCodeYet as waiting:
                    return waiting.renewal
                except TimeoutError:
                    raise AuthorityUnreachable(
                        "authority_run_timeout",
                        seconds=round(budget),
                        application=renewal.application or None,
                    ) from None
                remaining -= loop.time() - started - typing[0]
            else:
                renewal = await asyncio.to_thread(self._offline_step, renewal, current, details)
            if self.progress:
                self.progress(renewal)
        return renewal

    async def step(
        self,
        renewal: Renewal,
        current: CurrentKeys,
        details: RenewalDetails,
        code_source: CodeSource,
    ) -> Renewal:
        """Take exactly one step from the renewal's state (recorded before returning); at
        AWAITING_CODE with no code yet the renewal is returned as it is."""
        if STEPS[renewal.state].remote:
            try:
                return await self._remote_step(renewal, current, code_source)
            except _NoCodeYet as waiting:
                return waiting.renewal
        return self._offline_step(renewal, current, details)

    def _offline_step(
        self, renewal: Renewal, current: CurrentKeys, details: RenewalDetails
    ) -> Renewal:
        step: Callable[[Renewal, CurrentKeys, RenewalDetails], Renewal]
        step = getattr(self, "_" + STEPS[renewal.state].name)
        return step(renewal, current, details)

    async def _remote_step(
        self, renewal: Renewal, current: CurrentKeys, code_source: CodeSource
    ) -> Renewal:
        step: Callable[[Renewal, CurrentKeys, CodeSource], Awaitable[Renewal]]
        step = getattr(self, "_" + STEPS[renewal.state].name)
        return await step(renewal, current, code_source)

    # --- offline steps -------------------------------------------------------------------------

    def _usages(self, renewal: Renewal) -> tuple[str, ...]:
        gost = renewal.record.origin.scheme == Scheme.GOST2015.value
        return ("both",) if gost else ("auth", "sign")

    def _record_details(
        self, renewal: Renewal, current: CurrentKeys, details: RenewalDetails
    ) -> Renewal:
        normal = normal_details(details)
        recorded = Details(normal.email, normal.locality, normal.storage)
        return self.journal.advance(renewal, S.DETAILED, details=recorded)

    def _save_new_keys(
        self, renewal: Renewal, current: CurrentKeys, details: RenewalDetails
    ) -> Renewal:
        old = [
            certificate_public_key_info(s.contents.certificates[0]) for s in current.stores.values()
        ]
        recorded: list[PendingKey] = []
        try:
            for usage in self._usages(renewal):
                key, entry = self.new_keys.save_key(
                    renewal, current, details, usage, old, self.new_key_pair
                )
                self._keys[usage] = key
                recorded.append(entry)
            return self.journal.advance(renewal, S.KEYS_SAVED, keys=tuple(recorded))
        except BaseException:
            # Nothing partial: keys saved but not recorded are of no use to anyone.
            self.new_keys.forget(renewal, recorded)
            self._keys.clear()
            raise

    def _load_keys(self, renewal: Renewal, details: RenewalDetails) -> dict[str, KeyPair]:
        """The new keys: from memory, or where they were saved (the same new password)."""
        for entry in renewal.record.keys:
            if entry.usage not in self._keys:
                self._keys[entry.usage] = self.new_keys.load_key(renewal, entry, details)
        return self._keys

    def _build_requests(
        self, renewal: Renewal, current: CurrentKeys, details: RenewalDetails
    ) -> Renewal:
        keys = self._load_keys(renewal, details)
        subject = renewal.record.origin.subject
        email = _recorded_details(renewal).email
        key_store = self.new_keys.key_store_extension
        requests = tuple(
            (usage, build_request(keys[usage], subject, email=email, key_store=key_store))
            for usage in sorted(self._usages(renewal))
        )
        return self.journal.advance(renewal, S.REQUESTS_BUILT, requests=requests)

    def _sign_application(
        self, renewal: Renewal, current: CurrentKeys, details: RenewalDetails
    ) -> Renewal:
        recorded = _recorded_details(renewal)
        document = application_document(
            idempotency_key=renewal.id,
            email=recorded.email,
            locality=recorded.locality,
            storage=recorded.storage,
            requests=list(renewal.record.requests),
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
        return self.journal.advance(renewal, S.SIGNED, application_cms=signed)

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

    async def _submit(
        self, renewal: Renewal, current: CurrentKeys, code_source: CodeSource | None = None
    ) -> Renewal:
        if renewal.record.submission is None:
            info = await self.authority.info()
            # Trust is decided here, before submitting, and recorded (renewal/trust.py): a demo's
            # DEMO roots, or the NCA's pinned roots and the adapter's; never what a real one says.
            submission = Submission(
                ca_certificates=tuple(info.ca_certificates),
                anchors=tuple(self.trust.anchors(info, self.clock())),
                authority_display=info.name,
                demo=info.demo,
            )
            renewal = self.journal.record(renewal, submission=submission)
        cms_bytes = renewal.record.application_cms
        if cms_bytes is None:
            raise AssertionError("signed without an application")  # SIGNED records it
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
        attempts = renewal.record.confirmation.code_attempts
        attempts_left = renewal.record.confirmation.attempts_left
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
        asked = await code_source(number, attempts_left)
        if asked is None or not asked.strip():
            raise _NoCodeYet(renewal)
        code = asked.strip()
        tried = Confirmation(code_attempts=attempts + 1, attempts_left=attempts_left)
        renewal = self.journal.record(renewal, confirmation=tried)
        key = f"{renewal.id}:confirm:{attempts + 1}"
        try:
            status = await self._with_session(
                current, lambda s: self.authority.confirm(s, number, code, key)
            )
        except CodeWrong as error:
            left = error.params.get("attempts_left")
            counted = Confirmation(
                code_attempts=attempts + 1, attempts_left=left if isinstance(left, int) else None
            )
            renewal = self.journal.record(renewal, confirmation=counted)
            if left == 0:
                return await self._wait(renewal, current)
            raise
        except ApplicationRejected as error:
            return self._rejected(renewal, str(error.params.get("reason", "")))
        return await self._follow(renewal, current, status)

    def _rejected(self, renewal: Renewal, reason: str, state: RenewalState = S.REJECTED) -> Renewal:
        return self._end(renewal, state, Ending(reason=reason))

    def _end(self, renewal: Renewal, state: RenewalState, ending: Ending) -> Renewal:
        ended, _ = end_without_keys(self.journal, renewal, state, ending, new_keys=self.new_keys)
        return ended

    async def _wait(
        self, renewal: Renewal, current: CurrentKeys, code_source: CodeSource | None = None
    ) -> Renewal:
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
                evidence = Ending(
                    refused=str(error.params.get("detail", "")),
                    refused_certificates=tuple(
                        (c.usage, c.certificate) for c in issued.certificates
                    ),
                )
                ended = self._end(renewal, S.REFUSED, evidence)
                error.params["application"] = ended.application
                raise
            verified = Issued(certificates=certificates, chain=tuple(issued.chain))
            return self.journal.advance(renewal, S.ISSUED, issued=verified)
        if target is None or target is renewal.state:
            return renewal
        if target in (S.REJECTED, S.LAPSED):
            return self._rejected(renewal, status.reason or "", target)
        return self.journal.advance(renewal, target)

    def verify_issued(
        self, renewal: Renewal, issued: IssuedCertificates
    ) -> tuple[tuple[str, bytes], ...]:
        """Check every issued certificate before anything is installed; refuse the lot if one
        fails: our key, the same subject, chained to the anchors recorded at submission (valid
        CAs on the way), valid now, the promised validity, the usage."""
        cas, anchors = self._trust_path(renewal, issued.chain)
        subject = renewal.record.origin.subject
        years = 3 if _recorded_details(renewal).storage in TOKEN_STORAGES else 1
        now = self.clock()
        by_usage: dict[str, bytes] = {}
        for entry in renewal.record.keys:
            usage, spki = entry.usage, entry.spki
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
            by_usage[usage] = der
        return tuple(sorted(by_usage.items()))

    def _trust_path(
        self, renewal: Renewal, sent_chain: Sequence[bytes]
    ) -> tuple[list[x509.Certificate], list[x509.Certificate]]:
        """The CAs this renewal's certificates may chain through, and the anchors recorded when
        it was submitted (renewal/trust.py)."""
        submission = renewal.record.submission
        if submission is None:
            raise AssertionError("no submission recorded")  # _submit records it first
        sent = list(submission.ca_certificates)
        demo = submission.demo
        if submission.anchors is None:  # recorded before anchors were: decided now, never TOFU
            anchors = self.trust.anchors_for(demo, sent, self.clock())
        else:
            anchors = list(submission.anchors)
        cas = intermediates(sent, sent_chain, nca=not demo)
        return cas, [load_certificate(c) for c in anchors]

    # --- installing ----------------------------------------------------------------------------

    def _install(self, renewal: Renewal, current: CurrentKeys, details: RenewalDetails) -> Renewal:
        keys = self._load_keys(renewal, details)
        files: list[str] = []
        not_after: datetime | None = None
        issued = renewal.record.issued
        if issued is None:
            raise AssertionError("installing before issued")  # ISSUED records it
        cas, anchors = self._trust_path(renewal, list(issued.chain))
        now = self.clock()
        chain: list[x509.Certificate] = []
        for usage, der in issued.certificates:
            files.append(self.new_keys.install_key(renewal, details, keys[usage], der))
            certificate = load_certificate(der)
            expiry = certificate.not_valid_after_utc
            not_after = expiry if not_after is None else min(not_after, expiry)
            above = verify_chain(certificate, cas, anchors, now) or []
            chain += [c for c in above if c not in chain]
        # The CA certificates the new ones chain to (issuing, root): an authority issuing more
        # than one scheme publishes more CAs than this holder needs.
        for ca in sorted(chain, key=lambda c: c.subject == c.issuer):
            name = self.new_keys.install_ca(renewal, ca)
            if name is not None:
                files.append(name)
        installed = Installed(files=tuple(files), not_after=not_after)
        return self.journal.advance(renewal, S.INSTALLED, installed=installed)

    def _finish(self, renewal: Renewal, current: CurrentKeys, details: RenewalDetails) -> Renewal:
        self.new_keys.finish(renewal)
        done = self.journal.advance(renewal, S.DONE)
        self.new_keys.finished(done)
        return done


class _NoCodeYet(Exception):
    """The code source has no code yet: the run stops at AWAITING_CODE."""

    def __init__(self, renewal: Renewal) -> None:
        super().__init__()
        self.renewal = renewal


def _patient(code_source: CodeSource, deadline: asyncio.Timeout, typing: list[float]) -> CodeSource:
    """``code_source`` whose waiting (a person typing the code) moves the deadline back and is
    not counted as the authority's time (``typing[0]`` adds it up)."""

    async def patient(number: str, attempts_left: int | None) -> str | None:
        loop = asyncio.get_running_loop()
        started = loop.time()
        try:
            return await code_source(number, attempts_left)
        finally:
            spent = loop.time() - started
            typing[0] += spent
            when = deadline.when()
            if when is not None:
                deadline.reschedule(when + spent)

    return patient


def _recorded_details(renewal: Renewal) -> Details:
    details = renewal.record.details
    if details is None:
        raise AssertionError("no details recorded")  # CHECKED's step records them first
    return details


def _usage_set(usage: str) -> set[str]:
    return {"auth", "sign"} if usage == "both" else {usage}


def _usable_key(store: KeyStore) -> KeyPair:
    """The store's private key; current_keys() already refused a store whose key cannot be used."""
    if store.private_key is None:
        raise NotRenewable(reason="algorithm_not_supported")
    return store.private_key
