"""The unit of work: one transaction per use case, with helpers to record outbox events in it."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from inventory_app.adapters.db import get_engine, session_scope
from inventory_app.adapters.orm import OutboxEvent
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
