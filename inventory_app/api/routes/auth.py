"""Signing in and out, the caller's own account: thin handlers over `services.identity`.

The sign-in page is a plain HTML form (it works before any JavaScript runs), so `POST
/api/auth/session` also takes a form body and always answers it with a redirect; JSON clients get
JSON and problems, like everywhere else in the API.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from fastapi import APIRouter, Request, Response
from fastapi.responses import RedirectResponse

from inventory_app.api.deps import client_info, current_principal, read_json_body
from inventory_app.api.errors import ProblemError
from inventory_app.api.responses import json_response
from inventory_app.domain.errors import FieldError, InvalidCredentials, TooManyAttempts, ValidationFailed
from inventory_app.services import identity
from inventory_app.services.credentials import SESSION_COOKIE
from inventory_app.settings import cookie_secure, get_settings

router = APIRouter(prefix="/api/auth", tags=["auth"])
FORM = "application/x-www-form-urlencoded"
MAX_FORM_BYTES = 16_384
# A path on this site: one leading "/", never "//host" or "/\host" (browsers treat both as another host).
LOCAL_PATH = re.compile(r"^/([^/\\].*)?$")


def safe_next(value: str | None) -> str:
    if not value or len(value) > 2000 or not LOCAL_PATH.match(value) or any(ord(c) < 0x20 for c in value):
        return "/"
    return value


def set_session_cookie(response: Response, session_token: str) -> None:
    settings = get_settings()
    response.set_cookie(
        SESSION_COOKIE,
        session_token,
        max_age=settings.session_max_age_s,
        path="/",
        secure=cookie_secure(settings),
        httponly=True,
        samesite="lax",
    )


def clear_session_cookie(response: Response) -> None:
    response.delete_cookie(
        SESSION_COOKIE, path="/", secure=cookie_secure(get_settings()), httponly=True, samesite="lax"
    )


async def _read_form(request: Request) -> dict[str, str]:
    body = bytearray()
    async for chunk in request.stream():
        body.extend(chunk)
        if len(body) > MAX_FORM_BYTES:
            raise ProblemError(
                413,
                "payload-too-large",
                "Payload too large",
                f"The form exceeds {MAX_FORM_BYTES} bytes.",
                [FieldError("body", f"must be at most {MAX_FORM_BYTES} bytes")],
            )
    try:
        fields = parse_qs(body.decode("utf-8"), keep_blank_values=True, strict_parsing=False)
    except UnicodeDecodeError:
        raise ProblemError(
            400, "bad-request", "Bad request", "The form is not UTF-8.", [FieldError("body", "is not UTF-8")]
        ) from None
    return {key: values[0] for key, values in fields.items()}


@router.post("/session")
async def sign_in(request: Request) -> Response:
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type == FORM:
        return await _sign_in_form(request)
    payload = await read_json_body(request)
    signed_in = await identity.sign_in(payload, client=client_info(request))
    response = json_response(signed_in.body, 200)
    set_session_cookie(response, signed_in.session_token)
    return response


def form_next(form: dict[str, str], request: Request) -> str:
    """Where the sign-in form sends the browser: its `next` field, filled in from the page's address once the
    page has loaded. A form sent sooner (a password manager's instant submit) carries the default "/", so
    the sign-in page's own address (the Referer, same site only) names where the visitor was going."""
    given = safe_next(form.get("next"))
    referer = urlsplit(request.headers.get("referer", ""))
    if given != "/" or referer.path != "/login" or referer.netloc != request.headers.get("host"):
        return given
    return safe_next(parse_qs(referer.query).get("next", ["/"])[0])


async def _sign_in_form(request: Request) -> Response:
    form = await _read_form(request)
    next_path = form_next(form, request)
    payload: dict[str, Any] = {"email": form.get("email", ""), "password": form.get("password", "")}
    try:
        signed_in = await identity.sign_in(payload, client=client_info(request))
    except (InvalidCredentials, ValidationFailed):
        return RedirectResponse("/login?" + urlencode({"error": "invalid", "next": next_path}), status_code=303)
    except TooManyAttempts:
        return RedirectResponse("/login?" + urlencode({"error": "rate_limited", "next": next_path}), status_code=303)
    response = RedirectResponse(next_path, status_code=303)
    set_session_cookie(response, signed_in.session_token)
    return response


@router.delete("/session", status_code=204)
async def sign_out(request: Request) -> Response:
    principal = current_principal(request)
    await identity.sign_out(principal, client=client_info(request))
    response = Response(status_code=204)
    if principal.via == "session":
        clear_session_cookie(response)
    return response


@router.delete("/sessions", status_code=204)
async def sign_out_everywhere(request: Request) -> Response:
    principal = current_principal(request)
    await identity.sign_out_everywhere(principal, client=client_info(request))
    response = Response(status_code=204)
    if principal.via == "session":
        clear_session_cookie(response)
    return response


@router.get("/me")
async def me(request: Request) -> Response:
    return json_response(await identity.me(current_principal(request)))


@router.put("/password", status_code=204)
async def change_password(request: Request) -> Response:
    principal = current_principal(request)
    payload = await read_json_body(request)
    await identity.change_password(principal, payload, client=client_info(request))
    return Response(status_code=204)
