"""The app announces its own commits after them (one notice per commit, not a trigger per row inside it);
every other writer is still announced by the tables' triggers (migration 0010)."""

from __future__ import annotations

import uuid

import psycopg

from inventory_app.adapters.commit_notices import SESSION_SETTING
from inventory_app.adapters.outbox import psycopg_url
from inventory_app.services import products, stock
from tests.support import TEST_EDITOR, call_async_service


def drain(listener: psycopg.Connection, timeout_s: float = 1.0) -> list[tuple[str, str]]:
    """Every notification that arrives within `timeout_s` of the last one."""
    return [(n.channel, n.payload) for n in listener.notifies(timeout=timeout_s)]


def test_a_service_change_is_announced_once_after_commit_with_its_events(settings) -> None:
    with psycopg.connect(psycopg_url(settings.database_url), autocommit=True) as listener:
        listener.execute("LISTEN product_changes")
        listener.execute("LISTEN outbox")
        created = call_async_service(
            products.create_product,
            {"sku": f"NOTICE-{uuid.uuid4().hex[:10]}", "name": "Announced", "price": "1.00", "quantity": 3},
            by=TEST_EDITOR,
        ).body
        assert drain(listener) == [("product_changes", created["id"]), ("outbox", "")]
        call_async_service(stock.adjust_stock, created["id"], {"delta": 2, "reason": "received"}, by=TEST_EDITOR)
        # The product row and its stock level both changed: one notice names it once (the triggers sent two).
        assert drain(listener) == [("product_changes", created["id"]), ("outbox", "")]


def test_other_writers_are_still_announced_by_the_triggers_and_the_app_sessions_are_not(settings) -> None:
    product_id = call_async_service(
        products.create_product,
        {"sku": f"NOTICE-{uuid.uuid4().hex[:10]}", "name": "Written by hand", "price": "1.00"},
        by=TEST_EDITOR,
    ).body["id"]
    url = psycopg_url(settings.database_url)
    with psycopg.connect(url, autocommit=True) as listener:
        listener.execute("LISTEN product_changes")
        drain(listener, 0.2)
        with psycopg.connect(url) as psql:  # a session like psql's: no setting, so the triggers speak
            psql.execute("UPDATE product SET name = 'By hand' WHERE id = %s", (product_id,))
        assert drain(listener) == [("product_changes", product_id)]
        with psycopg.connect(url, options=f"-c {SESSION_SETTING}=on") as app_session:
            app_session.execute("UPDATE product SET name = 'By the app' WHERE id = %s", (product_id,))
        assert drain(listener, 0.5) == [], "the triggers fired for a session that announces its own commits"


def test_the_sender_announces_on_its_own_connection_and_lets_it_go_when_idle(settings, monkeypatch) -> None:
    """In a server process the sender's NOTIFYs go out on one autocommit connection of its own (no pool
    checkout, no BEGIN/COMMIT per send), which closes once nothing has been sent for IDLE_CLOSE_S."""
    import asyncio
    import functools

    from inventory_app.adapters import commit_notices
    from inventory_app.adapters.commit_notices import CommitNotices
    from inventory_app.adapters.pg_pool import close_pool, get_pool, notice_connection

    monkeypatch.setattr(commit_notices, "IDLE_CLOSE_S", 0.5)
    url = psycopg_url(settings.database_url)
    product = str(uuid.uuid4())

    def session(conn: psycopg.Connection, pid: int) -> tuple[str, str] | None:
        return conn.execute("SELECT application_name, state FROM pg_stat_activity WHERE pid = %s", (pid,)).fetchone()

    async def announce_then_idle(probe: psycopg.Connection) -> tuple[tuple[str, str] | None, ...]:
        notices = CommitNotices(get_pool, functools.partial(notice_connection, settings))
        sender = asyncio.create_task(notices.run_forever())
        await asyncio.sleep(0)
        try:
            await notices.committed([product], events=True)
            assert notices._conn is not None, "announced without a connection of its own"
            pid = notices._conn.info.backend_pid
            while_busy = session(probe, pid)
            await asyncio.sleep(1.5)  # past IDLE_CLOSE_S without a send
            return while_busy, session(probe, pid)
        finally:
            sender.cancel()
            await asyncio.gather(sender, return_exceptions=True)
            await close_pool()

    with psycopg.connect(url, autocommit=True) as listener, psycopg.connect(url, autocommit=True) as probe:
        listener.execute("LISTEN product_changes")
        listener.execute("LISTEN outbox")
        while_busy, idle = asyncio.run(announce_then_idle(probe))
        assert drain(listener) == [("product_changes", product), ("outbox", "")]
    assert while_busy == ("inventory-commit-notices", "idle")  # autocommit: no transaction left open
    assert idle is None
