"""Request parsing shared by the routes: JSON bodies with size/type checks, If-Match, Idempotency-Key."""

from __future__ import annotations

import json
import re
from typing import Any

import orjson
from fastapi import Request

from inventory_app.api.auth_gate import principal_of
from inventory_app.api.errors import ProblemError
from inventory_app.domain.errors import FieldError
from inventory_app.domain.identity import Principal
from inventory_app.services.identity import ClientInfo, require_principal

MAX_JSON_BODY_BYTES = 1_000_000
MAX_DISCARD_BYTES = 16_000_000
# The contract's rule, exactly (openapi IfMatch): a quoted positive version, optionally weak, up to 64 bits.
ETAG_PATTERN = re.compile(r'^(?:W/)?"([1-9][0-9]{0,18})"$')
MAX_VERSION = 2**63 - 1


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
        await _discard_rest(request, 0)
        raise _too_large()
    body = bytearray()
    async for chunk in request.stream():
        body.extend(chunk)
        if len(body) > MAX_JSON_BODY_BYTES:
            await _discard_rest(request, len(body))
            raise _too_large()
    try:
        # orjson is strict RFC 8259 (no NaN, no lone surrogates, bounded depth) and several times faster;
        # whatever it refuses goes through the stdlib parser below for the same answers as before.
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        pass
    try:
        payload = json.loads(body, parse_constant=_reject_constant)
        # "\ud800" is a valid JSON escape but a lone surrogate is not Unicode text: PostgreSQL (and the
        # problem naming such a key) cannot encode it, which used to end in a 500.
        json.dumps(payload, ensure_ascii=False).encode("utf-8")
    except (UnicodeDecodeError, json.JSONDecodeError, ValueError) as error:
        raise _malformed(f"The body is not valid JSON: {error}") from None
    except RecursionError:  # e.g. 100,000 nested `[`: the parser gives up (it used to be a 500)
        raise _malformed("The body is not valid JSON: it is nested too deeply.") from None
    return payload


async def _discard_rest(request: Request, already_read: int) -> None:
    """Read and drop the rest of an oversized body (up to a bound) before answering 413.

    Answering while the client is still sending leaves the unread bytes on a keep-alive connection, and
    the client's next request on it fails ("server disconnected"). Past the bound the connection is
    not worth saving and the server closes it.
    """
    seen = already_read
    async for chunk in request.stream():
        seen += len(chunk)
        if seen > MAX_DISCARD_BYTES:
            return


def _reject_constant(name: str) -> Any:
    """Python's parser accepts NaN/Infinity, which are not JSON (RFC 8259)."""
    raise ValueError(f"{name} is not a JSON value")


def _malformed(detail: str) -> ProblemError:
    return ProblemError(400, "malformed-json", "Malformed JSON", detail, [FieldError("body", "is not valid JSON")])


def _too_large() -> ProblemError:
    return ProblemError(
        413,
        "payload-too-large",
        "Payload too large",
        f"The body exceeds {MAX_JSON_BODY_BYTES} bytes.",
        [FieldError("body", f"must be at most {MAX_JSON_BODY_BYTES} bytes")],
    )


def parse_if_match(value: str | None) -> int | None:
    """`"3"` or `W/"3"` name version 3; `*` or no header means 'any version'. Anything else — an unquoted
    `3` included — breaks the contract's pattern and is refused, never guessed at."""
    if value is None or value.strip() == "*":
        return None
    match = ETAG_PATTERN.match(value.strip())
    if not match or int(match.group(1)) > MAX_VERSION:
        # The contract lists 422 (not 400) for a header that breaks its parameter schema.
        raise ProblemError(
            422,
            "validation-error",
            "Invalid If-Match header",
            'If-Match must be an ETag such as "3" or W/"3" (quoted), or *.',
            [FieldError("If-Match", "is not a valid ETag")],
        )
    return int(match.group(1))


def etag(version: int) -> str:
    return f'"{version}"'


def current_principal(request: Request) -> Principal:
    """The caller the gate (`api/auth_gate.py`) let in; every protected route starts here."""
    return require_principal(principal_of(request.scope))


def client_info(request: Request) -> ClientInfo:
    return ClientInfo(ip=request.client.host if request.client else None, user_agent=request.headers.get("user-agent"))
