"""Small helpers to run a detached service process with a pid file and a log, and to wait for it."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path


class ServiceError(RuntimeError):
    """A service could not be started or stopped; the message names it and shows its log tail."""


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie child still answers kill(0); treat it as gone.
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return True


def read_pid(pid_file: Path) -> int | None:
    try:
        pid = int(pid_file.read_text().strip())
    except (OSError, ValueError):
        return None
    return pid if pid_alive(pid) else None


def spawn(
    cmd: list[str],
    log_file: Path,
    pid_file: Path,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    user: str | None = None,
) -> int:
    """Start `cmd` in its own session so it outlives this command and Ctrl-C in a terminal."""
    log_file.parent.mkdir(parents=True, exist_ok=True)
    if user:
        cmd = ["runuser", "-u", user, "--", *cmd]
    with open(log_file, "ab") as log:
        proc = subprocess.Popen(
            cmd,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env={**os.environ, **(env or {})},
            cwd=cwd,
            start_new_session=True,
        )
    pid_file.write_text(str(proc.pid))
    return proc.pid


def terminate(pid: int, sig: int = signal.SIGTERM, timeout_s: float = 30.0) -> None:
    """Send `sig`, wait up to `timeout_s`, then SIGKILL the whole process group."""
    try:
        os.killpg(pid, sig)
    except ProcessLookupError:
        return
    except PermissionError:
        os.kill(pid, sig)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if not pid_alive(pid):
            return
        time.sleep(0.1)
    try:
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + 5
    while pid_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)


def port_open(host: str, port: int, timeout_s: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            return True
    except OSError:
        return False


def wait_until(
    check: Callable[[], bool],
    timeout_s: float,
    interval_s: float = 0.2,
    still_running: Callable[[], bool] | None = None,
) -> bool:
    """Poll `check` until it is true or the timeout passes; stop early if the process died."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if check():
                return True
        except Exception:  # noqa: BLE001 - any failure of a probe means 'not ready yet'
            pass
        if still_running is not None and not still_running():
            return False
        time.sleep(interval_s)
    return False


def log_tail(log_file: Path, lines: int = 30) -> str:
    try:
        content = log_file.read_text(errors="replace").splitlines()
    except OSError:
        return "(no log)"
    return "\n".join(content[-lines:])
