"""The whole event pipeline: API → outbox relay → Kafka → notifier (DynamoDB, S3, notices) and analytics."""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pytest
from sqlalchemy import bindparam, text

from inventory_app.adapters import aws, event_log
from inventory_app.adapters.kafka import ensure_topics
from inventory_app.domain import events as domain_events
from schemas.registry import validate_notice
from tests.conftest import commit_group_at_end, wait_for
from tests.integration.helpers import unique_sku
from tests.support import run_async
from tests.worker_support import (
    RunningWorkers,
    archived_event_ids,
    unique_name,
    wait_for_topic_messages,
)

EVENTS_PER_SCENARIO = 5  # created, edited, stock adjusted, low-stock warning, deleted


@dataclass(frozen=True)
class Pipeline:
    notifications: str


@dataclass(frozen=True)
class Scenario:
    product_id: str
    category: str
    events: list[dict[str, Any]]
    summary_while_it_existed: dict[str, Any]

    @property
    def event_ids(self) -> set[str]:
        return {e["id"] for e in self.events}


@pytest.fixture(scope="module")
def pipeline(settings, topics) -> Iterator[Pipeline]:
    """A notifier and an analytics worker on the session's topic, table and bucket, in groups of their own.

    Notices go to a private topic: other test runs may consume the shared product-events topic too,
    and this module counts notices exactly.
    """
    notifications = unique_name("t-notices")
    run_async(ensure_topics(settings, [notifications]))
    notifier_group, analytics_group = unique_name("g-pipeline-notifier"), unique_name("g-pipeline-analytics")
    for group in (notifier_group, analytics_group):
        commit_group_at_end(settings, group, settings.kafka_topic_product_events)
    with RunningWorkers() as workers:
        notifier = workers.start(
            "backend_workers.notifier",
            {
                "NOTIFIER_GROUP_ID": notifier_group,
                "NOTIFIER_METRICS_PORT": "0",
                "NOTIFIER_ARCHIVE_INTERVAL_S": "1",
                "KAFKA_TOPIC_NOTIFICATIONS": notifications,
            },
            "pipeline-notifier",
        )
        analytics = workers.start(
            "backend_workers.analytics",
            {"ANALYTICS_GROUP_ID": analytics_group, "ANALYTICS_METRICS_PORT": "0"},
            "pipeline-analytics",
        )
        notifier.wait_for_log("partitions assigned", 60)
        analytics.wait_for_log("partitions assigned", 60)
        yield Pipeline(notifications)


def category_summary(api, category: str) -> dict[str, Any] | None:
    response = api.get("/api/analytics/summary")
    assert response.status_code == 200, response.text
    return next((c for c in response.json()["stock_value_by_category"] if c["category"] == category), None)


@pytest.fixture(scope="module")
def scenario(app_server, pipeline, settings, accounts) -> Scenario:
    """Create, edit, adjust across the threshold and delete one product through the API."""
    import httpx

    category = f"Pipeline {uuid.uuid4().hex[:10]}"
    with httpx.Client(base_url=app_server.url, timeout=30, headers=accounts.editor.headers) as api:
        created = api.post(
            "/api/products",
            json={
                "sku": unique_sku("PIPE"),
                "name": "Pipeline widget",
                "category": category,
                "price": "4.00",
                "quantity": 2000,
                "low_stock_threshold": 1000,
            },
        )
        assert created.status_code == 201, created.text
        product_id = created.json()["id"]
        edited = api.patch(f"/api/products/{product_id}", json={"name": "Pipeline widget, edited"})
        assert edited.status_code == 200, edited.text
        adjusted = api.post(f"/api/products/{product_id}/stock-adjustments", json={"delta": -1500, "reason": "sold"})
        assert adjusted.status_code == 201, adjusted.text
        summary = wait_for(
            lambda: (found := category_summary(api, category)) and found["stock_value"] == "2000.00" and found,
            30,
            0.3,
            "analytics to value the product's 500 left at 4.00",
        )
        deleted = api.delete(f"/api/products/{product_id}")
        assert deleted.status_code == 204, deleted.text

    messages = wait_for_topic_messages(
        settings, settings.kafka_topic_product_events, lambda m: m.key == product_id, EVENTS_PER_SCENARIO, 60
    )
    # De-duplicated by id: exactly-once publishing is the relay's tests' business, not this module's.
    unique_events = {m.json()["id"]: m.json() for m in messages}
    return Scenario(product_id, category, list(unique_events.values()), summary)


def test_the_scenario_publishes_one_event_of_each_kind(scenario: Scenario) -> None:
    kinds = Counter(e["type"] for e in scenario.events)
    assert kinds == {
        domain_events.PRODUCT_CREATED: 1,
        domain_events.PRODUCT_UPDATED: 2,
        domain_events.LOW_STOCK_WARNING: 1,
        domain_events.PRODUCT_DELETED: 1,
    }
    assert len(scenario.event_ids) == EVENTS_PER_SCENARIO


def test_every_event_is_stored_once_in_the_dynamodb_event_log(settings, pipeline, scenario: Scenario) -> None:
    async def history() -> list[dict[str, Any]]:
        async with aws.dynamodb_client(settings) as client:
            return await event_log.product_history(client, settings.dynamodb_events_table, scenario.product_id, 50)

    stored = wait_for(
        lambda: (found := run_async(history())) and len(found) >= EVENTS_PER_SCENARIO and found,
        30,
        0.3,
        "the product's events in DynamoDB",
    )
    assert Counter(e["id"] for e in stored) == dict.fromkeys(scenario.event_ids, 1)


def test_every_event_is_archived_to_s3_and_read_back_once(settings, pipeline, scenario: Scenario) -> None:
    def ours() -> tuple[Counter[str], list[str]] | None:
        copies, unique = archived_event_ids(settings, settings.s3_archive_bucket)
        unique = [i for i in unique if i in scenario.event_ids]
        # Listing and reading race with the notifier's uploads: wait until both views are complete.
        complete = len(unique) == EVENTS_PER_SCENARIO and all(copies[i] >= 1 for i in scenario.event_ids)
        return (copies, unique) if complete else None

    copies, unique = wait_for(ours, 30, 0.5, "the product's events in the S3 archive")
    assert all(copies[i] >= 1 for i in scenario.event_ids)
    assert sorted(unique) == sorted(scenario.event_ids)


def test_every_event_is_counted_once_by_analytics(engine, pipeline, scenario: Scenario) -> None:
    ids = sorted(scenario.event_ids)
    query = text(
        "SELECT event_id::text, count(*) FROM analytics_processed_event WHERE event_id::text IN :ids GROUP BY 1"
    ).bindparams(bindparam("ids", expanding=True))

    def processed() -> dict[str, int] | None:
        with engine.connect() as connection:
            rows = dict(connection.execute(query, {"ids": ids}).all())
        return rows if len(rows) == len(ids) else None

    assert wait_for(processed, 30, 0.3, "analytics to process the events") == dict.fromkeys(ids, 1)

    # Each (minute, type) bucket counts at least our events (other products may share the minute).
    ours = Counter(
        (datetime.fromisoformat(e["time"].replace("Z", "+00:00")).replace(second=0, microsecond=0), e["type"])
        for e in scenario.events
    )
    with engine.connect() as connection:
        for (minute, event_type), count in ours.items():
            stored = connection.execute(
                text("SELECT count FROM analytics_events_per_minute WHERE minute = :minute AND event_type = :type"),
                {"minute": minute, "type": event_type},
            ).scalar_one()
            assert stored >= count, (minute, event_type)
        adjustments = connection.execute(
            text("SELECT sum(count) FROM analytics_adjustments_hourly WHERE product_id = CAST(:id AS uuid)"),
            {"id": scenario.product_id},
        ).scalar_one()
        state = connection.execute(
            text("SELECT deleted, quantity FROM analytics_product_state WHERE product_id = CAST(:id AS uuid)"),
            {"id": scenario.product_id},
        ).one()
    assert adjustments == 1
    assert tuple(state) == (True, 500)


def test_every_event_yields_exactly_one_valid_notice(settings, pipeline, scenario: Scenario) -> None:
    notices = [
        m.json()
        for m in wait_for_topic_messages(
            settings, pipeline.notifications, lambda m: m.key == scenario.product_id, EVENTS_PER_SCENARIO, 30
        )
    ]
    assert Counter(n["id"] for n in notices) == dict.fromkeys(scenario.event_ids, 1)
    types = {e["id"]: e["type"] for e in scenario.events}
    for notice in notices:
        validate_notice(notice)
        assert notice["event_id"] == notice["id"]
        assert notice["event_type"] == types[notice["id"]]
        expected = "warning" if notice["event_type"] == domain_events.LOW_STOCK_WARNING else "info"
        assert notice["severity"] == expected, notice


def test_the_product_events_endpoint_lists_them_newest_first(api, pipeline, scenario: Scenario) -> None:
    def listed() -> list[dict[str, Any]] | None:
        response = api.get(f"/api/products/{scenario.product_id}/events")
        assert response.status_code == 200, response.text
        data = response.json()["data"]
        return data if len(data) >= EVENTS_PER_SCENARIO else None

    data = wait_for(listed, 30, 0.3, "the product's events over the API")
    newest_first = sorted(scenario.events, key=event_log.sort_key, reverse=True)
    assert [e["id"] for e in data] == [e["id"] for e in newest_first]


def test_the_recent_events_endpoint_includes_them(api, pipeline, scenario: Scenario) -> None:
    def recent_ids() -> set[str] | None:
        response = api.get("/api/events/recent", params={"limit": 200})
        assert response.status_code == 200, response.text
        ids = {e["id"] for e in response.json()["data"]}
        return ids if scenario.event_ids <= ids else None

    wait_for(recent_ids, 30, 0.3, "the product's events among the recent ones")


def test_the_analytics_summary_valued_the_product_while_it_existed_and_drops_it_after_delete(
    api, pipeline, scenario: Scenario
) -> None:
    assert scenario.summary_while_it_existed == {
        "category": scenario.category,
        "stock_value": "2000.00",
        "product_count": 1,
    }
    wait_for(lambda: category_summary(api, scenario.category) is None, 30, 0.3, "the deleted product's category gone")
