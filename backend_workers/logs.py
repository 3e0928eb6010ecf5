"""Structured logging for the workers: one JSON object per line."""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any, TextIO


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat().replace("+00:00", "Z"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        extra = getattr(record, "fields", None)
        if isinstance(extra, dict):
            entry.update(extra)
        if record.exc_info:
            entry["error"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def configure(level: str = "INFO", stream: TextIO = sys.stdout) -> None:
    """Workers log to stdout; a command-line tool passes stderr, keeping its stdout for its output."""
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    logging.getLogger("aiokafka").setLevel("WARNING")
    logging.getLogger("botocore").setLevel("WARNING")
    logging.getLogger("aiobotocore").setLevel("WARNING")
    logging.getLogger("alembic").setLevel("WARNING")


def fields(**values: Any) -> dict[str, Any]:
    """`log.info("...", extra=fields(k=v))` puts k=v into the JSON line."""
    return {"fields": values}
