"""Fifty clients that start a CSV export and stop reading must not starve anyone else.

The export used to stream from a server-side cursor, holding a pooled connection and a transaction for as
long as the client took; more stalled readers than the pool's size turned every other request into a 503.
Now it is read into a spooled file in one short transaction and sent from there.
"""

from __future__ import annotations

import socket
import time
import uuid
from urllib.parse import urlsplit

import httpx
import pytest

pytestmark = pytest.mark.faults
STALLED = 50  # per server worker (2), more than its pool: DATABASE_POOL_SIZE 10 + as many overflow
EXPORT_BYTES = 12_000_000  # well past what socket buffers on both ends can absorb


def ensure_a_large_export(api: httpx.Client) -> int:
    size = len(api.get("/api/products/export").content)
    if size >= EXPORT_BYTES:
        return size
    run = uuid.uuid4().hex[:6].upper()
    rows = (EXPORT_BYTES - size) // 2_000 + 100  # a row exports to a little over 2 kB
    lines = ["sku,name,description,category,price,quantity,low_stock_threshold"]
    lines += [f"EXP-{run}-{n:05d},Export bulk,{'d' * 2000},Bulk,1.00,1,0" for n in range(rows)]
    for start in range(0, rows, 4_000):  # under the 20 MB upload limit per file
        chunk = "\n".join([lines[0], *lines[1 + start : 1 + start + 4_000]]) + "\n"
        response = api.post(
            "/api/products/import", files={"file": ("bulk.csv", chunk.encode(), "text/csv")}, timeout=300
        )
        assert response.status_code == 200 and not response.json()["errors"], response.text[:500]
    return len(api.get("/api/products/export").content)


def stalled_export(app_url: str, authorization: str) -> socket.socket:
    host, port = urlsplit(app_url).hostname, urlsplit(app_url).port
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 2048)
    sock.connect((host, port))
    sock.sendall(
        f"GET /api/products/export HTTP/1.1\r\nHost: {host}\r\nAuthorization: {authorization}\r\n\r\n".encode()
    )
    return sock  # and never read


def test_fifty_stalled_export_readers_leave_reads_and_writes_answering(app_url: str, api: httpx.Client) -> None:
    size = ensure_a_large_export(api)
    assert size >= EXPORT_BYTES
    product = api.post(
        "/api/products", json={"sku": f"STALL-{uuid.uuid4().hex[:8]}", "name": "Stall", "price": "1.00", "quantity": 5}
    ).json()
    sockets = [stalled_export(app_url, api.headers["Authorization"]) for _ in range(STALLED)]
    try:
        time.sleep(3)  # every export has started and its client's buffers are full
        slowest = 0.0
        with httpx.Client(base_url=app_url, headers=api.headers, timeout=10) as other:
            for n in range(20):
                started = time.monotonic()
                # Uncached: a search no one made before, and a write (which also drops cached entries).
                listed = other.get("/api/products", params={"q": f"stall-{uuid.uuid4().hex[:6]}-{n}"})
                adjusted = other.post(
                    f"/api/products/{product['id']}/stock-adjustments", json={"delta": 1, "reason": "received"}
                )
                read = other.get(f"/api/products/{product['id']}")
                slowest = max(slowest, time.monotonic() - started)
                assert (listed.status_code, adjusted.status_code, read.status_code) == (200, 201, 200), (
                    listed.text[:200],
                    adjusted.text[:200],
                )
        print(f"{STALLED} stalled exports of {size / 1e6:.1f} MB: slowest read+write+read {slowest * 1000:.0f} ms")
        assert slowest < 5
        assert read.json()["quantity"] == 25
    finally:
        for sock in sockets:
            sock.close()
