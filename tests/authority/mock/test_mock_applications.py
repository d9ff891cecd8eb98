"""An application's life at the mock authority: idempotent filing, never two open at once for the
same current keys (409 application_open), one-time code attempts, lapsing, and what each state
allows."""

from __future__ import annotations

import pytest
from mock_support import b64, unb64, wrong_code

pytestmark = pytest.mark.anyio


async def test_replaying_an_idempotency_key_returns_the_same_application(desk):
    authority = await desk()
    holder = await authority.holder()
    headers = await authority.login(holder)
    document = authority.document(holder, authority.new_keys())
    first = await authority.submit(holder, headers, document, key="key-1")
    assert first.status_code == 201
    # The same document signed again (a new signing time) is the same request.
    replay = await authority.submit(holder, headers, document, key="key-1")
    assert replay.status_code == 200 and replay.json() == first.json()
    other = authority.document(holder, authority.new_keys())
    conflict = await authority.submit(holder, headers, other, key="key-1")
    assert conflict.status_code == 409 and conflict.json()["error"] == "idempotency_conflict"
    assert authority.count("applications") == 1


async def test_a_second_application_while_one_is_open_is_refused(desk):
    """Two renewals of the same keys at once (two folders, two devices): the second is told which
    application is open, and is never handed that application as its own."""
    authority = await desk(processing_time=60)
    holder = await authority.holder()
    headers = await authority.login(holder)
    document = authority.document(holder, authority.new_keys())
    first = await authority.submit(holder, headers, document, key="key-1")
    assert first.status_code == 201
    number = first.json()["number"]
    elsewhere = await authority.login(holder)  # the other folder's own session
    other = authority.document(holder, authority.new_keys())

    async def refused() -> None:
        second = await authority.submit(holder, elsewhere, other, key="key-2")
        assert second.status_code == 409, second.text
        assert second.json() | {"message": ""} == {
            "error": "application_open",
            "application": number,
            "message": "",
        }

    await refused()
    await refused()  # nothing was recorded under key-2: refused again, not a conflict
    replay = await authority.submit(holder, headers, document, key="key-1")
    assert replay.status_code == 200 and replay.json()["number"] == number
    assert authority.count("applications") == 1 and authority.count("submissions") == 1

    # Open in every state until issued: awaiting_code (above), processing.
    confirmed = await authority.confirm(number, headers, await authority.code(number))
    assert confirmed.json()["state"] == "processing"
    await refused()
    authority.clock.advance(seconds=60)
    assert (await authority.status(number, headers)).json()["state"] == "issued"
    # Issued: that application has ended at the authority (a renewal cancelled before installing
    # its certificates must not block the next one for good), so the same request is now filed.
    later = await authority.submit(holder, elsewhere, other, key="key-2")
    assert later.status_code == 201 and later.json()["number"] != number
    assert authority.count("applications") == 2


async def test_sharing_any_current_certificate_with_an_open_application_is_refused(desk):
    authority = await desk()
    holder, _, number, new = await authority.filed()
    # The same person's second key set (same subject), and a login with it.
    second = await authority.holder()
    headers = await authority.login(second)
    mixed = authority.document(
        second,
        new,
        current=[("auth", holder.certificates["auth"]), ("sign", second.certificates["sign"])],
    )
    shared = await authority.submit(second, headers, mixed)
    assert shared.status_code == 409 and shared.json()["application"] == number
    # Nothing in common with the open application: a renewal of its own.
    own = await authority.submit(second, headers, authority.document(second, new))
    assert own.status_code == 201 and own.json()["number"] != number
    assert authority.count("applications") == 2


async def test_a_replay_is_answered_even_after_the_key_expired(desk):
    authority = await desk(session_ttl=10**7)
    holder = await authority.holder(days_left=1)
    headers = await authority.login(holder)
    document = authority.document(holder, authority.new_keys())
    first = await authority.submit(holder, headers, document, key="late")
    authority.clock.advance(days=2)  # the answer was lost; the key expired before the retry
    replay = await authority.submit(holder, headers, document, key="late")
    assert replay.status_code == 200 and replay.json()["number"] == first.json()["number"]


async def test_three_wrong_codes_reject_the_application(desk):
    authority = await desk()
    holder, headers, number, _ = await authority.filed()
    code = await authority.code(number)
    wrong = wrong_code(code)
    first = await authority.confirm(number, headers, wrong, key="c-1")
    assert first.status_code == 422 and first.json()["attempts_left"] == 2
    # A retried confirmation (same key, same code) is answered again without spending a try.
    replay = await authority.confirm(number, headers, wrong, key="c-1")
    assert replay.status_code == 422 and replay.json() == first.json()
    conflict = await authority.confirm(number, headers, code, key="c-1")
    assert conflict.status_code == 409 and conflict.json()["error"] == "idempotency_conflict"
    status = await authority.status(number, headers)
    assert status.json()["attempts_left"] == 2
    assert (await authority.confirm(number, headers, wrong)).json()["attempts_left"] == 1
    last = await authority.confirm(number, headers, wrong)
    assert last.status_code == 422
    assert (last.json()["error"], last.json()["reason"]) == ("rejected", "too_many_codes")
    status = await authority.status(number, headers)
    assert status.json()["state"] == "rejected" and status.json()["reason"] == "too_many_codes"
    too_late = await authority.confirm(number, headers, code)
    assert too_late.status_code == 422 and too_late.json()["reason"] == "too_many_codes"
    # Rejected is final: a new application may now be filed for the same keys.
    again = await authority.submit(
        holder, headers, authority.document(holder, authority.new_keys())
    )
    assert again.status_code == 201 and again.json()["number"] != number


async def test_a_code_is_good_once_and_confirming_twice_is_a_wrong_state(desk):
    authority = await desk(processing_time=60)
    _, headers, number, _ = await authority.filed()
    code = await authority.code(number)
    done = await authority.confirm(number, headers, code, key="ok")
    assert done.status_code == 200 and done.json()["state"] == "processing"
    replay = await authority.confirm(number, headers, code, key="ok")
    assert replay.status_code == 200 and replay.json()["state"] == "processing"
    twice = await authority.confirm(number, headers, code, key="again")
    assert twice.status_code == 409
    assert twice.json() | {"message": ""} == {
        "error": "wrong_state",
        "state": "processing",
        "message": "",
    }


@pytest.mark.parametrize("code", ["12345", "1234567", "abcdef", "١٢٣٤٥٦"])
async def test_a_malformed_code_spends_no_attempt(desk, code):
    authority = await desk()
    _, headers, number, _ = await authority.filed()
    answer = await authority.confirm(number, headers, code)
    assert answer.status_code == 400
    assert (await authority.status(number, headers)).json()["attempts_left"] == 3


async def test_an_unconfirmed_application_lapses_after_a_day(desk):
    authority = await desk(session_ttl=10**6)
    holder, headers, number, _ = await authority.filed()
    status = await authority.status(number, headers)
    authority.clock.advance(hours=23, minutes=59)
    assert (await authority.status(number, headers)).json()["state"] == "awaiting_code"
    authority.clock.advance(minutes=1)
    lapsed = (await authority.status(number, headers)).json()
    assert lapsed["state"] == "lapsed" and lapsed["reason"] == "not_confirmed"
    assert lapsed["confirm_by"] is None and status.json()["confirm_by"]
    late = await authority.confirm(number, headers, await authority.code(number))
    assert late.status_code == 409 and late.json()["state"] == "lapsed"
    certificates = await authority.client.get(
        f"/v1/applications/{number}/certificates", headers=headers
    )
    assert certificates.status_code == 409 and certificates.json()["state"] == "lapsed"
    # Lapsed is final: the holder may file again (here, the pending check sees the lapse first).
    again = await authority.submit(
        holder, headers, authority.document(holder, authority.new_keys())
    )
    assert again.status_code == 201


async def test_the_lapse_time_is_a_setting(desk):
    authority = await desk(confirm_within=60)
    _, headers, number, _ = await authority.filed()
    authority.clock.advance(seconds=60)
    assert (await authority.status(number, headers)).json()["state"] == "lapsed"


async def test_outside_demo_mode_only_configured_cas_are_trusted_and_no_sms_is_kept(desk, tmp_path):
    demo = await desk(data_dir=tmp_path / "books")
    holder = await demo.holder()  # made while the demo routes exist
    strict = await desk(data_dir=tmp_path / "books", demo=False)
    assert (await strict.client.get("/v1/authority")).json()["demo"] is False
    challenge = unb64((await strict.client.post("/v1/login/challenge")).json()["challenge"])
    login = await strict.client.post("/v1/login", json={"cms": b64(holder.sign("auth", challenge))})
    assert login.status_code == 422 and login.json()["reason"] == "certificate_untrusted"
    assert (await strict.client.post("/v1/demo/holders", json={})).status_code == 404

    folder = tmp_path / "trusted"
    folder.mkdir()
    for name, ca in (("root.cer", demo.authority.root), ("issuing.crt", demo.authority.issuing)):
        (folder / name).write_bytes(ca.der)
    configured = await desk(data_dir=tmp_path / "books", demo=False, trusted=[folder])
    configured.keys = demo.keys
    _, _, number, _ = await configured.filed(holder)
    assert (await configured.client.get(f"/v1/demo/outbox/{number}")).status_code == 404
    assert configured.count("outbox") == 0  # no SMS gateway: the code exists only as a hash


async def test_unknown_routes_and_methods_answer_json(desk):
    authority = await desk(test_endpoints=False)
    missing = await authority.client.get("/v1/_test/faults")
    assert missing.status_code == 404 and missing.json()["error"] == "not_found"
    wrong = await authority.client.delete("/v1/authority")
    assert wrong.status_code == 405 and wrong.json()["error"] == "method_not_allowed"
