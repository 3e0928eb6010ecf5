"""An in-memory unit of work: the services' use cases run on it without PostgreSQL.

It keeps what the Postgres one promises: changes are staged and become visible only when the unit
commits (an exception discards them, rows and events together), events are checked against their
contracts before anything is staged, a SKU is unique, and idempotency keys replay their first answer.
"""

from __future__ import annotations

import copy
import uuid
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from inventory_app.domain.changes import Change, Movement, Place, ProductState, StockLevel
from inventory_app.domain.errors import DuplicateSku, FieldError
from inventory_app.domain.identity import Actor
from inventory_app.domain.locations import Location
from inventory_app.services.idempotency import Stored, StoredResponse, check_key, replay_or_refuse
from inventory_app.services.unit_of_work import UnitOfWork, UnitOfWorkFactory, changed_products, validate_events


def location(code: str, name: str, parent: uuid.UUID | None = None, *, default: bool = False, active: bool = True):
    now = datetime.now(UTC)
    return Location(uuid.uuid4(), code, name, parent, active, default, 1, now, now)


def default_locations() -> dict[uuid.UUID, Location]:
    """As migration 0008 leaves a database: one default location."""
    only = location("DEFAULT", "Default location", default=True)
    return {only.id: only}


@dataclass
class FakeDatabase:
    """What committed units left behind."""

    products: dict[uuid.UUID, ProductState] = field(default_factory=dict)
    movements: list[Movement] = field(default_factory=list)
    outbox: list[tuple[dict[str, Any], dict[str, Any]]] = field(default_factory=list)  # (event, actor)
    keys: dict[tuple[str, str], Stored] = field(default_factory=dict)
    locations: dict[uuid.UUID, Location] = field(default_factory=default_locations)
    levels: dict[tuple[uuid.UUID, uuid.UUID], StockLevel] = field(default_factory=dict)  # (product, place)
    commits: int = 0
    invalidated: list[set[str]] = field(default_factory=list)

    @property
    def events(self) -> list[dict[str, Any]]:
        return [event for event, _ in self.outbox]

    def by_sku(self, sku: str) -> ProductState | None:
        return next((p for p in self.products.values() if p.sku == sku), None)

    def place(self, location_id: uuid.UUID) -> Place:
        loc = self.locations[location_id]
        return Place(loc.id, loc.code, loc.name, loc.active, loc.is_default)

    @property
    def default(self) -> Place:
        return next(self.place(loc.id) for loc in self.locations.values() if loc.is_default)

    def stock(self, product_id: uuid.UUID) -> dict[str, int]:
        return {lv.place.code: lv.quantity for (pid, _), lv in self.levels.items() if pid == product_id}


class FakeUnitOfWork:
    def __init__(self, database: FakeDatabase, actor: Actor) -> None:
        self.actor = actor
        self.staged = copy.deepcopy(database)
        self.changed: set[str] = set()

    async def lock(self, product_id: uuid.UUID) -> ProductState | None:
        return self.staged.products.get(product_id)

    async def lock_by_skus(self, skus: list[str]) -> list[ProductState]:
        wanted = set(skus)
        return sorted((p for p in self.staged.products.values() if p.sku in wanted), key=lambda p: p.id)

    async def sku_taken(self, sku: str, except_id: uuid.UUID | None = None) -> bool:
        found = self.staged.by_sku(sku)
        return found is not None and found.id != except_id

    async def lock_stock(
        self, product_id: uuid.UUID, named: Iterable[uuid.UUID] = ()
    ) -> tuple[list[StockLevel], dict[uuid.UUID, Place]]:
        levels = [lv for (pid, _), lv in self.staged.levels.items() if pid == product_id]
        wanted = {lv.place.id for lv in levels} | set(named) | {self.staged.default.id}
        places = {lid: self.staged.place(lid) for lid in wanted if lid in self.staged.locations}
        return [replace(lv, place=places[lv.place.id]) for lv in levels], places

    async def locations(self) -> list[Location]:
        return list(self.staged.locations.values())

    async def lock_stock_levels(self, product_ids: list[uuid.UUID]) -> dict[uuid.UUID, list[StockLevel]]:
        found: dict[uuid.UUID, list[StockLevel]] = {}
        for (pid, lid), level in self.staged.levels.items():
            if pid in product_ids:
                found.setdefault(pid, []).append(replace(level, place=self.staged.place(lid)))
        return found

    async def replay(self, scope: str, key: str, body_hash: str) -> StoredResponse | None:
        check_key(key)
        stored = self.staged.keys.get((scope, key))
        return None if stored is None else replay_or_refuse(stored, body_hash)

    async def remember(self, scope: str, key: str, body_hash: str, status: int, body: dict[str, Any]) -> None:
        self.staged.keys[(scope, key)] = Stored(body_hash, status, copy.deepcopy(body))

    async def record(self, *changes: Change) -> None:
        validate_events(changes)
        for change in changes:
            if change.after is None:
                self.staged.products.pop(change.before.id, None)
                self.staged.levels = {k: v for k, v in self.staged.levels.items() if k[0] != change.before.id}
                continue
            for level in change.levels:
                assert level.quantity >= 0, "the stock_level check constraint"
                self.staged.levels[(level.product_id, level.place.id)] = level
            clash = self.staged.by_sku(change.after.sku)
            if clash is not None and clash.id != change.after.id:  # the unique index's job in PostgreSQL
                raise DuplicateSku(
                    f"A product with SKU {change.after.sku} already exists.", [FieldError("sku", "already exists")]
                )
            self.staged.products[change.after.id] = change.after
        self.staged.movements += [m for c in changes for m in c.movements]
        self.staged.outbox += [(event, self.actor.to_json()) for c in changes for event in c.events]
        self.changed |= changed_products(changes)


def fake_unit_of_work(database: FakeDatabase) -> UnitOfWorkFactory:
    @asynccontextmanager
    async def unit_of_work(actor: Actor) -> AsyncIterator[UnitOfWork]:
        unit = FakeUnitOfWork(database, actor)
        yield unit
        # Commit: everything the unit staged at once (an exception above skipped this: nothing changed).
        staged = unit.staged
        database.products, database.movements, database.outbox, database.keys = (
            staged.products,
            staged.movements,
            staged.outbox,
            staged.keys,
        )
        database.locations, database.levels = staged.locations, staged.levels
        database.commits += 1
        if unit.changed:
            database.invalidated.append(unit.changed)

    return unit_of_work
