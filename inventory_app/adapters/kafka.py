"""Kafka access with aiokafka: producer factory, topic creation and a cheap metadata probe."""

from __future__ import annotations

import asyncio
import logging

from aiokafka import AIOKafkaClient, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from inventory_app.settings import Settings

log = logging.getLogger(__name__)


def make_producer(settings: Settings, client_id: str, **overrides: object) -> AIOKafkaProducer:
    """Every producer of the code base: acks from all replicas and idempotent, so a retried send is
    written once; `overrides` only for what a caller needs differently (a transactional id, a linger)."""
    options: dict[str, object] = {
        "bootstrap_servers": settings.kafka_bootstrap_servers,
        "acks": "all",
        "enable_idempotence": True,
        "linger_ms": 5,
        "request_timeout_ms": settings.kafka_request_timeout_ms,
        "max_batch_size": 1_048_576,
        "client_id": client_id,
    }
    options.update(overrides)
    return AIOKafkaProducer(**options)


async def kafka_reachable(bootstrap: str, timeout_s: float) -> bool:
    client = AIOKafkaClient(bootstrap_servers=bootstrap, request_timeout_ms=int(timeout_s * 1000))
    try:
        await asyncio.wait_for(client.bootstrap(), timeout=timeout_s)
        return bool(client.cluster.brokers())
    finally:
        await client.close()


async def ensure_topics(
    settings: Settings,
    names: list[str] | None = None,
    *,
    partitions: int | None = None,
    config: dict[str, str] | None = None,
) -> None:
    """Create the product-events, notifications and dead-letter topics (or `names`) if they are missing."""
    names = names or [
        settings.kafka_topic_product_events,
        settings.kafka_topic_notifications,
        settings.kafka_topic_dead_letters,
    ]
    admin = AIOKafkaAdminClient(
        bootstrap_servers=settings.kafka_bootstrap_servers, request_timeout_ms=settings.kafka_request_timeout_ms
    )
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [n for n in names if n not in existing]
        if not missing:
            return
        topics = [
            NewTopic(
                name=n,
                num_partitions=partitions or settings.kafka_topic_partitions,
                replication_factor=1,
                topic_configs=config or {},
            )
            for n in missing
        ]
        try:
            await admin.create_topics(topics)
            log.info("created topics %s", missing)
        except TopicAlreadyExistsError:
            pass  # another process created them first
    finally:
        await admin.close()


async def topic_partitions(bootstrap: str, topic: str, timeout_s: float = 10.0) -> set[int]:
    """The topic's partition numbers from fresh cluster metadata (a group-less consumer has none)."""
    client = AIOKafkaClient(bootstrap_servers=bootstrap, request_timeout_ms=int(timeout_s * 1000))
    try:
        await asyncio.wait_for(client.bootstrap(), timeout=timeout_s)
        metadata = await asyncio.wait_for(client.fetch_all_metadata(), timeout=timeout_s)
        return set(metadata.partitions_for_topic(topic) or set())
    finally:
        await client.close()
