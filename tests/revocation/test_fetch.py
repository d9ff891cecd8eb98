"""Asking over the network (wizard.authority.revocation): the AIA responder first, then the CRLs;
HTTP errors, timeouts, huge bodies and no network are ``unknown`` with their reason, never a
traceback; offline asks nothing; expired keys are never asked about; the CRL cache under
QOLTANBA_HOME; the in-process demo answers without a socket. The network here is
httpx.MockTransport: nothing leaves the machine."""

from __future__ import annotations

import asyncio
import datetime as dt
import stat
import time

import httpx
import pytest
from cryptography.x509 import ocsp as crypto_ocsp
from revocation_support import DAY, HOUR, NOW

from wizard.authority import revocation as network
from wizard.authority.mock.revocation import PkiUrls, ocsp_error
from wizard.authority.revocation import RevocationOptions, check_certificate
from wizard.keys.revocation import Status

pytestmark = pytest.mark.anyio

URLS = PkiUrls(
    ocsp="http://ocsp.test/ocsp",
    ca_issuers="http://ca.test/issuing.cer",
    crl="http://crl.test/full.crl",
    delta="http://crl.test/delta.crl",
)


class Net:
    """A fake network: what each URL answers, and every request made."""

    def __init__(self, chain, **answers) -> None:
        self.chain = chain
        self.answers = answers
        self.requests: list[tuple[str, str]] = []

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        url = str(request.url)
        self.requests.append((request.method, url))
        key = {URLS.ocsp: "ocsp", URLS.crl: "crl", URLS.delta: "delta", URLS.ca_issuers: "ca"}.get(
            url, "other"
        )
        answer = self.answers.get(key, 404)
        if callable(answer):
            answer = answer(request)
            if asyncio.iscoroutine(answer):
                answer = await answer
        if isinstance(answer, Exception):
            raise answer
        if isinstance(answer, int):
            return httpx.Response(answer)
        if isinstance(answer, httpx.Response):
            return answer
        return httpx.Response(200, content=answer)

    def asked(self, key: str) -> int:
        url = {"ocsp": URLS.ocsp, "crl": URLS.crl, "delta": URLS.delta, "ca": URLS.ca_issuers}[key]
        return sum(1 for _, u in self.requests if u == url)


def nonce_of(request: httpx.Request) -> bytes:
    from cryptography import x509

    parsed = crypto_ocsp.load_der_ocsp_request(request.content)
    return parsed.extensions.get_extension_for_class(x509.OCSPNonce).value.nonce


@pytest.fixture
def leaf(chain):
    return chain.issue(pki=URLS)


def options(tmp_path, net, chain, **extra) -> RevocationOptions:
    ca = tmp_path / "issuing.cer"
    ca.write_bytes(chain.issuing.der)
    values = {
        "home": tmp_path / "home",
        "transport": httpx.MockTransport(net),
        "clock": lambda: NOW,
        "ca_files": (ca,),
        "timeout": 1.0,
        "deadline": 3.0,
    }
    values.update(extra)
    return RevocationOptions(**values)


async def test_ocsp_good_asks_no_crl(chain, leaf, tmp_path):
    net = Net(chain)
    net.answers["ocsp"] = lambda r: chain.answer(nonce_of(r), certificate=leaf)
    answer = await check_certificate(leaf, options(tmp_path, net, chain))
    assert (answer.status, answer.source, answer.origin) == (Status.GOOD, "ocsp", URLS.ocsp)
    assert net.asked("ocsp") == 1 and net.asked("crl") == 0
    assert [a.as_json() for a in answer.attempts] == [
        {"source": "ocsp", "origin": URLS.ocsp, "detail": "responder_good"}
    ]
    assert answer.as_json()["status"] == "good" and answer.as_json()["source"] == "ocsp"


async def test_ocsp_revoked(chain, leaf, tmp_path):
    net = Net(chain)
    net.answers["ocsp"] = lambda r: chain.answer(
        nonce_of(r), certificate=leaf, status="revoked", revoked_at=NOW - DAY, reason="superseded"
    )
    answer = await check_certificate(leaf, options(tmp_path, net, chain))
    assert (answer.status, answer.reason, answer.revoked_at) == (
        Status.REVOKED,
        "superseded",
        NOW - DAY,
    )


async def test_an_unbelievable_ocsp_answer_then_the_crls(chain, leaf, tmp_path):
    net = Net(chain, ocsp=lambda r: chain.answer(None, certificate=leaf))  # no nonce echoed
    answer = await check_certificate(leaf, options(tmp_path, net, chain))
    assert (answer.status, answer.detail) == (Status.UNKNOWN, "response_nonce_missing")
    assert net.asked("crl") == 1 and net.asked("delta") == 1  # then the CRLs (404 here)
    # With a current CRL published, that CRL answers.
    net.answers["crl"] = chain.crl([])
    answer = await check_certificate(leaf, options(tmp_path, net, chain))
    assert (answer.status, answer.source, answer.origin) == (Status.GOOD, "crl", URLS.crl)
    details = [(a.source, a.detail) for a in answer.attempts]
    assert ("ocsp", "response_nonce_missing") in details and ("crl", "crl_current") in details


async def test_a_delta_crl_from_the_freshest_crl_point_revokes(chain, leaf, tmp_path):
    net = Net(chain, ocsp=503)
    net.answers["crl"] = chain.crl([], number=100)
    net.answers["delta"] = chain.crl(
        [leaf.serial_number],
        this_update=NOW - HOUR,
        next_update=NOW + HOUR,
        number=101,
        delta_base=100,
    )
    answer = await check_certificate(leaf, options(tmp_path, net, chain))
    assert (answer.status, answer.source, answer.origin) == (Status.REVOKED, "crl", URLS.delta)


@pytest.mark.parametrize(
    "ocsp_answer, detail",
    [
        (500, "http_error"),
        (404, "http_error"),
        (httpx.ConnectError("no route"), "offline"),
        (httpx.ReadTimeout("slow"), "timeout"),
        (b"garbage", "response_malformed"),
        (lambda r: ocsp_error("try_later"), "responder_refused"),
        (
            httpx.Response(200, content=b"\x30" * 10, headers={"Content-Length": "99999999"}),
            "response_too_large",
        ),
    ],
    ids=["500", "404", "offline", "timeout", "garbage", "try-later", "declared-huge"],
)
async def test_network_troubles_are_unknown(chain, leaf, tmp_path, ocsp_answer, detail):
    net = Net(
        chain, ocsp=ocsp_answer, crl=httpx.ConnectError("down"), delta=httpx.ConnectError("down")
    )
    answer = await check_certificate(leaf, options(tmp_path, net, chain))
    assert answer.status is Status.UNKNOWN
    assert answer.detail == detail
    assert ("ocsp", URLS.ocsp, detail) in [(a.source, a.origin, a.detail) for a in answer.attempts]


async def test_a_streamed_huge_body_is_cut_off(chain, leaf, tmp_path):
    sent = []

    async def endless():
        for _ in range(10_000):
            sent.append(1)
            yield b"\x30" * 4096

    net = Net(chain, ocsp=lambda r: httpx.Response(200, content=endless()))
    answer = await check_certificate(leaf, options(tmp_path, net, chain))
    assert answer.attempts[0].detail == "response_too_large"
    assert len(sent) < 40  # 64 KiB read, then it stops


async def test_the_whole_check_has_a_deadline(chain, leaf, tmp_path):
    async def stall(request):
        await asyncio.sleep(30)
        return httpx.Response(200)

    net = Net(chain, ocsp=stall, crl=stall, delta=stall)
    started = time.monotonic()
    answer = await check_certificate(leaf, options(tmp_path, net, chain, timeout=0.2, deadline=0.6))
    assert time.monotonic() - started < 3
    assert (answer.status, answer.detail) == (Status.UNKNOWN, "timeout")


async def test_offline_asks_nothing(chain, leaf, tmp_path):
    net = Net(chain)
    answer = await check_certificate(leaf, options(tmp_path, net, chain, offline=True))
    assert net.requests == []
    assert (answer.status, answer.detail) == (Status.UNKNOWN, "offline")


async def test_the_environment_can_say_offline(monkeypatch, chain, leaf, tmp_path):
    monkeypatch.setenv(network.OFFLINE_ENV, "1")
    net = Net(chain)
    made = RevocationOptions.from_environment(
        home=tmp_path, transport=httpx.MockTransport(net), clock=lambda: NOW
    )
    assert made.offline is True
    assert (await check_certificate(leaf, made)).detail == "offline" and net.requests == []
    monkeypatch.setenv(network.OFFLINE_ENV, "0")
    assert RevocationOptions.from_environment().offline is False


async def test_an_expired_key_is_never_asked_about(chain, tmp_path):
    old = chain.issue(not_before=NOW - 400 * DAY, not_after=NOW - DAY, pki=URLS)
    net = Net(chain)
    answer = await check_certificate(old, options(tmp_path, net, chain))
    assert net.requests == []
    assert (answer.status, answer.detail) == (Status.UNKNOWN, "certificate_expired")


async def test_the_ocsp_url_override(chain, leaf, tmp_path):
    seen = []

    def relay(request):
        seen.append(str(request.url))
        return httpx.Response(200, content=chain.answer(nonce_of(request), certificate=leaf))

    net = Net(chain, other=relay)
    made = options(tmp_path, net, chain, ocsp_url="http://relay.example/ocsp")
    answer = await check_certificate(leaf, made)
    assert answer.status is Status.GOOD and answer.origin == "http://relay.example/ocsp"
    assert seen == ["http://relay.example/ocsp"] and net.asked("ocsp") == 0


async def test_the_issuer_from_aia_when_not_at_hand(chain, leaf, tmp_path):
    net = Net(chain, ca=chain.issuing.der)
    net.answers["ocsp"] = lambda r: chain.answer(nonce_of(r), certificate=leaf)
    made = options(tmp_path, net, chain, ca_files=())
    assert (await check_certificate(leaf, made)).status is Status.GOOD
    assert net.asked("ca") == 1
    # Kept in the cache: the next check needs no download of it.
    assert (await check_certificate(leaf, made)).status is Status.GOOD
    assert net.asked("ca") == 1
    # A certificate at that address that did not issue the key is no issuer.
    impostor = Net(chain, ca=chain.other.der, ocsp=lambda r: chain.answer(nonce_of(r)))
    (tmp_path / "elsewhere").mkdir()
    made = options(tmp_path / "elsewhere", impostor, chain, ca_files=())
    answer = await check_certificate(leaf, made)
    assert (answer.status, answer.detail) == (Status.UNKNOWN, "no_issuer")


async def test_crls_are_cached_with_their_next_update(chain, leaf, tmp_path):
    net = Net(chain, ocsp=httpx.ConnectError("down"), crl=chain.crl([]), delta=404)
    made = options(tmp_path, net, chain)
    assert (await check_certificate(leaf, made)).status is Status.GOOD
    assert net.asked("crl") == 1
    folder = tmp_path / "home" / network.CACHE_FOLDER
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    files = [p for p in folder.iterdir()]
    assert files and all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in files)
    # Current in the cache: not downloaded again, and it answers even offline.
    assert (await check_certificate(leaf, made)).status is Status.GOOD
    assert net.asked("crl") == 1
    offline = options(tmp_path, Net(chain), chain, offline=True)
    assert (await check_certificate(leaf, offline)).status is Status.GOOD
    # Once its nextUpdate has passed it is downloaded again.
    later = options(tmp_path, net, chain, clock=lambda: NOW + 8 * DAY)
    await check_certificate(leaf, later)
    assert net.asked("crl") == 2


async def test_the_cache_is_size_capped(chain, leaf, tmp_path, monkeypatch):
    monkeypatch.setattr(network, "MAX_CACHE_BYTES", 8)  # room for one of the two
    cache = network.Cache(tmp_path / "cache")
    cache.put("http://a/1.crl", b"first", kind="crl", next_update=None, now=NOW)
    assert cache.get("http://a/1.crl") == (b"first", None)
    cache.put("http://a/2.crl", b"second", kind="crl", next_update=None, now=NOW + HOUR)
    assert cache.get("http://a/1.crl") is None  # the oldest went
    assert cache.get("http://a/2.crl") == (b"second", None)
    names = sorted(p.name for p in (tmp_path / "cache").iterdir())
    assert len(names) == 2 and "index.json" in names  # the first one's file is gone too


async def test_a_damaged_cache_is_no_cache(chain, leaf, tmp_path):
    folder = tmp_path / "home" / network.CACHE_FOLDER
    folder.mkdir(parents=True)
    (folder / "index.json").write_text("{not json")
    net = Net(chain, ocsp=httpx.ConnectError("down"), crl=chain.crl([]))
    assert (await check_certificate(leaf, options(tmp_path, net, chain))).status is Status.GOOD
    cache = network.Cache(folder)
    entry = cache.get(URLS.crl)
    assert entry is not None and entry[1] == NOW - HOUR + 7 * DAY
    # Bytes changed under a cached name: not used.
    for path in folder.iterdir():
        if path.suffix == ".crl":
            path.chmod(0o600)
            path.write_bytes(b"tampered")
    assert network.Cache(folder).get(URLS.crl) is None


async def test_nothing_to_ask(chain, tmp_path):
    bare = chain.issue()  # no AIA, no CDP
    net = Net(chain)
    answer = await check_certificate(bare, options(tmp_path, net, chain))
    assert (answer.status, answer.detail) == (Status.UNKNOWN, "no_source") and net.requests == []


async def test_the_clock_is_the_callers(chain, leaf, tmp_path):
    net = Net(chain)
    net.answers["ocsp"] = lambda r: chain.answer(nonce_of(r), certificate=leaf)
    made = options(tmp_path, net, chain, clock=lambda: NOW + dt.timedelta(days=2))
    answer = await check_certificate(leaf, made)
    assert (answer.status, answer.detail) == (Status.UNKNOWN, "response_stale")
