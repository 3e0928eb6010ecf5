"""`make dev` exports the frontend only when its sources changed (`serve --export-if-changed`)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from inventory_app.serve import reflex_run_arguments
from tests.e2e.test_prebuilt_frontend import _copy_sources

pytestmark = pytest.mark.e2e
CHECK = (
    "from inventory_app.frontend_build import export_if_changed; print('EXPORTED' if export_if_changed() else 'KEPT')"
)


def test_export_if_changed_serves_the_prebuilt_frontend_on_the_one_port() -> None:
    assert reflex_run_arguments(["--export-if-changed", "--prebuilt-frontend", "--backend-host", "127.0.0.1"]) == [
        "run",
        "--env",
        "prod",
        "--backend-only",
        "--backend-host",
        "127.0.0.1",
    ]


def test_the_frontend_is_exported_once_and_again_only_after_a_source_changes(tmp_path: Path, stack) -> None:
    _copy_sources(tmp_path)
    env = {
        **os.environ,
        "REFLEX_WEB_WORKDIR": str(tmp_path / ".web"),
        "REFLEX_STATES_WORKDIR": str(tmp_path / ".states"),
    }

    def start() -> str:
        done = subprocess.run(
            [sys.executable, "-c", CHECK], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=900
        )
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
        return done.stdout.strip().splitlines()[-1]

    assert start() == "EXPORTED"  # never built
    assert start() == "KEPT"  # unchanged: a restart serves what is there
    page = tmp_path / "inventory_app" / "ui" / "pages" / "analytics.py"
    page.write_text(page.read_text().replace('"Analytics"', '"Analytics dashboard"', 1))
    assert start() == "EXPORTED"  # a page changed: rebuilt
    assert "Analytics dashboard" in "".join(
        p.read_text(errors="ignore") for p in (tmp_path / ".web").rglob("*.js") if "node_modules" not in p.parts
    )
