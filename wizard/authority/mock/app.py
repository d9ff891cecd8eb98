"""The mock authority as a Starlette ASGI app: the HTTP API of `wizard.authority.interface`.

Thin on purpose: each route reads the request, calls `MockAuthority`, and writes JSON. The same app
runs in-process (httpx's ASGI transport, no socket: demo mode on a phone) or served by uvicorn.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Iterable
from datetime import datetime
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import anyio
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .engine import Answer, MockAuthority
from .faults import BodyLimitMiddleware, FaultMiddleware, Faults
from .problems import Problem, bad_request
from .settings import Settings

OPENAPI_RESOURCE = "openapi.json"
DEMO_PREFIX = "/v1/demo/"
TEST_PREFIX = "/v1/_test/"


@cache
def openapi_document() -> dict[str, Any]:
    """The hand-written OpenAPI document shipped beside this module (every route there is)."""
    text = resources.files(__package__).joinpath(OPENAPI_RESOURCE).read_text(encoding="utf-8")
    return json.loads(text)


def served_document(*, demo: bool, test_endpoints: bool) -> dict[str, Any]:
    """The document for one app: without the demo or test routes it does not have."""
    document = json.loads(json.dumps(openapi_document()))
    for path in list(document["paths"]):
        if (path.startswith(DEMO_PREFIX) and not demo) or (
            path.startswith(TEST_PREFIX) and not test_endpoints
        ):
            del document["paths"][path]
    return document


def _authority(request: Request) -> MockAuthority:
    return request.app.state.authority


async def _body(request: Request) -> Any:
    raw = await request.body()
    if not raw:
        return None
    try:
        return json.loads(raw)
    except (UnicodeDecodeError, ValueError):
        raise bad_request("the body is not JSON") from None


def _bearer(request: Request) -> str | None:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


def _answer(answer: Answer) -> JSONResponse:
    return JSONResponse(answer.body, answer.status, answer.headers)


async def _off_loop(request: Request, work: Callable[..., Any], *args: Any) -> Any:
    """Engine work (SQLite, signatures) in a worker thread, so that an in-process UI loop never
    waits; or right here when the app was made with ``engine_in_thread=False`` (a command line
    has no loop to keep responsive, and a thread per request costs it time)."""
    if not request.app.state.engine_in_thread:
        return work(*args)
    return await anyio.to_thread.run_sync(functools.partial(work, *args))


async def authority_info(request: Request) -> Response:
    return JSONResponse(_authority(request).info())


async def openapi(request: Request) -> Response:
    state = request.app.state
    return JSONResponse(served_document(demo=state.demo, test_endpoints=state.test_endpoints))


async def login_challenge(request: Request) -> Response:
    return JSONResponse(await _off_loop(request, _authority(request).challenge))


async def login(request: Request) -> Response:
    return JSONResponse(await _off_loop(request, _authority(request).login, await _body(request)))


async def submit(request: Request) -> Response:
    body = await _body(request)
    key = request.headers.get("idempotency-key")
    return _answer(
        await _off_loop(request, _authority(request).submit, _bearer(request), key, body)
    )


async def confirm(request: Request) -> Response:
    body = await _body(request)
    key = request.headers.get("idempotency-key")
    number = request.path_params["number"]
    engine = _authority(request)
    return _answer(await _off_loop(request, engine.confirm, _bearer(request), number, key, body))


async def status(request: Request) -> Response:
    number = request.path_params["number"]
    return _answer(await _off_loop(request, _authority(request).status, _bearer(request), number))


async def certificates(request: Request) -> Response:
    number = request.path_params["number"]
    return _answer(
        await _off_loop(request, _authority(request).certificates, _bearer(request), number)
    )


async def demo_outbox(request: Request) -> Response:
    return JSONResponse(
        await _off_loop(request, _authority(request).outbox, request.path_params["number"])
    )


async def demo_holders(request: Request) -> Response:
    return _answer(await _off_loop(request, _authority(request).demo_holder, await _body(request)))


async def test_faults(request: Request) -> Response:
    state = request.app.state
    if request.method == "PUT":
        try:
            state.faults = Faults.from_json(await _body(request))
        except ValueError as exc:
            raise bad_request(str(exc)) from None
    elif request.method == "DELETE":
        state.faults = Faults()
    return JSONResponse(state.faults.as_json())


async def test_revocations(request: Request) -> Response:
    return JSONResponse(await _off_loop(request, _authority(request).revoke, await _body(request)))


def _publisher(request: Request):
    from .revocation import Publisher

    return Publisher(_authority(request))


async def pki_ocsp(request: Request) -> Response:
    from .revocation import OCSP_RESPONSE_TYPE

    body = await request.body()
    if not body:
        raise bad_request("the body is a DER OCSPRequest")
    answer = await _off_loop(request, _publisher(request).ocsp, body)
    return Response(answer, 200, media_type=OCSP_RESPONSE_TYPE)


async def pki_crl(request: Request) -> Response:
    from .revocation import CRL_TYPE

    role = request.path_params["ca"]
    delta = request.url.path.endswith("/delta")
    answer = await _off_loop(request, functools.partial(_publisher(request).crl, delta=delta), role)
    return Response(answer, 200, media_type=CRL_TYPE)


async def pki_ca(request: Request) -> Response:
    from .revocation import CERTIFICATE_TYPE

    answer = _publisher(request).ca_certificate(request.path_params["ca"])
    return Response(answer, 200, media_type=CERTIFICATE_TYPE)


async def holder_revocations(request: Request) -> Response:
    body = await _body(request)
    return JSONResponse(await _off_loop(request, _publisher(request).holder_revoke, body))


async def _problem(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, Problem)
    return JSONResponse(exc.body, exc.status, exc.headers)


_HTTP_ERRORS = {404: "not_found", 405: "method_not_allowed"}


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    body = {"error": _HTTP_ERRORS.get(exc.status_code, "http_error"), "message": exc.detail}
    return JSONResponse(body, exc.status_code, dict(exc.headers or {}))


async def _internal(request: Request, exc: Exception) -> Response:
    body = {"error": "internal", "message": "the authority failed; try again later"}
    return JSONResponse(body, 500)


def routes(*, demo: bool, test_endpoints: bool) -> list[Route]:
    found = [
        Route("/v1/authority", authority_info, methods=["GET"]),
        Route("/v1/openapi.json", openapi, methods=["GET"]),
        Route("/v1/login/challenge", login_challenge, methods=["POST"]),
        Route("/v1/login", login, methods=["POST"]),
        Route("/v1/applications", submit, methods=["POST"]),
        Route("/v1/applications/{number}", status, methods=["GET"]),
        Route("/v1/applications/{number}/confirm", confirm, methods=["POST"]),
        Route("/v1/applications/{number}/certificates", certificates, methods=["GET"]),
        Route("/v1/revocations", holder_revocations, methods=["POST"]),
        Route("/v1/pki/ocsp", pki_ocsp, methods=["POST"]),
        Route("/v1/pki/crl/{ca}", pki_crl, methods=["GET"]),
        Route("/v1/pki/crl/{ca}/delta", pki_crl, methods=["GET"]),
        Route("/v1/pki/ca/{ca}", pki_ca, methods=["GET"]),
    ]
    if demo:
        found += [
            Route("/v1/demo/outbox/{number}", demo_outbox, methods=["GET"]),
            Route("/v1/demo/holders", demo_holders, methods=["POST"]),
        ]
    if test_endpoints:
        found += [
            Route("/v1/_test/faults", test_faults, methods=["GET", "PUT", "DELETE"]),
            Route("/v1/_test/revocations", test_revocations, methods=["POST"]),
        ]
    return found


def create_app(
    data_dir: Path | str,
    *,
    trusted: Iterable[Path | str] = (),
    demo: bool = True,
    test_endpoints: bool = False,
    clock: Callable[[], datetime] | None = None,
    settings: Settings | None = None,
    engine_in_thread: bool = True,
    **overrides: Any,
) -> Starlette:
    """The mock authority keeping its books in ``data_dir`` (created, with the DEMO CAs, on first
    start). ``trusted``: extra CA certificate files or folders and CRL files it accepts;
    ``overrides``: any `Settings` field (``processing_time=5``, ``head_delay=2``, ...).
    ``engine_in_thread``: run the engine's blocking work in a worker thread (a UI's loop stays
    responsive); False runs it on the loop itself (the command line: no thread to hand over to).

    In-process handles: ``app.state.authority`` (the engine), ``app.state.faults`` (a `Faults`,
    replace or change it to misbehave), ``app.state.settings``."""
    chosen = (settings or Settings()).replace(**overrides)
    app = Starlette(
        routes=routes(demo=demo, test_endpoints=test_endpoints),
        middleware=[
            Middleware(FaultMiddleware),
            Middleware(BodyLimitMiddleware, limit=chosen.body_limit),
        ],
        exception_handlers={Problem: _problem, HTTPException: _http_error, Exception: _internal},
    )
    app.state.faults = Faults()
    app.state.settings = chosen
    app.state.demo = demo
    app.state.test_endpoints = test_endpoints
    app.state.engine_in_thread = engine_in_thread
    app.state.authority = MockAuthority(
        Path(data_dir),
        trusted=trusted,
        demo=demo,
        clock=clock,
        settings=chosen,
        faults=lambda: app.state.faults,
    )
    return app
