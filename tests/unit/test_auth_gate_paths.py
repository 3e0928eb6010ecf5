"""The gate's open paths: `/bench/constant` (the benchmarks' baseline) is open only with the bench routes on.

None of these requests reaches PostgreSQL: no credentials, or a bearer value that is not even shaped like a token.
"""

from __future__ import annotations

import httpx
import pytest
from starlette.responses import PlainTextResponse
from starlette.types import Receive, Scope, Send

from inventory_app.api.auth_gate import AuthGate
from inventory_app.settings import get_settings


async def _behind_the_gate(scope: Scope, receive: Receive, send: Send) -> None:
    await PlainTextResponse("passed")(scope, receive, send)


def _client(monkeypatch: pytest.MonkeyPatch, bench_routes: bool) -> httpx.AsyncClient:
    # On the process's one settings object, restored after the test: clearing the settings cache instead would
    # leave later tests holding a different object than the services read.
    monkeypatch.setattr(get_settings(), "bench_routes_enabled", bench_routes)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=AuthGate(_behind_the_gate)), base_url="http://app")


async def test_the_bench_constant_route_is_open_with_the_bench_routes_on(monkeypatch: pytest.MonkeyPatch) -> None:
    async with _client(monkeypatch, bench_routes=True) as client:
        assert (await client.get("/bench/constant")).text == "passed"
        # Credentials sent are still checked, as on /api/ready.
        assert (await client.get("/bench/constant", headers={"Authorization": "Bearer nope"})).status_code == 401


@pytest.mark.parametrize("path", ["/bench/other", "/bench/constant/x", "/bench/", "/api/products"])
async def test_every_other_bench_path_stays_protected(monkeypatch: pytest.MonkeyPatch, path: str) -> None:
    async with _client(monkeypatch, bench_routes=True) as client:
        response = await client.get(path)
    assert response.status_code == 401
    assert "WWW-Authenticate" in response.headers


async def test_without_the_bench_routes_the_constant_route_is_protected(monkeypatch: pytest.MonkeyPatch) -> None:
    async with _client(monkeypatch, bench_routes=False) as client:
        assert (await client.get("/bench/constant")).status_code == 401
