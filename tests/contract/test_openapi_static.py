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
    ("post", "/api/products"): "createProduct",
    ("get", "/api/products/{product_id}"): "getProduct",
    ("patch", "/api/products/{product_id}"): "updateProduct",
    ("delete", "/api/products/{product_id}"): "deleteProduct",
    ("post", "/api/products/{product_id}/stock-adjustments"): "adjustStock",
    ("get", "/api/products/{product_id}/movements"): "listMovements",
    ("get", "/api/products/{product_id}/events"): "listProductEvents",
    ("get", "/api/events/recent"): "listRecentEvents",
    ("get", "/api/notifications/stream"): "streamNotifications",
    ("get", "/api/analytics/summary"): "getAnalyticsSummary",
    ("get", "/api/products/export"): "exportProducts",
    ("post", "/api/products/import"): "importProducts",
    ("get", "/api/openapi.json"): "getOpenApi",
    ("get", "/api/docs"): "getApiDocs",
    ("get", "/metrics"): "getMetrics",
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
    assert spec["info"]["version"] == "1.0.0"
    assert spec["servers"] == [{"url": "/"}]
    validate(spec)


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
        if str(status).startswith(("4", "5")) and operation["operationId"] != "getReadiness":
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
        ("getReadiness", {"200", "503"}),
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
    notice = json.loads((ROOT / "schemas" / "events" / "notice.schema.json").read_text(encoding="utf-8"))
    public = _spec()["components"]["schemas"]["Notice"]
    assert public["required"] == notice["required"]
    assert public["properties"]["severity"]["enum"] == notice["properties"]["severity"]["enum"]
    assert _resolve(public["properties"]["type"])["enum"] == notice["properties"]["type"]["enum"]
    validator = _ref_validator("#/components/schemas/Notice")
    for example in notice["examples"]:
        validator.validate(example)
