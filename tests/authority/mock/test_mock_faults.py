"""The mock authority misbehaving on purpose: delays, 5xx/429 with Retry-After, dropped connections
(in-process and over a real uvicorn server), stuck processing, rejection, a certificate for the
wrong key and one from another CA. Set over HTTP (/v1/_test/faults) or in-process (app.state)."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator

import httpx
import pytest
from cryptography import x509
from mock_support import unb64

from wizard.authority.mock import ConnectionDropped, Faults, create_app
from wizard.authority.mock.ca import EVIL_NAME
from wizard.authority.mock.server import build_server
from wizard.keys.certificate import certificate_public_key_info
from wizard.keys.signatures import issuer_signed

pytestmark = pytest.mark.anyio


async def put_faults(authority, **faults) -> dict:
    answer = await authority.client.put("/v1/_test/faults", json=faults)
    assert answer.status_code == 200, answer.text
    return answer.json()


async def test_faults_are_set_read_and_cleared_over_http(desk):
    authority = await desk()
    set_ = await put_faults(
        authority,
        delay=0,
        error={"status": 503, "count": 2, "retry_after": "5"},
        drop=1,
        stuck=True,
        reject={"reason": "documents_invalid", "at": "processing"},
        wrong_key=1,
        foreign_ca=2,
    )
    assert set_ == (await authority.client.get("/v1/_test/faults")).json()
    assert set_["error"] == {"status": 503, "count": 2, "retry_after": "5"}
    assert set_["reject"] == {"reason": "documents_invalid", "at": "processing"}
    cleared = (await authority.client.delete("/v1/_test/faults")).json()
    assert cleared == Faults().as_json()
    assert authority.app.state.faults == Faults()
    for bad in (
        {"delay": -1},
        {"delay": True},
        {"error": {"status": 404}},
        {"drop": "1"},
        {"reject": {"reason": ""}},
        {"reject": {"reason": "x", "at": "later"}},
        {"surprise": 1},
        [],
    ):
        answer = await authority.client.put("/v1/_test/faults", json=bad)
        assert answer.status_code == 400, bad


async def test_a_delay_holds_every_answer_but_the_test_routes(desk):
    authority = await desk()
    await put_faults(authority, delay=0.2)
    started = time.monotonic()
    assert (await authority.client.get("/v1/authority")).status_code == 200
    assert time.monotonic() - started >= 0.2
    started = time.monotonic()
    await authority.client.get("/v1/_test/faults")
    assert time.monotonic() - started < 0.2


@pytest.mark.parametrize(
    ("status", "retry_after", "expected"),
    [
        (503, "7", "7"),
        (503, None, "1"),
        (429, "Wed, 21 Oct 2026 07:28:00 GMT", "Wed, 21 Oct 2026 07:28:00 GMT"),
        (500, None, None),
        (502, "3", "3"),
    ],
)
async def test_errors_with_retry_after_for_the_next_requests(desk, status, retry_after, expected):
    authority = await desk()
    await put_faults(authority, error={"status": status, "count": 2, "retry_after": retry_after})
    for _ in range(2):
        answer = await authority.client.get("/v1/authority")
        assert answer.status_code == status and answer.json()["error"]
        assert answer.headers.get("Retry-After") == expected
    assert (await authority.client.get("/v1/authority")).status_code == 200


async def test_faults_set_in_process_act_like_the_http_ones(desk):
    authority = await desk(test_endpoints=False)
    authority.app.state.faults = Faults(error_status=503, error_count=1)
    assert (await authority.client.get("/v1/authority")).status_code == 503
    authority.app.state.faults.drop_count = 1
    with pytest.raises(httpx.TransportError):
        await authority.client.get("/v1/authority")
    assert (await authority.client.get("/v1/authority")).status_code == 200


async def test_a_dropped_connection_is_a_transport_error_in_process(desk):
    authority = await desk()
    await put_faults(authority, drop=2)
    for _ in range(2):
        with pytest.raises(httpx.RemoteProtocolError) as raised:
            await authority.client.post("/v1/login/challenge")
        assert isinstance(raised.value, ConnectionDropped | ConnectionError)
    assert authority.count("challenges") == 0  # the request never reached the authority
    assert (await authority.client.post("/v1/login/challenge")).status_code == 200


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextlib.contextmanager
def served(app) -> Iterator[str]:
    """The app behind a real uvicorn server on 127.0.0.1, in a thread."""
    port = _free_port()
    server = build_server(app, port=port, log_level="warning")
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


def test_a_dropped_connection_over_a_real_server_closes_without_an_answer(tmp_path):
    app = create_app(tmp_path / "served", test_endpoints=True)
    with served(app) as url, httpx.Client(base_url=url, timeout=5) as client:
        assert client.get("/v1/authority").status_code == 200
        client.put("/v1/_test/faults", json={"drop": 1})
        with pytest.raises(httpx.TransportError) as raised:
            client.get("/v1/authority")
        assert not isinstance(raised.value, httpx.TimeoutException)
        answer = client.get("/v1/authority")
        assert answer.status_code == 200 and answer.json()["demo"] is True
        client.put("/v1/_test/faults", json={"error": {"status": 429, "count": 1}})
        limited = client.get("/v1/authority")
        assert limited.status_code == 429 and limited.headers["Retry-After"] == "1"
    app.state.authority.close()


async def test_stuck_in_processing_until_the_fault_is_cleared(desk):
    authority = await desk()
    _, headers, number, _ = await authority.filed()
    await put_faults(authority, stuck=True)
    await authority.confirm(number, headers, await authority.code(number))
    authority.clock.advance(minutes=30)
    stuck = await authority.status(number, headers)
    assert stuck.json()["state"] == "processing"
    assert stuck.json()["retry_after"] == 5 and stuck.headers["Retry-After"] == "5"
    await authority.client.delete("/v1/_test/faults")
    assert (await authority.status(number, headers)).json()["state"] == "issued"


async def test_the_next_application_is_rejected_at_once(desk):
    authority = await desk()
    holder = await authority.holder()
    headers = await authority.login(holder)
    await put_faults(authority, reject={"reason": "documents_invalid"})
    answer = await authority.submit(
        holder, headers, authority.document(holder, authority.new_keys())
    )
    assert answer.status_code == 201
    assert answer.json()["state"] == "rejected" and answer.json()["reason"] == "documents_invalid"
    status = await authority.status(answer.json()["number"], headers)
    assert status.json()["state"] == "rejected"
    assert (await authority.client.get("/v1/_test/faults")).json()["reject"] is None
    again = await authority.submit(
        holder, headers, authority.document(holder, authority.new_keys())
    )
    assert again.json()["state"] == "awaiting_code"  # only the next one


async def test_the_next_application_is_rejected_when_processing_ends(desk):
    authority = await desk()
    await put_faults(authority, reject={"reason": "operator_refused", "at": "processing"})
    _, headers, number, _ = await authority.filed()
    confirmed = await authority.confirm(number, headers, await authority.code(number))
    assert confirmed.json()["state"] == "processing"
    status = (await authority.status(number, headers)).json()
    assert status["state"] == "rejected" and status["reason"] == "operator_refused"
    answer = await authority.client.get(f"/v1/applications/{number}/certificates", headers=headers)
    assert answer.status_code == 409 and answer.json()["state"] == "rejected"


async def _issued(authority, **faults) -> tuple[dict, dict, list[x509.Certificate]]:
    _, headers, number, new = await authority.filed()
    await put_faults(authority, **faults)
    await authority.confirm(number, headers, await authority.code(number))
    body = (
        await authority.client.get(f"/v1/applications/{number}/certificates", headers=headers)
    ).json()
    issued = {c["usage"]: unb64(c["certificate"]) for c in body["certificates"]}
    return new, issued, [x509.load_der_x509_certificate(unb64(c)) for c in body["chain"]]


async def test_a_certificate_for_the_wrong_key(desk):
    authority = await desk()
    new, issued, _ = await _issued(authority, wrong_key=1)
    assert certificate_public_key_info(issued["auth"]) != new["auth"].public_key_info()
    assert certificate_public_key_info(issued["sign"]) == new["sign"].public_key_info()
    assert (await authority.client.get("/v1/_test/faults")).json()["wrong_key"] == 0


async def test_a_certificate_from_another_ca(desk):
    authority = await desk()
    _, issued, chain = await _issued(authority, foreign_ca=1)
    for der in issued.values():
        certificate = x509.load_der_x509_certificate(der)
        issuer = certificate.issuer.get_attributes_for_oid(x509.NameOID.COMMON_NAME)
        assert issuer[0].value == EVIL_NAME
        assert not issuer_signed(chain[0], certificate)
        verdict = authority.authority.trust.examine(certificate, authority.clock.now)
        assert verdict == "certificate_untrusted"


async def test_a_revocation_needs_a_hexadecimal_serial(desk):
    authority = await desk()
    for body in ({"serial": "xyz"}, {"serial": "-1"}, {"serial": ""}, {"number": 1}):
        answer = await authority.client.post("/v1/_test/revocations", json=body)
        assert answer.status_code == 400, body
