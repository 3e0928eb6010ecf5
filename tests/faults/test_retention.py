"""Retention keeps up with sustained writes: what is done is deleted as fast as it comes due.

The app here cannot write 1,000 changes a second, so the test writes what such a load leaves behind
straight into the tables: outbox rows whose retention has just run out and idempotency keys that have just
expired, 1,000 of each a second for a minute. The running app's sweeper must hold both tables to a bounded
backlog (the old relay clean-up, 5,000 rows every 30 s, left ~50,000 of each after the minute).
"""

from __future__ import annotations

import time
import uuid

import psycopg
import pytest

from inventory_app.adapters.outbox import psycopg_url
from tests.conftest import wait_for

pytestmark = pytest.mark.faults

RATE_PER_S = 1000
SECONDS = 60
TICK_S = 0.1
# The sweeper sleeps RETENTION_INTERVAL_S (5 s) when it has caught up: ~5,000 rows may wait for it, plus
# what arrives while a sweep runs. Four times that still tells keeping up from falling behind.
BOUND = 20_000

INSERT_OUTBOX = """
INSERT INTO outbox (event_id, aggregate_id, event_type, payload, created_at, published_at)
SELECT gen_random_uuid(), %(aggregate)s, 'ProductUpdated', '{}'::jsonb, now(),
       now() - make_interval(secs => %(keep)s + 1)
FROM generate_series(1, %(n)s)
"""
INSERT_KEYS = """
INSERT INTO idempotency_key (scope, key, request_hash, response_status, response_body, created_at, expires_at)
SELECT %(scope)s, gen_random_uuid()::text, 'x', 201, '{}'::jsonb, now() - interval '1 day', now() - interval '1 s'
FROM generate_series(1, %(n)s)
"""


def counts(conn: psycopg.Connection, aggregate: uuid.UUID, scope: str) -> tuple[int, int]:
    outbox = conn.execute("SELECT count(*) FROM outbox WHERE aggregate_id = %s", (aggregate,)).fetchone()[0]
    keys = conn.execute("SELECT count(*) FROM idempotency_key WHERE scope = %s", (scope,)).fetchone()[0]
    return outbox, keys


def test_a_minute_of_1000_writes_a_second_leaves_the_outbox_and_the_keys_bounded(app_url: str, settings) -> None:
    aggregate, scope = uuid.uuid4(), f"retention-test-{uuid.uuid4().hex[:8]}"
    params = {"aggregate": aggregate, "keep": settings.outbox_retention_s, "scope": scope}
    peak = (0, 0)
    inserted = 0
    with psycopg.connect(psycopg_url(settings.database_url), autocommit=True) as conn:
        started = time.monotonic()
        next_sample = started
        while (elapsed := time.monotonic() - started) < SECONDS:
            # Paced on the clock: a slow insert makes the next one bigger, so the rate holds.
            due = min(int(elapsed * RATE_PER_S) + int(TICK_S * RATE_PER_S), SECONDS * RATE_PER_S) - inserted
            if due > 0:
                conn.execute(INSERT_OUTBOX, {**params, "n": due})
                conn.execute(INSERT_KEYS, {**params, "n": due})
                inserted += due
            if time.monotonic() >= next_sample:
                now = counts(conn, aggregate, scope)
                peak = (max(peak[0], now[0]), max(peak[1], now[1]))
                next_sample += 2.0
            time.sleep(max(0.0, TICK_S - (time.monotonic() - started - elapsed)))
        took = time.monotonic() - started
        left = counts(conn, aggregate, scope)
        print(f"inserted {inserted} of each in {took:.1f}s; peak backlog {peak}; left at the end {left}")
        assert inserted == SECONDS * RATE_PER_S and took < SECONDS * 1.1, "the test could not write at the rate"
        assert peak[0] <= BOUND, f"the outbox grew to {peak[0]} rows"
        assert peak[1] <= BOUND, f"idempotency keys grew to {peak[1]}"
        # And it is deleting, not just slow: everything due is gone within a few intervals.
        wait_for(lambda: counts(conn, aggregate, scope) == (0, 0), 30, 0.5, "the backlog to be swept")


def test_the_analytics_worker_forgets_processed_events_by_age(workers, settings) -> None:
    keep = settings.analytics_dedup_retention_s
    old = [uuid.uuid4() for _ in range(2000)]
    recent = [uuid.uuid4() for _ in range(10)]
    with psycopg.connect(psycopg_url(settings.database_url), autocommit=True) as conn:
        with conn.cursor() as cursor:
            cursor.executemany(
                "INSERT INTO analytics_processed_event (event_id, event_type, processed_at)"
                " VALUES (%s, 'ProductUpdated', now() - make_interval(secs => %s))",
                [(event_id, keep + 60) for event_id in old] + [(event_id, keep - 600) for event_id in recent],
            )

        def present(ids: list[uuid.UUID]) -> int:
            query = "SELECT count(*) FROM analytics_processed_event WHERE event_id = ANY(%s)"
            return conn.execute(query, (ids,)).fetchone()[0]

        wait_for(lambda: present(old) == 0, 30, 0.5, "processed-event records past retention to be pruned")
        assert present(recent) == len(recent), "a record younger than the retention was pruned"
        conn.execute("DELETE FROM analytics_processed_event WHERE event_id = ANY(%s)", (recent,))
