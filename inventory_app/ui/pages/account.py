"""The user's own account (/account): personal API tokens and the password."""

from __future__ import annotations

import reflex as rx

from inventory_app.ui import styles
from inventory_app.ui.components.fields import inline_form, text_field
from inventory_app.ui.components.shell import app_page
from inventory_app.ui.states.account import AccountState, TokenRow
from inventory_app.ui.states.session import SessionState

STATE = AccountState


def _token_row(token: TokenRow) -> rx.Component:
    return rx.table.row(
        rx.table.row_header_cell(token.name),
        rx.table.cell(rx.code(token.prefix + "…", size="1")),
        rx.table.cell(token.created, style={"white_space": "nowrap"}),
        rx.table.cell(token.expires, style={"white_space": "nowrap"}),
        rx.table.cell(token.last_used, style={"white_space": "nowrap"}),
        rx.table.cell(
            rx.cond(
                token.status == "active",
                rx.button(
                    "Revoke",
                    on_click=STATE.revoke_token(token.id),
                    aria_label=f"Revoke {token.name}",
                    size="1",
                    variant="soft",
                    color_scheme="red",
                ),
                rx.badge("revoked", color_scheme="gray"),
            )
        ),
    )


def new_token_dialog() -> rx.Component:
    """The secret, once: it is stored only as a hash, so closing this dialog is the last chance to copy it."""
    return rx.dialog.root(
        rx.dialog.content(
            rx.dialog.title("Your new API token"),
            rx.dialog.description(
                "Copy it now: it is shown only once. Send it as 'Authorization: Bearer <token>'.", size="2"
            ),
            rx.flex(
                rx.text(STATE.new_token_name, weight="medium"),
                rx.code(STATE.new_token, size="2", aria_label="New API token", style={"word_break": "break-all"}),
                rx.flex(
                    rx.button(rx.icon("copy", size=14), "Copy", on_click=rx.set_clipboard(STATE.new_token)),
                    rx.dialog.close(rx.button("Done", variant="soft")),
                    spacing="3",
                    justify="end",
                ),
                direction="column",
                spacing="3",
                margin_top="1em",
            ),
        ),
        open=STATE.new_token != "",
        on_open_change=STATE.dismiss_new_token,
    )


def tokens_section() -> rx.Component:
    return rx.flex(
        rx.heading("API tokens", as_="h3", size="4"),
        rx.text(
            "Tokens let scripts and integrations call the API as you, with your role. ",
            "Revoke one you no longer use.",
            size="2",
            color=styles.MUTED_COLOR,
        ),
        inline_form(
            text_field(
                "Token name", "token-name", "name", "", STATE.token_errors["name"], placeholder="e.g. nightly export"
            ),
            text_field(
                "Expires in days (empty: never)",
                "token-expires",
                "expires_in_days",
                "",
                STATE.token_errors["expires_in_days"],
                type="number",
                min=1,
            ),
            submit="Create token",
            error=STATE.token_error,
            key=STATE.token_form_key,
            on_submit=STATE.create_token,
        ),
        rx.cond(
            STATE.tokens.length() == 0,
            rx.text("You have no API tokens.", color=styles.MUTED_COLOR),
            rx.box(
                rx.table.root(
                    rx.el.caption("Your API tokens", style=styles.visually_hidden),
                    rx.table.header(
                        rx.table.row(
                            *[
                                rx.table.column_header_cell(label)
                                for label in ("Name", "Starts with", "Created", "Expires", "Last used", "")
                            ]
                        )
                    ),
                    rx.table.body(rx.foreach(STATE.tokens, _token_row)),
                    size="1",
                ),
                style=styles.table_scroll,
            ),
        ),
        new_token_dialog(),
        direction="column",
        spacing="3",
    )


def password_section() -> rx.Component:
    return rx.flex(
        rx.heading("Password", as_="h3", size="4"),
        inline_form(
            text_field(
                "Current password",
                "current-password",
                "current_password",
                "",
                STATE.password_errors["current_password"],
                type="password",
                auto_complete="current-password",
            ),
            text_field(
                "New password",
                "new-password",
                "new_password",
                "",
                STATE.password_errors["new_password"],
                type="password",
                auto_complete="new-password",
            ),
            text_field("Repeat new password", "repeat-password", "repeat_password", "", type="password"),
            submit="Change password",
            error=STATE.password_error,
            key=STATE.password_form_key,
            on_submit=STATE.change_password,
        ),
        rx.text(
            "Changing it signs out your other sessions. To end every session, this one included, use ",
            rx.link("sign out everywhere", on_click=SessionState.sign_out_everywhere, href="#"),
            ".",
            size="2",
            color=styles.MUTED_COLOR,
        ),
        direction="column",
        spacing="3",
    )


def account_page() -> rx.Component:
    return app_page(
        rx.text(
            "Signed in as ", rx.text(SessionState.email, weight="medium", as_="span"), " (", SessionState.role, ")"
        ),
        tokens_section(),
        rx.separator(size="4"),
        password_section(),
        title="Your account",
    )
