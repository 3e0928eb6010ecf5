"""Test fixtures: the test stack once per run, a migrated test database, the app in prod mode, a browser."""

from __future__ import annotations

import contextlib
import fcntl
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

# The test run has a stack of its own (own ports and state folder, see devstack/config.py), selected
# before anything reads StackConfig; `DEVSTACK_STACK=test-b DEVSTACK_PORT_OFFSET=200` runs a second one.
os.environ.setdefault("DEVSTACK_STACK", "test")

from devstack.app_process import AppProcess  # noqa: E402
from devstack.config import DEFAULT_STACK, StackConfig  # noqa: E402
from devstack.processes import pid_alive  # noqa: E402

STACK = StackConfig()
if STACK.name == DEFAULT_STACK:
    raise pytest.UsageError(
        "the tests stop and restart services: they refuse the dev stack. Unset DEVSTACK_STACK (or set it to test)."
    )
# Fixtures for tests that run the workers as processes (`stores`, `start_worker`).
pytest_plugins = ["tests.worker_support"]
RUN_ID = uuid.uuid4().hex[:8]

# Tests never touch the developer's data: their own stack, and on it their own database, topics, table
# and bucket. The names are fixed (not per run) because every test app's relay drains the one test
# outbox; tests tell their own events apart by product id, and tests that count exactly use private
# topics of their own.
TEST_ENV = {
    **STACK.env_exports(),
    "DATABASE_URL": os.environ.get("TEST_DATABASE_URL_OVERRIDE", STACK.test_database_url),
    "KAFKA_TOPIC_PRODUCT_EVENTS": "test.product-events",
    "KAFKA_TOPIC_NOTIFICATIONS": "test.notifications",
    "KAFKA_TOPIC_DEAD_LETTERS": "test.dead-letters",
    "DYNAMODB_EVENTS_TABLE": "test-events",
    "S3_ARCHIVE_BUCKET": "test-event-archive",
    "NOTIFIER_GROUP_ID": "test-notifier",
    "ANALYTICS_GROUP_ID": "test-analytics",
    "OUTBOX_POLL_INTERVAL_S": "0.5",
    "CONSUMER_SESSION_TIMEOUT_MS": "6000",
    "NOTIFIER_ARCHIVE_INTERVAL_S": "1.0",
    # Tests start notifiers on fresh tables all the time; each would otherwise replay the shared test
    # topic first. The rebuild tests turn it on for their own topics.
    "NOTIFIER_REBUILD_ON_START": "false",
    "APP_PORT": os.environ.get("TEST_APP_PORT", "3130"),
    # The app runs as `make dev` runs it: two server workers sharing UI state in the test stack's Redis.
    "GRANIAN_WORKERS": "2",
    "REFLEX_REDIS_URL": STACK.redis_url,
    # Reflex writes the app's port into the exported frontend: a test app sharing `.web` with `make dev`
    # would re-export it under the running dev app and point its browsers at the test app.
    "REFLEX_WEB_WORKDIR": str(STACK.state_dir / "web"),
    "REFLEX_STATES_WORKDIR": str(STACK.state_dir / "states"),
    # Every test signs in from 127.0.0.1, and the contract run tries thousands of wrong passwords: the
    # per-address limit is tested with its own addresses (test_identity_services.py).
    "SIGNIN_MAX_FAILURES_PER_ADDRESS": "1000000",
    # The fan-out tests open 1,300 streams with the test editor's one token; the cap itself is tested on
    # a second app instance with a cap of 3 (tests/e2e/test_two_app_instances.py).
    "SSE_MAX_STREAMS_PER_USER": "5000",
    "REFLEX_TELEMETRY_ENABLED": "false",
    "REFLEX_CHECK_LATEST_VERSION": "false",
    "REFLEX_USE_SYSTEM_BUN": "1",
}
os.environ.update(TEST_ENV)
os.environ["PATH"] = f"{REPO_ROOT / '.tools/bun/node_modules/.bin'}:{Path(sys.executable).parent}:{os.environ['PATH']}"

ARTIFACTS = REPO_ROOT / "tests" / "artifacts"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


def run_async(coroutine):
    from tests.support import run_async as run

    return run(coroutine)


def devstack(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "devstack", *args], cwd=REPO_ROOT, check=True, timeout=300)


@contextlib.contextmanager
def _stack_lock() -> Iterator[Path]:
    """Serialise starting, joining and stopping the test stack between pytest sessions on one checkout."""
    STACK.state_dir.mkdir(parents=True, exist_ok=True)
    with open(STACK.state_dir / "sessions.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            sessions = STACK.state_dir / "sessions"
            sessions.mkdir(exist_ok=True)
            yield sessions
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


UNIT_TESTS = REPO_ROOT / "tests" / "unit"


@pytest.fixture(autouse=True)
def _services_for_non_unit_tests(request: pytest.FixtureRequest) -> None:
    """Every test outside tests/unit gets the stack (started once per run) and its topics; unit tests run
    against fakes, so `pytest tests/unit` needs no PostgreSQL, Kafka, moto or browser."""
    if UNIT_TESTS not in Path(request.node.path).parents:
        request.getfixturevalue("topics")


@pytest.fixture(scope="session")
def stack() -> Iterator[StackConfig]:
    """The test stack's services, started by the run (idempotent), migrated, and stopped at its end.

    Every session holds a lease (a file named by its pid); the last one to leave stops the stack, so two
    sessions sharing a stack do not pull it from under each other. A crashed session's lease is
    ignored once its pid is gone; `make down-test` stops a stack a killed run left behind.
    """
    lease = None
    with _stack_lock() as sessions:
        devstack("up")
        lease = sessions / str(os.getpid())
        lease.touch()
    try:
        subprocess.run([sys.executable, "-m", "alembic", "upgrade", "head"], cwd=REPO_ROOT, check=True, timeout=120)
        yield STACK
    finally:
        with _stack_lock() as sessions:
            lease.unlink(missing_ok=True)
            others = [p for p in sessions.iterdir() if p.name.isdigit() and pid_alive(int(p.name))]
            if not others and os.environ.get("TEST_KEEP_STACK", "") in ("", "0", "false"):
                devstack("down")


@pytest.fixture(scope="session")
def settings(stack: StackConfig):
    from inventory_app.settings import get_settings

    get_settings.cache_clear()
    return get_settings()


@pytest.fixture(scope="session")
def engine(settings):
    """SQLAlchemy, for the tests' own checks on the database (the app itself runs on its psycopg pool)."""
    from sqlalchemy import create_engine

    engine = create_engine(settings.database_url, pool_size=5, pool_pre_ping=True)
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def topics(settings) -> None:
    """The session's topics exist and the broker's group coordinator is up before any test runs."""
    from inventory_app.adapters.kafka import ensure_topics

    run_async(ensure_topics(settings))
    # The first consumer group on a fresh broker creates __consumer_offsets; until then group calls
    # fail with GroupCoordinatorNotAvailable. Warm it up once so no test meets that start-up state.
    wait_for(lambda: _group_coordinator_ready(settings), 60, 0.5, "the group coordinator")


def _group_coordinator_ready(settings) -> bool:
    from aiokafka import AIOKafkaConsumer

    async def probe() -> bool:
        consumer = AIOKafkaConsumer(
            settings.kafka_topic_product_events,
            bootstrap_servers=settings.kafka_bootstrap_servers,
            group_id=f"test-warmup-{RUN_ID}",
            request_timeout_ms=5000,
        )
        try:
            await consumer.start()
            await consumer.getmany(timeout_ms=1000)
            return bool(consumer.assignment())
        except Exception:  # noqa: BLE001 - not ready yet; probed again
            return False
        finally:
            await consumer.stop()

    return run_async(probe())


def wait_for(check, timeout_s: float, interval_s: float = 0.1, message: str = "condition"):
    """Poll `check` until it returns a truthy value; fail the test after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    last = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(interval_s)
    raise AssertionError(f"timed out after {timeout_s}s waiting for {message} (last: {last!r})")


@pytest.fixture(scope="session")
def app_server(stack, topics) -> Iterator[AppProcess]:
    port = int(TEST_ENV["APP_PORT"])
    server = AppProcess(port, STACK.logs_dir / f"test-app-{port}.log")
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def app_url(app_server: AppProcess) -> str:
    return app_server.url


@dataclass(frozen=True)
class Account:
    email: str
    password: str
    role: str
    user_id: str
    token: str  # a personal API token of the account

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@dataclass(frozen=True)
class Accounts:
    admin: Account
    editor: Account
    viewer: Account


@pytest.fixture(scope="session")
def accounts(stack) -> Accounts:
    """One real account per role (this run's own emails), each with an API token, made the way an
    operator makes them: through the identity service, as `system`."""
    from inventory_app.domain.identity import SYSTEM
    from inventory_app.services import identity

    def make(role: str) -> Account:
        email, password = f"{role}-{RUN_ID}@tests.example", f"{role} password {RUN_ID} long enough"

        async def create() -> Account:
            from inventory_app.adapters.pg_pool import close_pool

            try:
                user = await identity.create_user({"email": email, "role": role, "password": password}, by=SYSTEM)
                token = await identity.create_token_for(email, f"tests ({role})")
                return Account(email, password, role, user["id"], token["token"])
            finally:
                await close_pool()

        return run_async(create())

    return Accounts(admin=make("admin"), editor=make("editor"), viewer=make("viewer"))


@pytest.fixture(scope="session")
def auth_headers(accounts: Accounts) -> dict[str, str]:
    """Headers for tests that call the API directly: the editor's token (enough for every product call)."""
    return accounts.editor.headers


@pytest.fixture()
def api(app_url: str, accounts: Accounts) -> Iterator[httpx.Client]:
    """An API client authenticated as the test editor (bearer token)."""
    with httpx.Client(base_url=app_url, timeout=30, headers=accounts.editor.headers) as client:
        yield client


@pytest.fixture()
def admin_api(app_url: str, accounts: Accounts) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=app_url, timeout=30, headers=accounts.admin.headers) as client:
        yield client


@pytest.fixture()
def viewer_api(app_url: str, accounts: Accounts) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=app_url, timeout=30, headers=accounts.viewer.headers) as client:
        yield client


@pytest.fixture()
def anonymous_api(app_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=app_url, timeout=30) as client:
        yield client


def signed_in_state(app_url: str, account: Account) -> dict[str, Any]:
    """A Playwright storage state holding a fresh session cookie of `account` (for `new_context`)."""
    cookie = {
        "name": "inventory_session",
        "value": session_cookie(app_url, account),
        "domain": httpx.URL(app_url).host,
        "path": "/",
        "httpOnly": True,
        "secure": False,
        "sameSite": "Lax",
        "expires": -1,
    }
    return {"cookies": [cookie], "origins": []}


def session_cookie(app_url: str, account: Account) -> str:
    """Sign in over HTTP as a browser would, and return the session cookie's value."""
    response = httpx.post(
        f"{app_url}/api/auth/session", json={"email": account.email, "password": account.password}, timeout=30
    )
    assert response.status_code == 200, response.text
    return response.cookies["inventory_session"]


# -- Playwright (pytest-playwright) with Debian's chromium; never `playwright install` ----------------
@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    return {**browser_type_launch_args, "executable_path": "/usr/bin/chromium", "args": CHROMIUM_ARGS}


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args, request):
    """Browser pages are signed in as the test editor unless a test opens a context of its own."""
    args = {**browser_context_args, "viewport": {"width": 1280, "height": 900}}
    app_url = request.getfixturevalue("app_url")
    args["storage_state"] = signed_in_state(app_url, request.getfixturevalue("accounts").editor)
    return args


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


_ORDER = ["unit", "contract", "integration", "e2e", "faults"]


def pytest_collection_modifyitems(config, items) -> None:
    """Fast tests first; tests that stop services run last so they cannot disturb the others."""

    def rank(item) -> int:
        parts = Path(str(item.fspath)).relative_to(REPO_ROOT / "tests").parts
        return _ORDER.index(parts[0]) if parts and parts[0] in _ORDER else len(_ORDER)

    items.sort(key=rank)


# -- the workers, for tests of the whole pipeline (API → relay → notifier/analytics → UI) ----------------
@dataclass(frozen=True)
class SessionWorkers:
    notifier: Any  # tests.support.WorkerProcess
    analytics: Any
    notifier_group: str
    analytics_group: str

    def wait_until_caught_up(self, settings, timeout_s: float = 180.0) -> None:
        """Wait until both groups committed up to the end of the product-events topic.

        Earlier tests can leave thousands of events behind (the 10,000-row import); a latency check
        must start from an idle pipeline, not measure the backlog.
        """
        for group in (self.notifier_group, self.analytics_group):
            wait_for(
                lambda group=group: group_lag(settings, group, settings.kafka_topic_product_events) == 0,
                timeout_s,
                0.5,
                f"{group} to catch up",
            )


def group_lag(settings, group: str, topic: str) -> int:
    from aiokafka import AIOKafkaConsumer, TopicPartition
    from aiokafka.admin import AIOKafkaAdminClient

    async def lag() -> int:
        admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap_servers)
        consumer = AIOKafkaConsumer(bootstrap_servers=settings.kafka_bootstrap_servers, group_id=None)
        await admin.start()
        await consumer.start()
        try:
            committed = {
                tp.partition: meta.offset
                for tp, meta in (await admin.list_consumer_group_offsets(group)).items()
                if tp.topic == topic
            }
            partitions = [TopicPartition(topic, p) for p in range(settings.kafka_topic_partitions)]
            ends = await consumer.end_offsets(partitions)
            return sum(max(0, ends[tp] - committed.get(tp.partition, 0)) for tp in partitions)
        finally:
            await consumer.stop()
            await admin.close()

    return run_async(lag())


def commit_group_at_end(settings, group: str, topic: str) -> None:
    """Commit the topic's current end offsets for `group`, so a new worker skips the shared topic's history."""

    from aiokafka import AIOKafkaConsumer, TopicPartition

    async def commit() -> None:
        consumer = AIOKafkaConsumer(
            bootstrap_servers=settings.kafka_bootstrap_servers, group_id=group, enable_auto_commit=False
        )
        await consumer.start()
        try:
            partitions = [TopicPartition(topic, p) for p in range(settings.kafka_topic_partitions)]
            consumer.assign(partitions)
            await consumer.commit(await consumer.end_offsets(partitions))
        finally:
            await consumer.stop()

    run_async(commit())


@pytest.fixture(scope="session")
def workers(settings, topics) -> Iterator[SessionWorkers]:
    """One notifier and one analytics worker on the session's topics, table and bucket, for the whole run.

    Their consumer groups are this run's own and start at the end of the shared product-events topic,
    so they neither split partitions with other runs' workers nor replay old history. Notices go to
    the session's notifications topic, which the app's hub reads.
    """
    from tests.support import WorkerProcess

    notifier_group, analytics_group = f"test-notifier-{RUN_ID}", f"test-analytics-{RUN_ID}"
    for group in (notifier_group, analytics_group):
        commit_group_at_end(settings, group, settings.kafka_topic_product_events)
    notifier = WorkerProcess(
        "backend_workers.notifier",
        {"NOTIFIER_GROUP_ID": notifier_group, "NOTIFIER_METRICS_PORT": "0"},
        f"session-notifier-{RUN_ID}",
    )
    analytics = WorkerProcess(
        "backend_workers.analytics",
        {"ANALYTICS_GROUP_ID": analytics_group, "ANALYTICS_METRICS_PORT": "0"},
        f"session-analytics-{RUN_ID}",
    )
    try:
        for worker in (notifier.start(), analytics.start()):
            worker.wait_for_log("partitions assigned", 60)
        yield SessionWorkers(notifier, analytics, notifier_group, analytics_group)
    finally:
        for worker in (notifier, analytics):
            if worker.process is not None:
                with contextlib.suppress(subprocess.TimeoutExpired):  # terminate() killed it then
                    worker.terminate(30)
