"""The app header: title, navigation for the user's role, the notification bell and the user menu."""

from __future__ import annotations

import reflex as rx

from inventory_app.ui import styles
from inventory_app.ui.components.notifications import notification_center
from inventory_app.ui.states.session import SessionState


def nav_link(label: str, href: str) -> rx.Component:
    return rx.link(label, href=href, size="3", weight="medium", underline="hover")


def user_menu() -> rx.Component:
    """Who is signed in (and as what), with their account page and sign-out."""
    return rx.menu.root(
        rx.menu.trigger(
            rx.button(
                rx.icon("circle-user", size=16),
                rx.text(SessionState.user_label, as_="span"),
                rx.badge(SessionState.role, variant="soft", aria_label="Your role"),
                variant="ghost",
                aria_label="Account menu",
            ),
        ),
        rx.menu.content(
            rx.menu.item(
                rx.link("My API tokens and password", href="/account", underline="none"), text_value="account"
            ),
            rx.menu.separator(),
            rx.menu.item("Sign out", on_select=SessionState.sign_out),
            rx.menu.item("Sign out everywhere", on_select=SessionState.sign_out_everywhere),
        ),
    )


def header() -> rx.Component:
    return rx.el.header(
        rx.flex(
            rx.heading("Inventory", as_="h1", size="6"),
            rx.el.nav(
                rx.flex(
                    nav_link("Products", "/"),
                    nav_link("Locations", "/locations"),
                    nav_link("Analytics", "/analytics"),
                    rx.cond(SessionState.is_admin, nav_link("Admin", "/admin")),
                    spacing="4",
                    align="center",
                ),
                aria_label="Main",
            ),
            rx.spacer(),
            notification_center(),
            user_menu(),
            align="center",
            spacing="5",
            wrap="wrap",
            max_width=styles.PAGE_MAX_WIDTH,
            margin_x="auto",
        ),
        style=styles.header_bar,
    )
