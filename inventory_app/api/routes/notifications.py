"""GET /api/notifications/stream: live notices over Server-Sent Events, with Last-Event-ID replay."""

from __future__ import annotations

import json
import logging
from collections import deque
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Header
from sse_starlette import EventSourceResponse, ServerSentEvent

from inventory_app.adapters.notification_hub import CLOSE, Subscriber, get_hub
from inventory_app.api.errors import ProblemError
from inventory_app.domain.notices import notice_for
from inventory_app.services import event_history
from inventory_app.settings import get_settings

router = APIRouter(prefix="/api/notifications", tags=["notifications"])
log = logging.getLogger("inventory_app.notifications")
RETRY_MS = 3000


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


async def _stream(subscriber: Subscriber, last_event_id: str | None) -> AsyncIterator[ServerSentEvent]:
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
        while hub is not None and not hub.shutting_down.is_set():
            notice = await subscriber.queue.get()
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
    last_event_id: Annotated[str | None, Header(alias="Last-Event-ID", max_length=100)] = None,
) -> EventSourceResponse:
    hub = get_hub()
    if hub is None or hub.shutting_down.is_set():
        raise ProblemError(503, "service-unavailable", "Service unavailable", "Live notifications are not running.")
    subscriber = hub.subscribe()
    return EventSourceResponse(
        _stream(subscriber, last_event_id),
        ping=get_settings().sse_ping_interval_s,
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        send_timeout=30,
    )
