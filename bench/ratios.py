"""`python -m bench.ratios` (in `make bench`): the app beside its bare ceiling, issue 14's ratio goals.

The app runs as `make dev` runs it (prod mode, GRANIAN_WORKERS workers, the relay publishing) with its
read cache off (READ_CACHE_ENABLED=false: every read goes to PostgreSQL) and no consumer workers (so their
catch-up is not measured as write cost). The ceiling (bench/ceiling_app.py) runs the same SQL on scratch
copies of the tables behind a bare Starlette app on granian with as many workers. Each figure is the median of
BENCH_RUNS runs taken alternately (app, ceiling, app, ceiling, …) in one run, and is reported as a ratio.
Then: transfers beside adjustments (same run), one hot product, the same writes with both workers running,
and cache hits beside the open constant route on the app with its cache on. Every write run's events are
counted on the topic: none lost, none doubled. Results: bench/RATIOS.md.

BENCH_ONLY=<part of a name> measures only the matching ratios and prints them (RATIOS.md is left alone).
BENCH_PROFILE=1 instead records a py-spy profile of the app under each uncached load
(bench/profiles/ratios-*.txt) and measures nothing. BENCH_RELAY=process runs the relay as its own process
beside the app instead of inside its server workers, and BENCH_CEILING=tables gives the ceiling's copies the
tables' foreign keys (diagnostics: bench/NOTES.md, third and fourth passes).
"""

from __future__ import annotations

import asyncio
import os
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import httpx
import psycopg

from bench import auth, profile
from bench.harness import LOG_DIR, REPO_ROOT, bench_env, ensure_database, migrate, wrk
from bench.http_bench import import_rows
from devstack.app_process import AppProcess
from devstack.config import StackConfig
from inventory_app.adapters.outbox import psycopg_url

RESULTS = REPO_ROOT / "bench" / "RATIOS.md"
LUA = REPO_ROOT / "bench" / "lua"
PORT = int(os.environ.get("BENCH_APP_PORT", "3300"))
RUNS = int(os.environ.get("BENCH_RUNS", "3"))
PROFILE = os.environ.get("BENCH_PROFILE", "") not in ("", "0", "false")
ONLY = os.environ.get("BENCH_ONLY", "")  # a part of the name of the ratios to measure; the rest is skipped
# BENCH_RELAY=process: the relay as its own process (`python -m inventory_app.relay`) instead of in the server
# workers; it still publishes, on the same two cores.
RELAY_PROCESS = os.environ.get("BENCH_RELAY", "") == "process"
DURATION_S = int(os.environ.get("BENCH_DURATION_S", "8"))
WORKERS = os.environ.get("GRANIAN_WORKERS", "2")
PRODUCTS = 4_500
GOAL = 0.7
TABLES = ("product", "location", "stock_level", "stock_movement", "outbox")


def main() -> int:
    stack = StackConfig()
    subprocess.run([sys.executable, "-m", "devstack", "up"], cwd=REPO_ROOT, check=True)
    run = uuid.uuid4().hex[:8]
    # A database of its own, new every run: each run imports 4,500 products, and a table that grew over earlier
    # runs would move the figures from one run to the next.
    database_url = stack.database_url.rsplit("/", 1)[0] + "/inventory_ratios"
    ensure_database(psycopg_url(stack.database_url), "inventory_ratios", fresh=True)
    env = {**bench_env(stack, run, database_url), "GRANIAN_WORKERS": WORKERS}
    os.environ.update(env)
    migrate(env)
    token = auth.new_token(run)
    headers = token.headers
    dsn = psycopg_url(database_url)
    r: dict = {"date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"), "load_at_start": os.getloadavg()[0]}
    app_env = {**env, "READ_CACHE_ENABLED": "false"}
    relay = None
    if RELAY_PROCESS:
        app_env["OUTBOX_RELAY_ENABLED"] = "false"
    app = AppProcess(PORT, LOG_DIR / f"bench-ratios-app-{PORT}.log", app_env)
    ceiling = None
    try:
        app.start()
        if RELAY_PROCESS:
            relay = worker("inventory_app.relay", env, run)
        ids, places = seed(app.url, headers, run)
        copy_to_ceiling(dsn)
        settle(dsn)
        ceiling = start_ceiling(dsn, PORT + 2)
        c_url = f"http://127.0.0.1:{PORT + 2}"
        ids_arg = ",".join(ids)
        adjust_body = '{"delta":1,"reason":"received"}'
        pairs = {
            "uncached GET /api/products/{id} (200 products, round robin)": (
                lambda: lua(app.url, headers, "ids.lua", "GET", "/api/products/{id}", "", ids_arg),
                lambda: lua(c_url, headers, "ids.lua", "GET", "/products/{id}", "", ids_arg),
            ),
            "uncached list of 50 + count, first page": (
                lambda: wrk(f"{app.url}/api/products?limit=50", duration_s=DURATION_S, headers=headers),
                lambda: wrk(f"{c_url}/products?limit=50", duration_s=DURATION_S, headers=headers),
            ),
            "uncached list of 50 + count, offset random(0..4000)": (
                lambda: lua(app.url, headers, "offsets.lua", "/api/products?limit=50&offset=", "4000"),
                lambda: lua(c_url, headers, "offsets.lua", "/products?limit=50&offset=", "4000"),
            ),
            "stock adjustments over 200 products, relay on, workers paused": (
                lambda: lua(
                    app.url, headers, "ids.lua", "POST", "/api/products/{id}/stock-adjustments", adjust_body, ids_arg
                ),
                lambda: lua(
                    c_url, headers, "ids.lua", "POST", "/products/{id}/stock-adjustments", adjust_body, ids_arg
                ),
            ),
        }
        if ONLY:
            pairs = {name: runs for name, runs in pairs.items() if ONLY in name}
        if PROFILE:
            profile_app(app, {name: runs[0] for name, runs in pairs.items()})
            return 0
        r["pairs"] = {name: alternate(*runs) for name, runs in pairs.items()}
        if ONLY:
            for name, p in r["pairs"].items():
                print(f"{name}: app {p['a']} ceiling {p['b']} ratio {p['ratio']:.2f}", flush=True)
            return 0
        a, b = places
        to_b = f'{{"from_location_id":"{a}","to_location_id":"{b}","quantity":1}}'
        to_a = f'{{"from_location_id":"{b}","to_location_id":"{a}","quantity":1}}'
        r["transfers"] = alternate(
            lambda: lua(app.url, headers, "ids.lua", "POST", "/api/products/{id}/transfers", to_b, ids_arg, to_a),
            lambda: lua(
                app.url, headers, "ids.lua", "POST", "/api/products/{id}/stock-adjustments", adjust_body, ids_arg
            ),
        )
        r["hot"] = alternate(
            lambda: lua(
                app.url, headers, "ids.lua", "POST", "/api/products/{id}/stock-adjustments", adjust_body, ids[0]
            ),
            lambda: lua(c_url, headers, "ids.lua", "POST", "/products/{id}/stock-adjustments", adjust_body, ids[0]),
        )
        workers = [worker(m, env, run) for m in ("backend_workers.notifier", "backend_workers.analytics")]
        try:
            time.sleep(5)
            r["with_workers"] = alternate(
                lambda: lua(
                    app.url, headers, "ids.lua", "POST", "/api/products/{id}/stock-adjustments", adjust_body, ids_arg
                ),
                lambda: lua(
                    c_url, headers, "ids.lua", "POST", "/products/{id}/stock-adjustments", adjust_body, ids_arg
                ),
            )
        finally:
            for process in workers:
                process.terminate()
                process.wait(timeout=30)
        r["events"] = count_events(dsn, env["KAFKA_TOPIC_PRODUCT_EVENTS"], stack, ids)
        app.stop()
        cached = AppProcess(PORT + 1, LOG_DIR / f"bench-ratios-cached-{PORT + 1}.log", env)
        cached.start()
        try:
            httpx.get(f"{cached.url}/api/products/{ids[0]}", headers=headers).raise_for_status()  # warm it
            r["cache"] = alternate(
                lambda: wrk(f"{cached.url}/api/products/{ids[0]}", duration_s=DURATION_S, headers=headers),
                lambda: wrk(f"{cached.url}/bench/constant", duration_s=DURATION_S),
            )
        finally:
            cached.stop()
    finally:
        for process in (ceiling, relay):
            if process is not None:
                process.terminate()
                process.wait(timeout=30)
        app.stop()
        auth.revoke(token)
    r["load_at_end"] = os.getloadavg()[0]
    write(r)
    print(RESULTS.read_text())
    return 0


def seed(url: str, headers: dict[str, str], run: str) -> tuple[list[str], tuple[str, str]]:
    """4,500 products by CSV import; two locations holding 1,000 of each of the first 200 (transfers)."""
    with httpx.Client(base_url=url, headers=headers, timeout=600) as client:
        data = import_rows(f"R{run.upper()}", PRODUCTS)
        client.post("/api/products/import", files={"file": ("bench.csv", data, "text/csv")}).raise_for_status()
        listed = client.get("/api/products", params={"q": f"r{run}", "limit": 200, "sort": "sku"}).json()["data"]
    ids = [p["id"] for p in listed]
    places = tuple(_location(f"R{run}{side}", f"Bench {side}") for side in "AB")
    with httpx.Client(base_url=url, headers=headers, timeout=60) as client:
        for pid in ids:
            for place in places:
                body = {"delta": 1000, "reason": "received", "location_id": place}
                client.post(f"/api/products/{pid}/stock-adjustments", json=body).raise_for_status()
    return ids, places  # type: ignore[return-value]


def _location(code: str, name: str) -> str:
    """Made as an operator makes one (the service, as `system`): the bench's token is an editor's."""
    from inventory_app.adapters.pg_pool import run_with_pool
    from inventory_app.domain.identity import SYSTEM
    from inventory_app.services import locations

    return run_with_pool(locations.create_location({"code": code, "name": name}, by=SYSTEM))["id"]


def copy_to_ceiling(dsn: str) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("DROP SCHEMA IF EXISTS ceiling CASCADE")
        conn.execute("CREATE SCHEMA ceiling")
        for table in TABLES:
            conn.execute(f"CREATE TABLE ceiling.{table} (LIKE public.{table} INCLUDING ALL)")
            conn.execute(f"INSERT INTO ceiling.{table} SELECT * FROM public.{table}")
        if CEILING_TABLES:
            conn.execute(CEILING_CONSTRAINTS)
        conn.execute("ANALYZE")


# BENCH_CEILING=tables (a diagnostic): the ceiling's copies also get what `LIKE … INCLUDING ALL` leaves out, the
# tables' foreign keys, to see how much of the write's gap is the schema's work rather than the app's. (The change
# triggers are not copied: since migration 0010 they stay quiet for the app's sessions, bench/NOTES.md.)
CEILING_TABLES = os.environ.get("BENCH_CEILING", "") == "tables"
CEILING_CONSTRAINTS = """
ALTER TABLE ceiling.stock_level ADD FOREIGN KEY (product_id) REFERENCES ceiling.product (id) ON DELETE CASCADE,
    ADD FOREIGN KEY (location_id) REFERENCES ceiling.location (id) ON DELETE RESTRICT;
ALTER TABLE ceiling.stock_movement ADD FOREIGN KEY (location_id) REFERENCES ceiling.location (id) ON DELETE RESTRICT;
"""


def settle(dsn: str) -> None:
    """Before measuring: the relay has published the seed's events (else the app's first runs share its
    workers with that backlog), and both sides' tables are vacuumed (else autovacuum picks a run to start in)."""
    deadline = time.monotonic() + 180
    with psycopg.connect(dsn, autocommit=True) as conn:
        while conn.execute("SELECT count(*) FROM outbox WHERE published_at IS NULL").fetchone()[0]:
            if time.monotonic() > deadline:
                raise SystemExit("the relay did not publish the seed's events within 180 s")
            time.sleep(0.5)
        for schema in ("public", "ceiling"):
            for table in TABLES:
                conn.execute(f"VACUUM (ANALYZE) {schema}.{table}")


def start_ceiling(dsn: str, port: int) -> subprocess.Popen:
    log = open(LOG_DIR / f"bench-ceiling-{port}.log", "ab")  # noqa: SIM115 - lives with the process
    command = [
        sys.executable, "-m", "granian", "--interface", "asgi", "--workers", WORKERS,
        "--host", "127.0.0.1", "--port", str(port), "bench.ceiling_app:app",
    ]  # fmt: skip
    process = subprocess.Popen(
        command, cwd=REPO_ROOT, env={**os.environ, "CEILING_DATABASE_URL": dsn}, stdout=log, stderr=subprocess.STDOUT
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/products?limit=1", timeout=2).status_code == 401:
                return process
        except httpx.HTTPError:
            time.sleep(0.5)
    raise SystemExit("the ceiling app did not start (see its log)")


def profile_app(app: AppProcess, loads: dict[str, Callable[[], object]]) -> None:
    """BENCH_PROFILE=1: a py-spy profile of the busiest server worker under each uncached load, nothing measured."""
    assert app.process is not None
    for number, (name, load) in enumerate(loads.items(), 1):
        print(f"profiling {name}...", flush=True)
        with ThreadPoolExecutor(max_workers=1) as executor:
            running = executor.submit(load)  # DURATION_S of load: profile its middle
            time.sleep(2)
            pid = profile.busiest_worker(app.process.pid)
            profile.record(pid, max(2, DURATION_S - 4), f"ratios-{number}", f"bench.ratios, {name}, {WORKERS} workers")
            running.result()


def lua(url: str, headers: dict[str, str], script: str, *args: str):
    return wrk(url, duration_s=DURATION_S, headers=headers, script=LUA / script, script_args=list(args))


def alternate(first, second) -> dict:
    """RUNS runs of each, taken in turn, so both sides see the same machine; medians and their ratio."""
    a, b = [], []
    for _ in range(RUNS):
        a.append(first())
        b.append(second())
    assert all(x.non_2xx == 0 for x in a + b), [(x.requests_per_s, x.non_2xx) for x in a + b]
    med_a, med_b = statistics.median(x.requests_per_s for x in a), statistics.median(x.requests_per_s for x in b)
    return {"a": [round(x.requests_per_s) for x in a], "b": [round(x.requests_per_s) for x in b],
            "a_median": med_a, "b_median": med_b, "ratio": med_a / med_b}  # fmt: skip


def worker(module: str, env: dict[str, str], run: str) -> subprocess.Popen:
    log = open(LOG_DIR / f"bench-ratios-{module.rsplit('.', 1)[1]}-{run}.log", "ab")  # noqa: SIM115
    command = [sys.executable, "-m", module]
    return subprocess.Popen(command, cwd=REPO_ROOT, env={**os.environ, **env}, stdout=log, stderr=subprocess.STDOUT)


def count_events(dsn: str, topic: str, stack: StackConfig, ids: list[str]) -> dict[str, int]:
    """Every adjustment's ledger row has one ProductUpdated on the topic, every transfer one StockTransferred."""
    sys.path.insert(0, str(REPO_ROOT))
    from tests.support import read_topic

    deadline = time.monotonic() + 180
    with psycopg.connect(dsn) as conn:
        while conn.execute("SELECT count(*) FROM outbox WHERE published_at IS NULL").fetchone()[0]:
            if time.monotonic() > deadline:
                break
            time.sleep(0.5)
        adjustments = conn.execute(
            "SELECT count(*) FROM stock_movement WHERE product_id = ANY(%s::uuid[]) AND transfer_id IS NULL", (ids,)
        ).fetchone()[0]
        transfers = conn.execute(
            "SELECT count(DISTINCT transfer_id) FROM stock_movement WHERE product_id = ANY(%s::uuid[])", (ids,)
        ).fetchone()[0]
    messages = asyncio.run(read_topic(stack.kafka_bootstrap, topic, 180))
    mine = [m.json() for m in messages if m.key in set(ids)]
    updates = [e["id"] for e in mine if e["type"] == "inventory.product.updated"]
    moved = [e["id"] for e in mine if e["type"] == "inventory.product.stock-transferred"]
    return {
        "adjustment_rows": adjustments,
        "updated_events": len(set(updates)),
        "transfers": transfers,
        "transferred_events": len(set(moved)),
        "lost": adjustments - len(set(updates)) + transfers - len(set(moved)),
        "duplicated": len(updates) - len(set(updates)) + len(moved) - len(set(moved)),
    }


def write(r: dict) -> None:
    def row(name: str, p: dict, goal: float | None = None) -> str:
        verdict = "" if goal is None else (" met" if p["ratio"] >= goal else " **not met**")
        ratio = f"{p['ratio']:.3f}"  # three places: 0.695 is not 0.70
        return f"| {name} | {p['a_median']:.0f} {p['a']} | {p['b_median']:.0f} {p['b']} | {ratio}{verdict} |"

    lines = [
        "# The app beside its bare ceiling (issue 14)",
        "",
        f"Measured {r['date']} with `python -m bench.ratios`: {RUNS} runs of {DURATION_S} s each, taken alternately,"
        f" wrk -t2 -c64, {WORKERS} granian workers on both sides, 2 cores shared by everything (load average"
        f" {r['load_at_start']:.1f} at start, {r['load_at_end']:.1f} at the end). Method: bench/NOTES.md.",
        "",
        "| request | app req/s (median, runs) | ceiling req/s (median, runs) | ratio (goal 0.7) |",
        "|---|---:|---:|---:|",
        *[row(name, p, GOAL) for name, p in r["pairs"].items()],
        row("stock adjustments over 200 products, notifier and analytics running", r["with_workers"]),
        row("stock adjustments on one hot product", r["hot"]),
        "",
        "| beside the same run's | measured | baseline | ratio |",
        "|---|---:|---:|---:|",
        row("transfers over 200 products (A→B, B→A) vs stock adjustments over the same 200", r["transfers"]),
        row("cache hit GET /api/products/{id} (token) vs open constant route (goal 1.5)", r["cache"], 1.5),
        "",
        f"Events over every write run: {r['events']}.",
        "",
    ]  # fmt: skip
    RESULTS.write_text("\n".join(lines))


if __name__ == "__main__":
    raise SystemExit(main())
