"""REST routes for a product's stock per location: the levels, a location's minimum, transfers."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from inventory_app.api.deps import current_principal, read_json_body
from inventory_app.api.responses import json_response
from inventory_app.api.routes.products import IdempotencyKeyHeader
from inventory_app.domain.identity import Principal, Role
from inventory_app.services import stock

router = APIRouter(prefix="/api/products", tags=["stock"])


def _editor(request: Request) -> Principal:
    """The caller, who must be an editor: checked before the body is read (the services check again)."""
    principal = current_principal(request)
    principal.require(Role.EDITOR)
    return principal


@router.get("/{product_id}/stock")
async def product_stock(product_id: str) -> Response:
    return json_response(await stock.product_stock(product_id))


@router.patch("/{product_id}/stock/{location_id}")
async def set_location_minimum(product_id: str, location_id: str, request: Request) -> Response:
    principal = _editor(request)
    payload = await read_json_body(request)
    return json_response(await stock.set_minimum(product_id, location_id, payload, by=principal))


@router.post("/{product_id}/transfers")
async def transfer_stock(product_id: str, request: Request, idempotency_key: IdempotencyKeyHeader = None) -> Response:
    principal = _editor(request)
    payload = await read_json_body(request)
    result = await stock.transfer_stock(product_id, payload, by=principal, idempotency_key=idempotency_key)
    response = json_response(result.body, result.status)
    if result.replayed:
        response.headers["Idempotent-Replayed"] = "true"
    return response
