"""One product: its fields, the stock movement ledger and the event history."""

from __future__ import annotations

import reflex as rx

from inventory_app.ui import styles
from inventory_app.ui.components.dialogs import adjust_stock_dialog, product_form_dialog
from inventory_app.ui.components.pagination import pagination
from inventory_app.ui.components.shell import app_page
from inventory_app.ui.components.stock_locations import stock_by_location, transfer_dialog
from inventory_app.ui.states.product_detail import EventRow, MovementRow, ProductDetailState
from inventory_app.ui.states.product_form import AdjustStockState, ProductFormState
from inventory_app.ui.states.session import SessionState

STATE = ProductDetailState


def _fact(label: str, value: rx.Var | str) -> rx.Component:
    return rx.data_list.item(rx.data_list.label(label), rx.data_list.value(value))


def product_facts() -> rx.Component:
    product = STATE.product
    return rx.data_list.root(
        _fact("SKU", product.sku),
        _fact("Category", rx.cond(product.category != "", product.category, "—")),
        _fact("Description", rx.cond(product.description != "", product.description, "—")),
        _fact("Price", product.price),
        _fact(
            "Quantity",
            rx.flex(
                rx.text(product.quantity),
                rx.cond(product.low_stock, rx.badge("Low stock", color_scheme="amber", variant="solid")),
                spacing="2",
                align="center",
            ),
        ),
        _fact("Low-stock threshold", product.low_stock_threshold),
        _fact("Version", product.version),
        _fact("Created", STATE.created),
        _fact("Updated", product.updated),
        orientation=rx.breakpoints(initial="vertical", sm="horizontal"),
    )


def _movement_row(movement: MovementRow) -> rx.Component:
    return rx.table.row(
        rx.table.cell(movement.when, style={"white_space": "nowrap"}),
        rx.table.cell(movement.delta, text_align="right"),
        rx.table.cell(movement.reason),
        rx.table.cell(movement.location),
        rx.table.cell(movement.note),
        rx.table.cell(movement.quantity_after, text_align="right"),
        rx.table.cell(movement.actor),
    )


def movement_ledger() -> rx.Component:
    return rx.flex(
        rx.heading("Stock movements", as_="h3", size="4"),
        rx.cond(
            STATE.movements_count == 0,
            rx.text("No stock movements yet.", color=styles.MUTED_COLOR),
            rx.flex(
                rx.box(
                    rx.table.root(
                        rx.el.caption("Stock movements", style=styles.visually_hidden),
                        rx.table.header(
                            rx.table.row(
                                rx.table.column_header_cell("When"),
                                rx.table.column_header_cell("Delta"),
                                rx.table.column_header_cell("Reason"),
                                rx.table.column_header_cell("Location"),
                                rx.table.column_header_cell("Note"),
                                rx.table.column_header_cell("Quantity after"),
                                rx.table.column_header_cell("By"),
                            )
                        ),
                        rx.table.body(rx.foreach(STATE.movements, _movement_row)),
                        size="1",
                        style={"min_width": "600px"},
                    ),
                    style=styles.table_scroll,
                ),
                pagination(
                    STATE.movements_page_label,
                    STATE.movements_page > 0,
                    STATE.movements_page + 1 < STATE.movements_page_count,
                    STATE.previous_movements,
                    STATE.next_movements,
                    region_label="Stock movement pages",
                ),
                direction="column",
                spacing="2",
            ),
        ),
        direction="column",
        spacing="2",
    )


def _event_row(event: EventRow) -> rx.Component:
    return rx.table.row(
        rx.table.cell(event.when, style={"white_space": "nowrap"}),
        rx.table.cell(event.type),
        rx.table.cell(event.actor),
        rx.table.cell(rx.code(event.id, size="1")),
    )


def incomplete_history_callout() -> rx.Component:
    """Said instead of (or above) a short list, so a gap in the log is never read as "nothing happened"."""
    return rx.callout(
        rx.text(
            "Event history is incomplete: ",
            STATE.history_gap,
            " in the log. Rebuild it with ",
            rx.code("python -m backend_workers.notifier --rebuild"),
            ".",
        ),
        color_scheme="amber",
        role="status",
        size="1",
    )


def history_unavailable_callout() -> rx.Component:
    """Said when the event log could not be read, so a slow log is never shown as "No events yet"."""
    return rx.callout(
        rx.flex(
            rx.text(STATE.events_error),
            rx.button("Try again", on_click=STATE.load_events, size="1", variant="soft"),
            spacing="3",
            align="center",
            wrap="wrap",
        ),
        color_scheme="amber",
        role="status",
        size="1",
    )


def event_history() -> rx.Component:
    return rx.flex(
        rx.heading("Event history", as_="h3", size="4"),
        rx.cond(STATE.history_gap != "", incomplete_history_callout()),
        rx.cond((STATE.events_error != "") & ~STATE.events_loading, history_unavailable_callout()),
        rx.cond(
            STATE.events_loading,
            rx.flex(rx.spinner(size="2"), rx.text("Loading events…", size="2"), spacing="2"),
            rx.cond(
                STATE.events.length() == 0,
                rx.cond(
                    (STATE.history_gap == "") & (STATE.events_error == ""),
                    rx.text("No events yet", color=styles.MUTED_COLOR),
                ),
                rx.box(
                    rx.table.root(
                        rx.el.caption("Event history", style=styles.visually_hidden),
                        rx.table.header(
                            rx.table.row(
                                rx.table.column_header_cell("When"),
                                rx.table.column_header_cell("Type"),
                                rx.table.column_header_cell("By"),
                                rx.table.column_header_cell("Event id"),
                            )
                        ),
                        rx.table.body(rx.foreach(STATE.events, _event_row)),
                        size="1",
                    ),
                    style=styles.table_scroll,
                ),
            ),
        ),
        direction="column",
        spacing="2",
    )


def product_detail_body() -> rx.Component:
    product = STATE.product
    return rx.flex(
        rx.flex(
            rx.heading(product.name, as_="h2", size="5"),
            rx.spacer(),
            rx.cond(
                SessionState.can_edit,
                rx.flex(
                    rx.button(
                        "Edit", on_click=ProductFormState.open_edit(product.id), aria_label=f"Edit {product.sku}"
                    ),
                    rx.button(
                        "Adjust stock",
                        on_click=AdjustStockState.open_for(product.id, product.sku, product.quantity),
                        aria_label=f"Adjust stock {product.sku}",
                        variant="soft",
                    ),
                    spacing="3",
                ),
            ),
            spacing="3",
            align="center",
            wrap="wrap",
        ),
        product_facts(),
        stock_by_location(),
        movement_ledger(),
        event_history(),
        direction="column",
        spacing="5",
    )


def product_detail_page() -> rx.Component:
    return app_page(
        rx.link("← All products", href="/", size="2"),
        rx.cond(
            STATE.loading,
            rx.flex(rx.spinner(size="3"), rx.text("Loading…"), spacing="2", align="center"),
            rx.cond(
                STATE.found,
                product_detail_body(),
                rx.flex(
                    rx.callout(STATE.not_found_message, color_scheme="red", role="alert"),
                    # A deleted product keeps its ledger and event history (the deletion and who made it).
                    rx.cond(
                        (STATE.movements_count > 0) | (STATE.events.length() > 0),
                        rx.flex(movement_ledger(), event_history(), direction="column", spacing="5"),
                    ),
                    direction="column",
                    spacing="4",
                ),
            ),
        ),
        dialogs=(product_form_dialog(), adjust_stock_dialog(), transfer_dialog()),
    )
