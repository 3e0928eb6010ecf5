"""PostgreSQL access: the SQLAlchemy engine (psycopg 3, pooled), sessions and the migration check."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path

from sqlalchemy import Engine, create_engine, text
from sqlalchemy.orm import Session

from inventory_app.settings import get_settings

MIGRATIONS_DIR = Path(__file__).resolve().parents[2] / "migrations"


class DatabaseNotMigrated(RuntimeError):
    """The schema is missing or older than the code: run `alembic upgrade head` (make migrate)."""


@lru_cache(maxsize=4)
def get_engine(url: str | None = None) -> Engine:
    settings = get_settings()
    return create_engine(
        url or settings.database_url,
        pool_size=settings.database_pool_size,
        max_overflow=settings.database_pool_size,
        pool_pre_ping=True,
        pool_timeout=10,
        connect_args={
            "connect_timeout": 5,
            "options": f"-c statement_timeout={settings.database_statement_timeout_ms}",
        },
    )


@contextmanager
def session_scope(engine: Engine | None = None) -> Iterator[Session]:
    """A unit of work: commit on success, roll back on any exception."""
    session = Session(engine or get_engine(), expire_on_commit=False)
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def head_revision() -> str:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    head = ScriptDirectory.from_config(config).get_current_head()
    if head is None:
        raise RuntimeError("no migrations found")
    return head


def assert_migrated(engine: Engine | None = None) -> None:
    """Refuse to run against a database whose schema is not at the newest migration."""
    engine = engine or get_engine()
    expected = head_revision()
    with engine.connect() as connection:
        has_table = connection.execute(text("SELECT to_regclass('public.alembic_version')")).scalar()
        current = connection.execute(text("SELECT version_num FROM alembic_version")).scalar() if has_table else None
    if current != expected:
        raise DatabaseNotMigrated(
            f"The database is not migrated (at {current or 'nothing'}, code expects {expected}). "
            "Run `make migrate` (alembic upgrade head) first."
        )
