"""REST routes for products and their stock: thin handlers over `services.products`."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from typing import Annotated, Literal

from fastapi import APIRouter, File, Header, Query, Request, Response, UploadFile

from inventory_app.api.deps import current_principal, etag, parse_if_match, read_json_body
from inventory_app.api.errors import ProblemError
from inventory_app.api.responses import SpooledFileResponse, encode, json_response, raw_json_response
from inventory_app.bootstrap import wiring
from inventory_app.domain.errors import FieldError, ValidationFailed
from inventory_app.domain.identity import Principal, Role
from inventory_app.services import csv_transfer, idempotency, products, stock
from inventory_app.services.products import ProductQuery
from inventory_app.services.read_cache import LIST_PARAMETERS, CachedResponse
from inventory_app.settings import get_settings

router = APIRouter(prefix="/api/products", tags=["products"])
IMPORT_PATH = "/api/products/import"  # its size limit is enforced as the body arrives (api/body_limit.py)
# OFFSET is a PostgreSQL bigint: a larger value used to fail in the database as a 500.
MAX_OFFSET = 2**63 - 1

IdempotencyKeyHeader = Annotated[str | None, Header(alias="Idempotency-Key", max_length=200)]
IfMatchHeader = Annotated[str | None, Header(alias="If-Match")]
Endpoint = Callable[[Request], Awaitable[Response]]


def _editor(request: Request) -> Principal:
    """The caller, who must be an editor: checked before the body is read (the services check again)."""
    principal = current_principal(request)
    principal.require(Role.EDITOR)
    return principal


def _refuse_unknown_parameters(request: Request) -> None:
    """An unknown or repeated parameter is an error like any other (it would otherwise be ignored, and a
    cache-buster such as `?_=N` would make every request a new page for the read cache)."""
    names = [name for name, _ in request.query_params.multi_items()]
    errors = [FieldError(name, "is not a parameter of this operation") for name in sorted(set(names) - LIST_PARAMETERS)]
    errors += [
        FieldError(name, "is given more than once")
        for name in sorted(set(names) & LIST_PARAMETERS)
        if names.count(name) > 1
    ]
    if errors:
        raise ValidationFailed("The query has parameters this list does not take.", errors)


def _product_response(body: dict, status: int, *, location: bool = False) -> Response:
    headers = {"ETag": etag(body["version"])}
    if location:
        headers["Location"] = f"/api/products/{body['id']}"
    return json_response(body, status, headers)


@router.get("")
async def list_products(
    request: Request,
    q: Annotated[str | None, Query(max_length=200)] = None,
    category: Annotated[str | None, Query(max_length=100)] = None,
    low_stock: bool | None = None,
    sort: str = "name",
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
    location_id: uuid.UUID | None = None,
) -> Response:
    _refuse_unknown_parameters(request)
    query = ProductQuery(
        q=q, category=category, low_stock=low_stock, location_id=location_id, sort=sort, limit=limit, offset=offset
    )
    # Stored under the exact query string it answers; `api/cached_reads.py` serves the repeats.
    cache = wiring().read_cache
    token = cache.token()
    encoded = encode(await products.list_products(query))
    cache.put_list(request.scope["query_string"], CachedResponse(encoded), token)
    return raw_json_response(encoded, {"X-Cache": "miss"})


@router.post("")
async def create_product(request: Request, idempotency_key: IdempotencyKeyHeader = None) -> Response:
    principal = _editor(request)
    payload = await read_json_body(request)
    result = await products.create_product(payload, by=principal, idempotency_key=idempotency_key)
    response = _product_response(result.body, result.status, location=True)
    if result.replayed:
        response.headers["Idempotent-Replayed"] = "true"
    return response


_EXPORTS_AT_ONCE = asyncio.Semaphore(2)


@router.get("/export")
async def export_products(request: Request, layout: Literal["products", "locations"] = "products") -> Response:
    current_principal(request)  # any role may export
    # Exports queue among themselves: however many start at once, they hold at most two pooled connections.
    async with _EXPORTS_AT_ONCE:
        # connection released when this returns
        spool = await csv_transfer.export_to_spool(by_location=layout == "locations")
    return SpooledFileResponse(
        spool,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="products.csv"'},
        send_timeout_s=get_settings().export_send_timeout_s,
    )


@router.post("/import")
async def import_products(
    request: Request,
    file: Annotated[UploadFile | None, File()] = None,
    dry_run: bool = False,
    skip_invalid: bool = False,
) -> Response:
    principal = _editor(request)
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != "multipart/form-data":
        raise ProblemError(
            415,
            "unsupported-media-type",
            "Unsupported media type",
            "Upload the CSV as multipart/form-data.",
            [FieldError("Content-Type", f"must be multipart/form-data, not {content_type or 'missing'}")],
        )
    # The contract answers 400 for a missing file part or an unreadable/headerless CSV.
    if file is None:
        raise ProblemError(
            400,
            "bad-request",
            "Bad request",
            "Upload the CSV as the form field 'file'.",
            [FieldError("file", "is required")],
        )
    try:
        report = await csv_transfer.import_products_csv(
            file.file, by=principal, dry_run=dry_run, skip_invalid=skip_invalid
        )
    except ValidationFailed as failure:
        raise ProblemError(400, "bad-request", "Bad request", failure.detail, failure.errors) from None
    return json_response(
        {
            "created": report.created,
            "updated": report.updated,
            "unchanged": report.unchanged,
            "dry_run": report.dry_run,
            "errors": [{"row": e.row, "field": e.field, "message": e.message} for e in report.errors],
        }
    )


# The two hottest operations, the product read and the stock adjustment, are plain Starlette routes on this
# router: they take the request and parse it themselves, as most routes here do anyway, and skip FastAPI's
# per-request parameter solving, which cost about a fifth of an uncached read's CPU (bench/NOTES.md, #14).
# Added with the router's full path, in declaration order, so `/export` and `/import` still match first.
def _plain_route(path: str, method: str) -> Callable[[Endpoint], Endpoint]:
    def add(endpoint: Endpoint) -> Endpoint:
        router.add_route(router.prefix + path, endpoint, methods=[method])
        return endpoint

    return add


@_plain_route("/{product_id}", "GET")
async def read_product(request: Request) -> Response:
    return await get_product(request.path_params["product_id"])


async def get_product(product_id: str) -> Response:
    try:
        key = str(uuid.UUID(product_id))  # one cache entry per product, however the id is spelled
    except ValueError:
        key = None  # the service answers 404 for it
    cache = wiring().read_cache
    if key is not None and (hit := cache.get_product(key)) is not None:
        return raw_json_response(hit.body, {"ETag": hit.etag or "", "X-Cache": "hit"})
    token = cache.token()
    body = await products.get_product(product_id)
    cached = CachedResponse(encode(body), etag(body["version"]))
    if key is not None:
        cache.put_product(key, cached, token)
    return raw_json_response(cached.body, {"ETag": cached.etag or "", "X-Cache": "miss"})


@router.patch("/{product_id}")
async def update_product(product_id: str, request: Request, if_match: IfMatchHeader = None) -> Response:
    principal = _editor(request)
    expected = parse_if_match(if_match)
    payload = await read_json_body(request)
    body = await products.update_product(product_id, payload, by=principal, expected_version=expected)
    return _product_response(body, 200)


@router.delete("/{product_id}", status_code=204)
async def delete_product(product_id: str, request: Request, if_match: IfMatchHeader = None) -> Response:
    principal = _editor(request)
    expected = parse_if_match(if_match)
    await products.delete_product(product_id, by=principal, expected_version=expected)
    return Response(status_code=204)


@_plain_route("/{product_id}/stock-adjustments", "POST")
async def adjust_stock(request: Request) -> Response:
    principal = _editor(request)
    idempotency_key = request.headers.get("idempotency-key")
    if idempotency_key is not None:
        idempotency.check_key(idempotency_key)  # before the body is read, as a declared header would be
    payload = await read_json_body(request)
    result = await stock.adjust_stock(
        request.path_params["product_id"], payload, by=principal, idempotency_key=idempotency_key
    )
    response = json_response(result.body, result.status, {"ETag": etag(result.body["product"]["version"])})
    if result.replayed:
        response.headers["Idempotent-Replayed"] = "true"
    return response


@router.get("/{product_id}/movements")
async def list_movements(
    product_id: str,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
) -> Response:
    return json_response(await products.list_movements(product_id, limit=limit, offset=offset))
