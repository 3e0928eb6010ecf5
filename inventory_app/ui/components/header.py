"""The app header: title (the page's h1), navigation and a slot for the notification bell."""

from __future__ import annotations

import reflex as rx

from inventory_app.ui import styles
from inventory_app.ui.components.notifications import notification_center


def notification_slot() -> rx.Component:
    """The live notification centre (bell, panel, toasts, connection indicator)."""
    return notification_center()


def nav_link(label: str, href: str) -> rx.Component:
    return rx.link(label, href=href, size="3", weight="medium", underline="hover")


def header() -> rx.Component:
    return rx.el.header(
        rx.flex(
            rx.heading("Inventory", as_="h1", size="6"),
            rx.el.nav(
                rx.flex(nav_link("Products", "/"), nav_link("Analytics", "/analytics"), spacing="4", align="center"),
                aria_label="Main",
            ),
            rx.spacer(),
            notification_slot(),
            align="center",
            spacing="5",
            wrap="wrap",
            max_width=styles.PAGE_MAX_WIDTH,
            margin_x="auto",
        ),
        style=styles.header_bar,
    )
