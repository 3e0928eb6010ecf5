"""The product rules without a database: field validation, adjustment validation, low-stock crossings."""

from __future__ import annotations

from decimal import Decimal

import pytest

from inventory_app.domain.errors import ValidationFailed
from inventory_app.domain.model import (
    alert_state_after,
    low_stock_warning_due,
    validate_adjustment,
    validate_product_fields,
)

VALID_CREATE = {"sku": "widget-001", "name": "Blue widget", "price": "12.5"}


def failed_fields(call, *args, **kwargs) -> set[str]:
    with pytest.raises(ValidationFailed) as caught:
        call(*args, **kwargs)
    return {error.field for error in caught.value.errors}


# -- validate_product_fields ---------------------------------------------------------------------------
def test_create_stores_the_sku_upper_case() -> None:
    assert validate_product_fields({**VALID_CREATE, "sku": " widget-001 "}, partial=False)["sku"] == "WIDGET-001"


def test_create_fills_optional_fields_with_defaults_and_quantizes_the_price() -> None:
    cleaned = validate_product_fields(VALID_CREATE, partial=False)
    assert cleaned == {
        "sku": "WIDGET-001",
        "name": "Blue widget",
        "price": Decimal("12.50"),
        "description": "",
        "category": "",
        "quantity": 0,
        "low_stock_threshold": 0,
    }


@pytest.mark.parametrize("sku", ["", "has space", "ümlaut", "x" * 65, 42, None])
def test_a_bad_sku_is_named(sku) -> None:
    assert "sku" in failed_fields(validate_product_fields, {**VALID_CREATE, "sku": sku}, partial=False)


@pytest.mark.parametrize("price", ["-1", "1.234", "abc", "01", "1e3", 1.5, True, "", "1234567890123"])
def test_a_bad_price_is_named(price) -> None:
    assert failed_fields(validate_product_fields, {**VALID_CREATE, "price": price}, partial=False) == {"price"}


@pytest.mark.parametrize("name", ["", "   ", "x" * 201, 7, "a\x00b"])
def test_a_bad_name_is_named(name) -> None:
    assert failed_fields(validate_product_fields, {**VALID_CREATE, "name": name}, partial=False) == {"name"}


@pytest.mark.parametrize("quantity", [-1, 1_000_000_001, "5", 2.0, True])
def test_a_bad_quantity_is_named(quantity) -> None:
    assert failed_fields(validate_product_fields, {**VALID_CREATE, "quantity": quantity}, partial=False) == {"quantity"}


def test_every_missing_required_field_is_named() -> None:
    assert failed_fields(validate_product_fields, {}, partial=False) == {"sku", "name", "price"}


def test_all_bad_fields_are_named_at_once() -> None:
    payload = {"sku": "bad sku", "name": " ", "price": "x", "low_stock_threshold": -3}
    assert failed_fields(validate_product_fields, payload, partial=False) == {
        "sku",
        "name",
        "price",
        "low_stock_threshold",
    }


def test_an_unknown_field_is_named() -> None:
    assert failed_fields(validate_product_fields, {**VALID_CREATE, "colour": "blue"}, partial=False) == {"colour"}


def test_a_non_object_body_is_refused() -> None:
    assert failed_fields(validate_product_fields, ["sku"], partial=False) == {"body"}


def test_an_update_refuses_quantity() -> None:
    assert failed_fields(validate_product_fields, {"quantity": 5}, partial=True) == {"quantity"}


def test_an_empty_update_is_refused() -> None:
    assert failed_fields(validate_product_fields, {}, partial=True) == {"body"}


def test_an_update_refuses_null_for_a_field() -> None:
    assert failed_fields(validate_product_fields, {"name": None}, partial=True) == {"name"}


def test_an_update_keeps_only_the_given_fields() -> None:
    assert validate_product_fields({"name": " New name ", "price": "3"}, partial=True) == {
        "name": "New name",
        "price": Decimal("3.00"),
    }


# -- validate_adjustment -------------------------------------------------------------------------------
def test_a_valid_adjustment_is_accepted() -> None:
    request = validate_adjustment({"delta": -32, "reason": "sold", "note": "Order 1187"})
    assert (request.delta, request.reason, request.note) == (-32, "sold", "Order 1187")


def test_an_adjustment_of_zero_is_refused() -> None:
    assert failed_fields(validate_adjustment, {"delta": 0, "reason": "sold"}) == {"delta"}


def test_a_boolean_delta_is_refused() -> None:
    assert failed_fields(validate_adjustment, {"delta": True, "reason": "received"}) == {"delta"}


def test_a_missing_delta_is_refused() -> None:
    assert failed_fields(validate_adjustment, {"reason": "received"}) == {"delta"}


def test_a_delta_beyond_a_billion_is_refused() -> None:
    assert failed_fields(validate_adjustment, {"delta": 1_000_000_001, "reason": "received"}) == {"delta"}


@pytest.mark.parametrize("reason", ["stolen", "", None, "SOLD"])
def test_an_unknown_reason_is_refused(reason) -> None:
    assert failed_fields(validate_adjustment, {"delta": 1, "reason": reason}) == {"reason"}


def test_a_note_longer_than_500_characters_is_refused() -> None:
    assert failed_fields(validate_adjustment, {"delta": 1, "reason": "received", "note": "n" * 501}) == {"note"}


def test_a_note_with_a_nul_character_is_refused() -> None:
    assert failed_fields(validate_adjustment, {"delta": 1, "reason": "received", "note": "a\x00"}) == {"note"}


def test_a_note_of_exactly_500_characters_is_accepted() -> None:
    assert validate_adjustment({"delta": 1, "reason": "received", "note": "n" * 500}).note == "n" * 500


def test_an_unknown_adjustment_field_is_named() -> None:
    assert failed_fields(validate_adjustment, {"delta": 1, "reason": "received", "by": "me"}) == {"by"}


# -- low-stock crossing --------------------------------------------------------------------------------
def crossing(was_alerted: bool, quantity: int, threshold: int) -> tuple[bool, bool]:
    """(warning due?, stored flag afterwards) for a product that now has `quantity` and `threshold`."""
    due = low_stock_warning_due(was_alerted=was_alerted, quantity=quantity, low_stock_threshold=threshold)
    return due, alert_state_after(quantity=quantity, low_stock_threshold=threshold)


def test_dropping_from_above_to_exactly_the_threshold_warns() -> None:
    assert crossing(was_alerted=False, quantity=10, threshold=10) == (True, True)


def test_dropping_from_above_to_below_the_threshold_warns() -> None:
    assert crossing(was_alerted=False, quantity=3, threshold=10) == (True, True)


def test_staying_low_does_not_warn_again() -> None:
    assert crossing(was_alerted=True, quantity=2, threshold=10) == (False, True)


def test_staying_above_the_threshold_does_not_warn() -> None:
    assert crossing(was_alerted=False, quantity=11, threshold=10) == (False, False)


def test_recovering_above_the_threshold_re_arms_and_the_next_crossing_warns_again() -> None:
    _, alerted = crossing(was_alerted=False, quantity=5, threshold=10)
    warned_on_recovery, alerted = crossing(was_alerted=alerted, quantity=20, threshold=10)
    assert (warned_on_recovery, alerted) == (False, False)
    assert crossing(was_alerted=alerted, quantity=9, threshold=10) == (True, True)


def test_raising_the_threshold_above_the_quantity_warns() -> None:
    assert crossing(was_alerted=False, quantity=8, threshold=12) == (True, True)


def test_a_product_created_already_low_starts_alerted_so_it_does_not_warn() -> None:
    # The service stores alert_state_after() as the initial flag (see test_product_services).
    created_alerted = alert_state_after(quantity=2, low_stock_threshold=5)
    assert created_alerted is True
    assert crossing(was_alerted=created_alerted, quantity=1, threshold=5) == (False, True)


# -- names that look alike or read backwards (#17) ------------------------------------------------------
@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("name", "Drill\u202egnp.exe"),  # right-to-left override: reads "Drillexe.png"
        ("name", "Dri\u200bll"),  # zero-width space: looks exactly like "Drill"
        ("name", "\u2066Drill\u2069"),  # bidi isolate
        ("name", "Drill\u00adbit"),  # soft hyphen
        ("name", "Drill\u0007"),  # a control character
        ("name", "Drill\u2028bit"),  # line separator
        ("category", "Tools\ufeff"),  # zero-width no-break space (BOM)
        ("category", "\ue000Tools"),  # private use
    ],
)
def test_names_and_categories_with_invisible_or_control_characters_are_refused(field: str, value: str) -> None:
    with pytest.raises(ValidationFailed) as refused:
        validate_product_fields({"sku": "A-1", "name": "Drill", "price": "1", field: value}, partial=False)
    assert [e.field for e in refused.value.errors] == [field]
    assert "invisible" in refused.value.errors[0].message


@pytest.mark.parametrize(
    "name",
    [
        "Bohrmaschine Größe 2",
        "مثقب",
        "ドリル",
        "Café crème",
        "Drill 👩\u200d🔧",
        "\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645",
        "Ø 10 mm ± 0.1",
    ],
)
def test_ordinary_unicode_names_are_kept(name: str) -> None:
    assert validate_product_fields({"sku": "A-1", "name": name, "price": "1"}, partial=False)["name"] == name


def test_a_description_may_span_lines_but_never_hold_nul() -> None:
    fields = validate_product_fields(
        {"sku": "A-1", "name": "Drill", "price": "1", "description": "Line one\n\tLine two"}, partial=False
    )
    assert fields["description"] == "Line one\n\tLine two"
