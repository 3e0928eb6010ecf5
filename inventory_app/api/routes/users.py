"""User accounts (admins only) and the security log: thin handlers over `services.identity`."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request, Response

from inventory_app.api.deps import client_info, current_principal, read_json_body
from inventory_app.api.responses import json_response
from inventory_app.domain.identity import Role
from inventory_app.services import identity

router = APIRouter(prefix="/api", tags=["users"])
SecurityEventKind = Literal[identity.SECURITY_EVENT_KINDS]  # type: ignore[valid-type]


def _admin(request: Request):
    principal = current_principal(request)
    principal.require(Role.ADMIN)  # before any body is read
    return principal


@router.get("/users")
async def list_users(
    request: Request,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=2**63 - 1)] = 0,
) -> Response:
    return json_response(await identity.list_users(by=_admin(request), limit=limit, offset=offset))


@router.post("/users")
async def create_user(request: Request) -> Response:
    principal = _admin(request)
    payload = await read_json_body(request)
    body = await identity.create_user(payload, by=principal, client=client_info(request))
    return json_response(body, 201, {"Location": f"/api/users/{body['id']}"})


@router.get("/users/{user_id}")
async def get_user(user_id: str, request: Request) -> Response:
    return json_response(await identity.get_user(user_id, by=_admin(request)))


@router.patch("/users/{user_id}")
async def update_user(user_id: str, request: Request) -> Response:
    principal = _admin(request)
    payload = await read_json_body(request)
    return json_response(await identity.update_user(user_id, payload, by=principal, client=client_info(request)))


@router.put("/users/{user_id}/password", status_code=204)
async def reset_password(user_id: str, request: Request) -> Response:
    principal = _admin(request)
    payload = await read_json_body(request)
    await identity.reset_password(user_id, payload, by=principal, client=client_info(request))
    return Response(status_code=204)


@router.get("/security-events", tags=["security"])
async def list_security_events(
    request: Request,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=2**63 - 1)] = 0,
    kind: SecurityEventKind | None = None,
) -> Response:
    principal = _admin(request)
    return json_response(await identity.list_security_events(by=principal, limit=limit, offset=offset, kind=kind))
