"""Live notifications across two browsers: a stock change in one shows up in the other, and survives a restart."""

from __future__ import annotations

import re
import time
import uuid
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from inventory_app.settings import Settings
from tests.conftest import signed_in_state

pytestmark = pytest.mark.e2e

TIMEOUT_MS = 15_000
LIVE_MS = 5_000  # a notice must reach the other browser within this
# Far past its threshold: the analytics list orders by how far below, so this product comes first
# even when other runs' low-stock products share the aggregates.
QUANTITY, THRESHOLD, DELTA = 500_000, 400_000, -499_990

# Fixture order matters: `app_url` (whose setup runs asyncio) must come before `browser` (Playwright's sync loop).


def unread_count(page: Page) -> int:
    return int(page.get_by_test_id("unread-count").inner_text())


def open_products_page(page: Page, app_url: str) -> None:
    page.goto(app_url)
    expect(page.get_by_role("heading", level=2, name="Products")).to_be_visible(timeout=TIMEOUT_MS)
    expect(page.get_by_test_id("connection-indicator")).to_have_attribute("data-state", "live", timeout=TIMEOUT_MS)


def adjust_stock_in_the_ui(page: Page, sku: str, delta: int) -> None:
    page.get_by_label("Search products").fill(sku)
    row = page.locator(f'tr[data-sku="{sku}"]')
    expect(row).to_be_visible(timeout=TIMEOUT_MS)
    page.get_by_role("button", name=f"Adjust stock {sku}").click()
    dialog = page.get_by_role("dialog", name=f"Adjust stock: {sku}")
    expect(dialog).to_be_visible(timeout=TIMEOUT_MS)
    dialog.get_by_label("Delta", exact=True).fill(str(delta))
    dialog.get_by_label("Reason", exact=True).select_option("sold")
    dialog.get_by_role("button", name="Apply").click()
    expect(dialog.get_by_text(f"Quantity now {QUANTITY + delta}")).to_be_visible(timeout=TIMEOUT_MS)
    dialog.get_by_role("button", name="Close").click()
    expect(dialog).to_be_hidden(timeout=TIMEOUT_MS)
    expect(row).to_have_attribute("data-low-stock", "true", timeout=TIMEOUT_MS)


def open_panel(page: Page):
    page.get_by_role("button", name=re.compile(r"^Notifications, \d+ unread$")).click()
    panel = page.get_by_role("dialog", name="Notifications")
    expect(panel).to_be_visible(timeout=TIMEOUT_MS)
    return panel


def test_a_stock_change_in_one_browser_notifies_the_other_live_and_after_a_restart(
    app_url: str, app_server, workers, accounts, browser: Browser, artifacts_dir: Path
) -> None:
    sku = f"LIVE-{uuid.uuid4().hex[:8].upper()}"
    # Start from an idle pipeline: earlier tests may have left a backlog of events for the workers.
    workers.wait_until_caught_up(Settings())
    with httpx.Client(base_url=app_url, timeout=30, headers=accounts.editor.headers) as api:
        created = api.post(
            "/api/products",
            json={
                "sku": sku,
                "name": "Live widget",
                "category": "Live",
                "price": "1.00",
                "quantity": QUANTITY,
                "low_stock_threshold": THRESHOLD,
            },
        )
        assert created.status_code == 201, created.text
        product_id = created.json()["id"]

    viewport = {"width": 1280, "height": 900}
    # A is an editor who changes stock; B is a viewer, who may change nothing but hears of everything.
    context_a = browser.new_context(viewport=viewport, storage_state=signed_in_state(app_url, accounts.editor))
    context_b = browser.new_context(viewport=viewport, storage_state=signed_in_state(app_url, accounts.viewer))
    try:
        page_a, page_b = context_a.new_page(), context_b.new_page()
        open_products_page(page_b, app_url)
        open_products_page(page_a, app_url)
        # The panel keeps the newest 100 notices: read them all first so the count has room to rise.
        open_panel(page_b).get_by_role("button", name="Mark all read").click()
        page_b.get_by_role("button", name="Notifications, 0 unread").click()
        unread_before = unread_count(page_b)

        # A adjusts below the threshold; B, untouched, is told within seconds.
        adjust_stock_in_the_ui(page_a, sku, DELTA)
        applied = time.monotonic()
        toast = page_b.get_by_test_id("low-stock-toast").filter(has_text=f"Low stock: {sku}")
        expect(toast).to_be_visible(timeout=LIVE_MS)
        expect(toast).to_have_attribute("role", "alert")
        print(f"UI adjustment in A → toast in B: {(time.monotonic() - applied) * 1000:.0f} ms")
        expect(page_b.get_by_test_id("unread-count")).not_to_have_text(str(unread_before), timeout=LIVE_MS)
        assert unread_count(page_b) > unread_before
        page_b.screenshot(path=str(artifacts_dir / "live-products-page.png"), full_page=True)

        # After a reload the notice is still in B's panel: the panel reads the server's newest notices, which
        # hold every notice before any browser hears of it (no waiting for the notifier's DynamoDB log).
        page_b.reload()
        expect(page_b.get_by_test_id("connection-indicator")).to_have_attribute(
            "data-state", "live", timeout=TIMEOUT_MS
        )
        panel = open_panel(page_b)
        notices = panel.get_by_role("list", name="Recent notifications")
        expect(notices.locator('a[data-notice-type="low_stock_warning"]', has_text=f"Low stock: {sku}")).to_be_visible(
            timeout=TIMEOUT_MS
        )
        page_b.screenshot(path=str(artifacts_dir / "notification-panel.png"))
        panel.get_by_role("button", name="Mark all read").click()
        expect(page_b.get_by_test_id("unread-count")).to_have_text("0", timeout=TIMEOUT_MS)

        # The analytics page counts and lists the low-stock product.
        page_b.goto(f"{app_url}/analytics")
        expect(page_b.get_by_role("heading", level=2, name="Analytics")).to_be_visible(timeout=TIMEOUT_MS)
        low_stock_table = page_b.locator("table", has=page_b.locator("caption", has_text="Low-stock products"))
        expect(low_stock_table.get_by_role("link", name=sku)).to_be_visible(timeout=TIMEOUT_MS)
        low_stock_count = page_b.get_by_label("Low-stock products", exact=True)
        expect(low_stock_count).not_to_have_text("0", timeout=TIMEOUT_MS)
        assert int(low_stock_count.inner_text()) >= 1
        assert int(page_b.get_by_label("Events in the last hour", exact=True).inner_text()) >= 1
        page_b.screenshot(path=str(artifacts_dir / "analytics-page.png"), full_page=True)

        # The backend restarts: B shows it is reconnecting, comes back live, and gets the next notice.
        page_b.goto(app_url)
        indicator = page_b.get_by_test_id("connection-indicator")
        expect(indicator).to_have_attribute("data-state", "live", timeout=TIMEOUT_MS)
        stopping = time.monotonic()
        app_server.stop()
        print(f"SIGTERM to exit with two browsers connected: {time.monotonic() - stopping:.2f}s")
        assert time.monotonic() - stopping < 10
        expect(indicator).to_have_attribute("data-state", "reconnecting", timeout=TIMEOUT_MS)
        app_server.start()
        expect(indicator).to_have_attribute("data-state", "live", timeout=30_000)
        unread_after_restart = unread_count(page_b)
        with httpx.Client(base_url=app_url, timeout=30, headers=accounts.editor.headers) as api:
            renamed = api.patch(f"/api/products/{product_id}", json={"name": "Live widget, renamed"})
            assert renamed.status_code == 200, renamed.text
        expect(page_b.get_by_test_id("unread-count")).not_to_have_text(str(unread_after_restart), timeout=LIVE_MS)
        panel = open_panel(page_b)
        expect(panel.get_by_role("list", name="Recent notifications")).to_contain_text(
            f"{sku} edited: name.", timeout=TIMEOUT_MS
        )
    finally:
        context_a.close()
        context_b.close()
