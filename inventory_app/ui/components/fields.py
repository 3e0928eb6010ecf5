"""Form building blocks: a visible label tied to its input, with the field's error right under it."""

from __future__ import annotations

from typing import Any

import reflex as rx

from inventory_app.ui import styles


def field_error(message: rx.Var[str], input_id: str) -> rx.Component:
    return rx.cond(
        message != "",
        rx.text(message, id=f"{input_id}-error", role="alert", style=styles.field_error),
    )


def labeled_field(label: str, input_id: str, control: rx.Component, error: rx.Var[str] | None = None) -> rx.Component:
    return rx.flex(
        rx.el.label(label, html_for=input_id, style={"font_weight": "500", "font_size": "0.9em"}),
        control,
        field_error(error, input_id) if error is not None else rx.fragment(),
        direction="column",
        spacing="1",
        width="100%",
    )


def text_field(
    label: str, input_id: str, name: str, default_value: Any, error: rx.Var[str] | None = None, **props: Any
) -> rx.Component:
    control = rx.input(
        id=input_id,
        name=name,
        default_value=default_value,
        aria_invalid=rx.cond(error != "", "true", "false") if error is not None else None,
        aria_describedby=f"{input_id}-error" if error is not None else None,
        width="100%",
        **props,
    )
    return labeled_field(label, input_id, control, error)


def native_select(
    input_id: str, options: list[tuple[str, str]] | rx.Var, *, name: str | None = None, **props: Any
) -> rx.Component:
    """A plain <select>: labelled by <label for>, keyboard friendly, and simple to drive in browser tests."""
    if isinstance(options, list):
        children = [rx.el.option(text, value=value) for value, text in options]
    else:
        children = [rx.foreach(options, lambda option: rx.el.option(option, value=option))]
    return rx.el.select(*children, id=input_id, name=name, style=styles.native_select, **props)


def inline_form(
    *fields: rx.Component, submit: str, error: rx.Var[str], on_submit: Any, key: rx.Var[int] | None = None
) -> rx.Component:
    """Fields side by side with their submit button, and the form-level error under them."""
    return rx.form(
        rx.flex(*fields, rx.button(submit, type="submit"), spacing="3", align="end", wrap="wrap"),
        rx.cond(error != "", rx.text(error, style=styles.field_error, role="alert")),
        key=key,
        on_submit=on_submit,
        reset_on_submit=False,
    )
