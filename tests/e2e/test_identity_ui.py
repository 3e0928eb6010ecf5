"""Identity in a real browser: sign-in and its return path, roles in the page, admin and token pages,
attribution on the product page, sign-out, and a second person at the same browser."""

from __future__ import annotations

import re
import uuid
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from inventory_app.settings import Settings
from tests.conftest import RUN_ID, signed_in_state, wait_for

pytestmark = pytest.mark.e2e

TIMEOUT_MS = 15_000
LIVE_MS = 5_000
VIEWPORT = {"width": 1280, "height": 900}

# Fixture order matters: `app_url` (whose setup runs asyncio) must come before `browser` (Playwright's sync loop).


def sign_in(page: Page, email: str, password: str) -> None:
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible(timeout=TIMEOUT_MS)
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


def open_account_menu(page: Page) -> None:
    page.get_by_role("button", name="Account menu").click()


def sign_out(page: Page) -> None:
    open_account_menu(page)
    page.get_by_role("menuitem", name="Sign out", exact=True).click()
    expect(page).to_have_url(re.compile(r"/login"), timeout=TIMEOUT_MS)


def create_user_in_admin_page(page: Page, role: str) -> tuple[str, str]:
    email, password = f"ui-{role}-{uuid.uuid4().hex[:6]}-{RUN_ID}@tests.example", f"{role} ui password {RUN_ID}"
    page.get_by_label("Email").fill(email)
    page.get_by_label("Name", exact=True).fill(f"UI {role}")
    page.get_by_label("Role", exact=True).select_option(role)
    page.get_by_label("Initial password").fill(password)
    page.get_by_role("button", name="Create user").click()
    users = page.locator("table", has=page.locator("caption", has_text="Users"))
    expect(users.get_by_role("rowheader", name=email)).to_be_visible(timeout=TIMEOUT_MS)
    return email, password


def test_a_signed_out_visitor_signs_in_and_lands_where_they_were_going(
    app_url: str, accounts, browser: Browser, artifacts_dir: Path
) -> None:
    context = browser.new_context(viewport=VIEWPORT)
    try:
        page = context.new_page()
        page.goto(f"{app_url}/analytics")
        expect(page).to_have_url(re.compile(r"/login\?next=%2Fanalytics"), timeout=TIMEOUT_MS)
        page.screenshot(path=str(artifacts_dir / "sign-in-page.png"))

        sign_in(page, accounts.viewer.email, "not the password at all")
        expect(page.get_by_role("alert")).to_have_text("Wrong email or password.", timeout=TIMEOUT_MS)

        sign_in(page, accounts.viewer.email, accounts.viewer.password)
        expect(page).to_have_url(re.compile(r"/analytics/?$"), timeout=TIMEOUT_MS)
        expect(page.get_by_role("heading", level=2, name="Analytics")).to_be_visible(timeout=TIMEOUT_MS)
        expect(page.get_by_role("button", name="Account menu")).to_contain_text(accounts.viewer.email)
        expect(page.get_by_label("Your role")).to_have_text("viewer")
        # The cookie is the server's: page scripts cannot read it.
        assert "inventory_session" not in page.evaluate("document.cookie")
        cookie = next(c for c in context.cookies() if c["name"] == "inventory_session")
        assert cookie["httpOnly"] and cookie["sameSite"] == "Lax"

        sign_out(page)
        page.goto(app_url)
        expect(page).to_have_url(re.compile(r"/login\?next=%2F"), timeout=TIMEOUT_MS)
    finally:
        context.close()


def test_admin_creates_an_editor_and_a_viewer_who_see_what_their_roles_allow(
    app_url: str, accounts, workers, browser: Browser, artifacts_dir: Path
) -> None:
    workers.wait_until_caught_up(Settings())
    admin = browser.new_context(viewport=VIEWPORT, storage_state=signed_in_state(app_url, accounts.admin))
    try:
        page = admin.new_page()
        page.goto(f"{app_url}/admin")
        expect(page.get_by_role("heading", level=2, name="Administration")).to_be_visible(timeout=TIMEOUT_MS)
        editor_email, editor_password = create_user_in_admin_page(page, "editor")
        viewer_email, viewer_password = create_user_in_admin_page(page, "viewer")
        log = page.locator("table", has=page.locator("caption", has_text="Security log"))
        expect(log).to_contain_text(editor_email, timeout=TIMEOUT_MS)
        page.screenshot(path=str(artifacts_dir / "admin-page.png"), full_page=True)
    finally:
        admin.close()

    sku = f"ROLE-{uuid.uuid4().hex[:8].upper()}"
    with httpx.Client(base_url=app_url, timeout=30, headers=accounts.editor.headers) as api:
        created = api.post("/api/products", json={"sku": sku, "name": "Role widget", "price": "1.00", "quantity": 50})
        assert created.status_code == 201, created.text
        product_id = created.json()["id"]

    viewer_context, editor_context = browser.new_context(viewport=VIEWPORT), browser.new_context(viewport=VIEWPORT)
    try:
        viewer = viewer_context.new_page()
        viewer.goto(app_url)
        sign_in(viewer, viewer_email, viewer_password)
        expect(viewer.get_by_role("heading", level=2, name="Products")).to_be_visible(timeout=TIMEOUT_MS)
        expect(viewer.get_by_test_id("connection-indicator")).to_have_attribute(
            "data-state", "live", timeout=TIMEOUT_MS
        )
        viewer.get_by_label("Search products").fill(sku)
        expect(viewer.locator(f'tr[data-sku="{sku}"]')).to_be_visible(timeout=TIMEOUT_MS)
        expect(viewer.get_by_role("button", name="New product")).to_have_count(0)
        expect(viewer.get_by_role("button", name=f"Edit {sku}")).to_have_count(0)
        expect(viewer.get_by_role("button", name=f"Delete {sku}")).to_have_count(0)
        expect(viewer.get_by_role("link", name="Admin")).to_have_count(0)

        editor = editor_context.new_page()
        editor.goto(f"{app_url}/products/{product_id}")
        sign_in(editor, editor_email, editor_password)
        expect(editor.get_by_role("heading", level=2, name="Role widget")).to_be_visible(timeout=TIMEOUT_MS)
        editor.get_by_role("button", name=f"Adjust stock {sku}").click()
        dialog = editor.get_by_role("dialog", name=f"Adjust stock: {sku}")
        dialog.get_by_label("Delta", exact=True).fill("-5")
        dialog.get_by_label("Reason", exact=True).select_option("sold")
        dialog.get_by_role("button", name="Apply").click()
        expect(dialog.get_by_text("Quantity now 45")).to_be_visible(timeout=TIMEOUT_MS)
        dialog.get_by_role("button", name="Close").click()

        # The viewer, who may not change anything, still hears of the change live.
        toast_or_panel = viewer.get_by_test_id("unread-count")
        expect(toast_or_panel).not_to_have_text("0", timeout=LIVE_MS)

        # The product page names who moved the stock.
        ledger = editor.locator("table", has=editor.locator("caption", has_text="Stock movements"))
        expect(ledger.get_by_role("row").filter(has_text="-5")).to_contain_text(editor_email, timeout=TIMEOUT_MS)
        # The history comes from the notifier's event log, which may lag the change by a moment: reload
        # once the log has the adjustment (the page reads it at load).
        with httpx.Client(base_url=app_url, timeout=30, headers=accounts.viewer.headers) as api:

            def logged() -> bool:
                events = api.get(f"/api/products/{product_id}/events")
                data = events.json().get("data", []) if events.status_code == 200 else []
                return any(e["type"] == "inventory.product.updated" for e in data)

            wait_for(logged, 60, 0.5, "the adjustment in the event log")
        history = editor.locator("table", has=editor.locator("caption", has_text="Event history"))
        editor.reload()
        # Under a loaded CI machine the log can answer slower than the page waits: the page then says so and
        # offers to try again (never "No events yet"), which is what a person would click.
        retry = editor.get_by_role("button", name="Try again")
        for _ in range(5):
            expect(history.or_(retry)).to_be_visible(timeout=TIMEOUT_MS)
            if not retry.is_visible():
                break
            retry.click()
            expect(retry).to_be_hidden(timeout=TIMEOUT_MS)  # reading again
        expect(history.get_by_role("row").filter(has_text="inventory.product.updated").first).to_contain_text(
            editor_email, timeout=TIMEOUT_MS
        )
        editor.screenshot(path=str(artifacts_dir / "product-page-attribution.png"), full_page=True)

        # Signing out ends the session everywhere it was used: the notification stream included.
        sign_out(viewer)
        expect(viewer.get_by_test_id("connection-indicator")).to_have_count(0)
    finally:
        viewer_context.close()
        editor_context.close()


def test_a_personal_api_token_is_shown_once_works_and_stops_when_revoked(
    app_url: str, accounts, browser: Browser, artifacts_dir: Path
) -> None:
    context = browser.new_context(viewport=VIEWPORT, storage_state=signed_in_state(app_url, accounts.editor))
    try:
        page = context.new_page()
        page.goto(app_url)
        open_account_menu(page)
        page.get_by_role("menuitem", name="My API tokens and password").click()
        expect(page.get_by_role("heading", level=2, name="Your account")).to_be_visible(timeout=TIMEOUT_MS)
        name = f"ui script {uuid.uuid4().hex[:6]}"
        page.get_by_label("Token name").fill(name)
        page.get_by_label("Expires in days (empty: never)").fill("30")
        page.get_by_role("button", name="Create token").click()
        secret = page.get_by_label("New API token", exact=True)
        expect(secret).to_be_visible(timeout=TIMEOUT_MS)
        token = secret.inner_text().strip()
        page.screenshot(path=str(artifacts_dir / "token-page.png"))
        assert (
            httpx.get(f"{app_url}/api/products?limit=1", headers={"Authorization": f"Bearer {token}"}).status_code
            == 200
        )

        page.get_by_role("button", name="Done").click()
        expect(page.get_by_label("New API token", exact=True)).to_have_count(0)
        page.reload()
        expect(page.get_by_role("rowheader", name=name)).to_be_visible(timeout=TIMEOUT_MS)
        assert token not in page.content()  # shown once: only the prefix is listed afterwards

        page.get_by_role("button", name=f"Revoke {name}").click()
        expect(page.get_by_role("row").filter(has_text=name)).to_contain_text("revoked", timeout=TIMEOUT_MS)
        refused = httpx.get(f"{app_url}/api/products?limit=1", headers={"Authorization": f"Bearer {token}"})
        assert refused.status_code == 401
    finally:
        context.close()


def test_the_next_person_at_the_same_browser_sees_nothing_of_the_first(
    app_url: str, accounts, browser: Browser
) -> None:
    context = browser.new_context(viewport=VIEWPORT)
    try:
        page = context.new_page()
        page.goto(f"{app_url}/admin")
        sign_in(page, accounts.admin.email, accounts.admin.password)
        expect(page.get_by_role("heading", level=2, name="Administration")).to_be_visible(timeout=TIMEOUT_MS)
        seen_by_the_admin, _ = create_user_in_admin_page(page, "viewer")  # on the admin's page, in its state

        sign_out(page)
        sign_in(page, accounts.viewer.email, accounts.viewer.password)
        page.goto(f"{app_url}/admin")
        expect(page.get_by_text("Only admins manage users.")).to_be_visible(timeout=TIMEOUT_MS)
        # Same tab, same Reflex client token: the admin's user list must be gone from the page's state.
        assert seen_by_the_admin not in page.content()
        assert accounts.admin.email not in page.content()
    finally:
        context.close()
