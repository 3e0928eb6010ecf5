"""The UI's event handlers enforce the same rules as the REST API, on the server.

These tests speak Reflex's websocket protocol directly (tests/reflex_socket.py), sending events the
page would never offer the caller — a delete from a viewer, a create from a signed-out tab — and check
PostgreSQL afterwards. An editor's socket doing the same is the control that proves the driver works.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import text

from inventory_app.ui.states.admin import AdminState
from inventory_app.ui.states.product_form import AdjustStockState, DeleteProductState, ProductFormState
from tests.conftest import RUN_ID, Account, run_async, session_cookie
from tests.integration.helpers import count_products_with_sku, outbox_events, unique_sku
from tests.reflex_socket import reflex_socket


@pytest.fixture()
def product(api: httpx.Client) -> dict[str, Any]:
    response = api.post(
        "/api/products", json={"sku": unique_sku("UIWS"), "name": "Socket target", "price": "2.00", "quantity": 10}
    )
    assert response.status_code == 201, response.text
    return response.json()


def _cookie(app_url: str, account: Account) -> str:
    return f"inventory_session={session_cookie(app_url, account)}"


def _delete_over_socket(app_url: str, product: dict[str, Any], cookie: str | None) -> list[dict[str, Any]]:
    async def drive() -> list[dict[str, Any]]:
        async with reflex_socket(app_url, cookie=cookie) as socket:
            await socket.send(
                DeleteProductState, "ask", product_id=product["id"], sku=product["sku"], version=product["version"]
            )
            await socket.send(DeleteProductState, "confirm")
            await socket.quiet()
            return socket.received

    return run_async(drive())


def _product_exists(engine, product_id: str) -> bool:
    with engine.connect() as conn:
        return conn.execute(text("SELECT 1 FROM product WHERE id = :id"), {"id": product_id}).first() is not None


def test_a_signed_out_socket_is_sent_to_sign_in_and_its_delete_changes_nothing(app_url, product, engine):
    before = outbox_events(engine, product["id"])
    received = _delete_over_socket(app_url, product, cookie=None)
    redirects = [e for update in received for e in update.get("events") or [] if e.get("name") == "_redirect"]
    assert redirects and redirects[0]["payload"]["path"].startswith("/login?next="), received
    assert _product_exists(engine, product["id"])
    assert outbox_events(engine, product["id"]) == before


def test_a_revoked_session_cookie_is_refused_like_no_cookie(app_url, accounts, product, engine):
    cookie = _cookie(app_url, accounts.editor)
    assert httpx.delete(f"{app_url}/api/auth/session", headers={"Cookie": cookie, "Origin": app_url}).status_code == 204
    _delete_over_socket(app_url, product, cookie)
    assert _product_exists(engine, product["id"])


def test_a_viewer_socket_cannot_delete_create_or_adjust(app_url, accounts, product, engine):
    before = outbox_events(engine, product["id"])
    cookie = _cookie(app_url, accounts.viewer)
    sku = unique_sku("UIWSNEW")

    async def drive() -> list[dict[str, Any]]:
        async with reflex_socket(app_url, cookie=cookie) as socket:
            await socket.send(
                DeleteProductState, "ask", product_id=product["id"], sku=product["sku"], version=product["version"]
            )
            await socket.send(DeleteProductState, "confirm")
            await socket.send(ProductFormState, "open_create")
            form = {"sku": sku, "name": "Nope", "price": "1.00", "quantity": "1", "low_stock_threshold": "0"}
            await socket.send(ProductFormState, "submit", form_data=form)
            await socket.send(AdjustStockState, "open_for", product_id=product["id"], sku=product["sku"], quantity=10)
            await socket.send(AdjustStockState, "submit", form_data={"delta": "-5", "reason": "sale"})
            await socket.quiet()
            return socket.deltas()

    deltas = run_async(drive())
    assert _product_exists(engine, product["id"])
    assert count_products_with_sku(engine, sku) == 0
    assert outbox_events(engine, product["id"]) == before
    with engine.connect() as conn:
        quantity = conn.execute(text("SELECT quantity FROM product WHERE id = :id"), {"id": product["id"]}).scalar()
    assert quantity == 10
    # The page is told why, in the words of the API's 403.
    assert "may not do this" in repr(deltas)


def test_a_viewer_socket_cannot_create_users(app_url, accounts, engine):
    email = f"ws-made-{RUN_ID}@tests.example"

    async def drive() -> None:
        async with reflex_socket(app_url, cookie=_cookie(app_url, accounts.viewer)) as socket:
            form = {"email": email, "name": "", "role": "admin", "password": "a long enough password"}
            await socket.send(AdminState, "create_user", path="/admin", form_data=form)
            await socket.quiet()

    run_async(drive())
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM app_user WHERE email = :e"), {"e": email}).scalar() == 0


def test_an_editor_socket_deletes_and_the_event_names_the_editor(app_url, accounts, product, engine):
    """The control: the same events from an editor do delete, so the refusals above are the server's."""
    _delete_over_socket(app_url, product, _cookie(app_url, accounts.editor))
    assert not _product_exists(engine, product["id"])
    deleted = [e for e in outbox_events(engine, product["id"]) if e["type"].endswith("deleted")]
    assert len(deleted) == 1
    with engine.connect() as conn:
        actor = conn.execute(
            text("SELECT actor FROM outbox WHERE event_id = :id"), {"id": deleted[0]["id"]}
        ).scalar_one()
    assert actor["type"] == "user" and actor["name"] == accounts.editor.email
