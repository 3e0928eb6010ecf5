"""A bug put into a real notifier process from outside: DynamoDB writes of chosen products fail.

On PYTHONPATH, Python imports this at start-up. It wraps the event log's puts so events whose product id is
in `TEST_NOTIFIER_BUG_PRODUCTS` fail with a non-retryable error (as a handler bug would): the worker
dead-letters them and goes on. The replay runs without it, which is "the fix".
"""

from __future__ import annotations

import os

from botocore.exceptions import ClientError

from inventory_app.adapters import event_log

_BROKEN = set(filter(None, os.environ.get("TEST_NOTIFIER_BUG_PRODUCTS", "").split(",")))
_put_event, _put_events = event_log.put_event, event_log.put_events


def _refuse(events) -> None:
    for event in events:
        if event.get("subject") in _BROKEN:
            raise ClientError(
                {
                    "Error": {"Code": "ValidationException", "Message": "test bug"},
                    "ResponseMetadata": {"HTTPStatusCode": 400},
                },
                "PutItem",
            )


async def put_event(client, table, event, retention_days):
    _refuse([event])
    return await _put_event(client, table, event, retention_days)


async def put_events(client, table, events, retention_days):
    _refuse(events)
    return await _put_events(client, table, events, retention_days)


event_log.put_event, event_log.put_events = put_event, put_events
