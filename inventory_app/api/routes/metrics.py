"""GET /metrics in the Prometheus text format (outside /api: it is for scrapers, not clients)."""

from __future__ import annotations

from fastapi import APIRouter, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from inventory_app import metrics
from inventory_app.bootstrap import wiring

router = APIRouter(tags=["metrics"])


async def _refresh_outbox_gauges() -> None:
    async with (await wiring().pool()).connection() as connection:
        cursor = await connection.execute(
            "SELECT count(*), extract(epoch FROM now() - min(created_at)) FROM outbox WHERE published_at IS NULL"
        )
        pending, age = await cursor.fetchone()
    metrics.OUTBOX_PENDING.set(pending)
    metrics.OUTBOX_OLDEST_AGE.set(float(age or 0))


@router.get("/metrics")
async def prometheus_metrics() -> Response:
    try:
        await _refresh_outbox_gauges()
    except Exception:  # noqa: BLE001 - metrics must still answer while the database is down
        metrics.OUTBOX_PENDING.set(float("nan"))
    return Response(generate_latest(metrics.REGISTRY), media_type=CONTENT_TYPE_LATEST)
