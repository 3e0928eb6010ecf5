"""The benchmarks' caller: an editor in the bench database and an API token made for this run only.

Made through the identity service, as the CLI does (`users create --role editor`, `tokens create`), acting
as `system`. The user is created once and kept (idempotent: made an enabled editor again if someone
changed it); the token is new every run, expires after a day, and `revoke` ends it when the run is over.
No secret is written anywhere: the token lives in this process and in the load generators' arguments.
"""

from __future__ import annotations

import secrets
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import TypeVar

from inventory_app.adapters.pg_pool import run_with_pool
from inventory_app.domain.errors import DuplicateEmail
from inventory_app.domain.identity import SYSTEM
from inventory_app.services import identity
from inventory_app.settings import get_settings

EMAIL = "bench-editor@example.com"
T = TypeVar("T")


@dataclass(frozen=True, repr=False)
class BenchToken:
    token: str  # the secret: never printed
    token_id: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def __repr__(self) -> str:  # a stray print of the object must not show the secret
        return f"BenchToken(token_id={self.token_id!r})"


def _run(coroutine: Awaitable[T]) -> T:
    get_settings.cache_clear()  # DATABASE_URL was just pointed at the bench database
    return run_with_pool(coroutine)


async def _ensure_editor() -> None:
    # The password is random and thrown away: the bench only ever uses API tokens.
    payload = {"email": EMAIL, "name": "make bench", "role": "editor", "password": secrets.token_urlsafe(24)}
    try:
        await identity.create_user(payload, by=SYSTEM)
    except DuplicateEmail:
        user = await identity.principal_for_email(EMAIL)
        await identity.update_user(user.user_id, {"role": "editor", "disabled": False}, by=SYSTEM)


async def _new_token(run: str) -> BenchToken:
    await _ensure_editor()
    created = await identity.create_token_for(EMAIL, f"make bench {run}", expires_in_days=1)
    return BenchToken(created["token"], str(created["id"]))


def new_token(run: str) -> BenchToken:
    """An enabled editor (created if missing) and a fresh API token of theirs for run `run`."""
    return _run(_new_token(run))


async def _revoke(token: BenchToken) -> None:
    await identity.revoke_token(await identity.principal_for_email(EMAIL), token.token_id)


def revoke(token: BenchToken) -> None:
    _run(_revoke(token))
