"""Who is using this browser tab: the signed-in user as the server knows them, for every event handler.

The credential is the HttpOnly session cookie that the browser sent with the websocket handshake
(Reflex copies the handshake headers into `router.headers`; it never sends the cookie back to the
page). Nothing the page itself holds — state vars, local storage, the client token — is trusted.
"""

from __future__ import annotations

import reflex as rx

from inventory_app.domain.errors import NotAuthenticated
from inventory_app.domain.identity import Principal, Role
from inventory_app.services.credentials import authenticate, session_from_cookie_header
from inventory_app.services.identity import ClientInfo

SIGN_IN_PATH = "/login"
# Sign-out is an HTTP call, not an event: only an HTTP response can clear the HttpOnly cookie. The full
# page load afterwards reconnects the websocket, so the next handshake carries no (or the new) cookie.
_SIGN_OUT_SCRIPT = """
fetch(%(url)s, {method: "DELETE", credentials: "same-origin"})
  .catch(() => null)
  .finally(() => { window.location.assign(%(next)s); });
"""


def session_token_of(state: rx.State) -> str | None:
    return session_from_cookie_header(state.router.headers.cookie)


async def signed_in_principal(state: rx.State) -> Principal:
    """The caller of this event, checked against the server's session record (cached, revocable).

    Raises NotAuthenticated when the tab has no session or it has ended; use cases then check the role.
    """
    principal = await authenticate(bearer=None, session=session_token_of(state))
    if principal is None:
        raise NotAuthenticated("Sign in first.")
    return principal


def client_of(state: rx.State) -> ClientInfo:
    """Where an event came from, for the security log (the websocket's peer and user agent)."""
    return ClientInfo(ip=state.router.session.client_ip or None, user_agent=state.router.headers.user_agent or None)


def sign_out_script(url: str) -> rx.event.EventSpec:
    return rx.call_script(_SIGN_OUT_SCRIPT % {"url": repr(url), "next": repr(SIGN_IN_PATH)})


class SessionState(rx.State):
    """What the page may show about the signed-in user; set by the session guard before every event."""

    email: str = ""
    display_name: str = ""
    role: str = ""
    # A hash of the session this tab's state was built for (backend only; see ui/session_guard.py).
    _session_owner: str = ""

    @rx.var
    def signed_in(self) -> bool:
        return self.role != ""

    @rx.var
    def can_edit(self) -> bool:
        return self.role in (Role.EDITOR, Role.ADMIN)

    @rx.var
    def is_admin(self) -> bool:
        return self.role == Role.ADMIN

    @rx.var
    def user_label(self) -> str:
        return self.display_name or self.email

    def show(self, principal: Principal | None) -> None:
        self.email = principal.email if principal else ""
        self.display_name = principal.name if principal else ""
        self.role = str(principal.role) if principal else ""

    @rx.event
    def sign_out(self):
        return sign_out_script("/api/auth/session")

    @rx.event
    def sign_out_everywhere(self):
        return sign_out_script("/api/auth/sessions")
