"""The CSV location layout on the in-memory unit of work: round trips, refusals, and today's layout."""

from __future__ import annotations

import asyncio
import io
import uuid
from dataclasses import replace

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


def export_by_location(db: FakeDatabase) -> str:
    """What `export_to_spool(by_location=True)` writes for the fake's state (location_store's order)."""
    lines = [csv_transfer._csv_line(csv_transfer.LOCATION_LAYOUT)]
    for product in sorted(db.products.values(), key=lambda p: p.sku):
        held = sorted((code, qty) for code, qty in db.stock(product.id).items() if qty > 0)
        for code, qty in held or [(None, None)]:
            lines.append(csv_transfer._located_line(product, code, qty).decode())
    return "".join(lines)


def test_an_exported_file_imports_back_unchanged_and_an_edit_changes_only_its_location(db: FakeDatabase) -> None:
    run_import(db, HEADER + "CSV-9,Widget,1.00,MAIN,5\nCSV-9,Widget,1.00,SHELF,2\nCSV-10,=cmd(),3.00,,0\n")
    exported = export_by_location(db)
    assert exported.splitlines()[1:] == [
        "CSV-10,'=cmd(),,,3.00,0,,0",  # no stock: one row, empty location; the formula neutralised
        "CSV-9,Widget,,,1.00,0,MAIN,5",
        "CSV-9,Widget,,,1.00,0,SHELF,2",
    ]
    events_before = len(db.events)
    again = run_import(db, exported)
    assert (again.created, again.updated, again.unchanged) == (0, 0, 3) and len(db.events) == events_before
    assert db.by_sku("CSV-10").name == "=cmd()"
    run_import(db, exported.replace(",SHELF,2", ",SHELF,6"))
    assert db.stock(db.by_sku("CSV-9").id) == {"MAIN": 5, "SHELF": 6}
    assert [(m.location_code, m.delta, m.quantity_after, m.location_quantity_after) for m in db.movements[-1:]] == [
        ("SHELF", 4, 11, 6)
    ]
    update = db.events[-1]
    assert update["data"]["reason"]["locations"][0]["code"] == "SHELF"  # v2: the reason names the location


def test_every_row_the_database_refuses_is_reported_and_skip_invalid_applies_the_rest(db: FakeDatabase) -> None:
    text = HEADER + "CSV-11,A,1.00,NOWHERE,1\nCSV-11,A,1.00,MAIN,1\nCSV-12,B,1.00,ELSEWHERE,1\nCSV-13,C,1.00,OLD,2\n"
    with pytest.raises(ImportRejected) as refused:
        run_import(db, text)
    assert [(e.row, e.field) for e in refused.value.errors] == [(2, "location"), (4, "location"), (5, "location")]
    assert db.products == {} and db.movements == []
    report = asyncio.run(
        csv_transfer.import_products_csv(
            io.BytesIO(text.encode()), by=EDITOR, uow=fake_unit_of_work(db), skip_invalid=True
        )
    )
    assert [(e.row, e.field) for e in report.errors] == [(2, "location"), (4, "location"), (5, "location")]
    assert {p.sku for p in db.products.values()} == {"CSV-11"}  # the refused rows left no product behind
    assert db.stock(db.by_sku("CSV-11").id) == {"MAIN": 1}


def test_an_inactive_location_may_lose_stock_but_not_receive_it(db: FakeDatabase) -> None:
    old = next(loc for loc in db.locations.values() if loc.code == "OLD")
    db.locations[old.id] = replace(old, active=True)
    run_import(db, HEADER + "CSV-14,W,1.00,OLD,5\n")
    db.locations[old.id] = old
    run_import(db, HEADER + "CSV-14,W,1.00,OLD,2\n")
    assert db.stock(db.by_sku("CSV-14").id) == {"OLD": 2}
    with pytest.raises(ImportRejected) as refused:
        run_import(db, HEADER + "CSV-14,W,1.00,OLD,3\n")
    assert refused.value.errors[0].field == "location" and "inactive" in refused.value.errors[0].message


@pytest.mark.parametrize(
    ("cells", "field"),
    [
        (",5", "location"),
        ("MAIN,-1", "location_quantity"),
        ("MAIN,²", "location_quantity"),
        ("MAIN,1e3", "location_quantity"),
        ("MAIN," + "9" * 5000, "location_quantity"),
    ],
)
def test_pass_one_refuses_a_bad_location_cell_naming_it(db: FakeDatabase, cells: str, field: str) -> None:
    with pytest.raises(ImportRejected) as refused:
        run_import(db, HEADER + f"CSV-15,W,1.00,{cells}\n")
    assert [(e.row, e.field) for e in refused.value.errors] == [(2, field)]


def test_a_header_with_only_one_location_column_is_refused(db: FakeDatabase) -> None:
    with pytest.raises(ValidationFailed) as refused:
        run_import(db, "sku,name,price,location\nCSV-16,W,1.00,MAIN\n")
    assert any("location_quantity" in e.message for e in refused.value.errors)


def test_todays_layout_with_skip_invalid_skips_a_total_for_stock_held_elsewhere(db: FakeDatabase) -> None:
    run_import(db, HEADER + "CSV-17,W,1.00,SHELF,4\n")
    report = asyncio.run(
        csv_transfer.import_products_csv(
            io.BytesIO(b"sku,name,price,quantity\nCSV-17,W,1.00,9\nCSV-18,New,1.00,3\n"),
            by=EDITOR,
            uow=fake_unit_of_work(db),
            skip_invalid=True,
        )
    )
    assert [(e.row, e.field) for e in report.errors] == [(2, "quantity")] and report.created == 1
    assert db.stock(db.by_sku("CSV-17").id) == {"SHELF": 4} and db.stock(db.by_sku("CSV-18").id) == {"DEFAULT": 3}


def test_todays_layout_still_decreases_from_the_default_location_with_one_correction(db: FakeDatabase) -> None:
    run_import(db, "sku,name,price,quantity\nCSV-19,W,1.00,5\n")
    report = run_import(db, "sku,name,price,quantity\nCSV-19,W,1.00,2\n")
    assert report.updated == 1 and db.stock(db.by_sku("CSV-19").id) == {"DEFAULT": 2}
    assert [(m.delta, m.reason, m.note) for m in db.movements] == [(-3, "correction", "CSV import")]
    assert db.events[-1]["data"]["reason"] == {"kind": "import"}  # today's layout keeps the import's reason
