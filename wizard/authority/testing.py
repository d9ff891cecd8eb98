"""The contract every authority adapter passes, shipped in the package (as ``keyring.testing``
ships ``BackendBasicTests``) so that an adapter written anywhere runs the very same suite:

    from wizard.authority.testing import AuthorityContract, HolderKeys

    class TestMyAuthority(AuthorityContract):
        def make_authority(self):
            return MyAuthority(...)        # an Authority, not yet connected (used `async with`)

        async def make_holder(self, authority, holder="individual", days_left=30):
            return HolderKeys(...)         # current RSA keys + certificates it will accept

        async def one_time_code(self, authority, number):
            return ...                     # the code its "SMS" carried (demo authorities: given)

A demo authority subclasses `DemoAuthorityContract` instead: holders come from its
``demo_issue_holder`` and codes from its ``demo_codes``, and it is held to what a demo says.

Plain pytest, nothing else: every test is synchronous and runs its scenario with
``asyncio.run``. Holders and new keys are RSA 2048 (the two-key scheme: auth + sign). A holder of
kind ``legal-head`` must differ in subject from an ``individual`` one; ``days_left`` <= 0 is an
expired holder. Each test makes its own holders; tests never depend on each other's state.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from wizard.authority.interface import (
    ApplicationState,
    ApplicationStatus,
    Authority,
    DemoAuthority,
    application_document,
)
from wizard.errors import (
    ApplicationRejected,
    AuthorityProtocolError,
    CodeWrong,
    QoltanbaError,
    RenewalBusy,
    SessionExpired,
)
from wizard.keys import cms, profile
from wizard.keys.chain import is_ca, verify_chain
from wizard.keys.keypair import KeyPair, RsaKeyPair
from wizard.keys.oids import Holder, Scheme
from wizard.keys.request import build_request, certificate_subject

T = TypeVar("T")
USAGES = ("auth", "sign")
ISSUE_POLLS = 40  # status calls while waiting for the certificates after confirmation
MAX_POLL_PAUSE = 1.0  # seconds, whatever retry_after says


@dataclass
class HolderKeys:
    """A holder's current keys and certificates (DER) by usage, as the authority accepts them."""

    keys: dict[str, KeyPair]
    certificates: dict[str, bytes]

    def sign(self, usage: str, data: bytes) -> bytes:
        """An attached CMS over ``data`` by this holder's ``usage`` key."""
        return cms.sign(
            data,
            self.keys[usage],
            self.certificates[usage],
            signing_time=dt.datetime.now(dt.UTC),
        )


async def demo_holder(
    authority: DemoAuthority, holder: str = "individual", days_left: int = 30
) -> HolderKeys:
    """A demo holder of kind ``holder``: fresh RSA keys certified by ``demo_issue_holder``."""
    subject = profile.subject(profile.DEMO_HOLDERS[Holder(holder)])
    keys: dict[str, KeyPair] = {usage: RsaKeyPair.generate() for usage in USAGES}
    requests = [(usage, build_request(key, subject)) for usage, key in keys.items()]
    issued = await authority.demo_issue_holder(Scheme.RSA.value, holder, days_left, requests)
    return HolderKeys(keys, {c.usage: c.certificate for c in issued.certificates})


def renewal_application(
    holder: HolderKeys,
    *,
    email: str = "demo@example.kz",
    new_keys: dict[str, KeyPair] | None = None,
    subject: bytes | None = None,
) -> bytes:
    """A renewal application signed by the holder's SIGN key: requests for ``new_keys`` (fresh
    ones unless given) under ``subject`` (the holder's own unless given)."""
    subject = subject or certificate_subject(holder.certificates["sign"])
    keys = new_keys or {usage: RsaKeyPair.generate() for usage in USAGES}
    document = application_document(
        idempotency_key=str(uuid.uuid4()),
        email=email,
        locality="Алматы",
        storage="pkcs12",
        requests=[(u, build_request(k, subject, email=email)) for u, k in sorted(keys.items())],
        current_certificates=sorted(holder.certificates.items()),
    )
    return holder.sign("sign", document)


def _certificate(der: bytes) -> x509.Certificate:
    return x509.load_der_x509_certificate(der)


def _public_key_info(certificate: x509.Certificate) -> bytes:
    return certificate.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


class AuthorityContract:
    """What every `Authority` must do. Subclass it (the name must start with ``Test`` for pytest
    to collect it) and implement the hooks; the tests are inherited."""

    # --- hooks ----------------------------------------------------------------------------------

    def make_authority(self) -> Authority:
        """A new, unopened authority for one test (each test opens and closes its own)."""
        raise NotImplementedError

    async def make_holder(
        self, authority: Authority, holder: str = "individual", days_left: int = 30
    ) -> HolderKeys:
        """Current keys this authority accepts (RSA: "auth" and "sign"), of kind ``holder``
        (a Holder value), valid ``days_left`` more days (<= 0: expired)."""
        raise NotImplementedError

    async def one_time_code(self, authority: Authority, number: str) -> str:
        """The latest one-time code sent for application ``number``."""
        if isinstance(authority, DemoAuthority):
            codes = await authority.demo_codes(number)
            assert codes, f"no one-time code was sent for {number}"
            return codes[-1]
        raise NotImplementedError("override one_time_code: how does the test read the SMS?")

    # --- plumbing -------------------------------------------------------------------------------

    def run(self, scenario: Callable[[Authority], Awaitable[T]]) -> T:
        """``scenario(authority)`` on a fresh authority, opened and closed around it."""

        async def main() -> T:
            async with self.make_authority() as authority:
                return await scenario(authority)

        return asyncio.run(main())

    async def login(self, authority: Authority, holder: HolderKeys) -> str:
        challenge = await authority.challenge()
        return await authority.login(holder.sign("auth", challenge))

    async def until_issued(
        self, authority: Authority, session: str, status: ApplicationStatus
    ) -> ApplicationStatus:
        for _ in range(ISSUE_POLLS):
            if status.state in (ApplicationState.ISSUED, ApplicationState.DOWNLOADED):
                return status
            assert not status.state.final, status
            await asyncio.sleep(min(status.retry_after or 0.05, MAX_POLL_PAUSE))
            status = await authority.status(session, status.number)
        return status

    # --- the contract ---------------------------------------------------------------------------

    def test_info_says_who_it_is_what_it_issues_and_whom_it_accepts(self) -> None:
        async def scenario(authority: Authority) -> None:
            info = await authority.info()
            assert info.name.strip() and isinstance(info.demo, bool)
            known = {scheme.value for scheme in Scheme}
            assert info.schemes and set(info.schemes) <= known, info.schemes
            cas = [_certificate(der) for der in info.ca_certificates]
            assert cas, "the CA certificates must be published"
            assert all(is_ca(ca) for ca in cas)
            assert cas[-1].subject == cas[-1].issuer  # self-signed root last
            accepted = [_certificate(der) for der in info.accepted_issuers]
            assert accepted, "the issuers of current certificates it renews must be said"
            assert all(is_ca(ca) for ca in accepted)
            # Its own holders' certificates chain to the issuers it says it accepts.
            holder = await self.make_holder(authority)
            now = dt.datetime.now(dt.UTC)
            for der in holder.certificates.values():
                assert verify_chain(_certificate(der), cas + accepted, accepted, now) is not None

        self.run(scenario)

    def test_login_needs_an_auth_key_and_a_fresh_challenge(self) -> None:
        async def scenario(authority: Authority) -> None:
            holder = await self.make_holder(authority)
            session = await self.login(authority, holder)
            assert isinstance(session, str) and session
            challenge = await authority.challenge()
            with pytest.raises(ApplicationRejected):  # a signing-only key does not log in
                await authority.login(holder.sign("sign", challenge))
            signed = holder.sign("auth", challenge)
            await authority.login(signed)
            with pytest.raises(ApplicationRejected):  # a challenge is good for one login
                await authority.login(signed)

        self.run(scenario)

    def test_full_renewal_of_an_individual(self) -> None:
        async def scenario(authority: Authority) -> None:
            holder = await self.make_holder(authority)
            session = await self.login(authority, holder)
            new: dict[str, KeyPair] = {u: RsaKeyPair.generate() for u in USAGES}
            signed = renewal_application(holder, new_keys=new)
            status = await authority.submit(session, signed, "k-1")
            assert status.number and status.state in (
                ApplicationState.SUBMITTED,
                ApplicationState.AWAITING_CODE,
            )
            while status.state is ApplicationState.SUBMITTED:
                await asyncio.sleep(min(status.retry_after or 0.05, MAX_POLL_PAUSE))
                status = await authority.status(session, status.number)
            assert status.state is ApplicationState.AWAITING_CODE
            with pytest.raises(AuthorityProtocolError):  # nothing to download before issue
                await authority.download(session, status.number)
            code = await self.one_time_code(authority, status.number)
            wrong = "000000" if code != "000000" else "111111"
            with pytest.raises(CodeWrong) as refused:
                await authority.confirm(session, status.number, wrong, "c-1")
            left = refused.value.params["attempts_left"]
            assert isinstance(left, int) and left >= 1
            confirmed = await authority.confirm(session, status.number, code, "c-2")
            assert confirmed.number == status.number
            issued_status = await self.until_issued(authority, session, confirmed)
            assert issued_status.state is ApplicationState.ISSUED
            issued = await authority.download(session, status.number)
            assert issued.number == status.number
            by_usage = {c.usage: _certificate(c.certificate) for c in issued.certificates}
            assert set(by_usage) == set(USAGES)
            for usage, certificate in by_usage.items():
                assert _public_key_info(certificate) == new[usage].public_key_info(), usage
                current = _certificate(holder.certificates[usage])
                assert certificate.subject == current.subject
                days = (certificate.not_valid_after_utc - certificate.not_valid_before_utc).days
                assert 364 <= days <= 366  # a file store: one year
            chain = [_certificate(der) for der in issued.chain]
            assert chain and chain[-1].subject == chain[-1].issuer
            now = dt.datetime.now(dt.UTC)
            for certificate in by_usage.values():
                assert verify_chain(certificate, chain, chain[-1:], now) is not None
            after = await authority.status(session, status.number)
            assert after.state is ApplicationState.DOWNLOADED

        self.run(scenario)

    def test_never_a_second_application(self) -> None:
        async def scenario(authority: Authority) -> None:
            holder = await self.make_holder(authority)
            session = await self.login(authority, holder)
            signed = renewal_application(holder)
            first = await authority.submit(session, signed, "same-key")
            replay = await authority.submit(session, signed, "same-key")
            assert replay.number == first.number
            # One open application per current key set: another renewal of the same keys
            # (another idempotency key) is told which one is open, never handed it as its own.
            with pytest.raises(RenewalBusy) as busy:
                await authority.submit(session, renewal_application(holder), "other-key")
            assert busy.value.code == "renewal_open_at_authority"
            assert busy.value.params["application"] == first.number
            again = await authority.submit(session, signed, "same-key")
            assert again.number == first.number  # the open one still answers its own key

        self.run(scenario)

    def test_an_old_key_again_is_refused(self) -> None:
        async def scenario(authority: Authority) -> None:
            holder = await self.make_holder(authority)
            session = await self.login(authority, holder)
            again = {"auth": holder.keys["auth"], "sign": RsaKeyPair.generate()}
            with pytest.raises(ApplicationRejected):
                await authority.submit(session, renewal_application(holder, new_keys=again), "o")

        self.run(scenario)

    def test_a_changed_subject_is_refused(self) -> None:
        async def scenario(authority: Authority) -> None:
            holder = await self.make_holder(authority)
            other = await self.make_holder(authority, holder="legal-head")
            theirs = certificate_subject(other.certificates["sign"])
            assert theirs != certificate_subject(holder.certificates["sign"])
            session = await self.login(authority, holder)
            signed = renewal_application(holder, subject=theirs)
            with pytest.raises(ApplicationRejected):
                await authority.submit(session, signed, "changed-subject")

        self.run(scenario)

    def test_an_expired_key_is_refused(self) -> None:
        async def scenario(authority: Authority) -> None:
            holder = await self.make_holder(authority, days_left=-1)
            with pytest.raises(ApplicationRejected):
                await self.login(authority, holder)

        self.run(scenario)

    def test_a_bad_session_is_refused(self) -> None:
        async def scenario(authority: Authority) -> None:
            holder = await self.make_holder(authority)
            with pytest.raises(SessionExpired):
                await authority.submit("not-a-session", renewal_application(holder), "s-1")

        self.run(scenario)

    def test_only_qoltanba_errors_escape(self) -> None:
        async def scenario(authority: Authority) -> None:
            holder = await self.make_holder(authority)
            session = await self.login(authority, holder)
            for call in (
                lambda: authority.login(b"\x30\x03\x02\x01\x00"),  # a CMS that is not one
                lambda: authority.status(session, "2026-00000000"),  # nobody's application
                lambda: authority.submit(session, b"\x30\x00", "junk"),
            ):
                with pytest.raises(QoltanbaError):
                    await call()

        self.run(scenario)


class DemoAuthorityContract(AuthorityContract):
    """What a `DemoAuthority` must do besides: holders and codes come from its demo calls."""

    async def make_holder(
        self, authority: Authority, holder: str = "individual", days_left: int = 30
    ) -> HolderKeys:
        assert isinstance(authority, DemoAuthority), "a demo authority offers demo holders"
        return await demo_holder(authority, holder, days_left)

    def test_info_names_a_demo_authority_and_its_demo_chain(self) -> None:
        async def scenario(authority: Authority) -> None:
            info = await authority.info()
            assert info.demo is True
            names = [_certificate(der).subject.rfc4514_string() for der in info.ca_certificates]
            assert any("DEMO" in name for name in names), names

        self.run(scenario)

    def test_a_demo_holder_chains_to_the_published_cas(self) -> None:
        async def scenario(authority: Authority) -> None:
            assert isinstance(authority, DemoAuthority)
            info = await authority.info()
            holder = await self.make_holder(authority, days_left=5)
            cas = [_certificate(der) for der in info.ca_certificates]
            roots = [ca for ca in cas if ca.subject == ca.issuer]
            now = dt.datetime.now(dt.UTC)
            for der in holder.certificates.values():
                certificate = _certificate(der)
                assert verify_chain(certificate, cas, roots, now) is not None
                left = certificate.not_valid_after_utc - now
                assert dt.timedelta(days=4) < left <= dt.timedelta(days=6)

        self.run(scenario)

    def test_no_codes_for_an_application_nobody_filed(self) -> None:
        async def scenario(authority: Authority) -> None:
            assert isinstance(authority, DemoAuthority)
            assert await authority.demo_codes("2026-00000000") == []

        self.run(scenario)
