"""Builds the Reflex app: pages, the mounted REST API and the background tasks of this process."""

from __future__ import annotations

import functools

import reflex as rx

from inventory_app.api.app import create_api
from inventory_app.asgi import mount_ui
from inventory_app.gc_tuning import tune_for_serving
from inventory_app.lifespan import (
    check_database_migrated,
    commit_notices,
    configure_logging,
    database_pool,
    notification_hub,
    outbox_relay,
    product_change_feed,
    retention,
)
from inventory_app.ui.pages.account import account_page
from inventory_app.ui.pages.admin import admin_page
from inventory_app.ui.pages.analytics import analytics_page
from inventory_app.ui.pages.locations import locations_page
from inventory_app.ui.pages.login import login_page
from inventory_app.ui.pages.product_detail import product_detail_page
from inventory_app.ui.pages.products import products_page
from inventory_app.ui.session_guard import SessionGuard
from inventory_app.ui.states.account import AccountState
from inventory_app.ui.states.admin import AdminState
from inventory_app.ui.states.analytics import AnalyticsState
from inventory_app.ui.states.locations import LocationsState
from inventory_app.ui.states.login import LoginState
from inventory_app.ui.states.product_detail import ProductDetailState
from inventory_app.ui.states.products import ProductsState

configure_logging()
tune_for_serving()  # before Reflex forks the server workers, which inherit it
api = create_api()  # the REST API; inventory_app/asgi.py serves most of its requests directly
app = rx.App(api_transformer=functools.partial(mount_ui, api))
app.register_lifespan_task(check_database_migrated)
app.register_lifespan_task(database_pool)
app.register_lifespan_task(commit_notices)
app.register_lifespan_task(outbox_relay)
app.register_lifespan_task(notification_hub)
app.register_lifespan_task(product_change_feed)
app.register_lifespan_task(retention)
# First, before hydration: every UI event is authenticated (see ui/session_guard.py).
app.add_middleware(SessionGuard(), index=0)
app.add_page(login_page, route="/login", title="Sign in · Inventory", on_load=LoginState.load)
app.add_page(products_page, route="/", title="Inventory", on_load=ProductsState.load_page)
app.add_page(
    product_detail_page, route="/products/[id]", title="Product · Inventory", on_load=ProductDetailState.load_page
)
app.add_page(analytics_page, route="/analytics", title="Analytics · Inventory", on_load=AnalyticsState.refresh)
app.add_page(account_page, route="/account", title="Your account · Inventory", on_load=AccountState.load_page)
app.add_page(locations_page, route="/locations", title="Locations · Inventory", on_load=LocationsState.load)
app.add_page(admin_page, route="/admin", title="Administration · Inventory", on_load=AdminState.load_page)
