"""How a worker retries: store outages are waited out (offsets held), handler failures get a bounded budget.

Outages (`DependencyUnavailable`) never use up the budget: a DynamoDB or PostgreSQL outage delays events
and never dead-letters them. It is bounded in time instead (`outage_limit_s`, then the worker exits and
its supervisor restarts it), and a stop request during an outage ends the wait at once, uncommitted.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

from prometheus_client import Counter

from backend_workers.consumed import DependencyUnavailable, StopDuringOutage
from backend_workers.logs import fields
from inventory_app.backoff import backoff_delay
from inventory_app.settings import Settings

log = logging.getLogger("backend_workers.consumer")


class GaveUp(Exception):
    """A call kept failing (not an outage) through its whole budget."""

    def __init__(self, error: Exception, attempts: int) -> None:
        super().__init__(f"failed {attempts} times: {error!r}")
        self.error, self.attempts = error, attempts


class RetryPolicy:
    def __init__(
        self, worker: str, settings: Settings, stopping: asyncio.Event, outage_limit_s: float, retries: Counter
    ) -> None:
        self.worker = worker
        self.initial_s, self.max_s = settings.consumer_backoff_initial_s, settings.consumer_backoff_max_s
        self.stopping = stopping
        self.outage_limit_s = outage_limit_s
        self.retries = retries

    async def wait_out_outages(self, call: Callable[[], Awaitable[None]]) -> None:
        """Run `call`, retrying while it reports an outage; any other error goes to the caller at once."""
        await self.run(call, attempts=None)

    async def run(self, call: Callable[[], Awaitable[None]], attempts: int | None) -> None:
        """Run `call`: outages are waited out, other failures retried with backoff up to `attempts`, then
        GaveUp (with `attempts=None` the first such failure is raised as it is)."""
        attempt = 0
        outage_started: float | None = None
        while True:
            attempt += 1
            try:
                await call()
                return
            except DependencyUnavailable as error:
                outage_started = outage_started or time.monotonic()
                await self._pause_for_outage(error, attempt, outage_started)
            except Exception as error:
                if attempts is None:
                    raise
                if attempt >= attempts:
                    raise GaveUp(error, attempt) from error
                delay = backoff_delay(attempt, self.initial_s, self.max_s)
                log.warning(
                    "handler failed; retrying",
                    extra=fields(worker=self.worker, attempt=attempt, error=repr(error), retry_in_s=round(delay, 2)),
                )
                self.retries.inc()
                await asyncio.sleep(delay)

    async def _pause_for_outage(self, error: DependencyUnavailable, attempt: int, outage_started: float) -> None:
        """Back off while a store is down; offsets stay uncommitted, so nothing is lost whatever happens next."""
        if self.stopping.is_set():
            # Nothing committed past the last good flush: a restart resumes right here.
            raise StopDuringOutage(str(error)) from error
        if time.monotonic() - outage_started > self.outage_limit_s:
            raise SystemExit(f"{self.worker}: dependency down for over {self.outage_limit_s:.0f}s: {error}") from error
        delay = backoff_delay(min(attempt, 8), self.initial_s, self.max_s)
        log.warning(
            "dependency unavailable; offsets held",
            extra=fields(worker=self.worker, error=str(error), retry_in_s=round(delay, 2)),
        )
        self.retries.inc()
        await asyncio.sleep(delay)
