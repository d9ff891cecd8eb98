"""The mock authority and the current scheme, GOST R 34.10-2015 512: its DEMO GOST chain, GOST512
certificates in the NCA profile (one key for login and signing, DOMAIN.md §5), applications
signed with GOST keys (demo ones, and the real NCA test stores with their test CAs trusted), and
what it refuses.

The NCA material is read from ../shared/nca-test-material (outside the repository)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from asn1crypto import core
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import ExtendedKeyUsageOID
from mock_support import MATERIAL_PASSWORD, Clock, DemoHolder, b64, subject_for, unb64

from wizard.authority.mock.ca import DEMO_GOST_ISSUING_NAME, EVIL_NAME
from wizard.keys import cms, oids
from wizard.keys.asn1 import key_identifier
from wizard.keys.certificate import certificate_public_key_info, describe
from wizard.keys.gost import gost3410
from wizard.keys.gost.keypair import GostKeyPair
from wizard.keys.oids import Holder, Scheme
from wizard.keys.request import build_request, certificate_subject
from wizard.keys.signatures import issuer_signed
from wizard.keys.store import KeyStore, open_store

pytestmark = pytest.mark.anyio

# The GOST 2015 batch is valid 2026-05-08 .. 2027-05-08 (its certificates say so; the README
# says 05-07); these tests run the authority's clock inside that window, and after it.
INSIDE_GOST_BATCH = dt.datetime(2026, 9, 1, 12, tzinfo=dt.UTC)
AFTER_GOST_BATCH = dt.datetime(2027, 5, 9, 12, tzinfo=dt.UTC)


class _Algorithm(core.Sequence):
    _fields = [("algorithm", core.ObjectIdentifier), ("parameters", core.Any, {"optional": True})]


class _Spki(core.Sequence):
    _fields = [("algorithm", _Algorithm), ("public_key", core.OctetBitString)]


def assert_refused(answer, reason: str) -> None:
    assert answer.status_code == 422, answer.text
    assert (answer.json()["error"], answer.json()["reason"]) == ("rejected", reason)


def _extension(certificate: x509.Certificate, kind):
    return certificate.extensions.get_extension_for_class(kind).value


def _gost_chain(authority) -> tuple[x509.Certificate, x509.Certificate]:
    engine = authority.authority
    return engine.gost_issuing.certificate, engine.gost_root.certificate


def assert_gost512_profile(
    certificate: x509.Certificate, issuing: x509.Certificate, holder_oids: tuple[str, ...]
) -> None:
    """DOMAIN.md §5, "new GOST512": digitalSignature, nonRepudiation, keyAgreement; EKU
    emailProtection with the holder's type and role; policy 1.2.398.3.3.2; SKI, AKI."""
    facts = describe(certificate)
    assert facts.scheme is Scheme.GOST2015 and facts.usage == ("auth", "sign")
    assert certificate.signature_algorithm_oid.dotted_string == oids.GOST2015_512_SIGNATURE
    assert issuer_signed(issuing, certificate)
    key_usage = certificate.extensions.get_extension_for_class(x509.KeyUsage)
    assert key_usage.critical
    flags = key_usage.value
    assert flags.digital_signature and flags.content_commitment and flags.key_agreement
    assert not (flags.key_encipherment or flags.data_encipherment or flags.key_cert_sign)
    eku = [o.dotted_string for o in _extension(certificate, x509.ExtendedKeyUsage)]
    assert eku == [ExtendedKeyUsageOID.EMAIL_PROTECTION.dotted_string, *holder_oids]
    assert facts.policies == (oids.POLICY_GOST512,)
    spki = certificate_public_key_info(certificate.public_bytes(Encoding.DER))
    ski = _extension(certificate, x509.SubjectKeyIdentifier).digest
    assert ski == key_identifier(spki) and ski.hex() == facts.subject_key_id
    aki = _extension(certificate, x509.AuthorityKeyIdentifier).key_identifier
    assert aki == _extension(issuing, x509.SubjectKeyIdentifier).digest


# --- demo holders ---------------------------------------------------------------------------


async def test_a_gost_demo_holder_gets_one_gost512_certificate_for_login_and_signing(desk):
    authority = await desk()
    holder = await authority.gost_holder("legal-head", days_left=30)
    issuing, root = _gost_chain(authority)
    certificate = x509.load_der_x509_certificate(holder.certificates["both"])
    assert DEMO_GOST_ISSUING_NAME in certificate.issuer.rfc4514_string()
    assert_gost512_profile(
        certificate, issuing, (oids.LEGAL_ENTITY, oids.HOLDER_ROLE_OID[Holder.LEGAL_HEAD])
    )
    assert issuer_signed(root, issuing)
    facts = describe(certificate)
    assert facts.holder is Holder.LEGAL_HEAD and facts.days_left(authority.clock.now) == 30
    assert certificate_subject(holder.certificates["both"]) == holder.subject
    assert certificate_public_key_info(holder.certificates["both"]) == (
        holder.keys["both"].public_key_info()
    )


async def test_the_demo_holder_answer_carries_the_gost_chain(desk):
    authority = await desk()
    key = GostKeyPair.generate()
    answer = await authority.client.post(
        "/v1/demo/holders",
        json={
            "scheme": "GOST 2015 512",
            "holder": "individual",
            "days_left": 10,
            "requests": [
                {"usage": "both", "csr": b64(build_request(key, subject_for("individual")))}
            ],
        },
    )
    assert answer.status_code == 201, answer.text
    issuing, root = _gost_chain(authority)
    assert [x509.load_der_x509_certificate(unb64(c)) for c in answer.json()["chain"]] == [
        issuing,
        root,
    ]


@pytest.mark.parametrize(
    ("scheme", "usages", "gost_key", "reason"),
    [
        ("GOST 2015 512", ("auth", "sign"), True, "requests_wrong_usage"),
        ("GOST 2015 512", ("auth",), True, "requests_wrong_usage"),
        ("GOST 2015 512", ("both",), False, "request_wrong_scheme"),
        ("RSA", ("both",), False, "requests_wrong_usage"),
        ("RSA", ("auth",), True, "request_wrong_scheme"),
        ("GOST 2004", ("sign",), False, "scheme_not_issued"),
    ],
)
async def test_demo_holders_of_the_wrong_shape_are_refused(desk, scheme, usages, gost_key, reason):
    authority = await desk()
    subject = subject_for("individual")
    requests = []
    for usage in usages:
        key = GostKeyPair.generate() if gost_key else authority.key()
        requests.append({"usage": usage, "csr": b64(build_request(key, subject))})
    answer = await authority.client.post(
        "/v1/demo/holders",
        json={"scheme": scheme, "holder": "individual", "days_left": 10, "requests": requests},
    )
    assert_refused(answer, reason)
    assert authority.count("certificates") == 0


# --- renewing a GOST holder -----------------------------------------------------------------


async def test_a_gost_holder_renews_with_one_new_key(desk):
    authority = await desk()
    holder = await authority.gost_holder("individual")
    headers = await authority.login(holder)  # the challenge signed with the one GOST key
    new = {"both": GostKeyPair.generate()}
    document = authority.document(holder, new, email="new@example.kz")
    filed = await authority.submit(holder, headers, document)
    assert filed.status_code == 201, filed.text
    number = filed.json()["number"]
    confirmed = await authority.confirm(number, headers, await authority.code(number))
    assert confirmed.json()["state"] == "processing"
    answer = await authority.client.get(f"/v1/applications/{number}/certificates", headers=headers)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    issuing, root = _gost_chain(authority)
    chain = [x509.load_der_x509_certificate(unb64(c)) for c in body["chain"]]
    assert chain == [issuing, root]  # the GOST chain only, not the RSA one
    (entry,) = body["certificates"]
    assert entry["usage"] == "both"
    der = unb64(entry["certificate"])
    certificate = x509.load_der_x509_certificate(der)
    assert_gost512_profile(certificate, issuing, (oids.INDIVIDUAL,))
    assert certificate_subject(der) == holder.subject
    assert certificate_public_key_info(der) == new["both"].public_key_info()
    facts = describe(certificate)
    assert facts.email == "new@example.kz"
    assert facts.not_after.year == facts.not_before.year + 1


async def test_gost_applications_that_a_real_authority_refuses(desk):
    authority = await desk()
    holder = await authority.gost_holder()
    headers = await authority.login(holder)
    rsa_requests = {"both": authority.key()}
    assert_refused(
        await authority.submit(holder, headers, authority.document(holder, rsa_requests)),
        "request_wrong_scheme",
    )
    two_keys = {"auth": GostKeyPair.generate(), "sign": GostKeyPair.generate()}
    assert_refused(
        await authority.submit(holder, headers, authority.document(holder, two_keys)),
        "requests_wrong_usage",
    )
    same_key = {"both": holder.keys["both"]}
    assert_refused(
        await authority.submit(holder, headers, authority.document(holder, same_key)),
        "key_not_new",
    )
    stranger = subject_for("individual", surname="ЧУЖОЙ")
    other_subject = [("both", build_request(GostKeyPair.generate(), stranger))]
    assert_refused(
        await authority.submit(
            holder, headers, authority.document(holder, {}, requests=other_subject)
        ),
        "subject_changed",
    )
    assert authority.count("applications") == 0


async def test_a_request_with_the_key_on_another_curve_name_is_refused(desk):
    """The proof of possession verifies, but the key's parameters are not the NCA's."""

    class RenamedCurve(GostKeyPair):
        def public_key_info(self) -> bytes:
            # The same curve under TC26's OID, and no digest parameter: not the NCA's encoding.
            parameters = core.Sequence(
                contents=core.ObjectIdentifier(gost3410.OID_TC26_512_PARAMSET_A).dump()
            )
            return _Spki(
                {
                    "algorithm": {
                        "algorithm": gost3410.OID_KZ_GOST2015_512_PUBLIC_KEY,
                        "parameters": core.Any.load(parameters.dump()),
                    },
                    "public_key": core.OctetString(
                        gost3410.encode_public_key(self.public_point)
                    ).dump(),
                }
            ).dump()

    authority = await desk()
    holder = await authority.gost_holder()
    headers = await authority.login(holder)
    document = authority.document(holder, {"both": RenamedCurve(gost3410.generate_private_key())})
    assert_refused(await authority.submit(holder, headers, document), "request_wrong_scheme")


async def test_an_rsa_holder_cannot_ask_for_a_gost_key(desk):
    authority = await desk()
    holder = await authority.holder()
    headers = await authority.login(holder)
    new = {"auth": GostKeyPair.generate(), "sign": GostKeyPair.generate()}
    assert_refused(
        await authority.submit(holder, headers, authority.document(holder, new)),
        "request_wrong_scheme",
    )


async def test_an_authority_that_does_not_issue_gost_refuses_gost_holders(desk):
    authority = await desk(schemes=["RSA"])
    key = GostKeyPair.generate()
    answer = await authority.client.post(
        "/v1/demo/holders",
        json={
            "scheme": "GOST 2015 512",
            "holder": "individual",
            "days_left": 10,
            "requests": [
                {"usage": "both", "csr": b64(build_request(key, subject_for("individual")))}
            ],
        },
    )
    assert_refused(answer, "scheme_not_issued")
    info = (await authority.client.get("/v1/authority")).json()
    assert info["schemes"] == ["RSA"]
    assert [unb64(c) for c in info["ca_certificates"]] == authority.authority.chain_for(Scheme.RSA)


async def test_gost_faults_give_a_wrong_gost_key_or_an_evil_signature(desk):
    authority = await desk()
    holder = await authority.gost_holder()
    headers = await authority.login(holder)
    for fault in ("wrong_key", "foreign_ca"):
        new = {"both": GostKeyPair.generate()}
        filed = await authority.submit(holder, headers, authority.document(holder, new))
        number = filed.json()["number"]
        assert (await authority.client.put("/v1/_test/faults", json={fault: 1})).status_code == 200
        await authority.confirm(number, headers, await authority.code(number))
        answer = await authority.client.get(
            f"/v1/applications/{number}/certificates", headers=headers
        )
        der = unb64(answer.json()["certificates"][0]["certificate"])
        certificate = x509.load_der_x509_certificate(der)
        if fault == "wrong_key":
            assert certificate_public_key_info(der) != new["both"].public_key_info()
            assert describe(certificate).scheme is Scheme.GOST2015  # a GOST key nobody holds
        else:
            assert EVIL_NAME in certificate.issuer.rfc4514_string()
            assert not issuer_signed(_gost_chain(authority)[0], certificate)


# --- the real NCA GOST test stores ----------------------------------------------------------


def _material(material: Path, name: str) -> KeyStore:
    return open_store(material / "gost2015-2026" / name, MATERIAL_PASSWORD)


async def _login(authority, store: KeyStore):
    challenge = unb64((await authority.client.post("/v1/login/challenge")).json()["challenge"])
    signed = cms.sign(
        challenge,
        store.private_key,
        store.contents.certificates[0],
        signing_time=authority.clock.now,
    )
    return await authority.client.post("/v1/login", json={"cms": b64(signed)})


async def test_nca_gost_stores_are_untrusted_unless_their_ca_is_configured(desk, material):
    store = _material(material, "individual_valid.p12")
    authority = await desk(clock=Clock(INSIDE_GOST_BATCH))
    assert_refused(await _login(authority, store), "certificate_untrusted")


async def test_nca_gost_stores_are_refused_once_expired(desk, material):
    store = _material(material, "individual_valid.p12")
    authority = await desk(
        clock=Clock(AFTER_GOST_BATCH), trusted=[material / "gost2015-2026" / "ca"]
    )
    assert_refused(await _login(authority, store), "certificate_expired")


@pytest.mark.parametrize(
    ("name", "holder"),
    [
        ("individual_valid.p12", Holder.INDIVIDUAL),
        ("legal_ceo_valid.p12", Holder.LEGAL_HEAD),
        ("legal_signer_valid.p12", Holder.LEGAL_SIGNER),
    ],
)
async def test_nca_gost_stores_renew_against_the_demo_gost_ca(desk, material, name, holder):
    store = _material(material, name)
    clock = Clock(INSIDE_GOST_BATCH)
    authority = await desk(clock=clock, trusted=[material / "gost2015-2026"])
    session = await _login(authority, store)
    assert session.status_code == 200, session.text
    headers = {"Authorization": f"Bearer {session.json()['session']}"}
    current = DemoHolder(
        {"both": store.private_key},
        {"both": store.contents.certificates[0]},
        certificate_subject(store.contents.certificates[0]),
        clock,
    )
    new = {"both": GostKeyPair.generate()}
    filed = await authority.submit(
        current, headers, authority.document(current, new, email="test@example.kz")
    )
    assert filed.status_code == 201, filed.text
    number = filed.json()["number"]
    await authority.confirm(number, headers, await authority.code(number))
    # A legal entity's employee waits for the first head; the demo's head approves at once.
    answer = await authority.client.get(f"/v1/applications/{number}/certificates", headers=headers)
    assert answer.status_code == 200, answer.text
    der = unb64(answer.json()["certificates"][0]["certificate"])
    certificate = x509.load_der_x509_certificate(der)
    old_eku = _extension(store.certificate, x509.ExtendedKeyUsage)
    holder_oids = tuple(o.dotted_string for o in old_eku if o.dotted_string.startswith("1.2.398"))
    assert_gost512_profile(certificate, _gost_chain(authority)[0], holder_oids)
    assert certificate_subject(der) == current.subject  # the NCA's subject, byte for byte
    assert certificate_public_key_info(der) == new["both"].public_key_info()
    facts = describe(certificate)
    assert facts.holder is holder and (facts.iin, facts.bin) == (store.facts.iin, store.facts.bin)
    assert facts.not_before == INSIDE_GOST_BATCH


async def test_a_revoked_nca_gost_certificate_cannot_log_in(desk, material):
    store = _material(material, "individual_revoked.p12")
    authority = await desk(clock=Clock(INSIDE_GOST_BATCH), trusted=[material / "gost2015-2026"])
    # The material's CRL (thisUpdate 2025-04-29) predates this certificate (issued 2026-05-08),
    # so it cannot list it: the revocation is made known to the authority here.
    assert (await _login(authority, store)).status_code == 200
    serial = format(store.certificate.serial_number, "x")
    revoked = await authority.client.post("/v1/_test/revocations", json={"serial": serial})
    assert revoked.status_code == 200
    assert_refused(await _login(authority, store), "certificate_revoked")


def test_the_material_crl_predates_the_revoked_gost_certificate(material):
    """Why `individual_revoked.p12` cannot be shown revoked from its folder's CRLs (a known
    contradiction of the material): every CRL there was issued before the certificate."""
    store = _material(material, "individual_revoked.p12")
    crls = sorted((material / "gost2015-2026" / "crl").glob("*.crl"))
    assert crls
    for path in crls:
        crl = x509.load_der_x509_crl(path.read_bytes())
        assert crl.last_update_utc < store.certificate.not_valid_before_utc
        assert crl.get_revoked_certificate_by_serial_number(store.certificate.serial_number) is None


async def test_an_rsa_key_cannot_be_asked_for_by_a_gost_nca_store(desk, material):
    store = _material(material, "legal_ceo_valid.p12")
    clock = Clock(INSIDE_GOST_BATCH)
    authority = await desk(clock=clock, trusted=[material / "gost2015-2026" / "ca"])
    session = await _login(authority, store)
    headers = {"Authorization": f"Bearer {session.json()['session']}"}
    current = DemoHolder(
        {"both": store.private_key},
        {"both": store.contents.certificates[0]},
        certificate_subject(store.contents.certificates[0]),
        clock,
    )
    new = {"both": authority.key()}
    assert_refused(
        await authority.submit(current, headers, authority.document(current, new)),
        "request_wrong_scheme",
    )
