"""One notifications-topic consumer per app process, broadcasting to a bounded queue per SSE client.

Each process reads every partition without a consumer group (so two app processes behind one port
both see every notice), starting at the end of the topic: history comes from the event log instead.
A slow client never slows the others: when its queue is full the oldest notices are dropped and
the client is told how many with a `gap` message before the next notice.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import signal
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition

from inventory_app import metrics
from inventory_app.adapters.kafka import topic_partitions
from inventory_app.settings import Settings

log = logging.getLogger("inventory_app.notifications")
RECENT_IDS = 5000
CLOSE: dict[str, Any] = {"id": None, "close": True}  # wakes a waiting stream so it can end


@dataclass(eq=False)  # identity semantics: subscribers live in a set
class Subscriber:
    queue: asyncio.Queue[dict[str, Any]]
    dropped: int = 0
    closed: asyncio.Event = field(default_factory=asyncio.Event)

    def offer(self, notice: dict[str, Any]) -> None:
        while True:
            try:
                self.queue.put_nowait(notice)
                return
            except asyncio.QueueFull:
                with contextlib.suppress(asyncio.QueueEmpty):
                    self.queue.get_nowait()
                    self.dropped += 1
                    metrics.SSE_DROPPED.inc()

    def take_gap(self) -> int:
        dropped, self.dropped = self.dropped, 0
        return dropped


class NotificationHub:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.subscribers: set[Subscriber] = set()
        self.shutting_down = asyncio.Event()
        self.connected = False
        # Notices can arrive twice (the notifier re-sends after a crash); forward each id once.
        self._recent_ids: OrderedDict[str, None] = OrderedDict()

    def subscribe(self) -> Subscriber:
        subscriber = Subscriber(asyncio.Queue(maxsize=self.settings.sse_client_queue_size))
        self.subscribers.add(subscriber)
        metrics.SSE_CLIENTS.set(len(self.subscribers))
        return subscriber

    def unsubscribe(self, subscriber: Subscriber) -> None:
        self.subscribers.discard(subscriber)
        metrics.SSE_CLIENTS.set(len(self.subscribers))

    def broadcast(self, notice: dict[str, Any]) -> None:
        notice_id = notice.get("id")
        if notice_id in self._recent_ids:
            return
        self._recent_ids[notice_id] = None
        if len(self._recent_ids) > RECENT_IDS:
            self._recent_ids.popitem(last=False)
        for subscriber in list(self.subscribers):
            subscriber.offer(notice)

    def close(self) -> None:
        """Server shutdown: end every open stream so the server does not wait on them."""
        self.shutting_down.set()
        for subscriber in list(self.subscribers):
            subscriber.closed.set()
            subscriber.offer(CLOSE)

    def close_on_termination_signals(self) -> None:
        """End every stream as soon as the server is told to stop, not at lifespan shutdown.

        Granian drains open responses before it runs the lifespan shutdown, and an SSE response never
        ends by itself, so without this a SIGTERM waits for every client to leave. The server's own
        handler is chained, never replaced; where nothing handles the signal (the default action
        ends the process anyway) nothing is installed.
        """
        if threading.current_thread() is not threading.main_thread():
            return
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            previous = signal.getsignal(signum)
            if not callable(previous):
                continue

            def close_then_chain(received: int, frame: Any, previous: Any = previous) -> None:
                loop.call_soon_threadsafe(self.close)
                previous(received, frame)

            signal.signal(signum, close_then_chain)

    async def run_forever(self) -> None:
        self.close_on_termination_signals()
        attempt = 0
        while not self.shutting_down.is_set():
            try:
                await self._consume()
                attempt = 0
            except asyncio.CancelledError:
                raise
            except Exception as error:  # noqa: BLE001 - a Kafka outage only pauses live notices
                self.connected = False
                attempt += 1
                delay = min(10.0, 0.5 * 2 ** min(attempt, 5))
                log.warning("notification consumer error: %s; reconnecting in %.1fs", error, delay)
                await asyncio.sleep(delay)

    async def _consume(self) -> None:
        topic = self.settings.kafka_topic_notifications
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.settings.kafka_bootstrap_servers,
            group_id=None,
            enable_auto_commit=False,
            auto_offset_reset="latest",
            request_timeout_ms=self.settings.kafka_request_timeout_ms + 30_000,
            fetch_max_wait_ms=100,
        )
        await consumer.start()
        try:
            partitions = await topic_partitions(self.settings.kafka_bootstrap_servers, topic)
            if not partitions:
                raise RuntimeError(f"topic {topic} does not exist yet")
            tps = [TopicPartition(topic, p) for p in sorted(partitions)]
            consumer.assign(tps)
            await consumer.seek_to_end(*tps)
            self.connected = True
            log.info("notification hub listening on %s (%d partitions)", topic, len(tps))
            while not self.shutting_down.is_set():
                batch = await consumer.getmany(timeout_ms=500, max_records=1000)
                for records in batch.values():
                    for record in records:
                        try:
                            self.broadcast(json.loads(record.value))
                        except (ValueError, TypeError):
                            log.warning("skipping an unreadable notice at offset %s", record.offset)
        finally:
            self.connected = False
            await consumer.stop()


_hub: NotificationHub | None = None


def get_hub() -> NotificationHub | None:
    return _hub


def set_hub(hub: NotificationHub | None) -> None:
    global _hub
    _hub = hub
