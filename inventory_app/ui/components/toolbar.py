"""The list controls above the products table: search, category filter, low-stock toggle and actions."""

from __future__ import annotations

import reflex as rx

from inventory_app.services.products import MIN_SEARCH_LENGTH
from inventory_app.ui import styles
from inventory_app.ui.components.csv_import import export_link
from inventory_app.ui.states.product_form import ProductFormState
from inventory_app.ui.states.products import ProductsState
from inventory_app.ui.states.session import SessionState

SEARCH_DEBOUNCE_MS = 300


def product_toolbar() -> rx.Component:
    return rx.flex(
        rx.flex(
            rx.debounce_input(
                rx.input(
                    rx.input.slot(rx.icon("search", size=16)),
                    value=ProductsState.search,
                    on_change=ProductsState.set_search,
                    placeholder="Search SKU, name or description",
                    aria_label="Search products",
                    type="search",
                    width=["100%", "100%", "300px"],
                ),
                debounce_timeout=SEARCH_DEBOUNCE_MS,
            ),
            rx.cond(
                ProductsState.search_too_short,
                rx.text(f"Type at least {MIN_SEARCH_LENGTH} characters to search.", size="1", role="status"),
            ),
            direction="column",
            spacing="1",
        ),
        rx.flex(
            rx.el.label("Category", html_for="category-filter", style={"font_size": "0.9em"}),
            rx.el.select(
                rx.el.option("All", value=""),
                rx.foreach(ProductsState.categories, lambda c: rx.el.option(c, value=c)),
                id="category-filter",
                value=ProductsState.category,
                on_change=ProductsState.set_category,
                style=styles.native_select,
            ),
            spacing="2",
            align="center",
        ),
        rx.flex(
            rx.el.label("Location", html_for="location-filter", style={"font_size": "0.9em"}),
            rx.el.select(
                rx.el.option("All locations", value=""),
                rx.foreach(ProductsState.locations, lambda loc: rx.el.option(loc[1], value=loc[0])),
                id="location-filter",
                value=ProductsState.location_id,
                on_change=ProductsState.set_location,
                # Options read "CODE — path": a deep tree must not widen the toolbar past the page.
                style={**styles.native_select, "max_width": "16em", "text_overflow": "ellipsis"},
            ),
            spacing="2",
            align="center",
        ),
        rx.flex(
            rx.switch(
                id="low-stock-only",
                checked=ProductsState.low_stock_only,
                on_change=ProductsState.set_low_stock_only,
                aria_label="Low stock only",
            ),
            rx.el.label("Low stock only", html_for="low-stock-only", style={"font_size": "0.9em"}),
            spacing="2",
            align="center",
        ),
        rx.spacer(),
        rx.flex(
            export_link(),
            rx.cond(
                SessionState.can_edit,
                rx.button(rx.icon("plus", size=16), "New product", on_click=ProductFormState.open_create),
            ),
            spacing="2",
            wrap="wrap",
        ),
        spacing="3",
        align="center",
        wrap="wrap",
        width="100%",
    )
