"""CSV import (upload, dry run, progress, report) and the export link."""

from __future__ import annotations

import reflex as rx

from inventory_app.settings import get_settings
from inventory_app.ui import styles
from inventory_app.ui.states.csv_import import UPLOAD_ID, CsvImportState, ImportErrorRow

STATE = CsvImportState


def export_link() -> rx.Component:
    # A plain anchor to the streaming REST route: the browser downloads the file, nothing passes through state.
    return rx.flex(
        rx.button(
            rx.el.a(rx.icon("download", size=16), "Download CSV", href="/api/products/export", download="products.csv"),
            as_child=True,
            variant="soft",
        ),
        # One row per product and location: edit a location's stock and import the file back.
        rx.button(
            rx.el.a(
                "By location",
                href="/api/products/export?layout=locations",
                download="stock-by-location.csv",
                aria_label="Download CSV by location",
            ),
            as_child=True,
            variant="ghost",
        ),
        spacing="2",
    )


def _error_row(error: ImportErrorRow) -> rx.Component:
    return rx.table.row(rx.table.cell(error.row), rx.table.cell(error.field), rx.table.cell(error.message))


def import_report() -> rx.Component:
    return rx.cond(
        STATE.has_report,
        rx.flex(
            rx.text(STATE.message, weight="medium", role="status"),
            rx.flex(
                rx.badge(f"Created {STATE.created}", color_scheme="green", size="2"),
                rx.badge(f"Updated {STATE.updated}", color_scheme="blue", size="2"),
                rx.badge(f"Unchanged {STATE.unchanged}", color_scheme="gray", size="2"),
                rx.badge(f"Errors {STATE.errors.length()}", color_scheme="red", size="2"),
                spacing="2",
                wrap="wrap",
            ),
            rx.cond(
                STATE.errors.length() > 0,
                rx.box(
                    rx.table.root(
                        rx.el.caption("Import errors", style=styles.visually_hidden),
                        rx.table.header(
                            rx.table.row(
                                rx.table.column_header_cell("Row"),
                                rx.table.column_header_cell("Field"),
                                rx.table.column_header_cell("Message"),
                            )
                        ),
                        rx.table.body(rx.foreach(STATE.errors, _error_row)),
                        size="1",
                    ),
                    style=styles.table_scroll,
                ),
            ),
            direction="column",
            spacing="2",
            width="100%",
        ),
        rx.cond(STATE.message != "", rx.text(STATE.message, role="alert", style=styles.field_error)),
    )


def csv_import_panel() -> rx.Component:
    chosen = rx.selected_files(UPLOAD_ID)
    return rx.card(
        rx.flex(
            rx.heading("Import CSV", as_="h3", size="4"),
            rx.text(
                "Columns: sku, name, description, category, price, quantity, low_stock_threshold. "
                "Rows are matched by SKU; a file with an invalid row imports nothing.",
                size="2",
                color=styles.MUTED_COLOR,
            ),
            rx.upload(
                rx.flex(
                    rx.icon("upload", size=18),
                    rx.text(
                        rx.cond(chosen.length() > 0, chosen[0], "Drop a CSV file here, or click to choose one"),
                        size="2",
                    ),
                    spacing="2",
                    align="center",
                ),
                id=UPLOAD_ID,
                accept={"text/csv": [".csv"]},
                multiple=False,
                max_files=1,
                # A courtesy: the browser refuses a file over the limit before sending it. The server
                # enforces the same limit on the bytes as they arrive, whatever the browser does.
                max_size=get_settings().import_max_bytes,
                on_drop_rejected=STATE.file_rejected,
                # Keyword props, not style=: the upload's own default style would win over a style dict.
                **styles.upload_area,
                aria_label="CSV file",
            ),
            rx.flex(
                rx.checkbox("Dry run", checked=STATE.dry_run, on_change=STATE.set_dry_run),
                rx.checkbox("Skip invalid rows", checked=STATE.skip_invalid, on_change=STATE.set_skip_invalid),
                rx.button(
                    "Import CSV",
                    on_click=[
                        STATE.start,
                        STATE.handle_upload(
                            rx.upload_files(upload_id=UPLOAD_ID, on_upload_progress=STATE.track_progress)
                        ),
                    ],
                    # Not disabled while importing: an upload the server refused (a database outage) never
                    # reaches the handler, and the button must stay usable to try again. Reflex itself sends
                    # no second upload while one is in flight.
                    disabled=chosen.length() == 0,
                ),
                rx.cond(
                    STATE.importing,
                    rx.flex(
                        rx.progress(value=STATE.progress, max=100, width="120px", aria_label="Import progress"),
                        rx.text("Importing…", size="2"),
                        spacing="2",
                        align="center",
                    ),
                ),
                spacing="4",
                align="center",
                wrap="wrap",
            ),
            import_report(),
            direction="column",
            spacing="3",
        ),
        width="100%",
    )
