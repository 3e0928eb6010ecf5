"""The CSV location layout on the real stack: export by location, edit, import back; each location's stock,
the ledger rows, and the events in the outbox and on the product-events topic; the refusals by field."""

from __future__ import annotations

import csv
import io
import uuid

import httpx

from inventory_app.domain import events
from schemas.registry import validate_event
from tests.integration.helpers import assert_matches_contract, outbox_events, unique_sku
from tests.integration.test_locations_api import new_product
from tests.support import wait_for_messages

LAYOUT = "sku,name,description,category,price,low_stock_threshold,location,location_quantity"


def new_location(admin_api: httpx.Client, name: str) -> dict:
    response = admin_api.post("/api/locations", json={"code": f"C{uuid.uuid4().hex[:8]}".upper(), "name": name})
    assert response.status_code == 201, response.text
    return response.json()


def stock_of(api: httpx.Client, product_id: str) -> dict[str, int]:
    response = api.get(f"/api/products/{product_id}/stock")
    assert response.status_code == 200, response.text
    return {level["code"]: level["quantity"] for level in response.json()["data"] if level["quantity"]}


def export_rows(api: httpx.Client, *skus: str) -> tuple[list[str], list[list[str]]]:
    response = api.get("/api/products/export", params={"layout": "locations"})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    header, *rows = csv.reader(io.StringIO(response.text))
    return header, [row for row in rows if row[0] in skus]


def upload(api: httpx.Client, text: str, **params: str) -> httpx.Response:
    return api.post("/api/products/import", params=params, files={"file": ("stock.csv", text.encode(), "text/csv")})


def to_csv(header: list[str], rows: list[list[str]]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows([header, *rows])
    return buffer.getvalue()


def test_export_by_location_edit_and_import_back(api, admin_api, engine, settings) -> None:
    shelf = new_location(admin_api, "Shelf")
    held = new_product(api, quantity=3)
    moved = api.post(
        f"/api/products/{held['id']}/stock-adjustments",
        json={"delta": 2, "reason": "received", "location_id": shelf["id"]},
    )
    assert moved.status_code == 201, moved.text
    empty = new_product(api, quantity=0)

    header, rows = export_rows(api, held["sku"], empty["sku"])
    assert ",".join(header) == LAYOUT
    assert sorted((row[0], row[6], row[7]) for row in rows) == sorted(
        [(held["sku"], "DEFAULT", "3"), (held["sku"], shelf["code"], "2"), (empty["sku"], "", "0")]
    )
    assert upload(api, to_csv(header, rows)).json() == {
        "created": 0,
        "updated": 0,
        "unchanged": 3,
        "dry_run": False,
        "errors": [],
    }  # the file as exported changes nothing

    # Edit: the shelf goes to 7, the default location stays, and a new SKU arrives on the shelf only.
    new_sku = unique_sku("CSVLOC")
    edited = [[*row[:7], "7"] if row[6] == shelf["code"] else row for row in rows]
    edited.append([new_sku, "Arrived", "", "", "4.50", "1", shelf["code"], "4"])
    report = upload(api, to_csv(header, edited))
    assert report.status_code == 200, report.text
    assert (report.json()["created"], report.json()["updated"], report.json()["unchanged"]) == (1, 1, 2)

    assert stock_of(api, held["id"]) == {"DEFAULT": 3, shelf["code"]: 7}
    assert api.get(f"/api/products/{held['id']}").json()["quantity"] == 10
    arrived = api.get("/api/products", params={"q": new_sku}).json()["data"][0]
    assert (arrived["quantity"], stock_of(api, arrived["id"])) == (4, {shelf["code"]: 4})

    ledger = api.get(f"/api/products/{held['id']}/movements").json()["data"]
    corrections = [m for m in ledger if m["reason"] == "correction"]
    assert [
        (m["delta"], m["note"], m["location_code"], m["location_quantity_after"], m["quantity_after"])
        for m in corrections
    ] == [(5, "CSV import", shelf["code"], 7, 10)]
    assert corrections[0]["actor"]["type"] != "system"  # who imported it
    [created_ledger] = api.get(f"/api/products/{arrived['id']}/movements").json()["data"]
    assert (created_ledger["delta"], created_ledger["reason"], created_ledger["location_code"]) == (
        4,
        "correction",
        shelf["code"],
    )

    # Outbox: each correction is a ProductUpdated version 2 whose stock-adjustment reason names the location.
    stored = outbox_events(engine, held["id"])
    assert [e["type"] for e in stored] == [events.PRODUCT_CREATED, events.PRODUCT_UPDATED, events.PRODUCT_UPDATED]
    for event in stored:
        validate_event(event)
    correction = stored[-1]
    assert correction["dataschema"].endswith("/2")
    reason = correction["data"]["reason"]
    assert (reason["kind"], reason["adjustment_reason"], reason["delta"]) == ("stock_adjustment", "correction", 5)
    assert [(loc["code"], loc["delta"], loc["quantity_after"]) for loc in reason["locations"]] == [
        (shelf["code"], 5, 7)
    ]
    assert reason["movement_id"] == corrections[0]["id"]
    assert [e["type"] for e in outbox_events(engine, arrived["id"])] == [events.PRODUCT_CREATED, events.PRODUCT_UPDATED]

    # The topic carries the same events, in order, keyed by product.
    messages = wait_for_messages(
        settings.kafka_bootstrap_servers, settings.kafka_topic_product_events, lambda m: m.key == held["id"], 3
    )
    assert [m.json()["id"] for m in messages] == [e["id"] for e in stored]
    assert messages[-1].headers["ce_dataschema"] == correction["dataschema"]


def test_refusals_name_the_row_and_field_and_apply_nothing(api, admin_api, engine) -> None:
    shelf = new_location(admin_api, "Shelf")
    held = new_product(api, quantity=3)
    api.post(
        f"/api/products/{held['id']}/stock-adjustments",
        json={"delta": 2, "reason": "received", "location_id": shelf["id"]},
    )
    closed = new_location(admin_api, "Closed")
    assert admin_api.patch(f"/api/locations/{closed['id']}", json={"active": False}).status_code == 200
    events_before = len(outbox_events(engine, held["id"]))
    sku = held["sku"]

    unknown = upload(
        api,
        f"{LAYOUT}\n{sku},Located,,,2.00,0,DEFAULT,1\n{sku},Located,,,2.00,0,NOWHERE-{uuid.uuid4().hex[:6]},1\n"
        f"{sku},Located,,,2.00,0,{closed['code']},1\n",
    )
    assert unknown.status_code == 422, unknown.text
    assert_matches_contract(unknown.json(), "Problem")
    assert [(e["row"], e["field"]) for e in unknown.json()["errors"]] == [(3, "location"), (4, "location")]

    disagreeing = upload(api, f"{LAYOUT}\n{sku},Located,,,2.00,0,DEFAULT,1\n{sku},Renamed,,,2.00,0,{shelf['code']},1\n")
    assert disagreeing.status_code == 422
    assert [(e["row"], e["field"]) for e in disagreeing.json()["errors"]] == [(3, "name")]

    both = upload(api, "sku,name,price,quantity,location,location_quantity\n" + f"{sku},Located,2.00,1,DEFAULT,1\n")
    assert both.status_code == 400 and "quantity" in {e["field"] for e in both.json()["errors"]}

    total = upload(api, f"sku,name,price,quantity\n{sku},Located,2.00,1\n")
    assert total.status_code == 422 and [(e["row"], e["field"]) for e in total.json()["errors"]] == [(2, "quantity")]
    assert "location columns" in total.json()["detail"]

    assert stock_of(api, held["id"]) == {"DEFAULT": 3, shelf["code"]: 2}
    assert len(outbox_events(engine, held["id"])) == events_before


def test_todays_layout_imports_as_before(api, engine) -> None:
    product = new_product(api, quantity=5)
    report = upload(api, f"sku,name,price,quantity\n{product['sku']},Renamed,2.00,8\n")
    assert report.status_code == 200, report.text
    assert report.json()["updated"] == 1
    assert stock_of(api, product["id"]) == {"DEFAULT": 8}
    stored = outbox_events(engine, product["id"])
    assert stored[-1]["data"]["reason"] == {"kind": "import"} and stored[-1]["dataschema"].endswith("/1")
    header = api.get("/api/products/export").text.splitlines()[0]
    assert header == "sku,name,description,category,price,quantity,low_stock_threshold"
