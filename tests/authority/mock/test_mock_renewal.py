"""The mock authority end to end: an individual and a legal entity's employee renew their keys, and
what comes back is an NCA-profile certificate for the new key, chained to the DEMO CAs."""

from __future__ import annotations

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import ExtendedKeyUsageOID
from mock_support import unb64, wrong_code

from wizard.authority.mock.ca import (
    DEMO_GOST_ISSUING_NAME,
    DEMO_GOST_ROOT_NAME,
    DEMO_ISSUING_NAME,
    DEMO_ROOT_NAME,
)
from wizard.keys import oids
from wizard.keys.certificate import certificate_public_key_info, describe
from wizard.keys.oids import Holder, Scheme
from wizard.keys.request import certificate_subject
from wizard.keys.signatures import issuer_signed

pytestmark = pytest.mark.anyio


def _extension(certificate: x509.Certificate, kind):
    return certificate.extensions.get_extension_for_class(kind).value


async def test_info_names_the_demo_authority_and_its_chain(desk):
    authority = await desk()
    info = (await authority.client.get("/v1/authority")).json()
    assert info["demo"] is True and info["schemes"] == ["RSA", "GOST 2015 512"]
    # One chain per scheme: the issuing CAs first, the roots last.
    issuing, gost_issuing, root, gost_root = (
        x509.load_der_x509_certificate(unb64(c)) for c in info["ca_certificates"]
    )
    assert DEMO_ISSUING_NAME in issuing.subject.rfc4514_string()
    assert DEMO_ROOT_NAME in root.subject.rfc4514_string() and root.subject == root.issuer
    assert issuer_signed(root, issuing) and issuer_signed(root, root)
    assert DEMO_GOST_ISSUING_NAME in gost_issuing.subject.rfc4514_string()
    assert DEMO_GOST_ROOT_NAME in gost_root.subject.rfc4514_string()
    assert gost_root.subject == gost_root.issuer
    assert issuer_signed(gost_root, gost_issuing) and issuer_signed(gost_root, gost_root)
    assert not issuer_signed(root, gost_issuing) and not issuer_signed(gost_root, issuing)
    for ca in (gost_issuing, gost_root):
        assert ca.signature_algorithm_oid.dotted_string == oids.GOST2015_512_SIGNATURE
        assert describe(ca).scheme is Scheme.GOST2015 and describe(ca).is_ca
    assert "pkcs12" in info["storages"] and "kaztoken" in info["storages"]


async def test_info_names_the_issuers_whose_certificates_it_renews(desk, tmp_path, throwaway_ca):
    # Its DEMO CAs in demo mode, and the CAs it was told to trust (QOLTANBA_TRUST, --trust).
    folder = tmp_path / "trusted"
    folder.mkdir()
    extra = throwaway_ca.cert.public_bytes(serialization.Encoding.DER)
    (folder / "extra.cer").write_bytes(extra)
    demo = await desk(trusted=[folder])
    info = (await demo.client.get("/v1/authority")).json()
    accepted = [unb64(c) for c in info["accepted_issuers"]]
    engine = demo.authority
    demo_cas = [engine.issuing.der, engine.gost_issuing.der, engine.root.der, engine.gost_root.der]
    assert accepted == [*demo_cas, extra]
    strict = await desk(demo=False, trusted=[folder])
    info = (await strict.client.get("/v1/authority")).json()
    assert [unb64(c) for c in info["accepted_issuers"]] == [extra]


async def test_demo_holders_get_current_certificates_in_the_nca_profile(desk):
    authority = await desk()
    holder = await authority.holder("legal-signer", days_left=30)
    auth, sign = (x509.load_der_x509_certificate(holder.certificates[u]) for u in ("auth", "sign"))
    now = authority.clock.now
    for usage, certificate in (("auth", auth), ("sign", sign)):
        facts = describe(certificate)
        assert facts.holder is Holder.LEGAL_SIGNER and facts.usage == (usage,)
        assert facts.days_left(now) == 30 and certificate_subject(holder.certificates[usage]) == (
            holder.subject
        )
        assert certificate_public_key_info(holder.certificates[usage]) == (
            holder.keys[usage].public_key_info()
        )
    expired = await authority.holder(days_left=0)
    assert describe(x509.load_der_x509_certificate(expired.certificates["auth"])).not_after < now


async def test_an_individual_renews_from_login_to_download(desk):
    authority = await desk()
    holder = await authority.holder()
    headers = await authority.login(holder)
    new = authority.new_keys()
    document = authority.document(holder, new, email="new@example.kz", locality="Алматы")
    filed = await authority.submit(holder, headers, document)
    assert filed.status_code == 201
    number = filed.json()["number"]
    assert filed.headers["Location"] == f"/v1/applications/{number}"
    assert filed.json() | {"confirm_by": None} == {
        "number": number,
        "state": "awaiting_code",
        "reason": None,
        "retry_after": None,
        "attempts_left": 3,
        "confirm_by": None,
    }
    code = await authority.code(number)
    assert len(code) == 6 and code.isdigit()
    # The code itself is kept nowhere but in the demo outbox (the "phone"); the ledger has a hash.
    row = authority.authority.ledger.one("SELECT * FROM applications WHERE number = ?", number)
    assert code not in [str(v) for v in dict(row).values()]

    missed = await authority.confirm(number, headers, wrong_code(code))
    assert missed.status_code == 422
    assert missed.json()["error"] == "code_wrong" and missed.json()["attempts_left"] == 2
    confirmed = await authority.confirm(number, headers, code)
    assert confirmed.status_code == 200 and confirmed.json()["state"] == "processing"
    early = await authority.client.get(f"/v1/applications/{number}/certificates", headers=headers)
    assert early.status_code == 200  # processing takes no time by default: issued on this call

    status = await authority.status(number, headers)
    assert status.json()["state"] == "downloaded"
    issued = early.json()
    assert issued["number"] == number
    chain = [x509.load_der_x509_certificate(unb64(c)) for c in issued["chain"]]
    assert [c.subject for c in chain] == [
        authority.authority.issuing.certificate.subject,
        authority.authority.root.certificate.subject,
    ]
    by_usage = {c["usage"]: unb64(c["certificate"]) for c in issued["certificates"]}
    assert set(by_usage) == {"auth", "sign"}
    for usage, der in by_usage.items():
        certificate = x509.load_der_x509_certificate(der)
        facts = describe(certificate)
        assert certificate_subject(der) == holder.subject  # byte for byte
        assert certificate_public_key_info(der) == new[usage].public_key_info()
        assert issuer_signed(chain[0], certificate)
        assert facts.usage == (usage,) and facts.holder is Holder.INDIVIDUAL
        assert facts.email == "new@example.kz"
        assert facts.not_before == authority.clock.now.replace(microsecond=0)
        assert facts.not_after.year == facts.not_before.year + 1
        key_usage = _extension(certificate, x509.KeyUsage)
        eku = {o.dotted_string for o in _extension(certificate, x509.ExtendedKeyUsage)}
        policies = [p.policy_identifier.dotted_string for p in facts_policies(certificate)]
        assert oids.INDIVIDUAL in eku
        if usage == "auth":
            assert key_usage.digital_signature and key_usage.key_encipherment
            assert not key_usage.content_commitment
            assert ExtendedKeyUsageOID.CLIENT_AUTH.dotted_string in eku
            assert policies == [oids.POLICY_AUTH_INDIVIDUAL]
        else:
            assert key_usage.digital_signature and key_usage.content_commitment
            assert ExtendedKeyUsageOID.EMAIL_PROTECTION.dotted_string in eku
            assert policies == [oids.POLICY_SIGN_INDIVIDUAL]
        ski = _extension(certificate, x509.SubjectKeyIdentifier).digest
        assert ski == new[usage].key_identifier()
        aki = _extension(certificate, x509.AuthorityKeyIdentifier).key_identifier
        assert aki == _extension(chain[0], x509.SubjectKeyIdentifier).digest
    again = await authority.client.get(f"/v1/applications/{number}/certificates", headers=headers)
    assert again.json()["certificates"] == issued["certificates"]


def facts_policies(certificate: x509.Certificate):
    return _extension(certificate, x509.CertificatePolicies)


async def test_a_legal_employee_waits_for_the_first_head(desk):
    authority = await desk(head_delay=120)
    holder = await authority.holder("legal-employee")
    _, headers, number, _ = await authority.filed(holder)
    confirmed = await authority.confirm(number, headers, await authority.code(number))
    assert confirmed.json()["state"] == "awaiting_head"
    waiting = await authority.status(number, headers)
    assert waiting.json()["state"] == "awaiting_head"
    assert waiting.json()["retry_after"] == 120 and waiting.headers["Retry-After"] == "120"
    authority.clock.advance(seconds=121)
    assert (await authority.status(number, headers)).json()["state"] == "issued"
    issued = await authority.client.get(f"/v1/applications/{number}/certificates", headers=headers)
    for entry in issued.json()["certificates"]:
        certificate = x509.load_der_x509_certificate(unb64(entry["certificate"]))
        facts = describe(certificate)
        assert facts.holder is Holder.LEGAL_EMPLOYEE
        eku = {o.dotted_string for o in _extension(certificate, x509.ExtendedKeyUsage)}
        assert {oids.LEGAL_ENTITY, oids.HOLDER_ROLE_OID[Holder.LEGAL_EMPLOYEE]} <= eku
        legal_policy = {"auth": oids.POLICY_AUTH_LEGAL, "sign": oids.POLICY_SIGN_LEGAL}
        assert facts.policies == (legal_policy[entry["usage"]],)


@pytest.mark.parametrize("kind", ["legal-head", "individual"])
async def test_the_head_and_individuals_need_no_approval(desk, kind):
    authority = await desk(head_delay=3600)
    _, headers, number, _ = await authority.filed(await authority.holder(kind))
    confirmed = await authority.confirm(number, headers, await authority.code(number))
    assert confirmed.json()["state"] == "processing"


async def test_processing_time_gives_a_retry_hint_and_tokens_get_three_years(desk):
    authority = await desk(processing_time=30)
    _, headers, number, _ = await authority.filed(storage="kaztoken")
    await authority.confirm(number, headers, await authority.code(number))
    authority.clock.advance(seconds=10)
    busy = await authority.status(number, headers)
    assert busy.json()["state"] == "processing"
    assert busy.json()["retry_after"] == 20 and busy.headers["Retry-After"] == "20"
    early = await authority.client.get(f"/v1/applications/{number}/certificates", headers=headers)
    assert early.status_code == 409 and early.json()["error"] == "not_issued"
    assert early.json()["state"] == "processing" and early.headers["Retry-After"] == "20"
    authority.clock.advance(seconds=20)
    issued = await authority.client.get(f"/v1/applications/{number}/certificates", headers=headers)
    certificate = x509.load_der_x509_certificate(
        unb64(issued.json()["certificates"][0]["certificate"])
    )
    assert certificate.not_valid_after_utc.year == authority.clock.now.year + 3


async def test_the_code_can_arrive_late_and_the_state_says_submitted_meanwhile(desk):
    authority = await desk(code_delay=30)
    _, headers, number, _ = await authority.filed()
    status = await authority.status(number, headers)
    assert status.json()["state"] == "submitted" and status.json()["retry_after"] == 30
    assert (await authority.client.get(f"/v1/demo/outbox/{number}")).json()["messages"] == []
    authority.clock.advance(seconds=30)
    assert (await authority.status(number, headers)).json()["state"] == "awaiting_code"
    assert await authority.code(number)


async def test_another_holder_cannot_see_the_application(desk):
    authority = await desk()
    _, _, number, _ = await authority.filed()
    stranger = await authority.holder(surname="ЧУЖОЙ")
    headers = await authority.login(stranger)
    assert (await authority.status(number, headers)).status_code == 404
    answer = await authority.client.get(f"/v1/applications/{number}/certificates", headers=headers)
    assert answer.status_code == 404
    assert (await authority.confirm(number, headers, "123456")).status_code == 404
