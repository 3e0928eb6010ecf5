"""The running app (prod mode, `app_url`) and the hand-written contract in openapi/openapi.yaml agree.

* every FastAPI route is a contract operation and every contract operation is served (none pending);
* `/api/openapi.json` is the YAML document itself and `/api/docs` renders it with local Swagger assets;
* schemathesis drives every operation (except the endless SSE stream, tested by hand below) with
  generated valid and invalid requests and checks status codes, media types, bodies and headers.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
import yaml
from fastapi.routing import APIRoute
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from starlette.routing import Route

from inventory_app.api.fallback import CATCH_ALL_PATHS
from tests.conftest import RUN_ID
from tests.integration.helpers import assert_matches_contract
from tests.support import run_async

ROOT = Path(__file__).resolve().parents[2]
SPEC_PATH = ROOT / "openapi" / "openapi.yaml"
HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")

# Operations the contract declares but the app does not implement yet (they answer 501), by operationId
# with a reason. Every route is implemented now, so this stays empty; an entry is reported as pending
# (not failed) by the tests below, and `test_no_operation_is_pending` (last in this module) fails while
# any is listed, so a pending operation can never pass unnoticed.
PENDING_OPERATIONS: dict[str, str] = {}

# Routes FastAPI serves that are not API operations, with the reason they are not in the contract.
UNDOCUMENTED_ROUTES: dict[tuple[str, str], str] = {
    # Swagger UI's own JS/CSS/favicon for /api/docs (include_in_schema=False): static files of the
    # documentation page, not part of the API.
    ("get", "/api/docs/static/{name}"): "Swagger UI assets of /api/docs",
}

# Checks run on every generated request. Left out on purpose:
# * negative_data_rejection: the contract's request schemas are stricter than the server for inputs
#   the server deliberately tolerates (e.g. an `If-Match` of `3` or `"3"`, extra query parameters);
# * positive_data_acceptance: valid requests legitimately fail on state (random product ids → 404,
#   an existing SKU → 409, a stale If-Match → 412, selling more than is in stock → 409);
# * use_after_free / ensure_resource_availability: stateful checks (stateful links are not described);
# * ignored_auth: replaced by the unauthenticated run below, which asserts the 401 itself;
# * unsupported_method: a wrong method on an /api path falls through to Reflex's catch-all frontend
#   mount, which answers a plain-text 405 outside the API's error mapping (not part of the contract).
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
]


def _spec() -> dict[str, Any]:
    spec: dict[str, Any] = yaml.safe_load(SPEC_PATH.read_text(encoding="utf-8"))
    return spec


def _contract_operations() -> dict[tuple[str, str], str]:
    return {
        (method, path): operation["operationId"]
        for path, item in _spec()["paths"].items()
        for method, operation in item.items()
        if method in HTTP_METHODS
    }


def _served_routes() -> Iterator[tuple[str, str]]:
    """(method, path) of every API route, HEAD ignored (Starlette adds it to every GET). The hottest
    operations are plain Starlette routes on the API's routers (api/routes/products.py): counted too."""
    from inventory_app.api.app import create_api

    routes: list[Any] = list(create_api().routes)
    try:  # FastAPI >= 0.16x keeps included routers as `_IncludedRouter` nodes: flatten them
        from fastapi.routing import iter_route_contexts
    except ImportError:  # pragma: no cover - older FastAPI flattens routes itself
        pass
    else:
        routes = [context.original_route for context in iter_route_contexts(routes)]
    for route in routes:
        if isinstance(route, APIRoute | Route) and route.path not in CATCH_ALL_PATHS:  # those answer 404/405
            for method in (route.methods or set()) - {"HEAD"}:
                yield method.lower(), route.path


# Every authenticated request of this module is made by an admin of its own (it may call every operation,
# and what the generated requests do to it — sign-outs, password attempts — touches no other test).
CALLER: dict[str, str] = {}


@pytest.fixture(scope="module", autouse=True)
def contract_caller(stack: Any) -> None:
    from inventory_app.adapters.pg_pool import close_pool
    from inventory_app.domain.identity import SYSTEM
    from inventory_app.services import identity

    email = f"contract-{RUN_ID}@tests.example"

    async def create() -> str:
        try:
            await identity.create_user(
                {"email": email, "role": "admin", "password": f"contract password {RUN_ID}"}, by=SYSTEM
            )
            return (await identity.create_token_for(email, "contract tests"))["token"]
        finally:
            await close_pool()

    CALLER["Authorization"] = f"Bearer {run_async(create())}"


@pytest.fixture(scope="module", autouse=True)
def event_log_table(settings: Any) -> None:
    """The event routes answer 503 until the notifier has created its DynamoDB table; on a fresh stack the
    contract tests may run before any notifier did, so create it the way the notifier does."""

    from inventory_app.adapters import aws, event_log

    async def ensure() -> None:
        async with aws.dynamodb_client(settings) as client:
            await event_log.ensure_table(client, settings.dynamodb_events_table)

    run_async(ensure())


# -- routes vs. contract ----------------------------------------------------------------------------
def test_every_served_route_is_a_contract_operation_and_vice_versa() -> None:
    served = set(_served_routes())
    assert set(UNDOCUMENTED_ROUTES) <= served, "stale UNDOCUMENTED_ROUTES entries"
    served -= set(UNDOCUMENTED_ROUTES)
    contract = set(_contract_operations())
    assert not served - contract, f"served but not in the contract: {sorted(served - contract)}"
    assert not contract - served, f"in the contract but not served: {sorted(contract - served)}"


def _probe_request(method: str, path: str) -> tuple[str, str, dict[str, Any]]:
    """A harmless request for an operation: unknown product ids, a malformed JSON body, no writes."""
    url = path.replace("{product_id}", str(uuid.uuid4()))
    kwargs: dict[str, Any] = {}
    if method in ("post", "patch", "put"):
        if path.endswith("/import"):
            kwargs = {"files": {"file": ("p.csv", b"not,a,valid,header\n", "text/csv")}, "params": {"dry_run": "true"}}
        else:
            kwargs = {"content": b"{", "headers": {"Content-Type": "application/json"}}
    return method.upper(), url, kwargs


@pytest.mark.parametrize(
    ("method", "path", "operation_id"),
    [pytest.param(m, p, op, id=op) for (m, p), op in sorted(_contract_operations().items(), key=lambda i: i[1])],
)
def test_every_contract_operation_is_implemented(api: httpx.Client, method: str, path: str, operation_id: str) -> None:
    verb, url, kwargs = _probe_request(method, path)
    with api.stream(verb, url, **kwargs) as response:  # stream: the SSE operation never ends
        status = response.status_code
    if operation_id in PENDING_OPERATIONS:
        assert status == 501, f"{operation_id} is listed as pending but answers {status}: remove it"
        print(f"PENDING {operation_id} ({verb} {path}): {PENDING_OPERATIONS[operation_id]}")
        return
    assert status != 501, f"{operation_id} answers 501: implement it or list it in PENDING_OPERATIONS"
    assert status < 500, f"{operation_id} answers {status} to {verb} {url}"


# -- the served document and its rendering ----------------------------------------------------------
def test_served_openapi_json_is_the_yaml_document(api: httpx.Client) -> None:
    response = api.get("/api/openapi.json")
    assert response.status_code == 200
    assert response.headers["content-type"].split(";")[0] == "application/json"
    assert response.json() == _spec()


def test_docs_page_loads_swagger_from_the_app_itself(api: httpx.Client) -> None:
    response = api.get("/api/docs")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    html = response.text
    assert "/api/openapi.json" in html
    assets = re.findall(r"""(?:src|href)\s*=\s*["']([^"']+)["']""", html)
    assets += re.findall(r"""(?:url)\s*:\s*["']([^"']+)["']""", html)
    assert not [a for a in assets if re.match(r"^(https?:)?//", a)], f"external assets: {assets}"
    local = sorted({a for a in assets if a.startswith("/api/docs/static/")})
    assert {Path(a).name for a in local} >= {"swagger-ui-bundle.js", "swagger-ui.css"}, local
    for asset in local:
        loaded = api.get(asset)
        assert loaded.status_code == 200, asset
        assert loaded.content, asset
    assert api.get("/api/docs/static/not-an-asset.js").status_code == 404


# -- Server-Sent Events ------------------------------------------------------------------------------
def test_notification_stream_opens_with_a_connected_comment(app_url: str) -> None:
    with (
        httpx.Client(base_url=app_url, timeout=httpx.Timeout(10, read=10), headers=CALLER) as client,
        client.stream("GET", "/api/notifications/stream", headers={"Accept": "text/event-stream"}) as response,
    ):
        assert response.status_code == 200
        assert response.headers["content-type"].split(";")[0] == "text/event-stream"
        first = b""
        for chunk in response.iter_bytes():
            first += chunk
            if len(first) >= len(b": connected"):
                break
        assert first.startswith(b": connected"), first[:100]


# -- schemathesis ------------------------------------------------------------------------------------
# Loaded from the YAML (the test above proves /api/openapi.json serves exactly this document) and sent to
# the live app through `base_url`. schemathesis' fixture-based lazy loader (`schemathesis.pytest.
# from_fixture`) cannot be used: with pytest 9 it fails on `Node._nodeid`, which no longer exists.
# The SSE stream never ends (schemathesis would wait for the body forever): it is tested above instead.
schema = schemathesis.openapi.from_path(SPEC_PATH).exclude(operation_id="streamNotifications")


# Generated product ids almost never exist, so on their own the generated requests would only ever see
# 404 from the product routes. Every other case of an operation with a `product_id` is therefore sent to
# a product created just for it (fresh, so a DELETE or a sale cannot starve the next case): the 200/201/
# 204 answers, their ETag headers and the 409/412 conflicts get validated too.
_REAL_PRODUCT_TURNS: dict[str, int] = {}


def _create_product(app_url: str) -> str:
    sku = f"ST-{uuid.uuid4().hex[:12]}".upper()
    body = {"sku": sku, "name": "Contract test product", "price": "9.99", "quantity": 50, "low_stock_threshold": 5}
    response = httpx.post(f"{app_url}/api/products", json=body, timeout=30, headers=CALLER)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def _maybe_target_a_real_product(case: Any, app_url: str) -> None:
    if "product_id" not in (case.path_parameters or {}):
        return
    turn = _REAL_PRODUCT_TURNS[case.operation.label] = _REAL_PRODUCT_TURNS.get(case.operation.label, 0) + 1
    if turn % 2:
        case.path_parameters["product_id"] = _create_product(app_url)


_OPERATIONS = {op.definition.raw["operationId"]: op for op in (r.ok() for r in schema.get_all_operations())}


@schema.parametrize()
@settings(max_examples=15, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
def test_api_conforms_to_the_contract(case: Any, app_url: str) -> None:
    operation_id = case.operation.definition.raw.get("operationId")
    _maybe_target_a_real_product(case, app_url)
    response = case.call(base_url=app_url, timeout=30, headers=CALLER)
    if response.status_code == 501 and operation_id in PENDING_OPERATIONS:
        print(f"PENDING {operation_id}: {PENDING_OPERATIONS[operation_id]}")
        return
    case.validate_response(response, checks=CHECKS)


# Open without credentials: liveness, the contract and its docs, signing in, and readiness (reduced).
OPEN_OPERATIONS = {"getHealth", "getOpenApi", "getApiDocs", "signIn", "getReadiness"}


@schema.parametrize()
@settings(max_examples=5, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
def test_without_credentials_every_protected_operation_answers_401_and_nothing_breaks(case: Any, app_url: str) -> None:
    operation_id = case.operation.definition.raw.get("operationId")
    response = case.call(base_url=app_url, timeout=30)
    case.validate_response(response, checks=CHECKS)
    if operation_id not in OPEN_OPERATIONS:
        assert response.status_code == 401, (operation_id, response.status_code, response.text[:300])
        assert response.headers["content-type"][0].startswith("application/problem+json")


# Answers found by fuzzing or documented on purpose, pinned down so they cannot regress silently (the
# generated cases above hit them only by chance). Each is validated with the same checks.
JSON = {"Content-Type": "application/json"}
EDGE_CASES = [
    # (operationId, method, path, request kwargs, expected status)
    ("createProduct", "POST", "/api/products", {"content": b"{", "headers": JSON}, 400),
    ("updateProduct", "PATCH", "/api/products/{product_id}", {"content": b'{"name": ', "headers": JSON}, 400),
    ("adjustStock", "POST", "/api/products/{product_id}/stock-adjustments", {"content": b"x", "headers": JSON}, 400),
    ("createProduct", "POST", "/api/products", {"content": b"[" * 100_000, "headers": JSON}, 400),
    (
        "createProduct",
        "POST",
        "/api/products",
        {"content": b'{"sku": "A", "name": "\\ud800", "price": "1"}', "headers": JSON},
        400,
    ),
    (
        "createProduct",
        "POST",
        "/api/products",
        {"content": b'{"sku": "A", "name": "n", "price": NaN}', "headers": JSON},
        400,
    ),
    ("createProduct", "POST", "/api/products", {"content": b" " * 1_000_001, "headers": JSON}, 413),
    ("createProduct", "POST", "/api/products", {"content": b"{}", "headers": {"Content-Type": "text/plain"}}, 415),
    ("deleteProduct", "DELETE", "/api/products/{product_id}", {"headers": {"If-Match": "three"}}, 422),
    ("getProduct", "GET", "/api/products/%C2%84", {}, 404),
    ("listProducts", "GET", "/api/products", {"params": {"offset": str(2**64)}}, 422),
    ("listMovements", "GET", "/api/products/{product_id}/movements", {"params": {"offset": str(2**64)}}, 422),
    ("listRecentEvents", "GET", "/api/events/recent", {"params": {"view": "notices", "limit": 5}}, 200),
    ("listRecentEvents", "GET", "/api/events/recent", {"params": {"view": "events", "limit": 5}}, 200),
    ("listRecentEvents", "GET", "/api/events/recent", {"params": {"view": "toasts"}}, 422),
]


@pytest.mark.parametrize(
    ("operation_id", "method", "path", "kwargs", "expected"),
    [pytest.param(*edge, id=f"{edge[0]}-{index}-{edge[4]}") for index, edge in enumerate(EDGE_CASES)],
)
def test_edge_case_answers_conform(
    app_url: str, operation_id: str, method: str, path: str, kwargs: dict[str, Any], expected: int
) -> None:
    operation = _OPERATIONS[operation_id]
    product_id = _create_product(app_url)
    case = operation.Case(path_parameters={"product_id": product_id} if "{product_id}" in operation.path else None)
    kwargs = {**kwargs, "headers": {**kwargs.get("headers", {}), **CALLER}}
    response = httpx.request(method, app_url + path.replace("{product_id}", product_id), timeout=30, **kwargs)
    assert response.status_code == expected, response.text[:500]
    case.validate_response(response, checks=CHECKS)
    if operation_id == "listRecentEvents" and expected == 200:
        view = kwargs["params"]["view"]
        assert_matches_contract(response.json(), "NoticesPublic" if view == "notices" else "EventsPublic")


def test_no_operation_is_pending() -> None:
    """Last in the module: every contract operation is implemented, so nothing may stay pending."""
    assert PENDING_OPERATIONS == {}, f"pending operations: {PENDING_OPERATIONS}"
