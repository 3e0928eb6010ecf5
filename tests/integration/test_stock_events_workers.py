"""The workers and the stock-by-location events (schemas 1.4.0), with real worker processes on the test's own
topics: the notifier stores, archives and announces the new types, and every worker skips a type it does not
know without dead-lettering it."""

from __future__ import annotations

import copy
import uuid
from datetime import UTC, datetime

from schemas.registry import load_schema, validate_event
from tests.conftest import wait_for
from tests.worker_support import (
    NOTIFIER,
    archived_event_ids,
    produce_events,
    read_messages,
    stored_event_ids,
    wait_for_topic_messages,
)

NEW_TYPES = (
    "stock-transferred.schema.json",
    "location-low-stock-warning.schema.json",
    "product-updated.v2.schema.json",
)


def fresh(schema_file: str, product_id: str) -> dict:
    """The schema's example as a new event of one product (own id, subject and time)."""
    event = copy.deepcopy(load_schema(schema_file)["examples"][0])
    event.update(id=str(uuid.uuid4()), subject=product_id, time=datetime.now(UTC).isoformat().replace("+00:00", "Z"))
    data = event["data"]
    if "product_id" in data:
        data["product_id"] = product_id
    else:
        data["product"]["id"] = product_id
    validate_event(event)
    return event


def test_the_notifier_stores_archives_and_announces_the_new_events_and_skips_an_unknown_type(
    settings, stores, start_worker
) -> None:
    product_id = str(uuid.uuid4())
    events = [fresh(name, product_id) for name in NEW_TYPES]
    unknown = {**fresh(NEW_TYPES[0], product_id), "id": str(uuid.uuid4()), "type": "inventory.product.renamed"}
    last = fresh(NEW_TYPES[0], product_id)
    produce_events(settings, stores.product_events, [*events, unknown, last])
    start_worker(NOTIFIER, stores.notifier_env(), "notifier-stock-events")

    expected = {e["id"] for e in [*events, last]}
    wait_for(lambda: set(stored_event_ids(settings, stores.table)) == expected, 60, 0.3, "the known events stored")
    wait_for(lambda: set(archived_event_ids(settings, stores.bucket)[1]) == expected, 60, 0.5, "all archived")
    notices = wait_for_topic_messages(settings, stores.notifications, lambda m: True, 4, timeout_s=30)
    kinds = [m.json()["type"] for m in notices]
    assert sorted(kinds) == sorted(
        ["stock_transferred", "location_low_stock_warning", "product_updated", "stock_transferred"]
    )
    assert unknown["id"] not in stored_event_ids(settings, stores.table)
    assert read_messages(settings, stores.dead_letters) == []  # skipped and counted, not dead-lettered
