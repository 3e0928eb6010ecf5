"""The event history of a product is complete exactly when it holds every version 1..current."""

from __future__ import annotations

from inventory_app.domain.history import history_completeness
from inventory_app.ui.states.product_detail import history_gap


def test_a_log_with_every_version_up_to_the_current_one_is_complete() -> None:
    completeness = history_completeness([3, 1, 2], current_version=3)
    assert completeness.complete
    assert completeness.as_public() == {"complete": True, "versions_in_log": 3, "current_version": 3}


def test_a_log_missing_a_middle_version_is_incomplete() -> None:
    completeness = history_completeness([1, 3], current_version=3)
    assert not completeness.complete
    assert (completeness.versions_in_log, completeness.current_version) == (2, 3)


def test_an_empty_log_for_a_product_with_a_long_ledger_is_incomplete_not_empty() -> None:
    completeness = history_completeness([], current_version=1430)
    assert not completeness.complete
    assert completeness.versions_in_log == 0


def test_versions_outside_one_to_current_do_not_make_up_for_missing_ones() -> None:
    # Version 4 belongs to a write the page has not read yet; 0 and duplicates are not versions of note.
    completeness = history_completeness([0, 1, 1, 4], current_version=3)
    assert not completeness.complete
    assert completeness.versions_in_log == 1


def test_the_page_names_the_gap_only_when_the_api_reports_one() -> None:
    assert history_gap({"data": [], "completeness": history_completeness([1], 5).as_public()}) == "1 of 5 versions"
    assert history_gap({"data": [], "completeness": history_completeness([1, 2], 2).as_public()}) == ""
    assert history_gap({"data": []}) == ""  # a deleted product, or the database was down: nothing to compare
