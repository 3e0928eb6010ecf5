"""Notices for the stock-by-location events: what the panel and toasts say, each a valid notice (version 2)."""

from __future__ import annotations

import pytest

from inventory_app.domain.notices import UnknownNotice, notice_for
from schemas.registry import load_schema, validate_notice


def example(schema_file: str) -> dict:
    return load_schema(schema_file)["examples"][0]


def test_a_transfer_reads_as_a_move_between_two_codes() -> None:
    notice = notice_for(example("stock-transferred.schema.json"))
    validate_notice(notice)
    assert (notice["type"], notice["severity"], notice["title"]) == (
        "stock_transferred",
        "info",
        "Moved 5 of WIDGET-001",
    )
    assert "from MAIN to MAIN.A.3" in notice["message"]


def test_a_location_low_stock_warning_is_a_warning_naming_the_place() -> None:
    notice = notice_for(example("location-low-stock-warning.schema.json"))
    validate_notice(notice)
    assert (notice["type"], notice["severity"]) == ("location_low_stock_warning", "warning")
    assert "Main warehouse" in notice["message"] and "minimum 5" in notice["message"]


def test_a_version_2_update_names_the_locations_it_touched() -> None:
    notice = notice_for(example("product-updated.v2.schema.json"))
    validate_notice(notice)
    assert notice["message"].endswith("(MAIN -30, MAIN.A.3 -2).")


def test_an_event_type_without_a_notice_is_refused_as_unknown_not_crashed_on() -> None:
    event = {**example("product-created.schema.json"), "type": "inventory.product.renamed"}
    with pytest.raises(UnknownNotice):
        notice_for(event)
