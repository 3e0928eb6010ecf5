"""The change rules (domain/changes.py) without a database: what each command returns."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from inventory_app.domain import changes, events
from inventory_app.domain.errors import InsufficientStock
from schemas.registry import validate_event

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
T1 = T0 + timedelta(minutes=5)
SOURCE = "/tests/unit"
ACTOR = {"type": "user", "id": "u-1", "name": "editor@tests.example"}


DEFAULT = changes.Place(uuid.uuid4(), "DEFAULT", "Default location", active=True, is_default=True)


def adjust(state: changes.ProductState, *args, **kwargs) -> changes.Change:
    """An adjustment of a product whose stock is all in the default place (every product before locations)."""
    levels = [changes.StockLevel(state.id, DEFAULT, state.quantity)]
    return changes.adjust(state, *args, levels=levels, default=DEFAULT, **kwargs)


def new_product(**values) -> changes.ProductState:
    fields = {
        "sku": "RULE-1",
        "name": "Widget",
        "description": "",
        "category": "",
        "price": Decimal("2.50"),
        "quantity": 10,
        "low_stock_threshold": 5,
        **values,
    }
    return changes.create(uuid.uuid4(), fields, now=T0, source=SOURCE).after


def test_create_starts_at_version_one_with_one_valid_product_created() -> None:
    change = changes.create(uuid.uuid4(), {**vars(new_product())}, now=T0, source=SOURCE)
    assert change.after.version == 1 and change.after.created_at == change.after.updated_at == T0
    [event] = change.events
    assert event["type"] == events.PRODUCT_CREATED
    validate_event(event)


def test_a_product_created_below_its_threshold_is_already_alerted_so_it_warns_only_on_a_new_crossing() -> None:
    assert new_product(quantity=2).low_stock_alerted is True
    assert new_product(quantity=9).low_stock_alerted is False


def test_an_update_that_changes_nothing_is_no_change_at_all() -> None:
    product = new_product()
    change = changes.update(product, {"name": "Widget"}, {"kind": "edit"}, now=T1, source=SOURCE)
    assert not change.changed and change.after == product


def test_an_update_bumps_the_version_once_stamps_one_time_and_names_the_diff() -> None:
    product = new_product()
    change = changes.update(product, {"name": "Gadget"}, {"kind": "edit"}, now=T1, source=SOURCE)
    assert (change.after.version, change.after.updated_at, change.after.created_at) == (2, T1, T0)
    [event] = change.events
    assert event["data"]["changes"] == {"name": {"from": "Widget", "to": "Gadget"}}
    assert event["data"]["product"]["updated_at"] == events.rfc3339(T1)
    validate_event(event)


def test_an_adjustment_crossing_into_low_stock_writes_a_ledger_row_then_updated_then_warning() -> None:
    product = new_product()
    change = adjust(product, -7, "sold", "till 3", now=T1, source=SOURCE, actor=ACTOR)
    assert change.movement.delta == -7 and change.movement.quantity_after == 3 and change.movement.created_at == T1
    assert [e["type"] for e in change.events] == [events.PRODUCT_UPDATED, events.LOW_STOCK_WARNING]
    updated, warning = change.events
    assert updated["data"]["reason"]["movement_id"] == str(change.movement.id)
    assert warning["data"]["caused_by_event_id"] == updated["id"]
    assert change.after.low_stock_alerted is True
    for event in change.events:
        validate_event(event)


def test_a_second_adjustment_still_below_the_threshold_does_not_warn_again() -> None:
    low = adjust(new_product(), -7, "sold", None, now=T1, source=SOURCE, actor=ACTOR).after
    again = adjust(low, -1, "sold", None, now=T1, source=SOURCE, actor=ACTOR)
    assert [e["type"] for e in again.events] == [events.PRODUCT_UPDATED]


def test_rising_above_the_threshold_rearms_the_warning() -> None:
    low = adjust(new_product(), -7, "sold", None, now=T1, source=SOURCE, actor=ACTOR).after
    refilled = adjust(low, 10, "received", None, now=T1, source=SOURCE, actor=ACTOR).after
    assert refilled.low_stock_alerted is False
    dropped = adjust(refilled, -12, "sold", None, now=T1, source=SOURCE, actor=ACTOR)
    assert events.LOW_STOCK_WARNING in [e["type"] for e in dropped.events]


def test_an_adjustment_below_zero_is_refused() -> None:
    with pytest.raises(InsufficientStock):
        adjust(new_product(quantity=1), -2, "sold", None, now=T1, source=SOURCE, actor=ACTOR)


def test_an_import_reason_replaces_the_adjustment_reason_and_other_fields_change_in_the_same_version() -> None:
    change = adjust(
        new_product(),
        5,
        "correction",
        "CSV import",
        now=T1,
        source=SOURCE,
        actor=ACTOR,
        event_reason={"kind": "import"},
        extra_values={"name": "Renamed"},
    )
    [event] = change.events
    assert event["data"]["reason"] == {"kind": "import"}
    assert set(event["data"]["changes"]) == {"name", "quantity"}
    assert change.after.version == 2


def test_delete_emits_the_last_snapshot() -> None:
    product = replace(new_product(), version=4)
    change = changes.delete(product, source=SOURCE)
    assert change.after is None
    [event] = change.events
    assert event["type"] == events.PRODUCT_DELETED and event["data"]["product"]["version"] == 4


def test_the_view_a_change_carries_is_the_product_after_it_as_the_api_shows_it() -> None:
    """Services answer with `Change.view_after()`, the events' snapshot, instead of building the view again:
    it must be exactly `public(after)` for every command that changes the product."""
    product = new_product(quantity=6)
    edited = changes.update(product, {"name": "Gadget", "price": Decimal("3")}, {"kind": "edit"}, now=T1, source=SOURCE)
    adjusted = adjust(product, -2, "sold", None, now=T1, source=SOURCE, actor=ACTOR)  # crosses into low stock
    created = changes.create(uuid.uuid4(), {**vars(product)}, now=T0, source=SOURCE)
    for change in (edited, adjusted, created):
        assert change.view_after() == changes.public(change.after)
        assert list(change.view_after()) == list(changes.public(change.after))  # the same field order
        assert change.events[0]["data"]["product"] == changes.public(change.after)
    unchanged = changes.update(product, {"name": "Widget"}, {"kind": "edit"}, now=T1, source=SOURCE)
    assert unchanged.view_after() == changes.public(product)
