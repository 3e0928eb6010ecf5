"""Drive the Reflex event websocket the way the browser does, for tests that must prove the server
refuses an event (a hidden button is not a permission): connect with a chosen cookie and Origin, send
any event with any payload, and collect what the server answers."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import socketio

NAMESPACE = "/_event"


class ReflexSocket:
    def __init__(self, client: socketio.AsyncClient) -> None:
        self.client = client
        self.received: list[dict[str, Any]] = []
        self._arrived = asyncio.Event()

    def _on_event(self, data: Any) -> None:
        self.received.append(data if isinstance(data, dict) else {"raw": data})
        self._arrived.set()

    async def send(self, state_cls: Any, handler: str, path: str = "/", **payload: Any) -> None:
        event = {
            "name": f"{state_cls.get_full_name()}.{handler}",
            "payload": payload,
            "router_data": {"pathname": path, "asPath": path, "query": {}},
        }
        await self.client.emit("event", event, namespace=NAMESPACE)

    async def quiet(self, idle_s: float = 1.0, timeout_s: float = 15.0) -> list[dict[str, Any]]:
        """Wait until the server has said nothing for `idle_s` (bounded by `timeout_s`); all answers so far."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while loop.time() < deadline:
            self._arrived.clear()
            try:
                await asyncio.wait_for(self._arrived.wait(), idle_s)
            except TimeoutError:
                break
        return self.received

    def frontend_events(self) -> list[dict[str, Any]]:
        """The events the server asked the page to run (redirects, toasts, scripts)."""
        found = []
        for update in self.received:
            found.extend(update.get("events") or [])
        return found

    def deltas(self) -> list[dict[str, Any]]:
        return [update["delta"] for update in self.received if update.get("delta")]


@asynccontextmanager
async def reflex_socket(
    app_url: str, *, cookie: str | None = None, origin: str | None = None
) -> AsyncIterator[ReflexSocket]:
    client = socketio.AsyncClient(reconnection=False)
    socket = ReflexSocket(client)
    client.on("event", socket._on_event, namespace=NAMESPACE)
    headers = {"Origin": origin or app_url}
    if cookie:
        headers["Cookie"] = cookie
    await client.connect(
        f"{app_url}?token={uuid.uuid4()}",
        socketio_path="/_event",
        namespaces=[NAMESPACE],
        transports=["websocket"],
        headers=headers,
        wait_timeout=15,
    )
    try:
        yield socket
    finally:
        await client.disconnect()
