"""What a worker consumes: a checked event with its Kafka record, and the contract a handler fulfils."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from aiokafka import ConsumerRecord
from jsonschema import ValidationError

from schemas.registry import UnknownEventType, validate_event


class UnknownType(Exception):
    """An event of a type this code does not know: skipped and counted (schemas/CHANGELOG.md, 1.4.0)."""

    def __init__(self, event_type: str) -> None:
        super().__init__(f"unknown event type {event_type!r}")
        self.event_type = event_type


class DependencyUnavailable(Exception):
    """A store the handler needs is down: wait and retry the same batch, never dead-letter it."""


class StopDuringOutage(Exception):
    """SIGTERM arrived while a store was down: stop without committing the unfinished batch."""


@dataclass
class ConsumedEvent:
    record: ConsumerRecord
    event: dict[str, Any]

    @property
    def event_id(self) -> str:
        return self.event["id"]

    @property
    def attributed_event(self) -> dict[str, Any]:
        """The event with who made it: the `ce_actor*` headers as CloudEvents extension attributes
        (`actor`, `actortype`, `actorid`; schemas/CHANGELOG.md), as the event log stores and serves it."""
        return {**self.event, **attribution_of(self.record.headers or ())}


ATTRIBUTION_HEADERS = {"ce_actor": "actor", "ce_actortype": "actortype", "ce_actorid": "actorid"}


def attribution_of(headers: Sequence[tuple[str, bytes]]) -> dict[str, str]:
    found = {}
    for key, value in headers:
        if key in ATTRIBUTION_HEADERS and value:
            try:
                found[ATTRIBUTION_HEADERS[key]] = value.decode("utf-8")
            except UnicodeDecodeError:
                continue  # a foreign producer's bad header: the event stays, unattributed
    return found


class EventHandler(Protocol):
    """A worker's logic. Every call must be idempotent: a batch can be delivered again after a crash.

    `handle_batch` gets a whole poll (it may work concurrently); when it fails with anything but
    `DependencyUnavailable`, the loop falls back to `handle`, one event at a time, so only the event
    that fails is retried and dead-lettered. `flush` closes a batch before its offsets are committed.
    """

    async def handle(self, event: ConsumedEvent) -> None: ...

    async def handle_batch(self, events: Sequence[ConsumedEvent]) -> None: ...

    async def flush(self, batch: Sequence[ConsumedEvent]) -> None: ...


def parse(record: ConsumerRecord) -> dict[str, Any]:
    """Decode and check a message against its event schema; raise ValueError naming the problem, or
    UnknownType for a well-formed event of a type this code does not know."""
    try:
        event = json.loads(record.value)
    except (TypeError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ValueError(f"not JSON: {error}") from None
    if not isinstance(event, dict):
        raise ValueError("not a JSON object")
    try:
        validate_event(event)
    except UnknownEventType:
        raise UnknownType(str(event["type"])) from None
    except ValidationError as error:
        raise ValueError(f"schema violation: {error.message}") from None
    return event
