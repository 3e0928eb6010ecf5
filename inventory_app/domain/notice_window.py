"""The newest notices a process has read from the product-events topic, each at its position in the topic.

A position is the next offset to read in every partition (a vector). It is the same in every app
process, because every process reads the same partitions of the same topic, so a browser can resume on
any instance with the position it last saw (sent as the SSE `id`, returned as `Last-Event-ID`).

Replay and live delivery both filter by position: a subscriber gets an entry when the entry's offset is
at or past the subscriber's position in that entry's partition. That gives each notice once, in the
order this process read it, whatever the interleaving of partitions and event times. Offsets are never
assumed contiguous (a transactional topic has commit markers between records): completeness is judged by
`coverage`, the lowest offset per partition from which this window still holds every record it read.
"""

from __future__ import annotations

import itertools
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

TOKEN_PREFIX = "p1."
MAX_TOKEN_LENGTH = 1000


class Reason:
    """Why a stream cannot be complete; every `gap` tells the client to reload its list."""

    BEHIND = "the client fell behind the notices this server keeps"
    REPLAY_WINDOW = "Last-Event-ID is older than the notices this server keeps"
    INVALID_POSITION = "Last-Event-ID is not a position on this topic"
    LOG_TRUNCATED = "the topic no longer holds notices this server had not read"
    RESUMED = "live notices (re)started after this stream opened"


def encode(position: Sequence[int]) -> str:
    return TOKEN_PREFIX + ".".join(str(offset) for offset in position)


def decode(token: str | None, partitions: int) -> tuple[int, ...] | None:
    """The position in a `Last-Event-ID`, or None when it is not one for a topic of this many partitions."""
    if not token or len(token) > MAX_TOKEN_LENGTH or not token.startswith(TOKEN_PREFIX):
        return None
    parts = token[len(TOKEN_PREFIX) :].split(".")
    if len(parts) != partitions or not all(p.isascii() and p.isdigit() for p in parts):
        return None
    return tuple(int(p) for p in parts)


@dataclass(frozen=True, slots=True)
class Entry:
    seq: int  # this process's arrival counter: 1, 2, 3, ...
    partition: int  # -1 for a gap marker
    offset: int
    notice: dict[str, Any] | None
    # A gap marker: why, and the position every subscriber continues from.
    reason: str = ""
    reset_to: tuple[int, ...] = ()

    @property
    def is_gap(self) -> bool:
        return self.partition < 0


class NoticeWindow:
    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.entries: deque[Entry] = deque()
        self.seq = 0
        self.position: list[int] | None = None  # next offset to read per partition; None before the first read
        self.coverage: list[int] = []
        self.live_from: tuple[int, ...] | None = None  # where live notices began: older ones are history

    @property
    def partitions(self) -> int:
        return len(self.position or ())

    def start(self, starts: Sequence[int], ends: Sequence[int]) -> None:
        """First read: history from `starts`, live from `ends` (the end of the topic at start)."""
        self.position = list(starts)
        self.coverage = list(starts)
        self.live_from = tuple(ends)

    def reset(self, partition: int, offset: int, reason: str) -> Entry:
        """The topic no longer has what this window expected in `partition`: continue at `offset`, with a gap."""
        assert self.position is not None
        self.position[partition] = offset
        self.coverage[partition] = offset
        return self._append(Entry(self.seq + 1, -1, -1, None, reason, tuple(self.position)))

    def add(self, partition: int, offset: int, notice: dict[str, Any] | None) -> Entry | None:
        """One record read; an unreadable one (notice None) still moves the position past it."""
        assert self.position is not None
        self.position[partition] = offset + 1
        if notice is None:
            return None
        return self._append(Entry(self.seq + 1, partition, offset, notice))

    def _append(self, entry: Entry) -> Entry:
        self.seq = entry.seq
        self.entries.append(entry)
        while len(self.entries) > self.capacity:
            evicted = self.entries.popleft()
            if not evicted.is_gap:
                self.coverage[evicted.partition] = max(self.coverage[evicted.partition], evicted.offset + 1)
        return entry

    @property
    def first_seq(self) -> int:
        return self.entries[0].seq if self.entries else self.seq + 1

    def after(self, seq: int) -> list[Entry] | None:
        """Entries newer than `seq`, oldest first; None when some of them were already evicted."""
        if seq >= self.seq:
            return []
        first = self.first_seq
        if seq < first - 1:
            return None
        return list(itertools.islice(self.entries, seq - first + 1, None))

    def complete_from(self, position: Sequence[int]) -> bool:
        """Whether every notice at or past `position` that this process has read is still here."""
        return len(position) == len(self.coverage) and all(
            mine >= held for mine, held in zip(position, self.coverage, strict=True)
        )

    def newest(self, limit: int) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        for entry in reversed(self.entries):
            if len(found) >= limit:
                break
            if entry.notice is not None:
                found.append(entry.notice)
        return found


def deliverable(entry: Entry, position: list[int]) -> bool:
    """Whether a subscriber at `position` has not had `entry` yet; moves the position past it if so."""
    if entry.offset < position[entry.partition]:
        return False
    position[entry.partition] = entry.offset + 1
    return True


def clamp_to(position: Sequence[int], floor: Sequence[int] | Mapping[int, int]) -> list[int]:
    return [max(mine, floor[p]) for p, mine in enumerate(position)]
