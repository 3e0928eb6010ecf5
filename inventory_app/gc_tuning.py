"""The garbage collector tuned for long-running servers: collect young objects less often.

CPython starts a young collection whenever 700 more container objects have been allocated than freed.
A server worker with dozens of requests in flight crosses that many times a second on objects that are
about to be freed anyway: under the write load of `bench.ratios` a worker ran ~50 young collections a
second that found almost nothing to free, and spent 5 to 7 % of its CPU in the collector (bench/NOTES.md,
fifth pass). At 10,000 it runs about one every few seconds. Cycles are still found (the older generations'
thresholds are CPython's own); the cost is at most ~10,000 more objects held between collections.
"""

from __future__ import annotations

import gc

YOUNG_THRESHOLD = 10_000


def tune_for_serving() -> None:
    """Raise the young generation's threshold, keeping the older ones; never lowers a higher setting."""
    young, older, oldest = gc.get_threshold()
    if 0 < young < YOUNG_THRESHOLD:  # 0: the collector was switched off on purpose; leave it so
        gc.set_threshold(YOUNG_THRESHOLD, older, oldest)
