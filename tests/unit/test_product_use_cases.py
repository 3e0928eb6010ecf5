"""The product use cases (services) on the in-memory unit of work: rules, events, rollback, permissions.

No PostgreSQL, Kafka or browser: `pytest tests/unit` runs these in a second. The same use cases on the
real unit of work are covered by tests/integration (the API, the UI socket and the import agree there).
"""

from __future__ import annotations

import asyncio
import io
import uuid
from dataclasses import replace

import pytest

from inventory_app.domain import events
from inventory_app.domain.errors import (
    DuplicateSku,
    IdempotencyKeyReused,
    ImportRejected,
    InsufficientStock,
    PermissionDenied,
    ProductNotFound,
    VersionConflict,
)
from inventory_app.domain.identity import Principal, Role
from inventory_app.services import csv_transfer, products, stock
from tests.unit.fakes import FakeDatabase, fake_unit_of_work

EDITOR = Principal(user_id=uuid.uuid4(), email="editor@tests.example", name="", role=Role.EDITOR, via="session")
VIEWER = Principal(user_id=uuid.uuid4(), email="viewer@tests.example", name="", role=Role.VIEWER, via="session")
WIDGET = {"sku": "UC-1", "name": "Widget", "price": "2.50", "quantity": 10, "low_stock_threshold": 5}


@pytest.fixture()
def db() -> FakeDatabase:
    return FakeDatabase()


def run(coroutine):
    return asyncio.run(coroutine)


def create(db: FakeDatabase, payload: dict | None = None, **kwargs) -> dict:
    return run(products.create_product(payload or WIDGET, by=EDITOR, uow=fake_unit_of_work(db), **kwargs)).body


def adjust(db: FakeDatabase, product_id: str, delta: int, reason: str = "sold", **kwargs) -> products.Result:
    payload = {"delta": delta, "reason": reason}
    return run(stock.adjust_stock(product_id, payload, by=EDITOR, uow=fake_unit_of_work(db), **kwargs))


def test_create_commits_the_product_and_one_product_created_naming_the_editor(db: FakeDatabase) -> None:
    body = create(db)
    assert body["sku"] == "UC-1" and body["version"] == 1 and body["quantity"] == 10
    [(event, actor)] = db.outbox
    assert event["type"] == events.PRODUCT_CREATED and event["subject"] == body["id"]
    assert actor == {"type": "user", "id": str(EDITOR.user_id), "name": EDITOR.email}
    assert db.invalidated == [{body["id"]}]


def test_a_duplicate_sku_is_refused_and_changes_nothing(db: FakeDatabase) -> None:
    create(db)
    before = (dict(db.products), list(db.outbox), db.commits)
    with pytest.raises(DuplicateSku):
        create(db, {**WIDGET, "name": "Another"})
    assert (db.products, db.outbox, db.commits) == before


def test_an_idempotency_key_replays_the_first_answer_and_refuses_another_body(db: FakeDatabase) -> None:
    first = run(products.create_product(WIDGET, by=EDITOR, idempotency_key="k-1", uow=fake_unit_of_work(db)))
    again = run(products.create_product(WIDGET, by=EDITOR, idempotency_key="k-1", uow=fake_unit_of_work(db)))
    assert again.replayed and again.body == first.body and len(db.products) == 1 and len(db.outbox) == 1
    with pytest.raises(IdempotencyKeyReused):
        run(
            products.create_product(
                {**WIDGET, "sku": "UC-2"}, by=EDITOR, idempotency_key="k-1", uow=fake_unit_of_work(db)
            )
        )
    assert len(db.products) == 1


def test_adjustments_warn_on_the_crossing_only_and_never_go_negative(db: FakeDatabase) -> None:
    product_id = create(db)["id"]
    crossing = adjust(db, product_id, -6).body  # 10 -> 4: below the threshold of 5
    assert crossing["product"]["quantity"] == 4 and crossing["movement"]["quantity_after"] == 4
    assert [e["type"] for e in db.events[1:]] == [events.PRODUCT_UPDATED, events.LOW_STOCK_WARNING]
    adjust(db, product_id, -1)  # still below: an update, no second warning
    assert [e["type"] for e in db.events[3:]] == [events.PRODUCT_UPDATED]
    kept = (db.products[uuid.UUID(product_id)], len(db.movements), len(db.outbox))
    with pytest.raises(InsufficientStock):
        adjust(db, product_id, -4)
    assert (db.products[uuid.UUID(product_id)], len(db.movements), len(db.outbox)) == kept
    assert [m.delta for m in db.movements] == [-6, -1]


def test_an_adjustment_key_replays_without_a_second_movement(db: FakeDatabase) -> None:
    product_id = create(db)["id"]
    first = adjust(db, product_id, 5, "received", idempotency_key="a-1")
    again = adjust(db, product_id, 5, "received", idempotency_key="a-1")
    assert again.replayed and again.body == first.body
    assert len(db.movements) == 1 and db.products[uuid.UUID(product_id)].quantity == 15


def test_an_edit_checks_the_version_and_an_edit_that_changes_nothing_records_nothing(db: FakeDatabase) -> None:
    body = create(db)
    with pytest.raises(VersionConflict):
        run(
            products.update_product(
                body["id"], {"name": "New"}, by=EDITOR, expected_version=7, uow=fake_unit_of_work(db)
            )
        )
    same = run(products.update_product(body["id"], {"name": "Widget"}, by=EDITOR, uow=fake_unit_of_work(db)))
    assert same["version"] == 1 and len(db.outbox) == 1
    renamed = run(
        products.update_product(body["id"], {"name": "New"}, by=EDITOR, expected_version=1, uow=fake_unit_of_work(db))
    )
    assert renamed["version"] == 2 and db.events[-1]["type"] == events.PRODUCT_UPDATED


def test_delete_removes_the_product_with_one_product_deleted(db: FakeDatabase) -> None:
    product_id = create(db)["id"]
    run(products.delete_product(product_id, by=EDITOR, uow=fake_unit_of_work(db)))
    assert db.products == {} and db.events[-1]["type"] == events.PRODUCT_DELETED
    with pytest.raises(ProductNotFound):
        run(products.delete_product(product_id, by=EDITOR, uow=fake_unit_of_work(db)))


def test_a_viewer_changes_nothing_through_any_use_case(db: FakeDatabase) -> None:
    product_id = create(db)["id"]
    before = (dict(db.products), list(db.outbox))
    uow = fake_unit_of_work(db)
    attempts = [
        products.create_product({**WIDGET, "sku": "UC-9"}, by=VIEWER, uow=uow),
        products.update_product(product_id, {"name": "X"}, by=VIEWER, uow=uow),
        products.delete_product(product_id, by=VIEWER, uow=uow),
        stock.adjust_stock(product_id, {"delta": 1, "reason": "received"}, by=VIEWER, uow=uow),
        csv_transfer.import_products_csv(io.BytesIO(b"sku,name\nUC-9,X\n"), by=VIEWER, uow=uow),
    ]
    for attempt in attempts:
        with pytest.raises(PermissionDenied):
            run(attempt)
    assert (db.products, db.outbox) == before


def test_an_event_outside_its_contract_rolls_the_whole_change_back(db: FakeDatabase, monkeypatch) -> None:
    product_id = create(db)["id"]
    kept = (db.products[uuid.UUID(product_id)], len(db.outbox), db.commits)
    real_adjust = stock.changes.adjust

    def broken_adjust(*args, **kwargs):
        change = real_adjust(*args, **kwargs)
        return replace(change, events=tuple({**e, "data": {**e["data"], "quantity": "ten"}} for e in change.events))

    monkeypatch.setattr(stock.changes, "adjust", broken_adjust)
    with pytest.raises(Exception, match="quantity"):
        adjust(db, product_id, 1, "received")
    assert (db.products[uuid.UUID(product_id)], len(db.outbox), db.commits) == kept and len(db.movements) == 0


def test_an_import_upserts_by_sku_with_a_correction_in_the_ledger(db: FakeDatabase) -> None:
    product_id = create(db)["id"]
    csv = b"sku,name,price,quantity\nUC-1,Widget,2.50,3\nUC-2,Gadget,1.00,7\n"
    report = run(csv_transfer.import_products_csv(io.BytesIO(csv), by=EDITOR, uow=fake_unit_of_work(db)))
    assert (report.created, report.updated, report.unchanged) == (1, 1, 0)
    assert db.products[uuid.UUID(product_id)].quantity == 3 and db.by_sku("UC-2").quantity == 7
    [movement] = db.movements
    assert (movement.delta, movement.reason, movement.note) == (-7, "correction", "CSV import")
    assert {e["type"] for e in db.events[1:]} == {
        events.PRODUCT_CREATED,
        events.PRODUCT_UPDATED,
        events.LOW_STOCK_WARNING,
    }


def test_an_import_with_a_bad_row_imports_nothing(db: FakeDatabase) -> None:
    csv = b"sku,name,price,quantity\nUC-3,Fine,1.00,1\nUC-4,Bad,not-a-price,1\n"
    with pytest.raises(ImportRejected) as refused:
        run(csv_transfer.import_products_csv(io.BytesIO(csv), by=EDITOR, uow=fake_unit_of_work(db)))
    assert [(e.row, e.field) for e in refused.value.errors] == [(3, "price")]
    assert db.products == {} and db.outbox == [] and db.commits == 0
