"""CSV export (spooled, one snapshot) and import (validated whole, then upserted by SKU in one transaction)."""

from __future__ import annotations

import asyncio
import csv
import io
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from tempfile import SpooledTemporaryFile
from typing import Any, BinaryIO

from inventory_app.adapters import location_store, product_store
from inventory_app.bootstrap import wiring
from inventory_app.domain import changes
from inventory_app.domain.changes import Change, Place, ProductState, StockLevel
from inventory_app.domain.errors import FieldError, ImportRejected, ImportReport, RowError, ValidationFailed
from inventory_app.domain.identity import Principal, Role
from inventory_app.domain.model import normalize_sku, validate_product_fields
from inventory_app.services import csv_locations
from inventory_app.services.products import to_public
from inventory_app.services.unit_of_work import UnitOfWork, UnitOfWorkFactory

COLUMNS = ("sku", "name", "description", "category", "price", "quantity", "low_stock_threshold")
REQUIRED_COLUMNS = ("sku", "name", "price")
# The location layout (one row per product and location): `location_quantity` is that location's stock, and
# the file has no `quantity` column (the product's total follows from its locations).
LOCATION_COLUMNS = ("location", "location_quantity")
LOCATION_LAYOUT = ("sku", "name", "description", "category", "price", "low_stock_threshold", *LOCATION_COLUMNS)
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


EXPORT_SPOOL_MEMORY = 4 * 1024 * 1024  # beyond this the export spills to a temporary file


def _export_line(product: ProductState) -> bytes:
    public = to_public(product)
    return _csv_line(neutralise_formula(public[c]) if c in TEXT_COLUMNS else public[c] for c in COLUMNS).encode()


def _located_line(product: ProductState, code: str | None, quantity: int | None) -> bytes:
    public = to_public(product)
    values = [neutralise_formula(public[c]) if c in TEXT_COLUMNS else public[c] for c in LOCATION_LAYOUT[:6]]
    return _csv_line([*values, neutralise_formula(code or ""), quantity or 0]).encode()


async def export_to_spool(*, by_location: bool = False) -> SpooledTemporaryFile:
    """The whole export, read in one short transaction (one consistent snapshot), in a spooled file.

    Rows come from a server-side cursor a batch at a time (memory stays flat for any size), and the
    connection is back in the pool before the first byte goes to the client, so clients that read slowly
    (or stop reading) hold a file, never a connection.
    """
    spool = SpooledTemporaryFile(max_size=EXPORT_SPOOL_MEMORY, mode="w+b")  # noqa: SIM115 - the response closes it
    try:
        spool.write(_csv_line(LOCATION_LAYOUT if by_location else COLUMNS).encode())
        async with (await wiring().pool()).connection() as conn, conn.transaction():
            if by_location:
                async for rows in location_store.stream_stock_by_sku(conn, EXPORT_BATCH):
                    spool.write(b"".join(_located_line(*row) for row in rows))
            else:
                async for batch in product_store.stream_by_sku(conn, EXPORT_BATCH):
                    spool.write(b"".join(_export_line(product) for product in batch))
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


@dataclass(frozen=True)
class ImportRow:
    line: int
    fields: dict[str, Any]  # validated, with defaults for the columns the file leaves out
    given: frozenset[str]  # the columns this row sets: an update changes only these
    location: str | None = None  # the location layout: this row's location code ("" for none)
    location_quantity: int = 0


def _open_csv(text: io.TextIOWrapper) -> tuple[csv.DictReader, set[str]]:
    """A reader over the file with its header checked and normalised; raises ValidationFailed (400)."""
    reader = csv.DictReader(text)
    try:
        header = reader.fieldnames
    except (UnicodeDecodeError, csv.Error) as error:
        raise ValidationFailed("The file is not a readable UTF-8 CSV.", [FieldError("file", str(error))]) from None
    if not header:
        raise ValidationFailed("The file is empty.", [FieldError("file", "needs a header row")])
    columns = {h.strip().lower() for h in header if h}
    located = bool(columns & set(LOCATION_COLUMNS))
    missing = [c for c in (*REQUIRED_COLUMNS, *(LOCATION_COLUMNS if located else ())) if c not in columns]
    unknown = sorted(columns - set(LOCATION_LAYOUT if located else COLUMNS))
    if missing or unknown:
        errors = [FieldError("file", f"missing column {c!r}") for c in missing]
        errors += [FieldError("file", f"unknown column {c!r}") for c in unknown]
        if located and "quantity" in unknown:
            errors.append(FieldError("quantity", "give each location's stock in location_quantity instead"))
        raise ValidationFailed("The CSV header is wrong.", errors)
    reader.fieldnames = [h.strip().lower() for h in header]
    return reader, columns


def read_rows(stream: BinaryIO, errors: list[RowError]) -> Iterator[ImportRow]:
    """Yield the file's valid rows in order and append every invalid one to `errors`.

    Deterministic, so reading the same file twice yields the same rows and errors. A file that is not
    readable CSV (a bad byte anywhere) raises ValidationFailed, wherever the bad byte is.
    """
    # TextIOWrapper, not codecs.getreader: the latter's readline is quadratic on a long line (a 20 MB
    # line took a minute). newline="" lets the csv module see the line endings inside quoted cells.
    text = io.TextIOWrapper(stream, encoding="utf-8-sig", errors="strict", newline="")
    try:
        yield from _valid_rows(text, errors)
    finally:
        text.detach()  # the caller's file stays open (the import reads it twice)


def _valid_rows(text: io.TextIOWrapper, errors: list[RowError]) -> Iterator[ImportRow]:
    reader, columns = _open_csv(text)
    located = "location" in columns
    seen: dict[str, int] = {}
    first_rows: dict[str, tuple[int, dict[str, Any]]] = {}  # the location layout's rows of one SKU agree
    seen_places: dict[tuple[str, str], int] = {}
    try:
        for index, row in enumerate(reader):
            line = reader.line_num
            if index >= MAX_ROWS:
                errors.append(RowError(line, "file", f"exceeds {MAX_ROWS} rows; this and later rows skipped"))
                return
            if None in row:
                errors.append(RowError(line, "row", "has more cells than the header"))
                continue
            raw = _row_fields(row, columns)
            sku = normalize_sku(raw.get("sku", ""), [])
            if sku is not None and sku in seen and not located:
                errors.append(RowError(line, "sku", f"repeats line {seen[sku]}"))
                continue
            try:
                # Rows for existing products may omit fields; validate them against full defaults.
                fields = validate_product_fields(raw, partial=False)
            except ValidationFailed as failure:
                errors.extend(RowError(line, e.field, e.message) for e in failure.errors)
                continue
            if located:
                place = csv_locations.check_row(row, line, fields, first_rows, seen_places, errors)
                if place is not None:
                    yield ImportRow(line, fields, frozenset(raw), *place)
                continue
            seen[fields["sku"]] = line
            yield ImportRow(line, fields, frozenset(raw))
    except (UnicodeDecodeError, csv.Error) as error:
        raise ValidationFailed("The file is not a readable UTF-8 CSV.", [FieldError("file", str(error))]) from None


@dataclass
class _Run:
    """What one import carries from chunk to chunk."""

    source: str
    located: bool = False  # the location layout (every row of a file has the same layout)
    default: Place | None = None
    stock: csv_locations.Stock | None = None  # the location layout's view of stock per place
    # The location layout's SKUs touched so far (their rows may come back in a later chunk): the latest
    # state, and whether it was stored before the import began. Today's layout repeats no SKU: not kept.
    latest: dict[str, tuple[ProductState, bool]] = field(default_factory=dict)
    errors: list[RowError] = field(default_factory=list)  # rows only the database could refuse (pass 2)


async def _apply_chunk(
    unit: UnitOfWork, chunk: list[ImportRow], report: ImportReport, dry_run: bool, run: _Run
) -> None:
    """Stage the chunk's rows in a few round trips: lock its products by SKU, read the stock it needs, then
    apply each row (a row only the database could refuse is skipped into `run.errors`) and record."""
    if run.default is None:
        run.located = chunk[0].location is not None
    new_skus = list(dict.fromkeys(row.fields["sku"] for row in chunk if row.fields["sku"] not in run.latest))
    latest = {p.sku: (p, True) for p in await unit.lock_by_skus(new_skus)}
    if run.located:
        run.latest.update(latest)
        latest = run.latest
    if run.default is None:
        _, places = await unit.lock_stock(uuid.uuid4())  # no product: just the default place, share-locked
        run.default = changes.default_place(places)
        if run.located:
            run.stock = csv_locations.Stock(await unit.locations())
    if run.stock is not None:
        touched = [latest[row.fields["sku"]] for row in chunk if row.fields["sku"] in latest]
        await run.stock.load(unit, (row.location or "" for row in chunk), (p for p, known in touched if known))
        levels: dict[uuid.UUID, list[StockLevel]] = {}
    else:
        # Today's layout: the stock of the products whose total a row changes, in one call.
        moving = [
            latest[row.fields["sku"]][0].id
            for row in chunk
            if "quantity" in row.given
            and row.fields["sku"] in latest
            and row.fields["quantity"] != latest[row.fields["sku"]][0].quantity
        ]
        levels = await unit.lock_stock_levels(moving) if moving else {}
    context = {"now": datetime.now(UTC), "source": run.source}
    actor = unit.actor.to_json()
    staged: list[Change] = []
    for row in chunk:
        sku = row.fields["sku"]
        product, known = latest.get(sku, (None, False))
        if run.stock is not None and row.location:
            refused = run.stock.refusal(row.line, row.location, row.location_quantity, product)
            if refused is not None:
                run.errors.append(refused)
                continue
        if product is None:
            change = changes.create(uuid.uuid4(), row.fields, default=run.default, **context)
            kind = "created"
        else:
            try:
                change = _updated(row, product, levels.get(product.id, []), run.default, actor, context)
            except _HeldElsewhere as refused:
                run.errors.append(refused.error)
                continue
            kind = "updated" if change else "unchanged"
        if change:
            staged.append(change)
            product = change.after
        if run.stock is not None and row.location:  # the location layout: this place's stock
            corrected = run.stock.correct(
                product, row.location, row.location_quantity, actor=actor, default=run.default, **context
            )
            if corrected:
                staged.append(corrected)
                product = corrected.after
                kind = "updated" if kind == "unchanged" else kind
        if run.located:
            run.latest[sku] = (product, known)
        setattr(report, kind, getattr(report, kind) + 1)
    if not dry_run and staged:
        await unit.record(*staged)


class _HeldElsewhere(Exception):
    """A products-layout row that changes the total of a product held outside the default location."""

    def __init__(self, error: RowError) -> None:
        self.error = error


def _updated(
    row: ImportRow,
    product: ProductState,
    levels: list[StockLevel],
    default: Place,
    actor: dict[str, Any],
    context: dict,
) -> Change | None:
    """The row's change to an existing product: the fields it gives that differ (None when none do)."""
    wanted = {k: row.fields[k] for k in row.given if k in row.fields and k != "sku"}
    current = to_public(product)
    changed = {
        k: v
        for k, v in wanted.items()
        if (current["price"] if k == "price" else current[k]) != (str(v) if k == "price" else v)
    }
    if not changed:
        return None
    quantity = changed.pop("quantity", None)
    if quantity is None:
        return changes.update(product, changed, {"kind": "import"}, **context)
    # A quantity change from a file is a stock correction: it goes through the ledger. In this format
    # `quantity` is the product's total, which says nothing of where: only the default place's.
    if any(level.quantity and level.place.id != default.id for level in levels):
        raise _HeldElsewhere(
            RowError(
                row.line,
                "quantity",
                f"{product.sku} is held in locations other than the default one: give its stock per location "
                "with the location columns (location, location_quantity)",
            )
        )
    return changes.adjust(
        product,
        quantity - product.quantity,
        "correction",
        "CSV import",
        actor=actor,
        event_reason={"kind": "import"},
        extra_values=changed,
        levels=levels,
        default=default,
        **context,
    )


def _refused(errors: list[RowError], when: str) -> ImportRejected:
    detail = (
        f"Nothing was imported: {len(errors)} problem(s) {when}. Fix them and upload it again, "
        "or import with skip_invalid=true to apply the valid rows only."
    )
    if any(e.field == "quantity" and "location columns" in e.message for e in errors):
        detail += (
            " A product held in locations other than the default one takes its stock per location: use the "
            "location columns (export with layout=locations)."
        )
    return ImportRejected(detail, [FieldError(e.field, e.message, row=e.row) for e in errors])


def _rewound(stream: BinaryIO) -> BinaryIO:
    """The file, readable twice: uploads arrive as seekable spooled files; anything else is spooled here."""
    if stream.seekable():
        stream.seek(0)
        return stream
    spool = SpooledTemporaryFile(max_size=EXPORT_SPOOL_MEMORY, mode="w+b")  # noqa: SIM115 - closed with the import
    while chunk := stream.read(1 << 16):
        spool.write(chunk)
    spool.seek(0)
    return spool


async def import_products_csv(
    stream: BinaryIO,
    *,
    by: Principal,
    dry_run: bool = False,
    skip_invalid: bool = False,
    uow: UnitOfWorkFactory | None = None,
) -> ImportReport:
    """Upsert products by SKU, all or nothing.

    The whole file is validated first. If any row is invalid nothing is applied and ImportRejected
    lists every bad row (422), unless `skip_invalid` asks to apply the valid rows and report the rest.
    Then every row is applied in ONE transaction: a failure half-way (a lost connection, a concurrent
    SKU) leaves no row and no event behind, so a file is never half imported. Parsing is CPU work on the
    event loop, so it hands the loop back every chunk of rows: other requests on this worker go on.
    """
    by.require(Role.EDITOR)  # a dry run too: it is the import page's preview, an editor's tool
    report = ImportReport(dry_run=dry_run)
    stream = _rewound(stream)
    # Pass 1 only validates (memory stays flat for the largest file: rows are not kept).
    valid_rows = 0
    for _ in read_rows(stream, report.errors):
        valid_rows += 1
        if valid_rows % CHUNK_ROWS == 0:
            await asyncio.sleep(0)
    if report.errors and not skip_invalid:
        raise _refused(report.errors, "in the file")
    if valid_rows == 0:
        return report
    run = _Run(wiring().settings.event_source)
    stream.seek(0)
    async with (uow or wiring().unit_of_work)(by.actor) as unit:
        chunk: list[ImportRow] = []
        for row in read_rows(stream, []):  # pass 2: the same rows; their errors are already reported
            chunk.append(row)
            if len(chunk) >= CHUNK_ROWS:
                await _apply_chunk(unit, chunk, report, dry_run, run)
                chunk = []
        if chunk:
            await _apply_chunk(unit, chunk, report, dry_run, run)
        if run.errors and not skip_invalid:  # raised inside the unit: it rolls back, nothing is applied
            raise _refused(run.errors, "against the current locations and stock")
    report.errors = sorted([*report.errors, *run.errors], key=lambda e: e.row)
    return report
