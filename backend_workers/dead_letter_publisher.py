"""Sends a message a worker cannot handle to the dead-letter topic, with why and where it came from.

The original key, value and headers are kept, plus `dlq_*` headers (error, original topic, partition,
offset and timestamp, worker and consumer group): what `python -m backend_workers.dead_letters` lists and
replays by. A send that keeps failing raises with the offset uncommitted, so a restarted worker
dead-letters the message again rather than losing it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from aiokafka import AIOKafkaProducer, ConsumerRecord
from aiokafka.errors import KafkaError

from backend_workers.logs import fields
from backend_workers.worker_metrics import WorkerMetrics
from inventory_app.adapters.kafka import make_producer
from inventory_app.backoff import backoff_delay
from inventory_app.settings import Settings

log = logging.getLogger("backend_workers.consumer")


class DeadLetterPublisher:
    def __init__(self, worker: str, settings: Settings, metrics: WorkerMetrics, group: str = "") -> None:
        self.worker = worker
        self.group = group
        self.settings = settings
        self.metrics = metrics
        self.producer: AIOKafkaProducer | None = None

    def _new_producer(self) -> AIOKafkaProducer:
        return make_producer(self.settings, f"{self.worker}-dead-letters", linger_ms=0)

    async def start(self) -> None:
        producer = self._new_producer()
        try:
            await producer.start()
        except Exception:
            await asyncio.gather(producer.stop(), return_exceptions=True)
            raise
        self.producer = producer

    async def stop(self) -> None:
        if self.producer is not None:
            producer, self.producer = self.producer, None
            try:
                await asyncio.wait_for(producer.stop(), timeout=15)
            except Exception:
                log.warning("dead-letter producer stop failed", exc_info=True)

    async def _restart(self) -> None:
        """An idempotent producer can stay fenced after a broker restart: replace it."""
        if self.producer is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.producer.stop(), timeout=10)
        self.producer = self._new_producer()
        with contextlib.suppress(Exception):  # still down: the next send fails and retries
            await asyncio.wait_for(self.producer.start(), timeout=15)

    async def publish(self, record: ConsumerRecord, error: str) -> None:
        headers = [
            *(record.headers or []),
            ("dlq_error", error[:1000].encode()),
            ("dlq_original_topic", record.topic.encode()),
            ("dlq_original_partition", str(record.partition).encode()),
            ("dlq_original_offset", str(record.offset).encode()),
            ("dlq_original_timestamp", str(record.timestamp).encode()),
            ("dlq_worker", self.worker.encode()),
            ("dlq_group", self.group.encode()),
        ]
        attempts = self.settings.consumer_max_attempts
        for attempt in range(1, attempts + 1):
            try:
                assert self.producer is not None
                await asyncio.wait_for(
                    self.producer.send_and_wait(
                        self.settings.kafka_topic_dead_letters, value=record.value, key=record.key, headers=headers
                    ),
                    timeout=30,
                )
                break
            except (KafkaError, TimeoutError) as send_error:
                if attempt == attempts:
                    raise
                log.warning(
                    "dead-letter send failed; restarting the producer",
                    extra=fields(worker=self.worker, attempt=attempt, error=str(send_error)),
                )
                await self._restart()
                await asyncio.sleep(
                    backoff_delay(
                        attempt, self.settings.consumer_backoff_initial_s, self.settings.consumer_backoff_max_s
                    )
                )
        self.metrics.count_failed()
        log.error(
            "dead-lettered a message",
            extra=fields(
                worker=self.worker, error=error, topic=record.topic, partition=record.partition, offset=record.offset
            ),
        )
