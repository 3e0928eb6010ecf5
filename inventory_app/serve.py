"""`python -m inventory_app.serve`: `reflex run --env prod --single-port`, with room for thousands of SSE streams.

Every open SSE stream is a request in flight, and granian lets each worker run at most `backpressure`
requests at once (default: backlog 1024 / workers). Past it, new requests wait — the streams' and every
API request's alike — so 512 browsers on a 2-worker app would stall the API. Reflex builds granian's
server itself without exposing those settings, so this wrapper raises them before handing over to
Reflex's own CLI; everything else is exactly `reflex run`.
"""

from __future__ import annotations

import resource
import sys
from typing import Any

import granian.server

from inventory_app.settings import get_settings


def _raise_open_files_limit() -> None:
    """Each stream holds a socket: let the process use the hard limit of open files, not the soft one."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard if hard != resource.RLIM_INFINITY else 65536, hard))


class _Server(granian.server.Server):  # type: ignore[misc,valid-type]
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        settings = get_settings()
        kwargs.setdefault("backlog", settings.server_backlog)
        kwargs.setdefault("backpressure", settings.server_max_concurrent_requests)
        super().__init__(*args, **kwargs)


def main(argv: list[str]) -> int:
    _raise_open_files_limit()
    granian.server.Server = _Server  # Reflex imports it by name when it starts the backend
    from reflex.reflex import cli

    sys.argv = ["reflex", "run", "--env", "prod", "--single-port", *argv]
    return cli()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
