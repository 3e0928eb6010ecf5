"""A small Server-Sent Events client for tests: parse messages, read a stream message by message."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx

STREAM = "/api/notifications/stream"


@dataclass
class SseMessage:
    event: str | None = None
    id: str | None = None
    data: str = ""
    retry: int | None = None
    comments: list[str] = field(default_factory=list)

    def json(self) -> dict[str, Any]:
        return json.loads(self.data)

    @property
    def is_notice(self) -> bool:
        return self.event not in (None, "gap") and bool(self.data)

    @property
    def notice_id(self) -> str:
        """The notice's own id (its event's id); the SSE `id` is the stream's position instead."""
        return self.json()["id"]


def parse_block(lines: list[str]) -> SseMessage:
    """One SSE message from its lines (the blank line that ends it excluded)."""
    message, data = SseMessage(), []
    for line in lines:
        if line.startswith(":"):
            message.comments.append(line[1:].strip())
            continue
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if name == "data":
            data.append(value)
        elif name == "event":
            message.event = value
        elif name == "id":
            message.id = value
        elif name == "retry":
            message.retry = int(value)
    message.data = "\n".join(data)
    return message


class SseReader:
    """Reads one open stream message by message; every message read is kept in `received`."""

    def __init__(self, response: httpx.Response) -> None:
        self.response = response
        self._lines = response.aiter_lines()
        self.received: list[SseMessage] = []

    async def next(self) -> SseMessage:
        block: list[str] = []
        async for line in self._lines:
            if line:
                block.append(line)
            elif block:
                message = parse_block(block)
                self.received.append(message)
                return message
        raise AssertionError("the stream ended")

    async def until(self, predicate: Callable[[SseMessage], bool], timeout_s: float, what: str) -> SseMessage:
        try:
            async with asyncio.timeout(timeout_s):
                while not predicate(message := await self.next()):
                    pass
                return message
        except TimeoutError:
            raise AssertionError(f"no {what} within {timeout_s}s") from None

    def notices(self) -> list[SseMessage]:
        return [m for m in self.received if m.is_notice]

    def notice_ids(self) -> list[str]:
        return [m.notice_id for m in self.notices()]


def about(product_id: str, notice_type: str | None = None) -> Callable[[SseMessage], bool]:
    def matches(message: SseMessage) -> bool:
        if not message.is_notice:
            return False
        notice = message.json()
        return notice["product_id"] == product_id and (notice_type is None or notice["type"] == notice_type)

    return matches


@asynccontextmanager
async def open_stream(client: httpx.AsyncClient, last_event_id: str | None = None) -> AsyncIterator[SseReader]:
    headers = {"Accept": "text/event-stream"}
    if last_event_id:
        headers["Last-Event-ID"] = last_event_id
    async with client.stream("GET", STREAM, headers=headers) as response:
        assert response.status_code == 200, await response.aread()
        reader = SseReader(response)
        first = await asyncio.wait_for(reader.next(), 10)
        assert first.comments == ["connected"], first  # subscribed: what happens from now on is streamed
        yield reader
