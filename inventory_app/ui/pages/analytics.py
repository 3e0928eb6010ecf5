"""The analytics dashboard (/analytics): events per minute, stock value by category, low-stock products."""

from __future__ import annotations

import reflex as rx

from inventory_app.ui import styles
from inventory_app.ui.components.shell import app_page
from inventory_app.ui.states.analytics import AnalyticsState

REFRESH_MS = 3000
# Recharts animates bars on first render and on every data change; with a refresh every few seconds
# the charts are often caught mid-animation, showing values they do not hold (e.g. in screenshots).
ANIMATE = False
COMPACT_NUMBER = "(value) => new Intl.NumberFormat('en', {notation: 'compact', maximumFractionDigits: 1}).format(value)"
SERIES = (
    ("created", "var(--indigo-9)"),
    ("updated", "var(--teal-9)"),
    ("deleted", "var(--gray-9)"),
    ("low_stock", "var(--amber-9)"),
    ("transferred", "var(--cyan-9)"),
    ("location_low", "var(--orange-9)"),
)


def stat(label: str, value: rx.Var) -> rx.Component:
    return rx.card(
        rx.text(label, size="2", color=styles.MUTED_COLOR),
        rx.heading(value, size="7", as_="p", aria_label=label),
        min_width="180px",
    )


def events_chart() -> rx.Component:
    return rx.card(
        rx.heading("Events per minute by type", as_="h3", size="4"),
        rx.recharts.bar_chart(
            *[
                rx.recharts.bar(data_key=name, stack_id="events", fill=color, name=name, is_animation_active=ANIMATE)
                for name, color in SERIES
            ],
            rx.recharts.x_axis(data_key="minute"),
            rx.recharts.y_axis(allow_decimals=False),
            rx.recharts.legend(),
            rx.recharts.graphing_tooltip(),
            data=AnalyticsState.events_per_minute,
            margin={"left": 10, "right": 10},
            height=260,
            width="100%",
        ),
        width="100%",
    )


def stock_value_chart() -> rx.Component:
    return rx.card(
        rx.heading("Stock value by category", as_="h3", size="4"),
        rx.recharts.bar_chart(
            rx.recharts.bar(data_key="value", fill="var(--indigo-9)", name="stock value", is_animation_active=ANIMATE),
            rx.recharts.x_axis(data_key="category"),
            # Compact ticks (1.2M, 350k) fit the axis; full values stay in the tooltip.
            rx.recharts.y_axis(tick_formatter=COMPACT_NUMBER, width=56),
            rx.recharts.graphing_tooltip(),
            data=AnalyticsState.stock_value,
            margin={"left": 10, "right": 10},
            height=260,
            width="100%",
        ),
        width="100%",
    )


def low_stock_table() -> rx.Component:
    return rx.card(
        rx.heading("Low-stock products", as_="h3", size="4"),
        rx.cond(
            AnalyticsState.low_stock_products.length() > 0,
            rx.box(
                rx.table.root(
                    rx.el.caption("Low-stock products", style={"display": "none"}),
                    rx.table.header(
                        rx.table.row(
                            rx.table.column_header_cell("SKU"),
                            rx.table.column_header_cell("Name"),
                            rx.table.column_header_cell("Quantity"),
                            rx.table.column_header_cell("Threshold"),
                        )
                    ),
                    rx.table.body(
                        rx.foreach(
                            AnalyticsState.low_stock_products,
                            lambda p: rx.table.row(
                                rx.table.cell(rx.link(p["sku"], href="/products/" + p["id"].to(str))),
                                rx.table.cell(p["name"]),
                                rx.table.cell(p["quantity"]),
                                rx.table.cell(p["low_stock_threshold"]),
                            ),
                        )
                    ),
                    width="100%",
                ),
                style=styles.table_scroll,
            ),
            rx.text("No product is low on stock.", color=styles.MUTED_COLOR),
        ),
        width="100%",
    )


def location_table() -> rx.Component:
    return rx.card(
        rx.heading("Stock value by location", as_="h3", size="4"),
        rx.cond(
            AnalyticsState.by_location.length() > 0,
            rx.box(
                rx.table.root(
                    rx.el.caption("Stock value by location", style={"display": "none"}),
                    rx.table.header(
                        rx.table.row(
                            rx.table.column_header_cell("Location"),
                            rx.table.column_header_cell("Name"),
                            rx.table.column_header_cell("Stock value"),
                            rx.table.column_header_cell("Units"),
                            rx.table.column_header_cell("Products"),
                            rx.table.column_header_cell("Movements (24 h)"),
                        )
                    ),
                    rx.table.body(
                        rx.foreach(
                            AnalyticsState.by_location,
                            lambda row: rx.table.row(
                                rx.table.cell(row["code"]),
                                rx.table.cell(row["name"]),
                                rx.table.cell(row["stock_value"]),
                                rx.table.cell(row["units"]),
                                rx.table.cell(row["product_count"]),
                                rx.table.cell(row["movements_24h"]),
                            ),
                        )
                    ),
                    width="100%",
                ),
                style=styles.table_scroll,
            ),
            rx.text("No stock in any location yet.", color=styles.MUTED_COLOR),
        ),
        width="100%",
    )


def analytics_page() -> rx.Component:
    return app_page(
        rx.flex(
            rx.heading("Analytics", as_="h2", size="5"),
            rx.spacer(),
            rx.text("Updated ", AnalyticsState.generated_at, size="1", color=styles.MUTED_COLOR),
            align="center",
        ),
        rx.cond(AnalyticsState.error != "", rx.callout(AnalyticsState.error, color_scheme="amber")),
        rx.flex(
            stat("Low-stock products", AnalyticsState.low_stock_count),
            stat("Events in the last hour", AnalyticsState.total_events),
            spacing="4",
            wrap="wrap",
        ),
        rx.grid(
            events_chart(),
            stock_value_chart(),
            columns=rx.breakpoints(initial="1", md="2"),
            spacing="4",
            width="100%",
        ),
        location_table(),
        low_stock_table(),
        # A short refresh keeps the dashboard live while events flow.
        rx.moment(interval=REFRESH_MS, on_change=AnalyticsState.tick, display="none"),
    )
