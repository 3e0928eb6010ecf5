"""The server processes' collector threshold (inventory_app/gc_tuning.py)."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from inventory_app.gc_tuning import YOUNG_THRESHOLD, tune_for_serving


@pytest.fixture(autouse=True)
def restored_threshold() -> Iterator[None]:
    before = gc.get_threshold()
    yield
    gc.set_threshold(*before)


def test_raises_the_young_threshold_and_keeps_the_older_ones() -> None:
    gc.set_threshold(700, 10, 12)
    tune_for_serving()
    assert gc.get_threshold() == (YOUNG_THRESHOLD, 10, 12)


def test_never_lowers_a_higher_threshold_nor_switches_a_disabled_collector_back_on() -> None:
    gc.set_threshold(YOUNG_THRESHOLD * 5, 10, 10)
    tune_for_serving()
    assert gc.get_threshold()[0] == YOUNG_THRESHOLD * 5
    gc.set_threshold(0, 10, 10)
    tune_for_serving()
    assert gc.get_threshold()[0] == 0
