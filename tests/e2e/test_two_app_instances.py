"""Two app instances on one PostgreSQL, Kafka and Redis: a change made through one reaches both browsers once.

The second instance serves the frontend the session's app exported (`serve --prebuilt-frontend`), as a
second container of the same image would.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import uuid
from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from devstack.app_process import AppProcess
from tests.conftest import STACK, TEST_ENV, signed_in_state, wait_for
from tests.integration.helpers import outbox_events
from tests.sse_client import about, open_stream
from tests.support import run_async

pytestmark = pytest.mark.e2e
TIMEOUT_MS = 15_000
# Far past its threshold, so the adjustment below raises a low-stock warning.
QUANTITY, THRESHOLD, DELTA = 500_000, 400_000, -499_990
STREAM_CAP = 3  # the second instance's streams per user or token (the session's app allows thousands)


@pytest.fixture(scope="module")
def second_instance(app_server) -> Iterator[AppProcess]:
    port = int(TEST_ENV["APP_PORT"]) + 7
    server = AppProcess(
        port,
        STACK.logs_dir / f"test-app-{port}.log",
        env={"GRANIAN_WORKERS": "1", "SSE_MAX_STREAMS_PER_USER": str(STREAM_CAP)},
        args=("--prebuilt-frontend",),
    )
    server.start()
    yield server
    server.stop()


def live_page(browser: Browser, url: str, account) -> Page:
    context = browser.new_context(viewport={"width": 1280, "height": 900}, storage_state=signed_in_state(url, account))
    page = context.new_page()
    page.goto(url)
    expect(page.get_by_role("heading", level=2, name="Products")).to_be_visible(timeout=TIMEOUT_MS)
    expect(page.get_by_test_id("connection-indicator")).to_have_attribute("data-state", "live", timeout=TIMEOUT_MS)
    return page


def test_a_change_through_one_instance_reaches_browsers_and_streams_on_both_exactly_once(
    app_url: str, second_instance: AppProcess, accounts, engine, browser: Browser
) -> None:
    urls = [app_url, second_instance.url]
    sku = f"TWO-{uuid.uuid4().hex[:8].upper()}"
    pages = [live_page(browser, url, accounts.viewer) for url in urls]

    async def scenario() -> tuple[str, list[list[str]], list[str]]:
        async with (
            httpx.AsyncClient(base_url=urls[0], headers=accounts.editor.headers, timeout=30) as first,
            httpx.AsyncClient(base_url=urls[1], headers=accounts.editor.headers, timeout=30) as second,
            open_stream(first) as on_first,
            open_stream(second) as on_second,
        ):
            created = await first.post(
                "/api/products",
                json={
                    "sku": sku,
                    "name": "Two-instance widget",
                    "price": "1.00",
                    "quantity": QUANTITY,
                    "low_stock_threshold": THRESHOLD,
                },
            )
            assert created.status_code == 201, created.text
            product_id = created.json()["id"]
            # The second instance caches the product, then the first instance changes it.
            for _ in range(2):
                assert (await second.get(f"/api/products/{product_id}")).json()["name"] == "Two-instance widget"
            renamed = await first.patch(f"/api/products/{product_id}", json={"name": "Renamed on the first"})
            assert renamed.status_code == 200, renamed.text
            adjusted = await first.post(
                f"/api/products/{product_id}/stock-adjustments", json={"delta": DELTA, "reason": "sold"}
            )
            assert adjusted.status_code == 201, adjusted.text

            async def name_on_second() -> str:
                for _ in range(40):
                    name = (await second.get(f"/api/products/{product_id}")).json()["name"]
                    if name == "Renamed on the first":
                        break
                    await asyncio.sleep(0.05)
                return name

            expected = [e["id"] for e in outbox_events(engine, product_id)]
            received = []
            for reader in (on_first, on_second):
                while len([m for m in reader.notices() if about(product_id)(m)]) < len(expected):
                    await asyncio.wait_for(reader.next(), 15)
                received.append([m.notice_id for m in reader.notices() if about(product_id)(m)])
            return await name_on_second(), received, expected

    name, received, expected = run_async(scenario())
    assert name == "Renamed on the first", "the second instance's read cache kept the old product"
    assert len(expected) == 4  # created, renamed, adjusted, low-stock warning
    assert received == [expected, expected]
    for page in pages:
        toast = page.get_by_test_id("low-stock-toast").filter(has_text=f"Low stock: {sku}")
        expect(toast).to_have_count(1, timeout=TIMEOUT_MS)
        page.get_by_role("button", name=re.compile(r"^Notifications, \d+ unread$")).click()
        panel = page.get_by_role("dialog", name="Notifications")
        notices = panel.get_by_role("list", name="Recent notifications").locator("a", has_text=sku)
        wait_for(lambda notices=notices: notices.count() == 4, 15, 0.2, f"four notices about {sku} in the panel")
        page.context.close()


def test_streams_are_capped_per_token_and_per_user_with_a_clear_429(second_instance: AppProcess, accounts) -> None:
    async def scenario() -> tuple[httpx.Response, int, int]:
        async with (
            httpx.AsyncClient(base_url=second_instance.url, headers=accounts.editor.headers, timeout=30) as editor,
            httpx.AsyncClient(base_url=second_instance.url, headers=accounts.viewer.headers, timeout=30) as viewer,
        ):
            async with contextlib.AsyncExitStack() as streams:
                for _ in range(STREAM_CAP):
                    await streams.enter_async_context(open_stream(editor))
                refused = await editor.get("/api/notifications/stream", headers={"Accept": "text/event-stream"})
                async with open_stream(viewer) as other:  # another token is not affected
                    assert other.received[0].comments == ["connected"]
                still_answers = (await editor.get("/api/products", params={"limit": 1})).status_code
            # The streams closed: the token may open one again (the server counts them down on disconnect).
            for _ in range(50):
                async with editor.stream("GET", "/api/notifications/stream") as again:
                    if again.status_code == 200:
                        break
                await asyncio.sleep(0.1)
            return refused, still_answers, again.status_code

    refused, still_answers, again = run_async(scenario())
    assert refused.status_code == 429, refused.text
    assert refused.headers["content-type"].startswith("application/problem+json")
    problem = refused.json()
    assert problem["type"].endswith("/too-many-streams") and str(STREAM_CAP) in problem["detail"]
    assert still_answers == 200
    assert again == 200
