"""Every change names who made it, from the ledger through the topic to the event log, and a deletion
does not erase that."""

from __future__ import annotations

import httpx

from tests.conftest import wait_for
from tests.integration.helpers import unique_sku


def _create(api: httpx.Client) -> dict:
    response = api.post("/api/products", json={"sku": unique_sku("WHO"), "name": "Who", "price": "1.00", "quantity": 9})
    assert response.status_code == 201, response.text
    return response.json()


def test_a_deleted_products_ledger_stays_readable_and_names_who_moved_the_stock(api: httpx.Client, accounts) -> None:
    product = _create(api)
    moved = api.post(f"/api/products/{product['id']}/stock-adjustments", json={"delta": -4, "reason": "sold"})
    assert moved.status_code == 201, moved.text
    deleted = api.delete(f"/api/products/{product['id']}", headers={"If-Match": '"2"'})
    assert deleted.status_code == 204, deleted.text
    assert api.get(f"/api/products/{product['id']}").status_code == 404

    ledger = api.get(f"/api/products/{product['id']}/movements")
    assert ledger.status_code == 200, ledger.text
    [movement] = ledger.json()["data"]
    assert movement["delta"] == -4
    assert movement["actor"] == {
        "type": "token",
        "id": accounts.editor.user_id,
        "name": f"tests (editor) ({accounts.editor.email})",
    }


def test_an_id_that_never_was_a_product_has_no_ledger(api: httpx.Client) -> None:
    response = api.get("/api/products/00000000-0000-4000-8000-000000000000/movements")
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("application/problem+json")


def test_the_event_log_names_who_made_each_change_the_deletion_included(api: httpx.Client, accounts, workers) -> None:
    product = _create(api)
    assert api.delete(f"/api/products/{product['id']}", headers={"If-Match": '"1"'}).status_code == 204

    def logged() -> list[dict]:
        response = api.get(f"/api/products/{product['id']}/events")
        events = response.json().get("data", []) if response.status_code == 200 else []
        return events if len(events) == 2 else []

    events = wait_for(logged, 60, 0.5, "both events in the event log")
    assert {e["type"] for e in events} == {"inventory.product.created", "inventory.product.deleted"}
    for event in events:
        assert event["actor"] == f"tests (editor) ({accounts.editor.email})"
        assert event["actortype"] == "token"
        assert event["actorid"] == accounts.editor.user_id
