"""Readiness tells the truth when a dependency goes away, and recovers when it returns."""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import devstack, wait_for

pytestmark = pytest.mark.faults


def test_ready_is_503_naming_kafka_while_kafka_is_stopped(api: httpx.Client) -> None:
    assert api.get("/api/ready").status_code == 200
    devstack("stop", "kafka")
    try:
        response = wait_for(
            lambda: (r := api.get("/api/ready")).status_code == 503 and r, 30, message="ready to turn 503"
        )
        body = response.json()
        assert body["status"] == "not_ready"
        assert body["checks"]["kafka"]["status"] == "down"
        assert body["checks"]["postgres"]["status"] == "up"
    finally:
        devstack("start", "kafka")
    wait_for(lambda: api.get("/api/ready").status_code == 200, 60, interval_s=0.5, message="ready again")
