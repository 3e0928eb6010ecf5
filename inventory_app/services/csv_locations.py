"""The CSV location layout: one row per product and location (`location`, `location_quantity`).

A row's product columns repeat on every row of its SKU and must agree; `location_quantity` sets that
location's stock through a correction in the ledger (reason `correction`, note `CSV import`). Such a
correction is an adjustment that names its location, so its ProductUpdated is version 2 with the location:
the import's own reason (`{"kind": "import"}`) is closed in version 1 and cannot carry one. Locations a file
does not list for a SKU keep their stock. An empty `location` (with 0) is a product without stock.
"""

from __future__ import annotations

from typing import Any

from inventory_app.domain import changes
from inventory_app.domain.changes import Place, ProductState, StockLevel
from inventory_app.domain.errors import DomainError, FieldError, ImportRejected, RowError
from inventory_app.domain.model import MAX_QUANTITY, normalize_sku
from inventory_app.services.unit_of_work import UnitOfWork

PRODUCT_FIELDS = ("name", "description", "category", "price", "low_stock_threshold")


def check_row(
    row: dict[str, str | None],
    line: int,
    fields: dict[str, Any],
    first_rows: dict[str, tuple[int, dict[str, Any]]],
    seen_places: dict[tuple[str, str], int],
    errors: list[RowError],
) -> tuple[str, int] | None:
    """The row's (location code, quantity), or None after recording why the row is refused."""
    problems: list[RowError] = []
    raw_code = (row.get("location") or "").strip()
    code = normalize_sku(raw_code, [], field="location") if raw_code else ""
    if code is None:
        problems.append(RowError(line, "location", "must be a location code (letters, digits, '-', '_' or '.')"))
    text = (row.get("location_quantity") or "").strip() or "0"
    quantity = int(text) if text.isdigit() else -1
    if not 0 <= quantity <= MAX_QUANTITY:
        problems.append(RowError(line, "location_quantity", f"must be an integer between 0 and {MAX_QUANTITY}"))
    sku = fields["sku"]
    if code is not None and (sku, code) in seen_places:
        problems.append(
            RowError(line, "location", f"{sku} in {code or 'no location'} repeats line {seen_places[(sku, code)]}")
        )
    if sku in first_rows:
        first_line, first = first_rows[sku]
        problems += [
            RowError(line, name, f"differs from line {first_line} for the same SKU")
            for name in PRODUCT_FIELDS
            if fields.get(name) != first.get(name)
        ]
    if problems:
        errors.extend(problems)
        return None
    first_rows.setdefault(sku, (line, fields))
    seen_places[(sku, code)] = line
    return code, quantity


class Stock:
    """The import's view of stock as it stages changes: each product's latest state and its levels."""

    def __init__(self, places: dict[str, Place]) -> None:
        self.places = places  # by code
        self.levels: dict[Any, dict[Any, StockLevel]] = {}

    async def levels_of(self, unit: UnitOfWork, product: ProductState, known: bool) -> dict[Any, StockLevel]:
        if product.id not in self.levels:
            found = (await unit.lock_stock(product.id))[0] if known else []
            self.levels[product.id] = {level.place.id: level for level in found}
        return self.levels[product.id]

    async def correct(
        self, unit: UnitOfWork, product: ProductState, known: bool, line: int, code: str, quantity: int, **context: Any
    ) -> changes.Change | None:
        """The correction that sets `code`'s stock of `product` to `quantity` (None when it already is)."""
        place = self.places.get(code)
        if place is None:
            raise ImportRejected(
                f"Nothing was imported: row {line} names location {code}, which does not exist.",
                [FieldError("location", "names no location", row=line)],
            )
        levels = await self.levels_of(unit, product, known)
        held = levels[place.id].quantity if place.id in levels else 0
        if quantity == held:
            return None
        try:
            change = changes.adjust(
                product,
                quantity - held,
                "correction",
                "CSV import",
                levels=list(levels.values()),
                place=place,
                **context,
            )
        except DomainError as error:  # an inactive location receiving stock, say
            raise ImportRejected(
                f"Nothing was imported: row {line}: {error.detail}", [FieldError("location", error.detail, row=line)]
            ) from None
        levels.update({level.place.id: level for level in change.levels})
        return change
