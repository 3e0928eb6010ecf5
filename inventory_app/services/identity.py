"""Identity use cases: users, sign-in and sessions, API tokens, the security log.

Every function here checks what its caller may do (`Principal.require`), so the REST routes, the
Reflex handlers and the CLI all enforce the same rules. Passwords are hashed with Argon2id (slow on
purpose: they are guessable); sessions and API tokens are random 256-bit secrets stored only as
SHA-256 hashes (a fast hash is right for values nobody can guess).
"""

from __future__ import annotations

import asyncio
import hashlib
import math
import secrets
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any

import psycopg
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb
from psycopg_pool import AsyncConnectionPool

from inventory_app.domain import events
from inventory_app.domain.errors import (
    DuplicateEmail,
    FieldError,
    InvalidCredentials,
    NotAuthenticated,
    TokenNotFound,
    TooManyAttempts,
    UserNotFound,
    ValidationFailed,
)
from inventory_app.domain.identity import (
    MAX_PASSWORD_LENGTH,
    Principal,
    Role,
    normalize_email,
    require_object,
    validate_display_name,
    validate_new_password,
    validate_role,
    validate_token_request,
)
from inventory_app.settings import get_settings

TOKEN_PREFIX = "inv_"
TOKEN_LENGTH = len(TOKEN_PREFIX) + 43  # secrets.token_urlsafe(32)
SESSION_TOKEN_LENGTH = 43
# Last-seen and last-used times are bookkeeping: written at most this often per credential.
TOUCH_INTERVAL_S = 60
SECURITY_EVENT_KINDS = (
    "sign_in",
    "sign_in_failed",
    "sign_in_rate_limited",
    "sign_out",
    "sign_out_everywhere",
    "password_changed",
    "password_reset",
    "user_created",
    "role_changed",
    "user_disabled",
    "user_enabled",
    "token_created",
    "token_revoked",
)
MAX_PAGE = 200
USER_COLUMNS = "id, email, name, role, disabled_at, created_at, last_sign_in_at"
_hasher = PasswordHasher()  # Argon2id with the library's (RFC 9106 "second choice") parameters


@dataclass(frozen=True)
class ClientInfo:
    """Where a request came from, for the security log; None outside HTTP (the CLI)."""

    ip: str | None = None
    user_agent: str | None = None


@dataclass(frozen=True)
class SignedIn:
    session_token: str  # the cookie value; only its hash is stored
    body: dict[str, Any]  # SessionPublic


# -- secrets ----------------------------------------------------------------------------------------
def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def looks_like_api_token(value: str) -> bool:
    return value.startswith(TOKEN_PREFIX) and len(value) == TOKEN_LENGTH


async def hash_password(password: str) -> str:
    return await asyncio.to_thread(_hasher.hash, password)


async def _verify_password(password_hash: str, password: str) -> bool:
    def verify() -> bool:
        try:
            return _hasher.verify(password_hash, password)
        except (VerificationError, InvalidHashError):
            return False

    return await asyncio.to_thread(verify)


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    """Checked against when the email is unknown, so that answer takes as long as a wrong password."""
    return _hasher.hash(secrets.token_urlsafe(16))


# -- telling this process's credential cache at once ---------------------------------------------------
# Other processes hear of an ended session, token or user through PostgreSQL (NOTIFY credential_changes,
# within a second); the process that made the change drops its own cached answers right after the commit,
# so its very next request is refused. services/credentials.py registers its cache here (no import cycle).
_credentials_changed_listeners: list[Callable[[], None]] = []


def on_credentials_changed(listener: Callable[[], None]) -> None:
    _credentials_changed_listeners.append(listener)


def _credentials_changed() -> None:
    for listener in _credentials_changed_listeners:
        listener()


# -- shapes -----------------------------------------------------------------------------------------
def user_to_public(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": str(row["id"]),
        "email": row["email"],
        "name": row["name"],
        "role": row["role"],
        "disabled": row["disabled_at"] is not None,
        "created_at": events.rfc3339(row["created_at"]),
        "last_sign_in_at": _time(row["last_sign_in_at"]),
    }


def token_to_public(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": str(row["id"]),
        "name": row["name"],
        "prefix": row["prefix"],
        "created_at": events.rfc3339(row["created_at"]),
        "expires_at": _time(row["expires_at"]),
        "last_used_at": _time(row["last_used_at"]),
        "revoked_at": _time(row["revoked_at"]),
    }


def _time(value: datetime | None) -> str | None:
    return events.rfc3339(value) if value is not None else None


def _parse_id(value: str | uuid.UUID, error: type[Exception], what: str) -> uuid.UUID:
    try:
        return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))
    except ValueError:
        raise error(f"No {what} with id {value!r}.") from None


def _page(limit: int, offset: int) -> None:
    errors = []
    if not 1 <= limit <= MAX_PAGE:
        errors.append(FieldError("limit", f"must be between 1 and {MAX_PAGE}"))
    if offset < 0:
        errors.append(FieldError("offset", "must be >= 0"))
    if errors:
        raise ValidationFailed("Invalid list parameters.", errors)


async def _pool(pool: AsyncConnectionPool | None) -> AsyncConnectionPool:
    from inventory_app.bootstrap import wiring  # bootstrap imports this module

    return pool or await wiring().pool()


async def record_security_event(
    conn: psycopg.AsyncConnection,
    kind: str,
    *,
    user_id: uuid.UUID | None,
    email: str | None,
    actor: Principal | None,
    client: ClientInfo,
    detail: dict[str, Any] | None = None,
) -> None:
    await conn.execute(
        "INSERT INTO security_event (kind, user_id, email, actor, ip, user_agent, detail)"
        " VALUES (%s, %s, %s, %s, %s, %s, %s)",
        (
            kind,
            user_id,
            email,
            Jsonb(actor.actor.to_json()) if actor else None,
            client.ip,
            (client.user_agent or None) and client.user_agent[:500],
            Jsonb(detail or {}),
        ),
    )


# -- users (admin) ----------------------------------------------------------------------------------
def _user_fields(payload: Any) -> tuple[str, str, Role, str]:
    body = require_object(payload, {"email", "name", "role", "password"}, {"email", "role", "password"})
    return (
        normalize_email(body["email"]),
        validate_display_name(body.get("name", "")),
        validate_role(body["role"]),
        validate_new_password(body["password"]),
    )


async def create_user(
    payload: Any, *, by: Principal, client: ClientInfo = ClientInfo(), pool: AsyncConnectionPool | None = None
) -> dict[str, Any]:
    by.require(Role.ADMIN)
    email, name, role, password = _user_fields(payload)
    password_hash = await hash_password(password)
    now = datetime.now(UTC)
    user_id = uuid.uuid4()
    async with (await _pool(pool)).connection() as conn, conn.transaction():
        cur = conn.cursor(row_factory=dict_row)
        row = await (
            await cur.execute(
                "INSERT INTO app_user (id, email, name, role, password_hash, created_at, updated_at)"
                f" VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT (email) DO NOTHING RETURNING {USER_COLUMNS}",
                (user_id, email, name, role.value, password_hash, now, now),
            )
        ).fetchone()
        if row is None:
            raise DuplicateEmail(f"A user with email {email} already exists.", [FieldError("email", "already exists")])
        await record_security_event(
            conn, "user_created", user_id=user_id, email=email, actor=by, client=client, detail={"role": role.value}
        )
    return user_to_public(row)


async def list_users(
    *,
    by: Principal,
    limit: int = 50,
    offset: int = 0,
    newest_first: bool = False,
    pool: AsyncConnectionPool | None = None,
) -> dict[str, Any]:
    """A page of users by email (the API's order), or newest first (the admin page: who was just added)."""
    by.require(Role.ADMIN)
    _page(limit, offset)
    order = "created_at DESC, email" if newest_first else "email"
    async with (await _pool(pool)).connection() as conn:
        cur = conn.cursor(row_factory=dict_row)
        await cur.execute(f"SELECT {USER_COLUMNS} FROM app_user ORDER BY {order} LIMIT %s OFFSET %s", (limit, offset))
        rows = await cur.fetchall()
        count = (await (await conn.execute("SELECT count(*) FROM app_user")).fetchone())[0]
    return {"data": [user_to_public(r) for r in rows], "count": count}


async def get_user(user_id: str | uuid.UUID, *, by: Principal, pool: AsyncConnectionPool | None = None) -> dict:
    by.require(Role.ADMIN)
    uid = _parse_id(user_id, UserNotFound, "user")
    async with (await _pool(pool)).connection() as conn:
        cur = conn.cursor(row_factory=dict_row)
        row = await (await cur.execute(f"SELECT {USER_COLUMNS} FROM app_user WHERE id = %s", (uid,))).fetchone()
    if row is None:
        raise UserNotFound(f"No user with id {uid}.")
    return user_to_public(row)


async def update_user(
    user_id: str | uuid.UUID,
    payload: Any,
    *,
    by: Principal,
    client: ClientInfo = ClientInfo(),
    pool: AsyncConnectionPool | None = None,
) -> dict[str, Any]:
    """Rename, change the role of, disable or enable a user. Disabling revokes every session and token."""
    by.require(Role.ADMIN)
    uid = _parse_id(user_id, UserNotFound, "user")
    body = require_object(payload, {"name", "role", "disabled"})
    if not body:
        raise ValidationFailed("Name at least one field to change.", [FieldError("body", "must not be empty")])
    name = validate_display_name(body["name"]) if "name" in body else None
    role = validate_role(body["role"]) if "role" in body else None
    disabled = body.get("disabled")
    if "disabled" in body and not isinstance(disabled, bool):
        raise ValidationFailed("Invalid disabled.", [FieldError("disabled", "must be true or false")])
    now = datetime.now(UTC)
    async with (await _pool(pool)).connection() as conn, conn.transaction():
        cur = conn.cursor(row_factory=dict_row)
        user = await (
            await cur.execute(f"SELECT {USER_COLUMNS} FROM app_user WHERE id = %s FOR UPDATE", (uid,))
        ).fetchone()
        if user is None:
            raise UserNotFound(f"No user with id {uid}.")
        if uid == by.user_id:
            # There is always an admin left: the one making the change.
            if role is not None and role != user["role"]:
                raise ValidationFailed(
                    "You cannot change your own role.", [FieldError("role", "cannot change your own role")]
                )
            if disabled:
                raise ValidationFailed(
                    "You cannot disable yourself.", [FieldError("disabled", "cannot disable yourself")]
                )
        log: list[tuple[str, dict[str, Any]]] = []
        if name is not None and name != user["name"]:
            user["name"] = name
        if role is not None and role != user["role"]:
            log.append(("role_changed", {"from": user["role"], "to": role.value}))
            user["role"] = role.value
        if disabled is True and user["disabled_at"] is None:
            user["disabled_at"] = now
            log.append(("user_disabled", {}))
        elif disabled is False and user["disabled_at"] is not None:
            user["disabled_at"] = None
            log.append(("user_enabled", {}))
        await conn.execute(
            "UPDATE app_user SET name = %s, role = %s, disabled_at = %s, updated_at = %s WHERE id = %s",
            (user["name"], user["role"], user["disabled_at"], now, uid),
        )
        if disabled is True:
            await _revoke_sessions(conn, uid, now)
            await conn.execute(
                "UPDATE api_token SET revoked_at = %s WHERE user_id = %s AND revoked_at IS NULL", (now, uid)
            )
        for kind, detail in log:
            await record_security_event(
                conn, kind, user_id=uid, email=user["email"], actor=by, client=client, detail=detail
            )
    _credentials_changed()
    return user_to_public(user)


async def reset_password(
    user_id: str | uuid.UUID,
    payload: Any,
    *,
    by: Principal,
    client: ClientInfo = ClientInfo(),
    pool: AsyncConnectionPool | None = None,
) -> None:
    """An admin sets a new password; the user's sessions end (their tokens stay valid)."""
    by.require(Role.ADMIN)
    uid = _parse_id(user_id, UserNotFound, "user")
    body = require_object(payload, {"new_password"}, {"new_password"})
    password_hash = await hash_password(validate_new_password(body["new_password"], "new_password"))
    now = datetime.now(UTC)
    async with (await _pool(pool)).connection() as conn, conn.transaction():
        row = await (
            await conn.execute(
                "UPDATE app_user SET password_hash = %s, updated_at = %s WHERE id = %s RETURNING email",
                (password_hash, now, uid),
            )
        ).fetchone()
        if row is None:
            raise UserNotFound(f"No user with id {uid}.")
        await _revoke_sessions(conn, uid, now)
        await record_security_event(conn, "password_reset", user_id=uid, email=row[0], actor=by, client=client)
    _credentials_changed()


async def _revoke_sessions(
    conn: psycopg.AsyncConnection, user_id: uuid.UUID, now: datetime, *, keep: uuid.UUID | None = None
) -> None:
    await conn.execute(
        "UPDATE user_session SET revoked_at = %s WHERE user_id = %s AND revoked_at IS NULL AND id IS DISTINCT FROM %s",
        (now, user_id, keep),
    )


# -- sign-in and sessions ---------------------------------------------------------------------------
async def _rate_limited(conn: psycopg.AsyncConnection, email: str, client: ClientInfo, now: datetime) -> int | None:
    """Seconds to wait when too many attempts failed in the window, per account (since its last
    sign-in) or per client address; the refusal is logged. None when the attempt may go ahead."""
    settings = get_settings()
    window_start = now - timedelta(seconds=settings.signin_failure_window_s)
    limits = [
        (
            "SELECT at FROM security_event WHERE kind = 'sign_in_failed' AND email = %s AND at > %s"
            " AND at > coalesce((SELECT last_sign_in_at FROM app_user WHERE email = %s), '-infinity')"
            " ORDER BY at DESC LIMIT %s",
            (email, window_start, email, settings.signin_max_failures_per_account),
            settings.signin_max_failures_per_account,
        )
    ]
    if client.ip:
        limits.append(
            (
                "SELECT at FROM security_event WHERE kind = 'sign_in_failed' AND ip = %s AND at > %s"
                " ORDER BY at DESC LIMIT %s",
                (client.ip, window_start, settings.signin_max_failures_per_address),
                settings.signin_max_failures_per_address,
            )
        )
    for sql, params, limit in limits:
        rows = await (await conn.execute(sql, params)).fetchall()
        if len(rows) >= limit:
            # Free again once the oldest of the last `limit` failures leaves the window.
            oldest = rows[-1][0]
            retry_after = max(1, math.ceil((oldest - window_start).total_seconds()))
            await record_security_event(
                conn, "sign_in_rate_limited", user_id=None, email=email, actor=None, client=client
            )
            return retry_after
    return None


def _sign_in_fields(payload: Any) -> tuple[str, str]:
    body = require_object(payload, {"email", "password"}, {"email", "password"})
    password = body["password"]
    if not isinstance(password, str) or not 1 <= len(password) <= MAX_PASSWORD_LENGTH:
        raise ValidationFailed("Invalid password.", [FieldError("password", "must be 1 to 1024 characters")])
    return normalize_email(body["email"]), password


async def sign_in(
    payload: Any, *, client: ClientInfo = ClientInfo(), pool: AsyncConnectionPool | None = None
) -> SignedIn:
    """Check the password and start a new session (a fresh id every time, never one the client chose)."""
    settings = get_settings()
    email, password = _sign_in_fields(payload)
    now = datetime.now(UTC)
    pool = await _pool(pool)
    # Each step commits on its own (explicit transactions, none left open between them): a refused
    # attempt is logged even though the request then fails.
    async with pool.connection() as conn:
        async with conn.transaction():
            retry_after = await _rate_limited(conn, email, client, now)
        if retry_after is not None:
            raise TooManyAttempts(f"Too many sign-in attempts; try again in {retry_after} seconds.", retry_after)
        async with conn.transaction():
            cur = conn.cursor(row_factory=dict_row)
            user = await (
                await cur.execute(f"SELECT {USER_COLUMNS}, password_hash FROM app_user WHERE email = %s", (email,))
            ).fetchone()
        # The same work and the same answer for an unknown email, a wrong password and a disabled account.
        matches = await _verify_password(user["password_hash"] if user else _dummy_hash(), password)
        if not matches or user is None or user["disabled_at"] is not None:
            async with conn.transaction():
                await record_security_event(
                    conn,
                    "sign_in_failed",
                    user_id=user["id"] if user else None,
                    email=email,
                    actor=None,
                    client=client,
                )
            raise InvalidCredentials("The email or password is wrong.")
        session_token = secrets.token_urlsafe(32)
        session_id = uuid.uuid4()
        expires_at = now + timedelta(seconds=settings.session_max_age_s)
        idle_expires_at = min(expires_at, now + timedelta(seconds=settings.session_idle_timeout_s))
        async with conn.transaction():
            if _hasher.check_needs_rehash(user["password_hash"]):
                await conn.execute(
                    "UPDATE app_user SET password_hash = %s WHERE id = %s", (await hash_password(password), user["id"])
                )
            await conn.execute(
                "INSERT INTO user_session (id, token_hash, user_id, created_at, last_seen_at, idle_expires_at,"
                " expires_at, ip, user_agent) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
                (
                    session_id,
                    hash_secret(session_token),
                    user["id"],
                    now,
                    now,
                    idle_expires_at,
                    expires_at,
                    client.ip,
                    (client.user_agent or "")[:500] or None,
                ),
            )
            await conn.execute("UPDATE app_user SET last_sign_in_at = %s WHERE id = %s", (now, user["id"]))
            user["last_sign_in_at"] = now
            principal = _principal(user, "session", session_id, session_expires_at=expires_at)
            await record_security_event(
                conn, "sign_in", user_id=user["id"], email=email, actor=principal, client=client
            )
    return SignedIn(
        session_token,
        {
            "user": user_to_public(user),
            "expires_at": events.rfc3339(expires_at),
            "idle_expires_at": events.rfc3339(idle_expires_at),
        },
    )


async def sign_out(
    principal: Principal, *, client: ClientInfo = ClientInfo(), pool: AsyncConnectionPool | None = None
) -> None:
    """End the current session; with a token, nothing to end (tokens are revoked by id)."""
    if principal.via != "session":
        return
    async with (await _pool(pool)).connection() as conn, conn.transaction():
        await conn.execute(
            "UPDATE user_session SET revoked_at = %s WHERE id = %s AND revoked_at IS NULL",
            (datetime.now(UTC), principal.credential_id),
        )
        await record_security_event(
            conn, "sign_out", user_id=principal.user_id, email=principal.email, actor=principal, client=client
        )
    _credentials_changed()


async def sign_out_everywhere(
    principal: Principal, *, client: ClientInfo = ClientInfo(), pool: AsyncConnectionPool | None = None
) -> None:
    """End every session of the caller, this one included (tokens stay; they are revoked one by one)."""
    async with (await _pool(pool)).connection() as conn, conn.transaction():
        await _revoke_sessions(conn, principal.user_id, datetime.now(UTC))
        await record_security_event(
            conn,
            "sign_out_everywhere",
            user_id=principal.user_id,
            email=principal.email,
            actor=principal,
            client=client,
        )
    _credentials_changed()


async def change_password(
    principal: Principal, payload: Any, *, client: ClientInfo = ClientInfo(), pool: AsyncConnectionPool | None = None
) -> None:
    """The user's own change: the current password first; their other sessions end, this one stays."""
    body = require_object(payload, {"current_password", "new_password"}, {"current_password", "new_password"})
    current = body["current_password"]
    if not isinstance(current, str) or not 1 <= len(current) <= MAX_PASSWORD_LENGTH:
        raise ValidationFailed("Invalid current_password.", [FieldError("current_password", "must be a string")])
    new_password = validate_new_password(body["new_password"], "new_password")
    pool = await _pool(pool)
    async with pool.connection() as conn:
        row = await (
            await conn.execute("SELECT password_hash FROM app_user WHERE id = %s", (principal.user_id,))
        ).fetchone()
        if row is None or not await _verify_password(row[0], current):
            raise ValidationFailed(
                "The current password is wrong.", [FieldError("current_password", "is not your current password")]
            )
        new_hash = await hash_password(new_password)
        now = datetime.now(UTC)
        async with conn.transaction():
            await conn.execute(
                "UPDATE app_user SET password_hash = %s, updated_at = %s WHERE id = %s",
                (new_hash, now, principal.user_id),
            )
            keep = principal.credential_id if principal.via == "session" else None
            await _revoke_sessions(conn, principal.user_id, now, keep=keep)
            await record_security_event(
                conn,
                "password_changed",
                user_id=principal.user_id,
                email=principal.email,
                actor=principal,
                client=client,
            )
    _credentials_changed()


async def me(principal: Principal, *, pool: AsyncConnectionPool | None = None) -> dict[str, Any]:
    async with (await _pool(pool)).connection() as conn:
        cur = conn.cursor(row_factory=dict_row)
        user = await (
            await cur.execute(f"SELECT {USER_COLUMNS} FROM app_user WHERE id = %s", (principal.user_id,))
        ).fetchone()
    if user is None:
        raise NotAuthenticated("The account no longer exists.")
    return {
        "user": user_to_public(user),
        "via": principal.via,
        "token": {"id": str(principal.credential_id), "name": principal.token_name}
        if principal.via == "token"
        else None,
        "session_expires_at": _time(principal.session_expires_at),
    }


# -- API tokens -------------------------------------------------------------------------------------
TOKEN_COLUMNS = "id, name, prefix, created_at, expires_at, last_used_at, revoked_at"


async def create_token(
    principal: Principal, payload: Any, *, client: ClientInfo = ClientInfo(), pool: AsyncConnectionPool | None = None
) -> dict[str, Any]:
    """A personal token for the caller; the secret is in this answer only."""
    if principal.user_id is None:
        raise ValidationFailed("Tokens belong to users.", [FieldError("user", "is required")])
    name, days = validate_token_request(payload)
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    now = datetime.now(UTC)
    token_id = uuid.uuid4()
    expires_at = now + timedelta(days=days) if days else None
    async with (await _pool(pool)).connection() as conn, conn.transaction():
        cur = conn.cursor(row_factory=dict_row)
        row = await (
            await cur.execute(
                "INSERT INTO api_token (id, token_hash, prefix, user_id, name, created_at, expires_at)"
                f" VALUES (%s, %s, %s, %s, %s, %s, %s) RETURNING {TOKEN_COLUMNS}",
                (token_id, hash_secret(secret), secret[:8], principal.user_id, name, now, expires_at),
            )
        ).fetchone()
        await record_security_event(
            conn,
            "token_created",
            user_id=principal.user_id,
            email=principal.email,
            actor=principal,
            client=client,
            detail={"token_id": str(token_id), "token_name": name},
        )
    return {**token_to_public(row), "token": secret}


async def list_tokens(principal: Principal, *, pool: AsyncConnectionPool | None = None) -> dict[str, Any]:
    async with (await _pool(pool)).connection() as conn:
        cur = conn.cursor(row_factory=dict_row)
        rows = await (
            await cur.execute(
                f"SELECT {TOKEN_COLUMNS} FROM api_token WHERE user_id = %s ORDER BY created_at DESC, id",
                (principal.user_id,),
            )
        ).fetchall()
    return {"data": [token_to_public(r) for r in rows], "count": len(rows)}


async def revoke_token(
    principal: Principal,
    token_id: str | uuid.UUID,
    *,
    client: ClientInfo = ClientInfo(),
    pool: AsyncConnectionPool | None = None,
) -> None:
    """Revoke one of the caller's own tokens (someone else's is 'not found', not 'forbidden')."""
    tid = _parse_id(token_id, TokenNotFound, "token")
    async with (await _pool(pool)).connection() as conn, conn.transaction():
        row = await (
            await conn.execute(
                "SELECT name, revoked_at FROM api_token WHERE id = %s AND user_id = %s FOR UPDATE",
                (tid, principal.user_id),
            )
        ).fetchone()
        if row is None:
            raise TokenNotFound(f"You have no token with id {tid}.")
        if row[1] is None:
            await conn.execute("UPDATE api_token SET revoked_at = %s WHERE id = %s", (datetime.now(UTC), tid))
            await record_security_event(
                conn,
                "token_revoked",
                user_id=principal.user_id,
                email=principal.email,
                actor=principal,
                client=client,
                detail={"token_id": str(tid), "token_name": row[0]},
            )
    _credentials_changed()


async def create_token_for(
    email: str, name: str, *, expires_in_days: int | None = None, pool: AsyncConnectionPool | None = None
) -> dict[str, Any]:
    """The CLI's way in (`tokens create --user EMAIL`): a token for a user, recorded as that user's."""
    principal = await principal_for_email(email, pool=pool)
    return await create_token(principal, {"name": name, "expires_in_days": expires_in_days}, pool=pool)


async def principal_for_email(email: str, *, pool: AsyncConnectionPool | None = None) -> Principal:
    async with (await _pool(pool)).connection() as conn:
        cur = conn.cursor(row_factory=dict_row)
        user = await (
            await cur.execute(f"SELECT {USER_COLUMNS} FROM app_user WHERE email = %s", (normalize_email(email),))
        ).fetchone()
    if user is None:
        raise UserNotFound(f"No user with email {email}.")
    return _principal(user, "session", None)


# -- the security log -------------------------------------------------------------------------------
async def list_security_events(
    *,
    by: Principal,
    limit: int = 50,
    offset: int = 0,
    kind: str | None = None,
    pool: AsyncConnectionPool | None = None,
) -> dict[str, Any]:
    by.require(Role.ADMIN)
    _page(limit, offset)
    if kind is not None and kind not in SECURITY_EVENT_KINDS:
        raise ValidationFailed(
            "Invalid kind.", [FieldError("kind", f"must be one of {', '.join(SECURITY_EVENT_KINDS)}")]
        )
    where, params = ("WHERE kind = %s", [kind]) if kind else ("", [])
    async with (await _pool(pool)).connection() as conn:
        cur = conn.cursor(row_factory=dict_row)
        rows = await (
            await cur.execute(
                "SELECT id, at, kind, user_id, email, actor, ip, user_agent, detail FROM security_event"
                f" {where} ORDER BY id DESC LIMIT %s OFFSET %s",
                (*params, limit, offset),
            )
        ).fetchall()
        count = (await (await conn.execute(f"SELECT count(*) FROM security_event {where}", params)).fetchone())[0]
    data = [
        {
            **row,
            "at": events.rfc3339(row["at"]),
            "user_id": str(row["user_id"]) if row["user_id"] else None,
        }
        for row in rows
    ]
    return {"data": data, "count": count}


# -- authentication (uncached; services/credentials.py caches it) -----------------------------------
def _principal(
    user: dict[str, Any],
    via: str,
    credential_id: uuid.UUID | None,
    *,
    token_name: str | None = None,
    session_expires_at: datetime | None = None,
) -> Principal:
    return Principal(
        user_id=user["id"],
        email=user["email"],
        name=user["name"],
        role=Role(user["role"]),
        via=via,
        credential_id=credential_id,
        token_name=token_name,
        session_expires_at=session_expires_at,
    )


@dataclass(frozen=True)
class Checked:
    """A credential as PostgreSQL knows it now, and until when it may be trusted without asking again."""

    principal: Principal
    valid_until: datetime


async def check_session(session_token: str, *, pool: AsyncConnectionPool | None = None) -> Checked | None:
    if not session_token or len(session_token) != SESSION_TOKEN_LENGTH:
        return None
    now = datetime.now(UTC)
    async with (await _pool(pool)).connection() as conn:
        cur = conn.cursor(row_factory=dict_row)
        row = await (
            await cur.execute(
                "SELECT s.id AS session_id, s.expires_at, s.idle_expires_at, s.last_seen_at,"
                " u.id, u.email, u.name, u.role, u.disabled_at"
                " FROM user_session s JOIN app_user u ON u.id = s.user_id"
                " WHERE s.token_hash = %s AND s.revoked_at IS NULL",
                (hash_secret(session_token),),
            )
        ).fetchone()
        if row is None or row["disabled_at"] is not None or now >= min(row["expires_at"], row["idle_expires_at"]):
            return None
        idle_expires_at = row["idle_expires_at"]
        if (now - row["last_seen_at"]).total_seconds() >= TOUCH_INTERVAL_S:
            idle_expires_at = min(row["expires_at"], now + timedelta(seconds=get_settings().session_idle_timeout_s))
            await conn.execute(
                "UPDATE user_session SET last_seen_at = %s, idle_expires_at = %s WHERE id = %s",
                (now, idle_expires_at, row["session_id"]),
            )
            await conn.commit()
    principal = _principal(row, "session", row["session_id"], session_expires_at=row["expires_at"])
    return Checked(principal, min(row["expires_at"], idle_expires_at))


async def check_api_token(token: str, *, pool: AsyncConnectionPool | None = None) -> Checked | None:
    if not looks_like_api_token(token):
        return None
    now = datetime.now(UTC)
    async with (await _pool(pool)).connection() as conn:
        cur = conn.cursor(row_factory=dict_row)
        row = await (
            await cur.execute(
                "SELECT t.id AS token_id, t.name AS token_name, t.expires_at, t.last_used_at,"
                " u.id, u.email, u.name, u.role, u.disabled_at"
                " FROM api_token t JOIN app_user u ON u.id = t.user_id"
                " WHERE t.token_hash = %s AND t.revoked_at IS NULL",
                (hash_secret(token),),
            )
        ).fetchone()
        if (
            row is None
            or row["disabled_at"] is not None
            or (row["expires_at"] is not None and now >= row["expires_at"])
        ):
            return None
        if row["last_used_at"] is None or (now - row["last_used_at"]).total_seconds() >= TOUCH_INTERVAL_S:
            await conn.execute("UPDATE api_token SET last_used_at = %s WHERE id = %s", (now, row["token_id"]))
            await conn.commit()
    principal = _principal(row, "token", row["token_id"], token_name=row["token_name"])
    return Checked(principal, row["expires_at"] or datetime.max.replace(tzinfo=UTC))


def require_principal(principal: Principal | None) -> Principal:
    if principal is None:
        raise NotAuthenticated("Sign in, or send an API token as 'Authorization: Bearer <token>'.")
    return principal
