"""The caller's personal API tokens: list, create (the secret shown once), revoke."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from inventory_app.api.deps import client_info, current_principal, read_json_body
from inventory_app.api.responses import json_response
from inventory_app.services import identity

router = APIRouter(prefix="/api/tokens", tags=["tokens"])


@router.get("")
async def list_tokens(request: Request) -> Response:
    return json_response(await identity.list_tokens(current_principal(request)))


@router.post("")
async def create_token(request: Request) -> Response:
    principal = current_principal(request)
    payload = await read_json_body(request)
    body = await identity.create_token(principal, payload, client=client_info(request))
    # The secret must not be kept by caches or proxies.
    return json_response(body, 201, {"Cache-Control": "no-store"})


@router.delete("/{token_id}", status_code=204)
async def revoke_token(token_id: str, request: Request) -> Response:
    await identity.revoke_token(current_principal(request), token_id, client=client_info(request))
    return Response(status_code=204)
