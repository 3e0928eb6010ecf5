"""CSV import: receives the uploaded file, runs the import service and keeps its report for display."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import reflex as rx

from inventory_app.domain.errors import DomainError, ImportRejected
from inventory_app.services import csv_transfer
from inventory_app.ui.states.products import ProductsState
from inventory_app.ui.states.session import signed_in_principal

UPLOAD_ID = "products_csv"


@dataclass
class ImportErrorRow:
    row: str = ""
    field: str = ""
    message: str = ""


class CsvImportState(rx.State):
    dry_run: bool = False
    skip_invalid: bool = False
    # The click's `start` goes over the websocket and the file over its own HTTP request, and the server may
    # handle either first (a small file that is refused at once often wins). Counting both, instead of a
    # flag that `start` sets and the upload clears, keeps a late `start` from marking a finished import
    # as running again.
    started: int = 0
    finished: int = 0
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
    def set_skip_invalid(self, value: bool):
        self.skip_invalid = value

    @rx.event
    def file_rejected(self, rejections: list[dict[str, Any]]):
        """The browser refused the file before sending it (too large, not a CSV); the server checks again."""
        reasons = [e.get("message", "") for r in rejections for e in r.get("errors", [])]
        self.message = "; ".join(r for r in reasons if r) or "This file cannot be imported."
        self.has_report = False

    @rx.var
    def importing(self) -> bool:
        return self.started > self.finished

    @rx.event
    def start(self):
        self.started += 1
        if self.importing:  # this click's upload is not handled yet: clear the last report
            self.progress = 0
            self.has_report = False
            self.message = ""

    def _finish(self) -> None:
        """This upload is handled; so is its click, whether or not its `start` has arrived yet."""
        self.finished = max(self.started, self.finished + 1)

    @rx.event
    def track_progress(self, progress: dict[str, Any]):
        self.progress = round(float(progress.get("progress", 0)) * 100)

    def _show_failure(self, error: DomainError) -> None:
        self.message = error.detail
        self.errors = [
            ImportErrorRow(row="-" if e.row is None else str(e.row), field=e.field, message=e.message)
            for e in error.errors
        ]
        self.has_report = True

    @rx.event
    async def handle_upload(self, files: list[rx.UploadFile]):
        self.errors = []
        if not files:
            self._finish()
            self.message = "Choose a CSV file first."
            return
        # The upload endpoint has already refused anything over the size limit as it arrived
        # (api/body_limit.py); the file is a spooled temporary file, read by the import as a stream.
        try:
            by = await signed_in_principal(self)
            report = await csv_transfer.import_products_csv(
                files[0].file, by=by, dry_run=self.dry_run, skip_invalid=self.skip_invalid
            )
        except DomainError as error:
            self._show_failure(error)
            self.created = self.updated = self.unchanged = 0
            if isinstance(error, ImportRejected):
                self.message = (
                    f"Nothing was imported: {len(error.errors)} problem(s) in the file. Fix them, "
                    'or tick "Skip invalid rows" to import the valid rows only.'
                )
        else:
            self.created, self.updated, self.unchanged = report.created, report.updated, report.unchanged
            self.errors = [ImportErrorRow(row=str(e.row), field=e.field, message=e.message) for e in report.errors]
            if report.dry_run:
                self.message = "Dry run: nothing was saved."
            elif report.errors:
                self.message = f"Imported the valid rows; {len(report.errors)} problem(s) skipped."
            else:
                self.message = "Import finished."
            self.has_report = True
        finally:  # an unexpected error too (Reflex reports it): the panel must not stay "Importing…"
            self._finish()
        yield rx.clear_selected_files(UPLOAD_ID)
        yield ProductsState.refresh_with_categories
