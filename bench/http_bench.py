"""HTTP throughput: reads and stock-adjustment writes against the app, beside same-run baselines.

Every request but the open baseline carries the run's API token (`Authorization: Bearer …`), so what is
measured includes the auth gate: a credential-cache hit per request, PostgreSQL only on a miss.
"""

from __future__ import annotations

import threading
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import psycopg

from bench.harness import REPO_ROOT, median, wrk


def seed_products(base_url: str, count: int, headers: dict[str, str]) -> list[dict[str, Any]]:
    run = uuid.uuid4().hex[:6].upper()
    products = []
    with httpx.Client(base_url=base_url, headers=headers, timeout=30) as client:
        for n in range(count):
            response = client.post(
                "/api/products",
                json={
                    "sku": f"BENCH-{run}-{n:05d}",
                    "name": f"Bench product {n}",
                    "description": "benchmark data",
                    "category": ["Tools", "Safety", "Plumbing", "Electrical"][n % 4],
                    "price": f"{1 + n % 97}.50",
                    "quantity": 1_000,
                    "low_stock_threshold": 10,
                },
            )
            response.raise_for_status()
            products.append(response.json())
    return products


@dataclass(frozen=True)
class Target:
    slug: str  # its profile's name, bench/profiles/http-<slug>.txt
    url: str
    authenticated: bool  # sends the run's bearer token


# The baseline every read is divided by: the constant route, which the gate lets anonymous callers reach.
BASELINE = "GET /bench/constant, open (baseline)"


def read_targets(base_url: str, product_id: str) -> dict[str, Target]:
    return {
        BASELINE: Target("constant", f"{base_url}/bench/constant", authenticated=False),
        # The same route with the token: what the gate itself costs (a credential-cache hit).
        "GET /bench/constant, bearer token": Target("constant-token", f"{base_url}/bench/constant", True),
        "GET /api/products/{id}, bearer token (cache hit)": Target(
            "get", f"{base_url}/api/products/{product_id}", True
        ),
        "GET /api/products?limit=50, bearer token (cached)": Target("list", f"{base_url}/api/products?limit=50", True),
    }


def check_targets(base_url: str, product_id: str, headers: dict[str, str]) -> None:
    """Before timing anything: the gate is on, the token lets us in, and the open baseline needs nothing.

    wrk counts a 401 as a fast non-2xx answer; a refused token would otherwise look like a fast read.
    These requests also put the product and the list into the read cache.
    """
    with httpx.Client(timeout=30) as anonymous, httpx.Client(headers=headers, timeout=30) as client:
        refused = anonymous.get(f"{base_url}/api/products/{product_id}")
        if refused.status_code != 401:
            raise SystemExit(f"an anonymous product read got {refused.status_code}, not 401: is the gate on?")
        for name, target in read_targets(base_url, product_id).items():
            response = (client if target.authenticated else anonymous).get(target.url)
            if response.status_code != 200:
                raise SystemExit(f"{name}: {response.status_code} {response.text[:300]}")


def target_run(target: Target, headers: dict[str, str], duration_s: int) -> Any:
    return wrk(target.url, duration_s=duration_s, headers=headers if target.authenticated else None)


def reads(base_url: str, product_id: str, runs: int, duration_s: int, headers: dict[str, str]) -> dict[str, Any]:
    targets = read_targets(base_url, product_id)
    check_targets(base_url, product_id, headers)
    results: dict[str, list] = {name: [] for name in targets}
    for _ in range(runs):  # interleaved, so drift hits every target alike
        for name, target in targets.items():
            results[name].append(target_run(target, headers, duration_s))
    return {
        name: {
            "rps": median([r.requests_per_s for r in rs]),
            "p99_ms": median([r.latency_p99_ms or 0 for r in rs]),
            "non_2xx": sum(r.non_2xx for r in rs),
            "runs": [round(r.requests_per_s) for r in rs],
            "authenticated": targets[name].authenticated,
        }
        for name, rs in results.items()
    }


def write_run(base_url: str, product_ids: list[str], duration_s: int, headers: dict[str, str]) -> Any:
    return wrk(
        base_url,
        duration_s=duration_s,
        script=REPO_ROOT / "bench" / "adjust.lua",
        script_args=[",".join(product_ids)],
        headers=headers,
    )


def writes(
    base_url: str, product_ids: list[str], runs: int, duration_s: int, headers: dict[str, str]
) -> dict[str, Any]:
    results = [write_run(base_url, product_ids, duration_s, headers) for _ in range(runs)]
    return {
        "rps": median([r.requests_per_s for r in results]),
        "p99_ms": median([r.latency_p99_ms or 0 for r in results]),
        "non_2xx": sum(r.non_2xx for r in results),
        "runs": [round(r.requests_per_s) for r in results],
    }


def raw_insert_baseline(psycopg_url: str, duration_s: int, threads: int = 8) -> float:
    """Single-row INSERT + COMMIT from `threads` connections: what PostgreSQL alone does per second here."""
    with psycopg.connect(psycopg_url, autocommit=True) as connection:
        connection.execute("CREATE TABLE IF NOT EXISTS bench_insert (id bigserial PRIMARY KEY, body jsonb)")
    counts = [0] * threads
    stop = time.monotonic() + duration_s

    def work(index: int) -> None:
        with psycopg.connect(psycopg_url, autocommit=True) as connection:
            while time.monotonic() < stop:
                connection.execute("INSERT INTO bench_insert (body) VALUES (%s)", ('{"delta": 1}',))
                counts[index] += 1

    workers = [threading.Thread(target=work, args=(i,)) for i in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    with psycopg.connect(psycopg_url, autocommit=True) as connection:
        connection.execute("DROP TABLE bench_insert")
    return sum(counts) / duration_s


def stale_reads_after_writes(base_url: str, product_id: str, count: int, headers: dict[str, str]) -> dict[str, int]:
    """Write on one connection, read on a new one (which may land on another server worker), `count` times.

    A read older than the write it follows means a worker served its cache before the change
    notification reached it; the caches promise to catch up, not that this never happens.
    """
    stale = 0
    with httpx.Client(base_url=base_url, headers=headers, timeout=30) as writer:
        for _ in range(count):
            response = writer.post(
                f"/api/products/{product_id}/stock-adjustments", json={"delta": 1, "reason": "received"}
            )
            response.raise_for_status()
            written = response.json()["product"]["version"]
            with httpx.Client(base_url=base_url, headers=headers, timeout=30) as reader:
                read = reader.get(f"/api/products/{product_id}")
                read.raise_for_status()
                if read.json()["version"] < written:
                    stale += 1
    return {"pairs": count, "stale": stale}


IMPORT_HEADER = "sku,name,description,category,price,quantity,low_stock_threshold\n"


def import_rows(prefix: str, count: int) -> bytes:
    rows = (f"{prefix}-{i:05d},Bulk item {i},,bulk,{i % 100}.25,{i % 50},5\n" for i in range(count))
    return (IMPORT_HEADER + "".join(rows)).encode()


def csv_import(base_url: str, psycopg_url: str, headers: dict[str, str], rows: int = 10_000) -> dict[str, float]:
    """A `rows`-row CSV import of new products over HTTP, beside the same rows COPYed into scratch copies of
    the product and outbox tables (the database's floor for writing them, without the app)."""
    prefix = f"IMP{uuid.uuid4().hex[:8].upper()}"
    data = import_rows(prefix, rows)
    started = time.perf_counter()
    with httpx.Client(base_url=base_url, headers=headers, timeout=600) as client:
        response = client.post("/api/products/import", files={"file": ("bulk.csv", data, "text/csv")})
    app_s = time.perf_counter() - started
    response.raise_for_status()
    assert response.json()["created"] == rows, response.text[:300]
    with psycopg.connect(psycopg_url) as connection:
        connection.execute("CREATE TEMP TABLE bench_product (LIKE product INCLUDING DEFAULTS)")
        connection.execute("CREATE TEMP TABLE bench_outbox (LIKE outbox INCLUDING DEFAULTS)")
        started = time.perf_counter()
        now = datetime.now(UTC)
        product_copy = (
            "COPY bench_product (id, sku, name, price, quantity, low_stock_threshold, low_stock_alerted, version,"
            " created_at, updated_at) FROM STDIN"
        )
        with connection.cursor().copy(product_copy) as copy:
            for i in range(rows):
                quantity = i % 50
                row = (uuid.uuid4(), f"{prefix}B-{i:05d}", f"Bulk item {i}", f"{i % 100}.25", quantity, 5)
                copy.write_row((*row, quantity <= 5, 1, now, now))
        outbox_copy = "COPY bench_outbox (event_id, aggregate_id, event_type, payload) FROM STDIN"
        with connection.cursor().copy(outbox_copy) as copy:
            for _ in range(rows):
                copy.write_row((uuid.uuid4(), uuid.uuid4(), "bench", '{"bench": true}'))
        connection.commit()
        baseline_s = time.perf_counter() - started
    return {"rows": rows, "app_s": app_s, "copy_baseline_s": baseline_s}
