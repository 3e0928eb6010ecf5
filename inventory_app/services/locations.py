"""Location use cases: the tree for everyone, creating, changing and deleting locations for admins.

A location change emits no event: product consumers learn of locations from the stock events that name
them (code and id), and nothing downstream keeps a copy of the tree.
"""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from psycopg import AsyncConnection

from inventory_app.adapters import location_store
from inventory_app.bootstrap import wiring
from inventory_app.domain import locations
from inventory_app.domain.errors import (
    FieldError,
    LocationInactive,
    LocationInUse,
    LocationNotFound,
    ValidationFailed,
    VersionConflict,
)
from inventory_app.domain.identity import Principal, Role
from inventory_app.domain.locations import Location
from inventory_app.domain.views import LocationsPage, LocationView


async def list_locations(*, active: bool | None = None) -> LocationsPage:
    async with (await wiring().pool()).connection() as conn:
        everything = await location_store.fetch_all(conn)
    entries = [e for e in locations.tree(everything) if active is None or e.location.active == active]
    return {"data": [locations.public(e) for e in entries], "count": len(entries)}


async def get_location(location_id: str | uuid.UUID) -> LocationView:
    lid = _parse(location_id)
    async with (await wiring().pool()).connection() as conn:
        return _view(lid, await location_store.fetch_all(conn))


async def create_location(payload: Any, *, by: Principal) -> LocationView:
    by.require(Role.ADMIN)
    fields = locations.validate_location_fields(payload, partial=False)
    now = datetime.now(UTC)
    location = Location(uuid.uuid4(), fields["code"], fields["name"], fields.get("parent_id"), True, False, 1, now, now)
    async with (await wiring().pool()).connection() as conn, conn.transaction():
        if location.parent_id is not None:
            await _usable_parent(conn, location.parent_id)
        await location_store.insert(conn, location)
        return _view(location.id, await location_store.fetch_all(conn))


async def update_location(
    location_id: str | uuid.UUID, payload: Any, *, by: Principal, expected_version: int | None = None
) -> LocationView:
    by.require(Role.ADMIN)
    fields = locations.validate_location_fields(payload, partial=True)
    lid = _parse(location_id)
    async with (await wiring().pool()).connection() as conn, conn.transaction():
        current = await _locked(conn, lid, expected_version)
        changed = replace(current, **fields)
        if changed == current:
            return _view(lid, await location_store.fetch_all(conn))
        if current.is_default and not changed.active:
            raise LocationInUse(
                f"{current.code} is the default location (where stock goes when a request names none): "
                "it stays active.",
                [FieldError("active", "the default location cannot be deactivated")],
            )
        if "parent_id" in fields and fields["parent_id"] != current.parent_id and fields["parent_id"] is not None:
            await _usable_parent(conn, fields["parent_id"])
            if locations.within(fields["parent_id"], lid, await location_store.parents(conn)):
                raise ValidationFailed(
                    "A location cannot move under itself or one of its own sub-locations.",
                    [FieldError("parent_id", "is this location or lies under it")],
                )
        await location_store.update(conn, replace(changed, version=current.version + 1, updated_at=datetime.now(UTC)))
        view = _view(lid, await location_store.fetch_all(conn))
    if changed.parent_id != current.parent_id:
        # Which products a location holds (a list filtered by it) counts its whole subtree: cached lists go.
        wiring().read_cache.clear()
        await wiring().commit_notices.committed(everything=True)
    return view


async def delete_location(location_id: str | uuid.UUID, *, by: Principal, expected_version: int | None = None) -> None:
    by.require(Role.ADMIN)
    lid = _parse(location_id)
    async with (await wiring().pool()).connection() as conn, conn.transaction():
        # The row lock waits for stock changes that share-locked it, and keeps new ones out until we end.
        current = await _locked(conn, lid, expected_version)
        uses = await location_store.uses(conn, lid)
        why = [
            reason
            for reason, present in (
                ("it is the default location", current.is_default),
                (f"it holds {uses['units']} units of stock", uses["units"]),
                (f"it has {uses['children']} sub-locations", uses["children"]),
                ("stock movements name it", uses["ledger"]),
            )
            if present
        ]
        if why:
            raise LocationInUse(
                f"{current.code} cannot be deleted: {', '.join(why)}. Deactivate it instead.",
                [FieldError("location_id", "is in use")],
            )
        await location_store.delete(conn, lid)


async def _locked(conn: AsyncConnection, lid: uuid.UUID, expected_version: int | None) -> Location:
    current = await location_store.fetch(conn, lid, lock=True)
    if current is None:
        raise LocationNotFound(f"No location with id {lid}.")
    if expected_version is not None and expected_version != current.version:
        raise VersionConflict(
            f"The location is at version {current.version}, not {expected_version}: it was changed by someone else.",
            [FieldError("If-Match", f"current version is {current.version}")],
        )
    return current


async def _usable_parent(conn: AsyncConnection, parent_id: uuid.UUID) -> None:
    parent = await location_store.fetch(conn, parent_id)
    if parent is None:
        raise ValidationFailed("The parent location does not exist.", [FieldError("parent_id", "names no location")])
    if not parent.active:
        raise LocationInactive(
            f"{parent.code} is inactive: nothing new goes under it.", [FieldError("parent_id", "is inactive")]
        )


def _view(lid: uuid.UUID, everything: list[Location]) -> LocationView:
    entry = next((e for e in locations.tree(everything) if e.location.id == lid), None)
    if entry is None:
        raise LocationNotFound(f"No location with id {lid}.")
    return locations.public(entry)


def _parse(value: str | uuid.UUID) -> uuid.UUID:
    if isinstance(value, uuid.UUID):
        return value
    try:
        return uuid.UUID(str(value))
    except ValueError:
        raise LocationNotFound(f"No location with id {value!r}.") from None
