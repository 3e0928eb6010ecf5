"""REST routes for the location tree: anyone signed in reads it, admins change it."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from inventory_app.api.deps import current_principal, etag, parse_if_match, read_json_body
from inventory_app.api.responses import json_response
from inventory_app.api.routes.products import IfMatchHeader
from inventory_app.domain.identity import Principal, Role
from inventory_app.domain.views import LocationView
from inventory_app.services import locations

router = APIRouter(prefix="/api/locations", tags=["locations"])


def _admin(request: Request) -> Principal:
    principal = current_principal(request)
    principal.require(Role.ADMIN)
    return principal


def _location_response(body: LocationView, status: int, *, location: bool = False) -> Response:
    headers = {"ETag": etag(body["version"])}
    if location:
        headers["Location"] = f"/api/locations/{body['id']}"
    return json_response(body, status, headers)


@router.get("")
async def list_locations(active: bool | None = None) -> Response:
    return json_response(await locations.list_locations(active=active))


@router.post("")
async def create_location(request: Request) -> Response:
    principal = _admin(request)
    payload = await read_json_body(request)
    return _location_response(await locations.create_location(payload, by=principal), 201, location=True)


@router.get("/{location_id}")
async def get_location(location_id: str) -> Response:
    return _location_response(await locations.get_location(location_id), 200)


@router.patch("/{location_id}")
async def update_location(location_id: str, request: Request, if_match: IfMatchHeader = None) -> Response:
    principal = _admin(request)
    expected = parse_if_match(if_match)
    payload = await read_json_body(request)
    body = await locations.update_location(location_id, payload, by=principal, expected_version=expected)
    return _location_response(body, 200)


@router.delete("/{location_id}", status_code=204)
async def delete_location(location_id: str, request: Request, if_match: IfMatchHeader = None) -> Response:
    principal = _admin(request)
    expected = parse_if_match(if_match)
    await locations.delete_location(location_id, by=principal, expected_version=expected)
    return Response(status_code=204)
