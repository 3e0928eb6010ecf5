"""Static checks of the hand-written OpenAPI 3.1 document in openapi/openapi.yaml."""

from __future__ import annotations

import json
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

ROOT = Path(__file__).resolve().parents[2]
SPEC_PATH = ROOT / "openapi" / "openapi.yaml"
DOC_URI = "https://inventory.example/openapi.yaml"
Operation = dict[str, Any]
HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")

EXPECTED_OPERATIONS = {
    ("get", "/api/health"): "getHealth",
    ("get", "/api/ready"): "getReadiness",
    ("get", "/api/products"): "listProducts",
    # stock by location
    ("get", "/api/products/{product_id}/stock"): "getProductStock",
    ("patch", "/api/products/{product_id}/stock/{location_id}"): "setLocationMinimum",
    ("post", "/api/products/{product_id}/transfers"): "transferStock",
    ("get", "/api/locations"): "listLocations",
    ("post", "/api/locations"): "createLocation",
    ("get", "/api/locations/{location_id}"): "getLocation",
    ("patch", "/api/locations/{location_id}"): "updateLocation",
    ("delete", "/api/locations/{location_id}"): "deleteLocation",
    ("post", "/api/products"): "createProduct",
    ("get", "/api/products/{product_id}"): "getProduct",
    ("patch", "/api/products/{product_id}"): "updateProduct",
    ("delete", "/api/products/{product_id}"): "deleteProduct",
    ("post", "/api/products/{product_id}/stock-adjustments"): "adjustStock",
    ("get", "/api/products/{product_id}/movements"): "listMovements",
    ("get", "/api/products/{product_id}/events"): "listProductEvents",
    ("get", "/api/events/recent"): "listRecentEvents",
    ("get", "/api/notifications/stream"): "streamNotifications",
    ("get", "/api/notifications/recent"): "listRecentNotifications",
    ("get", "/api/analytics/summary"): "getAnalyticsSummary",
    ("get", "/api/products/export"): "exportProducts",
    ("post", "/api/products/import"): "importProducts",
    ("get", "/api/openapi.json"): "getOpenApi",
    ("get", "/api/docs"): "getApiDocs",
    ("get", "/metrics"): "getMetrics",
    ("post", "/api/auth/session"): "signIn",
    ("delete", "/api/auth/session"): "signOut",
    ("get", "/api/auth/me"): "getMe",
    ("delete", "/api/auth/sessions"): "signOutEverywhere",
    ("put", "/api/auth/password"): "changePassword",
    ("get", "/api/tokens"): "listTokens",
    ("post", "/api/tokens"): "createToken",
    ("delete", "/api/tokens/{token_id}"): "revokeToken",
    ("get", "/api/users"): "listUsers",
    ("post", "/api/users"): "createUser",
    ("get", "/api/users/{user_id}"): "getUser",
    ("patch", "/api/users/{user_id}"): "updateUser",
    ("put", "/api/users/{user_id}/password"): "resetPassword",
    ("get", "/api/security-events"): "listSecurityEvents",
}
# Operations anyone may call (`security: []`): liveness, the contract and its docs page, signing in.
OPEN_OPERATIONS = {"getHealth", "getOpenApi", "getApiDocs", "signIn"}
# Operations where credentials are optional and change the answer (anonymous: status only).
OPTIONAL_AUTH_OPERATIONS = {"getReadiness"}
DOCUMENT_SECURITY = [{"bearerAuth": []}, {"sessionCookie": []}]
AUTH_PROBLEM_SLUGS = {
    "unauthorized",
    "forbidden",
    "cross-origin-refused",
    "invalid-credentials",
    "too-many-attempts",
    "duplicate-email",
}
# Routes outside /api, with the reason.
NON_API_PATHS = {"/metrics": "Prometheus scrape endpoint, for scrapers rather than API clients"}


@cache
def _spec() -> dict[str, Any]:
    spec: dict[str, Any] = yaml.safe_load(SPEC_PATH.read_text(encoding="utf-8"))
    return spec


@cache
def _registry() -> Registry:
    return Registry().with_resource(DOC_URI, Resource(contents=_spec(), specification=DRAFT202012))


def _resolve(node: Any) -> Any:
    """Follow local ``$ref`` chains (``#/...``) until a non-reference node is reached."""
    while isinstance(node, dict) and "$ref" in node:
        node = _pointer(node["$ref"])
    return node


def _pointer(ref: str) -> Any:
    assert ref.startswith("#/"), f"only local references are allowed in the served document: {ref}"
    node: Any = _spec()
    for token in ref[2:].split("/"):
        token = token.replace("~1", "/").replace("~0", "~")
        node = node[int(token)] if isinstance(node, list) else node[token]
    return node


def _refs(node: Any, path: str = "#") -> Iterator[tuple[str, str]]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                yield path, value
            else:
                yield from _refs(value, f"{path}/{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _refs(value, f"{path}/{index}")


def _operations() -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in _spec()["paths"].items():
        for method in HTTP_METHODS:
            if method in item:
                yield method, path, item[method]


def _operation_params() -> list[Any]:
    return [pytest.param(m, p, op, id=op.get("operationId", f"{m} {p}")) for m, p, op in _operations()]


def _absolutize(node: Any) -> Any:
    """Rewrite local ``#/...`` references to absolute ones into the registered document."""
    if isinstance(node, dict):
        return {
            k: (DOC_URI + v if k == "$ref" and isinstance(v, str) and v.startswith("#/") else _absolutize(v))
            for k, v in node.items()
        }
    if isinstance(node, list):
        return [_absolutize(v) for v in node]
    return node


def _validator(schema: dict[str, Any]) -> Draft202012Validator:
    """A 2020-12 validator (OpenAPI 3.1 dialect) for a schema taken from the document."""
    return Draft202012Validator(
        _absolutize(schema), registry=_registry(), format_checker=Draft202012Validator.FORMAT_CHECKER
    )


def _ref_validator(ref: str) -> Draft202012Validator:
    return _validator({"$ref": ref})


def test_the_document_is_a_valid_openapi_3_1_document() -> None:
    spec = _spec()
    assert spec["openapi"] == "3.1.0"
    assert spec["info"]["version"] == "1.1.0"
    assert spec["servers"] == [{"url": "/"}]
    validate(spec)


class _UniqueKeyLoader(yaml.SafeLoader):
    """A YAML loader that refuses a key twice in one mapping (plain YAML silently keeps the last one)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        keys = [self.construct_object(key, deep=deep) for key, _ in node.value]
        duplicates = {key for key in keys if keys.count(key) > 1}
        assert not duplicates, f"duplicate keys {sorted(map(str, duplicates))} at line {node.start_mark.line + 1}"
        return super().construct_mapping(node, deep=deep)


def test_the_document_repeats_no_key() -> None:
    yaml.load(SPEC_PATH.read_text(encoding="utf-8"), Loader=_UniqueKeyLoader)


def test_the_document_defines_exactly_the_expected_operations() -> None:
    found = {(method, path): op.get("operationId") for method, path, op in _operations()}
    assert found == EXPECTED_OPERATIONS


def test_every_route_lives_under_api() -> None:
    assert all(path.startswith("/api/") for path in _spec()["paths"] if path not in NON_API_PATHS)


def test_operation_ids_are_unique() -> None:
    ids = [op["operationId"] for _, _, op in _operations()]
    assert len(ids) == len(set(ids))


@pytest.mark.parametrize(("method", "path", "operation"), _operation_params())
def test_every_operation_has_operation_id_and_summary(method: str, path: str, operation: Operation) -> None:
    assert operation.get("operationId"), f"{method.upper()} {path} has no operationId"
    assert operation.get("summary"), f"{method.upper()} {path} has no summary"


def _media_has_example(media: dict[str, Any]) -> bool:
    return "example" in media or bool(media.get("examples"))


@pytest.mark.parametrize(("method", "path", "operation"), _operation_params())
def test_every_operation_has_a_response_example(method: str, path: str, operation: dict[str, Any]) -> None:
    responses = [_resolve(r) for r in operation["responses"].values()]
    assert any(_media_has_example(m) for r in responses for m in r.get("content", {}).values())


@pytest.mark.parametrize(
    ("method", "path", "operation"), [p for p in _operation_params() if "requestBody" in p.values[2]]
)
def test_every_request_body_has_an_example(method: str, path: str, operation: dict[str, Any]) -> None:
    body = _resolve(operation["requestBody"])
    assert body["content"] and all(_media_has_example(m) for m in body["content"].values())


@pytest.mark.parametrize(("method", "path", "operation"), _operation_params())
def test_every_error_response_is_a_problem(method: str, path: str, operation: dict[str, Any]) -> None:
    for status, response in operation["responses"].items():
        # readiness reports a failing dependency with its own body (Readiness), not a problem
        if str(status).startswith(("4", "5")) and (operation["operationId"], str(status)) != ("getReadiness", "503"):
            content = _resolve(response)["content"]
            assert list(content) == ["application/problem+json"], f"{status} of {operation['operationId']}"
            assert content["application/problem+json"]["schema"] == {"$ref": "#/components/schemas/Problem"}


@pytest.mark.parametrize(
    ("operation_id", "statuses"),
    [
        ("createProduct", {"201", "400", "409", "413", "415", "422", "503"}),
        ("getProduct", {"200", "404", "503"}),
        ("updateProduct", {"200", "400", "404", "409", "412", "413", "415", "422", "503"}),
        ("deleteProduct", {"204", "404", "412", "503"}),
        ("adjustStock", {"201", "400", "404", "409", "413", "415", "422", "503"}),
        ("listMovements", {"200", "404", "503"}),
        ("listProductEvents", {"200", "404", "503"}),
        ("listRecentEvents", {"200", "422", "503"}),
        ("streamNotifications", {"200", "422", "503"}),
        ("importProducts", {"200", "400", "413", "415", "422", "503"}),
        ("getReadiness", {"200", "401", "503"}),
        ("getMetrics", {"200", "401", "403"}),
        ("signIn", {"200", "303", "400", "401", "403", "413", "415", "422", "429"}),
        ("signOut", {"204", "401"}),
        ("getMe", {"200", "401"}),
        ("signOutEverywhere", {"204", "401"}),
        ("changePassword", {"204", "400", "401", "403", "422"}),
        ("listTokens", {"200", "401"}),
        ("createToken", {"201", "400", "401", "403", "422"}),
        ("revokeToken", {"204", "401", "403", "404"}),
        ("listUsers", {"200", "401", "403", "422"}),
        ("createUser", {"201", "400", "401", "403", "409", "422"}),
        ("getUser", {"200", "401", "403", "404"}),
        ("updateUser", {"200", "400", "401", "403", "404", "422"}),
        ("resetPassword", {"204", "400", "401", "403", "404", "422"}),
        ("listSecurityEvents", {"200", "401", "403", "422"}),
    ],
)
def test_operations_document_their_statuses(operation_id: str, statuses: set[str]) -> None:
    operation = next(op for _, _, op in _operations() if op["operationId"] == operation_id)
    assert statuses <= set(map(str, operation["responses"]))


@pytest.mark.parametrize(("source", "ref"), list(_refs(_spec())))
def test_every_ref_resolves(source: str, ref: str) -> None:
    assert _pointer(ref) is not None, f"{source}: {ref}"


def _component_schema_examples() -> Iterator[Any]:
    for name, schema in _spec()["components"]["schemas"].items():
        for index, example in enumerate(schema.get("examples", [])):
            yield pytest.param(name, example, id=f"{name}[{index}]")


@pytest.mark.parametrize(("name", "example"), list(_component_schema_examples()))
def test_every_component_schema_example_validates(name: str, example: Any) -> None:
    _ref_validator(f"#/components/schemas/{name}").validate(example)


def _media_examples() -> Iterator[Any]:
    for _method, _path, operation in _operations():
        bodies: list[tuple[str, Any]] = [(status, r) for status, r in operation["responses"].items()]
        if "requestBody" in operation:
            bodies.append(("request", operation["requestBody"]))
        for where, body in bodies:
            for media_type, media in _resolve(body).get("content", {}).items():
                examples = {"example": media["example"]} if "example" in media else {}
                examples.update({k: _resolve(v)["value"] for k, v in media.get("examples", {}).items()})
                for key, value in examples.items():
                    label = f"{operation['operationId']}:{where}:{media_type}:{key}"
                    yield pytest.param(media["schema"], value, id=label)


@pytest.mark.parametrize(("schema", "example"), list(_media_examples()))
def test_every_media_type_example_validates_against_its_schema(schema: dict[str, Any], example: Any) -> None:
    _validator(schema).validate(example)


@pytest.mark.parametrize(("method", "path", "operation"), _operation_params())
def test_every_parameter_example_validates(method: str, path: str, operation: dict[str, Any]) -> None:
    item = _spec()["paths"][path]
    for parameter in [_resolve(p) for p in item.get("parameters", []) + operation.get("parameters", [])]:
        values = [parameter["example"]] if "example" in parameter else []
        values += [_resolve(e)["value"] for e in parameter.get("examples", {}).values()]
        assert values, f"parameter {parameter['name']} has no example"
        validator = _validator(parameter["schema"])
        for value in values:
            validator.validate(value)


def test_sku_conflict_and_insufficient_stock_name_the_offending_field() -> None:
    responses = _spec()["components"]["responses"]
    sku = responses["SkuConflict"]["content"]["application/problem+json"]["example"]
    stock = responses["InsufficientStock"]["content"]["application/problem+json"]["example"]
    assert (sku["status"], sku["errors"][0]["field"]) == (409, "sku")
    assert (stock["status"], stock["errors"][0]["field"]) == (409, "delta")


def test_stock_adjustment_delta_excludes_zero() -> None:
    validator = _ref_validator("#/components/schemas/StockAdjustmentCreate")
    assert not validator.is_valid({"delta": 0, "reason": "sold"})
    assert validator.is_valid({"delta": -1, "reason": "sold"})


def test_product_public_matches_the_event_product_snapshot() -> None:
    snapshot = json.loads((ROOT / "schemas" / "events" / "product.schema.json").read_text(encoding="utf-8"))
    public = _spec()["components"]["schemas"]["ProductPublic"]
    assert public["required"] == snapshot["required"]
    assert set(public["properties"]) == set(snapshot["properties"])
    validator = _ref_validator("#/components/schemas/ProductPublic")
    for example in snapshot["examples"]:
        validator.validate(example)


def test_notice_matches_the_event_notice_schema() -> None:
    notice = json.loads((ROOT / "schemas" / "events" / "notice.v2.schema.json").read_text(encoding="utf-8"))
    public = _spec()["components"]["schemas"]["Notice"]
    assert public["required"] == notice["required"]
    assert public["properties"]["severity"]["enum"] == notice["properties"]["severity"]["enum"]
    assert _resolve(public["properties"]["type"])["enum"] == notice["properties"]["type"]["enum"]
    validator = _ref_validator("#/components/schemas/Notice")
    for example in notice["examples"]:
        validator.validate(example)


# --- authentication ------------------------------------------------------------------------------------


def _operation(operation_id: str) -> Operation:
    return next(op for _, _, op in _operations() if op["operationId"] == operation_id)


def _problem_examples(response: dict[str, Any]) -> list[dict[str, Any]]:
    media = _resolve(response)["content"]["application/problem+json"]
    examples = [media["example"]] if "example" in media else []
    return examples + [_resolve(e)["value"] for e in media.get("examples", {}).values()]


def _slug(problem_type: str) -> str:
    return problem_type.rsplit("/", 1)[-1]


def test_the_bearer_token_and_session_cookie_schemes_are_declared() -> None:
    schemes = _spec()["components"]["securitySchemes"]
    assert set(schemes) == {"bearerAuth", "sessionCookie"}
    bearer, cookie = schemes["bearerAuth"], schemes["sessionCookie"]
    assert (bearer["type"], bearer["scheme"], bearer["bearerFormat"]) == ("http", "bearer", "inv_<43 url-safe chars>")
    assert "python -m inventory_app.cli tokens create" in bearer["description"]
    assert (cookie["type"], cookie["in"], cookie["name"]) == ("apiKey", "cookie", "inventory_session")
    assert "HttpOnly" in cookie["description"]


def test_by_default_every_operation_needs_a_token_or_a_session() -> None:
    assert _spec()["security"] == DOCUMENT_SECURITY


def test_the_open_operations_are_exactly_health_the_contract_its_docs_and_sign_in() -> None:
    open_operations = {op["operationId"] for _, _, op in _operations() if op.get("security") == []}
    assert open_operations == OPEN_OPERATIONS


def test_readiness_takes_credentials_optionally() -> None:
    assert _operation("getReadiness")["security"] == [{}, *DOCUMENT_SECURITY]


def test_every_other_operation_uses_the_document_security() -> None:
    special = OPEN_OPERATIONS | OPTIONAL_AUTH_OPERATIONS
    for _, _, operation in _operations():
        if operation["operationId"] not in special:
            assert operation.get("security", DOCUMENT_SECURITY) == DOCUMENT_SECURITY, operation["operationId"]


@pytest.mark.parametrize(
    ("method", "path", "operation"),
    [p for p in _operation_params() if p.values[2]["operationId"] not in OPEN_OPERATIONS],
)
def test_every_protected_operation_declares_401_and_403_problems(method: str, path: str, operation: Operation) -> None:
    responses = operation["responses"]
    for status in ("401", "403"):
        assert status in responses, f"{operation['operationId']} lacks {status}"
        content = _resolve(responses[status])["content"]
        assert content == {"application/problem+json": content["application/problem+json"]}
        assert content["application/problem+json"]["schema"] == {"$ref": "#/components/schemas/Problem"}
    assert responses["401"] == {"$ref": "#/components/responses/Unauthorized"}
    assert responses["403"] == {"$ref": "#/components/responses/Forbidden"}


def test_401_carries_a_bearer_challenge_and_the_unauthorized_type() -> None:
    responses = _spec()["components"]["responses"]
    for name, slug in (("Unauthorized", "unauthorized"), ("InvalidCredentials", "invalid-credentials")):
        header = _resolve(responses[name]["headers"]["WWW-Authenticate"])
        assert header["required"] is True
        _validator(header["schema"]).validate('Bearer realm="inventory"')
        assert {(_slug(e["type"]), e["status"]) for e in _problem_examples(responses[name])} == {(slug, 401)}


def test_403_is_either_a_role_refusal_or_a_cross_origin_refusal() -> None:
    examples = _problem_examples(_spec()["components"]["responses"]["Forbidden"])
    assert {(_slug(e["type"]), e["status"]) for e in examples} == {("forbidden", 403), ("cross-origin-refused", 403)}


def test_429_says_when_to_retry() -> None:
    response = _spec()["components"]["responses"]["TooManyRequests"]
    assert _resolve(response["headers"]["Retry-After"])["required"] is True
    assert [(_slug(e["type"]), e["status"]) for e in _problem_examples(response)] == [("too-many-attempts", 429)]


def test_every_problem_type_used_in_the_document_is_listed_in_the_problem_schema() -> None:
    listed = _spec()["components"]["schemas"]["Problem"]["properties"]["type"]["description"]
    used = {
        _slug(example["type"])
        for response in _spec()["components"]["responses"].values()
        if "application/problem+json" in response.get("content", {})
        for example in _problem_examples(response)
    }
    assert used >= AUTH_PROBLEM_SLUGS
    assert not {slug for slug in used if f"`{slug}`" not in listed}


def test_sign_in_accepts_json_and_the_html_form() -> None:
    content = _resolve(_operation("signIn")["requestBody"])["content"]
    assert set(content) == {"application/json", "application/x-www-form-urlencoded"}
    assert _resolve(_operation("signIn")["responses"]["200"])["headers"]["Set-Cookie"]


@pytest.mark.parametrize("next_path", ["//evil.example/", "/\\evil.example", "https://evil.example/", "products"])
def test_sign_in_form_next_must_be_a_path_on_this_site(next_path: str) -> None:
    validator = _ref_validator("#/components/schemas/SignInForm")
    form = {"email": "ana@example.com", "password": "x"}
    assert validator.is_valid({**form, "next": "/products?q=a"})
    assert not validator.is_valid({**form, "next": next_path})


def test_new_passwords_have_at_least_12_characters() -> None:
    for schema in ("UserCreate", "PasswordChange", "PasswordReset"):
        validator = _ref_validator(f"#/components/schemas/{schema}")
        example = _spec()["components"]["schemas"][schema]["examples"][0]
        field = "password" if schema == "UserCreate" else "new_password"
        assert validator.is_valid({**example, field: "x" * 12})
        assert not validator.is_valid({**example, field: "x" * 11}), schema


def test_user_update_needs_one_known_field() -> None:
    validator = _ref_validator("#/components/schemas/UserUpdate")
    assert validator.is_valid({"disabled": True})
    assert not validator.is_valid({})
    assert not validator.is_valid({"email": "new@example.com"})
    assert not validator.is_valid({"role": "owner"})


def test_a_created_token_is_its_public_view_plus_the_secret_once() -> None:
    schemas = _spec()["components"]["schemas"]
    created = schemas["TokenCreated"]["examples"][0]
    public = {k: v for k, v in created.items() if k != "token"}
    _ref_validator("#/components/schemas/TokenPublic").validate(public)
    assert set(schemas["TokenCreated"]["properties"]) == {*schemas["TokenPublic"]["properties"], "token"}
    assert set(schemas["TokenCreated"]["required"]) == {*schemas["TokenPublic"]["required"], "token"}
    validator = _ref_validator("#/components/schemas/TokenCreated")
    assert created["prefix"] == created["token"][:8]
    assert not validator.is_valid(public)
    assert not validator.is_valid({**created, "extra": 1})
    assert not validator.is_valid({**created, "token": created["token"][:-1]})


def test_stock_movements_name_their_actor_or_null_for_old_rows() -> None:
    movement = _spec()["components"]["schemas"]["StockMovement"]
    assert "actor" in movement["required"]
    validator = _ref_validator("#/components/schemas/StockMovement")
    example = movement["examples"][0]
    assert validator.is_valid({**example, "actor": None})
    assert not validator.is_valid({k: v for k, v in example.items() if k != "actor"})
    assert not validator.is_valid({**example, "actor": {"type": "robot", "id": None, "name": "r2"}})


def test_anonymous_readiness_is_the_status_alone() -> None:
    validator = _ref_validator("#/components/schemas/Readiness")
    assert validator.is_valid({"status": "not_ready"})
    assert not validator.is_valid({"status": "ready", "secrets": {}})


def test_the_docs_page_keeps_a_pasted_token_and_loads_only_local_assets() -> None:
    import asyncio
    import re

    from inventory_app.api.routes import docs

    html = asyncio.run(docs.api_docs()).body.decode()
    assert '"persistAuthorization": true' in html
    assets = re.findall(r"""(?:src|href)=["']?([^"' >]+)""", html)
    assert assets and all(url.startswith("/api/docs/static/") for url in assets), assets
    assert all((docs.SWAGGER_STATIC / url.rsplit("/", 1)[-1]).is_file() for url in assets)
