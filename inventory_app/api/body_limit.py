"""Upload size limits enforced on the bytes as they arrive, before any parser sees them.

A declared Content-Length is not a limit: a chunked upload declares none, and multipart parsers spool the
whole body (to memory, then to temporary disk) before a route can look at it. So the body is counted here,
in front of both import entry points (the REST import and Reflex's `/_upload`), and a request that passes
the limit is answered 413 as soon as it does: nothing past the limit is read, buffered or written.
"""

from __future__ import annotations

import json

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from inventory_app.api.errors import PROBLEM_BASE, PROBLEM_JSON, uri_path

# Multipart framing (boundaries, part headers, Reflex's handler arguments) on top of the file itself,
# so that a file of exactly the limit still fits.
MULTIPART_SLACK = 64 * 1024
BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})


class BodyTooLarge(Exception):
    """Raised from `receive` into whatever is reading the body; the middleware turns it into the 413."""


class BodyLimitMiddleware:
    def __init__(self, app: ASGIApp, *, paths: frozenset[str], max_file_bytes: int) -> None:
        self.app = app
        self.paths = paths
        self.max_file_bytes = max_file_bytes
        self.max_body_bytes = max_file_bytes + MULTIPART_SLACK

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in BODY_METHODS or scope["path"] not in self.paths:
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.max_body_bytes:
            await self._too_large(scope, send)  # refused before a byte of the body is read
            return
        received = 0
        exceeded = False
        started = False

        async def counting_receive() -> Message:
            nonlocal received, exceeded
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body_bytes:
                    exceeded = True
                    raise BodyTooLarge
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if exceeded and not started:
                return  # whatever the app answers to the aborted read (a 400, a 500) gives way to the 413
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, guarded_send)
        except BodyTooLarge:
            pass
        except Exception:
            if not exceeded:
                raise
        if exceeded and not started:
            await self._too_large(scope, send)

    async def _too_large(self, scope: Scope, send: Send) -> None:
        body = json.dumps(
            {
                "type": f"{PROBLEM_BASE}/payload-too-large",
                "title": "Payload too large",
                "status": 413,
                "detail": f"Import files may be at most {self.max_file_bytes} bytes.",
                "instance": uri_path(scope["path"]),
                "errors": [{"field": "file", "message": "is too large"}],
            }
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                # The rest of the body is never read: close the connection rather than leave it unread.
                "headers": [
                    (b"content-type", PROBLEM_JSON.encode()),
                    (b"content-length", str(len(body)).encode()),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


def _content_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            return int(value) if value.isdigit() else None
    return None
