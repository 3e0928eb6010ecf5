"""`python -m backend_workers.notifier --rebuild` refills the event table and archive from the topic, idempotently."""

from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter

from inventory_app.adapters import aws, event_log
from inventory_app.domain.history import history_completeness
from tests.conftest import REPO_ROOT, commit_group_at_end, wait_for
from tests.support import make_product_events, run_async
from tests.worker_support import (
    NOTIFIER,
    archived_event_ids,
    produce_events,
    read_messages,
    stored_event_ids,
)


def rebuild(stores) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", NOTIFIER, "--rebuild"],
        cwd=REPO_ROOT,
        env={**os.environ, **stores.notifier_env()},
        capture_output=True,
        text=True,
        timeout=120,
    )


def archive_objects(settings, bucket: str) -> dict[str, str]:
    async def listing() -> dict[str, str]:
        async with aws.s3_client(settings) as client:
            response = await client.list_objects_v2(Bucket=bucket, Prefix="events/")
            return {entry["Key"]: entry["ETag"] for entry in response.get("Contents", [])}

    return run_async(listing())


def versions_of(settings, table: str, product_id: str) -> set[int]:
    async def read() -> set[int]:
        async with aws.dynamodb_client(settings) as client:
            return await event_log.product_versions(client, table, product_id, 10_000)

    return run_async(read())


def test_the_rebuild_writes_every_event_of_the_topic_to_the_table_and_the_archive(settings, stores) -> None:
    events = make_product_events(120, products=4)
    produce_events(settings, stores.product_events, events)

    done = rebuild(stores)

    assert done.returncode == 0, done.stderr
    assert "rebuild [" in done.stderr and "100%" in done.stderr  # the progress bar
    assert "120 new" in done.stderr
    assert sorted(stored_event_ids(settings, stores.table)) == sorted(e["id"] for e in events)
    copies, unique = archived_event_ids(settings, stores.bucket)
    assert sorted(unique) == sorted(e["id"] for e in events)
    assert set(copies.values()) == {1}


def test_a_second_rebuild_changes_nothing(settings, stores) -> None:
    events = make_product_events(60, products=3)
    produce_events(settings, stores.product_events, events)
    assert rebuild(stores).returncode == 0
    items_before = Counter(stored_event_ids(settings, stores.table))
    archive_before = archive_objects(settings, stores.bucket)

    again = rebuild(stores)

    assert again.returncode == 0, again.stderr
    assert "0 new, 60 already there" in again.stderr
    assert Counter(stored_event_ids(settings, stores.table)) == items_before
    assert archive_objects(settings, stores.bucket) == archive_before  # same keys, same bytes


def test_a_notifier_that_finds_its_table_missing_rebuilds_it_before_joining_its_group(
    settings, stores, start_worker
) -> None:
    events = make_product_events(40, products=2)
    produce_events(settings, stores.product_events, events)
    # The group is already at the end of the topic: only the rebuild can bring these events back.
    commit_group_at_end(settings, stores.group, stores.product_events)

    notifier = start_worker(NOTIFIER, stores.notifier_env(NOTIFIER_REBUILD_ON_START="true"))
    notifier.wait_for_log("partitions assigned", 90)

    log = notifier.log()
    assert log.index("rebuilding the event table") < log.index("partitions assigned")
    assert sorted(stored_event_ids(settings, stores.table)) == sorted(e["id"] for e in events)
    product_id = events[0]["subject"]
    current = max(e["data"]["product"]["version"] for e in events if e["subject"] == product_id)
    assert history_completeness(versions_of(settings, stores.table, product_id), current).complete
    wait_for(lambda: archived_event_ids(settings, stores.bucket)[1], 10, 0.3, "the archive")
    assert read_messages(settings, stores.notifications) == []  # no notices for replayed history
