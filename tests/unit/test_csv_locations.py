"""The CSV location layout on the in-memory unit of work: round trips, refusals, and today's layout."""

from __future__ import annotations

import asyncio
import io
import uuid

import pytest

from inventory_app.domain.errors import ImportRejected, ValidationFailed
from inventory_app.domain.identity import Principal, Role
from inventory_app.services import csv_transfer, stock
from tests.unit.fakes import FakeDatabase, fake_unit_of_work, location

EDITOR = Principal(user_id=uuid.uuid4(), email="editor@tests.example", name="", role=Role.EDITOR, via="session")
HEADER = "sku,name,price,location,location_quantity\n"


@pytest.fixture()
def db() -> FakeDatabase:
    database = FakeDatabase()
    for place in (location("MAIN", "Main"), location("SHELF", "Shelf"), location("OLD", "Old", active=False)):
        database.locations[place.id] = place
    return database


def run_import(db: FakeDatabase, text: str):
    return asyncio.run(
        csv_transfer.import_products_csv(io.BytesIO(text.encode()), by=EDITOR, uow=fake_unit_of_work(db))
    )


def test_rows_per_location_create_the_product_and_its_stock_with_v2_corrections(db: FakeDatabase) -> None:
    report = run_import(db, HEADER + "CSV-1,Widget,1.00,MAIN,5\nCSV-1,Widget,1.00,SHELF,2\n")
    product = db.by_sku("CSV-1")
    assert db.stock(product.id) == {"MAIN": 5, "SHELF": 2} and product.quantity == 7
    assert (report.created, report.updated) == (1, 1)
    assert [(m.location_code, m.delta, m.reason, m.note) for m in db.movements] == [
        ("MAIN", 5, "correction", "CSV import"),
        ("SHELF", 2, "correction", "CSV import"),
    ]
    assert [e["dataschema"].rsplit("/", 1)[1] for e in db.events if e["type"].endswith("updated")] == ["2", "2"]


def test_a_second_import_changes_only_the_locations_it_lists(db: FakeDatabase) -> None:
    run_import(db, HEADER + "CSV-2,Widget,1.00,MAIN,5\nCSV-2,Widget,1.00,SHELF,2\n")
    report = run_import(db, HEADER + "CSV-2,Widget,1.00,SHELF,4\n")
    assert db.stock(db.by_sku("CSV-2").id) == {"MAIN": 5, "SHELF": 4} and report.updated == 1
    again = run_import(db, HEADER + "CSV-2,Widget,1.00,SHELF,4\n")
    assert again.unchanged == 1


def test_bad_location_rows_are_refused_naming_the_field_and_nothing_changes(db: FakeDatabase) -> None:
    with pytest.raises(ImportRejected) as refused:
        run_import(
            db,
            HEADER
            + "CSV-3,Widget,1.00,MAIN,1\nCSV-3,Other name,1.00,SHELF,1\n"
            + "CSV-3,Widget,1.00,MAIN,2\nCSV-4,X,1.00,bad code!,1\n",
        )
    assert {(e.row, e.field) for e in refused.value.errors} == {(3, "name"), (4, "location"), (5, "location")}
    with pytest.raises(ImportRejected) as unknown:
        run_import(db, HEADER + "CSV-5,Widget,1.00,NOWHERE,1\n")
    assert unknown.value.errors[0].field == "location"
    with pytest.raises(ImportRejected):
        run_import(db, HEADER + "CSV-6,Widget,1.00,OLD,1\n")  # inactive: receives nothing
    assert db.products == {} and db.outbox == []


def test_a_file_with_both_quantity_and_location_columns_is_refused(db: FakeDatabase) -> None:
    with pytest.raises(ValidationFailed) as refused:
        run_import(db, "sku,name,price,quantity,location,location_quantity\nCSV-7,W,1.00,1,MAIN,1\n")
    assert "quantity" in {e.field for e in refused.value.errors}


def test_todays_layout_still_imports_and_refuses_a_total_for_stock_held_elsewhere(db: FakeDatabase) -> None:
    run_import(db, "sku,name,price,quantity\nCSV-8,Widget,1.00,5\n")
    product = db.by_sku("CSV-8")
    assert db.stock(product.id) == {"DEFAULT": 5}
    run_import(db, "sku,name,price,quantity\nCSV-8,Widget,1.00,3\n")
    assert db.stock(product.id) == {"DEFAULT": 3}
    shelf = str(next(loc.id for loc in db.locations.values() if loc.code == "SHELF"))
    payload = {"from_location_id": str(db.default.id), "to_location_id": shelf, "quantity": 1}
    asyncio.run(stock.transfer_stock(str(product.id), payload, by=EDITOR, uow=fake_unit_of_work(db)))
    with pytest.raises(ImportRejected) as refused:
        run_import(db, "sku,name,price,quantity\nCSV-8,Widget,1.00,9\n")
    assert refused.value.errors[0].field == "quantity" and "location columns" in refused.value.detail
