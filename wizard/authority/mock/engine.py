"""The mock authority's work, without HTTP: log in, file, confirm, approve, issue, hand out.

`MockAuthority` owns the ledger (SQLite), the CAs and the trust decisions; the Starlette app
(`app.py`) only turns requests into calls and answers into JSON. Time comes from the injected
clock; state changes that depend on time (the code "arriving", the head approving, processing
ending, lapsing) happen when somebody asks, in `advance`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import math
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from wizard.authority.interface import ApplicationState as S
from wizard.errors import UsageError
from wizard.keys import oids
from wizard.keys.certificate import describe, load_certificate
from wizard.keys.cms import VerifiedContent
from wizard.keys.keypair import generate
from wizard.keys.oids import Holder, Scheme
from wizard.keys.request import certificate_subject, check_request

from . import ca as authorities
from .checks import (
    RenewalApplication,
    acceptable,
    b64decode,
    check_application,
    check_new_request,
    cms_from_body,
    cms_intermediates,
    signer_certificate,
    verify_cms,
)
from .faults import Faults
from .ledger import ApplicationRecord, Ledger, iso, parse_iso
from .problems import Problem, bad_request, not_found, refusal, session_expired
from .settings import FILE_STORAGE, TOKEN_STORAGES, VALIDITY_YEARS, Settings
from .states import PENDING, Event, due, next_state, retry_after
from .trust import Trust, read_trust_material

# Holders a demo may create, and the EKU type/role OIDs their certificates carry.
DEMO_HOLDERS: dict[str, tuple[str, ...]] = {
    Holder.INDIVIDUAL.value: (oids.INDIVIDUAL,),
    Holder.LEGAL_ENTITY.value: (oids.LEGAL_ENTITY,),
    **{holder.value: (oids.LEGAL_ENTITY, role) for holder, role in oids.HOLDER_ROLE_OID.items()},
}
# Schemes a demo holder may have: the key algorithm its requests carry and the usages they name
# (the old two-key RSA scheme; GOST 2015 512's one key for both, DOMAIN.md §4).
DEMO_SCHEMES: dict[str, tuple[str, frozenset[str]]] = {
    Scheme.RSA.value: (oids.RSA_ENCRYPTION, frozenset({"auth", "sign"})),
    Scheme.GOST2015.value: (oids.GOST2015_512_KEY, frozenset({"both"})),
}
CODE_DIGITS = 6
_OUTBOX_INSERT = "INSERT INTO outbox (number, sent_at, text, code) VALUES (?, ?, ?, ?)"
_CERTIFICATE_INSERT = "INSERT INTO certificates VALUES (?, ?, ?, ?, ?, ?)"


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _der(certificate: x509.Certificate) -> bytes:
    return certificate.public_bytes(serialization.Encoding.DER)


def _code_digest(salt: str, code: str) -> str:
    return hmac.new(bytes.fromhex(salt), code.encode("ascii"), hashlib.sha256).hexdigest()


def needs_head_approval(holder: Holder) -> bool:
    """A legal entity's application waits for the first head unless the head filed it."""
    return holder.is_legal and holder is not Holder.LEGAL_HEAD


@dataclass(frozen=True)
class Session:
    subject: bytes
    certificate: bytes


@dataclass(frozen=True)
class Answer:
    """A successful answer: status, JSON body, headers."""

    status: int
    body: dict[str, Any]
    headers: dict[str, str]


class MockAuthority:
    """A real (demo) certification authority behind the renewal API."""

    def __init__(
        self,
        data_dir: Path,
        *,
        trusted: Iterable[Path | str] = (),
        demo: bool = True,
        clock: Callable[[], datetime] | None = None,
        settings: Settings | None = None,
        faults: Callable[[], Faults] | None = None,
    ) -> None:
        self.settings = settings or Settings()
        self.demo = demo
        self._clock = clock or (lambda: datetime.now(UTC))
        standing_faults = Faults()
        self._faults = faults or (lambda: standing_faults)
        self.ledger = Ledger(Path(data_dir))
        self.root = self._authority(
            "root", lambda: authorities.create_ca(authorities.DEMO_ROOT_NAME, self.now())
        )
        self.issuing = self._authority(
            "issuing",
            lambda: authorities.create_ca(
                authorities.DEMO_ISSUING_NAME, self.now(), parent=self.root
            ),
        )
        gost = Scheme.GOST2015
        self.gost_root = self._authority(
            "gost-root",
            lambda: authorities.create_ca(authorities.DEMO_GOST_ROOT_NAME, self.now(), scheme=gost),
        )
        self.gost_issuing = self._authority(
            "gost-issuing",
            lambda: authorities.create_ca(
                authorities.DEMO_GOST_ISSUING_NAME, self.now(), parent=self.gost_root, scheme=gost
            ),
        )
        demo_anchors = [ca.certificate for ca in self._demo_cas] if demo else []
        self.trust = Trust(demo_anchors, read_trust_material(trusted), self._revoked)

    # Plumbing -----------------------------------------------------------------------------------

    def now(self) -> datetime:
        moment = self._clock()
        if moment.tzinfo is None:
            raise UsageError(detail="the authority's clock must give timezone-aware times")
        return moment.astimezone(UTC)

    def _authority(
        self, role: str, create: Callable[[], authorities.CertificationAuthority]
    ) -> authorities.CertificationAuthority:
        """A CA kept in the ledger, created the first time it is needed and then never again."""
        row = self.ledger.one(
            "SELECT certificate, private_key FROM authorities WHERE role = ?", role
        )
        if row is not None:
            return authorities.CertificationAuthority.load(row[0], row[1])
        made = create()
        with self.ledger.transaction() as db:
            db.execute(
                "INSERT OR IGNORE INTO authorities VALUES (?, ?, ?)",
                (role, made.der, made.private_pem()),
            )
        row = self.ledger.one(
            "SELECT certificate, private_key FROM authorities WHERE role = ?", role
        )
        assert row is not None
        return authorities.CertificationAuthority.load(row[0], row[1])

    @property
    def evil(self) -> authorities.CertificationAuthority:
        """The untrusted CA behind the "another CA" fault, made on first use."""
        return self._authority(
            "evil", lambda: authorities.create_ca(authorities.EVIL_NAME, self.now())
        )

    @property
    def _demo_cas(self) -> list[authorities.CertificationAuthority]:
        return [self.issuing, self.gost_issuing, self.root, self.gost_root]

    @property
    def chain(self) -> list[bytes]:
        """The DEMO chains of the schemes it issues: the issuing CAs first, the roots last."""
        schemes = [Scheme(s) for s in self.settings.schemes if s in DEMO_SCHEMES] or [Scheme.RSA]
        chains = [self.chain_for(scheme) for scheme in schemes]
        return [issuing for issuing, _ in chains] + [root for _, root in chains]

    def issuing_for(self, scheme: Scheme) -> authorities.CertificationAuthority:
        """The DEMO CA that issues certificates of ``scheme``."""
        return self.gost_issuing if scheme is Scheme.GOST2015 else self.issuing

    def chain_for(self, scheme: Scheme) -> list[bytes]:
        """The DEMO chain of ``scheme``: its issuing CA, then its root."""
        if scheme is Scheme.GOST2015:
            return [self.gost_issuing.der, self.gost_root.der]
        return [self.issuing.der, self.root.der]

    def _revoked(self, certificate: x509.Certificate) -> bool:
        serial = format(certificate.serial_number, "x")
        return self.ledger.one("SELECT 1 FROM revocations WHERE serial = ?", serial) is not None

    def close(self) -> None:
        self.ledger.close()

    # Who we are, logging in -------------------------------------------------------------------

    def info(self) -> dict[str, Any]:
        return {
            "name": self.settings.name,
            "demo": self.demo,
            "schemes": list(self.settings.schemes),
            "ca_certificates": [b64(der) for der in self.chain],
            # Whose current certificates it renews: its DEMO CAs (demo mode) and the configured.
            "accepted_issuers": [b64(_der(ca)) for ca in self.trust.anchors],
            "storages": [FILE_STORAGE, *TOKEN_STORAGES],
        }

    def challenge(self) -> dict[str, Any]:
        challenge = secrets.token_bytes(32)
        expires = self.now() + timedelta(seconds=self.settings.challenge_ttl)
        with self.ledger.transaction() as db:
            db.execute(
                "INSERT INTO challenges VALUES (?, ?, 0)", (sha256_hex(challenge), iso(expires))
            )
        return {"challenge": b64(challenge), "expires_at": iso(expires)}

    def login(self, body: Any) -> dict[str, Any]:
        verified = verify_cms(cms_from_body(body))
        now = self.now()
        digest = sha256_hex(verified.content)
        row = self.ledger.one("SELECT expires_at, used FROM challenges WHERE digest = ?", digest)
        if row is None:
            raise refusal("challenge_unknown")
        if row["used"]:
            raise refusal("challenge_reused")
        if now >= parse_iso(row["expires_at"]):  # type: ignore[operator]
            raise refusal("challenge_expired")
        certificate = signer_certificate(verified)
        acceptable(self.trust, certificate, now, "auth", cms_intermediates(verified))
        token = secrets.token_urlsafe(32)
        expires = now + timedelta(seconds=self.settings.session_ttl)
        subject = certificate_subject(verified.signer_certificate)  # raw bytes, as submit compares
        with self.ledger.transaction() as db:
            # Spent only by a login that succeeds; the conditional update makes it spent once.
            spent = db.execute(
                "UPDATE challenges SET used = 1 WHERE digest = ? AND used = 0", (digest,)
            )
            if spent.rowcount != 1:
                raise refusal("challenge_reused")
            db.execute(
                "INSERT INTO sessions VALUES (?, ?, ?, ?)",
                (sha256_hex(token.encode()), subject, verified.signer_certificate, iso(expires)),
            )
        return {"session": token, "expires_at": iso(expires)}

    def session(self, token: str | None) -> Session:
        if not token:
            raise session_expired()
        row = self.ledger.one(
            "SELECT subject, certificate, expires_at FROM sessions WHERE digest = ?",
            sha256_hex(token.encode()),
        )
        if row is None or self.now() >= parse_iso(row["expires_at"]):  # type: ignore[operator]
            raise session_expired()
        return Session(row["subject"], row["certificate"])

    def _owned(self, session: Session, number: str) -> ApplicationRecord:
        record = self.ledger.application(number)
        if record is None or record.subject != session.subject:
            raise not_found()  # someone else's application does not exist for this session
        return record

    # Filing -----------------------------------------------------------------------------------

    def submit(self, token: str | None, idempotency_key: str | None, body: Any) -> Answer:
        session = self.session(token)
        key = _idempotency_key(idempotency_key)
        verified = verify_cms(cms_from_body(body))
        with self.ledger.lock:  # look up, decide and file as one step: never two applications
            return self._submit(session, key, verified)

    def _submit(self, session: Session, key: str, verified: VerifiedContent) -> Answer:
        subject_digest = sha256_hex(session.subject)
        content_digest = sha256_hex(verified.content)
        earlier = self.ledger.one(
            "SELECT content_digest, number FROM submissions "
            "WHERE subject_digest = ? AND idempotency_key = ?",
            subject_digest,
            key,
        )
        if earlier is not None:  # a replay: the same application, whatever has expired since
            if earlier["content_digest"] != content_digest:
                raise _idempotency_conflict()
            return self._status_answer(self._advance(earlier["number"]), 200)
        now = self.now()
        application = check_application(
            verified,
            trust=self.trust,
            now=now,
            session_subject=session.subject,
            session_certificate=session.certificate,
            schemes=self.settings.schemes,
        )
        open_one = self._open_for(application)
        if open_one is not None:
            # A second renewal of the same keys (another folder, another device): refused, and
            # not remembered under this key, so the same request is refused again while the
            # first is open and filed once that one has ended.
            raise _application_open(open_one.number)
        record, messages = self._file(application, now)
        with self.ledger.transaction() as db:
            self.ledger.save_application(db, record)
            db.executemany(_OUTBOX_INSERT, messages)
            db.execute(
                "INSERT INTO submissions VALUES (?, ?, ?, ?)",
                (subject_digest, key, content_digest, record.number),
            )
        answer = self._status_answer(record, 201)
        answer.headers["Location"] = f"/v1/applications/{record.number}"
        return answer

    def _open_for(self, application: RenewalApplication) -> ApplicationRecord | None:
        """The holder's application still on its way (PENDING) for any of the same current
        certificates: the same signing certificate, or one listed as current in both."""
        current = _certificates(application.current)
        rows = self.ledger.all(
            "SELECT number, signer_key, current FROM applications WHERE subject = ? "
            "ORDER BY submitted_at",
            application.subject,
        )
        for row in rows:
            listed = _certificates(json.loads(row["current"]))
            if row["signer_key"] != application.signer_key and not listed & current:
                continue
            record = self._advance(row["number"])
            if S(record.state) in PENDING:
                return record
        return None

    def _new_number(self, now: datetime) -> str:
        while True:
            number = f"{now.year}-{secrets.randbelow(10**8):08d}"
            if self.ledger.application(number) is None:
                return number

    def _file(
        self, application: RenewalApplication, now: datetime
    ) -> tuple[ApplicationRecord, list[tuple[str, ...]]]:
        record = ApplicationRecord(
            number=self._new_number(now),
            subject=application.subject,
            signer=application.signer,
            signer_key=application.signer_key,
            holder=application.facts.holder.value,
            storage=application.storage,
            email=application.email,
            locality=application.locality,
            document=application.document,
            current=json.dumps(application.current),
            requests=json.dumps(application.requests),
            state=S.SUBMITTED.value,
            reason=None,
            code_digest=None,
            code_salt=None,
            attempts_left=self.settings.code_attempts,
            reject_at_processing=None,
            submitted_at=now,
            code_sent_at=None,
            confirmed_at=None,
            processing_since=None,
            issued_at=None,
            downloaded_at=None,
        )
        rejection = self._faults().take_reject()
        if rejection is not None:
            reason, stage = rejection
            if stage == "submit":
                _move(record, Event.REFUSED)
                record.reason = reason
                return record, []
            record.reject_at_processing = reason
        if self.settings.code_delay <= 0:
            return record, self._send_code(record, now)
        return record, []

    def _send_code(self, record: ApplicationRecord, now: datetime) -> list[tuple[str, ...]]:
        """A fresh one-time code, kept only as a salted HMAC; in demo mode the outbox row that
        "texts" it (saved by the caller together with the application)."""
        code = f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"
        record.code_salt = secrets.token_hex(16)
        record.code_digest = _code_digest(record.code_salt, code)
        record.code_sent_at = now
        record.attempts_left = self.settings.code_attempts
        _move(record, Event.CODE_SENT)
        if not self.demo:
            return []  # a real authority's SMS gateway; the mock has none outside demo mode
        text = (
            f"QOLTANBA DEMO: {code} — код подтверждения заявки {record.number}. "
            "Никому не сообщайте."
        )
        return [(record.number, iso(now), text, code)]

    # Confirming, following, downloading -------------------------------------------------------

    def confirm(
        self, token: str | None, number: str, idempotency_key: str | None, body: Any
    ) -> Answer:
        session = self.session(token)
        self._owned(session, number)
        key = _idempotency_key(idempotency_key)
        if not isinstance(body, dict) or set(body) != {"code"} or not isinstance(body["code"], str):
            raise bad_request('the body is {"code": "123456"}')
        code = body["code"]
        if len(code) != CODE_DIGITS or not code.isascii() or not code.isdigit():
            raise bad_request(f"the code is {CODE_DIGITS} digits")
        with self.ledger.lock:  # one attempt at a time, or two could spend the same try
            return self._confirm(number, key, code)

    def _confirm(self, number: str, key: str, code: str) -> Answer:
        body_digest = sha256_hex(code.encode())
        earlier = self.ledger.one(
            "SELECT body_digest, status, response FROM confirmations "
            "WHERE number = ? AND idempotency_key = ?",
            number,
            key,
        )
        if earlier is not None:  # a replay never spends another attempt
            if earlier["body_digest"] != body_digest:
                raise _idempotency_conflict()
            if earlier["status"] == 200:
                return self._status_answer(self._advance(number), 200)
            response = json.loads(earlier["response"])
            raise Problem(
                earlier["status"], response.pop("error"), response.pop("message"), **response
            )
        record = self._advance(number)
        state = S(record.state)
        if state is S.REJECTED:
            raise refusal(record.reason or "rejected")
        if state is not S.AWAITING_CODE:
            raise Problem(
                409,
                "wrong_state",
                f"the application is {state.value}, not awaiting a code",
                state=state.value,
            )
        now = self.now()
        problem: Problem | None = None
        assert record.code_salt is not None and record.code_digest is not None
        if hmac.compare_digest(_code_digest(record.code_salt, code), record.code_digest):
            needs_head = needs_head_approval(_holder(record.holder))
            event = Event.CONFIRMED_NEEDS_HEAD if needs_head else Event.CONFIRMED
            _move(record, event)
            record.confirmed_at = now
            record.code_digest = record.code_salt = None  # a used code is forgotten
            if S(record.state) is S.PROCESSING:
                record.processing_since = now
        else:
            record.attempts_left -= 1
            if record.attempts_left <= 0:
                _move(record, Event.CODES_EXHAUSTED)
                record.reason = "too_many_codes"
                record.code_digest = record.code_salt = None
                problem = refusal("too_many_codes")
            else:
                problem = Problem(
                    422,
                    "code_wrong",
                    "the one-time code is wrong",
                    attempts_left=record.attempts_left,
                )
        answer = None if problem else self._status_answer(record, 200)
        stored_status = problem.status if problem else 200
        stored_body = problem.body if problem else answer.body  # type: ignore[union-attr]
        with self.ledger.transaction() as db:
            self.ledger.save_application(db, record)
            db.execute(
                "INSERT INTO confirmations VALUES (?, ?, ?, ?, ?)",
                (number, key, body_digest, stored_status, json.dumps(stored_body)),
            )
        if problem:
            raise problem
        return answer  # type: ignore[return-value]

    def status(self, token: str | None, number: str) -> Answer:
        session = self.session(token)
        self._owned(session, number)
        return self._status_answer(self._advance(number), 200)

    def certificates(self, token: str | None, number: str) -> Answer:
        session = self.session(token)
        self._owned(session, number)
        record = self._advance(number)
        state = S(record.state)
        if state not in (S.ISSUED, S.DOWNLOADED):
            hint = self._retry_after(record)
            headers = {"Retry-After": str(math.ceil(hint))} if hint is not None else {}
            raise Problem(
                409,
                "not_issued",
                f"the application is {state.value}: nothing issued yet",
                headers=headers,
                state=state.value,
            )
        rows = self.ledger.all(
            "SELECT usage, certificate FROM certificates WHERE number = ? ORDER BY position",
            number,
        )
        if state is S.ISSUED:
            _move(record, Event.DOWNLOADED)
            record.downloaded_at = self.now()
            with self.ledger.transaction() as db:
                self.ledger.save_application(db, record)
        body = {
            "number": number,
            "certificates": [
                {"usage": row["usage"], "certificate": b64(row["certificate"])} for row in rows
            ],
            "chain": [b64(der) for der in self.chain_for(_scheme(record.signer))],
        }
        return Answer(200, body, {})

    def _status_answer(self, record: ApplicationRecord, status: int) -> Answer:
        state = S(record.state)
        hint = self._retry_after(record)
        confirm_by = None
        if state in (S.SUBMITTED, S.AWAITING_CODE):
            confirm_by = iso(record.submitted_at + self._confirm_within)
        body = {
            "number": record.number,
            "state": state.value,
            "reason": record.reason,
            "retry_after": hint,
            "attempts_left": record.attempts_left if state is S.AWAITING_CODE else None,
            "confirm_by": confirm_by,
        }
        headers = {"Retry-After": str(math.ceil(hint))} if hint is not None else {}
        return Answer(status, body, headers)

    @property
    def _confirm_within(self) -> timedelta:
        return timedelta(seconds=self.settings.confirm_within)

    def _retry_after(self, record: ApplicationRecord) -> float | None:
        """Seconds until asking again makes sense, while the authority (not the user) is busy."""
        return retry_after(
            S(record.state),
            _times(record),
            self._waits(),
            self.now(),
            demo=self.demo,
            stuck=self._faults().stuck,
            stuck_wait=self.settings.stuck_retry_after,
        )

    def _waits(self) -> dict[str, float]:
        settings = self.settings
        return {
            "confirm_within": settings.confirm_within,
            "code_delay": settings.code_delay,
            "head_delay": settings.head_delay,
            "processing_time": settings.processing_time,
        }

    def _advance(self, number: str) -> ApplicationRecord:
        """Apply whatever time has brought since the application was last looked at."""
        with self.ledger.lock:  # one look at a time, or two callers could issue twice
            return self._advance_locked(number)

    def _advance_locked(self, number: str) -> ApplicationRecord:
        record = self.ledger.application(number)
        if record is None:
            raise not_found()
        now = self.now()
        messages: list[tuple[str, ...]] = []
        issued: list[tuple[Any, ...]] = []
        changed = False
        waits = self._waits()
        # What time has brought, rule by rule from the table (states.TIME_RULES); the effects
        # of each event are here, where the ledger is.
        while rule := due(
            S(record.state),
            _times(record),
            waits,
            now,
            demo=self.demo,
            stuck=self._faults().stuck,
        ):
            changed = True
            if rule.event is Event.NOT_CONFIRMED:
                _move(record, Event.NOT_CONFIRMED)
                record.reason = "not_confirmed"
                record.code_digest = record.code_salt = None
            elif rule.event is Event.CODE_SENT:
                messages += self._send_code(record, now)
            elif rule.event is Event.HEAD_APPROVED:
                _move(record, Event.HEAD_APPROVED)  # the demo's first head approves by itself
                record.processing_since = now
            elif record.reject_at_processing:  # Event.ISSUED, unless this one is to be refused
                _move(record, Event.REFUSED)
                record.reason = record.reject_at_processing
            else:
                issued += self._issue(record, now)
        if changed:
            with self.ledger.transaction() as db:
                self.ledger.save_application(db, record)
                db.executemany(_OUTBOX_INSERT, messages)
                db.executemany(_CERTIFICATE_INSERT, issued)
        return record

    # Issuing ----------------------------------------------------------------------------------

    def _issue(self, record: ApplicationRecord, now: datetime) -> list[tuple[Any, ...]]:
        """The new certificates, NCA profile, for the keys in the application's requests, as
        rows for the ``certificates`` table (saved by the caller with the application)."""
        faults = self._faults()
        scheme = _scheme(record.signer)  # the application's scheme, checked when it was filed
        ca = self.evil if faults.take_foreign_ca() else self.issuing_for(scheme)
        wrong_key = faults.take_wrong_key()
        not_after = authorities.add_years(now, VALIDITY_YEARS[record.storage])
        current = {
            entry["usage"]: b64decode(entry["certificate"]) for entry in record.current_list()
        }
        issued = []
        for position, entry in enumerate(record.requests_list()):
            der = b64decode(entry["csr"]) or b""
            checked = check_request(der)
            public_key_info = checked.public_key_info
            if wrong_key and position == 0:
                public_key_info = generate(scheme).public_key_info()  # a key nobody holds
            source = current.get(entry["usage"]) or record.signer
            certificate = authorities.issue(
                ca,
                subject=x509.load_der_x509_csr(der).subject,
                public_key_info=public_key_info,
                usage=entry["usage"],
                holder=_holder_oids(source),
                email=record.email,
                not_before=now,
                not_after=not_after,
                pki=self.pki_urls(ca),
            )
            issued.append((position, entry["usage"], certificate))
        _move(record, Event.ISSUED)
        record.issued_at = now
        return [
            (format(c.serial_number, "x"), record.number, position, usage, _der(c), iso(now))
            for position, usage, c in issued
        ]

    # Demo -------------------------------------------------------------------------------------

    def outbox(self, number: str) -> dict[str, Any]:
        if self.ledger.application(number) is None:
            raise not_found()
        rows = self.ledger.all("SELECT text, code FROM outbox WHERE number = ? ORDER BY id", number)
        return {"messages": [{"text": row["text"], "code": row["code"]} for row in rows]}

    def demo_holder(self, body: Any) -> Answer:
        """A demo holder's *current* certificates, for `qoltanba demo-keys`."""
        if not isinstance(body, dict) or set(body) != {"scheme", "holder", "days_left", "requests"}:
            raise bad_request("the body is {scheme, holder, days_left, requests}")
        scheme, holder, days_left = body["scheme"], body["holder"], body["days_left"]
        requests = body["requests"]
        if not isinstance(scheme, str) or not isinstance(holder, str):
            raise bad_request("scheme and holder are text")
        limit = self.settings.demo_holder_days_max
        if isinstance(days_left, bool) or not isinstance(days_left, int) or abs(days_left) > limit:
            raise bad_request(f"days_left is a whole number from -{limit} to {limit}")
        if not isinstance(requests, list) or not 1 <= len(requests) <= 2:
            raise bad_request("requests is a list of one or two {usage, csr}")
        for entry in requests:
            if not isinstance(entry, dict) or set(entry) != {"usage", "csr"}:
                raise bad_request("each request is {usage, csr}")
            if not isinstance(entry["usage"], str) or b64decode(entry["csr"]) is None:
                raise bad_request("usage is text and csr base64")
        if scheme not in self.settings.schemes or scheme not in DEMO_SCHEMES:
            raise refusal("scheme_not_issued")
        if holder not in DEMO_HOLDERS:
            raise refusal("holder_unknown")
        key_oid, allowed = DEMO_SCHEMES[scheme]
        usages = [entry["usage"] for entry in requests]
        if len(set(usages)) != len(usages) or not set(usages) <= allowed:
            raise refusal("requests_wrong_usage")
        checked = []
        for entry in requests:
            der = b64decode(entry["csr"]) or b""
            request = check_new_request(der, scheme_key_oid=key_oid)
            checked.append((entry["usage"], der, request))
        if len({request.subject for _, _, request in checked}) != 1:
            raise refusal("subject_changed")
        if len({request.public_key_info for _, _, request in checked}) != len(checked):
            raise refusal("key_duplicated")
        name = x509.load_der_x509_csr(checked[0][1]).subject
        units = name.get_attributes_for_oid(x509.NameOID.ORGANIZATIONAL_UNIT_NAME)
        has_bin = any(str(u.value).upper().startswith("BIN") for u in units)
        if has_bin != Holder(holder).is_legal:
            raise refusal("holder_subject_mismatch")

        now = self.now()
        # Exactly N days on: `days_left` (calendar days) reads N; N <= 0 is already expired.
        if days_left > 0:
            not_after = now + timedelta(days=days_left)
        else:
            not_after = now + timedelta(days=days_left, minutes=-1)
        not_before = min(now - timedelta(minutes=5), not_after - timedelta(days=365))
        issued = []
        for usage, der, request in checked:
            certificate = authorities.issue(
                self.issuing_for(Scheme(scheme)),
                subject=x509.load_der_x509_csr(der).subject,
                public_key_info=request.public_key_info,
                usage=usage,
                holder=DEMO_HOLDERS[holder],
                email=request.email,
                not_before=not_before,
                not_after=not_after,
                pki=self.pki_urls(self.issuing_for(Scheme(scheme))),
            )
            issued.append((usage, certificate))
        with self.ledger.transaction() as db:
            db.executemany(
                _CERTIFICATE_INSERT,
                [
                    (format(c.serial_number, "x"), None, position, usage, _der(c), iso(now))
                    for position, (usage, c) in enumerate(issued)
                ],
            )
        body = {
            "certificates": [
                {"usage": usage, "certificate": b64(_der(certificate))}
                for usage, certificate in issued
            ],
            "chain": [b64(der) for der in self.chain_for(Scheme(scheme))],
        }
        return Answer(201, body, {})

    # Test endpoints ---------------------------------------------------------------------------

    def revoke(self, body: Any) -> dict[str, Any]:
        from wizard.keys.revocation import REASON_CODES

        if (
            not isinstance(body, dict)
            or not {"serial"} <= set(body) <= {"serial", "reason"}
            or not isinstance(body["serial"], str)
        ):
            raise bad_request('the body is {"serial": hex, "reason"?: CRLReason}')
        reason = body.get("reason")
        if "reason" in body and (not isinstance(reason, str) or reason not in REASON_CODES):
            raise bad_request("reason is an RFC 5280 CRLReason (key_compromise, superseded, ...)")
        text = body["serial"].strip().lower().removeprefix("0x")
        if not text or not all(c in "0123456789abcdef" for c in text):
            raise bad_request("serial is hexadecimal")
        serial = format(int(text, 16), "x")
        now = self.now()
        with self.ledger.transaction() as db:
            db.execute("INSERT OR IGNORE INTO revocations VALUES (?, ?)", (serial, iso(now)))
            if reason is not None:
                db.execute(
                    "INSERT OR IGNORE INTO revocation_reasons VALUES (?, ?)", (serial, reason)
                )
        row = self.ledger.one("SELECT revoked_at FROM revocations WHERE serial = ?", serial)
        kept = self.ledger.one("SELECT reason FROM revocation_reasons WHERE serial = ?", serial)
        return {
            "serial": serial,
            "revoked_at": row["revoked_at"] if row else iso(now),
            "reason": kept["reason"] if kept else None,
        }

    def pki_urls(self, ca: authorities.CertificationAuthority):
        """Where ``ca`` publishes revocation (settings.pki_url), for the certificates it issues;
        None for a CA that publishes nothing (the EVIL one)."""
        from .revocation import urls_for

        roles = {
            id(self.issuing): "issuing",
            id(self.gost_issuing): "gost-issuing",
            id(self.root): "root",
            id(self.gost_root): "gost-root",
        }
        role = roles.get(id(ca))
        if role is None or not self.settings.pki_url:
            return None
        return urls_for(self.settings.pki_url, role)


def _times(record: ApplicationRecord) -> dict[str, datetime | None]:
    return {
        "submitted_at": record.submitted_at,
        "confirmed_at": record.confirmed_at,
        "processing_since": record.processing_since,
    }


def _move(record: ApplicationRecord, event: Event) -> None:
    record.state = next_state(record.state, event).value


def _scheme(certificate_der: bytes) -> Scheme:
    """The key scheme of a (current) certificate."""
    return describe(load_certificate(certificate_der)).scheme


def _holder_oids(certificate_der: bytes) -> tuple[str, ...]:
    """The holder type and role OIDs of a current certificate, copied into the new one."""
    try:
        eku = (
            x509.load_der_x509_certificate(certificate_der)
            .extensions.get_extension_for_class(x509.ExtendedKeyUsage)
            .value
        )
    except (ValueError, x509.ExtensionNotFound):
        return ()
    return authorities.holder_oids(o.dotted_string for o in eku)


def _idempotency_key(value: str | None) -> str:
    if not value or len(value) > 200 or not value.isprintable():
        raise bad_request("the Idempotency-Key header is required (a UUID)")
    return value


def _certificates(current: list[dict[str, str]]) -> set[bytes]:
    """The DER certificates of an application's "current" list."""
    return {der for entry in current if (der := b64decode(entry["certificate"]))}


def _application_open(number: str) -> Problem:
    return Problem(
        409,
        "application_open",
        f"application {number} for these keys is still open: continue it, or wait until it ends",
        application=number,
    )


def _idempotency_conflict() -> Problem:
    return Problem(
        409,
        "idempotency_conflict",
        "this Idempotency-Key was used for a different request",
    )


def _holder(value: str) -> Holder:
    try:
        return Holder(value)
    except ValueError:
        return Holder.UNKNOWN
