"""The notifier's batched DynamoDB writes, against a fake client: chunking, duplicate keys, throttling."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from inventory_app.adapters import event_log
from tests.support import make_product_events


class FakeDynamoDB:
    def __init__(self, unprocessed_rounds: int = 0) -> None:
        self.requests: list[list[dict[str, Any]]] = []
        self.unprocessed_rounds = unprocessed_rounds

    async def batch_write_item(self, RequestItems: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
        ((table, writes),) = RequestItems.items()
        self.requests.append(writes)
        keys = [(w["PutRequest"]["Item"]["pk"]["S"], w["PutRequest"]["Item"]["sk"]["S"]) for w in writes]
        assert len(keys) == len(set(keys)), "DynamoDB refuses a request that names a key twice"
        if self.unprocessed_rounds:
            self.unprocessed_rounds -= 1
            return {"UnprocessedItems": {table: writes[-1:]}}  # throttled: the last one comes back
        return {"UnprocessedItems": {}}


def test_events_go_25_to_a_request_each_once() -> None:
    events = make_product_events(60, products=5)
    client = FakeDynamoDB()
    asyncio.run(event_log.put_events(client, "events", events + events[:10], 7))  # 10 delivered twice
    assert [len(r) for r in client.requests] == [25, 25, 10]
    written = [w["PutRequest"]["Item"]["event_id"]["S"] for r in client.requests for w in r]
    assert sorted(written) == sorted(e["id"] for e in events)


def test_unprocessed_items_are_sent_again_and_a_throttle_that_persists_is_an_outage() -> None:
    events = make_product_events(3, products=1)
    client = FakeDynamoDB(unprocessed_rounds=2)
    asyncio.run(event_log.put_events(client, "events", events, 7))
    assert [len(r) for r in client.requests] == [3, 1, 1]

    stuck = FakeDynamoDB(unprocessed_rounds=99)
    with pytest.raises(event_log.WritesUnprocessed):
        asyncio.run(event_log.put_events(stuck, "events", events, 7))
    assert len(stuck.requests) == event_log.UNPROCESSED_ATTEMPTS
