"""CSV export (streamed) and import (upsert by SKU in bounded chunks, each row with its events)."""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Iterable, Iterator
from tempfile import SpooledTemporaryFile
from typing import Any, BinaryIO

from sqlalchemy import Engine, select

from inventory_app.adapters.orm import Product
from inventory_app.domain.errors import FieldError, ImportReport, RowError, ValidationFailed
from inventory_app.domain.identity import Actor, Principal, Role
from inventory_app.domain.model import normalize_sku, validate_product_fields
from inventory_app.services.products import apply_changes_in, create_product_in, record_movement_in, to_public
from inventory_app.services.unit_of_work import unit_of_work
from inventory_app.settings import get_settings

COLUMNS = ("sku", "name", "description", "category", "price", "quantity", "low_stock_threshold")
REQUIRED_COLUMNS = ("sku", "name", "price")
INTEGER_COLUMNS = ("quantity", "low_stock_threshold")
CHUNK_ROWS = 500
MAX_ROWS = 100_000
EXPORT_BATCH = 1000


TEXT_COLUMNS = ("sku", "name", "description", "category")
# OWASP's CSV-injection rule: a cell a spreadsheet would read as a formula starts with one of these.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
# A leading apostrophe is how spreadsheets mark "text, not a formula"; they hide it and keep the rest.
TEXT_MARK = "'"


def neutralise_formula(value: str) -> str:
    """Export: make a cell that would run as a formula plain text (and mark a value that already starts with
    the text mark too, so that `restore_text` gives every value back exactly)."""
    return TEXT_MARK + value if value.startswith((*FORMULA_STARTS, TEXT_MARK)) else value


def restore_text(value: str) -> str:
    """Import: drop the one text mark the export (or a spreadsheet user) put in front of a text cell."""
    return value[1:] if value.startswith(TEXT_MARK) else value


def _csv_line(values: Iterable[Any]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerow(values)
    return buffer.getvalue()


def export_products_csv(*, engine: Engine | None = None) -> Iterator[str]:
    """Yield the CSV a line at a time from a server-side cursor: memory stays flat for any size.

    The cursor holds a connection and a transaction until the last line: consume it at once (as
    `export_to_spool` does), never at the pace of a client.
    """
    yield _csv_line(COLUMNS)
    with unit_of_work(engine) as session:
        result = session.execute(
            select(Product).order_by(Product.sku).execution_options(yield_per=EXPORT_BATCH)
        ).scalars()
        for product in result:
            public = to_public(product)
            yield _csv_line(neutralise_formula(public[c]) if c in TEXT_COLUMNS else public[c] for c in COLUMNS)


EXPORT_SPOOL_MEMORY = 4 * 1024 * 1024  # beyond this the export spills to a temporary file


def export_to_spool(*, engine: Engine | None = None) -> SpooledTemporaryFile:
    """The whole export, read in one short transaction (one consistent snapshot), in a spooled file.

    The database connection is back in the pool before the first byte goes to the client, so clients
    that read slowly (or stop reading) hold a file, never a connection.
    """
    spool = SpooledTemporaryFile(max_size=EXPORT_SPOOL_MEMORY, mode="w+b")  # noqa: SIM115 - the response closes it
    try:
        for line in export_products_csv(engine=engine):
            spool.write(line.encode("utf-8"))
        spool.seek(0)
    except BaseException:
        spool.close()
        raise
    return spool


def _row_fields(row: dict[str, str | None], columns: set[str]) -> dict[str, Any]:
    """Turn CSV text into the API's field types; an empty optional cell means 'not given'."""
    fields: dict[str, Any] = {}
    for column in COLUMNS:
        if column not in columns:
            continue
        raw = (row.get(column) or "").strip()
        if column in TEXT_COLUMNS:
            raw = restore_text(raw)
        if raw == "" and column not in REQUIRED_COLUMNS:
            continue
        if column in INTEGER_COLUMNS:
            try:
                fields[column] = int(raw)
            except ValueError:
                fields[column] = raw  # validation names the field
        else:
            fields[column] = raw
    return fields


def _validate_row(fields: dict[str, Any], line: int, report: ImportReport) -> dict[str, Any] | None:
    try:
        return validate_product_fields(fields, partial=False)
    except ValidationFailed as failure:
        report.errors.extend(RowError(line, e.field, e.message) for e in failure.errors)
        return None


def _apply_chunk(
    chunk: list[tuple[int, dict[str, Any], set[str]]],
    report: ImportReport,
    dry_run: bool,
    engine: Engine | None,
    actor: Actor,
) -> None:
    source = get_settings().event_source
    with unit_of_work(engine, actor=actor) as session:
        skus = [fields["sku"] for _, fields, _ in chunk]
        existing = {
            p.sku: p
            for p in session.execute(
                select(Product).where(Product.sku.in_(skus)).order_by(Product.id).with_for_update()
            ).scalars()
        }
        for _line, fields, given in chunk:
            product = existing.get(fields["sku"])
            if product is None:
                if not dry_run:
                    create_product_in(session, fields, source=source)
                report.created += 1
                continue
            wanted = {k: fields[k] for k in given if k in fields and k != "sku"}
            current = to_public(product)
            changed = {
                k: v
                for k, v in wanted.items()
                if (current["price"] if k == "price" else current[k]) != (str(v) if k == "price" else v)
            }
            if not changed:
                report.unchanged += 1
                continue
            report.updated += 1
            if dry_run:
                continue
            quantity = changed.pop("quantity", None)
            if quantity is not None:
                # A quantity change from a file is a stock correction: it goes through the ledger.
                record_movement_in(
                    session,
                    product,
                    quantity - product.quantity,
                    "correction",
                    "CSV import",
                    source=source,
                    event_reason={"kind": "import"},
                    extra_fields=changed,
                )
            else:
                apply_changes_in(session, product, changed, {"kind": "import"}, source=source)
        if dry_run:
            session.rollback()


def import_products_csv(
    stream: BinaryIO, *, by: Principal, dry_run: bool = False, engine: Engine | None = None
) -> ImportReport:
    """Upsert products by SKU; bad rows are reported by line and field, good rows are applied."""
    by.require(Role.EDITOR)  # a dry run too: it is the import page's preview, an editor's tool
    report = ImportReport(dry_run=dry_run)
    text = codecs.getreader("utf-8-sig")(stream, errors="strict")
    reader = csv.DictReader(text)
    try:
        header = reader.fieldnames
    except (UnicodeDecodeError, csv.Error) as error:
        raise ValidationFailed("The file is not a readable UTF-8 CSV.", [FieldError("file", str(error))]) from None
    if not header:
        raise ValidationFailed("The file is empty.", [FieldError("file", "needs a header row")])
    columns = {h.strip().lower() for h in header if h}
    missing = [c for c in REQUIRED_COLUMNS if c not in columns]
    unknown = sorted(columns - set(COLUMNS))
    if missing or unknown:
        errors = [FieldError("file", f"missing column {c!r}") for c in missing]
        errors += [FieldError("file", f"unknown column {c!r}") for c in unknown]
        raise ValidationFailed("The CSV header is wrong.", errors)
    reader.fieldnames = [h.strip().lower() for h in header]
    seen: dict[str, int] = {}
    chunk: list[tuple[int, dict[str, Any], set[str]]] = []
    try:
        for index, row in enumerate(reader):
            line = reader.line_num
            if index >= MAX_ROWS:
                # Earlier chunks are already committed, so failing the whole request would misreport them.
                report.errors.append(RowError(line, "file", f"exceeds {MAX_ROWS} rows; this and later rows skipped"))
                break
            if None in row:
                report.errors.append(RowError(line, "row", "has more cells than the header"))
                continue
            raw = _row_fields(row, columns)
            sku_errors: list[FieldError] = []
            sku = normalize_sku(raw.get("sku", ""), sku_errors)
            if sku is not None and sku in seen:
                report.errors.append(RowError(line, "sku", f"repeats line {seen[sku]}"))
                continue
            # Rows for existing products may omit fields; validate them against full defaults.
            fields = _validate_row(raw, line, report)
            if fields is None:
                continue
            seen[fields["sku"]] = line
            given = {k for k in raw}
            chunk.append((line, fields, given))
            if len(chunk) >= CHUNK_ROWS:
                _apply_chunk(chunk, report, dry_run, engine, by.actor)
                chunk = []
    except (UnicodeDecodeError, csv.Error) as error:
        raise ValidationFailed("The file is not a readable UTF-8 CSV.", [FieldError("file", str(error))]) from None
    if chunk:
        _apply_chunk(chunk, report, dry_run, engine, by.actor)
    return report
