"""GET /api/notifications/stream: live notices over Server-Sent Events, with Last-Event-ID replay."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections import deque
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Header, Request
from sse_starlette import EventSourceResponse, ServerSentEvent

from inventory_app.adapters.notification_hub import CLOSE, Subscriber, get_hub
from inventory_app.api.deps import current_principal
from inventory_app.api.errors import ProblemError
from inventory_app.domain.errors import NotAuthenticated
from inventory_app.domain.notices import notice_for
from inventory_app.services import event_history
from inventory_app.services.credentials import authenticate, bearer_token, session_from_cookie_header
from inventory_app.settings import get_settings

router = APIRouter(prefix="/api/notifications", tags=["notifications"])
log = logging.getLogger("inventory_app.notifications")
RETRY_MS = 3000
# How often an open stream checks that its session or token is still valid: a revoked credential's
# stream ends within this (the credential cache is flushed on revocation, so the check asks PostgreSQL).
CREDENTIAL_RECHECK_S = 5.0


def _message(notice: dict[str, Any]) -> ServerSentEvent:
    return ServerSentEvent(data=json.dumps(notice, separators=(",", ":")), event=notice["type"], id=notice["id"])


async def missed_notices(last_event_id: str, limit: int) -> list[dict[str, Any]]:
    """Notices newer than `last_event_id`, oldest first, from the event log (bounded by `limit`)."""
    events = (await event_history.recent_events(limit))["data"]  # newest first
    missed = []
    for event in events:
        if event["id"] == last_event_id:
            break
        missed.append(notice_for(event))
    return list(reversed(missed))


async def _credentials_valid(request: Request) -> bool:
    try:
        principal = await authenticate(
            bearer=bearer_token(request.headers.get("authorization")),
            session=session_from_cookie_header(request.headers.get("cookie")),
        )
    except NotAuthenticated:
        return False
    except Exception as error:  # noqa: BLE001 - database down: keep the stream, check again later
        log.warning("cannot re-check a stream's credentials: %s", error)
        return True
    return principal is not None


async def _stream(
    subscriber: Subscriber, last_event_id: str | None, request: Request
) -> AsyncIterator[ServerSentEvent]:
    hub = get_hub()
    settings = get_settings()
    sent: deque[str] = deque(maxlen=settings.sse_replay_limit * 2)
    try:
        yield ServerSentEvent(comment="connected", retry=RETRY_MS)
        if last_event_id:
            # Subscribed before reading the log, so nothing falls between replay and live;
            # ids already replayed are skipped when they also arrive live.
            try:
                for notice in await missed_notices(last_event_id, settings.sse_replay_limit):
                    sent.append(notice["id"])
                    yield _message(notice)
            except Exception as error:  # noqa: BLE001 - replay is best effort; live notices go on
                log.warning("replay after %s unavailable: %s", last_event_id, error)
                yield ServerSentEvent(data=json.dumps({"dropped": 0, "reason": "replay unavailable"}), event="gap")
        next_check = time.monotonic() + CREDENTIAL_RECHECK_S
        while hub is not None and not hub.shutting_down.is_set():
            try:
                notice = await asyncio.wait_for(subscriber.queue.get(), timeout=CREDENTIAL_RECHECK_S)
            except TimeoutError:
                notice = None
            if time.monotonic() >= next_check:
                if not await _credentials_valid(request):
                    return  # signed out, revoked or disabled: reconnecting gets 401
                next_check = time.monotonic() + CREDENTIAL_RECHECK_S
            if notice is None:
                continue
            if notice is CLOSE or subscriber.closed.is_set():
                return
            dropped = subscriber.take_gap()
            if dropped:
                yield ServerSentEvent(data=json.dumps({"dropped": dropped}), event="gap")
            if notice["id"] in sent:
                continue
            yield _message(notice)
    finally:
        if hub is not None:
            hub.unsubscribe(subscriber)


@router.get("/stream")
async def notification_stream(
    request: Request,
    last_event_id: Annotated[str | None, Header(alias="Last-Event-ID", max_length=100)] = None,
) -> EventSourceResponse:
    current_principal(request)  # any role receives notifications
    hub = get_hub()
    if hub is None or hub.shutting_down.is_set():
        raise ProblemError(503, "service-unavailable", "Service unavailable", "Live notifications are not running.")
    subscriber = hub.subscribe()
    return EventSourceResponse(
        _stream(subscriber, last_event_id, request),
        ping=get_settings().sse_ping_interval_s,
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        send_timeout=30,
    )
