"""The product use cases on real PostgreSQL: each change and its outbox events commit together or not at all."""

from __future__ import annotations

import io
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import delete, func, select

from inventory_app.adapters.orm import Product, StockMovement
from inventory_app.domain import events
from inventory_app.domain.errors import (
    DuplicateSku,
    IdempotencyKeyReused,
    ImportRejected,
    InsufficientStock,
    ProductNotFound,
    ValidationFailed,
    VersionConflict,
)
from inventory_app.services import csv_transfer
from inventory_app.services import products as svc
from schemas.registry import validate_event
from tests.integration.helpers import (
    count_outbox_events_for_sku,
    count_products_with_sku,
    outbox_events,
    unique_sku,
)
from tests.support import TEST_EDITOR, adjust_stock, call_async_service

HEADER = "sku,name,description,category,price,quantity,low_stock_threshold\n"


@pytest.fixture()
def make_product(engine):
    def make(**fields) -> dict:
        payload = {"sku": unique_sku(), "name": "Test widget", "price": "9.99", **fields}
        return call_async_service(svc.create_product, payload, by=TEST_EDITOR).body

    return make


def event_types(engine, product_id: str) -> list[str]:
    return [event["type"] for event in outbox_events(engine, product_id)]


def movement_count(engine, product_id: str) -> int:
    with engine.connect() as connection:
        return connection.execute(
            select(func.count()).select_from(StockMovement).where(StockMovement.product_id == uuid.UUID(product_id))
        ).scalar_one()


def csv_bytes(*rows: str) -> io.BytesIO:
    return io.BytesIO((HEADER + "".join(f"{row}\n" for row in rows)).encode())


def assert_all_events_valid(engine, product_id: str) -> None:
    for event in outbox_events(engine, product_id):
        validate_event(event)


# -- one event per change -----------------------------------------------------------------------------
def test_creating_a_product_writes_one_valid_product_created_event(engine) -> None:
    result = call_async_service(
        svc.create_product,
        {"sku": unique_sku().lower(), "name": "Blue widget", "price": "12.5", "quantity": 40},
        by=TEST_EDITOR,
    )
    assert result.status == 201
    assert result.body["sku"] == result.body["sku"].upper()
    stored = outbox_events(engine, result.body["id"])
    assert [e["type"] for e in stored] == [events.PRODUCT_CREATED]
    validate_event(stored[0])
    assert stored[0]["data"]["product"] == result.body


def test_updating_a_product_writes_one_valid_product_updated_event_with_the_changes(engine, make_product) -> None:
    product = make_product(name="Old name")
    updated = call_async_service(svc.update_product, product["id"], {"name": "New name", "price": "1"}, by=TEST_EDITOR)
    assert updated["version"] == 2
    stored = outbox_events(engine, product["id"])
    assert [e["type"] for e in stored] == [events.PRODUCT_CREATED, events.PRODUCT_UPDATED]
    validate_event(stored[1])
    assert stored[1]["data"]["changes"] == {
        "name": {"from": "Old name", "to": "New name"},
        "price": {"from": "9.99", "to": "1.00"},
    }
    assert stored[1]["data"]["reason"] == {"kind": "edit"}
    assert stored[1]["data"]["product"] == updated


def test_an_update_that_changes_nothing_writes_no_event_and_keeps_the_version(engine, make_product) -> None:
    product = make_product(name="Same")
    assert call_async_service(svc.update_product, product["id"], {"name": "Same"}, by=TEST_EDITOR)["version"] == 1
    assert event_types(engine, product["id"]) == [events.PRODUCT_CREATED]


def test_deleting_a_product_writes_one_valid_product_deleted_event(engine, make_product) -> None:
    product = make_product()
    call_async_service(svc.delete_product, product["id"], by=TEST_EDITOR)
    stored = outbox_events(engine, product["id"])
    assert [e["type"] for e in stored] == [events.PRODUCT_CREATED, events.PRODUCT_DELETED]
    validate_event(stored[1])
    assert stored[1]["data"]["product"] == product
    with pytest.raises(ProductNotFound):
        call_async_service(svc.get_product, product["id"])


def test_adjusting_stock_writes_one_ledger_row_and_one_valid_product_updated_event(engine, make_product) -> None:
    product = make_product(quantity=10)
    result = adjust_stock(product["id"], {"delta": -3, "reason": "sold", "note": "Order 1"})
    assert result.status == 201
    assert result.body["product"]["quantity"] == 7
    assert result.body["movement"]["quantity_after"] == 7
    stored = outbox_events(engine, product["id"])
    assert [e["type"] for e in stored] == [events.PRODUCT_CREATED, events.PRODUCT_UPDATED]
    validate_event(stored[1])
    assert stored[1]["data"]["reason"] == {
        "kind": "stock_adjustment",
        "movement_id": result.body["movement"]["id"],
        "adjustment_reason": "sold",
        "delta": -3,
    }
    assert stored[1]["data"]["changes"] == {"quantity": {"from": 10, "to": 7}}
    assert movement_count(engine, product["id"]) == 1


def test_adjusting_below_threshold_emits_one_low_stock_warning_after_its_product_updated(engine, make_product) -> None:
    product = make_product(quantity=12, low_stock_threshold=10)
    adjust_stock(product["id"], {"delta": -5, "reason": "sold"})
    stored = outbox_events(engine, product["id"])
    assert [e["type"] for e in stored] == [
        events.PRODUCT_CREATED,
        events.PRODUCT_UPDATED,
        events.LOW_STOCK_WARNING,
    ]
    validate_event(stored[2])
    assert stored[2]["data"]["caused_by_event_id"] == stored[1]["id"]
    assert (stored[2]["data"]["quantity"], stored[2]["data"]["low_stock_threshold"]) == (7, 10)


def test_adjusting_down_to_exactly_the_threshold_warns(engine, make_product) -> None:
    product = make_product(quantity=11, low_stock_threshold=10)
    adjust_stock(product["id"], {"delta": -1, "reason": "sold"})
    assert event_types(engine, product["id"])[-1] == events.LOW_STOCK_WARNING


def test_staying_low_does_not_warn_again_but_recovering_re_arms_the_warning(engine, make_product) -> None:
    product = make_product(quantity=12, low_stock_threshold=10)
    for delta in (-4, -1, +20, -18):  # cross (warn), stay low, recover, cross again (warn)
        adjust_stock(product["id"], {"delta": delta, "reason": "correction"})
    assert Counter(event_types(engine, product["id"]))[events.LOW_STOCK_WARNING] == 2
    assert_all_events_valid(engine, product["id"])


def test_raising_the_threshold_above_the_quantity_warns(engine, make_product) -> None:
    product = make_product(quantity=8, low_stock_threshold=5)
    call_async_service(svc.update_product, product["id"], {"low_stock_threshold": 8}, by=TEST_EDITOR)
    assert event_types(engine, product["id"]) == [
        events.PRODUCT_CREATED,
        events.PRODUCT_UPDATED,
        events.LOW_STOCK_WARNING,
    ]
    assert_all_events_valid(engine, product["id"])


def test_creating_a_product_already_low_does_not_warn_and_neither_does_selling_more(engine, make_product) -> None:
    product = make_product(quantity=2, low_stock_threshold=5)
    assert product["low_stock"] is True
    adjust_stock(product["id"], {"delta": -1, "reason": "sold"})
    assert event_types(engine, product["id"]) == [events.PRODUCT_CREATED, events.PRODUCT_UPDATED]


# -- a failing write leaves neither row nor event ------------------------------------------------------
def test_a_duplicate_sku_on_create_leaves_neither_row_nor_event(engine, make_product) -> None:
    product = make_product()
    sku = product["sku"]
    events_before = count_outbox_events_for_sku(engine, sku)
    with pytest.raises(DuplicateSku) as caught:
        call_async_service(svc.create_product, {"sku": sku.lower(), "name": "Copy", "price": "1"}, by=TEST_EDITOR)
    assert [e.field for e in caught.value.errors] == ["sku"]
    assert count_products_with_sku(engine, sku) == 1
    assert count_outbox_events_for_sku(engine, sku) == events_before


def test_renaming_onto_a_taken_sku_leaves_both_products_and_events_unchanged(engine, make_product) -> None:
    first, second = make_product(), make_product()
    with pytest.raises(DuplicateSku):
        call_async_service(svc.update_product, second["id"], {"sku": first["sku"]}, by=TEST_EDITOR)
    assert call_async_service(svc.get_product, second["id"]) == second
    assert event_types(engine, second["id"]) == [events.PRODUCT_CREATED]


def test_insufficient_stock_leaves_quantity_ledger_and_outbox_unchanged(engine, make_product) -> None:
    product = make_product(quantity=3)
    with pytest.raises(InsufficientStock) as caught:
        adjust_stock(product["id"], {"delta": -4, "reason": "sold"})
    assert [e.field for e in caught.value.errors] == ["delta"]
    assert call_async_service(svc.get_product, product["id"]) == product
    assert movement_count(engine, product["id"]) == 0
    assert event_types(engine, product["id"]) == [events.PRODUCT_CREATED]


def test_a_stale_version_on_update_raises_version_conflict_and_changes_nothing(engine, make_product) -> None:
    product = make_product(name="Original")
    call_async_service(svc.update_product, product["id"], {"name": "Second"}, by=TEST_EDITOR)
    with pytest.raises(VersionConflict):
        call_async_service(
            svc.update_product, product["id"], {"name": "Lost update"}, expected_version=1, by=TEST_EDITOR
        )
    current = call_async_service(svc.get_product, product["id"])
    assert (current["name"], current["version"]) == ("Second", 2)
    assert event_types(engine, product["id"]) == [events.PRODUCT_CREATED, events.PRODUCT_UPDATED]


def test_a_stale_version_on_delete_raises_version_conflict_and_keeps_the_product(engine, make_product) -> None:
    product = make_product()
    call_async_service(svc.update_product, product["id"], {"name": "Second"}, by=TEST_EDITOR)
    with pytest.raises(VersionConflict):
        call_async_service(svc.delete_product, product["id"], expected_version=1, by=TEST_EDITOR)
    assert count_products_with_sku(engine, product["sku"]) == 1
    assert event_types(engine, product["id"]) == [events.PRODUCT_CREATED, events.PRODUCT_UPDATED]


def test_the_current_version_lets_an_update_through(engine, make_product) -> None:
    product = make_product()
    assert (
        call_async_service(svc.update_product, product["id"], {"name": "Next"}, expected_version=1, by=TEST_EDITOR)[
            "version"
        ]
        == 2
    )


def test_an_adjustment_past_a_billion_is_refused_as_invalid_instead_of_overflowing(engine, make_product) -> None:
    product = make_product(quantity=1_000_000_000)
    with pytest.raises(ValidationFailed) as caught:
        adjust_stock(product["id"], {"delta": 1, "reason": "received"})
    assert [e.field for e in caught.value.errors] == ["delta"]
    assert movement_count(engine, product["id"]) == 0


def test_a_nul_character_in_text_is_refused_as_invalid_instead_of_failing_in_the_database(engine, make_product) -> None:
    product = make_product()
    with pytest.raises(ValidationFailed):
        call_async_service(svc.update_product, product["id"], {"description": "a\x00b"}, by=TEST_EDITOR)
    with pytest.raises(ValidationFailed):
        call_async_service(svc.list_products, svc.ProductQuery(q="a\x00"))


def test_a_search_shorter_than_the_trigram_index_is_refused_naming_q(engine) -> None:
    for short in ("a", "ab", "  ab  "):
        with pytest.raises(ValidationFailed) as caught:
            call_async_service(svc.list_products, svc.ProductQuery(q=short))
        assert [e.field for e in caught.value.errors] == ["q"]
    call_async_service(svc.list_products, svc.ProductQuery(q="   "))  # blank: no search
    call_async_service(svc.list_products, svc.ProductQuery(q="a b"))


def test_a_list_counts_exactly_up_to_the_limit_and_estimates_above_it(engine, make_product, monkeypatch) -> None:
    token = uuid.uuid4().hex[:12]
    for i in range(8):
        make_product(name=f"{token} item {i}", category=f"cat-{token}" if i < 3 else "")
    monkeypatch.setattr(svc, "COUNT_EXACT_LIMIT", 5)
    few = call_async_service(svc.list_products, svc.ProductQuery(category=f"cat-{token}"))
    assert (few["count"], few["count_estimated"]) == (3, False)
    many = call_async_service(svc.list_products, svc.ProductQuery(q=token, limit=2))
    # More than the limit match: the answer says so, and never reports fewer than the limit + 1.
    assert many["count_estimated"] is True
    assert many["count"] >= 6
    assert len(many["data"]) == 2


# -- concurrency -----------------------------------------------------------------------------------
def test_fifty_parallel_adjustments_lose_no_update(engine, make_product) -> None:
    product = make_product(quantity=100)
    deltas = [-1] * 30 + [+1] * 20

    def adjust(delta: int) -> dict:
        return adjust_stock(product["id"], {"delta": delta, "reason": "correction"}).body

    with ThreadPoolExecutor(max_workers=50) as pool:
        results = list(pool.map(adjust, deltas))

    assert call_async_service(svc.get_product, product["id"])["quantity"] == 100 + sum(deltas)
    assert movement_count(engine, product["id"]) == 50
    updates = [e for e in outbox_events(engine, product["id"]) if e["type"] == events.PRODUCT_UPDATED]
    assert len(updates) == 50
    assert sorted(e["data"]["product"]["version"] for e in updates) == list(range(2, 52))
    assert sorted(r["product"]["version"] for r in results) == list(range(2, 52))


# -- idempotency -----------------------------------------------------------------------------------
def test_replaying_a_create_with_the_same_key_and_body_returns_the_first_response_without_a_second_row(
    engine,
) -> None:
    payload = {"sku": unique_sku(), "name": "Once", "price": "1"}
    key = str(uuid.uuid4())
    first = call_async_service(svc.create_product, payload, idempotency_key=key, by=TEST_EDITOR)
    replay = call_async_service(
        svc.create_product, dict(reversed(payload.items())), idempotency_key=key, by=TEST_EDITOR
    )
    assert (replay.status, replay.body, replay.replayed) == (201, first.body, True)
    assert count_products_with_sku(engine, payload["sku"].upper()) == 1
    assert event_types(engine, first.body["id"]) == [events.PRODUCT_CREATED]


def test_reusing_a_create_key_with_another_body_raises_idempotency_key_reused(engine) -> None:
    key = str(uuid.uuid4())
    call_async_service(
        svc.create_product, {"sku": unique_sku(), "name": "A", "price": "1"}, idempotency_key=key, by=TEST_EDITOR
    )
    other_sku = unique_sku()
    with pytest.raises(IdempotencyKeyReused):
        call_async_service(
            svc.create_product, {"sku": other_sku, "name": "B", "price": "1"}, idempotency_key=key, by=TEST_EDITOR
        )
    assert count_products_with_sku(engine, other_sku) == 0


def test_replaying_an_adjustment_with_the_same_key_applies_it_once(engine, make_product) -> None:
    product = make_product(quantity=10)
    key = str(uuid.uuid4())
    first = adjust_stock(product["id"], {"delta": -2, "reason": "sold"}, idempotency_key=key)
    replay = adjust_stock(product["id"], {"delta": -2, "reason": "sold"}, idempotency_key=key)
    assert (replay.body, replay.replayed) == (first.body, True)
    assert call_async_service(svc.get_product, product["id"])["quantity"] == 8
    assert movement_count(engine, product["id"]) == 1
    assert event_types(engine, product["id"]) == [events.PRODUCT_CREATED, events.PRODUCT_UPDATED]


def test_reusing_an_adjustment_key_with_another_body_raises_idempotency_key_reused(engine, make_product) -> None:
    product = make_product(quantity=10)
    key = str(uuid.uuid4())
    adjust_stock(product["id"], {"delta": -2, "reason": "sold"}, idempotency_key=key)
    with pytest.raises(IdempotencyKeyReused):
        adjust_stock(product["id"], {"delta": -3, "reason": "sold"}, idempotency_key=key)
    assert call_async_service(svc.get_product, product["id"])["quantity"] == 8


# -- CSV import and export ---------------------------------------------------------------------------
@pytest.fixture()
def sku_prefix(engine):
    """A unique SKU prefix; the products created under it are removed afterwards to keep the test DB small."""
    prefix = f"BULK-{uuid.uuid4().hex[:8]}".upper()
    yield prefix
    with engine.begin() as connection:
        connection.execute(delete(Product).where(Product.sku.like(f"{prefix}-%")))


def count_events_with_sku_prefix(engine, prefix: str, event_type: str) -> int:
    from inventory_app.adapters.orm import OutboxEvent

    with engine.connect() as connection:
        return connection.execute(
            select(func.count())
            .select_from(OutboxEvent)
            .where(
                OutboxEvent.event_type == event_type,
                OutboxEvent.payload["data"]["product"]["sku"].astext.like(f"{prefix}-%"),
            )
        ).scalar_one()


def test_a_ten_thousand_row_import_creates_every_product_and_a_re_import_changes_nothing(engine, sku_prefix) -> None:
    rows = [f"{sku_prefix}-{i:05d},Bulk item {i},,bulk,{i % 100}.25,{i % 50},5" for i in range(10_000)]
    data = (HEADER + "\n".join(rows) + "\n").encode()

    report = call_async_service(csv_transfer.import_products_csv, io.BytesIO(data), by=TEST_EDITOR)
    assert (report.created, report.updated, report.unchanged, report.errors) == (10_000, 0, 0, [])
    assert count_events_with_sku_prefix(engine, sku_prefix, events.PRODUCT_CREATED) == 10_000

    again = call_async_service(csv_transfer.import_products_csv, io.BytesIO(data), by=TEST_EDITOR)
    assert (again.created, again.updated, again.unchanged, again.errors) == (0, 0, 10_000, [])
    assert count_events_with_sku_prefix(engine, sku_prefix, events.PRODUCT_UPDATED) == 0
    assert count_events_with_sku_prefix(engine, sku_prefix, events.PRODUCT_CREATED) == 10_000

    with call_async_service(csv_transfer.export_to_spool) as spool:
        exported = [line for line in spool.read().decode().splitlines(keepends=True) if line.startswith(sku_prefix)]
    assert len(exported) == 10_000
    assert exported[1] == f"{sku_prefix}-00001,Bulk item 1,,bulk,1.25,1,5\n"


def test_an_import_dry_run_reports_counts_but_writes_nothing(engine, sku_prefix, make_product) -> None:
    existing = make_product(name="Before")
    report = call_async_service(
        csv_transfer.import_products_csv,
        csv_bytes(f"{sku_prefix}-NEW,New,,,1,1,0", f"{existing['sku']},After,,,9.99,0,0"),
        dry_run=True,
        by=TEST_EDITOR,
    )
    assert (report.created, report.updated, report.dry_run) == (1, 1, True)
    assert count_products_with_sku(engine, f"{sku_prefix}-NEW") == 0
    assert call_async_service(svc.get_product, existing["id"]) == existing
    assert event_types(engine, existing["id"]) == [events.PRODUCT_CREATED]


def test_an_import_with_one_bad_row_applies_nothing_and_reports_every_bad_row(engine, sku_prefix) -> None:
    with pytest.raises(ImportRejected) as caught:
        call_async_service(
            csv_transfer.import_products_csv,
            csv_bytes(
                f"{sku_prefix}-A,Good,,,1.50,1,0",
                f"{sku_prefix}-B,Bad,,,1.234,1,0",
                f"{sku_prefix}-C,Good,,,2,1,0",
                f"{sku_prefix}-D,,,,2,-1,0",
            ),
            by=TEST_EDITOR,
        )
    assert [(e.row, e.field) for e in caught.value.errors] == [(3, "price"), (5, "name"), (5, "quantity")]
    for suffix in "ABCD":
        assert count_products_with_sku(engine, f"{sku_prefix}-{suffix}") == 0
    assert count_events_with_sku_prefix(engine, sku_prefix, events.PRODUCT_CREATED) == 0


def test_an_import_with_skip_invalid_applies_the_good_rows_and_reports_the_bad_one(engine, sku_prefix) -> None:
    report = call_async_service(
        csv_transfer.import_products_csv,
        csv_bytes(f"{sku_prefix}-A,Good,,,1.50,1,0", f"{sku_prefix}-B,Bad,,,1.234,1,0", f"{sku_prefix}-C,Good,,,2,1,0"),
        by=TEST_EDITOR,
        skip_invalid=True,
    )
    assert report.created == 2
    assert [(e.row, e.field) for e in report.errors] == [(3, "price")]
    assert count_products_with_sku(engine, f"{sku_prefix}-A") == 1
    assert count_products_with_sku(engine, f"{sku_prefix}-B") == 0
    assert count_products_with_sku(engine, f"{sku_prefix}-C") == 1


def test_a_bad_byte_late_in_a_large_file_applies_none_of_the_rows_before_it(engine, sku_prefix) -> None:
    # Earlier imports committed 500-row chunks as they read: 1,200 good rows were in before the bad byte.
    good = "".join(f"{sku_prefix}-{i:05d},Item {i},,,1,1,0\n" for i in range(1200))
    data = (HEADER + good).encode() + b"\xff\xfe,broken,,,1,1,0\n"
    with pytest.raises(ValidationFailed) as caught:
        call_async_service(csv_transfer.import_products_csv, io.BytesIO(data), by=TEST_EDITOR, skip_invalid=True)
    assert {e.field for e in caught.value.errors} == {"file"}
    assert count_events_with_sku_prefix(engine, sku_prefix, events.PRODUCT_CREATED) == 0
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).where(Product.sku.like(f"{sku_prefix}-%"))).scalar_one() == 0


def test_an_import_reports_a_sku_repeated_within_the_file(engine, sku_prefix) -> None:
    with pytest.raises(ImportRejected) as caught:
        call_async_service(
            csv_transfer.import_products_csv,
            csv_bytes(f"{sku_prefix}-A,First,,,1,1,0", f"{sku_prefix.lower()}-a,Second,,,1,1,0"),
            by=TEST_EDITOR,
        )
    assert [(e.row, e.field) for e in caught.value.errors] == [(3, "sku")]
    assert "2" in caught.value.errors[0].message
    assert count_products_with_sku(engine, f"{sku_prefix}-A") == 0


def test_an_import_updating_a_product_writes_one_import_event(engine, make_product) -> None:
    product = make_product(name="Before", quantity=5)
    report = call_async_service(
        csv_transfer.import_products_csv, csv_bytes(f"{product['sku']},After,,,9.99,5,0"), by=TEST_EDITOR
    )
    assert (report.updated, report.errors) == (1, [])
    stored = outbox_events(engine, product["id"])
    assert [e["type"] for e in stored] == [events.PRODUCT_CREATED, events.PRODUCT_UPDATED]
    validate_event(stored[1])
    assert stored[1]["data"]["reason"] == {"kind": "import"}
    assert stored[1]["data"]["changes"] == {"name": {"from": "Before", "to": "After"}}


def test_an_import_changing_the_quantity_records_a_correction_in_the_ledger(engine, make_product) -> None:
    product = make_product(quantity=5)
    call_async_service(
        csv_transfer.import_products_csv, csv_bytes(f"{product['sku']},Test widget,,,9.99,12,0"), by=TEST_EDITOR
    )
    movements = call_async_service(svc.list_movements, product["id"])["data"]
    assert [(m["delta"], m["reason"], m["quantity_after"]) for m in movements] == [(7, "correction", 12)]
    assert event_types(engine, product["id"]) == [events.PRODUCT_CREATED, events.PRODUCT_UPDATED]


def test_an_import_past_the_row_limit_is_refused_whole_or_cut_with_skip_invalid(
    engine, sku_prefix, monkeypatch
) -> None:
    monkeypatch.setattr(csv_transfer, "MAX_ROWS", 2)
    rows = (f"{sku_prefix}-A,A,,,1,1,0", f"{sku_prefix}-B,B,,,1,1,0", f"{sku_prefix}-C,C,,,1,1,0")
    with pytest.raises(ImportRejected) as caught:
        call_async_service(csv_transfer.import_products_csv, csv_bytes(*rows), by=TEST_EDITOR)
    assert [(e.row, e.field) for e in caught.value.errors] == [(4, "file")]
    assert count_products_with_sku(engine, f"{sku_prefix}-A") == 0

    report = call_async_service(csv_transfer.import_products_csv, csv_bytes(*rows), by=TEST_EDITOR, skip_invalid=True)
    assert report.created == 2
    assert [(e.row, e.field) for e in report.errors] == [(4, "file")]
    assert count_products_with_sku(engine, f"{sku_prefix}-C") == 0


def test_an_import_without_the_required_columns_is_refused(engine) -> None:
    with pytest.raises(ValidationFailed) as caught:
        call_async_service(csv_transfer.import_products_csv, io.BytesIO(b"sku,name\nA,B\n"), by=TEST_EDITOR)
    assert {e.field for e in caught.value.errors} == {"file"}
