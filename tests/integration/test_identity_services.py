"""Identity use cases against the test database: hashing, expiry, bookkeeping and the per-address limit."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from inventory_app.domain.errors import InvalidCredentials, TooManyAttempts
from inventory_app.domain.identity import SYSTEM
from inventory_app.services import identity
from inventory_app.services.identity import ClientInfo
from tests.support import call_async_service

PASSWORD = "a long enough test password"


def _user(role: str = "viewer") -> str:
    email = f"svc-{uuid.uuid4().hex[:10]}@tests.example"
    call_async_service(identity.create_user, {"email": email, "role": role, "password": PASSWORD}, by=SYSTEM)
    return email


def _sign_in(email: str, password: str = PASSWORD, ip: str = "198.51.100.1") -> identity.SignedIn:
    return call_async_service(identity.sign_in, {"email": email, "password": password}, client=ClientInfo(ip=ip))


def test_passwords_are_stored_as_argon2id_and_never_in_clear(engine) -> None:
    email = _user()
    with engine.connect() as connection:
        stored = connection.execute(text("SELECT password_hash FROM app_user WHERE email = :e"), {"e": email})
        hashed = stored.scalar_one()
    assert hashed.startswith("$argon2id$") and PASSWORD not in hashed


def test_every_sign_in_starts_a_new_session_stored_only_as_a_hash(engine) -> None:
    email = _user()
    first, second = _sign_in(email), _sign_in(email)
    assert first.session_token != second.session_token
    with engine.connect() as connection:
        hashes = connection.execute(
            text("SELECT token_hash FROM user_session s JOIN app_user u ON u.id = s.user_id WHERE u.email = :e"),
            {"e": email},
        ).scalars()
        assert set(hashes) == {identity.hash_secret(first.session_token), identity.hash_secret(second.session_token)}


def test_a_session_ends_when_idle_or_at_its_absolute_expiry(engine) -> None:
    email = _user()
    idle, absolute = _sign_in(email), _sign_in(email)
    assert call_async_service(identity.check_session, idle.session_token) is not None
    past = datetime.now(UTC) - timedelta(seconds=1)
    with engine.begin() as connection:
        for signed_in, column in ((idle, "idle_expires_at"), (absolute, "expires_at")):
            connection.execute(
                text(f"UPDATE user_session SET {column} = :t WHERE token_hash = :h"),
                {"t": past, "h": identity.hash_secret(signed_in.session_token)},
            )
    assert call_async_service(identity.check_session, idle.session_token) is None
    assert call_async_service(identity.check_session, absolute.session_token) is None


def test_use_pushes_the_idle_expiry_forward_but_writes_at_most_once_a_minute(engine) -> None:
    signed_in = _sign_in(_user())
    token_hash = identity.hash_secret(signed_in.session_token)
    a_while_ago = datetime.now(UTC) - timedelta(minutes=5)
    with engine.begin() as connection:
        connection.execute(
            text("UPDATE user_session SET last_seen_at = :t, idle_expires_at = :i WHERE token_hash = :h"),
            {"t": a_while_ago, "i": datetime.now(UTC) + timedelta(minutes=1), "h": token_hash},
        )
    call_async_service(identity.check_session, signed_in.session_token)
    read = text("SELECT last_seen_at, idle_expires_at FROM user_session WHERE token_hash = :h")
    with engine.connect() as connection:
        seen, idle = connection.execute(read, {"h": token_hash}).one()
    assert seen > a_while_ago and idle > datetime.now(UTC) + timedelta(minutes=30)
    call_async_service(identity.check_session, signed_in.session_token)
    with engine.connect() as connection:
        assert connection.execute(read, {"h": token_hash}).one()[0] == seen  # within the minute: not rewritten


def test_a_token_expires_and_its_last_use_is_recorded_at_most_once_a_minute(engine) -> None:
    email = _user("editor")
    token = call_async_service(identity.create_token_for, email, "expiring", expires_in_days=1)
    assert call_async_service(identity.check_api_token, token["token"]) is not None
    read = text("SELECT last_used_at FROM api_token WHERE id = :id")
    with engine.connect() as connection:
        used = connection.execute(read, {"id": token["id"]}).scalar_one()
    assert used is not None
    call_async_service(identity.check_api_token, token["token"])
    with engine.begin() as connection:
        assert connection.execute(read, {"id": token["id"]}).scalar_one() == used
        connection.execute(
            text("UPDATE api_token SET expires_at = :t WHERE id = :id"),
            {"t": datetime.now(UTC) - timedelta(seconds=1), "id": token["id"]},
        )
    assert call_async_service(identity.check_api_token, token["token"]) is None


def test_sign_in_is_rate_limited_per_client_address(settings, monkeypatch) -> None:
    monkeypatch.setattr(settings, "signin_max_failures_per_address", 3)
    address = f"203.0.113.{uuid.uuid4().int % 250 + 1}"
    for _ in range(3):
        with pytest.raises(InvalidCredentials):
            _sign_in(_user(), "wrong password", ip=address)
    with pytest.raises(TooManyAttempts) as refused:
        _sign_in(_user(), ip=address)  # another account, right password, same address
    assert refused.value.retry_after_s >= 1
    assert _sign_in(_user(), ip="198.51.100.2").session_token  # other addresses are not affected


def test_the_process_that_revokes_a_token_refuses_it_on_its_very_next_check() -> None:
    """No waiting for the NOTIFY round trip where the revocation happened (other processes: within 1 s)."""
    from inventory_app.domain.errors import NotAuthenticated
    from inventory_app.services import credentials

    email = _user("editor")
    made = call_async_service(identity.create_token_for, email, "revoked at once")
    from inventory_app.bootstrap import wiring

    cache = wiring().credential_cache
    cache.activate()  # as the app's change feed does while its LISTEN connection is up
    try:
        first = call_async_service(credentials.authenticate, bearer=made["token"], session=None)
        assert first.email == email
        assert cache.get(identity.hash_secret(f"t:{made['token']}")) is not None  # cached: no NOTIFY in this process
        owner = call_async_service(identity.principal_for_email, email)
        call_async_service(identity.revoke_token, owner, made["id"])
        with pytest.raises(NotAuthenticated):
            call_async_service(credentials.authenticate, bearer=made["token"], session=None)
    finally:
        cache.deactivate()
