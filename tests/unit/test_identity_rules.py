"""Identity rules without I/O: roles, actors, input rules, credential parsing and the credential cache."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from inventory_app.api.routes.auth import safe_next
from inventory_app.domain.errors import PermissionDenied, ValidationFailed
from inventory_app.domain.identity import (
    SYSTEM,
    Principal,
    Role,
    normalize_email,
    validate_new_password,
    validate_token_request,
)
from inventory_app.services.credential_cache import CredentialCache
from inventory_app.services.credentials import bearer_token, session_from_cookie_header
from inventory_app.services.identity import Checked, hash_secret, looks_like_api_token

USER_ID = uuid.UUID("0b6f2c1e-4d3a-4e5f-8a9b-1c2d3e4f5a60")


def principal(role: Role, via: str = "session", token_name: str | None = None) -> Principal:
    return Principal(USER_ID, "ana@example.com", "Ana", role, via, uuid.uuid4(), token_name)


def test_roles_include_the_ones_below_them() -> None:
    assert Role.ADMIN.includes(Role.EDITOR) and Role.EDITOR.includes(Role.VIEWER)
    assert not Role.VIEWER.includes(Role.EDITOR) and not Role.EDITOR.includes(Role.ADMIN)


def test_require_refuses_a_lower_role_naming_both() -> None:
    principal(Role.EDITOR).require(Role.EDITOR)
    with pytest.raises(PermissionDenied, match=r"viewer.*editor"):
        principal(Role.VIEWER).require(Role.EDITOR)


def test_actors_are_the_contracts_shape() -> None:
    assert principal(Role.EDITOR).actor.to_json() == {"type": "user", "id": str(USER_ID), "name": "ana@example.com"}
    token = principal(Role.EDITOR, "token", "scanner").actor.to_json()
    assert token == {"type": "token", "id": str(USER_ID), "name": "scanner (ana@example.com)"}
    assert SYSTEM.actor.to_json() == {"type": "system", "id": None, "name": "system"}


def test_emails_are_lower_cased_and_checked() -> None:
    assert normalize_email("  Ana@Example.COM ") == "ana@example.com"
    for bad in ("ana", "ana@example", "a b@example.com", "x" * 250 + "@example.com", 7):
        with pytest.raises(ValidationFailed):
            normalize_email(bad)


def test_passwords_need_12_to_1024_characters() -> None:
    assert validate_new_password("correct horse battery") == "correct horse battery"
    for bad in ("short", "x" * 1025, None, "twelve chars\x00"):
        with pytest.raises(ValidationFailed) as failure:
            validate_new_password(bad)
        assert failure.value.errors[0].field == "password"


def test_token_requests() -> None:
    assert validate_token_request({"name": " scanner ", "expires_in_days": 90}) == ("scanner", 90)
    assert validate_token_request({"name": "nightly"}) == ("nightly", None)
    refused = [
        ({"name": ""}, "name"),
        ({"name": "x", "expires_in_days": 0}, "expires_in_days"),
        ({"name": "x", "expires_in_days": True}, "expires_in_days"),
        ({"name": "x", "y": 1}, "y"),
    ]
    for bad, field in refused:
        with pytest.raises(ValidationFailed) as failure:
            validate_token_request(bad)
        assert failure.value.errors[0].field == field


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("/products/1?x=2", "/products/1?x=2"),
        ("/", "/"),
        ("//evil.example", "/"),
        ("/\\evil", "/"),
        ("https://evil.example/", "/"),
        ("", "/"),
        (None, "/"),
        ("/a\r\nSet-Cookie: x", "/"),
    ],
)
def test_next_is_always_a_path_on_this_site(value: str | None, expected: str) -> None:
    assert safe_next(value) == expected


def test_credentials_are_read_from_the_headers() -> None:
    assert bearer_token("Bearer inv_abc") == "inv_abc"
    assert bearer_token("bearer  inv_abc ") == "inv_abc"
    assert bearer_token("Basic abc") == ""  # sent, but not a bearer token: refused, never ignored
    assert bearer_token(None) is None
    assert session_from_cookie_header("a=1; inventory_session=xyz; b=2") == "xyz"
    assert session_from_cookie_header("inventory_sessionx=1") is None
    assert looks_like_api_token("inv_" + "a" * 43) and not looks_like_api_token("inv_short")
    assert hash_secret("x") == hash_secret("x") != "x" and len(hash_secret("x")) == 64


def test_the_credential_cache_is_off_until_activated_and_forgets_on_every_change() -> None:
    cache = CredentialCache(ttl_s=30.0)
    checked = Checked(principal(Role.VIEWER), datetime.now(UTC) + timedelta(hours=1))
    cache.put("k", checked, cache.generation)
    assert cache.get("k") is None  # not listening for revocations: nothing is cached
    cache.activate()
    cache.put("k", checked, cache.generation)
    assert cache.get("k") == checked.principal
    cache.clear()  # a credential_changes notification
    assert cache.get("k") is None
    stale = cache.generation
    cache.clear()  # a change while a lookup was in flight: its answer is not stored
    cache.put("k", checked, stale)
    assert cache.get("k") is None
    cache.put("expired", Checked(checked.principal, datetime.now(UTC) - timedelta(seconds=1)), cache.generation)
    assert cache.get("expired") is None
    cache.put("k", checked, cache.generation)
    cache.deactivate()
    assert cache.get("k") is None
