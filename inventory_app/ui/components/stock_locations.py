"""A product's stock by location (with each location's minimum) and the transfer dialog."""

from __future__ import annotations

import reflex as rx

from inventory_app.ui import styles
from inventory_app.ui.components.fields import labeled_field, text_field
from inventory_app.ui.states.locations import LevelRow, ProductStockState
from inventory_app.ui.states.session import SessionState

STATE = ProductStockState


def options_select(input_id: str, name: str, options: rx.Var, placeholder: str) -> rx.Component:
    """A native <select> of [value, label] pairs, with an empty first choice."""
    return rx.el.select(
        rx.el.option(placeholder, value=""),
        rx.foreach(options, lambda option: rx.el.option(option[1], value=option[0])),
        id=input_id,
        name=name,
        style=styles.native_select,
    )


def _minimum_form(level: LevelRow) -> rx.Component:
    return rx.form(
        rx.flex(
            rx.el.input(type="hidden", name="location_id", value=level.location_id),
            rx.input(
                name="min_quantity",
                default_value=level.minimum,
                type="number",
                min=0,
                width="6em",
                aria_label=f"Minimum in {level.code}",
            ),
            rx.button("Set", type="submit", size="1", variant="soft", aria_label=f"Set minimum in {level.code}"),
            spacing="2",
            align="center",
        ),
        on_submit=STATE.set_minimum,
        reset_on_submit=False,
    )


def _level_row(level: LevelRow) -> rx.Component:
    return rx.table.row(
        rx.table.cell(rx.text(level.code, weight="medium")),
        rx.table.cell(level.path),
        rx.table.cell(
            rx.flex(
                rx.text(level.quantity),
                rx.cond(level.low, rx.badge("Low here", color_scheme="amber", variant="solid")),
                spacing="2",
                align="center",
            ),
            text_align="right",
        ),
        rx.table.cell(rx.cond(SessionState.can_edit, _minimum_form(level), rx.text(level.minimum))),
    )


def stock_by_location() -> rx.Component:
    return rx.flex(
        rx.flex(
            rx.heading("Stock by location", as_="h3", size="4"),
            rx.spacer(),
            rx.cond(
                SessionState.can_edit,
                rx.button("Transfer", on_click=STATE.open_transfer, variant="soft", aria_label="Transfer stock"),
            ),
            align="center",
        ),
        rx.cond(STATE.error != "", rx.callout(STATE.error, color_scheme="red", role="alert")),
        rx.cond(
            STATE.levels.length() == 0,
            rx.text("No stock in any location", color=styles.MUTED_COLOR),
            rx.box(
                rx.table.root(
                    rx.el.caption("Stock by location", style=styles.visually_hidden),
                    rx.table.header(
                        rx.table.row(
                            rx.table.column_header_cell("Location"),
                            rx.table.column_header_cell("Path"),
                            rx.table.column_header_cell("Quantity"),
                            rx.table.column_header_cell("Minimum"),
                        )
                    ),
                    rx.table.body(rx.foreach(STATE.levels, _level_row)),
                    size="1",
                    id="stock-by-location",
                ),
                style=styles.table_scroll,
            ),
        ),
        direction="column",
        spacing="2",
    )


def transfer_dialog() -> rx.Component:
    errors = STATE.transfer_errors
    form = rx.form(
        rx.flex(
            labeled_field(
                "From",
                "transfer-from",
                options_select("transfer-from", "from_location_id", STATE.sources, "Choose the source"),
                errors["from_location_id"],
            ),
            labeled_field(
                "To",
                "transfer-to",
                options_select("transfer-to", "to_location_id", STATE.destinations, "Choose the destination"),
                errors["to_location_id"],
            ),
            text_field("Quantity", "transfer-quantity", "quantity", "", errors["quantity"], type="number", min=1),
            text_field("Note", "transfer-note", "note", "", errors["note"], max_length=500),
            rx.cond(STATE.transfer_error != "", rx.callout(STATE.transfer_error, color_scheme="red", role="alert")),
            rx.cond(
                STATE.transfer_result != "", rx.callout(STATE.transfer_result, color_scheme="green", role="status")
            ),
            rx.flex(
                rx.dialog.close(rx.button("Close", type="button", variant="soft", color_scheme="gray")),
                rx.button("Move stock", type="submit"),
                spacing="3",
                justify="end",
            ),
            direction="column",
            spacing="3",
        ),
        on_submit=STATE.transfer,
        reset_on_submit=False,
        key=STATE.form_key,
    )
    return rx.dialog.root(
        rx.dialog.content(
            rx.dialog.title(f"Transfer stock: {STATE.sku}"),
            rx.dialog.description(f"Total {STATE.total}; it does not change.", size="2", margin_bottom="0.75em"),
            form,
            max_width="480px",
        ),
        open=STATE.transfer_open,
        on_open_change=STATE.set_transfer_open,
    )
