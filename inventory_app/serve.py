"""`python -m inventory_app.serve`: `reflex run --env prod --single-port`, with room for thousands of SSE streams.

`--prebuilt-frontend` serves the frontend that `reflex export --frontend-only --no-zip` left in
`.web/build/client` instead of compiling and exporting it again (the container image builds it once;
`make dev` adds `--export-if-changed`, which re-exports only when the sources changed, see frontend_build.py):
it runs `reflex run --env prod --backend-only` and mounts those files on the same port, exactly as
`--single-port` does. That mount is Reflex's private `run_backend_prod(mount_frontend_compiled_app=...)`
path, so reflex is pinned and tests/e2e/test_prebuilt_frontend.py checks `/` and deep pages answer.

Every open SSE stream is a request in flight, and granian lets each worker run at most `backpressure`
requests at once (default: backlog 1024 / workers). Past it, new requests wait — the streams' and every
API request's alike — so 512 browsers on a 2-worker app would stall the API. Reflex builds granian's
server itself without exposing those settings, so this wrapper raises them before handing over to
Reflex's own CLI. It also points granian at `inventory_app/asgi.py`, which hands most `/api` requests to the
API app directly instead of through Reflex's outer layer; everything else is exactly `reflex run`.
"""

from __future__ import annotations

import os
import resource
import sys
from typing import Any

import granian.server

from inventory_app.settings import get_settings

EXPORT_IF_CHANGED = "--export-if-changed"


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
        from reflex.utils.exec import get_app_instance

        if kwargs.get("target") == get_app_instance():  # the Reflex app: serve it with the API's fast lane
            from inventory_app.asgi import TARGET

            kwargs["target"] = TARGET
        super().__init__(*args, **kwargs)


def _mount_prebuilt_frontend() -> None:
    """Make `--backend-only` mount the exported frontend like `--single-port` does, without rebuilding it."""
    from reflex import constants
    from reflex.utils import exec as reflex_exec
    from reflex.utils.prerequisites import get_web_dir

    index = get_web_dir() / constants.Dirs.STATIC / "index.html"  # where the export leaves the pages
    if not index.is_file():
        raise SystemExit(f"--prebuilt-frontend: no {index}; run `reflex export --frontend-only --no-zip`")

    run_backend_prod = reflex_exec.run_backend_prod

    def run_backend_prod_with_frontend(host: str, port: int, loglevel: Any = None, *_: Any, **__: Any) -> None:
        args = (host, port) if loglevel is None else (host, port, loglevel)
        run_backend_prod(*args, mount_frontend_compiled_app=True)

    reflex_exec.run_backend_prod = run_backend_prod_with_frontend  # reflex.reflex calls it as exec.run_backend_prod
    # rxconfig sets frontend_port, and `reflex run --backend-only` refuses to start when one is configured;
    # 0 passes that check, and Reflex then sets both ports to the one it serves on.
    os.environ["REFLEX_FRONTEND_PORT"] = "0"


def reflex_run_arguments(argv: list[str]) -> list[str]:
    """The `reflex run` command line for our own arguments: single-port by default, or the prebuilt frontend."""
    if "--backend-host" not in argv:
        # Loopback unless configured: an app reachable from the network must be meant to be.
        argv = ["--backend-host", get_settings().app_host, *argv]
    if "--prebuilt-frontend" not in argv:
        return ["run", "--env", "prod", "--single-port", *argv]
    # With --backend-only Reflex refuses --frontend-port; the one port is the backend's.
    ours = ("--prebuilt-frontend", EXPORT_IF_CHANGED)
    passed = ["--backend-port" if arg == "--frontend-port" else arg for arg in argv if arg not in ours]
    return ["run", "--env", "prod", "--backend-only", *passed]


def main(argv: list[str]) -> int:
    _raise_open_files_limit()
    granian.server.Server = _Server  # Reflex imports it by name when it starts the backend
    if EXPORT_IF_CHANGED in argv and "--prebuilt-frontend" not in argv:
        argv = ["--prebuilt-frontend", *argv]
    arguments = reflex_run_arguments(argv)
    if EXPORT_IF_CHANGED in argv:
        from inventory_app.frontend_build import export_if_changed

        export_if_changed()
    if "--prebuilt-frontend" in argv:
        _mount_prebuilt_frontend()
    from reflex.reflex import cli

    sys.argv = ["reflex", *arguments]
    return cli()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
