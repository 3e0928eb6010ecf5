"""The migration check: the app and the workers refuse to start on a schema older than the code.

Runtime data access is the async psycopg pool (`adapters/pg_pool.py`), one per process. This check runs once
at start on a short-lived connection of its own, so it needs no pool.
"""

from __future__ import annotations

from pathlib import Path

import psycopg

from inventory_app.adapters.outbox import psycopg_url
from inventory_app.settings import get_settings

MIGRATIONS_DIR = Path(__file__).resolve().parents[2] / "migrations"


class DatabaseNotMigrated(RuntimeError):
    """The schema is missing or older than the code: run `alembic upgrade head` (make migrate)."""


def head_revision() -> str:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    head = ScriptDirectory.from_config(config).get_current_head()
    if head is None:
        raise RuntimeError("no migrations found")
    return head


def assert_migrated(database_url: str | None = None) -> None:
    """Refuse to run against a database whose schema is not at the newest migration."""
    expected = head_revision()
    url = psycopg_url(database_url or get_settings().database_url)
    with psycopg.connect(url, connect_timeout=5) as connection:
        has_table = connection.execute("SELECT to_regclass('public.alembic_version')").fetchone()[0]
        current = connection.execute("SELECT version_num FROM alembic_version").fetchone()[0] if has_table else None
    if current != expected:
        raise DatabaseNotMigrated(
            f"The database is not migrated (at {current or 'nothing'}, code expects {expected}). "
            "Run `make migrate` (alembic upgrade head) first."
        )
