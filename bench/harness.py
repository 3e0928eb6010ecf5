"""Shared pieces of the benchmarks: the app process, wrk runs, medians, a database of their own."""

from __future__ import annotations

import os
import re
import shutil
import statistics
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from devstack.config import StackConfig

REPO_ROOT = Path(__file__).resolve().parents[1]
# `make bench` runs on the dev stack (its own database, topics, table and bucket there); DEVSTACK_STACK picks another.
LOG_DIR = StackConfig().logs_dir


def bench_env(stack: StackConfig, run: str, database_url: str) -> dict[str, str]:
    """The app's and workers' environment for one bench run: its own database, topics, table, bucket, groups."""
    return {
        **stack.env_exports(),
        "DATABASE_URL": database_url,
        "DATABASE_POOL_SIZE": "20",
        "KAFKA_TOPIC_PRODUCT_EVENTS": f"bench-{run}.product-events",
        "KAFKA_TOPIC_NOTIFICATIONS": f"bench-{run}.notifications",
        "KAFKA_TOPIC_DEAD_LETTERS": f"bench-{run}.dead-letters",
        "DYNAMODB_EVENTS_TABLE": f"bench-{run}-events",
        "S3_ARCHIVE_BUCKET": f"bench-{run}-archive",
        "NOTIFIER_GROUP_ID": f"bench-{run}-notifier",
        "ANALYTICS_GROUP_ID": f"bench-{run}-analytics",
        "NOTIFIER_METRICS_PORT": "0",
        "ANALYTICS_METRICS_PORT": "0",
        "BENCH_ROUTES_ENABLED": "true",
        # Its own Reflex build dir: an export on the bench port under a running `make dev` would point
        # the dev app's browsers at the bench app (Reflex writes the port into the exported frontend).
        "REFLEX_WEB_WORKDIR": str(stack.state_dir / "bench-web"),
        "REFLEX_STATES_WORKDIR": str(stack.state_dir / "bench-states"),
        "LOG_LEVEL": "WARNING",
    }


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


@dataclass
class WrkResult:
    requests_per_s: float
    non_2xx: int
    latency_p50_ms: float | None
    latency_p99_ms: float | None


def _ms(text: str) -> float:
    value, unit = re.match(r"([\d.]+)(us|ms|s)", text).groups()  # type: ignore[union-attr]
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def wrk(
    url: str,
    *,
    threads: int = 2,
    connections: int = 64,
    duration_s: int = 10,
    script: Path | None = None,
    script_args: list[str] | None = None,
    headers: dict[str, str] | None = None,
) -> WrkResult:
    """One wrk run; `headers` go on every request (`-H`; a lua script adds them itself, see adjust.lua)."""
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is missing: apt-get install -y wrk")
    cmd = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{duration_s}s", "--latency", "--timeout", "10s"]
    for name, value in (headers or {}).items():
        cmd += ["-H", f"{name}: {value}"]
    if script:
        cmd += ["-s", str(script)]
    cmd.append(url)
    if script_args:
        cmd += ["--", *script_args]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True, timeout=duration_s + 60).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    p50 = re.search(r"\s50%\s+([\d.]+(?:us|ms|s))", out)
    p99 = re.search(r"\s99%\s+([\d.]+(?:us|ms|s))", out)
    return WrkResult(
        rps,
        int(non2xx.group(1)) if non2xx else 0,
        _ms(p50.group(1)) if p50 else None,
        _ms(p99.group(1)) if p99 else None,
    )


def ensure_database(admin_url: str, name: str, *, fresh: bool = False) -> None:
    """The bench's own database; `fresh` drops what an earlier run left (its rows change the figures)."""
    import psycopg

    with psycopg.connect(admin_url, autocommit=True) as connection:
        if fresh:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        exists = connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if not exists:
            connection.execute(f'CREATE DATABASE "{name}"')


def migrate(env: dict[str, str]) -> None:
    subprocess.run(
        [sys.executable, "-m", "alembic", "upgrade", "head"],
        cwd=REPO_ROOT,
        env={**os.environ, **env},
        check=True,
        timeout=120,
    )
