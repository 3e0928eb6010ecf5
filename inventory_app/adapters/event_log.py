"""The recent-events log in DynamoDB: one item per event, readable per product or across products.

Key design (single table):
  pk = "PRODUCT#<product id>", sk = "<time>#<event id>"        → a product's history, newest first
  gsi1pk = "DAY#<yyyy-mm-dd>", gsi1sk = "<time>#<event id>"    → recent events across products, newest first
The sort key is derived from the event itself, so a redelivered event maps to the same item and the
conditional put (attribute_not_exists) turns it into a no-op. `expires_at` is the TTL attribute.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError

from inventory_app.backoff import backoff_delay

RECENT_INDEX = "gsi1"


def event_time(event: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(event["time"].replace("Z", "+00:00")).astimezone(UTC)


def sort_key(event: dict[str, Any]) -> str:
    # Fixed-width timestamp so lexicographic order is time order.
    return f"{event_time(event).strftime('%Y-%m-%dT%H:%M:%S.%fZ')}#{event['id']}"


def to_item(event: dict[str, Any], retention_days: int) -> dict[str, Any]:
    moment = event_time(event)
    key = sort_key(event)
    return {
        "pk": {"S": f"PRODUCT#{event['subject']}"},
        "sk": {"S": key},
        "gsi1pk": {"S": f"DAY#{moment.strftime('%Y-%m-%d')}"},
        "gsi1sk": {"S": key},
        "event_id": {"S": event["id"]},
        "event_type": {"S": event["type"]},
        "product_id": {"S": event["subject"]},
        "event": {"S": json.dumps(event, separators=(",", ":"))},
        "expires_at": {"N": str(int((moment + timedelta(days=retention_days)).timestamp()))},
    }


async def ensure_table(client: Any, table: str) -> bool:
    """Create the table when it is missing; True when this call created it (it is empty then)."""
    created = False
    try:
        await client.describe_table(TableName=table)
    except ClientError as error:
        if error.response["Error"]["Code"] != "ResourceNotFoundException":
            raise
        try:
            await client.create_table(
                TableName=table,
                BillingMode="PAY_PER_REQUEST",
                AttributeDefinitions=[
                    {"AttributeName": name, "AttributeType": "S"} for name in ("pk", "sk", "gsi1pk", "gsi1sk")
                ],
                KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
                GlobalSecondaryIndexes=[
                    {
                        "IndexName": RECENT_INDEX,
                        "KeySchema": [
                            {"AttributeName": "gsi1pk", "KeyType": "HASH"},
                            {"AttributeName": "gsi1sk", "KeyType": "RANGE"},
                        ],
                        "Projection": {"ProjectionType": "ALL"},
                    }
                ],
            )
            created = True
        except ClientError as create_error:
            if create_error.response["Error"]["Code"] != "ResourceInUseException":
                raise  # another notifier created it first otherwise
    waiter = client.get_waiter("table_exists")
    await waiter.wait(TableName=table, WaiterConfig={"Delay": 1, "MaxAttempts": 30})
    return created


async def enable_ttl(client: Any, table: str) -> bool:
    """Turn on TTL expiry where the endpoint supports it; carry on where it does not."""
    try:
        current = await client.describe_time_to_live(TableName=table)
        if current.get("TimeToLiveDescription", {}).get("TimeToLiveStatus") in ("ENABLED", "ENABLING"):
            return True
        await client.update_time_to_live(
            TableName=table, TimeToLiveSpecification={"Enabled": True, "AttributeName": "expires_at"}
        )
        return True
    except ClientError:
        return False


async def put_event(client: Any, table: str, event: dict[str, Any], retention_days: int) -> bool:
    """Store one event; False when it was already there (a redelivery)."""
    try:
        await client.put_item(
            TableName=table, Item=to_item(event, retention_days), ConditionExpression="attribute_not_exists(pk)"
        )
        return True
    except ClientError as error:
        if error.response["Error"]["Code"] == "ConditionalCheckFailedException":
            return False
        raise


BATCH_WRITE_LIMIT = 25  # DynamoDB's BatchWriteItem maximum
UNPROCESSED_ATTEMPTS = 5


class WritesUnprocessed(Exception):
    """DynamoDB kept handing back part of a batch (throttling): treat like an outage, retry the batch later."""


async def put_events(client: Any, table: str, events: Sequence[dict[str, Any]], retention_days: int) -> None:
    """Store many events, 25 to a request. Idempotent without a condition: an event's item (key and content)
    is derived from the event alone, so writing it again overwrites it with the same bytes.

    One request per 25 events instead of one per event is most of the notifier's cost against DynamoDB (and
    of the CPU that moto, standing in for it here, takes from the rest of the pipeline).
    """
    items = {}
    for event in events:  # one request may not name a key twice
        item = to_item(event, retention_days)
        items[(item["pk"]["S"], item["sk"]["S"])] = item
    requests = [{"PutRequest": {"Item": item}} for item in items.values()]
    for start in range(0, len(requests), BATCH_WRITE_LIMIT):
        pending = requests[start : start + BATCH_WRITE_LIMIT]
        for attempt in range(1, UNPROCESSED_ATTEMPTS + 1):
            response = await client.batch_write_item(RequestItems={table: pending})
            pending = response.get("UnprocessedItems", {}).get(table, [])
            if not pending:
                break
            if attempt == UNPROCESSED_ATTEMPTS:
                raise WritesUnprocessed(f"{len(pending)} of a batch still unprocessed after {attempt} attempts")
            await asyncio.sleep(backoff_delay(attempt, 0.05, 1.0))


def _rebuild_marker_key(topic: str) -> dict[str, Any]:
    # Outside the PRODUCT# and DAY# key spaces (and without gsi1 attributes): no history query sees it.
    return {"pk": {"S": "META#rebuild"}, "sk": {"S": f"TOPIC#{topic}"}}


async def put_rebuild_marker(client: Any, table: str, topic: str, end_offsets: dict[int, int]) -> None:
    """Record that the table holds every event of `topic` up to `end_offsets` (a finished rebuild)."""
    item = {
        **_rebuild_marker_key(topic),
        "end_offsets": {"S": json.dumps({str(p): o for p, o in sorted(end_offsets.items())})},
        "finished_at": {"S": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")},
    }
    await client.put_item(TableName=table, Item=item)


async def rebuild_marker(client: Any, table: str, topic: str) -> dict[int, int] | None:
    """The end offsets of the last finished rebuild from `topic`, or None when the table never had one."""
    response = await client.get_item(TableName=table, Key=_rebuild_marker_key(topic), ConsistentRead=True)
    item = response.get("Item")
    if not item:
        return None
    return {int(p): int(o) for p, o in json.loads(item["end_offsets"]["S"]).items()}


async def product_versions(client: Any, table: str, product_id: str, max_items: int) -> set[int]:
    """The product versions (data.product.version) the log holds for one product, reading at most `max_items`."""
    versions: set[int] = set()
    read = 0
    start_key = None
    while read < max_items:
        query: dict[str, Any] = {
            "TableName": table,
            "KeyConditionExpression": "pk = :pk",
            "ExpressionAttributeValues": {":pk": {"S": f"PRODUCT#{product_id}"}},
            "ProjectionExpression": "#e",
            "ExpressionAttributeNames": {"#e": "event"},
            "Limit": min(1000, max_items - read),
        }
        if start_key:
            query["ExclusiveStartKey"] = start_key
        response = await client.query(**query)
        items = response.get("Items", [])
        read += len(items)
        for event in _events(items):
            version = ((event.get("data") or {}).get("product") or {}).get("version")
            if isinstance(version, int):
                versions.add(version)
        start_key = response.get("LastEvaluatedKey")
        if not start_key:
            break
    return versions


def _events(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [json.loads(item["event"]["S"]) for item in items]


async def product_history(client: Any, table: str, product_id: str, limit: int) -> list[dict[str, Any]]:
    response = await client.query(
        TableName=table,
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": f"PRODUCT#{product_id}"}},
        ScanIndexForward=False,
        Limit=limit,
    )
    return _events(response.get("Items", []))


async def recent_events(
    client: Any, table: str, limit: int, retention_days: int, now: datetime | None = None
) -> list[dict[str, Any]]:
    """Newest first across products: walk the day buckets backwards until `limit` events are found."""
    day = (now or datetime.now(UTC)).date()
    found: list[dict[str, Any]] = []
    for _ in range(retention_days + 1):
        response = await client.query(
            TableName=table,
            IndexName=RECENT_INDEX,
            KeyConditionExpression="gsi1pk = :d",
            ExpressionAttributeValues={":d": {"S": f"DAY#{day.isoformat()}"}},
            ScanIndexForward=False,
            Limit=limit - len(found),
        )
        found.extend(_events(response.get("Items", [])))
        if len(found) >= limit:
            break
        day -= timedelta(days=1)
    return found
