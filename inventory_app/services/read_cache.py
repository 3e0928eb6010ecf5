"""A per-process cache of encoded product reads, invalidated by every committed product change.

Why it is correct: each process drops entries (a) right after its own commits, for read-your-writes on
the same process, and (b) when PostgreSQL's `product_changes` notification arrives, for commits made
anywhere else (other workers, the CSV import, a psql session). A read only stores its result if no
invalidation happened while it ran (the generation token), so a slow read can never put back a value
that an invalidation already removed. While the notification listener is not connected the cache is
switched off: nothing is served from it and nothing is stored.

What it does not promise: another process sees a commit once the notification reaches it, which is
normally well under a millisecond after the commit (README: measured figures).

What it holds: at most `max_bytes` of responses (least recently used go first), and list pages only under
a canonical key of their known parameters (`list_key`): a client cannot grow it with junk parameters, which
the list route refuses (422), nor split one page into many entries by reordering them.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Hashable, Iterable
from dataclasses import dataclass
from urllib.parse import parse_qsl


@dataclass(frozen=True)
class CachedResponse:
    body: bytes
    etag: str | None = None


LIST_PARAMETERS = frozenset({"q", "category", "low_stock", "location_id", "sort", "limit", "offset"})
ENTRY_OVERHEAD = 200  # bytes per entry beyond its body: key, tuple, dict slot (roughly)


def list_key(query_string: bytes) -> tuple[tuple[str, str], ...] | None:
    """The cache key of a list page: its known parameters, sorted. None (not cacheable) for anything else:
    an unknown or repeated parameter, or a query string that does not decode."""
    try:
        pairs = parse_qsl(query_string.decode("ascii"), keep_blank_values=True, strict_parsing=bool(query_string))
    except (UnicodeDecodeError, ValueError):
        return None
    names = [name for name, _ in pairs]
    if len(set(names)) != len(names) or not LIST_PARAMETERS.issuperset(names):
        return None
    return tuple(sorted(pairs))


class _Entries:
    """LRU entries bounded in count and bytes, with a backstop expiry (invalidation keeps them correct)."""

    def __init__(self, max_entries: int, max_bytes: int, ttl_s: float) -> None:
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self.ttl_s = ttl_s
        self.bytes = 0
        self.items: OrderedDict[Hashable, tuple[float, CachedResponse]] = OrderedDict()

    @staticmethod
    def _size(value: CachedResponse) -> int:
        return len(value.body) + ENTRY_OVERHEAD

    def get(self, key: Hashable) -> CachedResponse | None:
        item = self.items.get(key)
        if item is None or item[0] < time.monotonic():
            return None
        self.items.move_to_end(key)
        return item[1]

    def put(self, key: Hashable, value: CachedResponse) -> None:
        if self._size(value) > self.max_bytes:
            return  # larger than the whole budget: never cached
        self.pop(key)
        self.items[key] = (time.monotonic() + self.ttl_s, value)
        self.bytes += self._size(value)
        while len(self.items) > self.max_entries or self.bytes > self.max_bytes:
            _, (_, evicted) = self.items.popitem(last=False)
            self.bytes -= self._size(evicted)

    def pop(self, key: Hashable) -> None:
        item = self.items.pop(key, None)
        if item is not None:
            self.bytes -= self._size(item[1])

    def clear(self) -> None:
        self.items.clear()
        self.bytes = 0


class ReadCache:
    def __init__(
        self, max_entries: int = 10_000, ttl_s: float = 300.0, max_bytes: int = 64 * 1024 * 1024, enabled: bool = True
    ) -> None:
        # A disabled cache never activates: every read is a miss (READ_CACHE_ENABLED=false).
        self.enabled = enabled
        # Lists are few but large (a page of 200 products is ~100 kB): they get three quarters of the bytes.
        self._products = _Entries(max_entries, max_bytes // 4, ttl_s)
        self._lists = _Entries(max(1, max_entries // 10), max_bytes - max_bytes // 4, ttl_s)
        self._generation = 0
        self._active = False
        # Everything runs on the event loop today; the lock keeps the cache safe for a thread that reads it.
        self._lock = threading.Lock()

    @property
    def active(self) -> bool:
        return self._active

    def activate(self) -> None:
        """The change listener is connected: start from empty, since changes may have been missed."""
        self._reset(active=self.enabled)

    def clear(self) -> None:
        """Everything may have changed (e.g. the location tree, which location-filtered lists depend on)."""
        self._reset(active=self._active)

    def deactivate(self) -> None:
        self._reset(active=False)

    def _reset(self, *, active: bool) -> None:
        with self._lock:
            self._generation += 1
            self._products.clear()
            self._lists.clear()
            self._active = active

    def token(self) -> int:
        """Take before reading the database; pass to `put_*` with the result."""
        return self._generation

    def get_product(self, product_id: str) -> CachedResponse | None:
        return self._get(self._products, product_id)

    def get_list(self, query_string: bytes) -> CachedResponse | None:
        key = list_key(query_string)
        return None if key is None else self._get(self._lists, key)

    def put_product(self, product_id: str, value: CachedResponse, token: int) -> None:
        self._put(self._products, product_id, value, token)

    def put_list(self, query_string: bytes, value: CachedResponse, token: int) -> None:
        key = list_key(query_string)
        if key is not None:
            self._put(self._lists, key, value, token)

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
                self._products.pop(product_id)
            self._lists.clear()

    def __len__(self) -> int:
        return len(self._products.items) + len(self._lists.items)

    @property
    def bytes(self) -> int:
        return self._products.bytes + self._lists.bytes
