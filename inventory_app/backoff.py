"""The one retry delay of the code base: exponential, capped, with ±20 % jitter.

Jitter keeps processes that lost the same dependency at the same moment from retrying in lockstep.
"""

from __future__ import annotations

import random


def backoff_delay(attempt: int, initial_s: float, max_s: float) -> float:
    """The wait before retry number `attempt` (1 for the first retry)."""
    return min(max_s, initial_s * 2 ** min(max(0, attempt - 1), 32)) * (0.8 + 0.4 * random.random())


class Backoff:
    """Counts consecutive failures; `reset` after a success starts the delays again from `initial_s`."""

    def __init__(self, initial_s: float, max_s: float) -> None:
        self.initial_s, self.max_s = initial_s, max_s
        self.failures = 0

    def next_delay(self) -> float:
        self.failures += 1
        return backoff_delay(self.failures, self.initial_s, self.max_s)

    def reset(self) -> None:
        self.failures = 0
