"""Every error becomes an RFC 9457 problem+json response here, and nowhere else."""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import quote

import psycopg
import psycopg_pool
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException

from inventory_app.domain.errors import (
    DomainError,
    DuplicateEmail,
    DuplicateLocationCode,
    DuplicateSku,
    FieldError,
    IdempotencyKeyReused,
    ImportRejected,
    InsufficientStock,
    InvalidCredentials,
    LocationInactive,
    LocationInUse,
    LocationNotFound,
    NotAuthenticated,
    PermissionDenied,
    ProductNotFound,
    TokenNotFound,
    TooManyAttempts,
    UserNotFound,
    ValidationFailed,
    VersionConflict,
)

log = logging.getLogger(__name__)
PROBLEM_BASE = "https://inventory.example/problems"
PROBLEM_JSON = "application/problem+json"

STATUS_BY_ERROR: dict[type[DomainError], tuple[int, str]] = {
    ValidationFailed: (422, "validation-error"),
    ProductNotFound: (404, "not-found"),
    DuplicateSku: (409, "duplicate-sku"),
    InsufficientStock: (409, "insufficient-stock"),
    VersionConflict: (412, "version-conflict"),
    IdempotencyKeyReused: (422, "idempotency-key-reused"),
    ImportRejected: (422, "import-rejected"),
    NotAuthenticated: (401, "unauthorized"),
    InvalidCredentials: (401, "invalid-credentials"),
    PermissionDenied: (403, "forbidden"),
    TooManyAttempts: (429, "too-many-attempts"),
    DuplicateEmail: (409, "duplicate-email"),
    UserNotFound: (404, "not-found"),
    TokenNotFound: (404, "not-found"),
    LocationNotFound: (404, "not-found"),
    DuplicateLocationCode: (409, "duplicate-location-code"),
    LocationInUse: (409, "location-in-use"),
    LocationInactive: (409, "location-inactive"),
}
WWW_AUTHENTICATE = {"WWW-Authenticate": 'Bearer realm="inventory"'}


def error_headers(error: DomainError) -> dict[str, str] | None:
    if isinstance(error, NotAuthenticated | InvalidCredentials):
        return WWW_AUTHENTICATE
    if isinstance(error, TooManyAttempts):
        return {"Retry-After": str(error.retry_after_s)}
    return None


class ProblemError(Exception):
    """An HTTP-level failure raised by the API layer itself (bad content type, body too large...)."""

    def __init__(self, status: int, slug: str, title: str, detail: str, errors: list[FieldError] | None = None) -> None:
        super().__init__(detail)
        self.status, self.slug, self.title, self.detail = status, slug, title, detail
        self.errors = errors or []


def problem(
    status: int,
    slug: str,
    title: str,
    detail: str,
    errors: list[FieldError] | None = None,
    instance: str | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body: dict[str, Any] = {"type": f"{PROBLEM_BASE}/{slug}", "title": title, "status": status, "detail": detail}
    if instance:
        body["instance"] = instance
    if errors:
        body["errors"] = [
            {"field": e.field, "message": e.message} | ({"row": e.row} if e.row is not None else {}) for e in errors
        ]
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def _instance(request: Request) -> str:
    return uri_path(request.url.path)


def uri_path(path: str) -> str:
    """The request path as a URI reference: Starlette's `url.path` is percent-decoded, so a request for
    `/api/products/%C2%84` would otherwise report a raw control character, which is not a valid URI."""
    return quote(path, safe="/!$&'()*+,;=:@-._~")


def _field_from_loc(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    return ".".join(parts) or str(loc[0] if loc else "request")


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(DomainError)
    async def domain_error(request: Request, error: DomainError) -> JSONResponse:
        status, slug = STATUS_BY_ERROR.get(type(error), (400, "bad-request"))
        return problem(
            status,
            slug,
            error.title,
            error.detail,
            error.errors,
            instance=_instance(request),
            headers=error_headers(error),
        )

    @app.exception_handler(ProblemError)
    async def problem_error(request: Request, error: ProblemError) -> JSONResponse:
        return problem(error.status, error.slug, error.title, error.detail, error.errors, instance=_instance(request))

    @app.exception_handler(RequestValidationError)
    async def request_validation(request: Request, error: RequestValidationError) -> JSONResponse:
        errors = [
            FieldError(_field_from_loc(tuple(e.get("loc", ()))), str(e.get("msg", "is invalid")))
            for e in error.errors()
        ]
        return problem(
            422,
            "validation-error",
            "Validation failed",
            "The request has invalid parameters.",
            errors,
            instance=_instance(request),
        )

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, error: StarletteHTTPException) -> JSONResponse:
        titles = {404: "Not found", 405: "Method not allowed"}
        return problem(
            error.status_code,
            "http-error",
            titles.get(error.status_code, "Request failed"),
            str(error.detail),
            instance=_instance(request),
            headers=getattr(error, "headers", None),
        )

    @app.exception_handler(OperationalError)
    @app.exception_handler(PoolTimeout)
    @app.exception_handler(psycopg.OperationalError)
    @app.exception_handler(psycopg_pool.PoolTimeout)
    async def database_down(request: Request, error: Exception) -> JSONResponse:
        log.warning("database unavailable: %s", str(error).splitlines()[0])
        return problem(
            503,
            "service-unavailable",
            "Service unavailable",
            "The database is unavailable; retry shortly.",
            instance=_instance(request),
            headers={"Retry-After": "2"},
        )

    @app.exception_handler(DBAPIError)
    async def database_error(request: Request, error: DBAPIError) -> JSONResponse:
        # A connection lost mid-request (server restarting) is unavailability, not a bug.
        if error.connection_invalidated or isinstance(error.orig, psycopg.OperationalError | psycopg.InterfaceError):
            return await database_down(request, error)
        log.exception("database error")
        return problem(
            500,
            "internal-error",
            "Internal error",
            "An unexpected database error occurred.",
            instance=_instance(request),
        )

    @app.exception_handler(Exception)
    async def unexpected(request: Request, error: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return problem(
            500, "internal-error", "Internal error", "An unexpected error occurred.", instance=_instance(request)
        )
