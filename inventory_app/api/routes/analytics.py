"""GET /api/analytics/summary."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from inventory_app.services import analytics

router = APIRouter(prefix="/api/analytics", tags=["analytics"])


@router.get("/summary")
async def analytics_summary() -> JSONResponse:
    return JSONResponse(await analytics.summary())
