"""CSV import: receives the uploaded file, runs the import service and keeps its report for display."""

from __future__ import annotations

import asyncio
import io
from dataclasses import dataclass
from typing import Any

import reflex as rx

from inventory_app.domain.errors import DomainError
from inventory_app.services import csv_transfer
from inventory_app.ui.states.products import ProductsState
from inventory_app.ui.states.session import signed_in_principal

UPLOAD_ID = "products_csv"
# Same ceiling as the REST import route.
MAX_IMPORT_BYTES = 20_000_000


@dataclass
class ImportErrorRow:
    row: str = ""
    field: str = ""
    message: str = ""


class CsvImportState(rx.State):
    dry_run: bool = False
    importing: bool = False
    progress: int = 0
    has_report: bool = False
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: list[ImportErrorRow] = []
    message: str = ""

    @rx.event
    def set_dry_run(self, value: bool):
        self.dry_run = value

    @rx.event
    def start(self):
        self.importing = True
        self.progress = 0
        self.has_report = False
        self.message = ""

    @rx.event
    def track_progress(self, progress: dict[str, Any]):
        self.progress = round(float(progress.get("progress", 0)) * 100)

    def _show_failure(self, error: DomainError) -> None:
        self.message = error.detail
        self.errors = [ImportErrorRow(row="-", field=e.field, message=e.message) for e in error.errors]
        self.has_report = True

    @rx.event
    async def handle_upload(self, files: list[rx.UploadFile]):
        self.errors = []
        if not files:
            self.importing = False
            self.message = "Choose a CSV file first."
            return
        content = await files[0].read()
        if len(content) > MAX_IMPORT_BYTES:
            self.importing = False
            self.message = f"The file is larger than {MAX_IMPORT_BYTES // 1_000_000} MB."
            return
        try:
            by = await signed_in_principal(self)
            report = await asyncio.to_thread(
                csv_transfer.import_products_csv, io.BytesIO(content), by=by, dry_run=self.dry_run
            )
        except DomainError as error:
            self._show_failure(error)
            self.created = self.updated = self.unchanged = 0
        else:
            self.created, self.updated, self.unchanged = report.created, report.updated, report.unchanged
            self.errors = [ImportErrorRow(row=str(e.row), field=e.field, message=e.message) for e in report.errors]
            self.message = "Dry run: nothing was saved." if report.dry_run else "Import finished."
            self.has_report = True
        self.importing = False
        yield rx.clear_selected_files(UPLOAD_ID)
        yield ProductsState.refresh_with_categories
