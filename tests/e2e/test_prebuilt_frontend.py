"""`serve --prebuilt-frontend` (the container image's way): the exported frontend and the API from one process."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.conftest import REPO_ROOT, TEST_ENV

pytestmark = pytest.mark.e2e

PORT = int(TEST_ENV["APP_PORT"]) + 7


def _copy_sources(destination: Path) -> None:
    """What the image's `COPY . .` sees: the tracked (and new, not ignored) files, without a `.web`."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard", "--", ".", ":!tests", ":!bench"],
        cwd=REPO_ROOT,
        capture_output=True,
        check=True,
        timeout=30,
    ).stdout.decode()
    for name in filter(None, listed.split("\0")):
        source = REPO_ROOT / name
        if source.is_file():
            (destination / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, destination / name)


@pytest.fixture(scope="module")
def prebuilt_app(tmp_path_factory: pytest.TempPathFactory, stack) -> Iterator[tuple[str, Path]]:
    """The image's two steps in a copy of the sources: export at build time, then serve without compiling."""
    workdir = tmp_path_factory.mktemp("prebuilt")
    _copy_sources(workdir)
    env = {
        **os.environ,
        "APP_PORT": str(PORT),
        "OUTBOX_RELAY_ENABLED": "false",
        "GRANIAN_WORKERS": "1",
        # Its own .web in the copy, as in the image, never the session app's.
        "REFLEX_WEB_WORKDIR": str(workdir / ".web"),
        "REFLEX_STATES_WORKDIR": str(workdir / ".states"),
    }
    subprocess.run(
        [sys.executable, "-m", "reflex", "export", "--frontend-only", "--no-zip"],
        cwd=workdir,
        env=env,
        check=True,
        timeout=600,
        capture_output=True,
    )
    # As in the image: the runtime copy keeps only the exported files of .web.
    for entry in (workdir / ".web").iterdir():
        if entry.name != "build":
            shutil.rmtree(entry) if entry.is_dir() else entry.unlink()
    log_path = workdir / "app.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "inventory_app.serve", "--prebuilt-frontend", "--frontend-port", str(PORT)],
            cwd=workdir,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{PORT}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, f"app exited: {log_path.read_text()[-3000:]}"
            try:
                if httpx.get(f"{url}/api/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, f"app not up in 60 s: {log_path.read_text()[-3000:]}"
            time.sleep(0.3)
        yield url, log_path
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


@pytest.mark.parametrize("path", ["/", "/products/1", "/analytics", "/api/health"])
def test_prebuilt_app_answers_pages_and_api_with_200(prebuilt_app: tuple[str, Path], path: str) -> None:
    url, _log = prebuilt_app
    response = httpx.get(f"{url}{path}", timeout=10, follow_redirects=True)
    assert response.status_code == 200, response.text[:500]


def test_prebuilt_app_does_not_compile_the_frontend_at_start(prebuilt_app: tuple[str, Path]) -> None:
    _url, log_path = prebuilt_app
    assert "Compiling" not in log_path.read_text()


def test_prebuilt_app_page_renders_in_a_browser(prebuilt_app: tuple[str, Path], page: Page) -> None:
    url, _log = prebuilt_app
    page.goto(url)
    # Any first heading: the page rendered from the exported bundle and hydrated over the websocket.
    expect(page.locator("h1").first).to_be_visible(timeout=20_000)
