"""Builds the Reflex app: pages, the mounted REST API and the background tasks of this process."""

from __future__ import annotations

import reflex as rx

from inventory_app.api.app import create_api
from inventory_app.lifespan import (
    check_database_migrated,
    configure_logging,
    database_pool,
    notification_hub,
    outbox_relay,
    product_change_feed,
)
from inventory_app.ui.pages.analytics import analytics_page
from inventory_app.ui.pages.product_detail import product_detail_page
from inventory_app.ui.pages.products import products_page
from inventory_app.ui.states.analytics import AnalyticsState
from inventory_app.ui.states.product_detail import ProductDetailState
from inventory_app.ui.states.products import ProductsState

configure_logging()
app = rx.App(api_transformer=create_api())
app.register_lifespan_task(check_database_migrated)
app.register_lifespan_task(database_pool)
app.register_lifespan_task(outbox_relay)
app.register_lifespan_task(notification_hub)
app.register_lifespan_task(product_change_feed)
app.add_page(products_page, route="/", title="Inventory", on_load=ProductsState.load_page)
app.add_page(
    product_detail_page, route="/products/[id]", title="Product · Inventory", on_load=ProductDetailState.load_page
)
app.add_page(analytics_page, route="/analytics", title="Analytics · Inventory", on_load=AnalyticsState.refresh)
