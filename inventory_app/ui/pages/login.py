"""The sign-in page (/login): a plain HTML form posted to the API, so the password never enters UI state."""

from __future__ import annotations

import reflex as rx
from reflex_components_core.el.elements.base import BaseHTML

from inventory_app.ui import styles
from inventory_app.ui.states.login import LoginState


class NativeForm(BaseHTML):
    """A plain <form> the browser submits itself (Reflex's form always calls preventDefault)."""

    tag = "form"
    action: rx.Var[str]
    method: rx.Var[str]


def _field(label: str, name: str, kind: str, autocomplete: str) -> rx.Component:
    return rx.flex(
        rx.el.label(label, html_for=f"signin-{name}", style={"font_weight": "500", "font_size": "0.9em"}),
        rx.input(id=f"signin-{name}", name=name, type=kind, required=True, auto_complete=autocomplete, size="3"),
        direction="column",
        spacing="1",
        width="100%",
    )


def login_page() -> rx.Component:
    return rx.center(
        rx.card(
            NativeForm.create(
                rx.flex(
                    rx.heading("Inventory", as_="h1", size="6"),
                    rx.heading("Sign in", as_="h2", size="4", weight="medium"),
                    rx.cond(
                        LoginState.error != "",
                        rx.callout(LoginState.error, icon="triangle-alert", color_scheme="red", role="alert"),
                    ),
                    _field("Email", "email", "email", "username"),
                    _field("Password", "password", "password", "current-password"),
                    rx.el.input(type="hidden", name="next", value=LoginState.next_path),
                    rx.button("Sign in", type="submit", size="3", width="100%"),
                    rx.text(
                        "No account? Ask an admin of this inventory to create one for you.",
                        size="1",
                        color=styles.MUTED_COLOR,
                    ),
                    direction="column",
                    spacing="4",
                ),
                # A native POST: the API sets the HttpOnly session cookie and redirects to `next`.
                action="/api/auth/session",
                method="post",
            ),
            size="4",
            width="100%",
            max_width="400px",
        ),
        min_height="100vh",
        padding="1em",
        background="var(--gray-2)",
    )
