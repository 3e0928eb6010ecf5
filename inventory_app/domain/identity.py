"""Who may do what: roles, the authenticated principal, the actor a change is attributed to, and the
rules for emails, passwords and token names. No I/O here."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from inventory_app.domain.errors import FieldError, PermissionDenied, ValidationFailed

MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 1024
MAX_EMAIL_LENGTH = 254
MAX_NAME_LENGTH = 200
MAX_TOKEN_NAME_LENGTH = 100
MAX_TOKEN_DAYS = 3650
# Deliberately loose (one @, a dot in the domain, no spaces): mail servers decide what is deliverable.
EMAIL_PATTERN = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class Role(StrEnum):
    VIEWER = "viewer"
    EDITOR = "editor"
    ADMIN = "admin"

    @property
    def rank(self) -> int:
        return ROLE_ORDER.index(self)

    def includes(self, other: Role) -> bool:
        """An editor can do what a viewer can, an admin what an editor can."""
        return self.rank >= other.rank


ROLE_ORDER = (Role.VIEWER, Role.EDITOR, Role.ADMIN)


@dataclass(frozen=True)
class Actor:
    """Who made a change, as recorded with it (the contract's `Actor`)."""

    type: str  # user | token | system
    id: uuid.UUID | None
    name: str

    def to_json(self) -> dict[str, Any]:
        return {"type": self.type, "id": str(self.id) if self.id else None, "name": self.name}


SYSTEM_ACTOR = Actor("system", None, "system")


@dataclass(frozen=True)
class Principal:
    """An authenticated caller: a user acting through a session or one of their API tokens.

    `SYSTEM` is the app itself (CLI, seeding, migrations): it may do everything, attributed to "system".
    """

    user_id: uuid.UUID | None
    email: str
    name: str
    role: Role
    via: str  # session | token | system
    credential_id: uuid.UUID | None = None  # the session's or the token's id
    token_name: str | None = None
    session_expires_at: datetime | None = None

    @property
    def actor(self) -> Actor:
        if self.via == "system":
            return SYSTEM_ACTOR
        if self.via == "token":
            return Actor("token", self.user_id, f"{self.token_name} ({self.email})")
        return Actor("user", self.user_id, self.email)

    def can(self, role: Role) -> bool:
        return self.role.includes(role)

    def require(self, role: Role) -> None:
        """The server-side check behind every entry point; the UI hiding a button is only a courtesy."""
        if not self.can(role):
            raise PermissionDenied(f"Your role ({self.role}) may not do this; it needs {role}.")


SYSTEM = Principal(user_id=None, email="system", name="system", role=Role.ADMIN, via="system")


# -- input rules ------------------------------------------------------------------------------------
def _fail(field: str, message: str) -> ValidationFailed:
    return ValidationFailed(f"Invalid {field}.", [FieldError(field, message)])


def normalize_email(value: Any, field: str = "email") -> str:
    """Emails are compared case-insensitively, so they are stored lower-case."""
    if not isinstance(value, str):
        raise _fail(field, "must be a string")
    email = value.strip().lower()
    if len(email) > MAX_EMAIL_LENGTH or not EMAIL_PATTERN.match(email) or "\x00" in email:
        raise _fail(field, f"must be an email address of at most {MAX_EMAIL_LENGTH} characters")
    return email


def validate_new_password(value: Any, field: str = "password") -> str:
    if not isinstance(value, str):
        raise _fail(field, "must be a string")
    if not MIN_PASSWORD_LENGTH <= len(value) <= MAX_PASSWORD_LENGTH:
        raise _fail(field, f"must be {MIN_PASSWORD_LENGTH} to {MAX_PASSWORD_LENGTH} characters long")
    if "\x00" in value:
        raise _fail(field, "must not contain NUL characters")
    return value


def validate_role(value: Any, field: str = "role") -> Role:
    try:
        return Role(value)
    except ValueError:
        raise _fail(field, "must be one of viewer, editor, admin") from None


def validate_display_name(value: Any, field: str = "name") -> str:
    if not isinstance(value, str) or "\x00" in value:
        raise _fail(field, "must be a string without NUL characters")
    name = value.strip()
    if len(name) > MAX_NAME_LENGTH:
        raise _fail(field, f"must be at most {MAX_NAME_LENGTH} characters")
    return name


def validate_token_request(payload: Any) -> tuple[str, int | None]:
    if not isinstance(payload, dict):
        raise ValidationFailed("The body must be a JSON object.", [FieldError("body", "must be an object")])
    unknown = sorted(set(payload) - {"name", "expires_in_days"})
    if unknown:
        raise _fail(unknown[0], "is not a known field")
    name = payload.get("name")
    if not isinstance(name, str) or not name.strip() or len(name.strip()) > MAX_TOKEN_NAME_LENGTH or "\x00" in name:
        raise _fail("name", f"must be 1 to {MAX_TOKEN_NAME_LENGTH} characters")
    days = payload.get("expires_in_days")
    if days is not None and (isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= MAX_TOKEN_DAYS):
        raise _fail("expires_in_days", f"must be a whole number of days from 1 to {MAX_TOKEN_DAYS}, or null")
    return name.strip(), days


def require_object(payload: Any, allowed: set[str], required: set[str] = frozenset()) -> dict[str, Any]:
    """A JSON object with only known fields and all required ones: the contract's additionalProperties."""
    if not isinstance(payload, dict):
        raise ValidationFailed("The body must be a JSON object.", [FieldError("body", "must be an object")])
    errors = [FieldError(k, "is not a known field") for k in sorted(set(payload) - allowed)]
    errors += [FieldError(k, "is required") for k in sorted(required - set(payload))]
    if errors:
        raise ValidationFailed("Invalid request body.", errors)
    return payload
