"""Stock by location through the REST API on the real stack: the location tree, stock per location,
adjustments that name a location, transfers (100 of them at once on one product), the product list's
location filter, and the events each change leaves in the outbox."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter

import httpx
import pytest

from inventory_app.domain import events
from schemas.registry import validate_event
from tests.integration.helpers import assert_matches_contract, outbox_events, unique_sku


def new_location(admin_api: httpx.Client, name: str, parent: dict | None = None) -> dict:
    code = f"T{uuid.uuid4().hex[:8]}".upper()
    payload = {"code": code, "name": name, **({"parent_id": parent["id"]} if parent else {})}
    response = admin_api.post("/api/locations", json=payload)
    assert response.status_code == 201, response.text
    assert_matches_contract(response.json(), "LocationPublic")
    return response.json()


def new_product(api: httpx.Client, quantity: int = 0) -> dict:
    payload = {"sku": unique_sku("LOC"), "name": "Located", "price": "2.00", "quantity": quantity}
    response = api.post("/api/products", json=payload)
    assert response.status_code == 201, response.text
    return response.json()


def stock_of(api: httpx.Client, product: dict) -> dict[str, int]:
    response = api.get(f"/api/products/{product['id']}/stock")
    assert response.status_code == 200, response.text
    body = response.json()
    assert_matches_contract(body, "ProductStock")
    assert body["total"] == sum(level["quantity"] for level in body["data"])
    return {level["code"]: level["quantity"] for level in body["data"]}


def receive(api: httpx.Client, product: dict, location: dict, delta: int) -> httpx.Response:
    payload = {"delta": delta, "reason": "received", "location_id": location["id"]}
    return api.post(f"/api/products/{product['id']}/stock-adjustments", json=payload)


def test_the_tree_lists_parents_before_children_with_paths(admin_api, viewer_api) -> None:
    warehouse = new_location(admin_api, "Warehouse")
    zone = new_location(admin_api, "Zone A", warehouse)
    shelf = new_location(admin_api, "Shelf 3", zone)
    listed = viewer_api.get("/api/locations")
    assert listed.status_code == 200
    assert_matches_contract(listed.json(), "LocationsPublic")
    order = [loc["id"] for loc in listed.json()["data"]]
    assert order.index(warehouse["id"]) < order.index(zone["id"]) < order.index(shelf["id"])
    mine = {loc["id"]: loc for loc in listed.json()["data"]}
    assert (mine[shelf["id"]]["path"], mine[shelf["id"]]["depth"]) == ("Warehouse / Zone A / Shelf 3", 2)


def test_only_admins_change_locations(api, viewer_api, admin_api) -> None:
    for client in (api, viewer_api):
        refused = client.post("/api/locations", json={"code": "NOPE", "name": "Nope"})
        assert refused.status_code == 403
    place = new_location(admin_api, "Admin made")
    assert api.patch(f"/api/locations/{place['id']}", json={"name": "X"}).status_code == 403
    assert api.delete(f"/api/locations/{place['id']}").status_code == 403


def test_bad_location_input_is_refused_naming_the_field(admin_api) -> None:
    warehouse = new_location(admin_api, "Warehouse")
    zone = new_location(admin_api, "Zone", warehouse)
    duplicate = admin_api.post("/api/locations", json={"code": warehouse["code"].lower(), "name": "Again"})
    assert duplicate.status_code == 409 and duplicate.json()["errors"][0]["field"] == "code"
    cycle = admin_api.patch(f"/api/locations/{warehouse['id']}", json={"parent_id": zone["id"]})
    assert cycle.status_code == 422 and cycle.json()["errors"][0]["field"] == "parent_id"
    invalid = admin_api.post("/api/locations", json={"code": "bad code!", "name": ""})
    assert invalid.status_code == 422
    assert {e["field"] for e in invalid.json()["errors"]} == {"code", "name"}
    stale = admin_api.patch(f"/api/locations/{zone['id']}", json={"name": "Z"}, headers={"If-Match": '"9"'})
    assert stale.status_code == 412


def test_a_location_that_holds_stock_or_children_is_kept_and_can_be_deactivated(api, admin_api) -> None:
    warehouse = new_location(admin_api, "Warehouse")
    shelf = new_location(admin_api, "Shelf", warehouse)
    product = new_product(api)
    assert receive(api, product, shelf, 3).status_code == 201
    for place, reason in ((warehouse, "sub-locations"), (shelf, "units of stock")):
        refused = admin_api.delete(f"/api/locations/{place['id']}")
        assert refused.status_code == 409, refused.text
        assert refused.json()["type"].endswith("/location-in-use") and reason in refused.json()["detail"]
    off = admin_api.patch(f"/api/locations/{shelf['id']}", json={"active": False})
    assert off.status_code == 200 and off.json()["active"] is False
    more = receive(api, product, shelf, 1)
    assert more.status_code == 409 and more.json()["type"].endswith("/location-inactive")
    drained = api.post(
        f"/api/products/{product['id']}/stock-adjustments",
        json={"delta": -3, "reason": "sold", "location_id": shelf["id"]},
    )
    assert drained.status_code == 201, drained.text  # an inactive location can still be emptied
    unused = new_location(admin_api, "Never used")
    assert admin_api.delete(f"/api/locations/{unused['id']}").status_code == 204
    assert admin_api.get(f"/api/locations/{unused['id']}").status_code == 404


def test_the_default_location_stays(admin_api) -> None:
    default = next(loc for loc in admin_api.get("/api/locations").json()["data"] if loc["is_default"])
    assert admin_api.patch(f"/api/locations/{default['id']}", json={"active": False}).status_code == 409
    assert admin_api.delete(f"/api/locations/{default['id']}").status_code == 409


def test_stock_per_location_and_a_version_2_event_for_a_named_location(api, admin_api, engine) -> None:
    shelf = new_location(admin_api, "Shelf")
    product = new_product(api, quantity=4)
    response = receive(api, product, shelf, 6)
    assert response.status_code == 201, response.text
    assert_matches_contract(response.json(), "StockAdjustmentResult")
    assert response.json()["movement"]["location_code"] == shelf["code"]
    assert stock_of(api, product) == {"DEFAULT": 4, shelf["code"]: 6}
    old_style = api.post(f"/api/products/{product['id']}/stock-adjustments", json={"delta": -5, "reason": "sold"})
    assert old_style.status_code == 201
    assert stock_of(api, product) == {shelf["code"]: 5}  # 4 from DEFAULT first, then 1 from the shelf
    updates = [e for e in outbox_events(engine, product["id"]) if e["type"] == events.PRODUCT_UPDATED]
    for event in updates:
        validate_event(event)
    assert [e["dataschema"].rsplit("/", 1)[1] for e in updates] == ["2", "2"]
    assert [(x["code"], x["delta"]) for x in updates[1]["data"]["reason"]["locations"]] == [
        ("DEFAULT", -4),
        (shelf["code"], -1),
    ]
    ledger = api.get(f"/api/products/{product['id']}/movements").json()
    assert_matches_contract(ledger, "StockMovementsPublic")
    # The rows of one adjustment share its time: listed together, in no particular order between them.
    assert {(m["location_code"], m["delta"]) for m in ledger["data"][:2]} == {(shelf["code"], -1), ("DEFAULT", -4)}


def test_todays_adjustments_keep_sending_version_1(api, engine) -> None:
    product = new_product(api, quantity=4)
    assert api.post(f"/api/products/{product['id']}/stock-adjustments", json={"delta": -1, "reason": "sold"}).is_success
    [updated] = [e for e in outbox_events(engine, product["id"]) if e["type"] == events.PRODUCT_UPDATED]
    assert updated["dataschema"].endswith("/product-updated/1") and "locations" not in updated["data"]["reason"]


def test_the_product_list_filters_by_a_location_and_everything_under_it(api, admin_api) -> None:
    warehouse = new_location(admin_api, "Warehouse")
    shelf = new_location(admin_api, "Shelf", warehouse)
    on_shelf, elsewhere = new_product(api), new_product(api, quantity=2)
    assert receive(api, on_shelf, shelf, 1).status_code == 201
    for place in (warehouse, shelf):
        listed = api.get("/api/products", params={"location_id": place["id"], "limit": 200})
        assert listed.status_code == 200
        ids = {p["id"] for p in listed.json()["data"]}
        assert on_shelf["id"] in ids and elsewhere["id"] not in ids
    assert api.get("/api/products", params={"location_id": "not-a-uuid"}).status_code == 422


def test_moving_a_location_changes_the_cached_lists_filtered_by_its_old_and_new_parents(api, admin_api) -> None:
    north, south = new_location(admin_api, "North"), new_location(admin_api, "South")
    shelf = new_location(admin_api, "Shelf", north)
    product = new_product(api)
    assert receive(api, product, shelf, 1).status_code == 201

    def held_under(place: dict) -> bool:
        listed = api.get("/api/products", params={"location_id": place["id"], "limit": 200})
        assert listed.status_code == 200
        return product["id"] in {p["id"] for p in listed.json()["data"]}

    for _ in range(3):  # cached on whichever workers these requests reach
        assert held_under(north) and not held_under(south)
    moved = admin_api.patch(f"/api/locations/{shelf['id']}", json={"parent_id": south["id"]})
    assert moved.status_code == 200, moved.text
    for _ in range(3):
        assert held_under(south) and not held_under(north), "a cached list still shows the old tree"


def test_a_transfer_answers_both_rows_and_the_stock_and_changes_nothing_when_refused(api, admin_api, engine) -> None:
    shelf = new_location(admin_api, "Shelf")
    product = new_product(api, quantity=5)
    default = next(loc for loc in api.get("/api/locations").json()["data"] if loc["is_default"])
    url = f"/api/products/{product['id']}/transfers"
    body = {"from_location_id": default["id"], "to_location_id": shelf["id"], "quantity": 3, "note": "restock"}
    moved = api.post(url, json=body, headers={"Idempotency-Key": "t-1"})
    assert moved.status_code == 201, moved.text
    assert_matches_contract(moved.json(), "TransferResult")
    again = api.post(url, json=body, headers={"Idempotency-Key": "t-1"})
    assert again.json() == moved.json() and again.headers.get("Idempotent-Replayed") == "true"
    assert stock_of(api, product) == {"DEFAULT": 2, shelf["code"]: 3}
    assert api.get(f"/api/products/{product['id']}").json()["version"] == product["version"]
    too_many = api.post(url, json={**body, "quantity": 3})
    assert too_many.status_code == 409 and too_many.json()["errors"][0]["field"] == "quantity"
    unknown = api.post(url, json={**body, "to_location_id": str(uuid.uuid4())})
    assert unknown.status_code == 422 and unknown.json()["errors"][0]["field"] == "to_location_id"
    assert stock_of(api, product) == {"DEFAULT": 2, shelf["code"]: 3}
    transferred = [e for e in outbox_events(engine, product["id"]) if e["type"] == events.STOCK_TRANSFERRED]
    assert len(transferred) == 1
    validate_event(transferred[0])


def test_a_viewer_cannot_move_stock(viewer_api, api) -> None:
    product = new_product(api, quantity=1)
    default = next(loc for loc in viewer_api.get("/api/locations").json()["data"] if loc["is_default"])
    body = {"from_location_id": default["id"], "to_location_id": default["id"], "quantity": 1}
    assert viewer_api.post(f"/api/products/{product['id']}/transfers", json=body).status_code == 403
    minimum = viewer_api.patch(f"/api/products/{product['id']}/stock/{default['id']}", json={"min_quantity": 1})
    assert minimum.status_code == 403


@pytest.mark.timeout(240)
def test_a_hundred_opposite_transfers_at_once_never_deadlock_and_add_up(app_url, accounts, api, admin_api, engine):
    """60 transfers A→B and 40 B→A of one unit each, all at once: every one answers 201 (no deadlock reaches
    a client), the total never changes, each location ends exactly where the arithmetic says, every transfer
    has one pair of ledger rows, and the events replay in order to the final quantities."""
    a, b = new_location(admin_api, "A"), new_location(admin_api, "B")
    product = new_product(api)
    assert receive(api, product, a, 100).status_code == 201
    assert receive(api, product, b, 100).status_code == 201
    moves = [(a, b)] * 60 + [(b, a)] * 40

    async def run_all() -> list[httpx.Response]:
        async with httpx.AsyncClient(base_url=app_url, headers=accounts.editor.headers, timeout=120) as client:

            async def one(origin: dict, destination: dict) -> httpx.Response:
                body = {"from_location_id": origin["id"], "to_location_id": destination["id"], "quantity": 1}
                return await client.post(f"/api/products/{product['id']}/transfers", json=body)

            return await asyncio.gather(*(one(o, d) for o, d in moves))

    answers = asyncio.run(run_all())
    assert Counter(r.status_code for r in answers) == {201: 100}, [r.text for r in answers if r.status_code != 201]
    assert stock_of(api, product) == {a["code"]: 80, b["code"]: 120}
    assert api.get(f"/api/products/{product['id']}").json()["quantity"] == 200
    ledger = api.get(f"/api/products/{product['id']}/movements", params={"limit": 200}).json()["data"]
    pairs = Counter(m["transfer_id"] for m in ledger if m["transfer_id"])
    assert len(pairs) == 100 and set(pairs.values()) == {2}
    replayed = {a["code"]: 100, b["code"]: 100}
    transfers = [e for e in outbox_events(engine, product["id"]) if e["type"] == events.STOCK_TRANSFERRED]
    assert len(transfers) == 100
    for event in transfers:  # in outbox (publishing) order, each event continues from the one before
        data = event["data"]
        replayed[data["from"]["code"]] -= data["quantity"]
        replayed[data["to"]["code"]] += data["quantity"]
        assert replayed[data["from"]["code"]] == data["from"]["quantity_after"]
        assert replayed[data["to"]["code"]] == data["to"]["quantity_after"]
    assert replayed == {a["code"]: 80, b["code"]: 120}


def test_a_transfer_and_a_location_low_stock_reach_the_live_notices(api, admin_api) -> None:
    """Through the whole path: outbox, relay, Kafka, the app's notification hub, the recent-notices list."""
    from tests.conftest import wait_for

    shelf = new_location(admin_api, "Shelf")
    product = new_product(api, quantity=6)
    default = next(loc for loc in api.get("/api/locations").json()["data"] if loc["is_default"])
    minimum = api.patch(f"/api/products/{product['id']}/stock/{default['id']}", json={"min_quantity": 3})
    assert minimum.status_code == 200 and minimum.json()["data"][0]["min_quantity"] == 3
    body = {"from_location_id": default["id"], "to_location_id": shelf["id"], "quantity": 4}
    assert api.post(f"/api/products/{product['id']}/transfers", json=body).status_code == 201  # DEFAULT 6 → 2 ≤ 3

    def notices() -> set[str] | None:
        listed = api.get("/api/notifications/recent", params={"limit": 100}).json()["data"]
        kinds = {n["type"] for n in listed if n["product_id"] == product["id"]}
        return kinds if {"stock_transferred", "location_low_stock_warning"} <= kinds else None

    wait_for(notices, 30, 0.3, "the transfer's notices")


def test_the_analytics_worker_keeps_stock_value_and_movements_per_location(
    api, admin_api, engine, settings, start_worker, stores
):
    """A real analytics worker: the product's events, as the relay publishes them (its outbox rows in order,
    onto the test's own topic), move the summary's by-location part."""
    from tests.conftest import wait_for
    from tests.worker_support import produce_events

    shelf = new_location(admin_api, "Shelf")
    product = new_product(api, quantity=10)  # price 2.00
    default = next(loc for loc in api.get("/api/locations").json()["data"] if loc["is_default"])
    body = {"from_location_id": default["id"], "to_location_id": shelf["id"], "quantity": 4}
    assert api.post(f"/api/products/{product['id']}/transfers", json=body).status_code == 201
    produce_events(settings, stores.product_events, outbox_events(engine, product["id"]))
    start_worker("backend_workers.analytics", stores.analytics_env())

    def shelf_row() -> dict | None:
        summary = api.get("/api/analytics/summary")
        assert summary.status_code == 200
        assert_matches_contract(summary.json(), "AnalyticsSummary")
        row = next(r for r in summary.json()["stock_by_location"] if r["location_id"] == shelf["id"])
        return row if row["units"] == 4 else None

    row = wait_for(shelf_row, 90, 0.5, "the shelf's stock in the analytics")
    assert (row["stock_value"], row["product_count"], row["movements_24h"]) == ("8.00", 1, 1)


def test_the_location_layout_exports_and_imports_back(api, admin_api) -> None:
    shelf = new_location(admin_api, "Shelf")
    product = new_product(api, quantity=3)
    assert receive(api, product, shelf, 2).status_code == 201
    exported = api.get("/api/products/export", params={"layout": "locations"})
    assert exported.status_code == 200
    header, *rows = exported.text.splitlines()
    assert header == "sku,name,description,category,price,low_stock_threshold,location,location_quantity"
    mine = [line for line in rows if line.startswith(product["sku"] + ",")]
    assert sorted(line.rsplit(",", 2)[1:] for line in mine) == sorted([["DEFAULT", "3"], [shelf["code"], "2"]])
    edited = header + "\n" + "\n".join(line.replace(f",{shelf['code']},2", f",{shelf['code']},7") for line in mine)
    imported = api.post("/api/products/import", files={"file": ("stock.csv", edited.encode(), "text/csv")})
    assert imported.status_code == 200, imported.text
    assert (imported.json()["updated"], imported.json()["unchanged"]) == (1, 1)
    assert stock_of(api, product) == {"DEFAULT": 3, shelf["code"]: 7}
    today = "sku,name,price,quantity\n" + f"{product['sku']},Located,2.00,1\n"
    refused = api.post("/api/products/import", files={"file": ("today.csv", today.encode(), "text/csv")})
    assert refused.status_code == 422 and refused.json()["errors"][0]["field"] == "quantity"
    assert stock_of(api, product) == {"DEFAULT": 3, shelf["code"]: 7}
