"""JSON responses encoded with orjson (several times faster than `json` for our bodies; same compact output)."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi.responses import Response

JSON = "application/json"


def encode(body: Any) -> bytes:
    return orjson.dumps(body)


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(encode(body), status_code=status, headers=headers, media_type=JSON)


def raw_json_response(encoded: bytes, headers: dict[str, str] | None = None) -> Response:
    return Response(encoded, headers=headers, media_type=JSON)
