"""The shared consume loop: consumer group, manual commits, schema checks, retries, dead letters, clean stop."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import signal
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRebalanceListener, ConsumerRecord, TopicPartition
from aiokafka.errors import KafkaError
from jsonschema import ValidationError
from prometheus_client import CollectorRegistry, Counter, Gauge, start_http_server

from backend_workers.logs import fields
from inventory_app.settings import Settings
from schemas.registry import validate_event

log = logging.getLogger("backend_workers.consumer")


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
    """A worker's logic. Both calls must be idempotent: a batch can be delivered again after a crash."""

    async def handle(self, event: ConsumedEvent) -> None: ...

    async def flush(self, batch: Sequence[ConsumedEvent]) -> None: ...


@dataclass
class WorkerMetrics:
    name: str
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        self.processed = Counter("worker_events_processed_total", "Events handled", registry=self.registry)
        self.failed = Counter(
            "worker_events_failed_total", "Events sent to the dead-letter topic", registry=self.registry
        )
        self.retries = Counter("worker_retries_total", "Handler retries", registry=self.registry)
        self.lag = Gauge(
            "worker_consumer_lag", "Messages behind the end of the assigned partitions", registry=self.registry
        )
        self.processed_count = 0
        self.failed_count = 0

    def count_processed(self, n: int) -> None:
        self.processed.inc(n)
        self.processed_count += n

    def count_failed(self) -> None:
        self.failed.inc()
        self.failed_count += 1

    def serve(self, port: int) -> None:
        if port <= 0:
            return
        try:
            start_http_server(port, addr="127.0.0.1", registry=self.registry)
        except OSError as error:  # a second process of the same worker on one host
            log.warning("metrics port in use; metrics only in the log", extra=fields(port=port, error=str(error)))


def backoff(attempt: int, initial_s: float, max_s: float) -> float:
    return min(max_s, initial_s * 2 ** (attempt - 1)) * (0.8 + 0.4 * random.random())


def parse(record: ConsumerRecord) -> dict[str, Any]:
    """Decode and check a message against its event schema; raise ValueError naming the problem."""
    try:
        event = json.loads(record.value)
    except (TypeError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ValueError(f"not JSON: {error}") from None
    if not isinstance(event, dict):
        raise ValueError("not a JSON object")
    try:
        validate_event(event)
    except ValidationError as error:
        raise ValueError(f"schema violation: {error.message}") from None
    return event


class _LoggingRebalanceListener(ConsumerRebalanceListener):
    """Logs each assignment so operators (and tests) can see how a group shares the partitions."""

    def __init__(self, worker: str, before_revoke: Callable[[], Awaitable[None]] | None = None) -> None:
        self.worker = worker
        self.before_revoke = before_revoke

    async def on_partitions_revoked(self, revoked: Any) -> None:
        log.info(
            "partitions revoked", extra=fields(worker=self.worker, partitions=sorted(tp.partition for tp in revoked))
        )
        if self.before_revoke is not None:
            await self.before_revoke()

    async def on_partitions_assigned(self, assigned: Any) -> None:
        log.info(
            "partitions assigned", extra=fields(worker=self.worker, partitions=sorted(tp.partition for tp in assigned))
        )


class ConsumeLoop:
    def __init__(
        self,
        name: str,
        settings: Settings,
        group_id: str,
        handler: EventHandler,
        *,
        topic: str | None = None,
        batch_max_records: int = 500,
        batch_max_wait_s: float = 0.05,
        metrics_port: int = 0,
        outage_limit_s: float = 600.0,
    ) -> None:
        self.name = name
        self.settings = settings
        self.group_id = group_id
        self.handler = handler
        self.topic = topic or settings.kafka_topic_product_events
        self.batch_max_records = batch_max_records
        self.batch_max_wait_s = batch_max_wait_s
        self.outage_limit_s = outage_limit_s
        self.metrics = WorkerMetrics(name)
        self.metrics_port = metrics_port
        self.stopping = asyncio.Event()
        self.consumer: AIOKafkaConsumer | None = None
        self.dlq_producer: AIOKafkaProducer | None = None
        # The open batch: records received but not yet flushed and committed. The lock keeps the
        # rebalance listener from flushing it while the loop is still handling records.
        self._pending: list[ConsumerRecord] = []
        self._handled: list[ConsumedEvent] = []
        self._first_pending_at = 0.0
        self._batch_lock = asyncio.Lock()

    def request_stop(self) -> None:
        log.info("stop requested: finishing the in-flight batch", extra=fields(worker=self.name))
        self.stopping.set()

    async def run(self) -> int:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.request_stop)
        self.metrics.serve(self.metrics_port)
        await self._start_kafka()
        reporter = asyncio.create_task(self._report_periodically())
        try:
            await self._consume_until_stopped()
        except StopDuringOutage as error:
            log.warning(
                "stopped during an outage; uncommitted events will be re-delivered",
                extra=fields(worker=self.name, error=str(error)),
            )
        finally:
            reporter.cancel()
            await self._stop_kafka()
        log.info("stopped cleanly", extra=fields(worker=self.name))
        return 0

    async def _start_kafka(self) -> None:
        bootstrap = self.settings.kafka_bootstrap_servers
        for attempt in range(1, 11):
            consumer = AIOKafkaConsumer(
                bootstrap_servers=bootstrap,
                group_id=self.group_id,
                enable_auto_commit=False,
                auto_offset_reset="earliest",
                isolation_level="read_committed",
                request_timeout_ms=self.settings.kafka_request_timeout_ms + 30_000,
                max_poll_interval_ms=900_000,
                session_timeout_ms=self.settings.consumer_session_timeout_ms,
                heartbeat_interval_ms=max(1_000, self.settings.consumer_session_timeout_ms // 5),
                client_id=f"{self.name}",
            )
            producer = AIOKafkaProducer(
                bootstrap_servers=bootstrap,
                acks="all",
                enable_idempotence=True,
                request_timeout_ms=self.settings.kafka_request_timeout_ms,
            )
            consumer.subscribe(
                [self.topic], listener=_LoggingRebalanceListener(self.name, before_revoke=self._flush_before_revoke)
            )
            try:
                await consumer.start()
                await producer.start()
                self.consumer, self.dlq_producer = consumer, producer
                log.info("connected to kafka", extra=fields(worker=self.name, group=self.group_id, topic=self.topic))
                return
            except Exception as error:
                await asyncio.gather(consumer.stop(), producer.stop(), return_exceptions=True)
                delay = backoff(attempt, 0.5, 10)
                log.warning(
                    "kafka not reachable",
                    extra=fields(worker=self.name, attempt=attempt, error=str(error), retry_in_s=round(delay, 2)),
                )
                if attempt == 10:
                    raise
                await asyncio.sleep(delay)

    async def _restart_dlq_producer(self) -> None:
        """An idempotent producer can stay fenced after a broker restart: replace it."""
        if self.dlq_producer is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.dlq_producer.stop(), timeout=10)
        self.dlq_producer = AIOKafkaProducer(
            bootstrap_servers=self.settings.kafka_bootstrap_servers,
            acks="all",
            enable_idempotence=True,
            request_timeout_ms=self.settings.kafka_request_timeout_ms,
        )
        with contextlib.suppress(Exception):  # still down: the next send fails and retries
            await asyncio.wait_for(self.dlq_producer.start(), timeout=15)

    async def _stop_kafka(self) -> None:
        for client in (self.consumer, self.dlq_producer):
            if client is not None:
                try:
                    await asyncio.wait_for(client.stop(), timeout=15)
                except Exception:
                    log.warning("kafka client stop failed", exc_info=True)

    async def _consume_until_stopped(self) -> None:
        """Handle each record as it arrives (low latency); flush and commit by count or time.

        Offsets are committed only after `flush` succeeded for every record they cover, so a crash
        re-delivers at most the uncommitted tail, which the idempotent handlers absorb.
        """
        assert self.consumer is not None
        while not self.stopping.is_set():
            # Never wait longer than half a second: a stop request or a batch the rebalance listener
            # already closed must not sit out a long archive interval.
            wait_s = 0.5
            if self._pending:
                wait_s = min(wait_s, max(0.0, self._first_pending_at + self.batch_max_wait_s - time.monotonic()))
            polled = await self.consumer.getmany(
                timeout_ms=int(wait_s * 1000), max_records=max(1, self.batch_max_records - len(self._pending))
            )
            records = [r for partition_records in polled.values() for r in partition_records]
            async with self._batch_lock:
                if records:
                    if not self._pending:
                        self._first_pending_at = time.monotonic()
                    self._pending.extend(records)
                    self._handled.extend(await self._handle_records(records))
                due = self._pending and (
                    len(self._pending) >= self.batch_max_records
                    or time.monotonic() - self._first_pending_at >= self.batch_max_wait_s
                )
                if due:
                    await self._flush_pending()
        async with self._batch_lock:
            if self._pending:
                await self._flush_pending()

    async def _flush_pending(self) -> None:
        pending, handled = self._pending, self._handled
        self._pending, self._handled = [], []
        await self._flush_and_commit(pending, handled)

    async def _flush_before_revoke(self) -> None:
        """Close the open batch while its partitions are still ours: after the rebalance the commit
        would be refused (IllegalStateError) and the new owner would handle the batch again."""
        async with self._batch_lock:
            if not self._pending:
                return
            try:
                await self._flush_pending()
            except Exception as error:  # noqa: BLE001 - any failure here is logged; idempotent handlers absorb the redelivery
                log.warning(
                    "flush before rebalance failed; the new owner re-processes idempotently",
                    extra=fields(worker=self.name, error=str(error)),
                )

    async def _handle_records(self, records: list[ConsumerRecord]) -> list[ConsumedEvent]:
        parsed: list[ConsumedEvent] = []
        for record in records:
            try:
                parsed.append(ConsumedEvent(record, parse(record)))
            except ValueError as error:
                await self._dead_letter(record, str(error))
        handle_batch = getattr(self.handler, "handle_batch", None)
        if handle_batch is not None and len(parsed) > 1:
            # Fast path: the whole poll at once (the handler may work concurrently). Outages are waited
            # out here; any other failure falls back to one event at a time, which isolates the event
            # that fails so only it is retried and dead-lettered.
            try:
                await self._wait_out_outages(lambda: handle_batch(parsed))
                return parsed
            except StopDuringOutage:
                raise
            except Exception as error:  # noqa: BLE001 - retried below, event by event
                log.warning(
                    "batch failed; handling its events one by one",
                    extra=fields(worker=self.name, error=repr(error), events=len(parsed)),
                )
        handled: list[ConsumedEvent] = []
        for item in parsed:
            if await self._with_retries(lambda item=item: self.handler.handle(item), item):
                handled.append(item)
        return handled

    async def _wait_out_outages(self, call) -> None:
        """Retry `call` while it reports DependencyUnavailable (bounded); let any other error through."""
        attempt = 0
        outage_started = time.monotonic()
        while True:
            attempt += 1
            try:
                await call()
                return
            except DependencyUnavailable as error:
                await self._pause_for_outage(error, attempt, outage_started)

    async def _pause_for_outage(self, error: DependencyUnavailable, attempt: int, outage_started: float) -> None:
        """Back off while a store is down; offsets stay uncommitted, so nothing is lost whatever happens next."""
        if self.stopping.is_set():
            # Nothing committed past the last good flush: a restart resumes right here.
            raise StopDuringOutage(str(error)) from error
        if time.monotonic() - outage_started > self.outage_limit_s:
            raise SystemExit(f"{self.name}: dependency down for over {self.outage_limit_s:.0f}s: {error}") from error
        delay = backoff(min(attempt, 8), self.settings.consumer_backoff_initial_s, self.settings.consumer_backoff_max_s)
        log.warning(
            "dependency unavailable; offsets held",
            extra=fields(worker=self.name, error=str(error), retry_in_s=round(delay, 2)),
        )
        self.metrics.retries.inc()
        await asyncio.sleep(delay)

    async def _flush_and_commit(self, records: list[ConsumerRecord], handled: list[ConsumedEvent]) -> None:
        await self._with_retries(lambda: self.handler.flush(handled), None)
        try:
            await self._commit(records)
        except Exception as error:  # noqa: BLE001 - any failure here is logged; idempotent handlers absorb the redelivery
            log.warning(
                "commit failed; the new owner re-processes idempotently",
                extra=fields(worker=self.name, error=str(error)),
            )
        self.metrics.count_processed(len(handled))

    async def _with_retries(self, call, item: ConsumedEvent | None) -> bool:
        """Handler failures: bounded retries, then the event's dead letter (a failing flush, which covers
        the whole batch, gets a longer budget and then stops the worker). Store outages: wait and retry."""
        attempt = 0
        outage_started: float | None = None
        while True:
            attempt += 1
            try:
                await call()
                return True
            except DependencyUnavailable as error:
                outage_started = outage_started or time.monotonic()
                await self._pause_for_outage(error, attempt, outage_started)
            except Exception as error:
                limit = self.settings.consumer_max_attempts * (4 if item is None else 1)
                if attempt >= limit:
                    if item is None:
                        raise
                    await self._dead_letter(item.record, f"handler failed {attempt} times: {error!r}")
                    return False
                delay = backoff(attempt, self.settings.consumer_backoff_initial_s, self.settings.consumer_backoff_max_s)
                log.warning(
                    "handler failed; retrying",
                    extra=fields(worker=self.name, attempt=attempt, error=repr(error), retry_in_s=round(delay, 2)),
                )
                self.metrics.retries.inc()
                await asyncio.sleep(delay)

    async def _dead_letter(self, record: ConsumerRecord, error: str) -> None:
        headers = [
            *(record.headers or []),
            ("dlq_error", error[:1000].encode()),
            ("dlq_original_topic", record.topic.encode()),
            ("dlq_original_partition", str(record.partition).encode()),
            ("dlq_original_offset", str(record.offset).encode()),
            ("dlq_worker", self.name.encode()),
        ]
        for attempt in range(1, self.settings.consumer_max_attempts + 1):
            try:
                assert self.dlq_producer is not None
                await asyncio.wait_for(
                    self.dlq_producer.send_and_wait(
                        self.settings.kafka_topic_dead_letters, value=record.value, key=record.key, headers=headers
                    ),
                    timeout=30,
                )
                break
            except (KafkaError, TimeoutError) as send_error:
                if attempt == self.settings.consumer_max_attempts:
                    # Give up with the offset uncommitted: a restarted worker dead-letters it again.
                    raise
                log.warning(
                    "dead-letter send failed; restarting the producer",
                    extra=fields(worker=self.name, attempt=attempt, error=str(send_error)),
                )
                await self._restart_dlq_producer()
                await asyncio.sleep(
                    backoff(attempt, self.settings.consumer_backoff_initial_s, self.settings.consumer_backoff_max_s)
                )
        self.metrics.count_failed()
        log.error(
            "dead-lettered a message",
            extra=fields(
                worker=self.name, error=error, topic=record.topic, partition=record.partition, offset=record.offset
            ),
        )

    async def _commit(self, records: list[ConsumerRecord]) -> None:
        assert self.consumer is not None
        # Records of partitions a rebalance took away belong to their new owner now; committing
        # them would be refused and take down the commit for the partitions still ours.
        owned = self.consumer.assignment()
        offsets: dict[TopicPartition, int] = {}
        for record in records:
            tp = TopicPartition(record.topic, record.partition)
            if tp not in owned:
                continue
            offsets[tp] = max(offsets.get(tp, 0), record.offset + 1)
        for tp in offsets:
            # The product-events topic is transactional: commit markers (and aborted records) sit between
            # and after the records and are never delivered. `records` is everything delivered so far, so
            # the position, which has passed those markers, is what to commit; the group's lag then reaches 0.
            offsets[tp] = max(offsets[tp], await self.consumer.position(tp))
        if offsets:
            await self.consumer.commit(offsets)

    async def lag(self) -> int:
        """Messages between our position and the end of each assigned partition."""
        assert self.consumer is not None
        total = 0
        for tp in self.consumer.assignment():
            highwater = self.consumer.highwater(tp)
            if highwater is None:
                continue
            position = await self.consumer.position(tp)
            total += max(0, highwater - position)
        return total

    async def _report_periodically(self, every_s: float = 30.0) -> None:
        while True:
            await asyncio.sleep(every_s)
            try:
                lag = await asyncio.wait_for(self.lag(), timeout=5)
            except Exception:  # noqa: BLE001 - any failure here is logged; idempotent handlers absorb the redelivery
                lag = -1
            self.metrics.lag.set(lag)
            log.info(
                "progress",
                extra=fields(
                    worker=self.name, processed=self.metrics.processed_count, failed=self.metrics.failed_count, lag=lag
                ),
            )
