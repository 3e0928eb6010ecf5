"""Archive batches of events to S3 as gzip NDJSON under events/YYYY/MM/DD/HH/, idempotently by name."""

from __future__ import annotations

import gzip
import json
from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError

from backend_workers.consumed import ConsumedEvent


def object_key(topic: str, partition: int, first_offset: int, last_offset: int, timestamp_ms: int) -> str:
    """Same batch → same key: a re-upload after a crash overwrites with identical content."""
    hour = datetime.fromtimestamp(timestamp_ms / 1000, UTC).strftime("%Y/%m/%d/%H")
    return f"events/{hour}/{topic}-p{partition:03d}-{first_offset:012d}-{last_offset:012d}.ndjson.gz"


def encode(events: Sequence[dict[str, Any]]) -> bytes:
    lines = "".join(json.dumps(e, separators=(",", ":"), sort_keys=True) + "\n" for e in events)
    # mtime=0 keeps the bytes identical for identical content.
    return gzip.compress(lines.encode(), mtime=0)


def decode(body: bytes) -> list[dict[str, Any]]:
    return [json.loads(line) for line in gzip.decompress(body).decode().splitlines() if line]


def group_by_partition(batch: Sequence[ConsumedEvent]) -> dict[tuple[str, int], list[ConsumedEvent]]:
    groups: dict[tuple[str, int], list[ConsumedEvent]] = defaultdict(list)
    for item in batch:
        groups[(item.record.topic, item.record.partition)].append(item)
    return groups


async def ensure_bucket(client: Any, bucket: str) -> None:
    try:
        await client.head_bucket(Bucket=bucket)
    except ClientError:
        try:
            await client.create_bucket(Bucket=bucket)
        except ClientError as error:
            if error.response["Error"]["Code"] not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
                raise


async def archive_batch(client: Any, bucket: str, batch: Sequence[ConsumedEvent]) -> list[str]:
    keys = []
    for (topic, partition), items in group_by_partition(batch).items():
        items.sort(key=lambda i: i.record.offset)
        key = object_key(topic, partition, items[0].record.offset, items[-1].record.offset, items[0].record.timestamp)
        await client.put_object(
            Bucket=bucket,
            Key=key,
            Body=encode([i.event for i in items]),
            ContentType="application/x-ndjson",
            ContentEncoding="gzip",
        )
        keys.append(key)
    return keys


async def read_archive(client: Any, bucket: str, prefix: str = "events/") -> list[dict[str, Any]]:
    """Every archived event once: objects may overlap after a crash, so de-duplicate by event id."""
    seen: dict[str, dict[str, Any]] = {}
    paginator = client.get_paginator("list_objects_v2")
    async for page in paginator.paginate(Bucket=bucket, Prefix=prefix):
        for entry in page.get("Contents", []):
            response = await client.get_object(Bucket=bucket, Key=entry["Key"])
            async with response["Body"] as body:
                for event in decode(await body.read()):
                    seen.setdefault(event["id"], event)
    return list(seen.values())
