"""The unit of work: one transaction per use case, recording each change with its outbox events.

`async_unit_of_work` (psycopg pool) is the product use cases' path; `unit_of_work` (ORM session in a thread)
remains for the CSV import and the identity use cases until they move too.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any

from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from inventory_app.adapters import product_store
from inventory_app.adapters.db import get_engine, session_scope
from inventory_app.adapters.orm import OutboxEvent
from inventory_app.adapters.pg_pool import get_pool
from inventory_app.domain.changes import Change
from inventory_app.domain.identity import Actor
from inventory_app.services.read_cache import get_read_cache
from schemas.registry import validate_event

CHANGED_PRODUCTS = "changed_products"
ACTOR = "actor"


def actor_of(session: Session) -> Actor:
    """Who the unit of work acts for: every change it records is attributed to them."""
    actor = session.info.get(ACTOR)
    if actor is None:
        raise RuntimeError("a change outside a unit of work that names its actor")
    return actor


def add_event(session: Session, event: dict[str, Any]) -> dict[str, Any]:
    """Validate against the event contract, then stage the outbox row in the caller's transaction.

    An event that leaves its schema raises here, so the whole change rolls back: a row never
    commits without its event, and an event never ships without its row.
    """
    validate_event(event)
    actor = actor_of(session)
    session.info.setdefault(CHANGED_PRODUCTS, set()).add(event["subject"])
    session.add(
        OutboxEvent(
            event_id=uuid.UUID(event["id"]),
            aggregate_id=uuid.UUID(event["subject"]),
            event_type=event["type"],
            payload=event,
            actor=actor.to_json(),
        )
    )
    return event


@contextmanager
def unit_of_work(engine: Engine | None = None, *, actor: Actor | None = None) -> Iterator[Session]:
    """One transaction; `actor` is required for one that changes anything (reads may leave it out)."""
    with session_scope(engine or get_engine()) as session:
        if actor is not None:
            session.info[ACTOR] = actor
        yield session
        changed = session.info.get(CHANGED_PRODUCTS)
    # Committed (session_scope re-raises otherwise). Every product change emits an event, so the event
    # subjects are exactly the products to drop; the NOTIFY does the same for the other processes.
    if changed:
        get_read_cache().invalidate(changed)


class AsyncUnitOfWork:
    """One transaction on a pooled psycopg connection, acting for `actor`; `record` stages a domain change."""

    def __init__(self, conn: AsyncConnection, actor: Actor) -> None:
        self.conn = conn
        self.actor = actor
        self.changed: set[str] = set()

    async def record(self, change: Change) -> None:
        """Validate the change's events against the contract, then write its rows and outbox rows.

        An event that leaves its schema raises before anything is written, and the transaction rolls
        back: a row never commits without its event, nor an event without its row.
        """
        for event in change.events:
            validate_event(event)
        await product_store.write_change(self.conn, change, self.actor.to_json())
        self.changed.update(event["subject"] for event in change.events)


@asynccontextmanager
async def async_unit_of_work(actor: Actor, pool: AsyncConnectionPool | None = None) -> AsyncIterator[AsyncUnitOfWork]:
    """Begin; the caller locks, applies a domain change and records it; commit; then invalidate the caches."""
    async with (pool or await get_pool()).connection() as conn, conn.transaction():
        unit = AsyncUnitOfWork(conn, actor)
        yield unit
    if unit.changed:
        get_read_cache().invalidate(unit.changed)
