"""Request parsing shared by the routes: JSON bodies with size/type checks, If-Match, Idempotency-Key."""

from __future__ import annotations

import json
import re
from typing import Any

from fastapi import Request

from inventory_app.api.errors import ProblemError
from inventory_app.domain.errors import FieldError

MAX_JSON_BODY_BYTES = 1_000_000
ETAG_PATTERN = re.compile(r'^\s*(?:W/)?"?(\d{1,10})"?\s*$')


async def read_json_body(request: Request) -> Any:
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != "application/json" and not content_type.endswith("+json"):
        raise ProblemError(
            415,
            "unsupported-media-type",
            "Unsupported media type",
            "Send the body as application/json.",
            [FieldError("Content-Type", f"must be application/json, not {content_type or 'missing'}")],
        )
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > MAX_JSON_BODY_BYTES:
        raise _too_large()
    body = bytearray()
    async for chunk in request.stream():
        body.extend(chunk)
        if len(body) > MAX_JSON_BODY_BYTES:
            raise _too_large()
    try:
        return json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ProblemError(
            400,
            "malformed-json",
            "Malformed JSON",
            f"The body is not valid JSON: {error}",
            [FieldError("body", "is not valid JSON")],
        ) from None


def _too_large() -> ProblemError:
    return ProblemError(
        413,
        "payload-too-large",
        "Payload too large",
        f"The body exceeds {MAX_JSON_BODY_BYTES} bytes.",
        [FieldError("body", f"must be at most {MAX_JSON_BODY_BYTES} bytes")],
    )


def parse_if_match(value: str | None) -> int | None:
    """`"3"`, `W/"3"` or `3` name version 3; `*` or no header means 'any version'."""
    if value is None or value.strip() == "*":
        return None
    match = ETAG_PATTERN.match(value)
    if not match:
        # The contract lists 422 (not 400) for a header that breaks its parameter schema.
        raise ProblemError(
            422,
            "validation-error",
            "Invalid If-Match header",
            'If-Match must be an ETag such as "3".',
            [FieldError("If-Match", "is not a valid ETag")],
        )
    return int(match.group(1))


def etag(version: int) -> str:
    return f'"{version}"'
