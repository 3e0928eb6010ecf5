"""The outbox relay: claims committed events from PostgreSQL and publishes them to Kafka, in order per product,
each event exactly once.

Exactly once, the way Kafka Connect's exactly-once source tasks do it (KIP-618): each batch goes out in one
Kafka transaction together with a record, on the small compacted `<topic>.relay-state` topic, naming exactly
the outbox ids of the batch. Only then does PostgreSQL mark those rows published. A crash between the two
commits leaves rows that Kafka has and PostgreSQL does not know it has; whoever leads next reads the last
committed relay-state record first and marks exactly those rows before sending anything. Outbox ids commit
out of order, so "everything up to the highest id" would skip a row that committed late: hence the ids.
The producer's `transactional.id` is per topic, so a new leader fences an old one that lost its lock but not
its process: the fenced leader's open transaction is aborted, never published twice. A standby creates its
producer only once it leads (creating one fences the leader). Readers see this only with
`isolation_level=read_committed` (schemas/asyncapi.yaml).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
import psycopg
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.errors import KafkaError, MessageSizeTooLargeError, ProducerFenced
from psycopg.types.json import Jsonb, set_json_loads

from inventory_app import metrics
from inventory_app.adapters.kafka import ensure_topics, make_producer
from inventory_app.backoff import backoff_delay
from inventory_app.settings import Settings

log = logging.getLogger("inventory_app.relay")

CE_HEADERS = ("specversion", "id", "source", "type", "time", "subject", "dataschema")
MAX_BACKOFF_S = 5.0
SEND_TIMEOUT_S = 30.0

RELAY_STATE_KEY = b"published-batch"
# How far back from the end of the relay-state topic to look for the last committed record: every batch adds
# one record and one transaction marker, and aborted batches two more; a leader reads back at most this much.
RELAY_STATE_READ_BACK = 1000
# Refused by the broker for this record alone (not an outage): counted towards quarantine.
RECORD_REFUSALS = (MessageSizeTooLargeError,)

CLAIM_SQL = """
SELECT id, event_id, aggregate_id, payload, created_at, actor, event_type
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


# For connections that sit idle for long (the relay's lock, the LISTEN feeds): TCP keepalives find a peer
# that vanished without closing (a half-open connection) within ~25 s, where the defaults take hours.
KEEPALIVES: dict[str, Any] = {"keepalives": 1, "keepalives_idle": 10, "keepalives_interval": 5, "keepalives_count": 3}
HEARTBEAT_TIMEOUT_S = 5.0


async def heartbeat(conn: psycopg.AsyncConnection) -> None:
    """A round trip on an idle connection: raises when the server or the path to it is gone."""
    await asyncio.wait_for(conn.execute("SELECT 1"), HEARTBEAT_TIMEOUT_S)


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
    event_type: str = ""


def relay_state_topic(topic: str) -> str:
    return f"{topic}.relay-state"


def transactional_id(topic: str) -> str:
    # One per topic: dev, test and bench topics on one broker never fence each other; two relays of one
    # topic always do, which is the point.
    return f"inventory-outbox-relay.{topic}"


class BatchRefused(Exception):
    """The broker refused some records of a batch; the whole Kafka transaction was aborted."""

    def __init__(self, refused: dict[int, BaseException]) -> None:
        super().__init__(f"{len(refused)} record(s) refused: {next(iter(refused.values()), '')!r}")
        self.refused = refused


def drop_blocked(rows: list[ClaimedRow], blockers: dict[str, int]) -> list[ClaimedRow]:
    """Keep only rows whose product has no earlier pending row held elsewhere."""
    return [r for r in rows if r.aggregate_id not in blockers or r.id < blockers[r.aggregate_id]]


async def wait_for_producer(
    settings: Settings, attempts: int | None = None, *, transactional_id: str | None = None
) -> AIOKafkaProducer:
    """Start a producer, retrying with exponential backoff; raise after the last attempt."""
    attempts = attempts or settings.producer_ready_attempts
    for attempt in range(1, attempts + 1):
        overrides = {"transactional_id": transactional_id} if transactional_id else {}
        producer = make_producer(settings, "inventory-outbox-relay", **overrides)
        try:
            await ensure_topics(settings)
            if transactional_id:
                await ensure_relay_state_topic(settings)
            await asyncio.wait_for(producer.start(), timeout=settings.kafka_request_timeout_ms / 1000 + 5)
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


async def ensure_relay_state_topic(settings: Settings) -> None:
    """The relay-state topic: one partition, compacted (only the newest record matters)."""
    await ensure_topics(
        settings,
        [relay_state_topic(settings.kafka_topic_product_events)],
        partitions=1,
        config={"cleanup.policy": "compact"},
    )


async def last_published_batch(settings: Settings, topic: str) -> list[int]:
    """The outbox ids of the last batch committed to `topic`, from its relay-state topic (read_committed)."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap_servers,
        group_id=None,
        enable_auto_commit=False,
        isolation_level="read_committed",
        request_timeout_ms=settings.kafka_request_timeout_ms,
    )
    await asyncio.wait_for(consumer.start(), timeout=settings.kafka_request_timeout_ms / 1000 + 5)
    try:
        tp = TopicPartition(relay_state_topic(topic), 0)
        consumer.assign([tp])
        end = (await consumer.end_offsets([tp]))[tp]  # read_committed: the last stable offset
        consumer.seek(tp, max(0, end - RELAY_STATE_READ_BACK))
        last: list[int] = []
        while await consumer.position(tp) < end:
            batch = await asyncio.wait_for(consumer.getmany(tp, timeout_ms=1000), timeout=30)
            for record in batch.get(tp, []):
                if record.key == RELAY_STATE_KEY and record.offset < end:
                    last = [int(i) for i in orjson.loads(record.value)["outbox_ids"]]
        return last
    finally:
        await consumer.stop()


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
        self.state_topic = relay_state_topic(self.topic)
        self.producer: AIOKafkaProducer | None = None
        # Ids Kafka has committed and PostgreSQL has not marked yet (see the module docstring).
        self._unmarked: list[int] = []
        self._refusals: dict[int, int] = {}

    async def run_forever(self) -> None:
        """Publish until cancelled; outages of Kafka or PostgreSQL only delay events."""
        failures = 0
        while True:
            try:
                await self._run_with_listener()
            except asyncio.CancelledError:
                await self.close()
                raise
            except Exception as error:  # noqa: BLE001 - the relay must outlive any outage; it backs off and retries
                failures += 1
                metrics.OUTBOX_PUBLISH_ERRORS.inc()
                metrics.OUTBOX_RELAY_LEADER.set(0)
                delay = backoff_delay(failures, 0.2, MAX_BACKOFF_S)
                log.warning("outbox relay error: %s; retrying in %.1fs", error or type(error).__name__, delay)
                # A transactional producer that failed may be fenced or mid-transaction: start a fresh one
                # (after leading again), which also aborts whatever it left open.
                await self.close()
                await asyncio.sleep(delay)
            else:
                failures = 0

    async def close(self) -> None:
        if self.producer is not None:
            await _stop_quietly(self.producer)
            self.producer = None

    async def _run_with_listener(self) -> None:
        async with await psycopg.AsyncConnection.connect(
            self.url,
            autocommit=True,
            connect_timeout=5,
            application_name=f"inventory-outbox-relay:{self.topic}"[:63],  # operators can find the leader
            **KEEPALIVES,
        ) as listener:
            await self._become_leader(listener)
            if self.producer is None:
                self.producer = await wait_for_producer(self.settings, transactional_id=transactional_id(self.topic))
            # Before sending anything: the last batch Kafka committed may not be marked in PostgreSQL.
            self._unmarked = await last_published_batch(self.settings, self.topic)
            await listener.execute("LISTEN outbox")
            async with await psycopg.AsyncConnection.connect(self.url, connect_timeout=5) as conn:
                set_json_loads(orjson.loads, context=conn)  # payloads are decoded once per event: make it cheap
                while True:
                    published = await self.publish_batch(conn)
                    if published >= self.settings.outbox_batch_size:
                        continue  # a full batch: more may be waiting
                    # Sleep until a commit notifies us, or poll anyway after the interval.
                    notified = False
                    async for _ in listener.notifies(timeout=self.settings.outbox_poll_interval_s, stop_after=1):
                        notified = True
                    if not notified:
                        # Quiet: check the connection that holds the leader lock is alive, so a dead one is
                        # noticed (and another relay takes over) instead of a standby leading beside us.
                        await heartbeat(listener)

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
        """Claim, send in one Kafka transaction, commit it, mark published. Returns rows published."""
        assert self.producer is not None
        if self._unmarked:
            await self._mark_published(conn, self._unmarked, recovered=True)
        async with conn.transaction():
            cursor = await conn.execute(CLAIM_SQL, {"limit": self.settings.outbox_batch_size})
            rows = [ClaimedRow(r[0], str(r[1]), str(r[2]), r[3], r[4], r[5], r[6]) for r in await cursor.fetchall()]
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
            try:
                await self._send_in_transaction(rows)
            except BatchRefused as refused:
                rows = await self._set_aside(conn, rows, refused.refused)
                if not rows:
                    return 0
                await self._send_in_transaction(rows)
            ids = [r.id for r in rows]
            self._unmarked = ids
            if self.settings.outbox_test_pause_after_kafka_commit_s:
                log.warning("test pause: batch of %d committed to Kafka, not yet to PostgreSQL", len(ids))
                await asyncio.sleep(self.settings.outbox_test_pause_after_kafka_commit_s)
            await conn.execute("UPDATE outbox SET published_at = now() WHERE id = ANY(%(ids)s)", {"ids": ids})
        self._unmarked = []
        now = datetime.now(UTC)
        metrics.OUTBOX_PUBLISHED.inc(len(rows))
        for row in rows:
            metrics.OUTBOX_PUBLISH_LATENCY.observe(max(0.0, (now - row.created_at).total_seconds()))
        return len(rows)

    async def _send_in_transaction(self, rows: list[ClaimedRow]) -> None:
        """The batch and its relay-state record in one Kafka transaction: all committed, or none."""
        assert self.producer is not None
        await asyncio.wait_for(self.producer.begin_transaction(), timeout=SEND_TIMEOUT_S)
        try:
            futures: dict[int, asyncio.Future] = {}
            refused: dict[int, BaseException] = {}
            # The relay-state record first: queued before the batch, its partition joins the transaction in the
            # same AddPartitionsToTxn request as the batch's (after them it cost a round trip of its own).
            state = orjson.dumps({"outbox_ids": [r.id for r in rows], "topic": self.topic})
            # One bound for queuing the whole batch (a send waits only while the producer's buffer is full),
            # not a wait_for per record: on Python 3.11 each wait_for made a task of its send.
            async with asyncio.timeout(SEND_TIMEOUT_S):
                futures[0] = await self.producer.send(self.state_topic, value=state, key=RELAY_STATE_KEY)
                for row in rows:
                    try:
                        futures[row.id] = await self.producer.send(
                            self.topic,
                            value=orjson.dumps(row.payload),
                            key=row.aggregate_id.encode(),
                            headers=kafka_headers(row.payload, row.actor),
                        )
                    except RECORD_REFUSALS as error:  # refused before it left (e.g. larger than the broker takes)
                        refused[row.id] = error
            if refused:
                raise BatchRefused(refused)
            results = await asyncio.wait_for(
                asyncio.gather(*futures.values(), return_exceptions=True), timeout=SEND_TIMEOUT_S
            )
            failed = {row_id: r for row_id, r in zip(futures, results, strict=True) if isinstance(r, BaseException)}
            record_refusals = {i: e for i, e in failed.items() if i and isinstance(e, RECORD_REFUSALS)}
            if record_refusals:
                raise BatchRefused(record_refusals)
            if failed:
                raise next(iter(failed.values()))
            if self.settings.outbox_test_pause_before_kafka_commit_s:
                log.warning("test pause: batch of %d sent, Kafka transaction still open", len(rows))
                await asyncio.sleep(self.settings.outbox_test_pause_before_kafka_commit_s)
            await asyncio.wait_for(self.producer.commit_transaction(), timeout=SEND_TIMEOUT_S)
        except BaseException as error:
            if not isinstance(error, ProducerFenced):
                await self._abort_quietly()
            raise

    async def _abort_quietly(self) -> None:
        assert self.producer is not None
        try:
            await asyncio.wait_for(self.producer.abort_transaction(), timeout=SEND_TIMEOUT_S)
        except (KafkaError, TimeoutError, AssertionError):
            log.debug("abort failed; the producer is replaced", exc_info=True)

    async def _set_aside(
        self, conn: psycopg.AsyncConnection, rows: list[ClaimedRow], refused: dict[int, BaseException]
    ) -> list[ClaimedRow]:
        """Count refusals; move a row refused `outbox_max_publish_attempts` times to outbox_quarantine.

        Returns the rows to send now: without the quarantined ones, and (while a refused row still has
        attempts left) without any row of the same product after it, so per-product order holds until
        the row is given up on.
        """
        limit = self.settings.outbox_max_publish_attempts
        held_products: set[str] = set()
        keep: list[ClaimedRow] = []
        for row in rows:
            if row.id in refused:
                self._refusals[row.id] = self._refusals.get(row.id, 0) + 1
                if self._refusals[row.id] >= limit:
                    await self._quarantine(conn, row, refused[row.id])
                else:
                    held_products.add(row.aggregate_id)
                    log.warning(
                        "outbox row %d (event %s) refused by Kafka (%d/%d): %r",
                        row.id,
                        row.event_id,
                        self._refusals[row.id],
                        limit,
                        refused[row.id],
                    )
                continue
            if row.aggregate_id not in held_products:
                keep.append(row)
        return keep

    async def _quarantine(self, conn: psycopg.AsyncConnection, row: ClaimedRow, error: BaseException) -> None:
        reason = f"{type(error).__name__}: {error}"[:2000]
        await conn.execute(
            """INSERT INTO outbox_quarantine
                   (id, event_id, aggregate_id, event_type, payload, actor, created_at, reason)
               VALUES (%s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT (id) DO NOTHING""",
            (
                row.id,
                row.event_id,
                row.aggregate_id,
                row.event_type,
                Jsonb(row.payload),
                Jsonb(row.actor) if row.actor is not None else None,
                row.created_at,
                reason,
            ),
        )
        await conn.execute("DELETE FROM outbox WHERE id = %s", (row.id,))
        self._refusals.pop(row.id, None)
        metrics.OUTBOX_QUARANTINED.inc()
        log.error(
            "outbox row %d (event %s, %s of product %s) quarantined after %d refusals: %s",
            row.id,
            row.event_id,
            row.event_type,
            row.aggregate_id,
            self.settings.outbox_max_publish_attempts,
            reason,
        )

    async def _mark_published(self, conn: psycopg.AsyncConnection, ids: list[int], *, recovered: bool) -> None:
        async with conn.transaction():
            cursor = await conn.execute(
                "UPDATE outbox SET published_at = now() WHERE id = ANY(%(ids)s) AND published_at IS NULL", {"ids": ids}
            )
        if recovered and cursor.rowcount:
            metrics.OUTBOX_RECOVERED.inc(cursor.rowcount)
            log.info("marked %d rows published that Kafka had committed before the last relay stopped", cursor.rowcount)
        self._unmarked = []
