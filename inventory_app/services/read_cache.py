"""A per-process cache of encoded product reads, invalidated by every committed product change.

Why it is correct: each process drops entries (a) right after its own commits, for read-your-writes on
the same process, and (b) when PostgreSQL's `product_changes` notification arrives, for commits made
anywhere else (other workers, the CSV import, a psql session). A read only stores its result if no
invalidation happened while it ran (the generation token), so a slow read can never put back a value
that an invalidation already removed. While the notification listener is not connected the cache is
switched off: nothing is served from it and nothing is stored.

What it does not promise: another process sees a commit once the notification reaches it, which is
normally well under a millisecond after the commit (README: measured figures).
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Hashable, Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class CachedResponse:
    body: bytes
    etag: str | None = None


class _Entries:
    """LRU entries with a backstop expiry (invalidation, not expiry, keeps them correct)."""

    def __init__(self, max_entries: int, ttl_s: float) -> None:
        self.max_entries = max_entries
        self.ttl_s = ttl_s
        self.items: OrderedDict[Hashable, tuple[float, CachedResponse]] = OrderedDict()

    def get(self, key: Hashable) -> CachedResponse | None:
        item = self.items.get(key)
        if item is None or item[0] < time.monotonic():
            return None
        self.items.move_to_end(key)
        return item[1]

    def put(self, key: Hashable, value: CachedResponse) -> None:
        self.items[key] = (time.monotonic() + self.ttl_s, value)
        self.items.move_to_end(key)
        while len(self.items) > self.max_entries:
            self.items.popitem(last=False)


class ReadCache:
    def __init__(self, max_entries: int = 10_000, ttl_s: float = 300.0) -> None:
        self._products = _Entries(max_entries, ttl_s)
        self._lists = _Entries(max(1, max_entries // 10), ttl_s)
        self._generation = 0
        self._active = False
        # Invalidations come from the event loop (notifications) and from worker threads (commits).
        self._lock = threading.Lock()

    @property
    def active(self) -> bool:
        return self._active

    def activate(self) -> None:
        """The change listener is connected: start from empty, since changes may have been missed."""
        self._reset(active=True)

    def deactivate(self) -> None:
        self._reset(active=False)

    def _reset(self, *, active: bool) -> None:
        with self._lock:
            self._generation += 1
            self._products.items.clear()
            self._lists.items.clear()
            self._active = active

    def token(self) -> int:
        """Take before reading the database; pass to `put_*` with the result."""
        return self._generation

    def get_product(self, product_id: str) -> CachedResponse | None:
        return self._get(self._products, product_id)

    def get_list(self, query_string: Hashable) -> CachedResponse | None:
        return self._get(self._lists, query_string)

    def put_product(self, product_id: str, value: CachedResponse, token: int) -> None:
        self._put(self._products, product_id, value, token)

    def put_list(self, query_string: Hashable, value: CachedResponse, token: int) -> None:
        self._put(self._lists, query_string, value, token)

    def _get(self, entries: _Entries, key: Hashable) -> CachedResponse | None:
        if not self._active:
            return None
        with self._lock:
            return entries.get(key)

    def _put(self, entries: _Entries, key: Hashable, value: CachedResponse, token: int) -> None:
        with self._lock:
            if self._active and token == self._generation:  # else: something changed during the read
                entries.put(key, value)

    def invalidate(self, product_ids: Iterable[object]) -> None:
        """Products changed: drop them and every cached list (any list may contain or count them)."""
        ids = [str(p) for p in product_ids]
        if not ids:
            return
        with self._lock:
            self._generation += 1
            for product_id in ids:
                self._products.items.pop(product_id, None)
            self._lists.items.clear()

    def __len__(self) -> int:
        return len(self._products.items) + len(self._lists.items)


_cache = ReadCache()


def get_read_cache() -> ReadCache:
    return _cache
