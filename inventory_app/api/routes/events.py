"""Event history routes: read the notifier's DynamoDB event log."""

from __future__ import annotations

from typing import Annotated, Literal

from botocore.exceptions import BotoCoreError, ClientError
from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse

from inventory_app.api.errors import ProblemError
from inventory_app.domain.notices import notice_for
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
async def recent_events(limit: Limit = 50, view: Literal["events", "notices"] = "events") -> JSONResponse:
    """`view=notices` returns the same events as the notices the notification panel shows."""
    try:
        recent = await event_history.recent_events(limit)
        if view == "notices":
            recent = {"data": [notice_for(e) for e in recent["data"]], "count": recent["count"]}
        return JSONResponse(recent)
    except (BotoCoreError, ClientError) as error:
        raise _unavailable(error) from None
