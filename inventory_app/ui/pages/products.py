"""The home page: the products list with its filters, dialogs and CSV import/export."""

from __future__ import annotations

import reflex as rx

from inventory_app.ui import styles
from inventory_app.ui.components.csv_import import csv_import_panel
from inventory_app.ui.components.dialogs import adjust_stock_dialog, delete_dialog, product_form_dialog
from inventory_app.ui.components.header import header
from inventory_app.ui.components.product_table import product_table
from inventory_app.ui.components.toolbar import product_toolbar


def products_page() -> rx.Component:
    return rx.box(
        header(),
        rx.el.main(
            rx.flex(
                rx.heading("Products", as_="h2", size="5"),
                product_toolbar(),
                product_table(),
                csv_import_panel(),
                direction="column",
                spacing="4",
            ),
            style=styles.page_container,
        ),
        product_form_dialog(),
        adjust_stock_dialog(),
        delete_dialog(),
    )
