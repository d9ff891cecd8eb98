"""Is my key still good? Revocation asked where the certificate says: its OCSP responder (AIA),
its CRLs and delta CRLs (CRL Distribution Points, Freshest CRL), and the issuing CA's certificate
(AIA caIssuers) when it is not at hand. The core judges every answer (`wizard.keys.ocsp`,
`wizard.keys.revocation`); this module only fetches, outside the core, through httpx.

The order: CRLs and CA certificates at hand (beside the store, a folder given with ``--crl``,
Qoltanba's own copies of the NCA's CAs, and the cache) are always read; then, when the network
may be used, the OCSP responder is asked (``--ocsp-url`` overrides the certificate's, for tests
and for organisations that reach it through their own relay), and if it gives no answer that
verifies, the CRLs are downloaded (those in the cache and still current are not). The first
answer that verifies, good or revoked, is the answer; otherwise it is ``unknown`` and ``detail``
says the most telling reason (an OCSP answer that came but did not verify, then what the CRLs
lacked, then why the network failed).

Offline policy (DESIGN.md: offline first). No network, or ``--offline`` / QOLTANBA_OFFLINE=1:
only what is at hand is read, and without a current CRL the answer is ``unknown (offline)``.
What the renewal does with the answer:

- ``revoked``: refused at once (NotRenewable ``revoked``, exit 5), before any key is generated,
  with what to do instead (a new application on egov.kz or at a ЦОН);
- ``unknown``: the renewal goes on, and says so in one line: the authority checks revocation
  itself when the application arrives and refuses a revoked key (``certificate_revoked``), so
  nothing is lost by going on, while refusing would stop every renewal made offline;
- ``good``: the renewal goes on.
An expired (or not yet valid) certificate is never asked about over the network: it cannot be
renewed whatever its status.

Bounds: one request at most REQUEST_TIMEOUT seconds, the whole check at most CHECK_DEADLINE; a
body beyond its cap (OCSP 64 KiB, CRL 4 MiB, CA certificate 256 KiB) is cut off and refused;
only http(s) URLs, no redirects followed, no compressed bodies. Proxies come from the usual
environment (HTTP_PROXY, HTTPS_PROXY, NO_PROXY), as httpx reads them.

Cache: downloaded CRLs and CA certificates are kept under ``$QOLTANBA_HOME/revocation`` (0700;
files 0600, written atomically) with the CRL's nextUpdate, at most MAX_CACHE_BYTES in all (the
oldest go first). A cached CRL still current is used instead of downloading it again; a stale one
still proves a revocation.

The in-process demo authority answers without a socket: URLs on its host (connect.DEMO_BASE_URL)
go to the mock's ASGI app over httpx's ASGI transport, on the books in
``$QOLTANBA_HOME/demo-authority`` (and only when those books exist).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import os
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from cryptography import x509

from wizard import __version__
from wizard.errors import QoltanbaError
from wizard.keys import ocsp
from wizard.keys.certificate import CERTIFICATE_ERRORS, load_certificate
from wizard.keys.revocation import (
    MAX_CA_BYTES,
    MAX_CRL_BYTES,
    Attempt,
    Revocation,
    issuers_of,
    load_crl,
    material_in,
    material_near,
    read_ca_files,
    read_crl_files,
    shipped_issuers,
    unknown,
)

if TYPE_CHECKING:
    from wizard.keys.store import KeyStore

OFFLINE_ENV = "QOLTANBA_OFFLINE"
OCSP_URL_ENV = "QOLTANBA_OCSP_URL"
REQUEST_TIMEOUT = 5.0  # seconds, one request
CHECK_DEADLINE = 12.0  # seconds, the whole check of one certificate
CACHE_FOLDER = "revocation"
MAX_CACHE_BYTES = 32 << 20
MAX_CACHE_ENTRIES = 256
MAX_OCSP_URLS = 2
# Why a fetch gave nothing: the network's words, which rank below any answer that came.
NETWORK_DETAILS = ("offline", "timeout", "http_error", "response_too_large")


def offline_by_environment(environ: dict[str, str] | None = None) -> bool:
    value = (environ if environ is not None else os.environ).get(OFFLINE_ENV, "")
    return value.strip().lower() not in ("", "0", "false", "no")


@dataclass(frozen=True)
class RevocationOptions:
    """How to check: where the cache and the demo's books are (``home``), whether the network
    may be used, an OCSP responder instead of the certificate's, more CRL / CA files."""

    home: Path | None = None
    offline: bool = False
    ocsp_url: str | None = None
    crl_files: tuple[Path, ...] = ()
    ca_files: tuple[Path, ...] = ()
    timeout: float = REQUEST_TIMEOUT
    deadline: float = CHECK_DEADLINE
    transport: Any = None  # an httpx.AsyncBaseTransport for every host but the demo's (tests)
    engine_in_thread: bool = False  # the in-process demo's engine off the caller's loop (a UI)
    demo_app: Any = None  # the in-process demo already open (its adapter's): asked, not a new one
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))

    @classmethod
    def from_environment(cls, **values: Any) -> RevocationOptions:
        """Options with QOLTANBA_OFFLINE and QOLTANBA_OCSP_URL applied where not given."""
        if offline_by_environment():
            values["offline"] = True
        if values.get("ocsp_url") is None and os.environ.get(OCSP_URL_ENV):
            values["ocsp_url"] = os.environ[OCSP_URL_ENV]
        return cls(**values)

    def with_paths(self, paths: Iterable[Path]) -> RevocationOptions:
        """These options with CRL files and folders (their *.crl, and CA certificates in ca/)."""
        crls, cas = list(self.crl_files), list(self.ca_files)
        for path in paths:
            if path.is_dir():
                found_crls, found_cas = material_in(path)
                crls += found_crls
                cas += found_cas
            else:
                crls.append(path)
        return replace(self, crl_files=tuple(crls), ca_files=tuple(cas))


# --- the cache ----------------------------------------------------------------------------------


class Cache:
    """Downloaded CRLs and CA certificates by URL, with the CRL's nextUpdate; best effort: a cache
    that cannot be written is no cache, never an error."""

    def __init__(self, folder: Path | None) -> None:
        self.folder = folder

    def _index(self) -> dict[str, dict[str, Any]]:
        if self.folder is None:
            return {}
        from wizard.keys.safe_read import read_regular_file

        try:
            data = json.loads(read_regular_file(self.folder / "index.json", 1 << 20))
            entries = data["entries"]
            return entries if isinstance(entries, dict) else {}
        except Exception:
            return {}

    def get(self, url: str) -> tuple[bytes, datetime | None] | None:
        entry = self._index().get(url)
        if self.folder is None or not isinstance(entry, dict):
            return None
        from wizard.keys.safe_read import read_regular_file

        try:
            data = read_regular_file(self.folder / str(entry["file"]), MAX_CRL_BYTES)
            if hashlib.sha256(data).hexdigest() != entry["file"].split(".")[0]:
                return None
            next_update = entry.get("next_update")
            return data, datetime.fromisoformat(next_update) if next_update else None
        except Exception:
            return None

    def cas(self) -> list[x509.Certificate]:
        found = []
        for url, entry in self._index().items():
            if isinstance(entry, dict) and entry.get("kind") == "ca":
                got = self.get(url)
                if got is not None:
                    with contextlib.suppress(Exception):
                        found.append(load_certificate(got[0]))
        return found

    def put(self, url: str, data: bytes, *, kind: str, next_update: datetime | None, now) -> None:
        if self.folder is None:
            return
        with contextlib.suppress(Exception):  # a cache that cannot be written is no cache
            self._put(url, data, kind, next_update, now)

    def _put(self, url: str, data: bytes, kind: str, next_update, now: datetime) -> None:
        from wizard.keys.files import FOLDER_MODE, write_new_file

        folder = self.folder
        assert folder is not None
        folder.mkdir(mode=FOLDER_MODE, parents=True, exist_ok=True)
        name = f"{hashlib.sha256(data).hexdigest()}.{kind}"
        if not (folder / name).exists():
            write_new_file(folder, name, data)
        entries = self._index()
        entries[url] = {
            "file": name,
            "kind": kind,
            "size": len(data),
            "next_update": next_update.isoformat() if next_update else None,
            "stored_at": now.isoformat(),
        }
        ordered = sorted(entries.items(), key=lambda item: str(item[1].get("stored_at")))
        total = sum(int(e.get("size") or 0) for _, e in ordered)
        while ordered and (total > MAX_CACHE_BYTES or len(ordered) > MAX_CACHE_ENTRIES):
            _, dropped = ordered.pop(0)
            total -= int(dropped.get("size") or 0)
        kept = dict(ordered)
        temporary = write_new_file(
            folder, f"index-{secrets.token_hex(8)}.json", json.dumps({"entries": kept}).encode()
        )
        os.replace(temporary, folder / "index.json")
        referenced = {str(e.get("file")) for e in kept.values()} | {"index.json"}
        for entry in folder.iterdir():
            stale_index = entry.name.startswith("index-") and entry.name.endswith(".json")
            ours = stale_index or "." in entry.name[1:]
            if entry.name not in referenced and ours and not entry.name.startswith("."):
                with contextlib.suppress(OSError):
                    entry.unlink()


# --- the network ----------------------------------------------------------------------------------


def _demo_host() -> str:
    from wizard.authority.connect import DEMO_BASE_URL

    return urlsplit(DEMO_BASE_URL).hostname or ""


class _Network:
    """httpx with our bounds (proxies from the environment, as httpx reads them); URLs on the
    demo's host go to the in-process mock instead, over httpx's ASGI transport."""

    def __init__(self, options: RevocationOptions) -> None:
        # httpx is imported and the clients made on first use: an offline check never loads
        # them, and a real client (TLS, a socket backend: tens of ms) is never made for a demo
        # renewal, whose answers come from the in-process authority
        self._options = options
        self._httpx: Any = None
        self._common: dict[str, Any] = {}
        self._client: Any = None
        self._demo_app: Any = None
        self._demo_client: Any = None

    def _load(self) -> Any:
        if self._httpx is None:
            from wizard.authority.httpx_lean import httpx

            self._httpx = httpx
            self._common = {
                "timeout": httpx.Timeout(self._options.timeout),
                "follow_redirects": False,
                "headers": {
                    "User-Agent": f"Qoltanba/{__version__}",
                    "Accept-Encoding": "identity",
                },
            }
        return self._httpx

    def _client_for(self, url: str) -> Any:
        self._load()
        if urlsplit(url).hostname != _demo_host():
            if self._client is None:
                transport = self._options.transport
                self._client = self._httpx.AsyncClient(transport=transport, **self._common)
            return self._client
        if self._demo_client is None and self._options.demo_app is not None:
            transport = self._httpx.ASGITransport(app=self._options.demo_app)
            self._demo_client = self._httpx.AsyncClient(transport=transport, **self._common)
        if self._demo_client is None:
            home = self._options.home
            books = home / "demo-authority" if home is not None else None
            if books is None or not (books / "authority.sqlite3").is_file():
                return None  # no demo authority on this device: nobody to ask
            from wizard.authority.connect import trusted_paths
            from wizard.authority.mock import create_app

            self._demo_app = create_app(
                books,
                trusted=trusted_paths(),
                demo=True,
                engine_in_thread=self._options.engine_in_thread,
            )
            transport = self._httpx.ASGITransport(app=self._demo_app)
            self._demo_client = self._httpx.AsyncClient(transport=transport, **self._common)
        return self._demo_client

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
        if self._demo_client is not None:
            await self._demo_client.aclose()
        if self._demo_app is not None:
            self._demo_app.state.authority.close()

    async def fetch(
        self, method: str, url: str, cap: int, content: bytes | None, remaining: float
    ) -> tuple[bytes | None, str]:
        """The body, or None and why (a NETWORK_DETAILS code)."""
        httpx = self._load()
        if remaining <= 0:
            return None, "timeout"
        headers = {"Content-Type": "application/ocsp-request"} if content is not None else {}
        try:
            client = self._client_for(url)
            if client is None:
                return None, "offline"
            async with asyncio.timeout(min(remaining, self._options.timeout * 2)):
                request = client.build_request(method, url, content=content, headers=headers)
                response = await client.send(request, stream=True)
                try:
                    if response.status_code != 200:
                        return None, "http_error"
                    encoding = response.headers.get("Content-Encoding", "identity").lower()
                    if encoding not in ("", "identity"):
                        return None, "http_error"
                    declared = response.headers.get("Content-Length", "")
                    if declared.isdigit() and (len(declared) > 12 or int(declared) > cap):
                        return None, "response_too_large"
                    body = bytearray()
                    async for chunk in response.aiter_bytes():  # identity: as sent
                        body += chunk
                        if len(body) > cap:
                            return None, "response_too_large"
                    return bytes(body), ""
                finally:
                    await response.aclose()
        except TimeoutError:
            return None, "timeout"
        except httpx.TimeoutException:
            return None, "timeout"
        except (httpx.HTTPError, httpx.InvalidURL, OSError, ValueError, QoltanbaError):
            return None, "offline"  # no route, no name, or no demo books that can be opened


def _usable_url(url: str | None) -> bool:
    try:
        parts = urlsplit(url or "")
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname) and not parts.username


# --- the check ----------------------------------------------------------------------------------


async def check_certificate(
    certificate: x509.Certificate,
    options: RevocationOptions,
    *,
    crl_files: Iterable[Path] = (),
    ca_files: Iterable[Path] = (),
    network: _Network | None = None,
) -> Revocation:
    """The revocation status of ``certificate`` (module docstring: what is asked, in which order,
    and how an unknown's reason is chosen). Never raises for what the network or the files do.
    ``network``: shared by several checks (one client, one demo); the caller closes it."""
    checker = _Check(certificate, options, list(crl_files), list(ca_files), network)
    try:
        return await checker.run()
    finally:
        if network is None:
            await checker.close()


class _Check:
    def __init__(
        self,
        certificate,
        options: RevocationOptions,
        crl_files,
        ca_files,
        network: _Network | None = None,
    ) -> None:
        self.certificate = certificate
        self.options = options
        self.now = options.clock()
        self.cache = Cache(options.home / CACHE_FOLDER if options.home is not None else None)
        self.attempts: list[Attempt] = []
        self.crl_files = [*crl_files, *options.crl_files]
        self.ca_files = [*ca_files, *options.ca_files]
        self._network: _Network | None = network
        self._deadline: float | None = None

    async def close(self) -> None:
        if self._network is not None:
            await self._network.aclose()

    def _remaining(self) -> float:
        loop = asyncio.get_running_loop()
        if self._deadline is None:
            self._deadline = loop.time() + self.options.deadline
        return self._deadline - loop.time()

    async def _fetch(self, method: str, url: str, cap: int, content: bytes | None = None):
        if self._network is None:
            self._network = _Network(self.options)
        return await self._network.fetch(method, url, cap, content, self._remaining())

    async def run(self) -> Revocation:
        certificate, now = self.certificate, self.now
        self._remaining()  # the deadline starts now
        candidates = [*read_ca_files(self.ca_files), *shipped_issuers(), *self.cache.cas()]
        crls = read_crl_files(self.crl_files)
        urls = ocsp.crl_urls(certificate)
        fresh: set[str] = set()
        for url in urls:
            cached = self.cache.get(url)
            if cached is not None:
                crls.append((url, cached[0]))
                if cached[1] is not None and cached[1] > now:
                    fresh.add(url)
        try:
            valid_now = certificate.not_valid_before_utc <= now < certificate.not_valid_after_utc
        except CERTIFICATE_ERRORS:
            valid_now = False
        online = not self.options.offline and valid_now
        issuers = issuers_of(certificate, candidates)
        if online and not issuers:
            issuers = await self._issuer_from_aia()
        ocsp_answer: Revocation | None = None
        if online:
            ocsp_answer = await self._ask_responders(issuers)
            if ocsp_answer is not None and ocsp_answer.checked:
                return ocsp_answer.with_attempts(self.attempts)
            for url in urls:
                if url in fresh:
                    continue
                data, why = await self._fetch("GET", url, MAX_CRL_BYTES)
                if data is None:
                    self.attempts.append(Attempt("crl", url, why))
                    continue
                crls.append((url, data))
                crl = load_crl(data)
                if crl is not None:
                    self.cache.put(url, data, kind="crl", next_update=_next(crl), now=now)
        from wizard.keys.revocation import crl_status

        crl_answer, crl_attempts = crl_status(certificate, crls, [*issuers, *candidates], now=now)
        self.attempts += crl_attempts
        if crl_answer.checked:
            return crl_answer.with_attempts(self.attempts)
        return self._unknown(ocsp_answer, crl_answer, valid_now, bool(urls)).with_attempts(
            self.attempts
        )

    async def _issuer_from_aia(self) -> list[x509.Certificate]:
        for url in ocsp.ca_issuer_urls(self.certificate):
            data, why = await self._fetch("GET", url, MAX_CA_BYTES)
            if data is None:
                self.attempts.append(Attempt("ca", url, why))
                continue
            try:
                candidate = load_certificate(data)
            except Exception:
                self.attempts.append(Attempt("ca", url, "response_malformed"))
                continue
            if issuers_of(self.certificate, [candidate]):
                self.cache.put(url, data, kind="ca", next_update=None, now=self.now)
                return [candidate]
            self.attempts.append(Attempt("ca", url, "no_issuer"))
        return []

    async def _ask_responders(self, issuers: list[x509.Certificate]) -> Revocation | None:
        given = self.options.ocsp_url
        urls = [given] if given else ocsp.responder_urls(self.certificate)
        urls = [u for u in urls if _usable_url(u)][:MAX_OCSP_URLS]
        if not urls:
            return None
        if not issuers:
            self.attempts.append(Attempt("ocsp", urls[0], "no_issuer"))
            return unknown("no_issuer", source="ocsp", origin=urls[0], now=self.now)
        answer: Revocation | None = None
        for url in urls:
            request = ocsp.build_request(self.certificate, issuers[0])
            data, why = await self._fetch("POST", url, ocsp.MAX_RESPONSE_BYTES, request.der)
            if data is None:
                answer = unknown(why, source="ocsp", origin=url, now=self.now)
            else:
                answer = ocsp.verify_response(
                    data, request, self.certificate, issuers[0], now=self.options.clock(), url=url
                )
            self.attempts.append(Attempt("ocsp", url, answer.detail))
            if answer.checked:
                return answer
        return answer

    def _unknown(
        self, ocsp_answer: Revocation | None, crl_answer: Revocation, valid_now: bool, urls: bool
    ) -> Revocation:
        now = self.now
        if ocsp_answer is not None and ocsp_answer.detail not in (*NETWORK_DETAILS, "no_issuer"):
            return ocsp_answer  # an answer came and did not verify: the most telling
        if crl_answer.detail not in ("no_crl", "not_checked"):
            return crl_answer
        if not valid_now:
            return unknown("certificate_expired", now=now)
        if any(a.source == "ca" and a.detail == "no_issuer" for a in self.attempts):
            return unknown("no_issuer", source="none", now=now)  # a CA came, not the issuer
        network = [a for a in self.attempts if a.detail in NETWORK_DETAILS]
        if network:  # nothing came back: offline, or the servers failed
            first = network[0]
            return unknown(first.detail, source="none", origin=first.origin, now=now)
        if ocsp_answer is not None:
            return ocsp_answer
        has_responder = bool(self.options.ocsp_url or ocsp.responder_urls(self.certificate))
        if self.options.offline and (has_responder or urls):
            return unknown("offline", now=now)
        return unknown("no_source", now=now)


def _next(crl: x509.CertificateRevocationList) -> datetime | None:
    try:
        return crl.next_update_utc
    except CERTIFICATE_ERRORS:
        return None


async def check_store(
    store: KeyStore, options: RevocationOptions, network: _Network | None = None
) -> KeyStore:
    """``store`` with its revocation checked as `check_certificate` does, beside its file too."""
    crls: list[Path] = []
    cas: list[Path] = []
    if store.path is not None:
        crls, cas = material_near(store.path)
    answer = await check_certificate(
        store.certificate, options, crl_files=crls, ca_files=cas, network=network
    )
    if store.revocation.checked and not answer.checked:
        answer = store.revocation  # what the store's own CRLs said stands
    return replace(store, revocation=answer)


async def check_stores(stores: Iterable[KeyStore], options: RevocationOptions) -> list[KeyStore]:
    """Every store checked at once, through one network (one client, one in-process demo)."""
    network = _Network(options)
    try:
        return list(await asyncio.gather(*(check_store(s, options, network) for s in stores)))
    finally:
        await network.aclose()


def signed_revocation(stores: Iterable[KeyStore], reason: str = "superseded") -> bytes:
    """The holder's request to revoke these stores' certificates (`RevokingAuthority`): the
    revocation document, signed (CMS) with the first store that can sign — the GOST key, or the
    RSA signing key — whose certificate it names."""
    from wizard.authority.interface import revocation_document
    from wizard.errors import UsageError
    from wizard.keys import cms

    chosen = list(stores)
    signers = [s for s in chosen if s.private_key is not None and "sign" in s.facts.usage]
    if not signers:
        raise UsageError(detail="no current key that can sign the revocation")
    signer = signers[0]
    document = revocation_document([s.contents.certificates[0] for s in chosen], reason)
    return cms.sign(
        document,
        signer.private_key,  # type: ignore[arg-type]
        signer.contents.certificates[0],
        signing_time=datetime.now(UTC),
    )
