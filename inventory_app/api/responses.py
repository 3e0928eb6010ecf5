"""Responses: JSON encoded with orjson (several times faster than `json` for our bodies; same compact output),
and spooled files sent with a per-chunk timeout."""

from __future__ import annotations

import asyncio
import logging
import os
from typing import Any, BinaryIO

import orjson
from fastapi.responses import Response
from starlette.types import Receive, Scope, Send

log = logging.getLogger("inventory_app.api")

JSON = "application/json"


def encode(body: Any) -> bytes:
    return orjson.dumps(body)


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(encode(body), status_code=status, headers=headers, media_type=JSON)


def raw_json_response(encoded: bytes, headers: dict[str, str] | None = None) -> Response:
    return Response(encoded, headers=headers, media_type=JSON)


class SpooledFileResponse(Response):
    """Sends an already written (spooled) file in chunks, each send bounded by `send_timeout_s`.

    A client that stops reading holds only the file, and only for `send_timeout_s` after its last chunk
    was taken: then the response is abandoned and the file closed.
    """

    CHUNK = 64 * 1024

    def __init__(self, spool: BinaryIO, *, media_type: str, headers: dict[str, str], send_timeout_s: float) -> None:
        super().__init__(media_type=media_type, headers=headers)
        self.spool = spool
        self.send_timeout_s = send_timeout_s
        spool.seek(0, os.SEEK_END)
        self.headers["content-length"] = str(spool.tell())
        spool.seek(0)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await asyncio.wait_for(
                send({"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers}),
                self.send_timeout_s,
            )
            while chunk := self.spool.read(self.CHUNK):
                await asyncio.wait_for(
                    send({"type": "http.response.body", "body": chunk, "more_body": True}), self.send_timeout_s
                )
            await asyncio.wait_for(send({"type": "http.response.body", "body": b""}), self.send_timeout_s)
        except TimeoutError:
            log.warning("export abandoned: the client took more than %.0fs to read a chunk", self.send_timeout_s)
        finally:
            self.spool.close()
