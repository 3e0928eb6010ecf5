"""Product fields, their validation and the stock rules (low-stock crossing, non-negative quantity)."""

from __future__ import annotations

import re
import unicodedata
import uuid
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any, TypedDict

from inventory_app.domain.errors import FieldError, InsufficientStock, ValidationFailed

SKU_PATTERN = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
PRICE_PATTERN = re.compile(r"^(0|[1-9][0-9]{0,11})(\.[0-9]{1,2})?$")
MAX_QUANTITY = 1_000_000_000
ADJUSTMENT_REASONS = ("received", "sold", "damaged", "returned", "correction")
EDITABLE_FIELDS = ("sku", "name", "description", "category", "price", "low_stock_threshold")
CREATE_FIELDS = (*EDITABLE_FIELDS, "quantity")
TWO_PLACES = Decimal("0.01")


def normalize_sku(value: Any, errors: list[FieldError], field: str = "sku") -> str | None:
    if not isinstance(value, str) or not SKU_PATTERN.match(value.strip()):
        errors.append(FieldError(field, "must be 1-64 characters: letters, digits, '-', '_' or '.'"))
        return None
    return value.strip().upper()


def parse_price(value: Any, errors: list[FieldError], field: str = "price") -> Decimal | None:
    # Prices travel as strings so no float rounding ever touches money.
    if isinstance(value, bool) or not isinstance(value, str | int) or not PRICE_PATTERN.match(str(value)):
        errors.append(FieldError(field, "must be a decimal string >= 0 with at most 2 decimal places"))
        return None
    try:
        return Decimal(str(value)).quantize(TWO_PLACES, rounding=ROUND_HALF_UP)
    except InvalidOperation:
        errors.append(FieldError(field, "is not a valid decimal"))
        return None


def format_price(price: Decimal) -> str:
    return str(Decimal(price).quantize(TWO_PLACES))


def has_nul(value: str) -> bool:
    """PostgreSQL text cannot hold NUL characters; letting one through would fail as a 500 at write time."""
    return "\x00" in value


# Joiners that scripts (Persian, Indic) and emoji sequences need; every other format character is invisible.
VISIBLE_JOINERS = frozenset("\u200c\u200d")


def invisible_character(value: str) -> str | None:
    """The first control, invisible-format (bidi override, zero-width, soft hyphen…) or separator character.

    Such characters let two products look alike ("Drill" and "Dri\u200bll") or make a name read backwards
    (U+202E) in every list and export; ordinary Unicode letters, marks, symbols and spaces are fine.
    """
    for char in value:
        category = unicodedata.category(char)
        if category in ("Cc", "Co", "Zl", "Zp") or (category == "Cf" and char not in VISIBLE_JOINERS):
            return char
    return None


def _text(
    value: Any, field: str, max_len: int, errors: list[FieldError], required: bool, single_line: bool = True
) -> str | None:
    if not isinstance(value, str):
        errors.append(FieldError(field, "must be a string"))
        return None
    if has_nul(value):
        errors.append(FieldError(field, "must not contain NUL characters"))
        return None
    if single_line and (char := invisible_character(value.strip())) is not None:
        errors.append(FieldError(field, f"must not contain control or invisible characters (found U+{ord(char):04X})"))
        return None
    text = value.strip()
    if required and not text:
        errors.append(FieldError(field, "must not be blank"))
        return None
    if len(text) > max_len:
        errors.append(FieldError(field, f"must be at most {max_len} characters"))
        return None
    return text


def _count(value: Any, field: str, errors: list[FieldError]) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int):
        errors.append(FieldError(field, "must be an integer"))
        return None
    if value < 0 or value > MAX_QUANTITY:
        errors.append(FieldError(field, f"must be between 0 and {MAX_QUANTITY}"))
        return None
    return value


_VALIDATORS = {
    "sku": lambda v, e: normalize_sku(v, e),
    "name": lambda v, e: _text(v, "name", 200, e, required=True),
    "description": lambda v, e: _text(v, "description", 2000, e, required=False, single_line=False),
    "category": lambda v, e: _text(v, "category", 100, e, required=False),
    "price": lambda v, e: parse_price(v, e),
    "quantity": lambda v, e: _count(v, "quantity", e),
    "low_stock_threshold": lambda v, e: _count(v, "low_stock_threshold", e),
}


class ProductFields(TypedDict, total=False):
    """A create or update request once validated (the contract's ProductCreate; ProductUpdate lacks quantity).

    A create has every field (defaults filled in), an update only those it changes.
    """

    sku: str  # normalised: upper-case
    name: str
    description: str
    category: str
    price: Decimal
    quantity: int
    low_stock_threshold: int


def validate_product_fields(payload: Any, *, partial: bool) -> ProductFields:
    """Check a create (partial=False) or update (partial=True) payload; raise naming every bad field."""
    if not isinstance(payload, dict):
        raise ValidationFailed("The body must be a JSON object.", [FieldError("body", "must be an object")])
    allowed = EDITABLE_FIELDS if partial else CREATE_FIELDS
    errors: list[FieldError] = []
    for key in payload:
        if key == "quantity" and partial:
            errors.append(FieldError("quantity", "changes only through stock adjustments"))
        elif key not in allowed:
            errors.append(FieldError(key, "is not a known field"))
    if partial and not payload:
        errors.append(FieldError("body", "must change at least one field"))
    if not partial:
        for required in ("sku", "name", "price"):
            if required not in payload or payload[required] is None:
                errors.append(FieldError(required, "is required"))
    cleaned: ProductFields = {}
    for key in allowed:
        if key in payload and payload[key] is not None:
            value = _VALIDATORS[key](payload[key], errors)
            if value is not None:
                cleaned[key] = value
        elif key in payload and payload[key] is None and partial:
            errors.append(FieldError(key, "must not be null"))
    if errors:
        raise ValidationFailed("The product has invalid fields.", errors)
    if not partial:
        cleaned.setdefault("description", "")
        cleaned.setdefault("category", "")
        cleaned.setdefault("quantity", 0)
        cleaned.setdefault("low_stock_threshold", 0)
    return cleaned


@dataclass(frozen=True)
class AdjustmentRequest:
    delta: int
    reason: str
    note: str | None
    location_id: uuid.UUID | None = None  # None: the default location, or the documented draw order


def parse_uuid(value: Any, field: str, errors: list[FieldError]) -> uuid.UUID | None:
    """An id as the contract spells it (a lowercase UUID string); anything else names the field."""
    if isinstance(value, str):
        try:
            return uuid.UUID(value)
        except ValueError:
            pass
    errors.append(FieldError(field, "must be a UUID"))
    return None


def validate_adjustment(payload: Any) -> AdjustmentRequest:
    if not isinstance(payload, dict):
        raise ValidationFailed("The body must be a JSON object.", [FieldError("body", "must be an object")])
    errors: list[FieldError] = []
    for key in payload:
        if key not in ("delta", "reason", "note", "location_id"):
            errors.append(FieldError(key, "is not a known field"))
    delta = payload.get("delta")
    if isinstance(delta, bool) or not isinstance(delta, int):
        errors.append(FieldError("delta", "is required and must be an integer"))
    elif delta == 0:
        errors.append(FieldError("delta", "must not be 0"))
    elif abs(delta) > MAX_QUANTITY:
        errors.append(FieldError("delta", f"must be between -{MAX_QUANTITY} and {MAX_QUANTITY}"))
    reason = payload.get("reason")
    if reason not in ADJUSTMENT_REASONS:
        errors.append(FieldError("reason", f"must be one of: {', '.join(ADJUSTMENT_REASONS)}"))
    note = payload.get("note")
    if note is not None and (not isinstance(note, str) or len(note) > 500 or has_nul(note)):
        errors.append(FieldError("note", "must be a string of at most 500 characters without NUL"))
    location = payload.get("location_id")
    location_id = parse_uuid(location, "location_id", errors) if location is not None else None
    if errors:
        raise ValidationFailed("The stock adjustment is invalid.", errors)
    return AdjustmentRequest(delta=delta, reason=reason, note=(note or None), location_id=location_id)


def quantity_after(quantity: int, delta: int) -> int:
    """The stock after a change of `delta`: never negative, never past the 32-bit column's cap."""
    new_quantity = quantity + delta
    if new_quantity < 0:
        raise InsufficientStock(
            f"Only {quantity} in stock; a change of {delta} would make it negative.",
            [FieldError("delta", f"would leave {new_quantity}; at most {quantity} can be removed")],
        )
    if new_quantity > MAX_QUANTITY:
        raise ValidationFailed(
            f"Quantity may be at most {MAX_QUANTITY}; a change of {delta} would make it {new_quantity}.",
            [FieldError("delta", f"would make quantity exceed {MAX_QUANTITY}")],
        )
    return new_quantity


def is_low(quantity: int, low_stock_threshold: int) -> bool:
    return quantity <= low_stock_threshold


def low_stock_warning_due(*, was_alerted: bool, quantity: int, low_stock_threshold: int) -> bool:
    """A warning fires once per crossing: low now, and not already low (warned) before the change.

    The armed/disarmed state is stored on the product (`low_stock_alerted`, set at creation to
    whether it starts low), so a new product never warns, crossing from above to at-or-below
    warns once (by a sale or a raised threshold), staying low never warns again, and recovering
    above the threshold re-arms it.
    """
    return is_low(quantity, low_stock_threshold) and not was_alerted


def alert_state_after(*, quantity: int, low_stock_threshold: int) -> bool:
    """The stored flag after a change: set while low, cleared once stock recovers above the threshold."""
    return is_low(quantity, low_stock_threshold)
