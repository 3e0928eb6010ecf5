"""Turns form text and domain errors into what the UI shows: typed payload values and per-field messages."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from inventory_app.domain.errors import DomainError


def int_or_text(text: str) -> int | str:
    """Numbers arrive as text; pass non-numbers through so the service's validator names the field."""
    try:
        return int(text.strip())
    except ValueError:
        return text


def field_messages(error: DomainError, fields: Iterable[str]) -> tuple[dict[str, str], str]:
    """Split a domain error into messages for the form's own fields and one form-level message."""
    by_field = dict.fromkeys(fields, "")
    elsewhere: list[str] = []
    for problem in error.errors:
        if problem.field in by_field:
            joined = f"{by_field[problem.field]}; " if by_field[problem.field] else ""
            by_field[problem.field] = joined + problem.message
        else:
            elsewhere.append(f"{problem.field} {problem.message}")
    summary = error.detail if not elsewhere else f"{error.detail} ({'; '.join(elsewhere)})"
    return by_field, summary


def short_time(rfc3339: str) -> str:
    """Show a timestamp to the minute; the full value stays in the API."""
    try:
        return datetime.fromisoformat(rfc3339.replace("Z", "+00:00")).strftime("%Y-%m-%d %H:%M UTC")
    except (ValueError, AttributeError):
        return rfc3339 or ""
