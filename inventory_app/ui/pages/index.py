"""The home page."""

from __future__ import annotations

import reflex as rx


def index() -> rx.Component:
    return rx.container(
        rx.heading("Inventory", size="8", as_="h1"),
        rx.text("Products, stock and live notifications for the warehouse team."),
        padding_y="2em",
    )
