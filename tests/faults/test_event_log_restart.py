"""The event log outlives a restart of the local services: moto comes back empty, Kafka keeps the topic,
and the notifier rebuilds the table and archive from it, so a product's history is whole again."""

from __future__ import annotations

import pytest

from inventory_app.adapters import aws, event_log
from inventory_app.domain.history import history_completeness
from tests.conftest import devstack, wait_for
from tests.support import make_product_events, run_async
from tests.worker_support import NOTIFIER, archived_event_ids, produce_events, stored_event_ids

pytestmark = pytest.mark.faults


def completeness_of(settings, table: str, events: list[dict], product_id: str):
    async def versions() -> set[int]:
        async with aws.dynamodb_client(settings) as client:
            return await event_log.product_versions(client, table, product_id, 10_000)

    current = max(e["data"]["product"]["version"] for e in events if e["subject"] == product_id)
    return history_completeness(run_async(versions()), current)


def test_the_history_of_a_product_created_before_the_services_restart_is_complete_afterwards(
    settings, stores, start_worker
) -> None:
    events = make_product_events(90, products=3)
    products = sorted({e["subject"] for e in events})
    env = stores.notifier_env(NOTIFIER_REBUILD_ON_START="true")
    notifier = start_worker(NOTIFIER, env, "notifier-before-restart")
    notifier.wait_for_log("partitions assigned", 90)
    produce_events(settings, stores.product_events, events)
    wanted = sorted(e["id"] for e in events)
    wait_for(lambda: sorted(stored_event_ids(settings, stores.table)) == wanted, 60, 0.5, "all 90 stored")
    wait_for(lambda: sorted(archived_event_ids(settings, stores.bucket)[1]) == wanted, 60, 0.5, "all 90 archived")
    notifier.terminate(30)

    for service in ("aws", "kafka"):
        devstack("stop", service)
    for service in ("kafka", "aws"):
        devstack("start", service)
    assert stored_event_ids(settings, stores.table) == []  # moto kept nothing

    notifier = start_worker(NOTIFIER, env, "notifier-after-restart")
    notifier.wait_for_log("partitions assigned", 120)

    assert "event table was missing" in notifier.log()
    assert sorted(stored_event_ids(settings, stores.table)) == wanted
    for product_id in products:
        assert completeness_of(settings, stores.table, events, product_id).complete
    wait_for(lambda: sorted(archived_event_ids(settings, stores.bucket)[1]) == wanted, 30, 0.5, "the archive back")
