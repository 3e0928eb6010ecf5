"""The locations page: the tree for everyone; admins create, deactivate, reactivate and delete."""

from __future__ import annotations

import reflex as rx

from inventory_app.ui import styles
from inventory_app.ui.components.fields import labeled_field, text_field
from inventory_app.ui.components.shell import app_page
from inventory_app.ui.components.stock_locations import options_select
from inventory_app.ui.states.locations import LocationRow, LocationsState
from inventory_app.ui.states.session import SessionState

STATE = LocationsState


def _actions(row: LocationRow) -> rx.Component:
    return rx.cond(
        SessionState.is_admin & ~row.is_default,
        rx.flex(
            rx.cond(
                row.active,
                rx.button("Deactivate", size="1", variant="soft", on_click=STATE.set_active(row.id, False),
                          aria_label=f"Deactivate {row.code}"),
                rx.button("Reactivate", size="1", variant="soft", on_click=STATE.set_active(row.id, True),
                          aria_label=f"Reactivate {row.code}"),
            ),
            rx.button("Delete", size="1", variant="soft", color_scheme="red", on_click=STATE.delete(row.id),
                      aria_label=f"Delete {row.code}"),
            spacing="2",
        ),
    )  # fmt: skip


def _row(row: LocationRow) -> rx.Component:
    return rx.table.row(
        rx.table.cell(rx.text(row.code, weight="medium", padding_left=row.indent)),
        rx.table.cell(row.name),
        rx.table.cell(row.path),
        rx.table.cell(
            rx.flex(
                rx.cond(row.is_default, rx.badge("Default")),
                rx.cond(
                    row.active, rx.badge("Active", color_scheme="green"), rx.badge("Inactive", color_scheme="gray")
                ),
                spacing="2",
            )
        ),
        rx.table.cell(_actions(row)),
    )


def create_form() -> rx.Component:
    errors = STATE.field_errors
    return rx.form(
        rx.flex(
            text_field("Code", "location-code", "code", "", errors["code"], required=True, max_length=64),
            text_field("Name", "location-name", "name", "", errors["name"], required=True, max_length=200),
            labeled_field(
                "Inside",
                "location-parent",
                options_select("location-parent", "parent_id", STATE.parent_options, "(top level)"),
                errors["parent_id"],
            ),
            rx.button("Add location", type="submit"),
            spacing="3",
            align="end",
            wrap="wrap",
        ),
        rx.cond(STATE.form_error != "", rx.text(STATE.form_error, style=styles.field_error, role="alert")),
        on_submit=STATE.create,
        reset_on_submit=False,
        key=STATE.form_key,
    )


def locations_page() -> rx.Component:
    return app_page(
        rx.heading("Locations", as_="h2", size="5"),
        rx.text("Where stock is kept: warehouses, zones and shelves.", color=styles.MUTED_COLOR),
        rx.cond(SessionState.is_admin, create_form()),
        rx.cond(STATE.row_error != "", rx.callout(STATE.row_error, color_scheme="red", role="alert")),
        rx.box(
            rx.table.root(
                rx.el.caption("Locations", style=styles.visually_hidden),
                rx.table.header(
                    rx.table.row(
                        rx.table.column_header_cell("Code"),
                        rx.table.column_header_cell("Name"),
                        rx.table.column_header_cell("Path"),
                        rx.table.column_header_cell("State"),
                        rx.table.column_header_cell(""),
                    )
                ),
                rx.table.body(rx.foreach(STATE.rows, _row)),
                size="2",
                id="locations-table",
            ),
            style=styles.table_scroll,
        ),
    )
