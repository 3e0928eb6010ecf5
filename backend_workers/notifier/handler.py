"""The notifier's handler: event log in DynamoDB, a notice per event, S3 archive per batch."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Sequence
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError
from botocore.exceptions import BotoCoreError, ClientError

from backend_workers.consumed import ConsumedEvent, DependencyUnavailable
from backend_workers.notifier import archive
from inventory_app.adapters import event_log
from inventory_app.adapters.kafka import make_producer
from inventory_app.domain.notices import notice_for
from inventory_app.settings import Settings
from schemas.registry import validate_notice

log = logging.getLogger("backend_workers.notifier")


def is_outage(error: Exception) -> bool:
    if isinstance(error, BotoCoreError):  # connection refused, timeouts, endpoint errors
        return True
    if isinstance(error, ClientError):
        status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        code = error.response.get("Error", {}).get("Code", "")
        return status >= 500 or code in (
            "ThrottlingException",
            "ProvisionedThroughputExceededException",
            "RequestLimitExceeded",
            "SlowDown",
            "ServiceUnavailable",
        )
    return isinstance(error, KafkaError | asyncio.TimeoutError | OSError | event_log.WritesUnprocessed)


MISSING_STORE_CODES = ("ResourceNotFoundException", "NoSuchBucket")


def missing_store(error: Exception) -> bool:
    """The table or bucket vanished (an in-memory emulator restarted, or an operator deleted it)."""
    return isinstance(error, ClientError) and error.response.get("Error", {}).get("Code") in MISSING_STORE_CODES


CONCURRENT_PUTS = 32  # the rebuild's conditional puts in flight at once
PUTS_PER_TASK = 100  # a batch's puts: 4 BatchWriteItem requests in sequence per task, tasks concurrently


async def ensure_stores(settings: Settings, dynamodb: Any, s3: Any) -> bool:
    """The table (with TTL where supported) and the bucket exist; True when the table had to be created."""
    created = await event_log.ensure_table(dynamodb, settings.dynamodb_events_table)
    await event_log.enable_ttl(dynamodb, settings.dynamodb_events_table)
    await archive.ensure_bucket(s3, settings.s3_archive_bucket)
    return created


class NotifierHandler:
    def __init__(self, settings: Settings, dynamodb: Any, s3: Any, producer: AIOKafkaProducer | None = None) -> None:
        self.settings = settings
        self.dynamodb = dynamodb
        self.s3 = s3
        self.producer = producer
        self.stored = 0
        self.duplicates = 0

    async def handle(self, item: ConsumedEvent) -> None:
        event = item.event
        notice = notice_for(event)
        validate_notice(notice)
        if self.producer is None:
            await self.reset_producer()
            if self.producer is None:
                raise DependencyUnavailable("Kafka producer for notices is not connected")
        try:
            created = await event_log.put_event(
                self.dynamodb,
                self.settings.dynamodb_events_table,
                item.attributed_event,
                self.settings.event_retention_days,
            )
            # Always (re)send the notice: its id is the event id, so listeners de-duplicate; skipping it
            # on a redelivery would lose the notice when a crash fell between the put and the send.
            await asyncio.wait_for(
                self.producer.send_and_wait(
                    self.settings.kafka_topic_notifications,
                    value=json.dumps(notice, separators=(",", ":")).encode(),
                    key=notice["product_id"].encode(),
                    headers=[("ce_id", event["id"].encode()), ("notice_type", notice["type"].encode())],
                ),
                timeout=30,
            )
        except (KafkaError, TimeoutError) as error:
            # An idempotent producer that lost its broker can stay fenced (OutOfOrderSequenceNumber):
            # replace it, then let the loop retry the event.
            await self.reset_producer()
            raise DependencyUnavailable(str(error) or type(error).__name__) from error
        except Exception as error:  # noqa: BLE001 - classified by _raise_for: outage, vanished store or handler bug
            await self._raise_for(error)
        if created:
            self.stored += 1
        else:
            self.duplicates += 1

    async def handle_batch(self, items: Sequence[ConsumedEvent]) -> None:
        """A whole poll at once: notices sent in order, DynamoDB writes 25 to a request, then the acks awaited.

        Same guarantees as `handle`, per event; one ack wait per batch instead of one per event is what
        keeps the notifier ahead of the writers.
        """
        notices = [notice_for(item.event) for item in items]
        for notice in notices:
            validate_notice(notice)
        if self.producer is None:
            await self.reset_producer()
            if self.producer is None:
                raise DependencyUnavailable("Kafka producer for notices is not connected")
        events = [item.attributed_event for item in items]  # with who made each change
        try:
            # Notices are queued first, in order (one partition per product keeps per-product order); the
            # puts go 25 to a request while they are sent. Nothing is committed until the puts and the
            # acks all succeeded; a redelivered batch writes the same items again and re-sends notices
            # that carry their event's id.
            acks = [
                await self.producer.send(
                    self.settings.kafka_topic_notifications,
                    value=json.dumps(notice, separators=(",", ":")).encode(),
                    key=notice["product_id"].encode(),
                    headers=[("ce_id", notice["event_id"].encode()), ("notice_type", notice["type"].encode())],
                )
                for notice in notices
            ]
            await asyncio.gather(
                *(
                    event_log.put_events(
                        self.dynamodb,
                        self.settings.dynamodb_events_table,
                        events[start : start + PUTS_PER_TASK],
                        self.settings.event_retention_days,
                    )
                    for start in range(0, len(events), PUTS_PER_TASK)
                )
            )
            await asyncio.wait_for(asyncio.gather(*acks), timeout=30)
        except (KafkaError, TimeoutError) as error:
            await self.reset_producer()
            raise DependencyUnavailable(str(error) or type(error).__name__) from error
        except Exception as error:  # noqa: BLE001 - classified by _raise_for: outage, vanished store or handler bug
            await self._raise_for(error)
        self.stored += len(events)

    async def flush(self, batch: Sequence[ConsumedEvent]) -> None:
        if not batch:
            return
        try:
            await archive.archive_batch(self.s3, self.settings.s3_archive_bucket, batch)
        except Exception as error:  # noqa: BLE001 - classified by _raise_for: outage, vanished store or handler bug
            await self._raise_for(error)

    async def start_producer(self) -> None:
        self.producer = make_producer(self.settings, "inventory-notifier", linger_ms=2)
        try:
            await asyncio.wait_for(self.producer.start(), timeout=self.settings.kafka_request_timeout_ms / 1000 + 5)
        except Exception:
            await self.stop_producer()
            raise

    async def stop_producer(self) -> None:
        if self.producer is not None:
            producer, self.producer = self.producer, None
            with contextlib.suppress(Exception):
                await asyncio.wait_for(producer.stop(), timeout=10)

    async def reset_producer(self) -> None:
        await self.stop_producer()
        with contextlib.suppress(Exception):  # still down: the next attempt tries again
            await self.start_producer()

    async def ensure_stores(self) -> None:
        await ensure_stores(self.settings, self.dynamodb, self.s3)

    async def _raise_for(self, error: Exception) -> None:
        """Outages and vanished stores hold the offsets (retry later); anything else is the handler's failure."""
        if missing_store(error):
            log.warning("event table or archive bucket missing; recreating it")
            try:
                await self.ensure_stores()
            except Exception as ensure_error:  # noqa: BLE001 - still down: retried by the loop
                log.warning("could not recreate the stores yet: %s", ensure_error)
            raise DependencyUnavailable(str(error)) from error
        if is_outage(error):
            raise DependencyUnavailable(str(error) or type(error).__name__) from error
        raise error
