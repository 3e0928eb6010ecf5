"""The bare ceiling: the app's SQL behind a plain Starlette app, to measure what the app costs on top.

Served by granian with as many workers as the app (`python -m bench.ratios` starts it). Each worker has a
psycopg pool of the app's size on the bench database, with `search_path=ceiling, public`: the product
tables are scratch copies in schema `ceiling` (made by bench/ratios.py), the api_token table is the app's.
The statements are the app's own (`product_store`, `location_store`): a read is `fetch_product`, a list
`count_at_most` + `fetch_page`, an adjustment the product lock, the places' share lock and the same four
writes in one pipeline. What it leaves out is everything else the app does: routing and validation, the
domain rules and event building, contract validation of the event, idempotency, the auth gate's machinery
(a bearer token is checked the same way, though: SHA-256, then a per-process dict like the credential
cache, one indexed lookup on a miss), the read cache and Reflex. Its garbage collector is tuned as the app's
(`gc_tuning`).
"""

from __future__ import annotations

import hashlib
import os
import uuid
from datetime import UTC, datetime

import orjson
from psycopg.types.json import Jsonb
from psycopg_pool import AsyncConnectionPool
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from inventory_app.adapters import location_store, product_store
from inventory_app.domain.changes import public
from inventory_app.gc_tuning import tune_for_serving

POOL_SIZE = int(os.environ.get("DATABASE_POOL_SIZE", "20"))
DSN = os.environ["CEILING_DATABASE_URL"]
_pool: AsyncConnectionPool | None = None
_tokens: dict[str, bool] = {}
tune_for_serving()  # as the app's server processes are: both sides pay the same collector


async def pool() -> AsyncConnectionPool:
    global _pool
    if _pool is None:
        _pool = AsyncConnectionPool(
            DSN, min_size=2, max_size=POOL_SIZE, kwargs={"options": "-c search_path=ceiling,public"}, open=False
        )
        await _pool.open()
    return _pool


def reply(body: object, status: int = 200) -> Response:
    return Response(orjson.dumps(body), status, media_type="application/json")


async def authorised(request: Request) -> bool:
    """The app's token check, bare: SHA-256 of the token, a dict hit, or one indexed lookup."""
    header = request.headers.get("authorization", "")
    token = header[7:] if header[:7].lower() == "bearer " else ""
    key = hashlib.sha256(f"t:{token}".encode()).hexdigest()
    if key not in _tokens:
        async with (await pool()).connection() as conn:
            row = await (
                await conn.execute(
                    "SELECT 1 FROM api_token t JOIN app_user u ON u.id = t.user_id"
                    " WHERE t.token_hash = %s AND t.revoked_at IS NULL AND u.disabled_at IS NULL",
                    (hashlib.sha256(token.encode()).hexdigest(),),
                )
            ).fetchone()
        _tokens[key] = row is not None
    return _tokens[key]


async def get_product(request: Request) -> Response:
    if not await authorised(request):
        return reply({"status": 401}, 401)
    async with (await pool()).connection() as conn:
        product = await product_store.fetch_product(conn, uuid.UUID(request.path_params["id"]))
    return reply(public(product)) if product else reply({"status": 404}, 404)


async def list_products(request: Request) -> Response:
    if not await authorised(request):
        return reply({"status": 401}, 401)
    limit, offset = int(request.query_params.get("limit", 50)), int(request.query_params.get("offset", 0))
    where = product_store.ListFilter()
    async with (await pool()).connection() as conn:
        count = await product_store.count_at_most(conn, where, 10_001)
        rows = await product_store.fetch_page(conn, where, "name", limit, offset)
    return reply({"data": [public(p) for p in rows], "count": count, "count_estimated": False})


async def adjust(request: Request) -> Response:
    if not await authorised(request):
        return reply({"status": 401}, 401)
    delta = orjson.loads(await request.body())["delta"]
    pid, now = uuid.UUID(request.path_params["id"]), datetime.now(UTC)
    async with (await pool()).connection() as conn, conn.transaction():
        product = await product_store.lock_product(conn, pid)
        levels, places = await location_store.lock_stock(conn, pid)
        place = next(p for p in places.values() if p.is_default)
        held = next((lv.quantity for lv in levels if lv.place.id == place.id), 0)
        quantity, version = product.quantity + delta, product.version + 1
        movement_id, event_id = uuid.uuid4(), str(uuid.uuid4())
        async with conn.pipeline(), conn.cursor() as cursor:
            await cursor.execute(
                product_store.UPDATE_PRODUCT_SQL,
                {**product.__dict__, "quantity": quantity, "version": version, "updated_at": now},
            )
            await cursor.execute(
                product_store.UPSERT_LEVEL_SQL,
                {
                    "product_id": pid,
                    "location_id": place.id,
                    "quantity": held + delta,
                    "min_quantity": None,
                    "low_alerted": False,
                    "now": now,
                },
            )
            await cursor.execute(
                product_store.INSERT_MOVEMENT_SQL,
                {
                    "id": movement_id,
                    "product_id": pid,
                    "delta": delta,
                    "reason": "received",
                    "note": None,
                    "quantity_after": quantity,
                    "created_at": now,
                    "actor": None,
                    "location_id": place.id,
                    "location_quantity_after": held + delta,
                    "transfer_id": None,
                },
            )
            event = {"id": event_id, "subject": str(pid), "type": "inventory.product.updated", "data": {"q": quantity}}
            await cursor.execute(product_store.INSERT_EVENTS_SQL, {"events": Jsonb([event]), "actor": None})
    return reply({"movement": {"id": str(movement_id), "delta": delta}, "product": {"quantity": quantity}}, 201)


app = Starlette(
    routes=[
        Route("/products/{id}", get_product),
        Route("/products", list_products),
        Route("/products/{id}/stock-adjustments", adjust, methods=["POST"]),
    ]
)
