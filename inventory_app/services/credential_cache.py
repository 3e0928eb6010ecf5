"""The per-process cache of checked credentials (bearer tokens and sessions), keyed by their hashes.

Entries live `credential_cache_ttl_s` and never past the credential's own expiry; any change to a
credential anywhere empties every process's cache (the change feed calls `clear`), and while that
listener is down the cache is off (`deactivate`), so a revocation is never missed.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from dataclasses import dataclass
from datetime import UTC, datetime

from inventory_app.domain.identity import Principal
from inventory_app.services.identity import Checked

MAX_ENTRIES = 10_000


@dataclass(frozen=True)
class _Entry:
    principal: Principal
    valid_until: datetime  # the credential's own expiry (absolute, or idle for a session)
    cached_until: float  # time.monotonic()


class CredentialCache:
    def __init__(self, ttl_s: float) -> None:
        self.ttl_s = ttl_s
        self._entries: OrderedDict[str, _Entry] = OrderedDict()
        self.active = False
        self.generation = 0

    def activate(self) -> None:
        self.clear()
        self.active = True

    def deactivate(self) -> None:
        self.active = False
        self.clear()

    def clear(self) -> None:
        self._entries.clear()
        self.generation += 1  # a lookup that started before the change must not store its answer

    def get(self, key: str) -> Principal | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        if time.monotonic() >= entry.cached_until or datetime.now(UTC) >= entry.valid_until:
            self._entries.pop(key, None)
            return None
        return entry.principal

    def put(self, key: str, checked: Checked, generation: int) -> None:
        ttl = self.ttl_s
        if not self.active or ttl <= 0 or generation != self.generation:
            return
        self._entries[key] = _Entry(checked.principal, checked.valid_until, time.monotonic() + ttl)
        self._entries.move_to_end(key)
        while len(self._entries) > MAX_ENTRIES:
            self._entries.popitem(last=False)
