"""One product's page: its fields, its paginated stock ledger and its event history."""

from __future__ import annotations

import asyncio
import math
from dataclasses import dataclass
from typing import Any

import reflex as rx

from inventory_app.domain.errors import DomainError
from inventory_app.services import event_history, products
from inventory_app.ui.states.feedback import short_time
from inventory_app.ui.states.products import ProductRow, row_from_public

MOVEMENTS_PAGE_SIZE = 20
EVENTS_LIMIT = 50
EVENTS_TIMEOUT_S = 5.0
HISTORY_UNAVAILABLE = "The event history could not be read just now (the event log is slow or down)."


@dataclass
class MovementRow:
    when: str = ""
    delta: str = ""
    reason: str = ""
    note: str = ""
    quantity_after: int = 0
    actor: str = ""
    location: str = ""  # the location's code; "CODE (transfer)" for a row of a transfer


@dataclass
class EventRow:
    when: str = ""
    type: str = ""
    id: str = ""
    actor: str = ""


def _event_row(event: dict[str, Any]) -> EventRow:
    return EventRow(
        when=short_time(str(event.get("time") or event.get("occurred_at") or "")),
        type=str(event.get("type", "")),
        id=str(event.get("id", "")),
        # Events published before attribution existed carry none (schemas/CHANGELOG.md).
        actor=str(event.get("actor") or "unknown"),
    )


def actor_name(actor: object) -> str:
    """Who made a ledger row: the actor's display name; rows from before sign-in existed have none."""
    return str(actor.get("name") or "unknown") if isinstance(actor, dict) else "unknown"


async def load_product_events_page(product_id: str) -> dict[str, Any] | None:
    """The product's event-log page (`data`, `completeness`), from the same service as the events API;
    None when the log could not be read. (Not over HTTP: that would need credentials of its own.)"""
    try:
        page = await asyncio.wait_for(event_history.product_events(product_id, EVENTS_LIMIT), EVENTS_TIMEOUT_S)
    except Exception:  # noqa: BLE001 - the page shows the product, and says its history is unavailable
        return None
    return page if isinstance(page, dict) else {"data": page}


def events_of(page: dict[str, Any]) -> list[dict[str, Any]]:
    items = page.get("data", [])
    return [item for item in items if isinstance(item, dict)][:EVENTS_LIMIT] if isinstance(items, list) else []


def history_gap(page: dict[str, Any]) -> str:
    """'N of M versions' when the log misses some of the product's versions (domain.history), else ''."""
    completeness = page.get("completeness")
    if not isinstance(completeness, dict) or completeness.get("complete", True):
        return ""
    return f"{completeness.get('versions_in_log', 0)} of {completeness.get('current_version', 0)} versions"


class ProductDetailState(rx.State):
    product_id: str = ""
    product: ProductRow = ProductRow()
    created: str = ""
    found: bool = False
    not_found_message: str = ""
    movements: list[MovementRow] = []
    movements_count: int = 0
    movements_page: int = 0
    events: list[EventRow] = []
    events_loading: bool = False
    # Set when the event log could not be read: the page says so (and offers a retry) instead of "No events yet".
    events_error: str = ""
    # "N of M versions" when the event log misses some of this product's events; "" when it is whole.
    history_gap: str = ""
    loading: bool = False

    @rx.var
    def movements_page_count(self) -> int:
        return max(1, math.ceil(self.movements_count / MOVEMENTS_PAGE_SIZE))

    @rx.var
    def movements_page_label(self) -> str:
        return f"Page {self.movements_page + 1} of {self.movements_page_count}"

    def _id_from_url(self) -> str:
        # The route is /products/[id]: the last path segment is the product id.
        return self.router.url.path.rstrip("/").rsplit("/", 1)[-1]

    async def _fetch_product(self) -> None:
        try:
            public = await products.get_product(self.product_id)
        except DomainError as error:
            self.found = False
            self.not_found_message = error.detail
            return
        self.product = row_from_public(public)
        self.created = short_time(public["created_at"])
        self.found = True
        self.not_found_message = ""

    async def _fetch_movements(self) -> None:
        try:
            page = await products.list_movements(
                self.product_id,
                limit=MOVEMENTS_PAGE_SIZE,
                offset=self.movements_page * MOVEMENTS_PAGE_SIZE,
            )
        except DomainError:
            self.movements, self.movements_count = [], 0
            return
        self.movements = [
            MovementRow(
                when=short_time(m["created_at"]),
                delta=f"{m['delta']:+d}",
                reason=m["reason"],
                note=m["note"] or "",
                quantity_after=m["quantity_after"],
                actor=actor_name(m.get("actor")),
                location=(m.get("location_code") or "") + (" (transfer)" if m.get("transfer_id") else ""),
            )
            for m in page["data"]
        ]
        self.movements_count = page["count"]

    @rx.event
    async def load_page(self):
        """on_load: the product and its ledger first, then the (slower, optional) event history."""
        self.product_id = self._id_from_url()
        self.movements_page = 0
        self.events = []
        self.history_gap = ""
        self.loading = True
        yield
        await self._fetch_product()
        await self._fetch_movements()  # a deleted product's ledger too: it says who did what before
        self.loading = False
        from inventory_app.ui.states.locations import ProductStockState  # it imports this module

        yield ProductStockState.load_for(self.product_id)
        yield ProductDetailState.load_events

    @rx.event
    async def load_events(self):
        if not self.product_id:
            return
        self.events_loading = True
        yield
        page = await load_product_events_page(self.product_id)
        self.events_error = HISTORY_UNAVAILABLE if page is None else ""
        self.events = [_event_row(e) for e in events_of(page or {})]
        self.history_gap = history_gap(page or {})
        self.events_loading = False

    @rx.event
    async def refresh(self):
        """After a change made elsewhere on the page; a no-op when no product page is showing."""
        if not self.product_id or not self.found:
            return
        await self._fetch_product()
        if self.found:
            await self._fetch_movements()

    @rx.event
    async def previous_movements(self):
        if self.movements_page > 0:
            self.movements_page -= 1
            await self._fetch_movements()

    @rx.event
    async def next_movements(self):
        if self.movements_page + 1 < self.movements_page_count:
            self.movements_page += 1
            await self._fetch_movements()
