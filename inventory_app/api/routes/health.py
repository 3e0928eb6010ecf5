"""Liveness and readiness: readiness probes each dependency with a short timeout."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from inventory_app.adapters import aws, kafka
from inventory_app.api.auth_gate import principal_of
from inventory_app.bootstrap import wiring
from inventory_app.settings import get_settings

router = APIRouter(prefix="/api", tags=["health"])


@router.get("/health")
async def health() -> dict[str, str]:
    return {"status": "ok"}


async def _postgres_and_outbox() -> dict[str, Any]:
    async with (await wiring().pool()).connection() as connection:
        cursor = await connection.execute(
            "SELECT count(*), extract(epoch FROM now() - min(created_at)) FROM outbox WHERE published_at IS NULL"
        )
        row = await cursor.fetchone()
    return {"pending": int(row[0]), "oldest_pending_age_s": float(row[1]) if row[1] is not None else None}


async def _timed(probe: Callable[[], Awaitable[Any]], timeout_s: float) -> tuple[dict[str, Any], Any]:
    started = time.perf_counter()
    try:
        value = await asyncio.wait_for(probe(), timeout=timeout_s)
        status: dict[str, Any] = {"status": "up"}
    except Exception as error:  # noqa: BLE001 - any failure means the dependency is down
        value = None
        message = str(error).splitlines()[0] if str(error) else type(error).__name__
        status = {"status": "down", "error": message[:300]}
    status["latency_ms"] = round((time.perf_counter() - started) * 1000, 1)
    return status, value


@router.get("/ready")
async def ready(request: Request) -> JSONResponse:
    settings = get_settings()
    timeout = settings.readiness_timeout_s

    async def postgres() -> dict[str, Any]:
        return await _postgres_and_outbox()

    async def kafka_probe() -> None:
        if not await kafka.kafka_reachable(settings.kafka_bootstrap_servers, timeout):
            raise RuntimeError("no brokers in metadata")

    async def dynamodb() -> None:
        async with aws.dynamodb_client(settings, timeout_s=timeout, attempts=1) as client:
            await client.list_tables(Limit=1)

    async def s3() -> None:
        async with aws.s3_client(settings, timeout_s=timeout, attempts=1) as client:
            await client.list_buckets()

    (pg, outbox), (kf, _), (ddb, _), (s3s, _) = await asyncio.gather(
        _timed(postgres, timeout), _timed(kafka_probe, timeout), _timed(dynamodb, timeout), _timed(s3, timeout)
    )
    checks = {"postgres": pg, "kafka": kf, "dynamodb": ddb, "s3": s3s}
    all_up = all(c["status"] == "up" for c in checks.values())
    body: dict[str, Any] = {"status": "ready" if all_up else "not_ready"}
    if principal_of(request.scope) is not None:
        # A load balancer's anonymous probe learns only up/down; what is down, and why, is for users.
        body |= {"checks": checks, "outbox": outbox}
    return JSONResponse(body, status_code=200 if all_up else 503)
