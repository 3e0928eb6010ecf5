"""Live notices: GET /api/notifications/stream (Server-Sent Events) and GET /api/notifications/recent.

Every message's SSE `id` is the client's position in the product-events topic after that notice
(`domain.notice_window`), valid on any app instance. A client resumes with it (`Last-Event-ID`, or
`?after=` for a new EventSource) and gets exactly what it missed, in order, none twice — or, when this
server can no longer know what that was, a `gap` message telling it to reload its list.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import JSONResponse
from sse_starlette import EventSourceResponse, ServerSentEvent

from inventory_app import metrics
from inventory_app.adapters.notification_hub import NotificationHub, Subscriber, TooManyStreams
from inventory_app.api.deps import current_principal
from inventory_app.api.errors import ProblemError
from inventory_app.bootstrap import wiring
from inventory_app.domain.errors import NotAuthenticated
from inventory_app.domain.notice_window import MAX_TOKEN_LENGTH, Reason, clamp_to, decode, deliverable, encode
from inventory_app.services.credentials import authenticate, bearer_token, session_from_cookie_header
from inventory_app.settings import get_settings

router = APIRouter(prefix="/api/notifications", tags=["notifications"])
log = logging.getLogger("inventory_app.notifications")
RETRY_MS = 3000
# How often an open stream checks that its session or token is still valid: a revoked credential's
# stream ends within this (the credential cache is flushed on revocation, so the check asks PostgreSQL).
CREDENTIAL_RECHECK_S = 5.0


def _message(notice: dict[str, Any], position: list[int]) -> ServerSentEvent:
    return ServerSentEvent(data=json.dumps(notice, separators=(",", ":")), event=notice["type"], id=encode(position))


def _gap(reason: str, position: list[int] | None, dropped: int | None = None) -> ServerSentEvent:
    metrics.SSE_GAPS.inc()
    body: dict[str, Any] = {"reason": reason, "action": "reload"}
    if dropped is not None:
        body["dropped"] = dropped
    # The gap carries the position to resume from, so a client reconnecting right after it does not
    # ask for the same unreachable past again.
    return ServerSentEvent(
        data=json.dumps(body, separators=(",", ":")), event="gap", id=encode(position) if position else None
    )


def _start(hub: NotificationHub, subscriber: Subscriber) -> ServerSentEvent | None:
    """Place a stream once the hub has a position: resumed from its token, or at "now". A gap if incomplete."""
    window = hub.window
    assert window.position is not None and window.live_from is not None
    if subscriber.token is None:
        if subscriber.hub_started:
            subscriber.position, subscriber.cursor = list(window.position), subscriber.opened_seq
            return None
        # Opened before the hub could read anything: what the topic got meanwhile is behind `live_from`.
        subscriber.position, subscriber.cursor = list(window.live_from), window.first_seq - 1
        return _gap(Reason.RESUMED, subscriber.position)
    asked = decode(subscriber.token, window.partitions)
    ends = [max(h, p) for h, p in zip(hub.highwater or window.position, window.position, strict=True)]
    if asked is None or any(mine > end for mine, end in zip(asked, ends, strict=True)):
        subscriber.position, subscriber.cursor = list(window.position), window.seq
        return _gap(Reason.INVALID_POSITION, subscriber.position)
    subscriber.cursor = window.first_seq - 1  # walk everything held, filtered by position
    if window.complete_from(asked):
        subscriber.position = list(asked)
        return None
    subscriber.position = clamp_to(asked, window.coverage)
    return _gap(Reason.REPLAY_WINDOW, subscriber.position)


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


def _open(hub: NotificationHub, subscriber: Subscriber) -> bool:
    return not hub.shutting_down.is_set() and not subscriber.closed.is_set()


def subscribe(
    hub: NotificationHub, token: str | None, owner: str | None = None
) -> tuple[Subscriber, ServerSentEvent | None]:
    """A new subscriber, placed at once when the hub has a position (later when it gets one)."""
    subscriber = hub.subscribe(token, owner)
    return subscriber, (_start(hub, subscriber) if hub.window.position is not None else None)


async def _stream(
    hub: NotificationHub, subscriber: Subscriber, opening_gap: ServerSentEvent | None, request: Request
) -> AsyncIterator[ServerSentEvent]:
    try:
        yield ServerSentEvent(comment="connected", retry=RETRY_MS)
        if opening_gap is not None:
            yield opening_gap
        next_check = time.monotonic() + CREDENTIAL_RECHECK_S
        while _open(hub, subscriber):
            if subscriber.position is None and hub.window.position is not None:
                gap = _start(hub, subscriber)
                if gap is not None:
                    yield gap
            if subscriber.position is not None:
                entries = hub.window.after(subscriber.cursor)
                if entries is None:  # fell further behind than the window holds
                    dropped = hub.window.first_seq - 1 - subscriber.cursor
                    subscriber.cursor = hub.window.first_seq - 1
                    yield _gap(Reason.BEHIND, subscriber.position, dropped)
                    continue
                for entry in entries:
                    if not _open(hub, subscriber):
                        return
                    subscriber.cursor = entry.seq
                    if entry.is_gap:
                        subscriber.position = list(entry.reset_to)
                        yield _gap(entry.reason, subscriber.position)
                    elif entry.notice is not None and deliverable(entry, subscriber.position):
                        yield _message(entry.notice, subscriber.position)
            if time.monotonic() >= next_check:
                if not await _credentials_valid(request):
                    return  # signed out, revoked or disabled: reconnecting gets 401
                next_check = time.monotonic() + CREDENTIAL_RECHECK_S
            await hub.wait_for_news(subscriber.cursor, CREDENTIAL_RECHECK_S)
    finally:
        hub.unsubscribe(subscriber)


def _running_hub() -> NotificationHub:
    hub = wiring().hub
    if hub is None or hub.shutting_down.is_set():
        raise ProblemError(503, "service-unavailable", "Service unavailable", "Live notifications are not running.")
    return hub


@router.get("/stream")
async def notification_stream(
    request: Request,
    last_event_id: Annotated[str | None, Header(alias="Last-Event-ID", max_length=MAX_TOKEN_LENGTH)] = None,
    after: Annotated[str | None, Query(max_length=MAX_TOKEN_LENGTH)] = None,
) -> EventSourceResponse:
    principal = current_principal(request)  # any role receives notifications
    hub = _running_hub()
    # Sessions count per user (a person's tabs), tokens per token (a script's connections).
    owner = f"token:{principal.credential_id}" if principal.via == "token" else f"user:{principal.user_id}"
    try:
        # The browser's own reconnect sends Last-Event-ID: newer than the `after` the page opened with.
        subscriber, opening_gap = subscribe(hub, last_event_id or after, owner)
    except TooManyStreams:
        limit = get_settings().sse_max_streams_per_user
        raise ProblemError(
            429,
            "too-many-streams",
            "Too many open streams",
            f"At most {limit} notification streams may be open at once per user (per API token for tokens) "
            "on this server; close one first.",
        ) from None
    return EventSourceResponse(
        _stream(hub, subscriber, opening_gap, request),
        ping=get_settings().sse_ping_interval_s,
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        send_timeout=30,
    )


@router.get("/recent")
async def recent_notifications(request: Request, limit: Annotated[int, Query(ge=1, le=1000)] = 30) -> JSONResponse:
    """The newest notices this server holds, newest first, and the position to open the stream `after`."""
    current_principal(request)
    hub = _running_hub()
    position = hub.window.position
    data = hub.window.newest(limit)
    return JSONResponse(
        {"data": data, "count": len(data), "position": encode(position) if position is not None else None},
        headers={"Cache-Control": "no-store"},
    )
