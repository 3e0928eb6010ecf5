"""The served app answers the API the same whichever way a request enters (inventory_app/asgi.py).

A request without `Origin` goes straight to the API app; one with `Origin` goes through Reflex's outer app,
whose CORS middleware answers for the allowed origins. Both must give the same status and body, the same
authentication, and `Vary: Origin`; only an allowed origin gets `Access-Control-Allow-Origin`.
"""

from __future__ import annotations

import uuid

import httpx

FOREIGN = "https://elsewhere.example"


def vary(response: httpx.Response) -> set[str]:
    return {v.strip() for v in ",".join(response.headers.get_list("vary")).split(",") if v.strip()}


def test_with_and_without_origin_the_api_answers_alike(api: httpx.Client, anonymous_api: httpx.Client, app_url):
    created = api.post(
        "/api/products", json={"sku": f"ENT-{uuid.uuid4().hex[:10]}", "name": "Entry", "price": "1.00", "quantity": 2}
    )
    assert created.status_code == 201, created.text
    path = f"/api/products/{created.json()['id']}"

    plain = api.get(path)
    same_site = api.get(path, headers={"Origin": app_url})
    foreign = api.get(path, headers={"Origin": FOREIGN})
    for response in (plain, same_site, foreign):
        assert response.status_code == 200 and response.json() == plain.json()
        assert "Origin" in vary(response)
    assert "access-control-allow-origin" not in plain.headers
    assert same_site.headers["access-control-allow-origin"] == app_url
    assert "access-control-allow-origin" not in foreign.headers

    # The gate and the problem bodies are the same on both ways in.
    for headers in ({}, {"Origin": app_url}):
        refused = anonymous_api.get(path, headers=headers)
        assert refused.status_code == 401 and refused.headers["content-type"] == "application/problem+json"
        unknown = api.get("/api/no-such-route", headers=headers)
        assert unknown.status_code == 404 and unknown.json()["type"].endswith("/http-error")
        wrong = api.put(path, json={}, headers=headers)
        assert wrong.status_code == 405 and "GET" in wrong.headers["allow"]
        adjusted = api.post(f"{path}/stock-adjustments", json={"delta": 1, "reason": "received"}, headers=headers)
        assert adjusted.status_code == 201, adjusted.text

    assert api.get(path).json()["quantity"] == 4


def test_a_preflight_from_an_allowed_origin_is_answered(anonymous_api: httpx.Client, app_url) -> None:
    response = anonymous_api.options(
        "/api/products",
        headers={
            "Origin": app_url,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type",
        },
    )
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == app_url
