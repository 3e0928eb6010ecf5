"""The signed-in user's own account page: API tokens (created, shown once, revoked) and the password."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import reflex as rx

from inventory_app.domain.errors import DomainError
from inventory_app.services import identity
from inventory_app.ui.states.feedback import field_messages, int_or_text, short_time
from inventory_app.ui.states.session import client_of, signed_in_principal

TOKEN_FIELDS = ("name", "expires_in_days")
PASSWORD_FIELDS = ("current_password", "new_password")


@dataclass
class TokenRow:
    id: str = ""
    name: str = ""
    prefix: str = ""
    created: str = ""
    expires: str = ""
    last_used: str = ""
    status: str = ""


def token_row(token: dict[str, Any]) -> TokenRow:
    status = "revoked" if token["revoked_at"] else "active"
    return TokenRow(
        id=token["id"],
        name=token["name"],
        prefix=token["prefix"],
        created=short_time(token["created_at"]),
        expires=short_time(token["expires_at"]) if token["expires_at"] else "never",
        last_used=short_time(token["last_used_at"]) if token["last_used_at"] else "never",
        status=status,
    )


class AccountState(rx.State):
    tokens: list[TokenRow] = []
    # The secret of the token just created: shown once, then dropped from state when the dialog closes.
    new_token: str = ""
    new_token_name: str = ""
    token_errors: dict[str, str] = dict.fromkeys(TOKEN_FIELDS, "")
    token_error: str = ""
    password_errors: dict[str, str] = dict.fromkeys(PASSWORD_FIELDS, "")
    password_error: str = ""
    password_form_key: int = 0
    token_form_key: int = 0

    async def _load_tokens(self) -> None:
        principal = await signed_in_principal(self)
        listing = await identity.list_tokens(principal)
        self.tokens = [token_row(t) for t in listing["data"]]

    @rx.event
    async def load_page(self):
        try:
            await self._load_tokens()
        except DomainError as error:
            self.token_error = error.detail

    @rx.event
    async def create_token(self, form_data: dict[str, Any]):
        self.token_errors = dict.fromkeys(TOKEN_FIELDS, "")
        self.token_error = ""
        payload: dict[str, Any] = {"name": str(form_data.get("name", ""))}
        days = str(form_data.get("expires_in_days", "")).strip()
        payload["expires_in_days"] = int_or_text(days) if days else None
        try:
            principal = await signed_in_principal(self)
            created = await identity.create_token(principal, payload, client=client_of(self))
        except DomainError as error:
            self.token_errors, self.token_error = field_messages(error, TOKEN_FIELDS)
            return
        self.new_token, self.new_token_name = created["token"], created["name"]
        self.token_form_key += 1
        await self._load_tokens()

    @rx.event
    def dismiss_new_token(self, _open: bool = False):
        self.new_token = ""
        self.new_token_name = ""

    @rx.event
    async def revoke_token(self, token_id: str):
        try:
            principal = await signed_in_principal(self)
            await identity.revoke_token(principal, token_id, client=client_of(self))
            await self._load_tokens()
        except DomainError as error:
            self.token_error = error.detail
            return
        yield rx.toast.success("Token revoked: it stops working at once.")

    @rx.event
    async def change_password(self, form_data: dict[str, Any]):
        self.password_errors = dict.fromkeys(PASSWORD_FIELDS, "")
        self.password_error = ""
        payload = {name: str(form_data.get(name, "")) for name in PASSWORD_FIELDS}
        if payload["new_password"] != str(form_data.get("repeat_password", "")):
            self.password_errors["new_password"] = "The two new passwords differ."
            return
        try:
            principal = await signed_in_principal(self)
            await identity.change_password(principal, payload, client=client_of(self))
        except DomainError as error:
            self.password_errors, self.password_error = field_messages(error, PASSWORD_FIELDS)
            return
        self.password_form_key += 1
        yield rx.toast.success("Password changed. Your other sessions were signed out.")
