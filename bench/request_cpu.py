"""`python -m bench.request_cpu [get|post]`: the CPU one request costs, app beside ceiling, in one process.

The HTTP ratios (`bench.ratios`) share two cores between wrk, granian, both apps and PostgreSQL, so a run
moves by ±10 %. This calls the two ASGI apps directly instead (no server, no load generator): the API app as
the served app builds it (`api/app.py`, without Reflex's outer layer, which `asgi.py` skips for these
requests) and `bench/ceiling_app.py`, 16 requests at a time over the bench's first 200 products, and reports
the process's CPU time per request (`time.process_time`), median of BENCH_ROUNDS alternating rounds. It needs
the database the last `bench.ratios` left behind (products and the `ceiling` schema): run that once first.

Use it to see what a change to the request path buys before an HTTP run confirms it; bench/NOTES.md has
the figures. PostgreSQL's own CPU is not in it: compare the two sides, not the absolute numbers.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import sys
import time
import uuid
from collections.abc import Awaitable, Callable

from starlette.types import ASGIApp, Message

from bench import auth
from devstack.config import StackConfig

REQUESTS = int(os.environ.get("BENCH_REQUESTS", "3000"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
CONCURRENCY = 16
ADJUSTMENT = b'{"delta":1,"reason":"received"}'


def configure() -> str:
    """Point this process at the bench database, as `bench.ratios` runs the app (read cache off)."""
    from inventory_app.adapters.outbox import psycopg_url

    stack = StackConfig()
    database_url = stack.database_url.rsplit("/", 1)[0] + "/inventory_ratios"
    os.environ.update(stack.env_exports())
    os.environ.update(
        {
            "DATABASE_URL": database_url,
            "DATABASE_POOL_SIZE": "20",
            "READ_CACHE_ENABLED": "false",
            "LOG_LEVEL": "WARNING",
            "CEILING_DATABASE_URL": psycopg_url(database_url),
        }
    )
    return psycopg_url(database_url)


async def call(app: ASGIApp, method: str, path: str, headers: dict[str, str], body: bytes = b"") -> int:
    """One request through the ASGI app; its status."""
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method, "scheme": "http",
        "path": path, "raw_path": path.encode(), "root_path": "", "query_string": b"",
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
        "server": ("127.0.0.1", 80), "client": ("127.0.0.1", 50000), "state": {},
    }  # fmt: skip
    received = False
    statuses: list[int] = []

    async def receive() -> Message:
        nonlocal received
        if received:
            await asyncio.Event().wait()  # no disconnect while the app is still answering
        received = True
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: Message) -> None:
        if message["type"] == "http.response.start":
            statuses.append(message["status"])

    await app(scope, receive, send)
    return statuses[0]


def load(mode: str, app: ASGIApp, prefix: str, headers: dict[str, str], ids: list[str]) -> Callable[[int], Awaitable]:
    async def read(i: int) -> int:
        return await call(app, "GET", f"{prefix}/products/{ids[i % len(ids)]}", headers)

    async def adjust(i: int) -> int:
        json_headers = {**headers, "content-type": "application/json"}
        return await call(
            app, "POST", f"{prefix}/products/{ids[i % len(ids)]}/stock-adjustments", json_headers, ADJUSTMENT
        )

    return read if mode == "get" else adjust


async def cpu_per_request(request: Callable[[int], Awaitable]) -> float:
    """Microseconds of this process's CPU per request, CONCURRENCY at a time."""
    for i in range(CONCURRENCY * 4):  # warm: the pool's connections, prepared statements
        assert await request(i) in (200, 201)
    started = time.process_time()
    for first in range(0, REQUESTS, CONCURRENCY):
        statuses = await asyncio.gather(*(request(i) for i in range(first, first + CONCURRENCY)))
        assert set(statuses) <= {200, 201}, statuses
    return (time.process_time() - started) / REQUESTS * 1e6


async def measure(mode: str, token: auth.BenchToken, dsn: str) -> None:
    import psycopg

    from bench.ceiling_app import app as ceiling
    from inventory_app.api.app import create_api
    from inventory_app.bootstrap import wiring

    with psycopg.connect(dsn) as conn:
        ids = [str(row[0]) for row in conn.execute("SELECT id FROM product ORDER BY sku LIMIT 200")]
    wiring().credential_cache.activate()  # the app's lifespan does this once its change feed listens
    # The served app announces its commits through one sender task (lifespan.py); without it every commit
    # would announce itself through the pool, which costs a served request nothing like that.
    sender = asyncio.create_task(wiring().commit_notices.run_forever())
    sides = {
        "app": load(mode, create_api(), "/api", token.headers, ids),
        "ceiling": load(mode, ceiling, "", token.headers, ids),
    }
    results: dict[str, list[float]] = {name: [] for name in sides}
    try:
        for _ in range(ROUNDS):
            for name, request in sides.items():
                results[name].append(await cpu_per_request(request))
    finally:
        sender.cancel()
    app, bare = statistics.median(results["app"]), statistics.median(results["ceiling"])
    print(f"{mode}: app {app:.0f} µs CPU/request {[round(x) for x in results['app']]}, "
          f"ceiling {bare:.0f} µs {[round(x) for x in results['ceiling']]}, ratio {bare / app:.2f}")  # fmt: skip


def main(argv: list[str]) -> int:
    dsn = configure()
    token = auth.new_token(f"cpu{uuid.uuid4().hex[:6]}")
    try:
        for mode in argv or ["get", "post"]:
            if mode not in ("get", "post"):
                raise SystemExit(f"unknown mode {mode!r}: get or post")
            asyncio.run(measure(mode, token, dsn))
    finally:
        auth.revoke(token)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
