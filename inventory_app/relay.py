"""Run the outbox relay alone: `python -m inventory_app.relay` (the app also runs it in-process)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys

from inventory_app.adapters.db import assert_migrated
from inventory_app.adapters.outbox import OutboxRelay
from inventory_app.settings import get_settings


async def main() -> int:
    settings = get_settings()
    assert_migrated()
    relay = OutboxRelay(settings)
    task = asyncio.create_task(relay.run_forever())
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, task.cancel)
    with contextlib.suppress(asyncio.CancelledError):
        await task
    return 0


if __name__ == "__main__":
    logging.basicConfig(level=get_settings().log_level, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    sys.exit(asyncio.run(main()))
