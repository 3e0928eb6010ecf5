"""Load the inventory event JSON Schemas into a registry and validate events and notices against them."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema_rs
from jsonschema import Draft202012Validator, ValidationError
from referencing import Registry, Resource

__all__ = [
    "ACTOR_TYPES",
    "ATTRIBUTION_HEADERS",
    "BASE_URI",
    "EVENTS_DIR",
    "EVENT_SCHEMAS",
    "EVENT_VERSIONS",
    "NOTICE_SCHEMA",
    "REGISTRY",
    "UnknownEventType",
    "load_schema",
    "schema_files",
    "validate_event",
    "validate_notice",
    "validator_for",
]

EVENTS_DIR: Path = Path(__file__).resolve().parent / "events"
BASE_URI: str = "https://inventory.example/schemas/events/"

EVENT_SCHEMAS: dict[str, str] = {
    "inventory.product.created": "product-created.schema.json",
    "inventory.product.updated": "product-updated.schema.json",
    "inventory.product.deleted": "product-deleted.schema.json",
    "inventory.product.low-stock-warning": "low-stock-warning.schema.json",
    "inventory.product.stock-transferred": "stock-transferred.schema.json",
    "inventory.product.location-low-stock-warning": "location-low-stock-warning.schema.json",
}
"""CloudEvent ``type`` -> the schema file of its first version (``…/1``) in ``schemas/events``."""

EVENT_VERSIONS: dict[tuple[str, str], str] = {
    **{
        (event_type, f"{BASE_URI}{file.removesuffix('.schema.json')}/1"): file
        for event_type, file in EVENT_SCHEMAS.items()
    },
    ("inventory.product.updated", f"{BASE_URI}product-updated/2"): "product-updated.v2.schema.json",
}
"""``(type, dataschema)`` -> schema file: an event is checked against the version it says it is
(schemas/CHANGELOG.md, Evolution policy)."""


class UnknownEventType(ValidationError):
    """An event type this code does not know: consumers ignore and count it (a newer producer's addition)."""


NOTICE_SCHEMA: str = "notice.v2.schema.json"
"""Notices are checked against version 2 (schemas 1.4.0), a superset of version 1: every v1 notice passes."""

ATTRIBUTION_HEADERS: dict[str, str] = {
    "actor": "ce_actor",
    "actortype": "ce_actortype",
    "actorid": "ce_actorid",
}
"""CloudEvents extension attribute -> the Kafka header carrying it beside the unchanged v1 body: who made
the change (schemas/CHANGELOG.md, "Evolution policy"). ``ce_actor`` is the display name, ``ce_actortype``
one of ``ACTOR_TYPES``, ``ce_actorid`` the user's id (absent for ``system``)."""

ACTOR_TYPES: tuple[str, ...] = ("user", "token", "system")
"""Values of the ``ce_actortype`` header (and of ``Actor.type`` in the REST contract)."""


def schema_files() -> list[str]:
    """Return the file names of all event schemas, sorted."""
    return sorted(p.name for p in EVENTS_DIR.glob("*.schema.json"))


@cache
def load_schema(schema_file: str) -> dict[str, Any]:
    """Return the parsed contents of one schema file from ``schemas/events``."""
    contents: dict[str, Any] = json.loads((EVENTS_DIR / schema_file).read_text(encoding="utf-8"))
    return contents


def _build_registry() -> Registry:
    resources: list[tuple[str, Resource]] = []
    for name in schema_files():
        contents = load_schema(name)
        resources.append((contents["$id"], Resource.from_contents(contents)))
    return Registry().with_resources(resources).crawl()


REGISTRY: Registry = _build_registry()


@cache
def validator_for(schema_file: str) -> Draft202012Validator:
    """Return a cached 2020-12 validator (with format checking) for a schema file name."""
    return Draft202012Validator(
        load_schema(schema_file),
        registry=REGISTRY,
        format_checker=Draft202012Validator.FORMAT_CHECKER,
    )


@cache
def _fast_validator_for(schema_file: str) -> Any:
    """The same schema compiled by jsonschema-rs (Rust): ~100x faster, used to accept valid documents.

    Every event written goes through here on the request path; only a document it rejects is
    validated again by `jsonschema`, for the detailed `ValidationError` callers expect.
    """
    resources = [(load_schema(name)["$id"], load_schema(name)) for name in schema_files()]
    return jsonschema_rs.validator_for(
        load_schema(schema_file), registry=jsonschema_rs.Registry(resources), validate_formats=True
    )


def _validate(schema_file: str, document: Any) -> None:
    if not _fast_validator_for(schema_file).is_valid(document):
        validator_for(schema_file).validate(document)
        # jsonschema accepted what jsonschema-rs refused: stay strict rather than let it through.
        raise ValidationError(f"rejected by the {schema_file} contract", instance=document)


def validate_event(event: dict[str, Any]) -> None:
    """Validate a CloudEvent against the schema of its ``type`` and ``dataschema`` version.

    Raises ``UnknownEventType`` for a type this code does not know, and ``jsonschema.ValidationError``
    when the event is invalid, has no type, or names a version of a known type that is not here.
    """
    event_type = event.get("type") if isinstance(event, dict) else None
    if not isinstance(event_type, str) or not event_type:
        raise ValidationError(f"the event has no type: {event_type!r}", validator="type", instance=event_type)
    if event_type not in EVENT_SCHEMAS:
        raise UnknownEventType(f"unknown event type: {event_type!r}", validator="enum", instance=event_type)
    dataschema = event.get("dataschema")
    schema_file = EVENT_VERSIONS.get((event_type, dataschema)) if isinstance(dataschema, str) else None
    if schema_file is None:
        raise ValidationError(
            f"unknown dataschema {dataschema!r} for {event_type}", validator="enum", instance=dataschema
        )
    _validate(schema_file, event)


def validate_notice(notice: dict[str, Any]) -> None:
    """Validate a notifier ``Notice``; raises ``jsonschema.ValidationError`` when invalid."""
    _validate(NOTICE_SCHEMA, notice)
