"""The Authority contract: every implementation (the mock in-process, the mock served over HTTP,
and any future real adapter) must pass this suite unchanged."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from authority_support import demo_holder
from cryptography import x509

from wizard.authority.interface import ApplicationState
from wizard.errors import ApplicationRejected, CodeWrong, RenewalBusy, SessionExpired
from wizard.keys.keypair import RsaKeyPair
from wizard.keys.request import build_request, certificate_subject


def application(holder, *, email="demo@example.kz", key_for=None) -> bytes:
    """A signed renewal application for the holder's keys (fresh keys unless given)."""
    from wizard.authority.interface import application_document

    subject = certificate_subject(holder.certificates["sign"])
    new = key_for or {u: RsaKeyPair.generate() for u in ("auth", "sign")}
    document = application_document(
        idempotency_key=str(uuid.uuid4()),
        email=email,
        locality="Алматы",
        storage="pkcs12",
        requests=[(u, build_request(k, subject, email=email)) for u, k in sorted(new.items())],
        current_certificates=sorted(holder.certificates.items()),
    )
    return holder.sign("sign", document)


async def login(authority, holder) -> str:
    challenge = await authority.challenge()
    return await authority.login(holder.sign("auth", challenge))


def run(coroutine_factory, make_authority):
    async def scenario():
        async with make_authority() as authority:
            return await coroutine_factory(authority)

    return asyncio.run(scenario())


def test_info_names_a_demo_authority_and_its_ca_chain(make_authority):
    async def scenario(authority):
        info = await authority.info()
        assert info.name and info.demo is True
        assert "RSA" in info.schemes
        certificates = [x509.load_der_x509_certificate(c) for c in info.ca_certificates]
        assert certificates, "the CA certificates must be published"
        root = certificates[-1]
        assert root.subject == root.issuer  # self-signed root last
        assert any("DEMO" in c.subject.rfc4514_string() for c in certificates)

    run(scenario, make_authority)


def test_login_needs_an_auth_key_and_a_fresh_challenge(make_authority):
    async def scenario(authority):
        holder = await demo_holder(authority)
        assert isinstance(await login(authority, holder), str)
        challenge = await authority.challenge()
        with pytest.raises(ApplicationRejected):  # a signing-only key does not log in
            await authority.login(holder.sign("sign", challenge))
        signed = holder.sign("auth", challenge)
        await authority.login(signed)
        with pytest.raises(ApplicationRejected):  # a challenge is good for one login
            await authority.login(signed)

    run(scenario, make_authority)


def test_full_renewal_of_an_individual(make_authority):
    async def scenario(authority):
        holder = await demo_holder(authority)
        session = await login(authority, holder)
        new = {u: RsaKeyPair.generate() for u in ("auth", "sign")}
        status = await authority.submit(session, application(holder, key_for=new), "k-1")
        assert status.state is ApplicationState.AWAITING_CODE and status.number
        codes = await authority.demo_codes(status.number)
        assert codes and codes[-1].isdigit() and len(codes[-1]) == 6
        wrong = "000000" if codes[-1] != "000000" else "111111"
        with pytest.raises(CodeWrong) as info:
            await authority.confirm(session, status.number, wrong, "c-1")
        assert info.value.params["attempts_left"] == 2
        confirmed = await authority.confirm(session, status.number, codes[-1], "c-2")
        assert confirmed.state in (ApplicationState.PROCESSING, ApplicationState.ISSUED)
        for _ in range(20):
            current = await authority.status(session, status.number)
            if current.state is ApplicationState.ISSUED:
                break
            await asyncio.sleep(current.retry_after or 0.05)
        assert current.state is ApplicationState.ISSUED
        issued = await authority.download(session, status.number)
        by_usage = {
            c.usage: x509.load_der_x509_certificate(c.certificate) for c in issued.certificates
        }
        assert set(by_usage) == {"auth", "sign"}
        for usage, cert in by_usage.items():
            assert (
                cert.public_key().public_numbers() == new[usage].key.public_key().public_numbers()
            )
            assert (
                cert.subject == x509.load_der_x509_certificate(holder.certificates[usage]).subject
            )
            days = (cert.not_valid_after_utc - cert.not_valid_before_utc).days
            assert 364 <= days <= 366
        assert issued.chain and x509.load_der_x509_certificate(issued.chain[-1]).subject == (
            x509.load_der_x509_certificate(issued.chain[-1]).issuer
        )
        after = await authority.status(session, status.number)
        assert after.state is ApplicationState.DOWNLOADED

    run(scenario, make_authority)


def test_never_a_second_application(make_authority):
    async def scenario(authority):
        holder = await demo_holder(authority)
        session = await login(authority, holder)
        signed = application(holder)
        first = await authority.submit(session, signed, "same-key")
        replay = await authority.submit(session, signed, "same-key")
        assert replay.number == first.number
        # One open application per current key set: another renewal of the same keys (another
        # idempotency key) is told which one is open, and never handed it as its own.
        with pytest.raises(RenewalBusy) as busy:
            await authority.submit(session, application(holder), "other-key")
        assert busy.value.code == "renewal_open_at_authority"
        assert busy.value.params["application"] == first.number
        again = await authority.submit(session, signed, "same-key")
        assert again.number == first.number  # the open one still answers its own key

    run(scenario, make_authority)


@pytest.mark.parametrize(
    "tamper",
    ["old_key_again", "changed_subject"],
)
def test_requests_that_a_real_authority_refuses(make_authority, tamper):
    async def scenario(authority):
        holder = await demo_holder(authority)
        session = await login(authority, holder)
        if tamper == "old_key_again":
            signed = application(
                holder, key_for={"auth": holder.keys["auth"], "sign": RsaKeyPair.generate()}
            )
        else:
            other = await demo_holder(authority, holder="legal-head")
            new = {u: RsaKeyPair.generate() for u in ("auth", "sign")}
            subject = certificate_subject(other.certificates["sign"])
            from wizard.authority.interface import application_document

            document = application_document(
                idempotency_key="x",
                email="a@b.kz",
                locality="Алматы",
                storage="pkcs12",
                requests=[(u, build_request(k, subject)) for u, k in sorted(new.items())],
                current_certificates=sorted(holder.certificates.items()),
            )
            signed = holder.sign("sign", document)
        with pytest.raises(ApplicationRejected):
            await authority.submit(session, signed, f"refused-{tamper}")

    run(scenario, make_authority)


def test_an_expired_key_is_refused(make_authority):
    async def scenario(authority):
        holder = await demo_holder(authority, days_left=-1)
        with pytest.raises(ApplicationRejected):
            await login(authority, holder)

    run(scenario, make_authority)


def test_a_bad_session_is_refused(make_authority):
    async def scenario(authority):
        holder = await demo_holder(authority)
        with pytest.raises(SessionExpired):
            await authority.submit("not-a-session", application(holder), "s-1")

    run(scenario, make_authority)
