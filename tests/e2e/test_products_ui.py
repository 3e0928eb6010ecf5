"""The products page in a real browser: create, search, edit, adjust stock, import CSV and delete."""

from __future__ import annotations

import re
import uuid
from pathlib import Path

import pytest
from playwright.sync_api import Locator, Page, WebSocketRoute, expect

pytestmark = pytest.mark.e2e

TIMEOUT_MS = 15_000

# Fixture order matters: `app_url` (whose setup runs asyncio) must come before `page` (Playwright's sync loop).


def unique_sku(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8].upper()}"


def product_row(page: Page, sku: str) -> Locator:
    return page.locator(f'tr[data-sku="{sku}"]')


def open_products_page(page: Page, app_url: str) -> None:
    page.goto(app_url)
    expect(page.get_by_role("heading", level=1)).to_have_text("Inventory", timeout=TIMEOUT_MS)
    expect(page.get_by_role("heading", level=2, name="Products")).to_be_visible()


def create_product(
    page: Page, sku: str, name: str, *, price: str, quantity: str, threshold: str, category: str = "Tools"
) -> None:
    page.get_by_role("button", name="New product").click()
    dialog = page.get_by_role("dialog", name="New product")
    expect(dialog).to_be_visible(timeout=TIMEOUT_MS)
    dialog.get_by_label("SKU", exact=True).fill(sku)
    dialog.get_by_label("Name", exact=True).fill(name)
    dialog.get_by_label("Category", exact=True).fill(category)
    dialog.get_by_label("Price", exact=True).fill(price)
    dialog.get_by_label("Quantity", exact=True).fill(quantity)
    dialog.get_by_label("Low-stock threshold", exact=True).fill(threshold)
    dialog.get_by_role("button", name="Save").click()
    expect(dialog).to_be_hidden(timeout=TIMEOUT_MS)


def search_for(page: Page, text: str) -> None:
    page.get_by_label("Search products").fill(text)


def test_product_lifecycle_through_the_products_page(
    app_url: str, page: Page, artifacts_dir: Path, tmp_path: Path
) -> None:
    sku = unique_sku("E2E")
    open_products_page(page, app_url)

    create_product(page, sku, "Torque wrench", price="12.50", quantity="10", threshold="3")

    search_for(page, sku)
    row = product_row(page, sku)
    expect(row).to_be_visible(timeout=TIMEOUT_MS)
    expect(page.get_by_text("1 product", exact=True)).to_be_visible(timeout=TIMEOUT_MS)
    expect(row).to_contain_text("Torque wrench")
    expect(row).to_contain_text("12.50")
    expect(row).not_to_contain_text("Low stock")

    # Edit: the dialog opens with the stored values and saves a new name.
    page.get_by_role("button", name=f"Edit {sku}").click()
    dialog = page.get_by_role("dialog", name="Edit product")
    name_input = dialog.get_by_label("Name", exact=True)
    expect(name_input).to_have_value("Torque wrench", timeout=TIMEOUT_MS)
    name_input.fill("Torque wrench XL")
    dialog.get_by_role("button", name="Save").click()
    expect(dialog).to_be_hidden(timeout=TIMEOUT_MS)
    expect(row).to_contain_text("Torque wrench XL", timeout=TIMEOUT_MS)

    # Adjust stock below the threshold: the result shows and the row is marked low.
    page.get_by_role("button", name=f"Adjust stock {sku}").click()
    dialog = page.get_by_role("dialog", name=f"Adjust stock: {sku}")
    expect(dialog).to_be_visible(timeout=TIMEOUT_MS)
    dialog.get_by_label("Delta", exact=True).fill("-8")
    dialog.get_by_label("Reason", exact=True).select_option("sold")
    dialog.get_by_label("Note", exact=True).fill("e2e sale")
    dialog.get_by_role("button", name="Apply").click()
    expect(dialog.get_by_text("Quantity now 2")).to_be_visible(timeout=TIMEOUT_MS)
    dialog.get_by_role("button", name="Close").click()
    expect(dialog).to_be_hidden(timeout=TIMEOUT_MS)
    expect(row.get_by_text("Low stock")).to_be_visible(timeout=TIMEOUT_MS)
    expect(row).to_have_attribute("data-low-stock", "true")

    # Import: a file with a bad row imports nothing and lists the bad row by line and field; with
    # "Skip invalid rows" ticked, the good row is created and the bad one reported.
    imported_sku = unique_sku("E2EIMP")
    content = (
        "sku,name,category,price,quantity,low_stock_threshold\n"
        f"{imported_sku},Imported hammer,Tools,4.20,7,1\n"
        f"{unique_sku('E2EBAD')},Bad price,Tools,not-a-price,1,0\n"
    )
    errors = page.get_by_role("table", name="Import errors")
    error_row = errors.locator("tbody tr")
    for skip_invalid in (False, True):
        csv_file = tmp_path / ("products-again.csv" if skip_invalid else "products.csv")
        csv_file.write_text(content)
        page.locator("#products_csv input[type=file]").set_input_files(csv_file)
        expect(page.get_by_text(csv_file.name, exact=True)).to_be_visible(timeout=TIMEOUT_MS)
        if skip_invalid:
            page.get_by_role("checkbox", name="Skip invalid rows").click()
        page.get_by_role("button", name="Import CSV").click()
        if skip_invalid:
            expect(page.get_by_text("Imported the valid rows; 1 problem(s) skipped.")).to_be_visible(timeout=TIMEOUT_MS)
            expect(page.get_by_text("Created 1", exact=True)).to_be_visible()
        else:
            expect(page.get_by_text("Nothing was imported: 1 problem(s)", exact=False)).to_be_visible(
                timeout=TIMEOUT_MS
            )
            expect(page.get_by_text("Created 0", exact=True)).to_be_visible()
            page.screenshot(path=str(artifacts_dir / "import-rejected.png"), full_page=True)
        expect(error_row).to_have_count(1)
        expect(error_row.locator("td").nth(0)).to_have_text("3")
        expect(error_row.locator("td").nth(1)).to_have_text("price")
        if not skip_invalid:
            search_for(page, imported_sku)
            expect(page.get_by_text("No products match")).to_be_visible(timeout=TIMEOUT_MS)
    search_for(page, imported_sku)
    expect(product_row(page, imported_sku)).to_contain_text("Imported hammer", timeout=TIMEOUT_MS)

    # Both products exist now, so the unfiltered list counts more than one.
    search_for(page, "")
    expect(page.get_by_text("1 product", exact=True)).to_be_hidden(timeout=TIMEOUT_MS)
    expect(page.get_by_role("table", name="Products").locator("tbody tr").first).to_be_visible(timeout=TIMEOUT_MS)
    page.screenshot(path=str(artifacts_dir / "products-page.png"), full_page=True)

    # Delete, confirmed in the alert dialog: the row is gone.
    search_for(page, sku)
    expect(row).to_be_visible(timeout=TIMEOUT_MS)
    page.get_by_role("button", name=f"Delete {sku}").click()
    confirm = page.get_by_role("alertdialog", name="Delete product")
    expect(confirm).to_be_visible(timeout=TIMEOUT_MS)
    confirm.get_by_role("button", name="Delete product").click()
    expect(confirm).to_be_hidden(timeout=TIMEOUT_MS)
    expect(row).to_have_count(0, timeout=TIMEOUT_MS)
    expect(page.get_by_text("No products match")).to_be_visible(timeout=TIMEOUT_MS)


def test_an_import_whose_upload_overtakes_its_click_shows_the_result(app_url: str, page: Page, tmp_path: Path) -> None:
    """The Import button sends `start` over the websocket and the file over its own HTTP request; the server
    may handle the file first. Here the browser's `start` is held back until the upload has been answered,
    then let through: the panel must keep the result and not go back to "Importing…"."""
    held: list[tuple[WebSocketRoute, str]] = []

    def route(ws: WebSocketRoute) -> None:
        server = ws.connect_to_server()

        def from_page(message: str | bytes) -> None:
            if not held and isinstance(message, str) and "csv_import_state.start" in message:
                held.append((server, message))  # sent below, once the upload has been answered
            else:
                server.send(message)

        ws.on_message(from_page)

    page.route_web_socket(re.compile(r"/_event"), route)
    open_products_page(page, app_url)
    csv_file = tmp_path / "overtaking.csv"
    csv_file.write_text(f"sku,name,price\n{unique_sku('E2ERACE')},Bad price,not-a-price\n")
    page.locator("#products_csv input[type=file]").set_input_files(csv_file)
    expect(page.get_by_text(csv_file.name, exact=True)).to_be_visible(timeout=TIMEOUT_MS)
    with page.expect_response(lambda r: "/_upload" in r.url, timeout=TIMEOUT_MS) as upload:
        page.get_by_role("button", name="Import CSV").click()
    assert upload.value.ok
    result = page.get_by_text("Nothing was imported: 1 problem(s)", exact=False)
    expect(result).to_be_visible(timeout=TIMEOUT_MS)
    assert len(held) == 1, "the click's start was not seen on the websocket"

    server, late_start = held[0]
    server.send(late_start)
    # The server handles one tab's events in order, so once it has answered an event sent after the late
    # start (ticking "Dry run", whose box shows the server's value), the late start has been applied.
    dry_run = page.get_by_role("checkbox", name="Dry run")
    dry_run.click()
    expect(dry_run).to_be_checked(timeout=TIMEOUT_MS)
    expect(page.get_by_text("Importing…")).to_be_hidden()
    expect(result).to_be_visible()
    expect(page.get_by_role("button", name="Import CSV")).to_be_disabled()  # the file was taken


def test_create_form_shows_the_services_field_errors_inline(app_url: str, page: Page) -> None:
    sku = unique_sku("E2EDUP")
    open_products_page(page, app_url)
    create_product(page, sku, "First", price="1.00", quantity="1", threshold="0")

    page.get_by_role("button", name="New product").click()
    dialog = page.get_by_role("dialog", name="New product")
    dialog.get_by_label("SKU", exact=True).fill(sku)
    dialog.get_by_label("Name", exact=True).fill("Second")
    dialog.get_by_label("Price", exact=True).fill("1.00")
    dialog.get_by_role("button", name="Save").click()
    expect(dialog.locator("#product-sku-error")).to_contain_text("already exists", timeout=TIMEOUT_MS)

    dialog.get_by_label("SKU", exact=True).fill(unique_sku("E2EOK"))
    dialog.get_by_label("Price", exact=True).fill("1.234")
    dialog.get_by_role("button", name="Save").click()
    expect(dialog.locator("#product-price-error")).to_contain_text("at most 2 decimal places", timeout=TIMEOUT_MS)
    expect(dialog).to_be_visible()


def test_at_1280_px_every_row_action_is_on_screen_without_scrolling(app_url: str, page: Page) -> None:
    """A long SKU, name and category, even without a space (a part number, a pasted URL), must not push the
    Actions column out of the table's box."""
    open_products_page(page, app_url)
    assert page.viewport_size == {"width": 1280, "height": 900}
    wide = {}
    for kind, name in (("WIDE", "A rather long product name " * 3), ("UNBROKEN", "Part-" + "X" * 120)):
        wide[kind] = unique_sku(f"E2E{kind}").ljust(64, "S")  # the longest SKU there may be
        category = name[:100]
        create_product(page, wide[kind], name, price="123456.78", quantity="1000000", threshold="5", category=category)
    sku = wide["UNBROKEN"]
    search_for(page, sku)
    row = product_row(page, sku)
    expect(row).to_be_visible(timeout=TIMEOUT_MS)
    # Measured once the search has narrowed the table to this row: other tests' products are gone from it.
    expect(page.locator("tr[data-sku]")).to_have_count(1, timeout=TIMEOUT_MS)
    scroll_box = page.get_by_role("table", name="Products").locator("xpath=..")
    # Measured in the page (locator.evaluate waits for the element; a live refresh may re-render the row).
    right_edge = "el => el.getBoundingClientRect().right"
    for action in ("Edit", "Adjust stock", "Delete"):
        button = page.get_by_role("button", name=f"{action} {sku}")
        expect(button).to_be_visible()
        assert button.evaluate(right_edge) <= scroll_box.evaluate(right_edge), action
    assert scroll_box.evaluate("el => el.scrollWidth <= el.clientWidth + 1")
