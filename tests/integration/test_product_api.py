"""The product REST API over HTTP against the app in prod mode, checked against openapi/openapi.yaml."""

from __future__ import annotations

import csv
import io
import uuid

import httpx
import pytest
from sqlalchemy import text

from tests.integration.helpers import assert_matches_contract, unique_sku

JSON = {"content-type": "application/json"}


def assert_problem(response: httpx.Response, status: int, *fields: str) -> dict:
    """A problem+json answer with this status whose `errors` name at least `fields`."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert_matches_contract(body, "Problem")
    assert body["status"] == status
    named = {error["field"] for error in body.get("errors", [])}
    assert set(fields) <= named, f"expected {fields} among {named}"
    return body


def assert_product(response: httpx.Response, status: int) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert_matches_contract(body, "ProductPublic")
    assert response.headers["etag"] == f'"{body["version"]}"'
    return body


@pytest.fixture()
def create(api: httpx.Client):
    def create_product(**fields) -> dict:
        payload = {"sku": unique_sku(), "name": "Test widget", "price": "9.99", **fields}
        return assert_product(api.post("/api/products", json=payload), 201)

    return create_product


def adjust(api: httpx.Client, product_id: str, delta: int, reason: str = "correction") -> httpx.Response:
    return api.post(f"/api/products/{product_id}/stock-adjustments", json={"delta": delta, "reason": reason})


# -- create --------------------------------------------------------------------------------------------
def test_creating_a_product_answers_201_with_location_etag_and_the_product(api) -> None:
    sku = unique_sku().lower()
    response = api.post(
        "/api/products",
        json={"sku": sku, "name": "Blue widget", "price": "12.5", "quantity": 40, "low_stock_threshold": 10},
    )
    product = assert_product(response, 201)
    assert response.headers["location"] == f"/api/products/{product['id']}"
    assert response.headers["etag"] == '"1"'
    assert (product["sku"], product["price"], product["low_stock"]) == (sku.upper(), "12.50", False)


def test_creating_with_a_taken_sku_answers_409_naming_sku(api, create) -> None:
    product = create()
    response = api.post("/api/products", json={"sku": product["sku"].lower(), "name": "Copy", "price": "1"})
    assert_problem(response, 409, "sku")


def test_creating_with_invalid_fields_answers_422_naming_each_field(api) -> None:
    response = api.post("/api/products", json={"sku": "bad sku", "name": "  ", "price": "1.234", "extra": 1})
    assert_problem(response, 422, "sku", "name", "price", "extra")


def test_creating_with_a_nul_character_in_the_name_answers_422_naming_name(api) -> None:
    response = api.post("/api/products", json={"sku": unique_sku(), "name": "a\x00b", "price": "1"})
    assert_problem(response, 422, "name")


def test_searching_for_a_nul_character_answers_422_naming_q(api) -> None:
    assert_problem(api.get("/api/products", params={"q": "a\x00"}), 422, "q")


def test_creating_with_malformed_json_answers_400(api) -> None:
    assert_problem(api.post("/api/products", content=b'{"sku": ', headers=JSON), 400, "body")


def test_creating_with_a_non_json_content_type_answers_415(api) -> None:
    response = api.post("/api/products", content=b"sku=A", headers={"content-type": "text/plain"})
    assert_problem(response, 415)


def test_creating_with_a_body_over_one_megabyte_answers_413(api) -> None:
    body = b'{"sku": "BIG", "name": "' + b"x" * 1_100_000 + b'", "price": "1"}'
    assert_problem(api.post("/api/products", content=body, headers=JSON), 413)


def test_replaying_a_create_with_the_same_idempotency_key_returns_the_first_response(api) -> None:
    payload = {"sku": unique_sku(), "name": "Once", "price": "1"}
    headers = {"Idempotency-Key": str(uuid.uuid4())}
    first = assert_product(api.post("/api/products", json=payload, headers=headers), 201)
    replay = api.post("/api/products", json=payload, headers=headers)
    assert assert_product(replay, 201) == first
    assert replay.headers["location"] == f"/api/products/{first['id']}"
    listed = api.get("/api/products", params={"q": payload["sku"]}).json()
    assert listed["count"] == 1


def test_reusing_an_idempotency_key_with_another_body_answers_422(api) -> None:
    headers = {"Idempotency-Key": str(uuid.uuid4())}
    assert_product(
        api.post("/api/products", json={"sku": unique_sku(), "name": "A", "price": "1"}, headers=headers), 201
    )
    response = api.post("/api/products", json={"sku": unique_sku(), "name": "B", "price": "1"}, headers=headers)
    assert_problem(response, 422, "Idempotency-Key")


# -- read ----------------------------------------------------------------------------------------------
def test_getting_a_product_answers_200_with_its_etag(api, create) -> None:
    product = create()
    assert assert_product(api.get(f"/api/products/{product['id']}"), 200) == product


def test_getting_an_unknown_product_answers_404(api) -> None:
    assert_problem(api.get(f"/api/products/{uuid.uuid4()}"), 404)


def test_getting_a_malformed_product_id_answers_404(api) -> None:
    assert_problem(api.get("/api/products/not-a-uuid"), 404)


# -- update --------------------------------------------------------------------------------------------
def test_patching_a_product_answers_200_with_the_next_version(api, create) -> None:
    product = create()
    updated = assert_product(api.patch(f"/api/products/{product['id']}", json={"name": "Renamed"}), 200)
    assert (updated["name"], updated["version"]) == ("Renamed", 2)


@pytest.mark.parametrize("if_match", ['"1"', 'W/"1"', "*"])
def test_patching_with_a_matching_if_match_succeeds(api, create, if_match) -> None:
    product = create()
    response = api.patch(f"/api/products/{product['id']}", json={"name": "Next"}, headers={"If-Match": if_match})
    assert assert_product(response, 200)["version"] == 2


def test_patching_with_a_stale_if_match_answers_412_and_changes_nothing(api, create) -> None:
    product = create()
    api.patch(f"/api/products/{product['id']}", json={"name": "Second"})
    response = api.patch(f"/api/products/{product['id']}", json={"name": "Lost"}, headers={"If-Match": '"1"'})
    assert_problem(response, 412)
    assert api.get(f"/api/products/{product['id']}").json()["name"] == "Second"


def test_patching_with_an_unreadable_if_match_answers_422_naming_it(api, create) -> None:
    product = create()
    response = api.patch(f"/api/products/{product['id']}", json={"name": "X"}, headers={"If-Match": "version one"})
    assert_problem(response, 422, "If-Match")


@pytest.mark.parametrize("if_match", ["1", "W/1", '"0"', '"01"', '"1', '"99999999999999999999"', '"1", "2"'])
def test_an_if_match_outside_the_contracts_pattern_answers_422_and_changes_nothing(api, create, if_match) -> None:
    """One rule for server and contract: only a quoted positive version (or W/ of one, or *) is read."""
    product = create()
    response = api.patch(f"/api/products/{product['id']}", json={"name": "X"}, headers={"If-Match": if_match})
    assert_problem(response, 422, "If-Match")
    assert api.get(f"/api/products/{product['id']}").json()["version"] == 1


def test_versions_are_64_bit(api, create, engine) -> None:
    product = create()
    past_32_bits = 2**31 + 5
    with engine.begin() as conn:
        conn.execute(text("UPDATE product SET version = :v WHERE id = :id"), {"v": past_32_bits, "id": product["id"]})
    response = api.patch(
        f"/api/products/{product['id']}", json={"name": "Big"}, headers={"If-Match": f'"{past_32_bits}"'}
    )
    assert assert_product(response, 200)["version"] == past_32_bits + 1
    assert response.headers["etag"] == f'"{past_32_bits + 1}"'


def test_patching_the_quantity_answers_422_naming_quantity(api, create) -> None:
    product = create()
    assert_problem(api.patch(f"/api/products/{product['id']}", json={"quantity": 5}), 422, "quantity")


def test_patching_with_an_empty_object_answers_422(api, create) -> None:
    product = create()
    assert_problem(api.patch(f"/api/products/{product['id']}", json={}), 422, "body")


def test_patching_onto_a_taken_sku_answers_409_naming_sku(api, create) -> None:
    first, second = create(), create()
    assert_problem(api.patch(f"/api/products/{second['id']}", json={"sku": first["sku"]}), 409, "sku")


def test_patching_an_unknown_product_answers_404(api) -> None:
    assert_problem(api.patch(f"/api/products/{uuid.uuid4()}", json={"name": "X"}), 404)


def test_patching_with_a_non_json_content_type_answers_415(api, create) -> None:
    product = create()
    response = api.patch(f"/api/products/{product['id']}", content=b"name=X", headers={"content-type": "text/plain"})
    assert_problem(response, 415)


def test_patching_with_malformed_json_answers_400(api, create) -> None:
    product = create()
    assert_problem(api.patch(f"/api/products/{product['id']}", content=b"{", headers=JSON), 400)


# -- delete --------------------------------------------------------------------------------------------
def test_deleting_a_product_answers_204_and_then_it_is_gone(api, create) -> None:
    product = create()
    response = api.delete(f"/api/products/{product['id']}", headers={"If-Match": '"1"'})
    assert response.status_code == 204
    assert response.content == b""
    assert_problem(api.get(f"/api/products/{product['id']}"), 404)


def test_deleting_with_a_stale_if_match_answers_412_and_keeps_the_product(api, create) -> None:
    product = create()
    api.patch(f"/api/products/{product['id']}", json={"name": "Second"})
    assert_problem(api.delete(f"/api/products/{product['id']}", headers={"If-Match": '"1"'}), 412)
    assert api.get(f"/api/products/{product['id']}").status_code == 200


def test_deleting_an_unknown_product_answers_404(api) -> None:
    assert_problem(api.delete(f"/api/products/{uuid.uuid4()}"), 404)


# -- stock adjustments ---------------------------------------------------------------------------------
def test_adjusting_stock_answers_201_with_the_movement_and_the_product(api, create) -> None:
    product = create(quantity=40, low_stock_threshold=10)
    response = api.post(
        f"/api/products/{product['id']}/stock-adjustments", json={"delta": -32, "reason": "sold", "note": "Order 1"}
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert_matches_contract(body, "StockAdjustmentResult")
    assert (body["movement"]["delta"], body["movement"]["quantity_after"]) == (-32, 8)
    assert (body["product"]["quantity"], body["product"]["low_stock"], body["product"]["version"]) == (8, True, 2)
    assert response.headers["etag"] == '"2"'


def test_adjusting_below_zero_answers_409_naming_delta(api, create) -> None:
    product = create(quantity=3)
    assert_problem(adjust(api, product["id"], -4), 409, "delta")
    assert api.get(f"/api/products/{product['id']}").json()["quantity"] == 3


def test_adjusting_by_zero_with_an_unknown_reason_answers_422_naming_both(api, create) -> None:
    product = create()
    response = api.post(f"/api/products/{product['id']}/stock-adjustments", json={"delta": 0, "reason": "lost"})
    assert_problem(response, 422, "delta", "reason")


def test_adjusting_past_a_billion_answers_422_naming_delta(api, create) -> None:
    product = create(quantity=1_000_000_000)
    assert_problem(adjust(api, product["id"], 1), 422, "delta")


def test_adjusting_an_unknown_product_answers_404(api) -> None:
    assert_problem(adjust(api, str(uuid.uuid4()), 1), 404)


def test_adjusting_with_a_non_json_content_type_answers_415(api, create) -> None:
    product = create()
    response = api.post(
        f"/api/products/{product['id']}/stock-adjustments", content=b"delta=1", headers={"content-type": "text/plain"}
    )
    assert_problem(response, 415)


def test_replaying_an_adjustment_with_the_same_idempotency_key_applies_it_once(api, create) -> None:
    product = create(quantity=10)
    url = f"/api/products/{product['id']}/stock-adjustments"
    headers = {"Idempotency-Key": str(uuid.uuid4())}
    first = api.post(url, json={"delta": -2, "reason": "sold"}, headers=headers)
    replay = api.post(url, json={"delta": -2, "reason": "sold"}, headers=headers)
    assert (first.status_code, replay.status_code) == (201, 201)
    assert replay.json() == first.json()
    assert replay.headers.get("idempotent-replayed") == "true"
    assert api.get(f"/api/products/{product['id']}").json()["quantity"] == 8


# -- movements -----------------------------------------------------------------------------------------
def test_movements_are_listed_newest_first_and_paginated(api, create) -> None:
    product = create()
    for delta in (5, 3, -2):
        assert adjust(api, product["id"], delta).status_code == 201
    url = f"/api/products/{product['id']}/movements"

    first_page = api.get(url, params={"limit": 2}).json()
    assert_matches_contract(first_page, "StockMovementsPublic")
    assert first_page["count"] == 3
    assert [m["delta"] for m in first_page["data"]] == [-2, 3]

    second_page = api.get(url, params={"limit": 2, "offset": 2}).json()
    assert_matches_contract(second_page, "StockMovementsPublic")
    assert [(m["delta"], m["quantity_after"]) for m in second_page["data"]] == [(5, 5)]


def test_movements_of_an_unknown_product_answer_404(api) -> None:
    assert_problem(api.get(f"/api/products/{uuid.uuid4()}/movements"), 404)


@pytest.mark.parametrize(("param", "value"), [("limit", 0), ("limit", 201), ("offset", -1)])
def test_movements_out_of_bounds_paging_answers_422_naming_the_parameter(api, create, param, value) -> None:
    product = create()
    assert_problem(api.get(f"/api/products/{product['id']}/movements", params={param: value}), 422, param)


# -- list ----------------------------------------------------------------------------------------------
def list_products(api: httpx.Client, **params) -> dict:
    response = api.get("/api/products", params=params)
    assert response.status_code == 200, response.text
    body = response.json()
    assert_matches_contract(body, "ProductsPublic")
    return body


def test_searching_matches_sku_name_and_description_case_insensitively(api, create) -> None:
    token = uuid.uuid4().hex[:10]
    by_sku = create(sku=f"Q{token}")
    by_name = create(name=f"Widget {token.upper()}")
    by_description = create(description=f"Mentions {token} here")
    create(name="Unrelated", category=token)
    expected = {by_sku["id"], by_name["id"], by_description["id"]}
    for q in (token, token.upper()):
        found = list_products(api, q=q)
        assert {p["id"] for p in found["data"]} == expected
        assert found["count"] == 3


def test_a_search_shorter_than_three_characters_answers_422_naming_q(api) -> None:
    assert_problem(api.get("/api/products", params={"q": "ab"}), 422, "q")
    assert "count_estimated" in list_products(api, q="   ")  # blank: no search, the whole list


def test_searching_treats_like_wildcards_literally(api, create) -> None:
    token = uuid.uuid4().hex[:10]
    create(name=f"{token} 100% cotton")
    create(name=f"{token} 1000 cotton")
    assert list_products(api, q=f"{token} 100%")["count"] == 1


@pytest.fixture()
def catalogue(api, create) -> tuple[str, dict[str, dict]]:
    """Three products in a private category, ordered differently by every sort key."""
    category = f"cat-{uuid.uuid4().hex[:10]}"
    sku_stem = unique_sku("S")
    products = {
        "p1": create(
            sku=f"{sku_stem}B", name="Charlie", quantity=2, price="100", low_stock_threshold=3, category=category
        ),
        "p2": create(
            sku=f"{sku_stem}C", name="Alpha", quantity=10, price="20", low_stock_threshold=0, category=category
        ),
        "p3": create(
            sku=f"{sku_stem}A", name="Bravo", quantity=5, price="9.50", low_stock_threshold=5, category=category
        ),
    }
    return category, products


ASCENDING = {
    "name": ["p2", "p3", "p1"],
    "sku": ["p3", "p1", "p2"],
    "quantity": ["p1", "p3", "p2"],
    "price": ["p3", "p2", "p1"],
    "updated_at": ["p1", "p2", "p3"],
}


@pytest.mark.parametrize("key", sorted(ASCENDING))
def test_every_sort_key_orders_ascending_and_descending(api, catalogue, key) -> None:
    category, products = catalogue
    names = {p["id"]: label for label, p in products.items()}
    ascending = [names[p["id"]] for p in list_products(api, category=category, sort=key)["data"]]
    descending = [names[p["id"]] for p in list_products(api, category=category, sort=f"-{key}")["data"]]
    assert ascending == ASCENDING[key]
    assert descending == ASCENDING[key][::-1]


def test_filtering_by_category_returns_only_that_category(api, catalogue) -> None:
    category, _ = catalogue
    found = list_products(api, category=category)
    assert found["count"] == 3
    assert {p["category"] for p in found["data"]} == {category}


def test_filtering_by_low_stock_splits_at_or_below_the_threshold(api, catalogue) -> None:
    category, products = catalogue
    low = list_products(api, category=category, low_stock="true")
    high = list_products(api, category=category, low_stock="false")
    assert {p["id"] for p in low["data"]} == {products["p1"]["id"], products["p3"]["id"]}
    assert [p["id"] for p in high["data"]] == [products["p2"]["id"]]


def test_limit_and_offset_page_through_while_count_stays_the_total(api, catalogue) -> None:
    category, products = catalogue
    page = list_products(api, category=category, sort="name", limit=2, offset=2)
    assert page["count"] == 3
    assert [p["id"] for p in page["data"]] == [products["p1"]["id"]]


@pytest.mark.parametrize(("param", "value"), [("limit", 0), ("limit", 201), ("offset", -1), ("sort", "colour")])
def test_out_of_bounds_list_parameters_answer_422_naming_the_parameter(api, param, value) -> None:
    assert_problem(api.get("/api/products", params={param: value}), 422, param)


# -- export and import ---------------------------------------------------------------------------------
def test_exporting_streams_csv_with_the_header_and_every_product(api, create) -> None:
    product = create(name="Exported, with comma", quantity=4, low_stock_threshold=1)
    response = api.get("/api/products/export")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert "attachment" in response.headers["content-disposition"]
    rows = list(csv.reader(io.StringIO(response.text)))
    assert rows[0] == ["sku", "name", "description", "category", "price", "quantity", "low_stock_threshold"]
    assert [product["sku"], "Exported, with comma", "", "", "9.99", "4", "1"] in rows


def import_file(api: httpx.Client, content: str, **params) -> httpx.Response:
    return api.post(
        "/api/products/import", params=params, files={"file": ("products.csv", content.encode(), "text/csv")}
    )


IMPORT_HEADER = "sku,name,description,category,price,quantity,low_stock_threshold\n"


def test_an_import_dry_run_reports_without_writing(api) -> None:
    sku = unique_sku()
    response = import_file(api, f"{IMPORT_HEADER}{sku},New,,,1,1,0\n", dry_run="true")
    assert response.status_code == 200, response.text
    report = response.json()
    assert_matches_contract(report, "ImportReport")
    assert (report["created"], report["dry_run"]) == (1, True)
    assert list_products(api, q=sku)["count"] == 0


def test_an_import_with_a_bad_row_answers_422_listing_every_bad_row_and_applies_nothing(api) -> None:
    good, bad, worse = unique_sku(), unique_sku(), unique_sku()
    response = import_file(api, f"{IMPORT_HEADER}{good},Good,,,1.50,1,0\n{bad},Bad,,,-1,1,0\n{worse},,,,1,1,0\n")
    body = assert_problem(response, 422, "price", "name")
    assert body["type"].endswith("/import-rejected")
    assert [(e["row"], e["field"]) for e in body["errors"]] == [(3, "price"), (4, "name")]
    assert list_products(api, q=good)["count"] == 0


def test_an_import_with_skip_invalid_creates_good_rows_and_reports_bad_ones_by_line_and_field(api) -> None:
    good, bad = unique_sku(), unique_sku()
    response = import_file(api, f"{IMPORT_HEADER}{good},Good,,,1.50,1,0\n{bad},Bad,,,-1,1,0\n", skip_invalid="true")
    assert response.status_code == 200, response.text
    report = response.json()
    assert_matches_contract(report, "ImportReport")
    assert (report["created"], report["dry_run"]) == (1, False)
    assert [(e["row"], e["field"]) for e in report["errors"]] == [(3, "price")]
    assert list_products(api, q=good)["count"] == 1
    assert list_products(api, q=bad)["count"] == 0


def test_an_import_without_a_header_row_answers_400(api) -> None:
    assert_problem(import_file(api, ""), 400, "file")


def test_an_import_without_the_file_part_answers_400(api) -> None:
    response = api.post("/api/products/import", files={"upload": ("p.csv", IMPORT_HEADER.encode(), "text/csv")})
    assert_problem(response, 400, "file")


def test_an_import_that_is_not_multipart_answers_415(api) -> None:
    response = api.post("/api/products/import", content=IMPORT_HEADER.encode(), headers={"content-type": "text/csv"})
    assert_problem(response, 415)


def test_an_import_with_an_unreadable_dry_run_flag_answers_422_naming_it(api) -> None:
    assert_problem(import_file(api, IMPORT_HEADER, dry_run="maybe"), 422, "dry_run")
