"""The sign-in page's state: only what the URL says (where to go next, why the last attempt failed).

The password never passes through Reflex state: the page is a plain HTML form posted to
`POST /api/auth/session`, which sets the HttpOnly cookie and redirects (api/routes/auth.py).
"""

from __future__ import annotations

import reflex as rx

from inventory_app.api.routes.auth import safe_next

ERROR_MESSAGES = {
    "invalid": "Wrong email or password.",
    "rate_limited": "Too many failed attempts. Wait a few minutes, then try again.",
}


class LoginState(rx.State):
    next_path: str = "/"
    error: str = ""

    @rx.event
    def load(self):
        params = self.router.url.query_parameters
        self.next_path = safe_next(params.get("next"))
        code = params.get("error", "")
        self.error = ERROR_MESSAGES.get(code, "") if code else ""
