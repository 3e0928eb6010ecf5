"""The same commands through every entry point give the same events.

A product is created (10 in stock, threshold 5) and its stock corrected to 3 — crossing into low stock —
through the REST API, through the UI's event handlers over Reflex's websocket, and through a CSV import.
The events each path writes must be equal apart from ids, SKUs, times and the reason that names the path
(a stock adjustment's reason names its ledger row; an import's says `import`), so the paths can never
drift apart again: they all run `domain/changes.py`.
"""

from __future__ import annotations

from typing import Any

import httpx

from inventory_app.ui.states.product_form import AdjustStockState, ProductFormState
from tests.conftest import run_async, session_cookie
from tests.integration.helpers import outbox_events, unique_sku
from tests.reflex_socket import reflex_socket

# Values that differ between any two products or runs, whatever the path.
VARYING = {
    "id",
    "product_id",
    "sku",
    "subject",
    "time",
    "created_at",
    "updated_at",
    "movement_id",
    "caused_by_event_id",
}
IMPORT_HEADER = "sku,name,description,category,price,quantity,low_stock_threshold\n"


def comparable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: "…" if k in VARYING else comparable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [comparable(v) for v in value]
    return value


def split_reasons(stored: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[dict[str, Any] | None]]:
    """The events without their `data.reason`, and the reasons alone."""
    reasons = [event["data"].get("reason") for event in stored]
    bare = [{**event, "data": {k: v for k, v in event["data"].items() if k != "reason"}} for event in stored]
    return [comparable(event) for event in bare], reasons


def through_the_api(api: httpx.Client) -> str:
    created = api.post(
        "/api/products",
        json={"sku": unique_sku("PATHAPI"), "name": "Path widget", "price": "2.50", "quantity": 10,
              "low_stock_threshold": 5},
    )  # fmt: skip
    assert created.status_code == 201, created.text
    product = created.json()
    adjusted = api.post(f"/api/products/{product['id']}/stock-adjustments", json={"delta": -7, "reason": "correction"})
    assert adjusted.status_code == 201, adjusted.text
    return product["id"]


def through_the_ui(app_url: str, api: httpx.Client, accounts) -> str:
    sku = unique_sku("PATHUI")
    cookie = f"inventory_session={session_cookie(app_url, accounts.editor)}"

    async def create() -> None:
        async with reflex_socket(app_url, cookie=cookie) as socket:
            await socket.send(ProductFormState, "open_create")
            form = {"sku": sku, "name": "Path widget", "price": "2.50", "quantity": "10", "low_stock_threshold": "5"}
            await socket.send(ProductFormState, "submit", form_data=form)
            await socket.quiet()

    run_async(create())
    [product] = api.get("/api/products", params={"q": sku}).json()["data"]

    async def adjust() -> None:
        async with reflex_socket(app_url, cookie=cookie) as socket:
            await socket.send(AdjustStockState, "open_for", product_id=product["id"], sku=sku, quantity=10)
            await socket.send(AdjustStockState, "submit", form_data={"delta": "-7", "reason": "correction"})
            await socket.quiet()

    run_async(adjust())
    return product["id"]


def through_the_import(api: httpx.Client) -> str:
    sku = unique_sku("PATHCSV")
    for quantity in (10, 3):
        response = api.post(
            "/api/products/import",
            files={"file": ("p.csv", f"{IMPORT_HEADER}{sku},Path widget,,,2.50,{quantity},5\n".encode(), "text/csv")},
        )
        assert response.status_code == 200, response.text
    [product] = api.get("/api/products", params={"q": sku}).json()["data"]
    return product["id"]


def test_the_api_the_ui_and_the_import_write_the_same_events(app_url, api, accounts, engine) -> None:
    paths = {
        "api": through_the_api(api),
        "ui": through_the_ui(app_url, api, accounts),
        "import": through_the_import(api),
    }
    stored = {path: outbox_events(engine, product_id) for path, product_id in paths.items()}
    for path, events in stored.items():
        assert [e["type"] for e in events] == [
            "inventory.product.created",
            "inventory.product.updated",
            "inventory.product.low-stock-warning",
        ], path
    bare = {path: split_reasons(events) for path, events in stored.items()}
    assert bare["ui"][0] == bare["api"][0]
    assert bare["import"][0] == bare["api"][0]
    # The reasons name the path: a ledger row for the API and the UI, the import for the file.
    for path in ("api", "ui"):
        reason = bare[path][1][1]
        assert {k: v for k, v in reason.items() if k != "movement_id"} == {
            "kind": "stock_adjustment",
            "adjustment_reason": "correction",
            "delta": -7,
        }, path
    assert bare["import"][1][1] == {"kind": "import"}
    # And every path wrote its ledger row, from 10 to 3.
    for path, product_id in paths.items():
        movements = api.get(f"/api/products/{product_id}/movements").json()["data"]
        assert [(m["delta"], m["reason"], m["quantity_after"]) for m in movements] == [(-7, "correction", 3)], path
        # One clock reading per change: the ledger row and the product's new version share their moment.
        updated = stored[path][1]["data"]["product"]
        assert updated["updated_at"] == movements[0]["created_at"], path
