"""Real NCA RK test keys against the mock authority, with the NCA test CAs trusted: the RSA batch of
2020 expired long ago and is refused as such; at a clock set inside its validity it renews.

The material (kept outside the repository) is read from ../shared/nca-test-material; where it is
absent these tests are skipped, except in CI, where they fail."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import pytest
from cryptography import x509
from mock_support import MATERIAL, MATERIAL_PASSWORD, Clock, b64, unb64

from wizard.keys import cms
from wizard.keys.certificate import certificate_public_key_info, describe
from wizard.keys.keypair import RsaKeyPair
from wizard.keys.oids import Holder
from wizard.keys.request import build_request, certificate_subject
from wizard.keys.store import KeyStore, open_store

pytestmark = pytest.mark.anyio

INSIDE_2020_BATCH = dt.datetime(2020, 6, 1, 12, tzinfo=dt.UTC)
PERSONAL = "sdk2020/personal/active"
PERSONAL_AUTH = f"{PERSONAL}/AUTH_RSA256_b2c70a9ff7a5dc59de0ccc3c0ddde3437cc1f12d.p12"
PERSONAL_SIGN = f"{PERSONAL}/RSA256_11c707bd54cbfcccb3815e39c4eb57b1dc7dfea9.p12"


def material() -> Path:
    if MATERIAL.is_dir() and any(MATERIAL.rglob("*.p12")):
        return MATERIAL
    reason = f"NCA test material not found at {MATERIAL.resolve()} (kept outside the repository)"
    if os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no"):
        pytest.fail(f"{reason}; CI must provide it", pytrace=False)
    pytest.skip(reason)


def auth_stores() -> list:
    found = sorted(MATERIAL.glob("sdk2020/**/AUTH_RSA256_*.p12")) if MATERIAL.is_dir() else []
    if not found:
        return [pytest.param(None, id="material-absent")]
    return [
        pytest.param(
            p.relative_to(MATERIAL).as_posix(), id=p.parent.parent.name + "-" + p.parent.name
        )
        for p in found
    ]


def store(relative: str) -> KeyStore:
    return open_store(material() / relative, MATERIAL_PASSWORD)


def signed(key: KeyStore, data: bytes, when: dt.datetime) -> str:
    return b64(cms.sign(data, key.private_key, key.contents.certificates[0], signing_time=when))


async def login(authority, key: KeyStore, when: dt.datetime):
    challenge = unb64((await authority.client.post("/v1/login/challenge")).json()["challenge"])
    return await authority.client.post("/v1/login", json={"cms": signed(key, challenge, when)})


@pytest.mark.parametrize("relative", auth_stores())
async def test_expired_nca_rsa_keys_are_refused_as_expired(desk, relative):
    root = material()
    key = store(relative)
    authority = await desk(trusted=[root / "sdk2020" / "ca", root / "gost2015-2026" / "ca"])
    answer = await login(authority, key, authority.clock.now)
    assert answer.status_code == 422
    assert answer.json()["reason"] == "certificate_expired"
    assert authority.count("sessions") == 0


async def test_nca_rsa_keys_are_untrusted_unless_their_ca_is_configured(desk):
    key = store(PERSONAL_AUTH)
    authority = await desk(clock=Clock(INSIDE_2020_BATCH))
    answer = await login(authority, key, INSIDE_2020_BATCH)
    assert answer.json()["reason"] == "certificate_untrusted"


async def test_nca_rsa_keys_renew_while_valid_and_not_after(desk):
    auth, sign = store(PERSONAL_AUTH), store(PERSONAL_SIGN)
    clock = Clock(INSIDE_2020_BATCH)
    authority = await desk(clock=clock, trusted=[material() / "sdk2020" / "ca"], session_ttl=10**9)
    session = await login(authority, auth, clock.now)
    assert session.status_code == 200, session.text
    headers = {"Authorization": f"Bearer {session.json()['session']}"}
    subject = certificate_subject(sign.contents.certificates[0])
    new = {"auth": authority.key(), "sign": authority.key()}
    assert isinstance(new["auth"], RsaKeyPair)
    from wizard.authority.interface import application_document

    def document(key: str) -> bytes:
        return application_document(
            idempotency_key=key,
            email="test@example.kz",
            locality="Нур-Султан",
            storage="pkcs12",
            requests=[
                (u, build_request(k, subject, email="test@example.kz"))
                for u, k in sorted(new.items())
            ],
            current_certificates=[
                ("auth", auth.contents.certificates[0]),
                ("sign", sign.contents.certificates[0]),
            ],
        )

    # Today the same signing key is expired: the application is refused.
    clock.now = dt.datetime.now(dt.UTC)
    late = await authority.client.post(
        "/v1/applications",
        json={"cms": signed(sign, document("late"), clock.now)},
        headers={**headers, "Idempotency-Key": "late"},
    )
    assert late.status_code == 422 and late.json()["reason"] == "certificate_expired"
    clock.now = INSIDE_2020_BATCH
    filed = await authority.client.post(
        "/v1/applications",
        json={"cms": signed(sign, document("in-time"), clock.now)},
        headers={**headers, "Idempotency-Key": "in-time"},
    )
    assert filed.status_code == 201, filed.text
    number = filed.json()["number"]
    await authority.confirm(number, headers, await authority.code(number))
    issued = await authority.client.get(f"/v1/applications/{number}/certificates", headers=headers)
    for entry in issued.json()["certificates"]:
        der = unb64(entry["certificate"])
        assert certificate_subject(der) == subject  # the NCA's subject, byte for byte
        assert certificate_public_key_info(der) == new[entry["usage"]].public_key_info()
        facts = describe(x509.load_der_x509_certificate(der))
        assert facts.holder is Holder.INDIVIDUAL and facts.iin == "123456789011"
