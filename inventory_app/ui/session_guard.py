"""The gate in front of every Reflex event: no session, no event (apart from the sign-in page's own).

Reflex runs app middleware before every event handler, page hydration and on_load included, on
whichever server worker holds the socket; a redirect issued by the page itself would run in the
browser, after the data had been sent. So this is where the UI's authentication happens. Roles are
checked further in, by the use cases (`Principal.require`), exactly as for the REST routes.

It also keeps one tab's state from outliving its user: the state remembers (a hash of) the session it
was built for, and every UI state is reset to its defaults when that changes — sign-out, sign-in as
someone else at the same browser, a revoked session — so nobody sees what the previous user loaded.
"""

from __future__ import annotations

import dataclasses
import logging
from urllib.parse import urlencode

import psycopg
import psycopg_pool
import reflex as rx
from reflex.istate.delta import _resolve_delta
from reflex.middleware import Middleware
from reflex.state import BaseState, OnLoadInternalState, StateUpdate
from reflex_base.event import Event, get_hydrate_event

from inventory_app.domain.errors import NotAuthenticated
from inventory_app.domain.identity import Principal
from inventory_app.services.credentials import authenticate
from inventory_app.services.identity import hash_secret
from inventory_app.ui.states.login import LoginState
from inventory_app.ui.states.session import SIGN_IN_PATH, SessionState, session_token_of

log = logging.getLogger("inventory_app.auth")
# Events a signed-out tab may send: hydrating and loading the sign-in page, and that page's own state.
_OPEN_STATES = (LoginState, OnLoadInternalState)
# The root state's own page-load handlers: they send the (reset) state and queue the page's on_load.
_OPEN_ROOT_HANDLERS = frozenset({"hydrate", "hydrate_and_load", "set_is_hydrated"})
_OWNER = "_session_owner"


def _is_open_event(event: Event, root: BaseState) -> bool:
    state, _, handler = event.name.rpartition(".")
    if event.name == get_hydrate_event(root) or (state == root.get_full_name() and handler in _OPEN_ROOT_HANDLERS):
        return True
    return state in {cls.get_full_name() for cls in _OPEN_STATES}


def _ui_state_classes(cls: type[BaseState]) -> list[type[BaseState]]:
    found = []
    for substate in cls.get_substates():
        if substate.__module__.startswith("inventory_app."):
            found.append(substate)
        found.extend(_ui_state_classes(substate))
    return found


def sign_in_redirect(root: BaseState) -> rx.event.EventSpec:
    url = root.router.url
    wanted = url.path or "/"
    if url.query:
        wanted += f"?{url.query}"
    if wanted.startswith(SIGN_IN_PATH):
        wanted = "/"
    return rx.redirect(f"{SIGN_IN_PATH}?{urlencode({'next': wanted})}")


@dataclasses.dataclass(init=True)
class SessionGuard(Middleware):
    async def preprocess(self, app, state: BaseState, event: Event) -> StateUpdate | None:
        root = state._get_root_state()
        token = session_token_of(root)
        try:
            principal = await authenticate(bearer=None, session=token)
        except NotAuthenticated:
            principal = None
        except (psycopg.OperationalError, psycopg_pool.PoolTimeout) as error:
            log.warning("cannot check a UI session, database unavailable: %s", str(error).splitlines()[0])
            return await _refuse(root, rx.toast.error("The database is unavailable; try again shortly."))
        await _forget_previous_user(root, principal, token)
        if principal is None and not _is_open_event(event, root):
            return await _refuse(root, sign_in_redirect(root))
        return None


async def _forget_previous_user(root: BaseState, principal: Principal | None, token: str | None) -> None:
    owner = hash_secret(f"s:{token}") if principal is not None and token else ""
    session_state = await root.get_state(SessionState)
    if getattr(session_state, _OWNER, "") != owner:
        for cls in _ui_state_classes(type(root)):
            (await root.get_state(cls)).reset()
        setattr(session_state, _OWNER, owner)
    if session_state.role != (str(principal.role) if principal else "") or session_state.email != (
        principal.email if principal else ""
    ):
        session_state.show(principal)


async def _refuse(root: BaseState, spec: rx.event.EventSpec) -> StateUpdate:
    """Skip the event; send what the reset above cleared, then `spec` (a redirect or a message)."""
    delta = await _resolve_delta(root.get_delta())
    root._clean()
    return StateUpdate(delta=delta, events=Event.from_event_type(spec))
