"""Kafka down: writes still succeed, and every event arrives exactly once, in order, when the broker returns."""

from __future__ import annotations

import collections
import uuid

import httpx
import pytest

from tests.conftest import devstack
from tests.support import wait_for_messages

pytestmark = pytest.mark.faults
PRODUCTS = 10


def test_a_thousand_writes_around_a_broker_outage_all_arrive_exactly_once_in_product_order(
    api: httpx.Client, settings
) -> None:
    products = [
        api.post(
            "/api/products",
            json={"sku": f"OUT-{uuid.uuid4().hex[:10]}", "name": "Outage", "price": "1.00", "quantity": 0},
        ).json()["id"]
        for _ in range(PRODUCTS)
    ]

    def write(count: int) -> list[int]:
        return [
            api.post(
                f"/api/products/{products[n % PRODUCTS]}/stock-adjustments", json={"delta": 1, "reason": "received"}
            ).status_code
            for n in range(count)
        ]

    statuses = write(300)
    devstack("stop", "kafka")
    try:
        statuses += write(400)  # the broker is gone: the outbox holds these
    finally:
        devstack("start", "kafka")
    statuses += write(300)
    assert statuses == [201] * 1000

    ids = set(products)
    expected = PRODUCTS + 1000  # each product's creation, then its adjustments
    messages = wait_for_messages(
        settings.kafka_bootstrap_servers,
        settings.kafka_topic_product_events,
        lambda m: m.key in ids,
        expected,
        timeout_s=120,
    )
    # Read as the contract tells consumers to (read_committed), counted by the CloudEvents id.
    counts = collections.Counter(m.headers["ce_id"] for m in messages)
    assert len(counts) == expected and set(counts.values()) == {1}
    versions = collections.defaultdict(list)
    for m in sorted(messages, key=lambda m: (m.partition, m.offset)):
        versions[m.key].append(m.json()["data"]["product"]["version"])
    assert all(v == list(range(1, 102)) for v in versions.values())
