"""Builds the Reflex app: pages, the mounted REST API and the background tasks of this process."""

from __future__ import annotations

import reflex as rx

from inventory_app.api.app import create_api
from inventory_app.lifespan import check_database_migrated, outbox_relay
from inventory_app.ui.pages.index import index

app = rx.App(api_transformer=create_api())
app.register_lifespan_task(check_database_migrated)
app.register_lifespan_task(outbox_relay)
app.add_page(index, route="/", title="Inventory")
