"""Notice positions, replay and gaps, in process: a hub whose window is fed by hand instead of by Kafka.

The Kafka side (the hub reading the topic, resuming after an outage) is tested against a real broker in
tests/integration/test_notification_stream.py and tests/faults/test_live_notice_faults.py.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from sse_starlette import ServerSentEvent
from starlette.requests import Request

from inventory_app.adapters.notification_hub import NotificationHub, notice_from_record
from inventory_app.api.routes.notifications import _stream, subscribe
from inventory_app.domain.notice_window import NoticeWindow, Reason, decode, encode
from inventory_app.settings import Settings

PARTITIONS = 3


def notice(n: int, time: str = "2026-12-03T10:00:00Z") -> dict[str, Any]:
    return {"id": f"event-{n}", "type": "product_updated", "time": time}


def hub(capacity: int = 100) -> NotificationHub:
    hub = NotificationHub(Settings(notice_window_size=capacity))
    hub.window.start([0] * PARTITIONS, [0] * PARTITIONS)
    hub.highwater = [10_000] * PARTITIONS
    return hub


async def take(stream: Any, count: int) -> list[ServerSentEvent]:
    return [await asyncio.wait_for(anext(stream), 2) for _ in range(count)]


def open_stream(hub: NotificationHub, token: str | None = None) -> Any:
    subscriber, opening_gap = subscribe(hub, token)
    return _stream(hub, subscriber, opening_gap, Request({"type": "http", "headers": []}))


def ids(messages: list[ServerSentEvent]) -> list[str]:
    return [json.loads(m.data)["id"] for m in messages]


def test_a_position_token_round_trips_and_junk_is_refused() -> None:
    assert decode(encode([0, 17, 123456789012]), 3) == (0, 17, 123456789012)
    for junk in (None, "", "event-1", "p1.1.2", "p1.1.2.x", "p1.-1.2.3", "p1.1.2.3.4", "p1." + "9" * 1200):
        assert decode(junk, 3) is None, junk


def test_replay_follows_arrival_order_not_event_time_and_skips_commit_markers() -> None:
    """Seam 3: events that arrive later with earlier times are replayed, in the order they arrived."""

    async def scenario() -> tuple[list[str], list[str], str]:
        h = hub()
        # Offsets jump by two: a transactional topic has a commit marker after each record here.
        h.window.add(0, 0, notice(1, "2026-12-03T10:00:05Z"))
        h.window.add(1, 0, notice(2, "2026-12-03T10:00:04Z"))
        first = open_stream(h)
        await take(first, 1)  # connected
        h.window.add(0, 2, notice(3, "2026-12-03T10:00:09Z"))
        h.announce()
        seen = await take(first, 1)
        # Disconnected after notice 3; later arrivals carry earlier event times.
        h.window.add(2, 0, notice(4, "2026-12-03T09:59:00Z"))
        h.window.add(1, 2, notice(5, "2026-12-03T09:58:00Z"))
        h.window.add(0, 4, notice(6, "2026-12-03T10:00:10Z"))
        resumed = open_stream(h, seen[-1].id)
        replayed = await take(resumed, 4)
        h.window.add(2, 2, notice(7))
        h.announce()
        live = await take(resumed, 1)
        h.close()
        rest = [m async for m in resumed]
        assert rest == []
        return ids(seen), ids(replayed[1:] + live), live[-1].id

    seen, after, last_position = asyncio.run(scenario())
    assert seen == ["event-3"]
    assert after == ["event-4", "event-5", "event-6", "event-7"]
    assert decode(last_position, PARTITIONS) == (5, 3, 3)


def test_a_position_older_than_the_window_gets_a_gap_then_what_is_still_held() -> None:
    """Seam 4: a Last-Event-ID past the replay window is never silently truncated."""

    async def scenario() -> list[ServerSentEvent]:
        h = hub(capacity=10)
        for n in range(30):
            h.window.add(n % PARTITIONS, n // PARTITIONS, notice(n))
        stream = open_stream(h, encode([1, 1, 1]))
        messages = await take(stream, 12)
        h.close()
        return messages

    connected, gap, *notices = asyncio.run(scenario())
    assert connected.comment == "connected"
    assert gap.event == "gap"
    assert json.loads(gap.data) == {"reason": Reason.REPLAY_WINDOW, "action": "reload"}
    assert ids(notices) == [f"event-{n}" for n in range(20, 30)]


def test_a_position_from_elsewhere_gets_a_gap_and_continues_from_now() -> None:
    async def scenario() -> list[ServerSentEvent]:
        h = hub()
        h.window.add(0, 0, notice(1))
        messages = []
        for token in ("an-old-event-id", encode([0, 0]), encode([10_001, 0, 0])):
            stream = open_stream(h, token)
            messages += await take(stream, 2)
            await stream.aclose()
        return messages

    messages = asyncio.run(scenario())
    gaps = [json.loads(m.data) for m in messages if m.event == "gap"]
    assert gaps == [{"reason": Reason.INVALID_POSITION, "action": "reload"}] * 3
    assert [decode(m.id, PARTITIONS) for m in messages if m.event == "gap"] == [(1, 0, 0)] * 3


def test_a_client_that_falls_behind_the_window_is_told_how_many_it_missed() -> None:
    async def scenario() -> list[ServerSentEvent]:
        h = hub(capacity=10)
        stream = open_stream(h)
        messages = await take(stream, 1)
        for n in range(17):
            h.window.add(0, n, notice(n))
        h.announce()
        messages += await take(stream, 11)
        h.close()
        return messages

    _, gap, *notices = asyncio.run(scenario())
    assert (gap.event, json.loads(gap.data)) == ("gap", {"reason": Reason.BEHIND, "action": "reload", "dropped": 7})
    assert ids(notices) == [f"event-{n}" for n in range(7, 17)]


def test_a_truncated_log_sends_every_stream_a_gap_and_delivery_goes_on() -> None:
    async def scenario() -> list[ServerSentEvent]:
        h = hub()
        stream = open_stream(h)
        messages = await take(stream, 1)
        h.window.add(1, 0, notice(1))
        h.resume_at([0, 50, 0], [0, 60, 0])  # after an outage: partition 1's offsets 1..49 are gone
        h.window.add(1, 50, notice(2))
        h.announce()
        messages += await take(stream, 3)
        h.close()
        return messages

    _, first, gap, after = asyncio.run(scenario())
    assert ids([first, after]) == ["event-1", "event-2"]
    assert (gap.event, json.loads(gap.data)["reason"]) == ("gap", Reason.LOG_TRUNCATED)
    assert decode(after.id, PARTITIONS) == (0, 51, 0)


def test_a_stream_opened_before_the_hub_could_read_gets_a_gap_then_only_live_notices() -> None:
    async def scenario() -> list[ServerSentEvent]:
        h = NotificationHub(Settings(notice_window_size=100))
        stream = open_stream(h)
        messages = await take(stream, 1)
        # The hub connects: offsets 0..4 were on the topic already (history), 5 is new.
        h.resume_at([0, 0, 0], [5, 0, 0])
        for offset in range(6):
            h.window.add(0, offset, notice(offset))
        h.announce()
        messages += await take(stream, 2)
        h.close()
        return messages

    _, gap, live = asyncio.run(scenario())
    assert json.loads(gap.data)["reason"] == Reason.RESUMED
    assert ids([live]) == ["event-5"]


def test_the_window_keeps_the_newest_and_knows_what_it_still_covers() -> None:
    window = NoticeWindow(capacity=3)
    window.start([0, 0], [0, 0])
    for offset in range(4):
        window.add(offset % 2, offset, notice(offset))
    assert [n["id"] for n in window.newest(10)] == ["event-3", "event-2", "event-1"]
    assert window.coverage == [1, 0]
    assert window.complete_from([1, 0]) and not window.complete_from([0, 0])
    assert window.after(0) is None and [e.seq for e in window.after(2) or []] == [3, 4]
    assert window.add(0, 9, None) is None and window.position == [10, 4]  # unreadable: skipped, passed


@pytest.mark.parametrize("value", [b"", b"not json", b'{"type": "something.else"}', None])
def test_a_record_that_is_not_a_product_event_has_no_notice(value: bytes | None) -> None:
    assert notice_from_record(value) is None


def test_streams_are_counted_per_owner_and_released_on_close() -> None:
    from inventory_app.adapters.notification_hub import TooManyStreams

    h = NotificationHub(Settings(sse_max_streams_per_user=2))
    first, second = h.subscribe(owner="token:a"), h.subscribe(owner="token:a")
    with pytest.raises(TooManyStreams):
        h.subscribe(owner="token:a")
    h.subscribe(owner="user:b")  # someone else is not affected
    h.unsubscribe(first)
    h.unsubscribe(first)  # closing twice does not free a second slot
    third = h.subscribe(owner="token:a")
    with pytest.raises(TooManyStreams):
        h.subscribe(owner="token:a")
    assert h.open_by_owner == {"token:a": 2, "user:b": 1} and {second, third} <= h.subscribers
