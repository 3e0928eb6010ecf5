"""The products list: one server-side page at a time, filtered, searched and sorted by the service."""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass
from typing import Any

import reflex as rx

from inventory_app.domain.errors import DomainError
from inventory_app.services import locations, products
from inventory_app.services.products import MIN_SEARCH_LENGTH, ProductQuery
from inventory_app.ui.states.feedback import short_time

PAGE_SIZE = 20


@dataclass
class ProductRow:
    """One product as the UI shows it (price stays a string: money never becomes a float)."""

    id: str = ""
    sku: str = ""
    name: str = ""
    description: str = ""
    category: str = ""
    price: str = ""
    quantity: int = 0
    low_stock_threshold: int = 0
    low_stock: bool = False
    version: int = 0
    updated: str = ""


def row_from_public(product: dict[str, Any]) -> ProductRow:
    return ProductRow(
        id=product["id"],
        sku=product["sku"],
        name=product["name"],
        description=product["description"],
        category=product["category"],
        price=product["price"],
        quantity=product["quantity"],
        low_stock_threshold=product["low_stock_threshold"],
        low_stock=product["low_stock"],
        version=product["version"],
        updated=short_time(product["updated_at"]),
    )


class ProductsState(rx.State):
    """Holds only the visible page plus the query that produced it."""

    rows: list[ProductRow] = []
    count: int = 0
    count_estimated: bool = False
    page: int = 0
    search: str = ""
    category: str = ""
    low_stock_only: bool = False
    sort: str = "name"
    categories: list[str] = []
    location_id: str = ""  # stock in this location or under it; "" for all
    locations: list[list[str]] = []  # [id, "CODE — path"] for the filter
    # True until the first page arrives, so the empty state never flashes on page load.
    loading: bool = True
    load_error: str = ""

    @rx.var
    def page_count(self) -> int:
        return max(1, math.ceil(self.count / PAGE_SIZE))

    @rx.var
    def page_label(self) -> str:
        return f"Page {self.page + 1} of {self.page_count}"

    @rx.var
    def count_label(self) -> str:
        if self.count_estimated:
            return f"about {self.count:,} products"
        return "1 product" if self.count == 1 else f"{self.count} products"

    @rx.var
    def search_too_short(self) -> bool:
        return 0 < len(self.search.strip()) < MIN_SEARCH_LENGTH

    @rx.var
    def has_previous(self) -> bool:
        return self.page > 0

    @rx.var
    def has_next(self) -> bool:
        return self.page + 1 < self.page_count

    @rx.var
    def sort_column(self) -> str:
        return self.sort.lstrip("-")

    @rx.var
    def sort_descending(self) -> bool:
        return self.sort.startswith("-")

    def _query(self) -> ProductQuery:
        return ProductQuery(
            # A search too short for the index is not sent (the page says so); the list stays as it was.
            q=self.search.strip() if len(self.search.strip()) >= MIN_SEARCH_LENGTH else None,
            category=self.category or None,
            low_stock=True if self.low_stock_only else None,
            location_id=uuid.UUID(self.location_id) if self.location_id else None,
            sort=self.sort,
            limit=PAGE_SIZE,
            offset=self.page * PAGE_SIZE,
        )

    async def _fetch(self) -> None:
        try:
            result = await products.list_products(self._query())
            # A delete or a narrower filter can leave us past the last page: step back to the last one.
            if not result["data"] and self.page > 0 and result["count"] > 0:
                self.page = max(0, math.ceil(result["count"] / PAGE_SIZE) - 1)
                result = await products.list_products(self._query())
            self.rows = [row_from_public(p) for p in result["data"]]
            self.count = result["count"]
            self.count_estimated = result["count_estimated"]
            self.load_error = ""
        except DomainError as error:
            self.load_error = error.detail

    @rx.event
    async def load_page(self):
        """on_load: categories for the filter, then the first page."""
        self.loading = True
        yield
        self.categories = await products.list_categories()
        self.locations = [[v["id"], f"{v['code']} — {v['path']}"] for v in (await locations.list_locations())["data"]]
        await self._fetch()
        self.loading = False

    @rx.event
    async def refresh(self):
        self.loading = True
        yield
        await self._fetch()
        self.loading = False

    @rx.event
    async def refresh_with_categories(self):
        self.categories = await products.list_categories()
        await self._fetch()

    @rx.event
    async def set_search(self, value: str):
        self.search = value
        if self.search_too_short:
            return None  # keep the current page until the search can use the index
        self.page = 0
        return ProductsState.refresh

    @rx.event
    async def set_location(self, value: str):
        self.location_id = value
        self.page = 0
        return ProductsState.refresh

    @rx.event
    async def set_category(self, value: str):
        self.category = value
        self.page = 0
        return ProductsState.refresh

    @rx.event
    async def set_low_stock_only(self, value: bool):
        self.low_stock_only = value
        self.page = 0
        return ProductsState.refresh

    @rx.event
    async def toggle_sort(self, column: str):
        # A new column starts ascending; clicking the same column again flips the direction.
        self.sort = f"-{column}" if self.sort == column else column
        self.page = 0
        return ProductsState.refresh

    @rx.event
    async def previous_page(self):
        if self.page > 0:
            self.page -= 1
        return ProductsState.refresh

    @rx.event
    async def next_page(self):
        if self.page + 1 < self.page_count:
            self.page += 1
        return ProductsState.refresh
