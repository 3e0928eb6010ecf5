"""Clients written against the contract before stock by location (frozen in openapi/baseline/openapi-1.0.0.yaml)
keep working: every operation they knew is still there, every request example they were shown still validates
against today's contract, and sent to the running app it still succeeds with every field they read.

(Event examples of schemas 1.3.0 are checked against today's schemas in test_schemas.py, from schemas/baseline/.)
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

ROOT = Path(__file__).resolve().parents[2]
BASELINE = ROOT / "openapi" / "baseline" / "openapi-1.0.0.yaml"
CURRENT = ROOT / "openapi" / "openapi.yaml"
METHODS = ("get", "put", "post", "delete", "patch")
URI = "urn:inventory:current"


@cache
def document(path: Path) -> dict[str, Any]:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def resolve(spec: dict[str, Any], node: Any) -> Any:
    """Follow local `#/components/...` references within one document."""
    while isinstance(node, dict) and "$ref" in node and node["$ref"].startswith("#/"):
        target: Any = spec
        for part in node["$ref"][2:].split("/"):
            target = target[part]
        node = target
    return node


def operations(spec: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in spec["paths"].items():
        for method in METHODS:
            if method in item:
                yield method, path, item[method]


def request_examples(spec: dict[str, Any], operation: dict[str, Any]) -> Iterator[tuple[str, Any]]:
    body = resolve(spec, operation.get("requestBody", {}))
    for media, content in body.get("content", {}).items():
        if media != "application/json":
            continue
        if "example" in content:
            yield media, content["example"]
        for example in content.get("examples", {}).values():
            yield media, resolve(spec, example)["value"]


@cache
def current_validator(method: str, path: str) -> Draft202012Validator:
    spec = document(CURRENT)
    registry = Registry().with_resource(URI, Resource.from_contents(spec, default_specification=DRAFT202012))
    body = resolve(spec, spec["paths"][path][method]["requestBody"])
    schema = body["content"]["application/json"]["schema"]
    schema = {"$ref": f"{URI}#{schema['$ref'][1:]}"} if "$ref" in schema else schema
    return Draft202012Validator(schema, registry=registry, format_checker=Draft202012Validator.FORMAT_CHECKER)


OLD = list(operations(document(BASELINE)))


def test_every_operation_of_the_old_contract_is_still_there_under_its_id() -> None:
    current = {(method, path): op["operationId"] for method, path, op in operations(document(CURRENT))}
    for method, path, operation in OLD:
        assert current.get((method, path)) == operation["operationId"], (method, path)


@pytest.mark.parametrize(("method", "path", "operation"), OLD, ids=[f"{m} {p}" for m, p, _ in OLD])
def test_every_old_request_example_validates_against_todays_contract(method: str, path: str, operation: dict) -> None:
    for _, example in request_examples(document(BASELINE), operation):
        current_validator(method, path).validate(example)


def required_of(name: str) -> set[str]:
    return set(document(BASELINE)["components"]["schemas"][name].get("required", []))


def test_an_old_clients_product_and_stock_calls_still_succeed_with_every_field_it_reads(api: httpx.Client) -> None:
    """The old contract's examples, sent as they were shown: create, rename, sell, receive, read the ledger."""
    spec = document(BASELINE)
    examples = spec["components"]["examples"]
    create = {**examples["ProductCreate"]["value"], "sku": f"OLD-{uuid.uuid4().hex[:10]}"}
    created = api.post("/api/products", json=create)
    assert created.status_code == 201, created.text
    assert required_of("ProductPublic") <= set(created.json())
    product_url = f"/api/products/{created.json()['id']}"
    renamed = api.patch(product_url, json=examples["ProductUpdate"]["value"], headers={"If-Match": '"1"'})
    assert renamed.status_code == 200 and renamed.json()["version"] == 2
    for sent in (examples["StockAdjustmentCreate"]["value"], {"delta": 25, "reason": "received"}):
        adjusted = api.post(f"{product_url}/stock-adjustments", json=sent)
        assert adjusted.status_code == 201, adjusted.text
        body = adjusted.json()
        assert required_of("StockAdjustmentResult") <= set(body)
        assert required_of("StockMovement") <= set(body["movement"])
        assert body["movement"]["reason"] == sent["reason"]
    assert api.get(product_url).json()["quantity"] == 40 - 32 + 25
    ledger = api.get(f"{product_url}/movements").json()
    assert ledger["count"] == 2 and all(required_of("StockMovement") <= set(row) for row in ledger["data"])
