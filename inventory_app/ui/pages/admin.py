"""The admin page (/admin): users and the security log. Shown to admins; the service refuses everyone else."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import reflex as rx

from inventory_app.ui import styles
from inventory_app.ui.components.fields import field_error, inline_form, native_select, text_field
from inventory_app.ui.components.pagination import pagination
from inventory_app.ui.components.shell import app_page, not_allowed
from inventory_app.ui.states.admin import PAGE_SIZE, AdminState, SecurityEventRow, UserRow
from inventory_app.ui.states.session import SessionState

STATE = AdminState


@dataclass(frozen=True)
class Pages:
    """Where a paged table is and how to move: the state's label, page, count and two events."""

    label: rx.Var[str]
    page: rx.Var[int]
    count: rx.Var[int]
    on_previous: Any
    on_next: Any


def _paged_table(caption: str, headers: list[str], rows: rx.Var, row: Any, pages: Pages) -> rx.Component:
    """A captioned table of one page of rows, with Previous/Next under it."""
    return rx.flex(
        rx.box(
            rx.table.root(
                rx.el.caption(caption, style=styles.visually_hidden),
                rx.table.header(rx.table.row(*[rx.table.column_header_cell(h) for h in headers])),
                rx.table.body(rx.foreach(rows, row)),
                size="1",
            ),
            style=styles.table_scroll,
        ),
        pagination(
            pages.label,
            pages.page > 0,
            (pages.page + 1) * PAGE_SIZE < pages.count,
            pages.on_previous,
            pages.on_next,
            region_label=f"{caption} pages",
        ),
        direction="column",
        spacing="2",
    )


def _user_row(user: UserRow) -> rx.Component:
    return rx.table.row(
        rx.table.row_header_cell(user.email),
        rx.table.cell(user.name),
        rx.table.cell(
            rx.el.select(
                rx.foreach(STATE.roles, lambda role: rx.el.option(role, value=role)),
                value=user.role,
                on_change=lambda role: STATE.change_role(user.id, role),
                aria_label=f"Role of {user.email}",
                style=styles.native_select,
            )
        ),
        rx.table.cell(rx.cond(user.disabled, rx.badge("disabled", color_scheme="red"), rx.badge("active"))),
        rx.table.cell(user.last_sign_in, style={"white_space": "nowrap"}),
        rx.table.cell(
            rx.flex(
                rx.cond(
                    user.disabled,
                    rx.button(
                        "Enable",
                        on_click=STATE.set_disabled(user.id, False),
                        aria_label=f"Enable {user.email}",
                        size="1",
                        variant="soft",
                    ),
                    rx.button(
                        "Disable",
                        on_click=STATE.set_disabled(user.id, True),
                        aria_label=f"Disable {user.email}",
                        size="1",
                        variant="soft",
                        color_scheme="red",
                    ),
                ),
                rx.button(
                    "Reset password",
                    on_click=STATE.ask_reset(user.id, user.email),
                    aria_label=f"Reset password of {user.email}",
                    size="1",
                    variant="soft",
                ),
                spacing="2",
                wrap="nowrap",
            )
        ),
    )


def create_user_form() -> rx.Component:
    return inline_form(
        text_field("Email", "new-user-email", "email", "", STATE.create_errors["email"], type="email"),
        text_field("Name", "new-user-name", "name", "", STATE.create_errors["name"]),
        rx.flex(
            rx.el.label("Role", html_for="new-user-role", style={"font_weight": "500", "font_size": "0.9em"}),
            native_select("new-user-role", STATE.roles, name="role", default_value="viewer"),
            field_error(STATE.create_errors["role"], "new-user-role"),
            direction="column",
            spacing="1",
        ),
        text_field(
            "Initial password",
            "new-user-password",
            "password",
            "",
            STATE.create_errors["password"],
            type="password",
            auto_complete="new-password",
        ),
        submit="Create user",
        error=STATE.create_error,
        key=STATE.create_form_key,
        on_submit=STATE.create_user,
    )


def reset_password_dialog() -> rx.Component:
    return rx.dialog.root(
        rx.dialog.content(
            rx.dialog.title("Reset password"),
            rx.dialog.description(rx.text("A new password for ", STATE.reset_email, "; their sessions end.")),
            rx.form(
                rx.flex(
                    text_field(
                        "New password",
                        "reset-password",
                        "new_password",
                        "",
                        type="password",
                        auto_complete="new-password",
                    ),
                    rx.cond(
                        STATE.reset_error != "", rx.text(STATE.reset_error, style=styles.field_error, role="alert")
                    ),
                    rx.flex(
                        rx.dialog.close(rx.button("Cancel", variant="soft", color_scheme="gray", type="button")),
                        rx.button("Set password", type="submit"),
                        spacing="3",
                        justify="end",
                    ),
                    direction="column",
                    spacing="3",
                ),
                on_submit=STATE.reset_password,
            ),
        ),
        open=STATE.reset_user_id != "",
        on_open_change=STATE.close_reset,
    )


def _security_row(event: SecurityEventRow) -> rx.Component:
    return rx.table.row(
        rx.table.cell(event.when, style={"white_space": "nowrap"}),
        rx.table.cell(event.kind),
        rx.table.cell(event.email),
        rx.table.cell(event.actor),
        rx.table.cell(event.source),
        rx.table.cell(event.detail),
    )


def admin_body() -> rx.Component:
    return rx.flex(
        rx.cond(STATE.error != "", rx.callout(STATE.error, color_scheme="red", role="alert")),
        rx.heading("Users", as_="h3", size="4"),
        rx.text("Newest first.", size="2", color=styles.MUTED_COLOR),
        create_user_form(),
        _paged_table(
            "Users",
            ["Email", "Name", "Role", "Status", "Last sign-in", "Actions"],
            STATE.users,
            _user_row,
            Pages(STATE.users_page_label, STATE.users_page, STATE.users_count, STATE.users_previous, STATE.users_next),
        ),
        rx.heading("Security log", as_="h3", size="4"),
        _paged_table(
            "Security log",
            ["When", "What", "Account", "By", "From", "Detail"],
            STATE.security_events,
            _security_row,
            Pages(
                STATE.security_page_label,
                STATE.security_page,
                STATE.security_count,
                STATE.security_previous,
                STATE.security_next,
            ),
        ),
        reset_password_dialog(),
        direction="column",
        spacing="3",
    )


def admin_page() -> rx.Component:
    return app_page(
        rx.cond(SessionState.is_admin, admin_body(), not_allowed("Only admins manage users.")),
        title="Administration",
    )
