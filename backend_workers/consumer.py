"""The shared consume loop: a consumer group, batches by count or time, commits after a successful flush.

Its parts live beside it: what is consumed and the handler contract (`consumed`), how failures are
retried (`retry_policy`), where unhandleable messages go (`dead_letter_publisher`) and the worker's
metrics (`worker_metrics`).
"""

from __future__ import annotations

import asyncio
import logging
import signal
import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, ConsumerRecord, TopicPartition

from backend_workers.consumed import ConsumedEvent, EventHandler, StopDuringOutage, UnknownType, parse
from backend_workers.dead_letter_publisher import DeadLetterPublisher
from backend_workers.logs import fields
from backend_workers.retry_policy import GaveUp, RetryPolicy
from backend_workers.worker_metrics import WorkerMetrics
from inventory_app.backoff import backoff_delay
from inventory_app.settings import Settings

log = logging.getLogger("backend_workers.consumer")
KAFKA_CONNECT_ATTEMPTS = 10
IDLE_COMMIT_S = 1.0  # how often an idle consumer checks for positions to commit


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
        self.dead_letters = DeadLetterPublisher(name, settings, self.metrics, group_id)
        self.retry = RetryPolicy(name, settings, self.stopping, outage_limit_s, self.metrics.retries)
        # The open batch: records received but not yet flushed and committed. The lock keeps the
        # rebalance listener from flushing it while the loop is still handling records.
        self._pending: list[ConsumerRecord] = []
        self._handled: list[ConsumedEvent] = []
        self._first_pending_at = 0.0
        self._batch_lock = asyncio.Lock()
        self._committed: dict[TopicPartition, int] = {}
        self._next_idle_commit = 0.0

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
        for attempt in range(1, KAFKA_CONNECT_ATTEMPTS + 1):
            consumer = AIOKafkaConsumer(
                bootstrap_servers=self.settings.kafka_bootstrap_servers,
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
            consumer.subscribe(
                [self.topic], listener=_LoggingRebalanceListener(self.name, before_revoke=self._flush_before_revoke)
            )
            try:
                await consumer.start()
                await self.dead_letters.start()
                self.consumer = consumer
                log.info("connected to kafka", extra=fields(worker=self.name, group=self.group_id, topic=self.topic))
                return
            except Exception as error:
                await asyncio.gather(consumer.stop(), self.dead_letters.stop(), return_exceptions=True)
                delay = backoff_delay(attempt, 0.5, 10)
                log.warning(
                    "kafka not reachable",
                    extra=fields(worker=self.name, attempt=attempt, error=str(error), retry_in_s=round(delay, 2)),
                )
                if attempt == KAFKA_CONNECT_ATTEMPTS:
                    raise
                await asyncio.sleep(delay)

    async def _stop_kafka(self) -> None:
        if self.consumer is not None:
            try:
                await asyncio.wait_for(self.consumer.stop(), timeout=15)
            except Exception:
                log.warning("kafka client stop failed", exc_info=True)
        await self.dead_letters.stop()

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
            if not records and not self._pending and time.monotonic() >= self._next_idle_commit:
                self._next_idle_commit = time.monotonic() + IDLE_COMMIT_S
                await self._commit_idle_positions()
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
            except UnknownType as unknown:
                # A newer producer's type: nothing for this worker to do; its offset commits with the batch.
                self.metrics.count_ignored(unknown.event_type)
            except ValueError as error:
                await self.dead_letters.publish(record, str(error))
        if len(parsed) > 1:
            # Fast path: the whole poll at once. Outages are waited out here; any other failure falls
            # back to one event at a time, so only the event that fails is retried and dead-lettered.
            try:
                await self.retry.wait_out_outages(lambda: self.handler.handle_batch(parsed))
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
            try:
                await self.retry.run(lambda item=item: self.handler.handle(item), self.settings.consumer_max_attempts)
            except GaveUp as gave_up:
                await self.dead_letters.publish(
                    item.record, f"handler failed {gave_up.attempts} times: {gave_up.error!r}"
                )
                continue
            handled.append(item)
        return handled

    async def _flush_and_commit(self, records: list[ConsumerRecord], handled: list[ConsumedEvent]) -> None:
        # A failing flush covers the whole batch: a longer budget, then the worker stops (nothing committed).
        try:
            await self.retry.run(lambda: self.handler.flush(handled), self.settings.consumer_max_attempts * 4)
        except GaveUp as gave_up:
            raise gave_up.error from gave_up
        try:
            await self._commit(records)
        except Exception as error:  # noqa: BLE001 - any failure here is logged; idempotent handlers absorb the redelivery
            log.warning(
                "commit failed; the new owner re-processes idempotently",
                extra=fields(worker=self.name, error=str(error)),
            )
        self.metrics.count_processed(len(handled))

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
            self._committed.update(offsets)

    async def _commit_idle_positions(self) -> None:
        """Commit positions that moved with nothing delivered: past an aborted transaction's records and
        markers at the end of a partition. Nothing else would commit them, and the group's lag would stay
        above 0 until the next event arrived."""
        assert self.consumer is not None
        try:
            async with self._batch_lock:
                offsets = {}
                for tp in self.consumer.assignment():
                    position = await self.consumer.position(tp)
                    if position > self._committed.get(tp, -1):
                        offsets[tp] = position
                if offsets:
                    await self.consumer.commit(offsets)
                    self._committed.update(offsets)
        except Exception as error:  # noqa: BLE001 - a rebalance or outage: the next idle check tries again
            log.warning("idle commit failed", extra=fields(worker=self.name, error=str(error)))

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
