"""Every API change reaches the product-events topic exactly once, contract-valid, keyed and in order."""

from __future__ import annotations

import io
import uuid

import httpx
import pytest

from schemas.registry import validate_event
from tests.support import Message, wait_for_messages

CE_HEADERS = {"ce_specversion", "ce_id", "ce_source", "ce_type", "ce_time", "ce_subject", "ce_dataschema"}


@pytest.fixture()
def product(api: httpx.Client) -> dict:
    sku = f"PUB-{uuid.uuid4().hex[:10]}"
    response = api.post(
        "/api/products",
        json={"sku": sku, "name": "Pallet jack", "price": "120.00", "quantity": 10, "low_stock_threshold": 3},
    )
    assert response.status_code == 201, response.text
    return response.json()


def events_for(settings, product_id: str, expected: int) -> list[Message]:
    return wait_for_messages(
        settings.kafka_bootstrap_servers,
        settings.kafka_topic_product_events,
        lambda m: m.key == product_id,
        expected,
        timeout_s=30,
    )


def assert_well_formed(message: Message, product_id: str) -> dict:
    event = message.json()
    validate_event(event)
    assert message.key == product_id
    assert event["subject"] == product_id
    assert set(message.headers) >= CE_HEADERS
    assert message.headers["ce_id"] == event["id"]
    assert message.headers["ce_type"] == event["type"]
    return event


def test_creating_a_product_publishes_one_product_created(api, settings, product) -> None:
    [message] = events_for(settings, product["id"], 1)
    event = assert_well_formed(message, product["id"])
    assert event["type"] == "inventory.product.created"
    assert event["data"]["product"] == product


def test_editing_publishes_one_product_updated_with_the_changes(api, settings, product) -> None:
    response = api.patch(f"/api/products/{product['id']}", json={"name": "Pallet jack XL"})
    assert response.status_code == 200
    messages = events_for(settings, product["id"], 2)
    assert len(messages) == 2
    event = assert_well_formed(messages[1], product["id"])
    assert event["type"] == "inventory.product.updated"
    assert event["data"]["changes"] == {"name": {"from": "Pallet jack", "to": "Pallet jack XL"}}
    assert event["data"]["reason"] == {"kind": "edit"}


def test_adjusting_across_the_threshold_publishes_update_then_one_low_stock_warning(api, settings, product) -> None:
    response = api.post(f"/api/products/{product['id']}/stock-adjustments", json={"delta": -8, "reason": "sold"})
    assert response.status_code == 201
    movement_id = response.json()["movement"]["id"]
    messages = events_for(settings, product["id"], 3)
    assert len(messages) == 3
    updated, warning = (assert_well_formed(m, product["id"]) for m in messages[1:])
    assert updated["type"] == "inventory.product.updated"
    assert updated["data"]["reason"]["movement_id"] == movement_id
    assert warning["type"] == "inventory.product.low-stock-warning"
    assert warning["data"]["caused_by_event_id"] == updated["id"]
    assert warning["data"]["quantity"] == 2
    # Staying low does not warn again.
    api.post(f"/api/products/{product['id']}/stock-adjustments", json={"delta": -1, "reason": "sold"})
    messages = events_for(settings, product["id"], 4)
    assert [m.json()["type"] for m in messages].count("inventory.product.low-stock-warning") == 1


def test_deleting_publishes_one_product_deleted_with_the_last_snapshot(api, settings, product) -> None:
    response = api.delete(f"/api/products/{product['id']}", headers={"If-Match": '"1"'})
    assert response.status_code == 204
    messages = events_for(settings, product["id"], 2)
    assert len(messages) == 2
    event = assert_well_formed(messages[1], product["id"])
    assert event["type"] == "inventory.product.deleted"
    assert event["data"]["product"]["sku"] == product["sku"]


def test_importing_publishes_one_event_per_applied_row(api, settings) -> None:
    sku = f"IMP-{uuid.uuid4().hex[:10]}".upper()
    csv_text = f"sku,name,price,quantity\n{sku},Imported,2.50,5\nBAD SKU!,Broken,1.00,1\n"
    response = api.post(
        "/api/products/import",
        params={"skip_invalid": "true"},
        files={"file": ("p.csv", io.BytesIO(csv_text.encode()), "text/csv")},
    )
    assert response.status_code == 200
    assert response.json()["created"] == 1
    product_id = api.get("/api/products", params={"q": sku}).json()["data"][0]["id"]
    [message] = events_for(settings, product_id, 1)
    assert assert_well_formed(message, product_id)["type"] == "inventory.product.created"


def test_two_hundred_quick_changes_arrive_in_commit_order(api, settings, product) -> None:
    with httpx.Client(base_url=str(api.base_url), timeout=30, headers=api.headers) as client:
        for _ in range(200):
            assert (
                client.post(
                    f"/api/products/{product['id']}/stock-adjustments", json={"delta": 1, "reason": "received"}
                ).status_code
                == 201
            )
    messages = events_for(settings, product["id"], 201)
    assert len(messages) == 201
    versions = [m.json()["data"]["product"]["version"] for m in messages]
    assert versions == list(range(1, 202))
    assert len({m.partition for m in messages}) == 1
