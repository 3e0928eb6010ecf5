"""Stock by location in a real browser: an admin makes two locations, an editor receives stock into one,
transfers part of it to the other, and sees both quantities, the ledger's transfer rows and the live notice."""

from __future__ import annotations

import re
import uuid
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from tests.conftest import signed_in_state

pytestmark = pytest.mark.e2e

TIMEOUT_MS = 15_000
VIEWPORT = {"width": 1280, "height": 900}

# Fixture order matters: `app_url` (whose setup runs asyncio) must come before `page` (Playwright's sync loop).


def create_location_in_page(page: Page, code: str, name: str) -> None:
    page.get_by_label("Code", exact=True).fill(code)
    page.get_by_label("Name", exact=True).fill(name)
    page.get_by_role("button", name="Add location").click()
    expect(page.get_by_role("table", name="Locations").get_by_text(code.upper(), exact=True)).to_be_visible(
        timeout=TIMEOUT_MS
    )


def test_two_locations_stock_received_into_one_and_moved_to_the_other(
    app_url: str, accounts, api: httpx.Client, browser: Browser, page: Page, artifacts_dir: Path
) -> None:
    tag = uuid.uuid4().hex[:6].upper()
    codes = (f"E2E{tag}A", f"E2E{tag}B")
    admin = browser.new_context(viewport=VIEWPORT, storage_state=signed_in_state(app_url, accounts.admin))
    try:
        admin_page = admin.new_page()
        admin_page.goto(f"{app_url}/locations")
        expect(admin_page.get_by_role("heading", name="Locations", level=2)).to_be_visible(timeout=TIMEOUT_MS)
        create_location_in_page(admin_page, codes[0], "Front store")
        create_location_in_page(admin_page, codes[1], "Back room")
    finally:
        admin.close()
    places = {loc["code"]: loc["id"] for loc in api.get("/api/locations").json()["data"]}
    sku = f"E2ELOC-{tag}"
    product = api.post("/api/products", json={"sku": sku, "name": "Located widget", "price": "3.00"}).json()

    page.set_viewport_size(VIEWPORT)
    page.goto(f"{app_url}/products/{product['id']}")
    expect(page.get_by_role("heading", name="Located widget")).to_be_visible(timeout=TIMEOUT_MS)
    expect(page.get_by_role("link", name="Locations")).to_be_visible()

    page.get_by_role("button", name=f"Adjust stock {sku}").click()
    dialog = page.get_by_role("dialog", name=f"Adjust stock: {sku}")
    expect(dialog).to_be_visible(timeout=TIMEOUT_MS)
    dialog.get_by_label("Delta", exact=True).fill("10")
    dialog.get_by_label("Reason", exact=True).select_option("received")
    dialog.get_by_label("Location", exact=True).select_option(places[codes[0]])
    dialog.get_by_role("button", name="Apply").click()
    expect(dialog.get_by_text("Quantity now 10")).to_be_visible(timeout=TIMEOUT_MS)
    dialog.get_by_role("button", name="Close").click()

    stock = page.get_by_role("table", name="Stock by location")
    expect(stock.get_by_role("row").filter(has_text=codes[0])).to_contain_text("10", timeout=TIMEOUT_MS)

    page.get_by_role("button", name="Transfer stock").click()
    transfer = page.get_by_role("dialog", name=f"Transfer stock: {sku}")
    expect(transfer).to_be_visible(timeout=TIMEOUT_MS)
    expect(transfer.get_by_label("From", exact=True)).to_contain_text(f"{codes[0]} — 10 available")
    transfer.get_by_label("From", exact=True).select_option(places[codes[0]])
    transfer.get_by_label("To", exact=True).select_option(places[codes[1]])
    transfer.get_by_label("Quantity", exact=True).fill("4")
    transfer.get_by_role("button", name="Move stock").click()
    expect(transfer.get_by_text(f"Moved 4 from {codes[0]} to {codes[1]}")).to_be_visible(timeout=TIMEOUT_MS)
    transfer.get_by_role("button", name="Close").click()

    expect(stock.get_by_role("row").filter(has_text=codes[0])).to_contain_text("6", timeout=TIMEOUT_MS)
    expect(stock.get_by_role("row").filter(has_text=codes[1])).to_contain_text("4", timeout=TIMEOUT_MS)
    ledger = page.get_by_role("table", name="Stock movements")
    expect(ledger.get_by_text(re.compile(r"\(transfer\)"))).to_have_count(2, timeout=TIMEOUT_MS)

    page.get_by_role("button", name=re.compile(r"^Notifications, \d+ unread$")).click()
    panel = page.get_by_role("dialog", name="Notifications")
    expect(panel.locator('a[data-notice-type="stock_transferred"]', has_text=f"Moved 4 of {sku}")).to_be_visible(
        timeout=TIMEOUT_MS
    )
    page.screenshot(path=str(artifacts_dir / "stock-by-location.png"), full_page=True)
