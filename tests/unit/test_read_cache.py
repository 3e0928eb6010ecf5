"""The read cache: served only while active, never stores a read that raced an invalidation, bounded."""

from __future__ import annotations

import pytest

from inventory_app.services.read_cache import CachedResponse, ReadCache

A = "7c4f2f8e-9a51-4e0b-9d40-6f7f6f1f0a01"
B = "0b8d6a52-1c2e-4c39-a6f3-9a7f0e5d3b02"


@pytest.fixture()
def cache() -> ReadCache:
    cache = ReadCache(max_entries=20)
    cache.activate()
    return cache


def test_an_inactive_cache_neither_stores_nor_serves() -> None:
    cache = ReadCache()
    cache.put_product(A, CachedResponse(b"{}"), cache.token())
    assert cache.get_product(A) is None
    cache.activate()
    assert cache.get_product(A) is None


def test_a_stored_read_is_served_until_its_product_changes(cache: ReadCache) -> None:
    cache.put_product(A, CachedResponse(b'{"version":1}', '"1"'), cache.token())
    cache.put_product(B, CachedResponse(b'{"version":4}', '"4"'), cache.token())
    assert cache.get_product(A) == CachedResponse(b'{"version":1}', '"1"')
    cache.invalidate([A])
    assert cache.get_product(A) is None
    assert cache.get_product(B) is not None  # another product's entry survives


def test_any_product_change_drops_every_cached_list(cache: ReadCache) -> None:
    cache.put_list(b"sort=name&limit=50", CachedResponse(b"[]"), cache.token())
    assert cache.get_list(b"sort=name&limit=50") is not None
    cache.invalidate([B])
    assert cache.get_list(b"sort=name&limit=50") is None


def test_a_read_that_raced_an_invalidation_is_not_stored(cache: ReadCache) -> None:
    token = cache.token()  # the read starts: it may see the row before the change...
    cache.invalidate([A])  # ...which commits (and is announced) while the read runs
    cache.put_product(A, CachedResponse(b'{"version":1}'), token)
    assert cache.get_product(A) is None


def test_losing_the_change_feed_empties_and_disables_the_cache(cache: ReadCache) -> None:
    cache.put_product(A, CachedResponse(b"{}"), cache.token())
    token = cache.token()
    cache.deactivate()
    cache.put_product(B, CachedResponse(b"{}"), token)
    cache.activate()
    assert cache.get_product(A) is None
    assert cache.get_product(B) is None
    assert len(cache) == 0


def test_the_least_recently_used_entries_go_first_past_the_bound(cache: ReadCache) -> None:
    ids = [f"00000000-0000-0000-0000-{n:012d}" for n in range(25)]
    for product_id in ids:
        cache.put_product(product_id, CachedResponse(b"{}"), cache.token())
        cache.get_product(ids[0])  # keep the first one hot
    assert cache.get_product(ids[0]) is not None
    assert cache.get_product(ids[1]) is None
    assert cache.get_product(ids[-1]) is not None
    assert len(cache) == 20


def test_a_list_page_has_one_entry_whatever_the_order_of_its_parameters(cache: ReadCache) -> None:
    cache.put_list(b"limit=50&q=bolt", CachedResponse(b"[1]"), cache.token())
    assert cache.get_list(b"q=bolt&limit=50") == CachedResponse(b"[1]")
    assert cache.get_list(b"q=bolt&limit=20") is None


def test_ten_thousand_junk_parameters_add_no_entry_and_evict_nothing(cache: ReadCache) -> None:
    cache.put_list(b"limit=200", CachedResponse(b"[real]"), cache.token())
    for n in range(10_000):
        for junk in (f"limit=200&_={n}", f"limit=200&limit={n}", f"limit=200&%ff={n}"):
            cache.put_list(junk.encode(), CachedResponse(b"[junk]"), cache.token())
            assert cache.get_list(junk.encode()) is None
    assert cache.get_list(b"limit=200") == CachedResponse(b"[real]")
    assert len(cache) == 1


def test_the_cache_stays_within_its_bytes_however_many_distinct_pages_are_read() -> None:
    cache = ReadCache(max_bytes=1024 * 1024)
    cache.activate()
    page = CachedResponse(b"x" * 10_000)
    for n in range(10_000):
        cache.put_list(f"q=junk{n}".encode(), page, cache.token())
        cache.put_product(f"00000000-0000-0000-0000-{n:012d}", page, cache.token())
    assert 0 < cache.bytes <= 1024 * 1024
    assert cache.get_list(b"q=junk9999") == page  # the newest stay
    assert cache.get_list(b"q=junk0") is None
    cache.put_list(b"q=huge", CachedResponse(b"x" * 2_000_000), cache.token())  # larger than the budget
    assert cache.get_list(b"q=huge") is None and cache.bytes <= 1024 * 1024


def test_a_disabled_cache_stays_off_when_the_change_feed_connects() -> None:
    """READ_CACHE_ENABLED=false: every product read goes to PostgreSQL (the bench's uncached runs)."""
    cache = ReadCache(enabled=False)
    cache.activate()
    cache.put_product("p", CachedResponse(b"{}"), cache.token())
    assert not cache.active and cache.get_product("p") is None
