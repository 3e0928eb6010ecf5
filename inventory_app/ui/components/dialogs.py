"""The product dialogs: create/edit (one form), delete confirmation and stock adjustment."""

from __future__ import annotations

import reflex as rx

from inventory_app.domain.model import ADJUSTMENT_REASONS
from inventory_app.ui.components.fields import labeled_field, native_select, text_field
from inventory_app.ui.components.stock_locations import options_select
from inventory_app.ui.states.product_form import (
    CONFLICT_MESSAGE,
    AdjustStockState,
    DeleteProductState,
    ProductFormState,
)

FORM = ProductFormState


def _conflict_notice() -> rx.Component:
    return rx.callout.root(
        rx.flex(
            rx.callout.text(CONFLICT_MESSAGE),
            rx.button("Reload", type="button", on_click=FORM.reload_latest, size="1", variant="solid"),
            spacing="3",
            align="center",
            wrap="wrap",
        ),
        color_scheme="amber",
        role="alert",
    )


def product_form_dialog() -> rx.Component:
    errors = FORM.field_errors
    form = rx.form(
        rx.flex(
            text_field("SKU", "product-sku", "sku", FORM.values["sku"], errors["sku"], required=True, max_length=64),
            text_field("Name", "product-name", "name", FORM.values["name"], errors["name"], required=True),
            labeled_field(
                "Description",
                "product-description",
                rx.text_area(
                    id="product-description", name="description", default_value=FORM.values["description"], rows="3"
                ),
                errors["description"],
            ),
            text_field("Category", "product-category", "category", FORM.values["category"], errors["category"]),
            rx.flex(
                text_field(
                    "Price", "product-price", "price", FORM.values["price"], errors["price"], input_mode="decimal"
                ),
                rx.cond(
                    FORM.is_edit,
                    rx.fragment(),
                    text_field(
                        "Quantity",
                        "product-quantity",
                        "quantity",
                        FORM.values["quantity"],
                        errors["quantity"],
                        type="number",
                        min=0,
                        step=1,
                    ),
                ),
                text_field(
                    "Low-stock threshold",
                    "product-threshold",
                    "low_stock_threshold",
                    FORM.values["low_stock_threshold"],
                    errors["low_stock_threshold"],
                    type="number",
                    min=0,
                    step=1,
                ),
                spacing="3",
                direction=rx.breakpoints(initial="column", sm="row"),
            ),
            rx.cond(FORM.conflict, _conflict_notice()),
            rx.cond(
                (FORM.form_error != "") & ~FORM.conflict,
                rx.callout(FORM.form_error, color_scheme="red", role="alert"),
            ),
            rx.flex(
                rx.dialog.close(rx.button("Cancel", type="button", variant="soft", color_scheme="gray")),
                rx.button("Save", type="submit", loading=FORM.saving),
                spacing="3",
                justify="end",
            ),
            direction="column",
            spacing="3",
        ),
        on_submit=FORM.submit,
        reset_on_submit=False,
        key=FORM.form_key,
    )
    return rx.dialog.root(
        rx.dialog.content(
            rx.dialog.title(rx.cond(FORM.is_edit, "Edit product", "New product")),
            rx.dialog.description(
                rx.cond(FORM.is_edit, "Change the product's details.", "Add a product to the catalogue."),
                size="2",
                margin_bottom="0.75em",
            ),
            form,
            max_width="560px",
        ),
        open=FORM.is_open,
        on_open_change=FORM.set_is_open,
    )


def delete_dialog() -> rx.Component:
    state = DeleteProductState
    return rx.alert_dialog.root(
        rx.alert_dialog.content(
            rx.alert_dialog.title("Delete product"),
            rx.alert_dialog.description(f"Delete {state.sku}? This cannot be undone.", size="2"),
            rx.cond(state.error != "", rx.callout(state.error, color_scheme="red", role="alert", margin_top="0.75em")),
            rx.flex(
                rx.alert_dialog.cancel(rx.button("Cancel", variant="soft", color_scheme="gray")),
                rx.button("Delete product", color_scheme="red", on_click=state.confirm, loading=state.deleting),
                spacing="3",
                justify="end",
                margin_top="1em",
            ),
            max_width="440px",
        ),
        open=state.is_open,
        on_open_change=state.set_is_open,
    )


def adjust_stock_dialog() -> rx.Component:
    state = AdjustStockState
    form = rx.form(
        rx.flex(
            text_field(
                "Delta", "adjust-delta", "delta", "", state.field_errors["delta"], type="number", step=1, required=True
            ),
            labeled_field(
                "Reason",
                "adjust-reason",
                native_select("adjust-reason", [(r, r) for r in ADJUSTMENT_REASONS], name="reason"),
                state.field_errors["reason"],
            ),
            text_field("Note", "adjust-note", "note", "", state.field_errors["note"], max_length=500),
            labeled_field(
                "Location",
                "adjust-location",
                options_select("adjust-location", "location_id", state.locations, "Default (decreases: default first)"),
                state.field_errors["location_id"],
            ),
            rx.cond(state.form_error != "", rx.callout(state.form_error, color_scheme="red", role="alert")),
            rx.cond(
                state.result != "",
                rx.callout(state.result, color_scheme="green", role="status"),
            ),
            rx.flex(
                rx.dialog.close(rx.button("Close", type="button", variant="soft", color_scheme="gray")),
                rx.button("Apply", type="submit", loading=state.saving),
                spacing="3",
                justify="end",
            ),
            direction="column",
            spacing="3",
        ),
        on_submit=state.submit,
        reset_on_submit=False,
        key=state.form_key,
    )
    return rx.dialog.root(
        rx.dialog.content(
            rx.dialog.title(f"Adjust stock: {state.sku}"),
            rx.dialog.description(f"Current quantity: {state.quantity}", size="2", margin_bottom="0.75em"),
            form,
            max_width="440px",
        ),
        open=state.is_open,
        on_open_change=state.set_is_open,
    )
