"""The app in prod mode serves its page, its liveness and readiness on one port."""

from __future__ import annotations

import httpx
import pytest
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.e2e


def test_health_is_ok(api: httpx.Client) -> None:
    response = api.get("/api/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_ready_is_200_with_every_dependency_up(api: httpx.Client) -> None:
    response = api.get("/api/ready")
    body = response.json()
    assert response.status_code == 200, body
    assert body["status"] == "ready"
    assert {name: check["status"] for name, check in body["checks"].items()} == {
        "postgres": "up",
        "kafka": "up",
        "dynamodb": "up",
        "s3": "up",
    }
    assert body["outbox"]["pending"] >= 0


def test_browser_shows_the_page_heading(page: Page, app_url: str) -> None:
    page.goto(app_url)
    expect(page.get_by_role("heading", level=1)).to_have_text("Inventory", timeout=20_000)
