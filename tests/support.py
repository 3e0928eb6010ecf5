"""Helpers the integration tests share: reading topics, running worker processes, making events."""

from __future__ import annotations

import asyncio
import atexit
import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaClient, AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from devstack.config import StackConfig

REPO_ROOT = Path(__file__).resolve().parents[1]


def run_async(coroutine: Any) -> Any:
    """Run a coroutine to completion from sync test code, even while Playwright's sync API holds a loop.

    `asyncio.run` refuses to start inside a running event loop (the session's browser keeps one), so the
    coroutine runs on a short-lived thread of its own.
    """
    with ThreadPoolExecutor(max_workers=1) as executor:
        return executor.submit(asyncio.run, coroutine).result()


_service_loop: asyncio.AbstractEventLoop | None = None
_service_loop_lock = threading.Lock()


def call_async_service(function: Callable[..., Awaitable[Any]], *args: Any, **kwargs: Any) -> Any:
    """Call an async use case from sync test code, the way the app does: on one long-lived event loop,
    so its connection pool (one per loop, see adapters.pg_pool) is reused across calls."""
    global _service_loop
    with _service_loop_lock:
        if _service_loop is None:
            _service_loop = asyncio.new_event_loop()
            threading.Thread(target=_service_loop.run_forever, name="test-services", daemon=True).start()
            atexit.register(_close_service_loop)
    return asyncio.run_coroutine_threadsafe(function(*args, **kwargs), _service_loop).result(timeout=60)


def _close_service_loop() -> None:
    from inventory_app.adapters.pg_pool import close_pool

    assert _service_loop is not None
    asyncio.run_coroutine_threadsafe(close_pool(), _service_loop).result(timeout=10)
    _service_loop.call_soon_threadsafe(_service_loop.stop)


def adjust_stock(product_id: str, payload: Any, **kwargs: Any) -> Any:
    """`services.stock.adjust_stock` against the test database, called synchronously (as the test editor
    unless `by` says otherwise)."""
    from inventory_app.services import stock

    kwargs.setdefault("by", TEST_EDITOR)
    return call_async_service(stock.adjust_stock, product_id, payload, **kwargs)


def _test_principal(role: str):
    from inventory_app.domain.identity import Principal, Role

    return Principal(
        user_id=uuid.UUID(int=Role(role).rank + 1),
        email=f"{role}@tests.invalid",
        name=f"test {role}",
        role=Role(role),
        via="session",
    )


# Service-level tests act as these (no account behind them: services take the caller as given, and the
# ledger and outbox record them as the actor). Tests of the HTTP paths use real accounts (`accounts`).
TEST_EDITOR = _test_principal("editor")
TEST_VIEWER = _test_principal("viewer")


@dataclass
class Message:
    topic: str
    partition: int
    offset: int
    key: str | None
    value: bytes
    headers: dict[str, str]

    def json(self) -> Any:
        return json.loads(self.value)


async def topic_partitions(bootstrap: str, topic: str) -> set[int]:
    """The topic's partition numbers from fresh cluster metadata (a consumer without a group has none)."""
    client = AIOKafkaClient(bootstrap_servers=bootstrap)
    await client.bootstrap()
    try:
        metadata = await client.fetch_all_metadata()
        return set(metadata.partitions_for_topic(topic) or set())
    finally:
        await client.close()


async def read_topic(
    bootstrap: str, topic: str, timeout_s: float = 10.0, *, isolation_level: str = "read_committed"
) -> list[Message]:
    """Every message currently on `topic` (up to the end offsets seen at the start), in partition order.

    Read as the contract tells consumers to (read_committed): aborted relay batches are not there. Pass
    `isolation_level="read_uncommitted"` to see what a careless reader would.
    """
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        isolation_level=isolation_level,
    )
    await consumer.start()
    try:
        partitions = await topic_partitions(bootstrap, topic)
        tps = [TopicPartition(topic, p) for p in sorted(partitions)]
        if not tps:
            return []
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        ends = await consumer.end_offsets(tps)
        remaining = {tp for tp in tps if ends[tp] > 0}
        out: list[Message] = []
        deadline = time.monotonic() + timeout_s
        while remaining and time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=500, max_records=5000)
            for tp, records in batch.items():
                for r in records:
                    if r.offset < ends[tp]:
                        out.append(
                            Message(
                                r.topic,
                                r.partition,
                                r.offset,
                                r.key.decode() if r.key else None,
                                r.value,
                                {k: v.decode() for k, v in (r.headers or [])},
                            )
                        )
            # By position, not offset arithmetic: transaction markers take offsets and are never delivered.
            for tp in list(remaining):
                if await consumer.position(tp) >= ends[tp]:
                    remaining.discard(tp)
        if remaining:
            raise AssertionError(f"could not read {topic} to its end within {timeout_s}s")
        return out
    finally:
        await consumer.stop()


def wait_for_messages(bootstrap: str, topic: str, predicate, expected: int, timeout_s: float = 30.0) -> list[Message]:
    """Poll the topic until `expected` messages match; return the matches (more than expected is returned too)."""
    deadline = time.monotonic() + timeout_s
    matches: list[Message] = []
    while time.monotonic() < deadline:
        matches = [m for m in run_async(read_topic(bootstrap, topic)) if predicate(m)]
        if len(matches) >= expected:
            return matches
        time.sleep(0.3)
    raise AssertionError(f"expected {expected} messages on {topic}, saw {len(matches)} within {timeout_s}s")


async def produce(bootstrap: str, topic: str, messages: list[tuple[bytes | None, bytes]]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True)
    await producer.start()
    try:
        futures = [await producer.send(topic, value=v, key=k) for k, v in messages]
        await asyncio.gather(*futures)
    finally:
        await producer.stop()


async def produce_to_partition(
    bootstrap: str, topic: str, partition: int, messages: list[tuple[bytes | None, bytes, list[tuple[str, bytes]]]]
) -> None:
    """(key, value, headers) messages, in order, onto one chosen partition."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True)
    await producer.start()
    try:
        for key, value, headers in messages:
            await producer.send_and_wait(topic, value=value, key=key, partition=partition, headers=headers)
    finally:
        await producer.stop()


def make_product_events(count: int, products: int = 10) -> list[dict[str, Any]]:
    """A valid stream: each product created, then updated by stock adjustments, as the service would."""
    from inventory_app.domain import events

    ids = [str(uuid.uuid4()) for _ in range(products)]
    snapshots = {
        pid: {
            "id": pid,
            "sku": f"GEN-{pid[:8].upper()}",
            "name": f"Generated {n}",
            "description": "",
            "category": "Generated",
            "price": "1.00",
            "quantity": 1000,
            "low_stock_threshold": 0,
            "low_stock": False,
            "version": 1,
            "created_at": "2026-11-24T10:00:00Z",
            "updated_at": "2026-11-24T10:00:00Z",
        }
        for n, pid in enumerate(ids)
    }
    out = [events.product_created(dict(s), source="/tests") for s in snapshots.values()]
    n = 0
    while len(out) < count:
        pid = ids[n % products]
        n += 1
        before = dict(snapshots[pid])
        snapshots[pid]["quantity"] -= 1
        snapshots[pid]["version"] += 1
        reason = {
            "kind": "stock_adjustment",
            "movement_id": str(uuid.uuid4()),
            "adjustment_reason": "sold",
            "delta": -1,
        }
        changes = events.diff(before, snapshots[pid], ("quantity", "version"))
        changes.pop("version", None)
        out.append(events.product_updated(dict(snapshots[pid]), changes, reason, source="/tests"))
    return out[:count]


class WorkerProcess:
    """A worker (`python -m backend_workers.<name>`) as a real subprocess with its own log file."""

    def __init__(self, module: str, env: dict[str, str] | None = None, log_name: str | None = None) -> None:
        self.module = module
        self.env = {**os.environ, **(env or {})}
        self.log_path = StackConfig().logs_dir / f"{log_name or module.split('.')[-1]}-{uuid.uuid4().hex[:6]}.log"
        self.process: subprocess.Popen | None = None

    def start(self) -> WorkerProcess:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = open(self.log_path, "ab")  # noqa: SIM115 - lives as long as the process
        self.process = subprocess.Popen(
            [sys.executable, "-m", self.module],
            cwd=REPO_ROOT,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        return self

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def log_entries(self) -> list[dict[str, Any]]:
        entries = []
        for line in self.log().splitlines():
            try:
                entries.append(json.loads(line))
            except json.JSONDecodeError:
                continue
        return entries

    def wait_for_log(self, text: str, timeout_s: float = 60.0) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if text in self.log():
                return
            if self.process is not None and self.process.poll() is not None:
                raise AssertionError(f"{self.module} exited ({self.process.returncode}):\n{self.log()[-3000:]}")
            time.sleep(0.2)
        raise AssertionError(f"{self.module} never logged {text!r}:\n{self.log()[-3000:]}")

    def kill(self) -> None:
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)

    def terminate(self, timeout_s: float = 30.0) -> int:
        assert self.process is not None
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
        try:
            return self.process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            self.kill()
            raise

    def wait(self, timeout_s: float) -> int:
        assert self.process is not None
        return self.process.wait(timeout=timeout_s)


def private_database(admin_url: str, name: str) -> str:
    """A migrated database of the test stack's server for one test: the app's relay never drains its outbox.

    `admin_url` is any SQLAlchemy URL of that server; returns the new database's SQLAlchemy URL.
    """
    import psycopg

    base, _, _ = admin_url.rpartition("/")
    with psycopg.connect(admin_url.replace("postgresql+psycopg://", "postgresql://", 1), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    url = f"{base}/{name}"
    subprocess.run(
        [sys.executable, "-m", "alembic", "upgrade", "head"],
        cwd=REPO_ROOT,
        env={**os.environ, "DATABASE_URL": url},
        check=True,
        timeout=120,
        capture_output=True,
    )
    return url


def insert_outbox_events(database_url: str, events: list[dict[str, Any]]) -> None:
    """Committed events as the services would leave them, straight into an outbox (for relay tests)."""
    import psycopg
    from psycopg.types.json import Jsonb

    with psycopg.connect(database_url.replace("postgresql+psycopg://", "postgresql://", 1)) as conn:
        with conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO outbox (event_id, aggregate_id, event_type, payload, actor) VALUES (%s, %s, %s, %s, %s)",
                [
                    (
                        e["id"],
                        e["subject"],
                        e["type"],
                        Jsonb(e),
                        Jsonb({"type": "system", "id": None, "name": "system"}),
                    )
                    for e in events
                ],
            )


def pending_outbox_rows(database_url: str) -> int:
    import psycopg

    with psycopg.connect(database_url.replace("postgresql+psycopg://", "postgresql://", 1)) as conn:
        return conn.execute("SELECT count(*) FROM outbox WHERE published_at IS NULL").fetchone()[0]
