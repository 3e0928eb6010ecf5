"""After-commit announcements: coalesced, never lost, and a request waits until its own commit is announced."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable

import psycopg
import pytest

from inventory_app import metrics
from inventory_app.adapters import commit_notices
from inventory_app.adapters.commit_notices import IDS_PER_NOTICE, CommitNotices, notices


class RecordingNotices(CommitNotices):
    """Sends to a list instead of PostgreSQL; fails the first `failures` sends like a lost connection."""

    def __init__(self, failures: int = 0, delay_s: float = 0.01) -> None:
        super().__init__(pool=None)  # type: ignore[arg-type]  # _send is replaced, the pool is never used
        self.sent: list[tuple[set[str] | None, bool]] = []
        self.started: list[float] = []  # when each send began (loop time)
        self.failures = failures
        self.delay_s = delay_s

    async def _send(self, products: set[str] | None, events: bool) -> None:
        self.started.append(asyncio.get_running_loop().time())
        await asyncio.sleep(self.delay_s)  # a round trip, during which more commits arrive
        if self.failures:
            self.failures -= 1
            raise psycopg.OperationalError("connection lost")
        self.sent.append((None if products is None else set(products), events))


def announced(sent: list[tuple[set[str] | None, bool]]) -> set[str]:
    return {product for products, _ in sent for product in (products or ())}


def test_ids_are_split_into_payloads_postgresql_accepts() -> None:
    ids = {str(uuid.uuid4()) for _ in range(IDS_PER_NOTICE * 2 + 1)}
    channels, payloads = notices(ids, events=True)
    assert channels == ["product_changes"] * 3 + ["outbox"]
    assert all(len(p.encode()) < 8000 for p in payloads)
    assert {i for p in payloads[:3] for i in p.split(",")} == ids
    assert payloads[3] == ""
    assert notices(None, False) == (["product_changes"], [""])  # everything changed


async def _run(notices_: RecordingNotices, commits: list[set[str]]) -> list[int]:
    """Each commit announces itself; returns how many sends had completed when each `committed` returned."""
    sender = asyncio.create_task(notices_.run_forever())
    await asyncio.sleep(0)
    seen: list[int] = []

    async def commit(products: set[str]) -> None:
        await notices_.committed(products, events=True)
        assert products <= announced(notices_.sent), "answered before its commit was announced"
        seen.append(len(notices_.sent))

    try:
        await asyncio.gather(*(commit(p) for p in commits))
    finally:
        sender.cancel()
        await asyncio.gather(sender, return_exceptions=True)
    return seen


def counted() -> tuple[float, float, float]:
    return tuple(  # type: ignore[return-value]
        metrics.REGISTRY.get_sample_value(name) or 0.0
        for name in ("commit_announcements_total", "commit_notice_sends_total", "commit_notice_errors_total")
    )


def test_concurrent_commits_share_sends_and_each_waits_for_its_own() -> None:
    recording = RecordingNotices()
    commits = [{str(uuid.uuid4())} for _ in range(50)]
    before = counted()
    asyncio.run(_run(recording, commits))
    assert announced(recording.sent) == set().union(*commits)
    assert len(recording.sent) < 10, f"{len(recording.sent)} sends for 50 concurrent commits: not coalesced"
    assert all(events for _, events in recording.sent)
    # /metrics shows the same: 50 commits announced, in as many sends as happened, none failed.
    announced_n, sends, errors = (after - earlier for after, earlier in zip(counted(), before, strict=True))
    assert (announced_n, sends, errors) == (50, len(recording.sent), 0)


INTERVAL_S = 0.05


async def _unit(notices_: RecordingNotices, name: str, runs_s: float, waits: dict[str, float]) -> None:
    """A unit of work as the unit of work runs one: begins, runs, ends, then waits for its announcement."""
    notices_.unit_began()
    await asyncio.sleep(runs_s)
    notices_.unit_ended()
    started = asyncio.get_running_loop().time()
    await notices_.committed({name}, events=True)
    waits[name] = asyncio.get_running_loop().time() - started


async def _with_sender(notices_: RecordingNotices, scenario: Callable[[], Awaitable[None]]) -> None:
    sender = asyncio.create_task(notices_.run_forever())
    await asyncio.sleep(0)
    try:
        await scenario()
    finally:
        sender.cancel()
        await asyncio.gather(sender, return_exceptions=True)


def test_a_lone_writer_is_announced_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(commit_notices, "SEND_INTERVAL_S", INTERVAL_S)
    recording, waits = RecordingNotices(delay_s=0.001), {}

    async def one_after_another() -> None:
        for i in range(5):
            await _unit(recording, f"u{i}", 0.001, waits)

    asyncio.run(_with_sender(recording, one_after_another))
    assert [products for products, _ in recording.sent] == [{f"u{i}"} for i in range(5)]
    assert max(waits.values()) < INTERVAL_S / 2, f"a lone writer waited for nobody: {waits}"


def test_units_running_together_share_one_send(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(commit_notices, "SEND_INTERVAL_S", INTERVAL_S)
    recording, waits = RecordingNotices(delay_s=0.001), {}

    async def together() -> None:
        await _unit(recording, "first", 0.001, waits)  # just sent: the next send may wait for the others
        await asyncio.gather(*(_unit(recording, f"u{i}", 0.004 * (i + 1), waits) for i in range(5)))

    asyncio.run(_with_sender(recording, together))
    assert [products for products, _ in recording.sent] == [{"first"}, {f"u{i}" for i in range(5)}]
    # Sent as soon as the last of them ended, not at the end of the interval.
    assert recording.started[1] - recording.started[0] < INTERVAL_S


def test_a_long_unit_holds_other_commits_back_no_longer_than_the_interval(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(commit_notices, "SEND_INTERVAL_S", INTERVAL_S)
    recording, waits = RecordingNotices(delay_s=0.001), {}

    async def beside_a_long_one() -> None:
        recording.unit_began()  # an import, say, that runs on past this test's commits
        try:
            await _unit(recording, "a", 0.001, waits)  # nothing sent lately: at once
            await _unit(recording, "b", 0.001, waits)  # the long one runs: waits, but only till the interval ends
        finally:
            recording.unit_ended()

    asyncio.run(_with_sender(recording, beside_a_long_one))
    assert [products for products, _ in recording.sent] == [{"a"}, {"b"}]
    gap = recording.started[1] - recording.started[0]
    assert INTERVAL_S * 0.99 <= gap < INTERVAL_S * 3, gap
    assert waits["a"] < INTERVAL_S / 2


def test_a_failed_send_is_retried_with_nothing_lost() -> None:
    recording = RecordingNotices(failures=2)
    commits = [{str(uuid.uuid4())} for _ in range(5)]
    errors_before = counted()[2]
    asyncio.run(_run(recording, commits))
    assert announced(recording.sent) == set().union(*commits)
    assert counted()[2] - errors_before == 2


def test_a_request_answers_anyway_when_announcing_takes_too_long(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(commit_notices, "WAIT_S", 0.05)
    recording = RecordingNotices(failures=1_000, delay_s=0.01)

    async def scenario() -> float:
        sender = asyncio.create_task(recording.run_forever())
        await asyncio.sleep(0)
        started = asyncio.get_running_loop().time()
        try:
            await recording.committed({"a"})
        finally:
            sender.cancel()
            await asyncio.gather(sender, return_exceptions=True)
        return asyncio.get_running_loop().time() - started

    assert asyncio.run(scenario()) < 1.0


def test_without_a_sender_on_the_loop_a_commit_is_announced_at_once() -> None:
    recording = RecordingNotices()
    asyncio.run(recording.committed({"a", "b"}, events=False))
    assert recording.sent == [({"a", "b"}, False)]
    asyncio.run(recording.committed(()))  # nothing changed, nothing written: nothing to say
    assert len(recording.sent) == 1


def test_too_many_pending_ids_become_everything_changed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(commit_notices, "MAX_PENDING_IDS", 3)
    recording = RecordingNotices()
    recording._add({"a", "b"}, False)
    recording._add({"c", "d"}, True)
    assert recording._products is None and recording._events


def test_what_is_pending_at_shutdown_gets_one_last_send() -> None:
    recording = RecordingNotices(delay_s=0.05)

    async def scenario() -> None:
        sender = asyncio.create_task(recording.run_forever())
        await asyncio.sleep(0)
        waiter = asyncio.create_task(recording.committed({"a"}))
        await asyncio.sleep(0.01)  # the send is on its way
        sender.cancel()  # shutdown, mid-send
        await asyncio.gather(sender, return_exceptions=True)
        await asyncio.wait_for(waiter, 1)  # released, not left waiting

    asyncio.run(scenario())
    assert recording.sent == [({"a"}, False)]


class FakeConnection:
    """The sender's own connection: records statements; `broken` makes the next execute fail like a lost link."""

    def __init__(self, log: list[str], broken: bool = False) -> None:
        self.log = log
        self.broken = broken
        self.closed = False

    async def execute(self, sql: str, params: dict[str, list[str]]) -> None:
        if self.broken:
            raise psycopg.OperationalError("server closed the connection unexpectedly")
        self.log.append(",".join(params["payloads"]))

    async def close(self) -> None:
        self.closed = True


def test_the_sender_reconnects_after_its_connection_breaks_and_closes_it_when_idle(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(commit_notices, "IDLE_CLOSE_S", 0.2)
    backoff = commit_notices.Backoff
    monkeypatch.setattr(commit_notices, "Backoff", lambda *_: backoff(0.01, 0.01))
    sent: list[str] = []
    opened: list[FakeConnection] = []

    async def connect() -> FakeConnection:
        opened.append(FakeConnection(sent, broken=not opened))  # the first connection breaks at once
        return opened[-1]

    notices_ = CommitNotices(pool=None, connect=connect)  # type: ignore[arg-type]  # the pool is never used

    async def scenario() -> None:
        sender = asyncio.create_task(notices_.run_forever())
        await asyncio.sleep(0)
        try:
            await notices_.committed({"a"})
            await notices_.committed({"b"})
            assert [c.closed for c in opened] == [True, False]  # the broken one dropped, the new one kept
            await asyncio.sleep(0.5)  # idle past IDLE_CLOSE_S
            assert opened[-1].closed
        finally:
            sender.cancel()
            await asyncio.gather(sender, return_exceptions=True)

    asyncio.run(scenario())
    assert sent == ["a", "b"]
    assert len(opened) == 2
