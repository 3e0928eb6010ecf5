"""The fault suite never disturbs `make dev`: a stand-in dev stack keeps answering while the test stack's
Kafka, PostgreSQL and moto are stopped and started, and its products, event log and archive stay as they were.

The stand-in is a third stack (`devlike`, its own ports and folder) started by this test, so the check
never depends on, or touches, a real developer's data; it runs what `make dev` runs: the app (with its
outbox relay) and the notifier, on the dev names for topics, table and bucket.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator

import httpx
import pytest

from devstack.app_process import AppProcess
from devstack.config import StackConfig
from devstack.services import all_services
from inventory_app.settings import Settings
from tests.conftest import REPO_ROOT, STACK, devstack, wait_for
from tests.support import WorkerProcess, read_topic, run_async
from tests.worker_support import archived_event_ids, stored_event_ids

pytestmark = pytest.mark.faults

DEVLIKE = StackConfig(name="devlike", port_offset=300)
DEVLIKE_APP_PORT = 3430
SEEDED_PRODUCTS = 8
READ_BUDGET_S = 1.0


def _dev_default(name: str) -> str:
    return str(Settings.model_fields[name].default)


def devlike_env() -> dict[str, str]:
    """What `make dev` gives the app and workers, on the stand-in stack's addresses."""
    return {
        **DEVLIKE.env_exports(),
        "DEVSTACK_STACK": DEVLIKE.name,
        "DEVSTACK_PORT_OFFSET": str(DEVLIKE.port_offset),
        # A smaller broker heap: this third stack only lives for one test.
        "DEVSTACK_KAFKA_HEAP": "256m",
        **{
            name.upper(): _dev_default(name)
            for name in (
                "kafka_topic_product_events",
                "kafka_topic_notifications",
                "kafka_topic_dead_letters",
                "dynamodb_events_table",
                "s3_archive_bucket",
                "notifier_group_id",
                "analytics_group_id",
            )
        },
        "NOTIFIER_REBUILD_ON_START": "true",
        "NOTIFIER_METRICS_PORT": "0",
        "APP_PORT": str(DEVLIKE_APP_PORT),
        "APP_PUBLIC_URL": f"http://127.0.0.1:{DEVLIKE_APP_PORT}",
        "GRANIAN_WORKERS": "1",
        "REFLEX_WEB_WORKDIR": str(DEVLIKE.state_dir / "web"),
        "REFLEX_STATES_WORKDIR": str(DEVLIKE.state_dir / "states"),
    }


def run(env: dict[str, str], *args: str) -> None:
    subprocess.run([sys.executable, *args], cwd=REPO_ROOT, env={**os.environ, **env}, check=True, timeout=300)


def developer_token(env: dict[str, str]) -> dict[str, str]:
    """A viewer and an API token in the stand-in's database, made with the CLI as a developer would."""
    email = f"developer-{uuid.uuid4().hex[:8]}@devlike.example"
    run(env, "-m", "inventory_app.cli", "users", "create", "--role", "viewer", email, "--generate-password")
    made = subprocess.run(
        [sys.executable, "-m", "inventory_app.cli", "tokens", "create", "--user", email, "--name", "reads"],
        cwd=REPO_ROOT,
        env={**os.environ, **env},
        check=True,
        timeout=120,
        capture_output=True,
        text=True,
    )
    return {"Authorization": f"Bearer {made.stdout.strip().splitlines()[-1]}"}


@pytest.fixture(scope="module")
def devlike() -> Iterator[tuple[AppProcess, dict[str, str], dict[str, str]]]:
    env = devlike_env()
    run(env, "-m", "devstack", "up")
    app = notifier = None
    try:
        run(env, "-m", "alembic", "upgrade", "head")
        run(env, "-m", "inventory_app.cli", "seed", "--products", str(SEEDED_PRODUCTS), "--seed", "12")
        headers = developer_token(env)
        app = AppProcess(DEVLIKE_APP_PORT, DEVLIKE.logs_dir / f"app-{DEVLIKE_APP_PORT}.log", env)
        app.start()
        notifier = WorkerProcess("backend_workers.notifier", env, "devlike-notifier").start()
        notifier.wait_for_log("partitions assigned", 120)
        yield app, headers, env
    finally:
        if notifier is not None:
            notifier.kill()
        if app is not None:
            app.stop()
        run(env, "-m", "devstack", "down")


class _Reads:
    """Reads the stand-in app over and over from a thread; keeps every status and the slowest answer."""

    def __init__(self, url: str, product_id: str, headers: dict[str, str]) -> None:
        self.headers = headers
        self.paths = ["/api/products?limit=5", f"/api/products/{product_id}", f"/api/products/{product_id}/events"]
        self.url = url
        self.statuses: Counter = Counter()
        self.slowest_s = 0.0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        with httpx.Client(base_url=self.url, timeout=5, headers=self.headers) as client:
            while not self.stop.is_set():
                for path in self.paths:
                    started = time.monotonic()
                    try:
                        self.statuses[client.get(path).status_code] += 1
                    except httpx.HTTPError as error:
                        self.statuses[type(error).__name__] += 1
                    self.slowest_s = max(self.slowest_s, time.monotonic() - started)
                time.sleep(0.1)

    def __enter__(self) -> _Reads:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(10)


def _snapshot(app: AppProcess, settings: Settings, headers: dict[str, str]) -> dict[str, object]:
    products = httpx.get(f"{app.url}/api/products", params={"limit": 1}, timeout=5, headers=headers).json()
    return {
        "products": products["count"],
        "event_log": sorted(stored_event_ids(settings, settings.dynamodb_events_table)),
        "archive": sorted(archived_event_ids(settings, settings.s3_archive_bucket)[1]),
    }


def _service_pids(stack: StackConfig) -> dict[str, int | None]:
    return {service.name: service.pid() for service in all_services(stack)}


def test_the_dev_app_answers_throughout_the_fault_suite_and_keeps_its_data(devlike) -> None:
    app, headers, env = devlike
    settings = Settings(**{k.lower(): v for k, v in env.items() if k.lower() in Settings.model_fields})
    assert not set(_service_pids(DEVLIKE).values()) & set(_service_pids(STACK).values())

    def published() -> set[str]:
        messages = run_async(read_topic(settings.kafka_bootstrap_servers, settings.kafka_topic_product_events))
        ids = {m.json()["id"] for m in messages}
        return ids if len(ids) >= SEEDED_PRODUCTS else set()

    topic_ids = wait_for(published, 60, 0.5, "the seeded products' events on the stand-in's topic")
    # The stand-in's notifier is caught up (after rebuilding its table: moto starts empty).
    wait_for(lambda: set(stored_event_ids(settings, settings.dynamodb_events_table)) == topic_ids, 60, 0.5, "log")
    wait_for(lambda: set(archived_event_ids(settings, settings.s3_archive_bucket)[1]) == topic_ids, 60, 0.5, "archive")
    before = _snapshot(app, settings, headers)
    pids_before = _service_pids(DEVLIKE)
    first = httpx.get(f"{app.url}/api/products", params={"limit": 1}, timeout=5, headers=headers)
    product_id = first.json()["data"][0]["id"]

    started = time.monotonic()
    with _Reads(app.url, product_id, headers) as reads:
        for service in ("kafka", "postgres", "aws"):  # what the fault tests stop, on the test stack only
            devstack("stop", service)
            time.sleep(1)
            devstack("start", service)
    assert time.monotonic() - started < 120

    assert set(reads.statuses) == {200}, dict(reads.statuses)
    assert sum(reads.statuses.values()) > 30
    print(f"stand-in reads: {dict(reads.statuses)}, slowest {reads.slowest_s:.3f}s")
    assert reads.slowest_s < READ_BUDGET_S, reads.slowest_s
    assert _service_pids(DEVLIKE) == pids_before
    assert _snapshot(app, settings, headers) == before
