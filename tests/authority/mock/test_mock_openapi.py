"""The OpenAPI document (wizard/authority/mock/openapi.json) and the app agree: every route is
documented and every documented route exists, and schemathesis, driving the app in-process with
generated requests, finds no answer the document does not allow. (Every answer in the other test
modules is also validated against the document, by the client's response hook.)"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest
from starlette.routing import Route

from wizard.authority.mock import Faults, create_app
from wizard.authority.mock.app import openapi_document, served_document

pytestmark = pytest.mark.anyio

schemathesis = pytest.importorskip("schemathesis", reason="schemathesis (a test dependency)")
from hypothesis import HealthCheck, settings  # noqa: E402 - schemathesis brings hypothesis

FLAGS = [(True, True), (True, False), (False, False)]


def app_routes(app) -> set[tuple[str, str]]:
    return {
        (route.path, method)
        for route in app.routes
        if isinstance(route, Route)
        for method in route.methods or ()
        if method != "HEAD"  # Starlette adds it to every GET
    }


def documented_routes(document) -> set[tuple[str, str]]:
    return {
        (path, method.upper())
        for path, operations in document["paths"].items()
        for method in operations
    }


@pytest.mark.parametrize(("demo", "test_endpoints"), FLAGS)
def test_every_route_is_documented_and_every_documented_route_exists(
    tmp_path, demo, test_endpoints
):
    app = create_app(tmp_path, demo=demo, test_endpoints=test_endpoints)
    document = served_document(demo=demo, test_endpoints=test_endpoints)
    assert app_routes(app) == documented_routes(document)
    app.state.authority.close()


async def test_the_app_serves_its_own_document(desk):
    authority = await desk(demo=True, test_endpoints=False)
    served = (await authority.client.get("/v1/openapi.json")).json()
    assert served == served_document(demo=True, test_endpoints=False)
    assert not any(path.startswith("/v1/_test/") for path in served["paths"])
    assert documented_routes(openapi_document()) >= documented_routes(served)


def test_every_operation_documents_its_errors():
    for path, operations in openapi_document()["paths"].items():
        for method, operation in operations.items():
            responses = operation["responses"]
            assert operation.get("operationId") and operation.get("summary"), (path, method)
            if not path.startswith("/v1/_test/"):
                assert {"429", "5XX"} <= set(responses), (path, method)
            if "requestBody" in operation:
                assert "400" in responses and "413" in responses, (path, method)
            if operation.get("security"):
                assert "401" in responses, (path, method)


# schemathesis parametrizes at collection, so the app under test exists from import on.
_BOOKS = Path(tempfile.mkdtemp(prefix="qoltanba-openapi-"))
_APP = create_app(_BOOKS, demo=True, test_endpoints=True)
schema = schemathesis.openapi.from_asgi("/v1/openapi.json", _APP)


@pytest.fixture(scope="module", autouse=True)
def _close_the_app_under_test():
    yield
    _APP.state.authority.close()
    shutil.rmtree(_BOOKS, ignore_errors=True)


@schema.parametrize()
@settings(
    max_examples=15,
    deadline=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)
def test_generated_requests_get_documented_answers(case):
    try:
        # Valid-shaped bodies (a CMS of random bytes) are rightly refused: not a contract breach.
        case.call_and_validate(excluded_checks=[schemathesis.checks.positive_data_acceptance])
    finally:
        _APP.state.faults = Faults()  # a generated PUT /v1/_test/faults must not leak
