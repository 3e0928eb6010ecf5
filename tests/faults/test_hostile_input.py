"""Hostile input gets a 4xx problem and changes nothing: oversized bodies, wrong content types, bad JSON."""

from __future__ import annotations

import uuid

import httpx
import pytest

pytestmark = pytest.mark.faults

PROBLEM = "application/problem+json"


@pytest.fixture()
def product(api: httpx.Client) -> dict:
    response = api.post(
        "/api/products", json={"sku": f"HOST-{uuid.uuid4().hex[:10]}", "name": "Target", "price": "1.00", "quantity": 5}
    )
    assert response.status_code == 201
    return response.json()


def write_routes(product: dict) -> list[tuple[str, str]]:
    return [
        ("POST", "/api/products"),
        ("PATCH", f"/api/products/{product['id']}"),
        ("POST", f"/api/products/{product['id']}/stock-adjustments"),
    ]


def assert_unchanged(api: httpx.Client, product: dict) -> None:
    current = api.get(f"/api/products/{product['id']}").json()
    assert current["version"] == product["version"] and current["quantity"] == product["quantity"]


def test_bodies_over_one_megabyte_get_413_naming_the_body(api: httpx.Client, product: dict) -> None:
    body = b'{"name": "' + b"x" * 1_100_000 + b'"}'
    for method, path in write_routes(product):
        response = api.request(method, path, content=body, headers={"Content-Type": "application/json"})
        assert response.status_code == 413, (method, path, response.text)
        assert response.headers["content-type"].startswith(PROBLEM)
        assert response.json()["errors"][0]["field"] == "body"
    assert_unchanged(api, product)


def test_a_huge_body_sent_without_content_length_is_cut_off_with_413(api: httpx.Client, product: dict) -> None:
    def chunks():
        yield b'{"name": "'
        for _ in range(40):
            yield b"y" * 50_000
        yield b'"}'

    response = api.post("/api/products", content=chunks(), headers={"Content-Type": "application/json"})
    assert response.status_code == 413


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", "application/xml", ""])
def test_wrong_content_types_get_415(api: httpx.Client, product: dict, content_type: str) -> None:
    for method, path in write_routes(product):
        headers = {"Content-Type": content_type} if content_type else {}
        response = api.request(method, path, content=b'{"name": "x"}', headers=headers)
        assert response.status_code == 415, (method, path, response.text)
        assert response.headers["content-type"].startswith(PROBLEM)
    assert_unchanged(api, product)


@pytest.mark.parametrize("body", [b"{", b'{"name": }', b"\xff\xfe", b"[1, 2", b'{"delta": 1,}'])
def test_malformed_json_gets_400_naming_the_body(api: httpx.Client, product: dict, body: bytes) -> None:
    for method, path in write_routes(product):
        response = api.request(method, path, content=body, headers={"Content-Type": "application/json"})
        assert response.status_code == 400, (method, path, response.text)
        assert response.json()["errors"][0]["field"] == "body"
    assert_unchanged(api, product)


@pytest.mark.parametrize("body", [b"null", b"[]", b'"text"', b"42"])
def test_json_that_is_not_an_object_gets_422(api: httpx.Client, product: dict, body: bytes) -> None:
    for method, path in write_routes(product):
        response = api.request(method, path, content=body, headers={"Content-Type": "application/json"})
        assert response.status_code == 422, (method, path, response.text)
    assert_unchanged(api, product)


def test_an_import_that_is_not_multipart_gets_415(api: httpx.Client) -> None:
    response = api.post("/api/products/import", content=b"sku,name,price\n", headers={"Content-Type": "text/csv"})
    assert response.status_code == 415
