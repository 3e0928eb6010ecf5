"""The schema comes from Alembic, and the app refuses to run on a database that is not at the newest migration."""

from __future__ import annotations

import uuid

import psycopg
import pytest

from inventory_app.adapters.db import DatabaseNotMigrated, assert_migrated, head_revision
from inventory_app.adapters.outbox import psycopg_url


def test_the_test_database_is_at_the_newest_migration(settings) -> None:
    assert_migrated(settings.database_url)


def test_an_unmigrated_database_is_refused_with_a_message_saying_what_to_run(settings) -> None:
    name = f"unmigrated_{uuid.uuid4().hex[:8]}"
    admin_url = psycopg_url(settings.database_url)
    with psycopg.connect(admin_url, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    try:
        with pytest.raises(DatabaseNotMigrated) as refused:
            assert_migrated(settings.database_url.rsplit("/", 1)[0] + f"/{name}")
        assert "make migrate" in str(refused.value)
        assert head_revision() in str(refused.value)
    finally:
        with psycopg.connect(admin_url, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE "{name}"')
