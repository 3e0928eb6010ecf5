"""HTTP throughput: reads and stock-adjustment writes against the app, beside same-run baselines."""

from __future__ import annotations

import threading
import time
import uuid
from typing import Any

import httpx
import psycopg

from bench.harness import REPO_ROOT, median, wrk


def seed_products(base_url: str, count: int) -> list[dict[str, Any]]:
    run = uuid.uuid4().hex[:6].upper()
    products = []
    with httpx.Client(base_url=base_url, timeout=30) as client:
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


def read_targets(base_url: str, product_id: str) -> dict[str, str]:
    return {
        "constant route (ceiling)": f"{base_url}/bench/constant",
        "GET /api/products/{id}": f"{base_url}/api/products/{product_id}",
        "GET /api/products?limit=50": f"{base_url}/api/products?limit=50",
    }


def reads(base_url: str, product_id: str, runs: int, duration_s: int) -> dict[str, Any]:
    targets = read_targets(base_url, product_id)
    results: dict[str, list] = {name: [] for name in targets}
    for _ in range(runs):  # interleaved, so drift hits every target alike
        for name, url in targets.items():
            results[name].append(wrk(url, duration_s=duration_s))
    return {
        name: {
            "rps": median([r.requests_per_s for r in rs]),
            "p99_ms": median([r.latency_p99_ms or 0 for r in rs]),
            "non_2xx": sum(r.non_2xx for r in rs),
            "runs": [round(r.requests_per_s) for r in rs],
        }
        for name, rs in results.items()
    }


def write_run(base_url: str, product_ids: list[str], duration_s: int) -> Any:
    return wrk(
        base_url, duration_s=duration_s, script=REPO_ROOT / "bench" / "adjust.lua", script_args=[",".join(product_ids)]
    )


def writes(base_url: str, product_ids: list[str], runs: int, duration_s: int) -> dict[str, Any]:
    results = [write_run(base_url, product_ids, duration_s) for _ in range(runs)]
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


def stale_reads_after_writes(base_url: str, product_id: str, count: int) -> dict[str, int]:
    """Write on one connection, read on a new one (which may land on another server worker), `count` times.

    A read older than the write it follows means a worker served its cache before the change
    notification reached it; the caches promise to catch up, not that this never happens.
    """
    stale = 0
    with httpx.Client(base_url=base_url, timeout=30) as writer:
        for _ in range(count):
            written = writer.post(
                f"/api/products/{product_id}/stock-adjustments", json={"delta": 1, "reason": "received"}
            ).json()["product"]["version"]
            with httpx.Client(base_url=base_url, timeout=30) as reader:
                if reader.get(f"/api/products/{product_id}").json()["version"] < written:
                    stale += 1
    return {"pairs": count, "stale": stale}
