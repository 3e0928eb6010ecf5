"""Event history routes: read the notifier's DynamoDB event log."""

from __future__ import annotations

from typing import Annotated

from botocore.exceptions import BotoCoreError, ClientError
from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse

from inventory_app.api.errors import ProblemError
from inventory_app.services import event_history

router = APIRouter(prefix="/api", tags=["events"])
Limit = Annotated[int, Query(ge=1, le=200)]


def _unavailable(error: Exception) -> ProblemError:
    code = error.response.get("Error", {}).get("Code", "") if isinstance(error, ClientError) else ""
    if code == "ResourceNotFoundException":  # the notifier has not created its table yet
        return ProblemError(503, "service-unavailable", "Service unavailable", "The event log is not ready yet.")
    return ProblemError(503, "service-unavailable", "Service unavailable", "The event log is unavailable.")


@router.get("/products/{product_id}/events")
async def product_events(product_id: str, limit: Limit = 50) -> JSONResponse:
    try:
        return JSONResponse(await event_history.product_events(product_id, limit))
    except (BotoCoreError, ClientError) as error:
        raise _unavailable(error) from None


@router.get("/events/recent")
async def recent_events(limit: Limit = 50) -> JSONResponse:
    try:
        return JSONResponse(await event_history.recent_events(limit))
    except (BotoCoreError, ClientError) as error:
        raise _unavailable(error) from None
