"""DynamoDB and S3 clients (aioboto3) with short timeouts and bounded retries."""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from typing import Any

import aioboto3
from botocore.config import Config

from inventory_app.settings import Settings

_session = aioboto3.Session()


def _config(timeout_s: float, attempts: int) -> Config:
    return Config(
        connect_timeout=timeout_s,
        read_timeout=timeout_s,
        retries={"max_attempts": attempts, "mode": "standard"},
        max_pool_connections=50,
    )


def _common(settings: Settings) -> dict[str, Any]:
    return {
        "region_name": settings.aws_region,
        "aws_access_key_id": settings.aws_access_key_id,
        "aws_secret_access_key": settings.aws_secret_access_key,
    }


def dynamodb_client(
    settings: Settings, *, timeout_s: float = 5.0, attempts: int = 3
) -> AbstractAsyncContextManager[Any]:
    return _session.client(
        "dynamodb",
        endpoint_url=settings.dynamodb_endpoint_url,
        config=_config(timeout_s, attempts),
        **_common(settings),
    )


def s3_client(settings: Settings, *, timeout_s: float = 5.0, attempts: int = 3) -> AbstractAsyncContextManager[Any]:
    return _session.client(
        "s3", endpoint_url=settings.s3_endpoint_url, config=_config(timeout_s, attempts), **_common(settings)
    )
