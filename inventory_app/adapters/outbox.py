"""The outbox relay: claims committed events from PostgreSQL and publishes them to Kafka, in order per product."""

from __future__ import annotations

import asyncio
import logging
import random
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
import psycopg
from aiokafka import AIOKafkaProducer
from psycopg.types.json import set_json_loads

from inventory_app import metrics
from inventory_app.adapters.kafka import ensure_topics, make_producer
from inventory_app.settings import Settings

log = logging.getLogger("inventory_app.relay")

CE_HEADERS = ("specversion", "id", "source", "type", "time", "subject", "dataschema")
MAX_BACKOFF_S = 5.0
SEND_TIMEOUT_S = 30.0
CLEANUP_EVERY_S = 30.0
CLEANUP_BATCH = 5000

CLAIM_SQL = """
SELECT id, event_id, aggregate_id, payload, created_at, actor
FROM outbox WHERE published_at IS NULL
ORDER BY id LIMIT %(limit)s FOR UPDATE SKIP LOCKED
"""
LEADER_SQL = "SELECT pg_try_advisory_lock(hashtextextended(%s, 0))"
# Rows of the same product held by another relay (locked, so skipped above) must go first:
# find, per product in our batch, the earliest pending row we did not claim.
BLOCKERS_SQL = """
SELECT aggregate_id, min(id) FROM outbox
WHERE published_at IS NULL AND aggregate_id = ANY(%(aggregates)s)
  AND id < %(max_id)s AND NOT (id = ANY(%(ids)s))
GROUP BY aggregate_id
"""


def psycopg_url(sqlalchemy_url: str) -> str:
    return sqlalchemy_url.replace("postgresql+psycopg://", "postgresql://", 1)


def kafka_headers(event: dict[str, Any], actor: dict[str, Any] | None = None) -> list[tuple[str, bytes]]:
    """CloudEvents Kafka binding: the attributes also travel as ce_* headers (structured mode body).

    Who made the change travels only here, as the extension attributes `actor`, `actortype` and
    `actorid` (schemas/CHANGELOG.md): the body stays the frozen v1 shape every consumer validates.
    """
    headers = [(f"ce_{name}", str(event[name]).encode()) for name in CE_HEADERS if name in event]
    if actor:
        headers.append(("ce_actor", str(actor.get("name") or actor.get("type") or "system").encode()))
        headers.append(("ce_actortype", str(actor.get("type") or "system").encode()))
        if actor.get("id"):
            headers.append(("ce_actorid", str(actor["id"]).encode()))
    headers.append(("content-type", b"application/cloudevents+json; charset=UTF-8"))
    return headers


@dataclass
class ClaimedRow:
    id: int
    event_id: str
    aggregate_id: str
    payload: dict[str, Any]
    created_at: datetime
    actor: dict[str, Any] | None = None


def drop_blocked(rows: list[ClaimedRow], blockers: dict[str, int]) -> list[ClaimedRow]:
    """Keep only rows whose product has no earlier pending row held elsewhere."""
    return [r for r in rows if r.aggregate_id not in blockers or r.id < blockers[r.aggregate_id]]


def backoff_delay(attempt: int, initial_s: float = 0.2, max_s: float = MAX_BACKOFF_S) -> float:
    return min(max_s, initial_s * 2 ** max(0, attempt - 1)) * (0.8 + 0.4 * random.random())


async def wait_for_producer(settings: Settings, attempts: int | None = None) -> AIOKafkaProducer:
    """Start a producer, retrying with exponential backoff; raise after the last attempt."""
    attempts = attempts or settings.producer_ready_attempts
    for attempt in range(1, attempts + 1):
        producer = make_producer(settings)
        try:
            await asyncio.wait_for(producer.start(), timeout=settings.kafka_request_timeout_ms / 1000 + 5)
            await ensure_topics(settings)
            log.info("kafka producer ready (attempt %d/%d)", attempt, attempts)
            return producer
        except Exception as error:
            await _stop_quietly(producer)
            delay = backoff_delay(attempt, 0.5, 10.0)
            log.warning(
                "kafka producer not ready (attempt %d/%d): %s; retrying in %.1fs",
                attempt,
                attempts,
                error or type(error).__name__,
                delay,
            )
            if attempt == attempts:
                raise
            await asyncio.sleep(delay)
    raise RuntimeError("unreachable")


async def _stop_quietly(producer: AIOKafkaProducer) -> None:
    try:
        await asyncio.wait_for(producer.stop(), timeout=10)
    except Exception:
        log.debug("producer stop failed", exc_info=True)


class OutboxRelay:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.url = psycopg_url(settings.database_url)
        self.topic = settings.kafka_topic_product_events
        self.producer: AIOKafkaProducer | None = None
        self._last_cleanup = 0.0

    async def run_forever(self) -> None:
        """Publish until cancelled; outages of Kafka or PostgreSQL only delay events."""
        failures = 0
        while True:
            try:
                if self.producer is None:
                    self.producer = await wait_for_producer(self.settings)
                await self._run_with_listener()
            except asyncio.CancelledError:
                await self.close()
                raise
            except Exception as error:  # noqa: BLE001 - the relay must outlive any outage; it backs off and retries
                failures += 1
                metrics.OUTBOX_PUBLISH_ERRORS.inc()
                delay = backoff_delay(failures)
                log.warning("outbox relay error: %s; retrying in %.1fs", error or type(error).__name__, delay)
                if self.producer is not None:
                    # An idempotent producer that failed may be fenced: start a fresh one.
                    await _stop_quietly(self.producer)
                    self.producer = None
                await asyncio.sleep(delay)
            else:
                failures = 0

    async def close(self) -> None:
        if self.producer is not None:
            await _stop_quietly(self.producer)
            self.producer = None

    async def _run_with_listener(self) -> None:
        async with await psycopg.AsyncConnection.connect(self.url, autocommit=True, connect_timeout=5) as listener:
            await self._become_leader(listener)
            await listener.execute("LISTEN outbox")
            async with await psycopg.AsyncConnection.connect(self.url, connect_timeout=5) as conn:
                set_json_loads(orjson.loads, context=conn)  # payloads are decoded once per event: make it cheap
                while True:
                    published = await self.publish_batch(conn)
                    await self._cleanup_if_due(conn)
                    if published >= self.settings.outbox_batch_size:
                        continue  # a full batch: more may be waiting
                    # Sleep until a commit notifies us, or poll anyway after the interval.
                    async for _ in listener.notifies(timeout=self.settings.outbox_poll_interval_s, stop_after=1):
                        pass

    async def _become_leader(self, listener: psycopg.AsyncConnection) -> None:
        """Wait until this relay holds the topic's relay lock: one relay publishes, the others stand by.

        Every app worker runs a relay. Racing relays stay correct (SKIP LOCKED and the blockers below)
        but split each burst into small claims and hold back rows another relay has locked, which made
        write-to-notice latency uneven. The session-level advisory lock lives as long as the listener's
        connection, so a dead leader's lock is released with its connection and a standby takes over
        within a poll interval.
        """
        standing_by = False
        while True:
            cursor = await listener.execute(LEADER_SQL, (f"outbox-relay:{self.topic}",))
            if (await cursor.fetchone())[0]:
                metrics.OUTBOX_RELAY_LEADER.set(1)
                if standing_by:
                    log.info("outbox relay took over publishing to %s", self.topic)
                return
            if not standing_by:
                standing_by = True
                metrics.OUTBOX_RELAY_LEADER.set(0)
                log.info("outbox relay standing by: another relay publishes to %s", self.topic)
            await asyncio.sleep(self.settings.outbox_poll_interval_s)

    async def publish_batch(self, conn: psycopg.AsyncConnection) -> int:
        """Claim, send, await acks, mark published: one transaction. Returns rows published."""
        assert self.producer is not None
        async with conn.transaction():
            cursor = await conn.execute(CLAIM_SQL, {"limit": self.settings.outbox_batch_size})
            rows = [ClaimedRow(r[0], str(r[1]), str(r[2]), r[3], r[4], r[5]) for r in await cursor.fetchall()]
            if not rows:
                return 0
            blockers_cursor = await conn.execute(
                BLOCKERS_SQL,
                {
                    "aggregates": list({r.aggregate_id for r in rows}),
                    "max_id": rows[-1].id,
                    "ids": [r.id for r in rows],
                },
            )
            blockers = {str(a): i for a, i in await blockers_cursor.fetchall()}
            rows = drop_blocked(rows, blockers)
            if not rows:
                return 0
            futures = []
            for row in rows:
                futures.append(
                    await asyncio.wait_for(
                        self.producer.send(
                            self.topic,
                            value=orjson.dumps(row.payload),
                            key=row.aggregate_id.encode(),
                            headers=kafka_headers(row.payload, row.actor),
                        ),
                        timeout=SEND_TIMEOUT_S,
                    )
                )
            # Only acknowledged events are marked; any failure rolls the whole claim back for a retry.
            await asyncio.wait_for(asyncio.gather(*futures), timeout=SEND_TIMEOUT_S)
            await conn.execute(
                "UPDATE outbox SET published_at = now() WHERE id = ANY(%(ids)s)", {"ids": [r.id for r in rows]}
            )
        now = datetime.now(UTC)
        metrics.OUTBOX_PUBLISHED.inc(len(rows))
        for row in rows:
            metrics.OUTBOX_PUBLISH_LATENCY.observe(max(0.0, (now - row.created_at).total_seconds()))
        return len(rows)

    async def _cleanup_if_due(self, conn: psycopg.AsyncConnection) -> None:
        if time.monotonic() - self._last_cleanup < CLEANUP_EVERY_S:
            return
        self._last_cleanup = time.monotonic()
        async with conn.transaction():
            cursor = await conn.execute(
                """DELETE FROM outbox WHERE id IN (
                       SELECT id FROM outbox WHERE published_at < now() - make_interval(secs => %(keep)s)
                       ORDER BY id LIMIT %(limit)s FOR UPDATE SKIP LOCKED)""",
                {"keep": self.settings.outbox_retention_s, "limit": CLEANUP_BATCH},
            )
            if cursor.rowcount:
                metrics.OUTBOX_DELETED.inc(cursor.rowcount)
            await conn.execute(
                "DELETE FROM idempotency_key WHERE ctid IN ("
                "SELECT ctid FROM idempotency_key WHERE expires_at < now() LIMIT %(limit)s)",
                {"limit": CLEANUP_BATCH},
            )
