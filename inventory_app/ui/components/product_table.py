"""The products table: sortable headers, low-stock rows marked, per-row actions, empty and loading states."""

from __future__ import annotations

import reflex as rx

from inventory_app.ui import styles
from inventory_app.ui.components.pagination import pagination
from inventory_app.ui.states.product_form import AdjustStockState, DeleteProductState, ProductFormState
from inventory_app.ui.states.products import ProductRow, ProductsState
from inventory_app.ui.states.session import SessionState


def sort_header(label: str, column: str) -> rx.Component:
    active = ProductsState.sort_column == column
    arrow = rx.cond(active, rx.cond(ProductsState.sort_descending, " ↓", " ↑"), "")
    return rx.table.column_header_cell(
        rx.button(
            label,
            arrow,
            on_click=ProductsState.toggle_sort(column),
            variant="ghost",
            size="2",
            aria_label=f"Sort by {label}",
            style={"font_weight": "600", "white_space": "nowrap"},
        ),
        aria_sort=rx.cond(active, rx.cond(ProductsState.sort_descending, "descending", "ascending"), "none"),
    )


def plain_header(label: str) -> rx.Component:
    return rx.table.column_header_cell(label, style={"white_space": "nowrap"})


def low_stock_badge() -> rx.Component:
    return rx.badge("Low stock", color_scheme="amber", variant="solid", size="1")


def _action(icon: str, label: str, on_click: rx.event.EventType, **props) -> rx.Component:
    # Icon buttons keep the column narrow enough for the table to fit 1280 px without scrolling; the
    # label is the accessible name and the tooltip.
    return rx.tooltip(
        rx.icon_button(rx.icon(icon, size=15), on_click=on_click, aria_label=label, size="1", variant="soft", **props),
        content=label,
    )


def row_actions(row: ProductRow) -> rx.Component:
    return rx.flex(
        _action("pencil", f"Edit {row.sku}", ProductFormState.open_edit(row.id)),
        _action("arrow-up-down", f"Adjust stock {row.sku}", AdjustStockState.open_for(row.id, row.sku, row.quantity)),
        _action(
            "trash-2", f"Delete {row.sku}", DeleteProductState.ask(row.id, row.sku, row.version), color_scheme="red"
        ),
        spacing="2",
        wrap="nowrap",
    )


def product_row(row: ProductRow) -> rx.Component:
    return rx.table.row(
        rx.table.row_header_cell(
            rx.link(row.sku, href=f"/products/{row.id}", weight="medium"), style={"white_space": "nowrap"}
        ),
        rx.table.cell(
            rx.flex(
                rx.text(row.name), rx.cond(row.low_stock, low_stock_badge()), spacing="2", align="center", wrap="wrap"
            )
        ),
        rx.table.cell(row.category),
        rx.table.cell(row.price, text_align="right"),
        rx.table.cell(row.quantity, text_align="right"),
        rx.table.cell(row.low_stock_threshold, text_align="right"),
        rx.table.cell(row.updated, style={"white_space": "nowrap"}),
        rx.cond(SessionState.can_edit, rx.table.cell(row_actions(row))),
        background=rx.cond(row.low_stock, styles.LOW_STOCK_ROW_BACKGROUND, "transparent"),
        data_low_stock=rx.cond(row.low_stock, "true", "false"),
        data_sku=row.sku,
    )


def product_table() -> rx.Component:
    table = rx.table.root(
        rx.el.caption("Products", style=styles.visually_hidden),
        rx.table.header(
            rx.table.row(
                sort_header("SKU", "sku"),
                sort_header("Name", "name"),
                plain_header("Category"),
                sort_header("Price", "price"),
                sort_header("Quantity", "quantity"),
                plain_header("Threshold"),
                sort_header("Updated", "updated_at"),
                rx.cond(SessionState.can_edit, plain_header("Actions")),
            )
        ),
        rx.table.body(rx.foreach(ProductsState.rows, product_row)),
        variant="surface",
        size="2",
        aria_busy=ProductsState.loading,
        style={"min_width": "900px", "opacity": rx.cond(ProductsState.loading, "0.6", "1")},
    )
    return rx.flex(
        rx.flex(
            rx.text(ProductsState.count_label, weight="medium", role="status"),
            rx.cond(ProductsState.loading, rx.flex(rx.spinner(size="2"), rx.text("Loading…", size="2"), spacing="2")),
            spacing="4",
            align="center",
        ),
        rx.cond(ProductsState.load_error != "", rx.callout(ProductsState.load_error, color_scheme="red", role="alert")),
        rx.box(table, style=styles.table_scroll),
        rx.cond(
            (ProductsState.count == 0) & ~ProductsState.loading,
            rx.text("No products match", color=styles.MUTED_COLOR, padding_y="1em", text_align="center", width="100%"),
        ),
        pagination(
            ProductsState.page_label,
            ProductsState.has_previous,
            ProductsState.has_next,
            ProductsState.previous_page,
            ProductsState.next_page,
            region_label="Products pages",
        ),
        direction="column",
        spacing="3",
        width="100%",
    )
