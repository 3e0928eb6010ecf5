"""Kafka down: writes still succeed, and every event arrives exactly once when the broker returns."""

from __future__ import annotations

import collections
import uuid

import httpx
import pytest

from tests.conftest import devstack
from tests.support import wait_for_messages

pytestmark = pytest.mark.faults


def test_hundred_writes_during_a_broker_outage_all_arrive_exactly_once(api: httpx.Client, settings) -> None:
    product = api.post(
        "/api/products", json={"sku": f"OUT-{uuid.uuid4().hex[:10]}", "name": "Outage", "price": "1.00", "quantity": 0}
    ).json()
    devstack("stop", "kafka")
    try:
        statuses = [
            api.post(
                f"/api/products/{product['id']}/stock-adjustments", json={"delta": 1, "reason": "received"}
            ).status_code
            for _ in range(100)
        ]
    finally:
        devstack("start", "kafka")
    assert statuses == [201] * 100
    messages = wait_for_messages(
        settings.kafka_bootstrap_servers,
        settings.kafka_topic_product_events,
        lambda m: m.key == product["id"],
        101,
        timeout_s=90,
    )
    counts = collections.Counter(m.json()["id"] for m in messages)
    assert len(counts) == 101 and set(counts.values()) == {1}
    assert [m.json()["data"]["product"]["version"] for m in messages] == list(range(1, 102))
