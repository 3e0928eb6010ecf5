"""Whether a product's event history is whole: the rule that turns "no events" into an honest message."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class HistoryCompleteness:
    versions_in_log: int
    current_version: int

    @property
    def complete(self) -> bool:
        return self.versions_in_log >= self.current_version

    def as_public(self) -> dict[str, Any]:
        return {
            "complete": self.complete,
            "versions_in_log": self.versions_in_log,
            "current_version": self.current_version,
        }


def history_completeness(versions_in_log: Iterable[int], current_version: int) -> HistoryCompleteness:
    """The log is complete when it holds an event for every version 1..current of the product.

    Each create, edit and stock adjustment writes exactly one event carrying the version it produced
    (versions start at 1 and go up by one), so a missing version is a missing event. Versions outside
    1..current (an event of a newer write the page has not read yet) do not count either way.
    """
    present = {v for v in versions_in_log if 1 <= v <= current_version}
    return HistoryCompleteness(versions_in_log=len(present), current_version=max(0, current_version))
