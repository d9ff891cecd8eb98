"""The mock authority keeps its books: a restarted app (same data folder) has the same CAs,
sessions, applications, codes, certificates and revocations; and it trusts what it is told to."""

from __future__ import annotations

import datetime as dt

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.serialization import Encoding
from mock_support import b64, unb64

from wizard.authority.mock import create_app
from wizard.authority.mock.ledger import DATABASE_NAME
from wizard.errors import UsageError
from wizard.keys.certificate import certificate_public_key_info

pytestmark = pytest.mark.anyio


async def test_a_restarted_authority_carries_on(desk, tmp_path):
    books = tmp_path / "books"
    before = await desk(data_dir=books)
    info = (await before.client.get("/v1/authority")).json()
    holder, headers, number, new = await before.filed()
    code = await before.code(number)
    await before.confirm(number, headers, "000000" if code != "000000" else "111111", key="c-1")
    challenge = (await before.client.post("/v1/login/challenge")).json()["challenge"]
    revoked = await before.holder(surname="ОТОЗВАН")
    await before.client.post("/v1/_test/revocations", json={"serial": revoked.serial("auth")})
    before.authority.close()

    after = await desk(data_dir=books, clock=before.clock)
    assert (await after.client.get("/v1/authority")).json() == info  # the same DEMO CAs
    status = await after.status(number, headers)  # the same session
    assert status.json()["state"] == "awaiting_code" and status.json()["attempts_left"] == 2
    assert await after.code(number) == code
    replay = await after.confirm(
        number, headers, "000000" if code != "000000" else "111111", key="c-1"
    )
    assert replay.json()["attempts_left"] == 2  # the idempotency record survived too
    login = await after.client.post(
        "/v1/login", json={"cms": b64(holder.sign("auth", unb64(challenge)))}
    )
    assert login.status_code == 200
    refused = await after.client.post(
        "/v1/login",
        json={
            "cms": b64(
                revoked.sign(
                    "auth",
                    unb64((await after.client.post("/v1/login/challenge")).json()["challenge"]),
                )
            )
        },
    )
    assert refused.json()["reason"] == "certificate_revoked"
    assert (await after.confirm(number, headers, code)).json()["state"] == "processing"
    issued = await after.client.get(f"/v1/applications/{number}/certificates", headers=headers)
    after.authority.close()

    again = await desk(data_dir=books, clock=before.clock)
    assert (await again.status(number, headers)).json()["state"] == "downloaded"
    same = await again.client.get(f"/v1/applications/{number}/certificates", headers=headers)
    assert same.json() == issued.json()
    resubmitted = await again.submit(holder, headers, again.document(holder, new))
    assert resubmitted.status_code == 201  # downloaded is no longer pending


def test_the_demo_cas_are_made_once(tmp_path):
    first = create_app(tmp_path)
    roles = ("root", "issuing", "gost_root", "gost_issuing")
    made = {role: getattr(first.state.authority, role).der for role in roles}
    second = create_app(tmp_path)
    assert {role: getattr(second.state.authority, role).der for role in roles} == made
    assert second.state.authority.ledger.one("SELECT COUNT(*) FROM authorities")[0] == 4
    # The GOST CA keys come back from the books and still sign under their certificates.
    gost = second.state.authority.gost_issuing
    assert gost.key.same_public_key(certificate_public_key_info(made["gost_issuing"]))
    assert (tmp_path / DATABASE_NAME).is_file()
    for app in (first, second):
        app.state.authority.close()


async def test_a_crl_among_the_trusted_files_revokes(desk, tmp_path):
    books = tmp_path / "books"
    plain = await desk(data_dir=books)
    holder = await plain.holder()
    issuing = plain.authority.issuing
    now = plain.clock.now
    serial = x509.load_der_x509_certificate(holder.certificates["auth"]).serial_number
    crl = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(issuing.certificate.subject)
        .last_update(now - dt.timedelta(hours=1))
        .next_update(now + dt.timedelta(days=7))
        .add_revoked_certificate(
            x509.RevokedCertificateBuilder()
            .serial_number(serial)
            .revocation_date(now - dt.timedelta(minutes=5))
            .build()
        )
        .sign(issuing.private_key, hashes.SHA256())
    )
    folder = tmp_path / "trusted"
    (folder / "crl").mkdir(parents=True)
    (folder / "crl" / "demo.crl").write_bytes(crl.public_bytes(Encoding.DER))
    (folder / "issuing.cer").write_bytes(issuing.der)
    strict = await desk(data_dir=books, trusted=[folder], clock=plain.clock)
    challenge = unb64((await strict.client.post("/v1/login/challenge")).json()["challenge"])
    answer = await strict.client.post(
        "/v1/login", json={"cms": b64(holder.sign("auth", challenge))}
    )
    assert answer.json()["reason"] == "certificate_revoked"


def test_trusted_paths_must_exist_and_hold_ca_material(tmp_path):
    with pytest.raises(UsageError) as missing:
        create_app(tmp_path / "a", trusted=[tmp_path / "nowhere"])
    assert missing.value.code == "trust_path_missing" and "nowhere" in missing.value.params["path"]
    junk = tmp_path / "junk.cer"
    junk.write_bytes(b"not a certificate")
    with pytest.raises(UsageError) as unreadable:
        create_app(tmp_path / "b", trusted=[junk])
    assert unreadable.value.code == "trust_not_certificate"
    assert "junk.cer" in unreadable.value.params["path"]
    for lang in ("kk", "ru", "en"):  # said in the person's language, the path kept
        assert "junk.cer" in unreadable.value.message(lang) and "QOLTANBA_TRUST" in (
            unreadable.value.message(lang)
        )
    with pytest.raises(UsageError) as unknown:
        create_app(tmp_path / "c", processing_tme=3)
    assert "processing_tme" in unknown.value.params["detail"]
