"""The CSV location layout: one row per product and location (`location`, `location_quantity`).

A row's product columns repeat on every row of its SKU and must agree; `location_quantity` sets that
location's stock through a correction in the ledger (reason `correction`, note `CSV import`). Such a
correction is an adjustment that names its location, so its ProductUpdated is version 2 with the location:
the import's own reason (`{"kind": "import"}`) is closed in version 1 and cannot carry one. Locations a file
does not list for a SKU keep their stock. An empty `location` (with 0) is a product without stock.

Pass 1 (`check_row`) checks what the file alone can tell: the code's format, the quantity, repeats and
agreement. Pass 2 (`Stock`) checks what only the database can: that the code names a location, and that an
inactive one is not asked to receive stock. Both report row errors naming `location`; neither raises.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any

from inventory_app.domain import changes
from inventory_app.domain.changes import Place, ProductState, StockLevel
from inventory_app.domain.errors import RowError
from inventory_app.domain.locations import Location
from inventory_app.domain.model import MAX_QUANTITY, normalize_sku
from inventory_app.services.unit_of_work import UnitOfWork

PRODUCT_FIELDS = ("name", "description", "category", "price", "low_stock_threshold")


def _quantity(text: str) -> int | None:
    """A location quantity: ASCII digits only (no sign, no '²'), within the product's bounds."""
    if not (text.isascii() and text.isdigit()) or len(text) > len(str(MAX_QUANTITY)):
        return None
    value = int(text)
    return value if value <= MAX_QUANTITY else None


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
    quantity = _quantity((row.get("location_quantity") or "").strip() or "0")
    if quantity is None:
        problems.append(RowError(line, "location_quantity", f"must be an integer between 0 and {MAX_QUANTITY}"))
    elif quantity and code == "":
        problems.append(RowError(line, "location", "is needed for a quantity other than 0"))
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
    return code, quantity or 0


class Stock:
    """Pass 2's view of stock per place as the import stages its corrections.

    Everything it reads from the unit of work it reads per chunk, in one call each: the places the chunk
    names (share-locked, so no admin deactivates or deletes one under the import) and the levels of the
    stored products the chunk touches (kept for later chunks: a SKU's rows need not be next to each other).
    """

    def __init__(self, locations: Iterable[Location]) -> None:
        self.ids = {loc.code: loc.id for loc in locations}  # every location when the import began
        self.places: dict[str, Place] = {}  # those the import named, as locked
        self.looked_up: set[str] = set()
        self.levels: dict[uuid.UUID, dict[uuid.UUID, StockLevel]] = {}

    async def load(self, unit: UnitOfWork, codes: Iterable[str], stored: Iterable[ProductState]) -> None:
        """Lock the places among `codes` not locked yet, and read the levels of the stored products not read
        yet (each at most once per import)."""
        wanted = {code for code in codes if code and code not in self.looked_up}
        self.looked_up |= wanted
        ids = {self.ids[code] for code in wanted if code in self.ids}
        if ids:
            _, places = await unit.lock_stock(uuid.uuid4(), ids)  # no product: just the places, share-locked
            # A place renamed or deleted since the list was read is not the one the file means.
            self.places.update({p.code: p for p in places.values() if p.id in ids and p.code in wanted})
        unread = list(dict.fromkeys(p.id for p in stored if p.id not in self.levels))
        if unread:
            found = await unit.lock_stock_levels(unread)
            for product_id in unread:
                self.levels[product_id] = {level.place.id: level for level in found.get(product_id, [])}

    def _held(self, product: ProductState | None, place: Place) -> int:
        levels = self.levels.get(product.id, {}) if product is not None else {}
        return levels[place.id].quantity if place.id in levels else 0

    def refusal(self, line: int, code: str, quantity: int, product: ProductState | None) -> RowError | None:
        """Why this row cannot set `code`'s stock of `product` (None if it can), before anything is staged."""
        place = self.places.get(code)
        if place is None:
            return RowError(line, "location", f"{code} is not the code of a location")
        if not place.active and quantity > self._held(product, place):
            return RowError(line, "location", f"{code} is inactive: it receives no stock")
        return None

    def correct(
        self, product: ProductState, code: str, quantity: int, *, default: Place, **context: Any
    ) -> changes.Change | None:
        """The correction that sets `code`'s stock of `product` to `quantity` (None when it already is).
        `refusal` has passed, so the domain's own refusals cannot happen here."""
        place = self.places[code]
        held = self._held(product, place)
        if quantity == held:
            return None
        levels = self.levels.setdefault(product.id, {})
        change = changes.adjust(
            product,
            quantity - held,
            "correction",
            "CSV import",
            levels=list(levels.values()),
            place=place,
            default=default,
            # No `event_reason={"kind": "import"}`: ProductUpdated v1's import reason cannot name a location,
            # so this is the stock-adjustment reason with its locations (v2), as any located adjustment.
            **context,
        )
        levels.update({level.place.id: level for level in change.levels})
        return change
