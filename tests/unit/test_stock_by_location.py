"""Stock by location on the in-memory unit of work: where stock goes and comes from, transfers, minimums,
and which version of ProductUpdated each adjustment is sent as."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from inventory_app.domain import events
from inventory_app.domain.errors import InsufficientStock, LocationInactive, ValidationFailed
from inventory_app.domain.identity import Principal, Role
from inventory_app.services import products, stock
from schemas.registry import validate_event
from tests.unit.fakes import FakeDatabase, fake_unit_of_work, location

EDITOR = Principal(user_id=uuid.uuid4(), email="editor@tests.example", name="", role=Role.EDITOR, via="session")
V1 = f"{events.SCHEMA_BASE}/product-updated/1"
V2 = f"{events.SCHEMA_BASE}/product-updated/2"


def run(coroutine):
    return asyncio.run(coroutine)


@pytest.fixture()
def db() -> FakeDatabase:
    database = FakeDatabase()
    main = location("MAIN", "Main warehouse")
    for place in (main, location("MAIN.A", "Zone A", main.id), location("OLD", "Old shed", active=False)):
        database.locations[place.id] = place
    return database


def code(db: FakeDatabase, value: str) -> str:
    return str(next(loc.id for loc in db.locations.values() if loc.code == value))


def product(db: FakeDatabase, quantity: int = 10) -> str:
    payload = {"sku": "LOC-1", "name": "Widget", "price": "1.00", "quantity": quantity, "low_stock_threshold": 2}
    return run(products.create_product(payload, by=EDITOR, uow=fake_unit_of_work(db))).body["id"]


def adjust(db: FakeDatabase, pid: str, delta: int, where: str | None = None, reason: str = "received"):
    payload = {"delta": delta, "reason": reason, **({"location_id": code(db, where)} if where else {})}
    return run(stock.adjust_stock(pid, payload, by=EDITOR, uow=fake_unit_of_work(db))).body


def transfer(db: FakeDatabase, pid: str, origin: str, destination: str, quantity: int):
    payload = {"from_location_id": code(db, origin), "to_location_id": code(db, destination), "quantity": quantity}
    return run(stock.transfer_stock(pid, payload, by=EDITOR, uow=fake_unit_of_work(db))).body


def test_a_new_products_stock_is_in_the_default_location(db: FakeDatabase) -> None:
    pid = product(db, 10)
    assert db.stock(uuid.UUID(pid)) == {"DEFAULT": 10}


def test_an_adjustment_without_a_location_is_todays_version_1_event(db: FakeDatabase) -> None:
    pid = product(db, 10)
    adjust(db, pid, -3, reason="sold")
    updated = db.events[-1]
    assert updated["dataschema"] == V1 and "locations" not in updated["data"]["reason"]
    assert db.stock(uuid.UUID(pid)) == {"DEFAULT": 7}


def test_a_named_location_gets_the_stock_and_a_version_2_event_naming_it(db: FakeDatabase) -> None:
    pid = product(db, 0)
    body = adjust(db, pid, 5, "MAIN.A")
    assert body["movement"]["location_code"] == "MAIN.A" and body["movement"]["location_quantity_after"] == 5
    updated = db.events[-1]
    validate_event(updated)
    assert updated["dataschema"] == V2
    assert [(x["code"], x["delta"], x["quantity_after"]) for x in updated["data"]["reason"]["locations"]] == [
        ("MAIN.A", 5, 5)
    ]


def test_a_decrease_draws_from_the_default_first_then_by_code_one_row_each(db: FakeDatabase) -> None:
    pid = product(db, 2)  # DEFAULT 2
    adjust(db, pid, 4, "MAIN.A")
    adjust(db, pid, 3, "MAIN")
    rows_before = len(db.movements)
    body = adjust(db, pid, -7, reason="sold")  # 2 from DEFAULT, 3 from MAIN, 2 from MAIN.A
    assert db.stock(uuid.UUID(pid)) == {"DEFAULT": 0, "MAIN": 0, "MAIN.A": 2}
    rows = db.movements[rows_before:]
    assert [(m.location_code, m.delta, m.quantity_after) for m in rows] == [
        ("DEFAULT", -2, 7),
        ("MAIN", -3, 4),
        ("MAIN.A", -2, 2),
    ]
    assert body["product"]["quantity"] == 2
    assert [x["code"] for x in db.events[-2]["data"]["reason"]["locations"]] == ["DEFAULT", "MAIN", "MAIN.A"]


def test_a_decrease_past_the_total_or_the_named_location_changes_nothing(db: FakeDatabase) -> None:
    pid = product(db, 3)
    adjust(db, pid, 2, "MAIN")
    kept = (dict(db.stock(uuid.UUID(pid))), len(db.outbox))
    with pytest.raises(InsufficientStock):
        adjust(db, pid, -6, reason="sold")
    with pytest.raises(InsufficientStock) as refused:
        adjust(db, pid, -3, "MAIN", reason="sold")
    assert "MAIN" in refused.value.errors[0].message
    assert (db.stock(uuid.UUID(pid)), len(db.outbox)) == kept


def test_an_inactive_location_receives_nothing(db: FakeDatabase) -> None:
    pid = product(db, 3)
    with pytest.raises(LocationInactive):
        adjust(db, pid, 1, "OLD")
    with pytest.raises(LocationInactive):
        transfer(db, pid, "DEFAULT", "OLD", 1)


def test_a_transfer_moves_stock_keeps_the_total_and_pairs_its_ledger_rows(db: FakeDatabase) -> None:
    pid = product(db, 10)
    version = db.products[uuid.UUID(pid)].version
    body = transfer(db, pid, "DEFAULT", "MAIN.A", 4)
    assert db.stock(uuid.UUID(pid)) == {"DEFAULT": 6, "MAIN.A": 4}
    out, into = body["movements"]
    assert out["transfer_id"] == into["transfer_id"] == body["transfer_id"]
    assert (out["delta"], into["delta"], out["reason"]) == (-4, 4, "transfer")
    assert db.products[uuid.UUID(pid)].quantity == 10 and db.products[uuid.UUID(pid)].version == version
    moved = db.events[-1]
    validate_event(moved)
    assert moved["type"] == events.STOCK_TRANSFERRED and moved["data"]["to"]["quantity_after"] == 4
    assert [(x["code"], x["quantity"]) for x in body["stock"]["data"]] == [("DEFAULT", 6), ("MAIN.A", 4)]


def test_a_transfer_never_leaves_a_negative_source_or_goes_nowhere(db: FakeDatabase) -> None:
    pid = product(db, 2)
    with pytest.raises(InsufficientStock):
        transfer(db, pid, "DEFAULT", "MAIN", 3)
    with pytest.raises(ValidationFailed):
        transfer(db, pid, "MAIN", "MAIN", 1)
    assert db.stock(uuid.UUID(pid)) == {"DEFAULT": 2}


def test_a_location_minimum_warns_once_per_crossing(db: FakeDatabase) -> None:
    pid = product(db, 10)
    transfer(db, pid, "DEFAULT", "MAIN", 8)
    run(stock.set_minimum(pid, code(db, "MAIN"), {"min_quantity": 5}, by=EDITOR, uow=fake_unit_of_work(db)))
    warnings = lambda: [e for e in db.events if e["type"] == events.LOCATION_LOW_STOCK_WARNING]  # noqa: E731
    transfer(db, pid, "MAIN", "DEFAULT", 2)  # 6: above the minimum
    assert warnings() == []
    transfer(db, pid, "MAIN", "DEFAULT", 1)  # 5: crossed
    transfer(db, pid, "MAIN", "DEFAULT", 1)  # 4: still low, no second warning
    [warning] = warnings()
    validate_event(warning)
    assert (warning["data"]["location"]["code"], warning["data"]["quantity"], warning["data"]["min_quantity"]) == (
        "MAIN",
        5,
        5,
    )
    adjust(db, pid, 5, "MAIN")  # 9: recovered, re-armed
    adjust(db, pid, -5, "MAIN", reason="sold")  # 4: crossed again
    assert len(warnings()) == 2
