"""Locations: the tree of places that hold stock (warehouse / zone / shelf), and its rules. No I/O."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from inventory_app.domain import events
from inventory_app.domain.errors import FieldError, ValidationFailed
from inventory_app.domain.model import _text, normalize_sku, parse_uuid

PATH_SEPARATOR = " / "
EDITABLE = ("code", "name", "parent_id", "active")


@dataclass(frozen=True)
class Location:
    id: uuid.UUID
    code: str
    name: str
    parent_id: uuid.UUID | None
    active: bool
    is_default: bool
    version: int
    created_at: datetime
    updated_at: datetime


LOCATION_COLUMNS = ("id", "code", "name", "parent_id", "active", "is_default", "version", "created_at", "updated_at")


def validate_location_fields(payload: Any, *, partial: bool) -> dict[str, Any]:
    """A create (code, name, parent_id) or an update (any of code, name, parent_id, active), checked whole."""
    if not isinstance(payload, dict):
        raise ValidationFailed("The body must be a JSON object.", [FieldError("body", "must be an object")])
    allowed = EDITABLE if partial else ("code", "name", "parent_id")
    errors = [FieldError(key, "is not a known field") for key in payload if key not in allowed]
    if partial and not payload:
        errors.append(FieldError("body", "must change at least one field"))
    if not partial:
        errors += [FieldError(key, "is required") for key in ("code", "name") if payload.get(key) is None]
    cleaned: dict[str, Any] = {}
    if payload.get("code") is not None:
        cleaned["code"] = normalize_sku(payload["code"], errors, field="code")
    if payload.get("name") is not None:
        cleaned["name"] = _text(payload["name"], "name", 200, errors, required=True)
    if "parent_id" in payload:
        parent = payload["parent_id"]
        cleaned["parent_id"] = None if parent is None else parse_uuid(parent, "parent_id", errors)
    if "active" in payload and partial:
        if isinstance(payload["active"], bool):
            cleaned["active"] = payload["active"]
        else:
            errors.append(FieldError("active", "must be true or false"))
    errors += [
        FieldError(key, "must not be null")
        for key in ("code", "name", "active")
        if partial and key in payload and payload[key] is None
    ]
    if errors:
        raise ValidationFailed("The location has invalid fields.", errors)
    return cleaned


def within(location_id: uuid.UUID, ancestor_id: uuid.UUID, parents: dict[uuid.UUID, uuid.UUID | None]) -> bool:
    """Whether `location_id` is `ancestor_id` or lies under it (following `parents`, bounded by its size)."""
    current: uuid.UUID | None = location_id
    for _ in range(len(parents) + 1):
        if current is None:
            return False
        if current == ancestor_id:
            return True
        current = parents.get(current)
    return True  # a cycle in stored data: treat as "inside", so nothing is moved into it


@dataclass(frozen=True)
class TreeEntry:
    location: Location
    path: str
    depth: int


def tree(locations: Iterable[Location]) -> list[TreeEntry]:
    """Depth first from the roots, siblings by code, each with its path of names from the root."""
    children: dict[uuid.UUID | None, list[Location]] = {}
    for location in locations:
        children.setdefault(location.parent_id, []).append(location)
    ordered: list[TreeEntry] = []
    stack = [(loc, loc.name, 0) for loc in sorted(children.get(None, []), key=lambda x: x.code, reverse=True)]
    while stack:
        location, path, depth = stack.pop()
        ordered.append(TreeEntry(location, path, depth))
        below = sorted(children.get(location.id, []), key=lambda x: x.code, reverse=True)
        stack += [(child, f"{path}{PATH_SEPARATOR}{child.name}", depth + 1) for child in below]
    return ordered


def public(entry: TreeEntry) -> dict[str, Any]:
    location = entry.location
    return {
        "id": str(location.id),
        "code": location.code,
        "name": location.name,
        "parent_id": str(location.parent_id) if location.parent_id else None,
        "path": entry.path,
        "depth": entry.depth,
        "active": location.active,
        "is_default": location.is_default,
        "version": location.version,
        "created_at": events.rfc3339(location.created_at),
        "updated_at": events.rfc3339(location.updated_at),
    }
