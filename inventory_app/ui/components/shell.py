"""The one page template: header, main container and the page's own dialogs.

Every signed-in page is built with `app_page`; the session guard (ui/session_guard.py) is what keeps
signed-out visitors out, so the template holds no access logic of its own beyond showing a notice
for pages a role may not use (the server refuses those calls anyway).
"""

from __future__ import annotations

import reflex as rx

from inventory_app.ui import styles
from inventory_app.ui.components.header import header


def app_page(*children: rx.Component, title: str = "", dialogs: tuple[rx.Component, ...] = ()) -> rx.Component:
    """`title` becomes the page's h2; pages whose heading shows data pass their own as a child."""
    heading = (rx.heading(title, as_="h2", size="5"),) if title else ()
    return rx.box(
        header(),
        rx.el.main(
            rx.flex(
                *heading,
                *children,
                direction="column",
                spacing="4",
            ),
            style=styles.page_container,
        ),
        *dialogs,
    )


def not_allowed(message: str) -> rx.Component:
    return rx.callout(message, icon="lock", color_scheme="gray", role="status")
