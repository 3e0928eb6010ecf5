"""Identity and access over HTTP, against the running app (two server workers) and its PostgreSQL.

Every protected operation of the contract refuses a caller without credentials and a viewer's writes,
and changes nothing when it does; sessions, tokens, disabling and revocation take effect at once on
every worker; cookie-authenticated writes and sign-ins from another origin are refused.
"""

from __future__ import annotations

import socket
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from sqlalchemy import text

from tests.conftest import RUN_ID, Account, session_cookie, wait_for
from tests.integration.helpers import assert_matches_contract, outbox_events, unique_sku

SPEC = yaml.safe_load((Path(__file__).resolve().parents[2] / "openapi" / "openapi.yaml").read_text())
OPEN_OPERATIONS = {"getHealth", "getOpenApi", "getApiDocs", "signIn", "getReadiness"}
FOREIGN = "https://evil.example"


def _operations() -> list[tuple[str, str, str]]:
    return [
        (method.upper(), path, op["operationId"])
        for path, item in SPEC["paths"].items()
        for method, op in item.items()
        if method in ("get", "post", "put", "patch", "delete")
    ]


def _fill(path: str, product_id: str) -> str:
    return (
        path.replace("{product_id}", product_id)
        .replace("{user_id}", str(uuid.uuid4()))
        .replace("{token_id}", str(uuid.uuid4()))
    )


@pytest.fixture()
def product(api: httpx.Client) -> dict[str, Any]:
    response = api.post(
        "/api/products", json={"sku": unique_sku("AUTH"), "name": "Guarded", "price": "1.00", "quantity": 10}
    )
    assert response.status_code == 201, response.text
    return response.json()


def _new_account(admin_api: httpx.Client, role: str) -> Account:
    email, password = f"{role}-{uuid.uuid4().hex[:8]}-{RUN_ID}@tests.example", f"a {role} password that is long"
    response = admin_api.post("/api/users", json={"email": email, "role": role, "password": password})
    assert response.status_code == 201, response.text
    user = response.json()
    assert response.headers["location"] == f"/api/users/{user['id']}"
    cookie = session_cookie(str(admin_api.base_url), Account(email, password, role, user["id"], ""))
    token = httpx.post(
        f"{admin_api.base_url}/api/tokens", json={"name": "script"}, cookies={"inventory_session": cookie}, timeout=30
    )
    assert token.status_code == 201, token.text
    return Account(email, password, role, user["id"], token.json()["token"])


def _assert_unauthorized(response: httpx.Response) -> None:
    assert response.status_code == 401, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.headers["www-authenticate"].startswith('Bearer realm="inventory"')
    assert response.json()["type"].endswith("/unauthorized")


# -- no credentials, wrong credentials ----------------------------------------------------------------
def test_every_protected_operation_refuses_a_caller_without_credentials_and_changes_nothing(
    anonymous_api: httpx.Client, api: httpx.Client, product: dict[str, Any], engine
) -> None:
    before = outbox_events(engine, product["id"])
    swept = []
    for method, path, operation_id in _operations():
        if operation_id in OPEN_OPERATIONS:
            continue
        response = anonymous_api.request(
            method, _fill(path, product["id"]), json={"name": "changed", "delta": -5, "reason": "sold"}
        )
        _assert_unauthorized(response)
        swept.append(operation_id)
    assert {"createProduct", "deleteProduct", "adjustStock", "importProducts", "listUsers", "getMetrics"} <= set(swept)
    assert api.get(f"/api/products/{product['id']}").json() == product
    assert outbox_events(engine, product["id"]) == before


@pytest.mark.parametrize(
    "authorization",
    ["Bearer inv_" + "x" * 43, "Bearer not-a-token", "Basic YWRtaW46YWRtaW4=", "Bearer"],
)
def test_unknown_or_malformed_credentials_get_401_even_for_cached_reads(
    anonymous_api: httpx.Client, api: httpx.Client, product: dict[str, Any], authorization: str
) -> None:
    path = f"/api/products/{product['id']}"
    assert api.get(path).status_code == 200  # now in the read cache
    _assert_unauthorized(anonymous_api.get(path, headers={"Authorization": authorization}))
    _assert_unauthorized(anonymous_api.get(path, cookies={"inventory_session": "forged-" + "x" * 36}))


def test_readiness_tells_anonymous_probes_only_the_status(anonymous_api: httpx.Client, api: httpx.Client) -> None:
    anonymous = anonymous_api.get("/api/ready")
    assert anonymous.status_code in (200, 503)
    assert set(anonymous.json()) == {"status"}
    detailed = api.get("/api/ready").json()
    assert {"status", "checks", "outbox"} <= set(detailed)
    _assert_unauthorized(anonymous_api.get("/api/ready", headers={"Authorization": "Bearer nope"}))


def test_open_routes_stay_open(anonymous_api: httpx.Client) -> None:
    assert anonymous_api.get("/api/health").status_code == 200
    assert anonymous_api.get("/api/openapi.json").status_code == 200
    assert anonymous_api.get("/api/docs").status_code == 200


def test_metrics_need_an_admin_session_or_a_token(
    app_url: str, anonymous_api: httpx.Client, accounts, admin_api: httpx.Client, viewer_api: httpx.Client
) -> None:
    _assert_unauthorized(anonymous_api.get("/metrics"))
    assert viewer_api.get("/metrics").status_code == 200  # a token of any user (the scraper's own)
    viewer_session = session_cookie(app_url, accounts.viewer)
    assert anonymous_api.get("/metrics", cookies={"inventory_session": viewer_session}).status_code == 403
    admin_session = session_cookie(app_url, accounts.admin)
    assert anonymous_api.get("/metrics", cookies={"inventory_session": admin_session}).status_code == 200


# -- roles -----------------------------------------------------------------------------------------
def test_a_viewer_reads_everything_and_every_write_is_refused_with_nothing_changed(
    viewer_api: httpx.Client, api: httpx.Client, product: dict[str, Any], engine
) -> None:
    pid = product["id"]
    assert viewer_api.get(f"/api/products/{pid}").status_code == 200
    assert viewer_api.get("/api/products/export").status_code == 200
    assert viewer_api.get(f"/api/products/{pid}/movements").status_code == 200
    before = outbox_events(engine, pid)
    sku = unique_sku("VIEW")
    writes = [
        viewer_api.post("/api/products", json={"sku": sku, "name": "x", "price": "1.00"}),
        viewer_api.patch(f"/api/products/{pid}", json={"name": "renamed"}),
        viewer_api.delete(f"/api/products/{pid}"),
        viewer_api.post(f"/api/products/{pid}/stock-adjustments", json={"delta": -1, "reason": "sold"}),
        viewer_api.post(
            "/api/products/import", files={"file": ("p.csv", f"sku,name,price\n{sku},x,1.00\n", "text/csv")}
        ),
        viewer_api.get("/api/users"),
        viewer_api.post(
            "/api/users", json={"email": f"x-{RUN_ID}@tests.example", "role": "admin", "password": "p" * 12}
        ),
        viewer_api.get("/api/security-events"),
    ]
    for response in writes:
        assert response.status_code == 403, response.text
        assert response.json()["type"].endswith("/forbidden")
        assert "viewer" in response.json()["detail"]
    assert api.get(f"/api/products/{pid}").json() == product
    assert outbox_events(engine, pid) == before
    assert api.get("/api/products", params={"q": sku}).json()["count"] == 0


def test_an_editor_may_not_manage_users(api: httpx.Client) -> None:
    assert api.get("/api/users").status_code == 403
    assert api.get("/api/security-events").status_code == 403


# -- attribution -------------------------------------------------------------------------------------
def test_changes_name_who_made_them_in_the_ledger_and_the_outbox(
    api: httpx.Client, accounts, product: dict[str, Any], engine
) -> None:
    response = api.post(f"/api/products/{product['id']}/stock-adjustments", json={"delta": -2, "reason": "sold"})
    assert response.status_code == 201
    expected = {"type": "token", "id": accounts.editor.user_id, "name": f"tests (editor) ({accounts.editor.email})"}
    assert response.json()["movement"]["actor"] == expected
    assert_matches_contract(response.json(), "StockAdjustmentResult")
    movements = api.get(f"/api/products/{product['id']}/movements").json()
    assert movements["data"][0]["actor"] == expected
    with engine.connect() as connection:
        actors = connection.execute(
            text("SELECT event_type, actor FROM outbox WHERE aggregate_id = :id ORDER BY id"), {"id": product["id"]}
        ).all()
    assert [a for _, a in actors] == [expected] * len(actors)
    assert api.delete(f"/api/products/{product['id']}").status_code == 204
    with engine.connect() as connection:
        deleted_by = connection.execute(
            text("SELECT actor FROM outbox WHERE aggregate_id = :id AND event_type = 'inventory.product.deleted'"),
            {"id": product["id"]},
        ).scalar_one()
        ledger = connection.execute(
            text("SELECT count(*) FROM stock_movement WHERE product_id = :id"), {"id": product["id"]}
        ).scalar_one()
    assert deleted_by == expected
    assert ledger == 1  # the ledger outlives its product


# -- sign-in -------------------------------------------------------------------------------------------
def test_sign_in_sets_a_hardened_cookie_and_the_session_works_until_sign_out(
    anonymous_api: httpx.Client, admin_api: httpx.Client
) -> None:
    account = _new_account(admin_api, "viewer")
    response = anonymous_api.post(
        "/api/auth/session", json={"email": account.email.upper(), "password": account.password}
    )
    assert response.status_code == 200, response.text
    assert_matches_contract(response.json(), "SessionPublic")
    set_cookie = response.headers["set-cookie"].lower()
    assert "httponly" in set_cookie and "samesite=lax" in set_cookie and "path=/" in set_cookie
    cookie = response.cookies["inventory_session"]
    assert len(cookie) >= 43  # 256 random bits
    me = anonymous_api.get("/api/auth/me", cookies={"inventory_session": cookie})
    assert me.status_code == 200 and me.json()["via"] == "session"
    assert me.json()["user"]["email"] == account.email
    out = anonymous_api.delete("/api/auth/session", cookies={"inventory_session": cookie})
    assert out.status_code == 204
    assert "max-age=0" in out.headers["set-cookie"].lower()
    _assert_unauthorized(anonymous_api.get("/api/auth/me", cookies={"inventory_session": cookie}))


def test_wrong_password_unknown_email_and_disabled_account_get_the_same_answer(
    anonymous_api: httpx.Client, admin_api: httpx.Client
) -> None:
    account = _new_account(admin_api, "viewer")
    disabled = _new_account(admin_api, "viewer")
    assert admin_api.patch(f"/api/users/{disabled.user_id}", json={"disabled": True}).status_code == 200
    answers = []
    for email, password in [
        (account.email, "wrong password here"),
        (f"nobody-{uuid.uuid4().hex}@tests.example", "whatever password"),
        (disabled.email, disabled.password),
    ]:
        response = anonymous_api.post("/api/auth/session", json={"email": email, "password": password})
        assert response.status_code == 401
        assert "set-cookie" not in response.headers
        body = response.json()
        answers.append((body["type"], body["title"], body["detail"]))
    assert len(set(answers)) == 1 and answers[0][0].endswith("/invalid-credentials")


def test_a_sign_in_form_sent_before_its_page_read_next_goes_where_the_sign_in_page_says(
    app_url: str, admin_api: httpx.Client
) -> None:
    account = _new_account(admin_api, "viewer")
    host = httpx.URL(app_url).netloc.decode()
    credentials = {"email": account.email, "password": account.password, "next": "/"}
    with httpx.Client(base_url=app_url, timeout=30, follow_redirects=False) as browser:
        for referer, expected in [
            (f"http://{host}/login?next=%2Fproducts%2Fabc", "/products/abc"),  # the page's own address
            (f"http://{host}/login?next=%2F%2Fevil.example", "/"),  # still only a local path
            ("http://evil.example/login?next=%2Fproducts%2Fabc", "/"),  # another site's page says nothing
            (f"http://{host}/locations?next=%2Fproducts%2Fabc", "/"),  # nor does any page but the sign-in page
        ]:
            ok = browser.post("/api/auth/session", data=credentials, headers={"Referer": referer})
            assert ok.status_code == 303 and ok.headers["location"] == expected, referer
        # A `next` the form did carry wins over the address.
        given = {**credentials, "next": "/analytics"}
        ok = browser.post("/api/auth/session", data=given, headers={"Referer": f"http://{host}/login?next=%2Fx"})
        assert ok.headers["location"] == "/analytics"


def test_the_sign_in_form_redirects_to_a_local_next_only(app_url: str, admin_api: httpx.Client) -> None:
    account = _new_account(admin_api, "viewer")
    with httpx.Client(base_url=app_url, timeout=30, follow_redirects=False) as browser:
        for next_path, expected in [
            ("/products/abc?x=1", "/products/abc?x=1"),
            ("//evil.example/x", "/"),
            ("/\\evil.example", "/"),
            ("https://evil.example", "/"),
        ]:
            ok = browser.post(
                "/api/auth/session", data={"email": account.email, "password": account.password, "next": next_path}
            )
            assert ok.status_code == 303 and ok.headers["location"] == expected
            assert "inventory_session=" in ok.headers["set-cookie"]
        bad = browser.post("/api/auth/session", data={"email": account.email, "password": "nope", "next": "/analytics"})
        assert bad.status_code == 303
        assert bad.headers["location"] == "/login?error=invalid&next=%2Fanalytics"
        assert "set-cookie" not in bad.headers


def test_sign_in_is_rate_limited_per_account_and_logged(anonymous_api: httpx.Client, admin_api: httpx.Client) -> None:
    account = _new_account(admin_api, "viewer")
    for _ in range(5):
        assert (
            anonymous_api.post("/api/auth/session", json={"email": account.email, "password": "x"}).status_code == 401
        )
    limited = anonymous_api.post("/api/auth/session", json={"email": account.email, "password": account.password})
    assert limited.status_code == 429
    assert int(limited.headers["retry-after"]) >= 1
    assert limited.json()["type"].endswith("/too-many-attempts")
    log = admin_api.get("/api/security-events", params={"kind": "sign_in_failed", "limit": 200}).json()
    mine = [e for e in log["data"] if e["email"] == account.email]
    assert len(mine) == 5 and all(e["actor"] is None and e["ip"] for e in mine)
    assert_matches_contract(log, "SecurityEventsPublic")


def test_sign_in_from_another_origin_is_refused(anonymous_api: httpx.Client, accounts) -> None:
    response = anonymous_api.post(
        "/api/auth/session",
        json={"email": accounts.viewer.email, "password": accounts.viewer.password},
        headers={"Origin": FOREIGN},
    )
    assert response.status_code == 403
    assert response.json()["type"].endswith("/cross-origin-refused")
    assert "set-cookie" not in response.headers


# -- cross-origin ---------------------------------------------------------------------------------------
def test_cookie_authenticated_writes_from_another_origin_are_refused(
    app_url: str, anonymous_api: httpx.Client, api: httpx.Client, accounts, product: dict[str, Any], engine
) -> None:
    cookie = {"inventory_session": session_cookie(app_url, accounts.editor)}
    pid = product["id"]
    refused = anonymous_api.patch(
        f"/api/products/{pid}", json={"name": "csrf"}, cookies=cookie, headers={"Origin": FOREIGN}
    )
    assert refused.status_code == 403 and refused.json()["type"].endswith("/cross-origin-refused")
    fetch_metadata = anonymous_api.patch(
        f"/api/products/{pid}", json={"name": "csrf"}, cookies=cookie, headers={"Sec-Fetch-Site": "cross-site"}
    )
    assert fetch_metadata.status_code == 403
    assert api.get(f"/api/products/{pid}").json()["name"] == "Guarded"
    own = anonymous_api.patch(
        f"/api/products/{pid}", json={"name": "same-site"}, cookies=cookie, headers={"Origin": app_url}
    )
    assert own.status_code == 200
    # A bearer token is never sent by a browser on its own: no origin check for it.
    token = api.patch(f"/api/products/{pid}", json={"name": "scripted"}, headers={"Origin": FOREIGN})
    assert token.status_code == 200


def test_cors_grants_only_the_allowed_origins(anonymous_api: httpx.Client, app_url: str) -> None:
    preflight = {"Access-Control-Request-Method": "PATCH", "Access-Control-Request-Headers": "content-type"}
    foreign = anonymous_api.options("/api/products", headers={"Origin": FOREIGN, **preflight})
    assert foreign.headers.get("access-control-allow-origin") not in (FOREIGN, "*")
    simple = anonymous_api.get("/api/health", headers={"Origin": FOREIGN})
    assert simple.headers.get("access-control-allow-origin") not in (FOREIGN, "*")
    own = anonymous_api.options("/api/products", headers={"Origin": app_url, **preflight})
    assert own.headers.get("access-control-allow-origin") == app_url


def _websocket_handshake(app_url: str, origin: str) -> bytes:
    url = httpx.URL(app_url)
    with socket.create_connection((url.host, url.port), timeout=10) as sock:
        request = (
            "GET /_event/?EIO=4&transport=websocket HTTP/1.1\r\n"
            f"Host: {url.host}:{url.port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
            f"Origin: {origin}\r\n\r\n"
        )
        sock.sendall(request.encode())
        return sock.recv(200)


def test_the_reflex_websocket_refuses_other_origins(app_url: str) -> None:
    assert _websocket_handshake(app_url, app_url).startswith(b"HTTP/1.1 101")
    assert not _websocket_handshake(app_url, FOREIGN).startswith(b"HTTP/1.1 101")


# -- uploads ---------------------------------------------------------------------------------------------
def test_uploads_need_an_editor_session_before_the_body_is_read(
    app_url: str, anonymous_api: httpx.Client, accounts
) -> None:
    files = {"files": ("p.csv", "sku,name,price\nX,y,1.00\n", "text/csv")}
    _assert_unauthorized(anonymous_api.post("/_upload", files=files))
    viewer = {"inventory_session": session_cookie(app_url, accounts.viewer)}
    assert anonymous_api.post("/_upload", files=files, cookies=viewer).status_code == 403
    assert anonymous_api.post("/_upload", files=files, headers=accounts.editor.headers).status_code == 403
    editor = {"inventory_session": session_cookie(app_url, accounts.editor)}
    refused = anonymous_api.post("/_upload", files=files, cookies=editor, headers={"Origin": FOREIGN})
    assert refused.status_code == 403
    assert anonymous_api.get("/_upload/p.csv", cookies=editor).status_code == 404


# -- tokens, disabling, revocation ---------------------------------------------------------------------------
def test_tokens_are_shown_once_hashed_at_rest_and_stop_working_when_revoked(
    anonymous_api: httpx.Client, admin_api: httpx.Client, engine
) -> None:
    account = _new_account(admin_api, "editor")
    auth = {"Authorization": f"Bearer {account.token}"}
    created = anonymous_api.post("/api/tokens", json={"name": "scanner", "expires_in_days": 30}, headers=auth)
    assert created.status_code == 201
    assert_matches_contract(created.json(), "TokenCreated")
    secret = created.json()["token"]
    listed = anonymous_api.get("/api/tokens", headers=auth).json()
    assert_matches_contract(listed, "TokensPublic")
    assert all("token" not in t for t in listed["data"]) and secret not in str(listed)
    with engine.connect() as connection:
        stored = connection.execute(
            text("SELECT token_hash FROM api_token WHERE id = :id"), {"id": created.json()["id"]}
        )
        assert stored.scalar_one() != secret
    new = {"Authorization": f"Bearer {secret}"}
    for _ in range(6):  # both server workers have it cached now
        assert anonymous_api.get("/api/auth/me", headers=new).status_code == 200
    assert anonymous_api.delete(f"/api/tokens/{created.json()['id']}", headers=auth).status_code == 204
    for _ in range(6):  # every worker refuses it at once
        _assert_unauthorized(anonymous_api.get("/api/auth/me", headers=new))
    # Someone else's token is not found, not forbidden.
    assert admin_api.delete(f"/api/tokens/{created.json()['id']}").status_code == 404


def test_disabling_a_user_ends_their_sessions_and_tokens_at_once(
    app_url: str, anonymous_api: httpx.Client, admin_api: httpx.Client, product: dict[str, Any]
) -> None:
    account = _new_account(admin_api, "editor")
    token = {"Authorization": f"Bearer {account.token}"}
    cookie = {"inventory_session": session_cookie(app_url, account)}
    path = f"/api/products/{product['id']}"
    for _ in range(6):
        assert anonymous_api.get(path, headers=token).status_code == 200
        assert anonymous_api.get(path, cookies=cookie).status_code == 200
    disabled = admin_api.patch(f"/api/users/{account.user_id}", json={"disabled": True})
    assert disabled.status_code == 200 and disabled.json()["disabled"] is True
    # At once on the worker that disabled the user; within a second on the other (NOTIFY), as promised.
    deadline = time.monotonic() + 1.0
    while anonymous_api.get(path, headers=token).status_code != 401 and time.monotonic() < deadline:
        time.sleep(0.02)
    for _ in range(6):
        _assert_unauthorized(anonymous_api.get(path, headers=token))
        _assert_unauthorized(anonymous_api.get(path, cookies=cookie))
    enabled = admin_api.patch(f"/api/users/{account.user_id}", json={"disabled": False})
    assert enabled.json()["disabled"] is False
    _assert_unauthorized(anonymous_api.get(path, headers=token))  # re-enabling does not revive old credentials
    assert session_cookie(app_url, account)  # but they can sign in again


def test_a_role_change_applies_to_the_next_request(admin_api: httpx.Client, anonymous_api: httpx.Client) -> None:
    account = _new_account(admin_api, "viewer")
    auth = {"Authorization": f"Bearer {account.token}"}
    body = {"sku": unique_sku("ROLE"), "name": "x", "price": "1.00"}
    assert anonymous_api.post("/api/products", json=body, headers=auth).status_code == 403
    assert admin_api.patch(f"/api/users/{account.user_id}", json={"role": "editor"}).status_code == 200
    assert anonymous_api.post("/api/products", json=body, headers=auth).status_code == 201
    log = admin_api.get("/api/security-events", params={"kind": "role_changed"}).json()["data"]
    change = next(e for e in log if e["user_id"] == account.user_id)
    assert change["detail"] == {"from": "viewer", "to": "editor"} and change["actor"]["type"] == "token"


def test_an_admin_cannot_demote_or_disable_themself(admin_api: httpx.Client, accounts) -> None:
    for body, field in [({"role": "viewer"}, "role"), ({"disabled": True}, "disabled")]:
        response = admin_api.patch(f"/api/users/{accounts.admin.user_id}", json=body)
        assert response.status_code == 422
        assert response.json()["errors"][0]["field"] == field
    assert admin_api.get(f"/api/users/{accounts.admin.user_id}").json()["role"] == "admin"


def test_emails_are_unique_case_insensitively(admin_api: httpx.Client, accounts) -> None:
    response = admin_api.post(
        "/api/users", json={"email": accounts.viewer.email.upper(), "role": "viewer", "password": "x" * 12}
    )
    assert response.status_code == 409 and response.json()["errors"][0]["field"] == "email"


def test_changing_the_password_keeps_this_session_and_ends_the_others(
    app_url: str, anonymous_api: httpx.Client, admin_api: httpx.Client
) -> None:
    account = _new_account(admin_api, "viewer")
    this = {"inventory_session": session_cookie(app_url, account)}
    other = {"inventory_session": session_cookie(app_url, account)}
    wrong = anonymous_api.put(
        "/api/auth/password", json={"current_password": "wrong", "new_password": "n" * 12}, cookies=this
    )
    assert wrong.status_code == 422 and wrong.json()["errors"][0]["field"] == "current_password"
    changed = anonymous_api.put(
        "/api/auth/password",
        json={"current_password": account.password, "new_password": "a brand new passphrase"},
        cookies=this,
    )
    assert changed.status_code == 204
    assert anonymous_api.get("/api/auth/me", cookies=this).status_code == 200
    _assert_unauthorized(anonymous_api.get("/api/auth/me", cookies=other))
    assert anonymous_api.get("/api/auth/me", headers={"Authorization": f"Bearer {account.token}"}).status_code == 200
    old = anonymous_api.post("/api/auth/session", json={"email": account.email, "password": account.password})
    assert old.status_code == 401


def test_sign_out_everywhere_and_an_admin_reset_end_every_session(
    app_url: str, anonymous_api: httpx.Client, admin_api: httpx.Client
) -> None:
    account = _new_account(admin_api, "viewer")
    first, second = (session_cookie(app_url, account) for _ in range(2))
    everywhere = anonymous_api.delete("/api/auth/sessions", cookies={"inventory_session": first})
    assert everywhere.status_code == 204
    for cookie in (first, second):
        _assert_unauthorized(anonymous_api.get("/api/auth/me", cookies={"inventory_session": cookie}))
    third = session_cookie(app_url, account)
    reset = admin_api.put(f"/api/users/{account.user_id}/password", json={"new_password": "reset by the admin!"})
    assert reset.status_code == 204
    _assert_unauthorized(anonymous_api.get("/api/auth/me", cookies={"inventory_session": third}))
    assert anonymous_api.get("/api/auth/me", headers={"Authorization": f"Bearer {account.token}"}).status_code == 200


# -- the notification stream ---------------------------------------------------------------------------------
def test_the_notification_stream_needs_credentials_and_ends_when_they_are_revoked(
    app_url: str, anonymous_api: httpx.Client, admin_api: httpx.Client
) -> None:
    _assert_unauthorized(anonymous_api.get("/api/notifications/stream"))
    account = _new_account(admin_api, "viewer")
    cookie = session_cookie(app_url, account)
    started = time.monotonic()
    with httpx.Client(base_url=app_url, timeout=httpx.Timeout(30, read=20)) as client:
        with client.stream("GET", "/api/notifications/stream", cookies={"inventory_session": cookie}) as stream:
            assert stream.status_code == 200
            lines = stream.iter_lines()
            assert next(lines).startswith(":")  # connected
            signed_out = httpx.delete(f"{app_url}/api/auth/session", cookies={"inventory_session": cookie}, timeout=10)
            assert signed_out.status_code == 204
            for _ in lines:  # drains until the server ends the stream
                pass
    assert time.monotonic() - started < 15
    wait_for(
        lambda: (
            anonymous_api.get("/api/notifications/stream", cookies={"inventory_session": cookie}).status_code == 401
        ),
        5,
    )
