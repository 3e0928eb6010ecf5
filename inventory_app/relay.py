"""Run the outbox relay alone: `python -m inventory_app.relay` (the app also runs it in-process)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys
import threading

from inventory_app.adapters.db import assert_migrated
from inventory_app.adapters.outbox import OutboxRelay
from inventory_app.gc_tuning import tune_for_serving
from inventory_app.settings import get_settings

log = logging.getLogger("inventory_app.relay")
# A stop is bounded: a Kafka client that does not finish stopping (its background tasks can outlive a
# cancelled transaction) must not keep the process alive. Exiting mid-batch is safe: the relay is built
# to be killed at any point (the relay-state record repairs the batch on the next start).
SHUTDOWN_LIMIT_S = 15.0


def _exit_after(limit_s: float) -> None:
    def give_up() -> None:
        log.warning("relay did not stop within %.0fs; exiting now", limit_s)
        logging.shutdown()
        os._exit(1)

    timer = threading.Timer(limit_s, give_up)
    timer.daemon = True
    timer.start()


async def main() -> int:
    settings = get_settings()
    assert_migrated()
    relay = OutboxRelay(settings)
    task = asyncio.create_task(relay.run_forever())
    loop = asyncio.get_running_loop()

    def stop() -> None:
        log.info("stop requested")
        _exit_after(SHUTDOWN_LIMIT_S)
        task.cancel()

    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop)
    with contextlib.suppress(asyncio.CancelledError):
        await task
    log.info("relay stopped")
    return 0


if __name__ == "__main__":
    logging.basicConfig(level=get_settings().log_level, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    tune_for_serving()
    sys.exit(asyncio.run(main()))
