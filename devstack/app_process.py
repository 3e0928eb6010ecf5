"""The Reflex app in prod mode (UI + API on one port) as a subprocess, the way `make dev` runs it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from devstack.config import REPO_ROOT


class AppProcess:
    def __init__(
        self, port: int, log_path: Path, env: dict[str, str] | None = None, args: tuple[str, ...] = ()
    ) -> None:
        self.port = port
        self.args = args  # extra `inventory_app.serve` options, e.g. --prebuilt-frontend
        self.url = f"http://127.0.0.1:{port}"
        self.log_path = log_path
        self.env = env or {}
        self.process: subprocess.Popen | None = None

    def start(self, timeout_s: float = 240) -> None:
        """Start it and wait until both the API and the compiled page answer."""
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = open(self.log_path, "ab")  # noqa: SIM115 - lives as long as the process
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "inventory_app.serve",  # reflex run --env prod --single-port, with granian's limits raised
                "--frontend-port",
                str(self.port),
                "--loglevel",
                "info",
                *self.args,
            ],
            cwd=REPO_ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env={**os.environ, **self.env, "APP_PORT": str(self.port)},
        )
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"app exited early; log: {self.log_path.read_text()[-3000:]}")
            try:
                if (
                    httpx.get(f"{self.url}/api/health", timeout=1).status_code == 200
                    and httpx.get(self.url, timeout=2).status_code == 200
                ):
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        raise RuntimeError(f"app not up after {timeout_s}s; log: {self.log_path.read_text()[-3000:]}")

    def stop(self) -> None:
        """SIGTERM the process group; SIGKILL what is still there after 20 s."""
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
