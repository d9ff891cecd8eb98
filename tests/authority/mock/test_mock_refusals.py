"""Everything a real authority refuses, each with its own reason, and nothing created on the way:
422 {"error": "rejected", "reason": ...} for logins and applications, 400/401/413 for the rest."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from mock_support import b64, subject_for, unb64

from wizard.authority.mock import ca as authorities
from wizard.keys import oids
from wizard.keys.keypair import RsaKeyPair
from wizard.keys.request import build_request

pytestmark = pytest.mark.anyio


def assert_refused(answer, reason: str) -> None:
    assert answer.status_code == 422, answer.text
    body = answer.json()
    assert (body["error"], body["reason"]) == ("rejected", reason), body
    assert body["message"]


async def sign_in(desk, holder, usage="auth", *, challenge=None):
    challenge = challenge or unb64(
        (await desk.client.post("/v1/login/challenge")).json()["challenge"]
    )
    return await desk.client.post("/v1/login", json={"cms": b64(holder.sign(usage, challenge))})


def foreign(desk, holder, usage, *, ca=None, not_before=None) -> x509.Certificate:
    """A certificate for the holder's own key and subject from ``ca`` (default: a stranger CA)."""
    now = desk.clock.now
    issuer = ca or authorities.create_ca("QOLTANBA STRANGER CA", now)
    return authorities.issue(
        issuer,
        subject=x509.load_der_x509_certificate(holder.certificates[usage]).subject,
        public_key_info=holder.keys[usage].public_key_info(),
        usage=usage,
        holder=(oids.INDIVIDUAL,),
        email=None,
        not_before=not_before or now - dt.timedelta(days=1),
        not_after=now + dt.timedelta(days=300),
    )


def der_of(certificate: x509.Certificate) -> bytes:
    return certificate.public_bytes(Encoding.DER)


# Logging in ------------------------------------------------------------------------------------


async def test_login_refusals_create_no_session(desk):
    authority = await desk(session_ttl=10**6)
    holder = await authority.holder()
    assert_refused(await sign_in(authority, holder, challenge=b"made up"), "challenge_unknown")
    assert_refused(await sign_in(authority, holder, "sign"), "certificate_wrong_usage")

    challenge = unb64((await authority.client.post("/v1/login/challenge")).json()["challenge"])
    authority.clock.advance(seconds=301)
    assert_refused(await sign_in(authority, holder, challenge=challenge), "challenge_expired")

    signed = holder.sign(
        "auth", unb64((await authority.client.post("/v1/login/challenge")).json()["challenge"])
    )
    tampered = bytearray(signed)
    tampered[-5] ^= 0x01
    assert_refused(
        await authority.client.post("/v1/login", json={"cms": b64(bytes(tampered))}),
        "signature_invalid",
    )
    assert authority.count("sessions") == 0
    assert (await authority.client.post("/v1/login", json={"cms": b64(signed)})).status_code == 200
    again = await authority.client.post("/v1/login", json={"cms": b64(signed)})
    assert_refused(again, "challenge_reused")
    assert authority.count("sessions") == 1


async def test_a_refused_login_leaves_its_challenge_usable(desk):
    authority = await desk()
    holder = await authority.holder()
    challenge = unb64((await authority.client.post("/v1/login/challenge")).json()["challenge"])
    assert_refused(
        await sign_in(authority, holder, "sign", challenge=challenge), "certificate_wrong_usage"
    )
    assert (await sign_in(authority, holder, challenge=challenge)).status_code == 200


async def test_login_refuses_expired_revoked_untrusted_and_future_keys(desk):
    authority = await desk()
    expired = await authority.holder(days_left=-1)
    assert_refused(await sign_in(authority, expired), "certificate_expired")
    at_zero = await authority.holder(days_left=0)
    assert_refused(await sign_in(authority, at_zero), "certificate_expired")

    revoked = await authority.holder()
    answer = await authority.client.post(
        "/v1/_test/revocations", json={"serial": revoked.serial("auth")}
    )
    assert answer.status_code == 200 and answer.json()["serial"] == revoked.serial("auth")
    assert_refused(await sign_in(authority, revoked), "certificate_revoked")

    stranger = await authority.holder()
    stranger.certificates["auth"] = der_of(foreign(authority, stranger, "auth"))
    assert_refused(await sign_in(authority, stranger), "certificate_untrusted")

    future = await authority.holder()
    tomorrow = authority.clock.now + dt.timedelta(days=1)
    future.certificates["auth"] = der_of(
        foreign(authority, future, "auth", ca=authority.authority.issuing, not_before=tomorrow)
    )
    assert_refused(await sign_in(authority, future), "certificate_not_yet_valid")
    assert authority.count("sessions") == 0


async def test_login_body_must_be_a_cms(desk):
    authority = await desk()
    for body in ({}, {"cms": "***"}, {"cms": "AAAA", "more": 1}, [1]):
        answer = await authority.client.post("/v1/login", json=body)
        assert answer.status_code == 400 and answer.json()["error"] == "bad_request"
    answer = await authority.client.post("/v1/login", content=b"{not json")
    assert answer.status_code == 400


# Filing an application --------------------------------------------------------------------------


def _requests(desk, subject, keys, email="demo@example.kz"):
    return [(u, build_request(k, subject, email=email)) for u, k in keys]


def _bad_email(desk, holder, new, email):
    requests = _requests(desk, holder.subject, sorted(new.items()), email=None)
    return desk.document(holder, new, email=email, requests=requests)


def _tampered_csr(desk, holder):
    csr = bytearray(build_request(desk.key(), holder.subject))
    csr[-3] ^= 0x01  # inside the signature: the proof of possession fails
    return bytes(csr)


# Each case: how to spoil an otherwise good application, and the reason the authority gives.
SPOILED = {
    "email_invalid": lambda d, h, new: _bad_email(d, h, new, "not an e-mail"),
    "email_not_ascii": lambda d, h, new: _bad_email(d, h, new, "тест@пример.kz"),
    "locality_missing": lambda d, h, new: d.document(h, new, locality="   "),
    "storage_unknown": lambda d, h, new: d.document(h, new, storage="floppy"),
    "signer_not_listed": lambda d, h, new: d.document(
        h, new, current=[("auth", h.certificates["auth"])]
    ),
    "current_usage_mismatch": lambda d, h, new: d.document(
        h, new, current=[("sign", h.certificates["auth"]), ("sign", h.certificates["sign"])]
    ),
    "requests_wrong_usage": lambda d, h, new: d.document(
        h, new, requests=_requests(d, h.subject, [("auth", new["auth"]), ("auth", new["sign"])])
    ),
    "requests_only_one": lambda d, h, new: d.document(
        h, new, requests=_requests(d, h.subject, [("sign", new["sign"])])
    ),
    "request_invalid": lambda d, h, new: d.document(
        h,
        new,
        requests=[
            ("auth", b"\x30\x03\x02\x01\x00"),
            ("sign", build_request(new["sign"], h.subject)),
        ],
    ),
    "request_no_possession": lambda d, h, new: d.document(
        h,
        new,
        requests=[("auth", _tampered_csr(d, h)), ("sign", build_request(new["sign"], h.subject))],
    ),
    "request_wrong_scheme": lambda d, h, new: d.document(
        h,
        new,
        requests=_requests(
            d, h.subject, [("auth", RsaKeyPair.generate(1024)), ("sign", new["sign"])]
        ),
    ),
    "subject_changed": lambda d, h, new: d.document(
        h, new, subject=subject_for("individual", "ДРУГОЙ")
    ),
    "key_not_new": lambda d, h, new: d.document(
        h, new, requests=_requests(d, h.subject, [("auth", h.keys["sign"]), ("sign", new["sign"])])
    ),
    "key_duplicated": lambda d, h, new: d.document(
        h, new, requests=_requests(d, h.subject, [("auth", new["sign"]), ("sign", new["sign"])])
    ),
    "email_mismatch": lambda d, h, new: d.document(
        h, new, requests=_requests(d, h.subject, sorted(new.items()), email="other@example.kz")
    ),
}
REASON = {
    "email_not_ascii": "email_invalid",
    "requests_only_one": "requests_wrong_usage",
}


@pytest.mark.parametrize("case", sorted(SPOILED))
async def test_a_spoiled_application_is_refused_and_nothing_is_filed(desk, case):
    authority = await desk()
    holder = await authority.holder()
    headers = await authority.login(holder)
    document = SPOILED[case](authority, holder, authority.new_keys())
    assert_refused(await authority.submit(holder, headers, document), REASON.get(case, case))
    assert authority.count("applications") == 0 and authority.count("submissions") == 0


def _document_json(authority, holder, **change) -> bytes:
    document = json.loads(authority.document(holder, authority.new_keys()))
    document.update(change)
    return json.dumps(document).encode()


@pytest.mark.parametrize(
    "make",
    [
        lambda a, h: b"not json at all",
        lambda a, h: json.dumps(["a", "list"]).encode(),
        lambda a, h: _document_json(a, h, type="something.else"),
        lambda a, h: _document_json(a, h, extra="field"),
        lambda a, h: _document_json(a, h, email=42),
        lambda a, h: _document_json(a, h, requests=[]),
        lambda a, h: _document_json(a, h, current=[{"usage": "sign", "certificate": "%%%"}]),
        lambda a, h: _document_json(a, h, current=[{"usage": "sign", "certificate": "AAAA"}]),
    ],
    ids=["not-json", "not-object", "type", "extra", "email-type", "no-requests", "b64", "der"],
)
async def test_a_malformed_document_is_refused(desk, make):
    authority = await desk()
    holder = await authority.holder()
    headers = await authority.login(holder)
    assert_refused(
        await authority.submit(holder, headers, make(authority, holder)), "document_malformed"
    )
    assert authority.count("applications") == 0


async def test_the_signer_must_be_the_holder_a_signing_key_and_acceptable(desk):
    authority = await desk(session_ttl=10**7)
    holder = await authority.holder(days_left=1)
    headers = await authority.login(holder)
    new = authority.new_keys()  # refused applications certify nothing: the keys serve again
    document = authority.document(holder, new)
    assert_refused(
        await authority.submit(holder, headers, document, signer="auth"), "certificate_wrong_usage"
    )

    tampered = bytearray(holder.sign("sign", document))
    tampered[len(tampered) // 2] ^= 0x01
    answer = await authority.client.post(
        "/v1/applications",
        json={"cms": b64(bytes(tampered))},
        headers={**headers, "Idempotency-Key": "t-1"},
    )
    assert_refused(answer, "signature_invalid")

    other = await authority.holder(surname="ДРУГОЙ")
    assert_refused(
        await authority.submit(other, headers, authority.document(other, new)),
        "subject_mismatch",
    )

    genuine = holder.certificates["sign"]
    holder.certificates["sign"] = der_of(foreign(authority, holder, "sign"))
    assert_refused(await authority.submit(holder, headers, document), "certificate_untrusted")
    holder.certificates["sign"] = genuine

    current_stranger = authority.document(
        holder,
        new,
        current=[("auth", der_of(foreign(authority, holder, "auth"))), ("sign", genuine)],
    )
    assert_refused(
        await authority.submit(holder, headers, current_stranger), "certificate_untrusted"
    )

    someone_else = authority.document(
        holder,
        new,
        current=[("auth", other.certificates["auth"]), ("sign", genuine)],
    )
    assert_refused(
        await authority.submit(holder, headers, someone_else), "current_subject_mismatch"
    )

    revoked = await authority.client.post(
        "/v1/_test/revocations", json={"serial": "0x" + holder.serial("sign").upper()}
    )
    assert revoked.status_code == 200
    assert_refused(await authority.submit(holder, headers, document), "certificate_revoked")
    assert authority.count("applications") == 0


async def test_a_key_that_expired_after_login_cannot_file(desk):
    authority = await desk(session_ttl=10**7)
    holder = await authority.holder(days_left=1)
    headers = await authority.login(holder)
    authority.clock.advance(days=2)
    document = authority.document(holder, authority.new_keys())
    assert_refused(await authority.submit(holder, headers, document), "certificate_expired")
    assert authority.count("applications") == 0


async def test_a_scheme_the_authority_does_not_issue_is_refused(desk, tmp_path):
    first = await desk(data_dir=tmp_path / "shared")
    holder = await first.holder()
    gost_only = await desk(data_dir=tmp_path / "shared", schemes=["GOST 2015 512"])
    gost_only.keys = first.keys
    headers = await gost_only.login(holder)
    document = gost_only.document(holder, gost_only.new_keys())
    assert_refused(await gost_only.submit(holder, headers, document), "scheme_not_issued")


async def test_sessions_keys_and_bodies_are_checked_before_anything_else(desk):
    authority = await desk(session_ttl=60, body_limit=16 * 1024)
    holder = await authority.holder()
    headers = await authority.login(holder)
    cms = b64(holder.sign("sign", authority.document(holder, authority.new_keys())))
    post = authority.client.post
    no_session = await post("/v1/applications", json={"cms": cms}, headers={"Idempotency-Key": "k"})
    assert no_session.status_code == 401 and no_session.json()["error"] == "session_expired"
    assert no_session.headers["WWW-Authenticate"] == "Bearer"
    forged = {"Authorization": "Bearer forged", "Idempotency-Key": "k"}
    assert (await post("/v1/applications", json={"cms": cms}, headers=forged)).status_code == 401
    no_key = await post("/v1/applications", json={"cms": cms}, headers=headers)
    assert no_key.status_code == 400
    shapes = [{"cms": "***"}, {"nothing": 1}]
    for body in shapes:
        answer = await post(
            "/v1/applications", json=body, headers={**headers, "Idempotency-Key": "k"}
        )
        assert answer.status_code == 400
    too_large = await post(
        "/v1/applications",
        json={"cms": "A" * 20_000},
        headers={**headers, "Idempotency-Key": "k"},
    )
    assert too_large.status_code == 413 and too_large.json()["error"] == "too_large"

    async def chunks():
        for _ in range(5):
            yield b"A" * 4000  # no Content-Length: the limit holds for streamed bodies too

    streamed = await post("/v1/login", content=chunks())
    assert streamed.status_code == 413
    authority.clock.advance(seconds=61)
    late = await post(
        "/v1/applications", json={"cms": cms}, headers={**headers, "Idempotency-Key": "k"}
    )
    assert late.status_code == 401
    assert authority.count("applications") == 0


async def test_the_default_body_limit_is_256_kib(desk):
    authority = await desk()
    answer = await authority.client.post("/v1/login", json={"cms": "A" * (256 * 1024)})
    assert answer.status_code == 413
