"""Another team's consumer, written with aiokafka and the schema files only, can read and check our events.

Deliberately imports nothing from this project: it proves the topic plus schemas/events/ is enough.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from pathlib import Path

import httpx
from aiokafka import AIOKafkaConsumer
from jsonschema import Draft202012Validator
from referencing import Registry, Resource

from tests.support import run_async

SCHEMA_DIR = Path(__file__).resolve().parents[2] / "schemas" / "events"


def schema_validators() -> dict[str, Draft202012Validator]:
    schemas = [json.loads(p.read_text()) for p in SCHEMA_DIR.glob("*.schema.json")]
    registry = Registry().with_resources((s["$id"], Resource.from_contents(s)) for s in schemas)
    by_type = {}
    for schema in schemas:
        event_type = schema.get("allOf", [{}])[-1].get("properties", {}).get("type", {}).get("const") or schema.get(
            "properties", {}
        ).get("type", {}).get("const")
        if event_type:
            by_type[event_type] = Draft202012Validator(
                schema, registry=registry, format_checker=Draft202012Validator.FORMAT_CHECKER
            )
    return by_type


def test_a_plain_aiokafka_consumer_reads_and_validates_the_events(api: httpx.Client, settings, accounts) -> None:
    sku = f"EXT-{uuid.uuid4().hex[:10]}"
    product = api.post(
        "/api/products", json={"sku": sku, "name": "External", "price": "3.00", "quantity": 4, "low_stock_threshold": 2}
    ).json()
    api.post(f"/api/products/{product['id']}/stock-adjustments", json={"delta": -3, "reason": "damaged"})
    validators = schema_validators()
    assert set(validators) >= {
        "inventory.product.created",
        "inventory.product.updated",
        "inventory.product.deleted",
        "inventory.product.low-stock-warning",
    }

    async def consume() -> list[tuple[dict, dict[str, bytes]]]:
        consumer = AIOKafkaConsumer(
            settings.kafka_topic_product_events,
            bootstrap_servers=settings.kafka_bootstrap_servers,
            group_id=f"other-team-{uuid.uuid4().hex[:6]}",
            auto_offset_reset="earliest",
        )
        await consumer.start()
        found: list[tuple[dict, dict[str, bytes]]] = []
        try:
            async with asyncio.timeout(30):
                while len(found) < 3:
                    message = await consumer.getone()
                    if message.key == product["id"].encode():
                        found.append((json.loads(message.value), dict(message.headers)))
        finally:
            await consumer.stop()
        return found

    records = run_async(consume())
    events = [event for event, _ in records]
    assert [e["type"] for e in events] == [
        "inventory.product.created",
        "inventory.product.updated",
        "inventory.product.low-stock-warning",
    ]
    for event in events:
        validators[event["type"]].validate(event)
    # Who made each change travels in the CloudEvents attribution headers, beside the unchanged v1 body.
    editor = accounts.editor
    for event, headers in records:
        assert "actor" not in event
        assert headers["ce_id"].decode() == event["id"]
        assert headers["ce_actortype"] == b"token"
        assert headers["ce_actor"].decode() == f"tests (editor) ({editor.email})"
        assert headers["ce_actorid"].decode() == editor.user_id
