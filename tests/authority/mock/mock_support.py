"""Helpers for the mock authority's tests: a settable clock, demo holders, signed applications, and
a client whose every answer is checked against the OpenAPI document."""

from __future__ import annotations

import base64
import datetime as dt
import functools
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from cryptography import x509
from cryptography.x509.oid import NameOID
from starlette.applications import Starlette

from wizard.authority.interface import application_document
from wizard.authority.mock.app import served_document
from wizard.keys import cms
from wizard.keys.gost.keypair import GostKeyPair
from wizard.keys.keypair import KeyPair
from wizard.keys.request import build_request

BASE_URL = "http://authority"
MATERIAL = Path(__file__).resolve().parents[3] / ".." / "shared" / "nca-test-material"
MATERIAL_PASSWORD = "Qwerty12"  # README of the material


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def unb64(text: str) -> bytes:
    return base64.b64decode(text)


class Clock:
    """The authority's time, moved by the test."""

    def __init__(self, start: dt.datetime | None = None) -> None:
        self.now = start or dt.datetime.now(dt.UTC)

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += dt.timedelta(**delta)


def subject_for(holder: str, surname: str = "ТЕСТОВ") -> bytes:
    """An NCA-shaped subject (DOMAIN.md §5): legal entities with O and OU=BIN, G last."""
    names = [
        x509.NameAttribute(NameOID.COMMON_NAME, f"{surname} ТЕСТ"),
        x509.NameAttribute(NameOID.SURNAME, surname),
        x509.NameAttribute(NameOID.SERIAL_NUMBER, "IIN123456789011"),
        x509.NameAttribute(NameOID.COUNTRY_NAME, "KZ"),
    ]
    if holder != "individual":
        names += [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, 'АО "ТЕСТ"'),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "BIN123456789021"),
        ]
    names.append(x509.NameAttribute(NameOID.GIVEN_NAME, "ТЕСТОВИЧ"))
    return x509.Name(names).public_bytes()


@dataclass
class DemoHolder:
    """A holder's current keys and certificates, as the authority under test issued them: "auth"
    and "sign" (RSA), or one GOST key under "both", which then answers for either."""

    keys: dict[str, KeyPair]
    certificates: dict[str, bytes]
    subject: bytes
    clock: Clock

    def _usage(self, usage: str) -> str:
        return usage if usage in self.keys else "both"

    def sign(self, usage: str, data: bytes) -> bytes:
        usage = self._usage(usage)
        return cms.sign(
            data, self.keys[usage], self.certificates[usage], signing_time=self.clock.now
        )

    def serial(self, usage: str) -> str:
        der = self.certificates[self._usage(usage)]
        return format(x509.load_der_x509_certificate(der).serial_number, "x")


@functools.cache
def _openapi(demo: bool, test_endpoints: bool) -> tuple[Any, dict[str, Any]]:
    import schemathesis

    document = served_document(demo=demo, test_endpoints=test_endpoints)
    return schemathesis.openapi.from_dict(document), document


def documented(document: dict[str, Any], path: str, method: str, status: int) -> bool:
    responses = document["paths"][path][method.lower()]["responses"]
    return str(status) in responses or f"{str(status)[0]}XX" in responses


def conforming(*, demo: bool, test_endpoints: bool):
    """An httpx response hook failing the test when an answer is not what the app's OpenAPI
    document promises: a documented status with a body of the documented shape."""

    async def conforms(response: httpx.Response) -> None:
        try:
            schema, document = _openapi(demo, test_endpoints)
        except ImportError:  # schemathesis missing: test_mock_openapi says so
            return
        await response.aread()
        request = response.request
        if response.status_code == 405:
            return
        operation = schema.find_operation_by_path(request.method, request.url.path)
        if operation is None:  # a route this app does not have
            assert response.status_code == 404, f"{request.url.path} is not documented"
            return
        assert documented(document, operation.path, request.method, response.status_code), (
            f"{request.method} {operation.path} answered an undocumented {response.status_code}"
        )
        try:
            request.content  # noqa: B018 - schemathesis reads it; a streamed upload has none
        except httpx.RequestNotRead:
            copy = httpx.Response(
                response.status_code,
                headers=response.headers,
                content=response.content,
                request=httpx.Request(request.method, request.url, headers=request.headers),
            )
            copy.elapsed = response.elapsed
            response = copy
        operation.validate_response(response)

    return conforms


@dataclass
class Desk:
    """One mock authority under test and a client for it, with the steps of a renewal."""

    app: Starlette
    client: httpx.AsyncClient
    clock: Clock
    data_dir: Path
    keys: list[KeyPair] = field(default_factory=list)  # spare key pairs, taken in order

    @property
    def authority(self):
        return self.app.state.authority

    def key(self) -> KeyPair:
        return self.keys.pop(0)

    def count(self, table: str) -> int:
        return self.authority.ledger.one(f"SELECT COUNT(*) FROM {table}")[0]  # noqa: S608

    async def holder(
        self,
        kind: str = "individual",
        *,
        days_left: int = 200,
        surname: str = "ТЕСТОВ",
        email: str | None = "demo@example.kz",
    ) -> DemoHolder:
        subject = subject_for(kind, surname)
        keys = {"auth": self.key(), "sign": self.key()}
        answer = await self.client.post(
            "/v1/demo/holders",
            json={
                "scheme": "RSA",
                "holder": kind,
                "days_left": days_left,
                "requests": [
                    {"usage": usage, "csr": b64(build_request(key, subject, email=email))}
                    for usage, key in keys.items()
                ],
            },
        )
        assert answer.status_code == 201, answer.text
        certificates = {c["usage"]: unb64(c["certificate"]) for c in answer.json()["certificates"]}
        return DemoHolder(keys, certificates, subject, self.clock)

    async def login(self, holder: DemoHolder) -> dict[str, str]:
        """Authorization headers for a fresh session of ``holder``."""
        challenge = (await self.client.post("/v1/login/challenge")).json()["challenge"]
        answer = await self.client.post(
            "/v1/login", json={"cms": b64(holder.sign("auth", unb64(challenge)))}
        )
        assert answer.status_code == 200, answer.text
        return {"Authorization": f"Bearer {answer.json()['session']}"}

    async def gost_holder(
        self,
        kind: str = "individual",
        *,
        days_left: int = 200,
        surname: str = "ТЕСТОВ",
        email: str | None = "demo@example.kz",
    ) -> DemoHolder:
        """A demo holder of the current scheme: one GOST 2015 512 key for login and signing."""
        subject = subject_for(kind, surname)
        key = GostKeyPair.generate()
        answer = await self.client.post(
            "/v1/demo/holders",
            json={
                "scheme": "GOST 2015 512",
                "holder": kind,
                "days_left": days_left,
                "requests": [
                    {"usage": "both", "csr": b64(build_request(key, subject, email=email))}
                ],
            },
        )
        assert answer.status_code == 201, answer.text
        (issued,) = answer.json()["certificates"]
        assert issued["usage"] == "both"
        return DemoHolder(
            {"both": key}, {"both": unb64(issued["certificate"])}, subject, self.clock
        )

    def new_keys(self) -> dict[str, KeyPair]:
        return {"auth": self.key(), "sign": self.key()}

    def document(
        self,
        holder: DemoHolder,
        new: dict[str, KeyPair],
        *,
        key: str = "",
        email: str = "demo@example.kz",
        locality: str = "Астана",
        storage: str = "pkcs12",
        subject: bytes | None = None,
        requests: list[tuple[str, bytes]] | None = None,
        current: list[tuple[str, bytes]] | None = None,
    ) -> bytes:
        """The application JSON (interface.application_document), with any part replaced."""
        subject = subject or holder.subject
        return application_document(
            idempotency_key=key or str(uuid.uuid4()),
            email=email,
            locality=locality,
            storage=storage,
            requests=requests
            if requests is not None
            else [(u, build_request(k, subject, email=email)) for u, k in sorted(new.items())],
            current_certificates=current
            if current is not None
            else sorted(holder.certificates.items()),
        )

    async def submit(
        self,
        holder: DemoHolder,
        headers: dict[str, str],
        document: bytes,
        *,
        key: str | None = None,
        signer: str = "sign",
    ) -> httpx.Response:
        return await self.client.post(
            "/v1/applications",
            json={"cms": b64(holder.sign(signer, document))},
            headers={**headers, "Idempotency-Key": key or str(uuid.uuid4())},
        )

    async def code(self, number: str) -> str:
        messages = (await self.client.get(f"/v1/demo/outbox/{number}")).json()["messages"]
        assert messages, "no code was sent"
        return messages[-1]["code"]

    async def confirm(
        self, number: str, headers: dict[str, str], code: str, key: str | None = None
    ) -> httpx.Response:
        return await self.client.post(
            f"/v1/applications/{number}/confirm",
            json={"code": code},
            headers={**headers, "Idempotency-Key": key or str(uuid.uuid4())},
        )

    async def status(self, number: str, headers: dict[str, str]) -> httpx.Response:
        return await self.client.get(f"/v1/applications/{number}", headers=headers)

    async def filed(self, holder: DemoHolder | None = None, **document: Any):
        """A holder logged in with an application awaiting its code: (holder, headers, number,
        new keys)."""
        holder = holder or await self.holder()
        headers = await self.login(holder)
        new = self.new_keys()
        answer = await self.submit(holder, headers, self.document(holder, new, **document))
        assert answer.status_code == 201, answer.text
        return holder, headers, answer.json()["number"], new


def wrong_code(code: str) -> str:
    return "000000" if code != "000000" else "111111"
