"""Cached reads stay correct: every committed product change, from any process, reaches every cache."""

from __future__ import annotations

import asyncio
import time
import uuid

import httpx
import psycopg

from inventory_app.adapters.change_feed import ProductChangeFeed
from inventory_app.adapters.outbox import psycopg_url
from inventory_app.services import products
from inventory_app.services.read_cache import CachedResponse, ReadCache
from tests.support import TEST_EDITOR, call_async_service, run_async


def new_product(api: httpx.Client, quantity: int = 10) -> dict:
    sku = f"CACHE-{uuid.uuid4().hex[:10]}"
    response = api.post("/api/products", json={"sku": sku, "name": "Cached", "price": "2.00", "quantity": quantity})
    assert response.status_code == 201, response.text
    return response.json()


def test_the_change_feed_drops_a_product_when_any_session_commits_a_change(settings) -> None:
    """A change committed by another connection (here: plain SQL) reaches the cache; a rolled back one does not."""

    async def scenario() -> tuple[bool, bool]:
        cache = ReadCache()
        feed = ProductChangeFeed(settings, cache)
        task = asyncio.create_task(feed.run_forever())
        try:
            for _ in range(100):
                if cache.active:
                    break
                await asyncio.sleep(0.05)
            assert cache.active, "the change feed did not connect"
            async with await psycopg.AsyncConnection.connect(psycopg_url(settings.database_url)) as conn:
                product_id = str(
                    (await (await conn.execute("SELECT id FROM product ORDER BY created_at LIMIT 1")).fetchone())[0]
                )
                cache.put_product(product_id, CachedResponse(b"{}"), cache.token())
                await conn.execute("UPDATE product SET name = name WHERE id = %s", (product_id,))
                await conn.rollback()
                await asyncio.sleep(0.5)
                kept_after_rollback = cache.get_product(product_id) is not None
                await conn.execute("UPDATE product SET name = name WHERE id = %s", (product_id,))
                await conn.commit()
                for _ in range(100):
                    if cache.get_product(product_id) is None:
                        return kept_after_rollback, True
                    await asyncio.sleep(0.01)
                return kept_after_rollback, False
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    # Make sure one product exists (the suite may run this test first).
    call_async_service(
        products.create_product,
        {"sku": f"CACHE-{uuid.uuid4().hex[:10]}", "name": "Cached", "price": "1.00"},
        by=TEST_EDITOR,
    )
    kept_after_rollback, dropped_after_commit = run_async(scenario())
    assert kept_after_rollback, "a rolled back change must not invalidate"
    assert dropped_after_commit, "a committed change did not reach the cache within 1 s"


def test_the_api_serves_a_change_made_outside_the_app_process_within_a_second(api: httpx.Client) -> None:
    product = new_product(api)
    for _ in range(3):  # warm every worker's cache that this connection may reach
        assert api.get(f"/api/products/{product['id']}").json()["version"] == 1
    # Another process (this test, through the service layer) changes the product; the app hears only the NOTIFY.
    call_async_service(products.update_product, product["id"], {"name": "Renamed elsewhere"}, by=TEST_EDITOR)
    deadline = time.monotonic() + 1.0
    while True:
        body = api.get(f"/api/products/{product['id']}").json()
        if body["version"] == 2:
            break
        assert time.monotonic() < deadline, f"still serving version {body['version']} after 1 s"
        time.sleep(0.01)
    assert body["name"] == "Renamed elsewhere"
    listed = api.get("/api/products", params={"q": product["sku"]}).json()
    assert [p["name"] for p in listed["data"]] == ["Renamed elsewhere"]


def test_reads_after_writes_on_one_connection_always_see_the_write(api: httpx.Client) -> None:
    product = new_product(api, quantity=0)
    assert api.get(f"/api/products/{product['id']}").status_code == 200
    listing = {"q": product["sku"]}
    assert api.get("/api/products", params=listing).json()["data"][0]["quantity"] == 0
    for n in range(1, 41):
        adjusted = api.post(f"/api/products/{product['id']}/stock-adjustments", json={"delta": 1, "reason": "received"})
        assert adjusted.status_code == 201, adjusted.text
        got = api.get(f"/api/products/{product['id']}")
        assert got.json()["quantity"] == n
        assert got.headers["ETag"] == f'"{n + 1}"'
        assert api.get("/api/products", params=listing).json()["data"][0]["quantity"] == n
    patched = api.patch(f"/api/products/{product['id']}", json={"price": "3.50"})
    assert patched.status_code == 200
    assert api.get(f"/api/products/{product['id']}").json()["price"] == "3.50"
    assert api.delete(f"/api/products/{product['id']}").status_code == 204
    assert api.get(f"/api/products/{product['id']}").status_code == 404
    assert api.get("/api/products", params=listing).json()["count"] == 0


def test_an_id_spelled_in_upper_case_reads_the_same_fresh_entry(api: httpx.Client) -> None:
    product = new_product(api)
    upper = product["id"].upper()
    assert api.get(f"/api/products/{upper}").json()["version"] == 1
    api.patch(f"/api/products/{product['id']}", json={"name": "Upper"})
    assert api.get(f"/api/products/{upper}").json()["name"] == "Upper"


def test_a_cached_answer_is_the_same_response_the_route_gave(api: httpx.Client) -> None:
    product = new_product(api)
    listing = {"q": product["sku"], "limit": "5"}
    first, again = api.get(f"/api/products/{product['id']}"), api.get(f"/api/products/{product['id']}")
    listed, listed_again = api.get("/api/products", params=listing), api.get("/api/products", params=listing)
    for miss, hit in ((first, again), (listed, listed_again)):
        assert hit.status_code == miss.status_code == 200
        assert hit.content == miss.content
        for header in ("content-type", "etag", "content-length"):
            assert hit.headers.get(header) == miss.headers.get(header), header
    # Bad input is never answered from the cache: it reaches the route's validation every time.
    for _ in range(2):
        bad = api.get("/api/products", params={"limit": "0"})
        assert bad.status_code == 422
        assert bad.headers["content-type"].startswith("application/problem+json")
        assert bad.headers.get("x-cache") is None


def test_junk_parameters_are_refused_and_neither_fill_nor_evict_the_cache(api: httpx.Client) -> None:
    """`?limit=200&_=N` (a cache-buster) is a 422 naming `_`, never a new entry; the real page stays cached."""
    product = new_product(api)
    page = f"/api/products?q={product['sku']}&limit=7"

    def hit_on_a_repeat() -> bool:  # one keep-alive connection stays on one server worker
        return any(api.get(page).headers.get("x-cache") == "hit" for _ in range(5))

    assert api.get(page).headers["x-cache"] in ("hit", "miss")
    assert hit_on_a_repeat()
    for n in range(2_000):
        junk = api.get(f"{page}&_={n}")
        assert junk.status_code == 422, junk.text
        assert [e["field"] for e in junk.json()["errors"]] == ["_"]
    repeated = api.get(f"{page}&limit=8")
    assert repeated.status_code == 422 and repeated.json()["errors"][0]["field"] == "limit"
    assert api.get(page).headers["x-cache"] == "hit", "the real page was evicted or never kept"
    # The same page with its parameters in another order is the same entry.
    assert api.get(f"/api/products?limit=7&q={product['sku']}").headers["x-cache"] == "hit"


def test_a_cut_listener_connection_turns_the_cache_off_until_it_listens_again(settings) -> None:
    """The feed's connection is killed under it (as a network cut or a failover would): the cache stops
    serving at once, reconnects, and a change committed after that still reaches it."""
    name = f"test-feed-{uuid.uuid4().hex[:8]}"

    async def scenario() -> tuple[bool, bool, bool]:
        cache = ReadCache()
        feed = ProductChangeFeed(settings, cache, application_name=name, heartbeat_s=0.5)
        task = asyncio.create_task(feed.run_forever())

        async def until(check, timeout_s: float = 10) -> bool:
            for _ in range(int(timeout_s / 0.02)):
                if check():
                    return True
                await asyncio.sleep(0.02)
            return False

        try:
            assert await until(lambda: cache.active), "the change feed did not connect"
            async with await psycopg.AsyncConnection.connect(
                psycopg_url(settings.database_url), autocommit=True
            ) as conn:
                product_id = str((await (await conn.execute("SELECT id FROM product LIMIT 1")).fetchone())[0])
                cache.put_product(product_id, CachedResponse(b"{}"), cache.token())
                await conn.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = %s", (name,)
                )
                went_off = await until(lambda: not cache.active, 5)
                back_on = await until(lambda: cache.active, 15)
                cache.put_product(product_id, CachedResponse(b"{}"), cache.token())
                await conn.execute("UPDATE product SET name = name WHERE id = %s", (product_id,))
                dropped = await until(lambda: cache.get_product(product_id) is None, 5)
                return went_off, back_on, dropped
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    call_async_service(
        products.create_product,
        {"sku": f"CACHE-{uuid.uuid4().hex[:10]}", "name": "Cached", "price": "1.00"},
        by=TEST_EDITOR,
    )
    went_off, back_on, dropped = run_async(scenario())
    assert went_off, "the cache kept serving after its listener died"
    assert back_on, "the feed did not reconnect"
    assert dropped, "a change after the reconnect did not reach the cache"
