"""Dead letters replayed after a fix: real workers fail some events, the tool fills the holes, nothing doubles.

Each test runs a real worker on its own topics with a bug that fails the events of one product (analytics: a
trigger that refuses them; notifier: its DynamoDB writes refused, put in from outside the code). The worker
dead-letters them and goes on. Then `python -m backend_workers.dead_letters` is run as an operator would:
`list`, a `replay` before the fix (stops at the first, changes nothing), the fix, `replay`, `replay` again.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections import Counter
from pathlib import Path

from tests.conftest import REPO_ROOT, wait_for
from tests.integration.test_analytics_worker import processed_ids
from tests.support import make_product_events, produce_to_partition, run_async
from tests.worker_support import (
    ANALYTICS,
    NOTIFIER,
    archived_event_ids,
    produce_events,
    stored_event_ids,
    wait_for_topic_messages,
)

FAST_GIVE_UP = {"CONSUMER_MAX_ATTEMPTS": "2", "CONSUMER_BACKOFF_INITIAL_S": "0.05"}
NOTIFIER_BUG = Path(__file__).parent / "notifier_bug"


def tool(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "backend_workers.dead_letters", *args],
        cwd=REPO_ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=180,
    )


def listed(env: dict[str, str], worker: str) -> list[dict]:
    result = tool(env, "list", "--worker", worker, "--json")
    assert result.returncode == 0, result.stderr
    return [json.loads(line) for line in result.stdout.splitlines()]


def split_by_product(events: list[dict], broken_product: str) -> tuple[set[str], set[str]]:
    broken = {e["id"] for e in events if e["subject"] == broken_product}
    return broken, {e["id"] for e in events} - broken


def test_analytics_dead_letters_replayed_after_the_fix_fill_the_holes_once(settings, engine, stores, start_worker):
    events = make_product_events(12, products=3)
    broken_product = events[0]["subject"]
    broken, healthy = split_by_product(events, broken_product)
    trigger = f"test_refuse_{uuid.uuid4().hex[:8]}"
    ids = ",".join(f"'{i}'" for i in broken)
    with engine.begin() as connection:
        connection.exec_driver_sql(
            f"CREATE FUNCTION {trigger}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
            f"IF NEW.event_id::text IN ({ids}) THEN RAISE EXCEPTION 'analytics bug (test)'; END IF; "
            f"RETURN NEW; END $$; "
            f"CREATE TRIGGER {trigger} BEFORE INSERT ON analytics_processed_event "
            f"FOR EACH ROW EXECUTE FUNCTION {trigger}()"
        )
    env = stores.analytics_env(**FAST_GIVE_UP)
    try:
        produce_events(settings, stores.product_events, events)
        start_worker(ANALYTICS, env)
        wait_for_topic_messages(settings, stores.dead_letters, lambda m: True, len(broken), timeout_s=90)
        wait_for(lambda: set(processed_ids(engine, list(healthy))) == healthy, 60, 0.3, "the healthy events")
        assert processed_ids(engine, list(broken)) == {}

        rows = listed(env, "analytics")  # at once: the letters are on the topic, committed
        assert {r["event_id"] for r in rows} == broken
        assert not any(r["replayed"] for r in rows)
        assert all("analytics bug (test)" in r["error"] for r in rows)

        still_broken = tool(env, "replay", "--worker", "analytics")
        assert still_broken.returncode == 1 and "failed again" in still_broken.stderr, still_broken.stderr
        assert processed_ids(engine, list(broken)) == {}
    finally:
        with engine.begin() as connection:  # the fix
            connection.exec_driver_sql(f"DROP TRIGGER IF EXISTS {trigger} ON analytics_processed_event")
            connection.exec_driver_sql(f"DROP FUNCTION IF EXISTS {trigger}()")

    fixed = tool(env, "replay", "--worker", "analytics")
    assert fixed.returncode == 0, fixed.stderr
    assert f"replayed {len(broken)} dead letters" in fixed.stderr
    again = tool(env, "replay", "--worker", "analytics")
    assert again.returncode == 0 and "replayed 0 dead letters" in again.stderr, again.stderr

    every = {e["id"] for e in events}
    assert processed_ids(engine, list(every)) == dict.fromkeys(every, 1)
    last = [e for e in events if e["subject"] == broken_product][-1]["data"]["product"]
    with engine.connect() as connection:
        projected = connection.exec_driver_sql(
            "SELECT quantity, version FROM analytics_product_state WHERE product_id::text = %(id)s",
            {"id": broken_product},
        ).one()
    assert tuple(projected) == (last["quantity"], last["version"])
    assert all(r["replayed"] for r in listed(env, "analytics"))


def test_notifier_dead_letters_replayed_after_the_fix_leave_one_copy_in_dynamodb_and_s3(settings, stores, start_worker):
    events = make_product_events(12, products=3)
    broken_product = events[0]["subject"]
    broken, healthy = split_by_product(events, broken_product)
    env = stores.notifier_env(**FAST_GIVE_UP)
    buggy = {
        **env,
        "TEST_NOTIFIER_BUG_PRODUCTS": broken_product,
        "PYTHONPATH": os.pathsep.join([str(NOTIFIER_BUG), str(REPO_ROOT)]),
    }
    produce_events(settings, stores.product_events, events)
    worker = start_worker(NOTIFIER, buggy)
    wait_for_topic_messages(settings, stores.dead_letters, lambda m: True, len(broken), timeout_s=90)
    wait_for(lambda: set(stored_event_ids(settings, stores.table)) == healthy, 60, 0.3, "the healthy events stored")
    wait_for(lambda: set(archived_event_ids(settings, stores.bucket)[1]) == healthy, 60, 0.3, "and archived")
    worker.kill()  # the fixed notifier would be redeployed; the replay does not need it running

    rows = listed(env, "notifier")
    assert {r["event_id"] for r in rows} == broken
    assert all(r["group"] == stores.group for r in rows)

    fixed = tool(env, "replay", "--worker", "notifier")
    assert fixed.returncode == 0, fixed.stderr
    again = tool(env, "replay", "--worker", "notifier")
    assert again.returncode == 0 and "replayed 0 dead letters" in again.stderr, again.stderr

    every = {e["id"] for e in events}
    stored = Counter(stored_event_ids(settings, stores.table))
    copies, unique = archived_event_ids(settings, stores.bucket)
    assert set(stored) == every and max(stored.values()) == 1
    assert set(copies) == every and max(copies.values()) == 1, "an event archived twice"
    assert sorted(unique) == sorted(every)


def test_list_and_replay_start_at_the_first_dead_letter_every_time(settings, stores) -> None:
    """Regression: the tool once started reading at the topic's end (aiokafka answered its seek_to_beginning
    with the "latest" reset already in flight), so `list` showed nothing and `replay` replayed nothing.
    It depended on timing and on which partition held the letters; partition 0, read first, lost most often."""
    events = make_product_events(3, products=1)
    letters = [
        (
            event["subject"].encode(),
            json.dumps(event).encode(),
            [("dlq_worker", b"notifier"), ("dlq_group", stores.group.encode()), ("dlq_error", b"test")],
        )
        for event in events
    ]
    run_async(produce_to_partition(settings.kafka_bootstrap_servers, stores.dead_letters, 0, letters))
    env = stores.notifier_env()
    for _ in range(4):  # each run is a fresh process with fresh partition state
        assert [r["event_id"] for r in listed(env, "notifier")] == [e["id"] for e in events]
    dry = tool(env, "replay", "--worker", "notifier", "--dry-run")
    assert dry.returncode == 0 and "3 dead letters" in dry.stderr, dry.stderr
