"""The recent-events log in DynamoDB: one item per event, readable per product or across products.

Key design (single table):
  pk = "PRODUCT#<product id>", sk = "<time>#<event id>"        → a product's history, newest first
  gsi1pk = "DAY#<yyyy-mm-dd>", gsi1sk = "<time>#<event id>"    → recent events across products, newest first
The sort key is derived from the event itself, so a redelivered event maps to the same item and the
conditional put (attribute_not_exists) turns it into a no-op. `expires_at` is the TTL attribute.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError

from inventory_app.settings import Settings

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


async def ensure_table(client: Any, table: str) -> None:
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
        except ClientError as create_error:
            if create_error.response["Error"]["Code"] != "ResourceInUseException":
                raise  # another notifier created it first otherwise
    waiter = client.get_waiter("table_exists")
    await waiter.wait(TableName=table, WaiterConfig={"Delay": 1, "MaxAttempts": 30})


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


def table_settings(settings: Settings) -> tuple[str, int]:
    return settings.dynamodb_events_table, settings.event_retention_days
