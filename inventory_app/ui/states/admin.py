"""The admin page: users (create, role, disable/enable, password reset) and the security log.

Every handler asks `services.identity`, which requires an admin; a viewer or editor who sends these
events over the websocket gets the same PermissionDenied the REST API answers with 403.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import reflex as rx

from inventory_app.domain.errors import DomainError
from inventory_app.domain.identity import ROLE_ORDER
from inventory_app.services import identity
from inventory_app.ui.states.feedback import field_messages, short_time
from inventory_app.ui.states.session import client_of, signed_in_principal

PAGE_SIZE = 25
USER_FIELDS = ("email", "name", "role", "password")


@dataclass
class UserRow:
    id: str = ""
    email: str = ""
    name: str = ""
    role: str = ""
    disabled: bool = False
    last_sign_in: str = ""


@dataclass
class SecurityEventRow:
    when: str = ""
    kind: str = ""
    email: str = ""
    actor: str = ""
    source: str = ""
    detail: str = ""


def user_row(user: dict[str, Any]) -> UserRow:
    return UserRow(
        id=user["id"],
        email=user["email"],
        name=user["name"],
        role=user["role"],
        disabled=user["disabled"],
        last_sign_in=short_time(user["last_sign_in_at"]) if user["last_sign_in_at"] else "never",
    )


def security_event_row(event: dict[str, Any]) -> SecurityEventRow:
    actor = event.get("actor") or {}
    detail = event.get("detail") or {}
    return SecurityEventRow(
        when=short_time(event["at"]),
        kind=event["kind"].replace("_", " "),
        email=event.get("email") or "",
        actor=actor.get("name", "") if isinstance(actor, dict) else str(actor),
        source=event.get("ip") or "",
        detail=", ".join(f"{k}: {v}" for k, v in detail.items()) if isinstance(detail, dict) else str(detail),
    )


class AdminState(rx.State):
    users: list[UserRow] = []
    users_count: int = 0
    users_page: int = 0
    security_events: list[SecurityEventRow] = []
    security_count: int = 0
    security_page: int = 0
    create_errors: dict[str, str] = dict.fromkeys(USER_FIELDS, "")
    create_error: str = ""
    create_form_key: int = 0
    error: str = ""
    reset_user_id: str = ""
    reset_email: str = ""
    reset_error: str = ""

    @rx.var
    def roles(self) -> list[str]:
        return [str(role) for role in ROLE_ORDER]

    @rx.var
    def users_page_label(self) -> str:
        return f"Page {self.users_page + 1} of {max(1, math.ceil(self.users_count / PAGE_SIZE))}"

    @rx.var
    def security_page_label(self) -> str:
        return f"Page {self.security_page + 1} of {max(1, math.ceil(self.security_count / PAGE_SIZE))}"

    async def _load(self) -> None:
        by = await signed_in_principal(self)
        users = await identity.list_users(by=by, limit=PAGE_SIZE, offset=self.users_page * PAGE_SIZE, newest_first=True)
        log = await identity.list_security_events(by=by, limit=PAGE_SIZE, offset=self.security_page * PAGE_SIZE)
        self.users, self.users_count = [user_row(u) for u in users["data"]], users["count"]
        self.security_events = [security_event_row(e) for e in log["data"]]
        self.security_count = log["count"]
        self.error = ""

    async def _reload(self) -> None:
        try:
            await self._load()
        except DomainError as error:
            self.users, self.security_events = [], []
            self.error = error.detail

    @rx.event
    async def load_page(self):
        self.users_page = self.security_page = 0
        await self._reload()

    @rx.event
    async def create_user(self, form_data: dict[str, Any]):
        self.create_errors = dict.fromkeys(USER_FIELDS, "")
        self.create_error = ""
        payload = {name: str(form_data.get(name, "")) for name in USER_FIELDS}
        try:
            by = await signed_in_principal(self)
            created = await identity.create_user(payload, by=by, client=client_of(self))
        except DomainError as error:
            self.create_errors, self.create_error = field_messages(error, USER_FIELDS)
            return
        self.create_form_key += 1
        await self._reload()
        yield rx.toast.success(f"Created {created['email']} ({created['role']}).")

    async def _update(self, user_id: str, change: dict[str, Any], done: str):
        try:
            by = await signed_in_principal(self)
            await identity.update_user(user_id, change, by=by, client=client_of(self))
        except DomainError as error:
            self.error = error.detail
            return None
        await self._reload()
        return rx.toast.success(done)

    @rx.event
    async def change_role(self, user_id: str, role: str):
        return await self._update(user_id, {"role": role}, f"Role changed to {role}.")

    @rx.event
    async def set_disabled(self, user_id: str, disabled: bool):
        done = "User disabled: their sessions and tokens stopped working." if disabled else "User enabled."
        return await self._update(user_id, {"disabled": disabled}, done)

    @rx.event
    def ask_reset(self, user_id: str, email: str):
        self.reset_user_id, self.reset_email, self.reset_error = user_id, email, ""

    @rx.event
    def close_reset(self, _open: bool = False):
        self.reset_user_id = self.reset_email = self.reset_error = ""

    @rx.event
    async def reset_password(self, form_data: dict[str, Any]):
        try:
            by = await signed_in_principal(self)
            payload = {"new_password": str(form_data.get("new_password", ""))}
            await identity.reset_password(self.reset_user_id, payload, by=by, client=client_of(self))
        except DomainError as error:
            _, self.reset_error = field_messages(error, ())
            return None
        email = self.reset_email
        self.close_reset()
        await self._reload()
        return rx.toast.success(f"Password of {email} reset; their sessions were signed out.")

    @rx.event
    async def users_previous(self):
        self.users_page = max(0, self.users_page - 1)
        await self._reload()

    @rx.event
    async def users_next(self):
        if (self.users_page + 1) * PAGE_SIZE < self.users_count:
            self.users_page += 1
        await self._reload()

    @rx.event
    async def security_previous(self):
        self.security_page = max(0, self.security_page - 1)
        await self._reload()

    @rx.event
    async def security_next(self):
        if (self.security_page + 1) * PAGE_SIZE < self.security_count:
            self.security_page += 1
        await self._reload()
