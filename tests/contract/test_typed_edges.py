"""The services' typed edges against the contract: a field added, dropped, renamed or retyped on either side
fails here, before any client sees it.

Responses: each TypedDict in `domain/views.py` has exactly the contract schema's properties, sends every
property the contract requires, and each property's JSON types are among the contract's (enums equal),
recursively through nested objects and arrays; every example in the contract validates as the type.
Requests: the validated shapes (`ProductFields`, `AdjustmentRequest`, the reasons, `ImportReport`) take
exactly the contract's fields.
"""

from __future__ import annotations

import dataclasses
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import TypeAdapter

from inventory_app.domain import views
from inventory_app.domain.errors import ImportReport, RowError
from inventory_app.domain.model import ADJUSTMENT_REASONS, EDITABLE_FIELDS, AdjustmentRequest, ProductFields

SPEC_PATH = Path(__file__).resolve().parents[2] / "openapi" / "openapi.yaml"
RESPONSES = [
    (views.ProductView, "ProductPublic"),
    (views.ProductsPage, "ProductsPublic"),
    (views.MovementView, "StockMovement"),
    (views.MovementsPage, "StockMovementsPublic"),
    (views.AdjustmentResult, "StockAdjustmentResult"),
    (views.ActorView, "Actor"),
    (views.LocationView, "LocationPublic"),
    (views.LocationsPage, "LocationsPublic"),
    (views.StockLevelView, "StockLevel"),
    (views.ProductStock, "ProductStock"),
    (views.TransferResult, "TransferResult"),
]


@cache
def spec() -> dict[str, Any]:
    return yaml.safe_load(SPEC_PATH.read_text())


def contract(name: str) -> dict[str, Any]:
    return spec()["components"]["schemas"][name]


def resolve(schema: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
    """Follow a $ref: the contract's `#/components/schemas/X` or pydantic's `#/$defs/X`."""
    while "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        schema = defs[name] if schema["$ref"].startswith("#/$defs/") else contract(name)
    return schema


def branches(schema: dict[str, Any], defs: dict[str, Any]) -> list[dict[str, Any]]:
    """The alternatives of a schema (oneOf/anyOf), each resolved; one for a plain schema."""
    schema = resolve(schema, defs)
    alternatives = schema.get("oneOf") or schema.get("anyOf")
    if alternatives:
        return [b for alternative in alternatives for b in branches(alternative, defs)]
    types = schema.get("type")
    if isinstance(types, list):  # `type: [string, 'null']`
        return [{**schema, "type": t} for t in types]
    return [schema]


def json_type(schema: dict[str, Any]) -> str:
    if "type" in schema:
        return schema["type"]
    if "enum" in schema and all(isinstance(v, str) for v in schema["enum"]):
        return "string"
    raise AssertionError(f"a schema without a type: {schema}")


def assert_fits(ours: dict[str, Any], defs: dict[str, Any], theirs: dict[str, Any], path: str) -> None:
    """Everything `ours` (pydantic's schema of a type) can hold, the contract's schema allows."""
    allowed = {json_type(b): b for b in branches(theirs, {})}
    for branch in branches(ours, defs):
        kind = json_type(branch)
        assert kind in allowed, f"{path}: the type sends {kind}, the contract allows {sorted(allowed)}"
        target = allowed[kind]
        if "enum" in target or "enum" in branch:
            assert set(branch.get("enum", [])) == set(target.get("enum", [])), f"{path}: enum values differ"
        if kind == "array":
            assert_fits(branch["items"], defs, target["items"], f"{path}[]")
        if kind == "object":
            assert_same_object(branch, defs, target, path)


def assert_same_object(ours: dict[str, Any], defs: dict[str, Any], theirs: dict[str, Any], path: str) -> None:
    theirs = resolve(theirs, {})
    assert set(ours["properties"]) == set(theirs["properties"]), (
        f"{path}: fields differ: only in the type {sorted(set(ours['properties']) - set(theirs['properties']))}, "
        f"only in the contract {sorted(set(theirs['properties']) - set(ours['properties']))}"
    )
    missing = set(theirs.get("required", [])) - set(ours.get("required", []))
    assert not missing, f"{path}: the contract requires {sorted(missing)}, the type may leave them out"
    for name, schema in ours["properties"].items():
        assert_fits(schema, defs, theirs["properties"][name], f"{path}.{name}")


@pytest.mark.parametrize(("shape", "name"), RESPONSES, ids=[name for _, name in RESPONSES])
def test_each_response_type_matches_its_contract_schema(shape: type, name: str) -> None:
    ours = TypeAdapter(shape).json_schema()
    assert_same_object(ours, ours.get("$defs", {}), contract(name), name)


@pytest.mark.parametrize(("shape", "name"), RESPONSES, ids=[name for _, name in RESPONSES])
def test_every_contract_example_is_a_value_of_the_type(shape: type, name: str) -> None:
    examples = contract(name).get("examples", [])
    for example in examples:
        TypeAdapter(shape).validate_python(example, strict=True)


def test_the_checks_see_a_drifted_field() -> None:
    """The comparison itself can fail: a type with a renamed field and one with a wrong type are caught."""

    class Renamed(views.ActorView):
        nickname: str

    schema = TypeAdapter(Renamed).json_schema()
    with pytest.raises(AssertionError, match="nickname"):
        assert_same_object(schema, {}, contract("Actor"), "Actor")
    schema = TypeAdapter(views.ProductView).json_schema()
    schema["properties"]["price"] = {"type": "number"}
    with pytest.raises(AssertionError, match="price"):
        assert_same_object(schema, {}, contract("ProductPublic"), "ProductPublic")


def test_the_validated_requests_take_exactly_the_contracts_fields() -> None:
    create = contract("ProductCreate")
    assert set(ProductFields.__annotations__) == set(create["properties"])
    assert set(EDITABLE_FIELDS) == set(contract("ProductUpdate")["properties"])
    adjustment = contract("StockAdjustmentCreate")
    assert {f.name for f in dataclasses.fields(AdjustmentRequest)} == set(adjustment["properties"])
    assert set(ADJUSTMENT_REASONS) == set(contract("StockReason")["enum"])
    report = contract("ImportReport")
    assert {f.name for f in dataclasses.fields(ImportReport)} == set(report["properties"])
    assert {f.name for f in dataclasses.fields(RowError)} == set(report["properties"]["errors"]["items"]["properties"])
