"""Shared test helpers: checking API bodies against openapi/openapi.yaml and reading the outbox."""

from __future__ import annotations

import uuid
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012
from sqlalchemy import Engine, func, select

from inventory_app.adapters.orm import OutboxEvent, Product

OPENAPI_PATH = Path(__file__).resolve().parents[2] / "openapi" / "openapi.yaml"
OPENAPI_URI = "urn:inventory:openapi"


@cache
def _contract_registry() -> Registry:
    document = yaml.safe_load(OPENAPI_PATH.read_text(encoding="utf-8"))
    resource = Resource.from_contents(document, default_specification=DRAFT202012)
    return Registry().with_resource(OPENAPI_URI, resource)


@cache
def _validator(schema_name: str) -> Draft202012Validator:
    schema = {"$ref": f"{OPENAPI_URI}#/components/schemas/{schema_name}"}
    return Draft202012Validator(
        schema, registry=_contract_registry(), format_checker=Draft202012Validator.FORMAT_CHECKER
    )


def assert_matches_contract(body: Any, schema_name: str) -> None:
    """Fail with every violation when `body` does not match `components/schemas/<schema_name>`."""
    errors = sorted(_validator(schema_name).iter_errors(body), key=lambda e: list(e.absolute_path))
    assert not errors, f"{schema_name} violations: " + "; ".join(
        f"{'/'.join(map(str, e.absolute_path)) or '<root>'}: {e.message}" for e in errors
    )


def unique_sku(prefix: str = "T") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}".upper()


def outbox_events(engine: Engine, product_id: str | uuid.UUID) -> list[dict[str, Any]]:
    """Every outbox payload for one product in write order, published or not (the relay runs alongside)."""
    with engine.connect() as connection:
        rows = connection.execute(
            select(OutboxEvent.payload)
            .where(OutboxEvent.aggregate_id == uuid.UUID(str(product_id)))
            .order_by(OutboxEvent.id)
        ).scalars()
        return list(rows)


def count_products_with_sku(engine: Engine, sku: str) -> int:
    with engine.connect() as connection:
        return connection.execute(select(func.count()).select_from(Product).where(Product.sku == sku)).scalar_one()


def count_outbox_events_for_sku(engine: Engine, sku: str) -> int:
    """Outbox rows naming this SKU in their payload (product snapshot or low-stock data), any product."""
    product_sku = OutboxEvent.payload["data"]["product"]["sku"].astext
    warning_sku = OutboxEvent.payload["data"]["sku"].astext
    with engine.connect() as connection:
        return connection.execute(
            select(func.count()).select_from(OutboxEvent).where((product_sku == sku) | (warning_sku == sku))
        ).scalar_one()
