"""Benchmark baseline (only with BENCH_ROUTES_ENABLED): a constant JSON body through the same stack."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response

router = APIRouter(prefix="/bench", tags=["bench"], include_in_schema=False)
CONSTANT_BODY = b'{"status":"ok","service":"inventory","constant":true}'


@router.get("/constant")
async def constant() -> Response:
    return Response(CONSTANT_BODY, media_type="application/json")
