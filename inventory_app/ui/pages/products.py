"""The home page: the products list with its filters, dialogs and CSV import/export."""

from __future__ import annotations

import reflex as rx

from inventory_app.ui.components.csv_import import csv_import_panel
from inventory_app.ui.components.dialogs import adjust_stock_dialog, delete_dialog, product_form_dialog
from inventory_app.ui.components.product_table import product_table
from inventory_app.ui.components.shell import app_page
from inventory_app.ui.components.toolbar import product_toolbar
from inventory_app.ui.states.session import SessionState


def products_page() -> rx.Component:
    return app_page(
        product_toolbar(),
        product_table(),
        rx.cond(SessionState.can_edit, csv_import_panel()),
        title="Products",
        dialogs=(product_form_dialog(), adjust_stock_dialog(), delete_dialog()),
    )
