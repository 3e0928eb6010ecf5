"""The product page never shows an unreadable event log as "No events yet"."""

from __future__ import annotations

import asyncio

import pytest

from inventory_app.services import event_history
from inventory_app.ui.states import product_detail


def test_an_event_log_that_cannot_be_read_is_reported_as_unavailable(monkeypatch: pytest.MonkeyPatch) -> None:
    async def down(product_id: str, limit: int) -> dict:
        raise ConnectionError("DynamoDB is not answering")

    monkeypatch.setattr(event_history, "product_events", down)
    assert asyncio.run(product_detail.load_product_events_page("00000000-0000-4000-8000-000000000000")) is None


def test_a_slow_event_log_is_given_up_on_within_the_pages_bound(monkeypatch: pytest.MonkeyPatch) -> None:
    async def slow(product_id: str, limit: int) -> dict:
        await asyncio.sleep(60)
        return {"data": []}

    monkeypatch.setattr(event_history, "product_events", slow)
    monkeypatch.setattr(product_detail, "EVENTS_TIMEOUT_S", 0.05)
    assert asyncio.run(product_detail.load_product_events_page("00000000-0000-4000-8000-000000000000")) is None


def test_an_empty_log_is_an_empty_page_not_a_failure(monkeypatch: pytest.MonkeyPatch) -> None:
    async def empty(product_id: str, limit: int) -> dict:
        return {"data": [], "count": 0}

    monkeypatch.setattr(event_history, "product_events", empty)
    assert asyncio.run(product_detail.load_product_events_page("00000000-0000-4000-8000-000000000000")) == {
        "data": [],
        "count": 0,
    }
