"""Where the local services live: ports, folders and versions per named stack, overridable by DEVSTACK_* variables.

A *stack* is one set of the four services with its own ports and state folder. `dev` (what `make dev`
runs) and `test` (what `make test` starts and stops) never share a port or a file, so the test suite,
fault tests included, cannot disturb a running app. Further stacks (a second engineer's or CI job's test
run, a stand-in for dev in a test) take a name and an explicit port offset.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent

DEFAULT_STACK = "dev"
# Port offsets from the dev ports (55432, 9092/9093, 5005, 6390). Any other stack name needs
# DEVSTACK_PORT_OFFSET: guessing one from the name could collide silently.
KNOWN_PORT_OFFSETS = {"dev": 0, "test": 100}
# The dev broker is the event store (the notifier rebuilds DynamoDB and S3 from it): keep everything.
# Other stacks hold throw-away test data: a week, as Kafka's default.
FOREVER = -1
WEEK_MS = 7 * 24 * 3600 * 1000


def _env_int(name: str, default: int) -> int:
    return int(os.environ.get(name, default))


def _stack_name() -> str:
    return os.environ.get("DEVSTACK_STACK", "").strip() or DEFAULT_STACK


def _port_offset(name: str) -> int:
    # dev and test have fixed offsets, so a stray DEVSTACK_PORT_OFFSET can never put them on one port.
    if name in KNOWN_PORT_OFFSETS:
        return KNOWN_PORT_OFFSETS[name]
    if "DEVSTACK_PORT_OFFSET" in os.environ:
        return int(os.environ["DEVSTACK_PORT_OFFSET"])
    raise ValueError(
        f"stack {name!r} has no ports of its own: set DEVSTACK_PORT_OFFSET too "
        f"(e.g. DEVSTACK_STACK={name} DEVSTACK_PORT_OFFSET=200; dev uses 0, test 100)"
    )


def _state_dir(name: str) -> Path:
    # dev keeps the historical folder (an existing checkout keeps its data); the others live beneath it.
    root = Path(os.environ.get("DEVSTACK_DIR", REPO_ROOT / ".devstack"))
    return (root if name == DEFAULT_STACK else root / "stacks" / name).resolve()


@dataclass(frozen=True)
class StackConfig:
    name: str = field(default_factory=_stack_name)
    port_offset: int = -1  # resolved from `name` in __post_init__ unless given
    state_dir: Path = field(default=Path())  # resolved from `name` unless given
    # Downloaded jars live outside the work tree so every stack and a fresh clone on the same machine reuse them.
    cache_dir: Path = field(
        default_factory=lambda: Path(
            os.environ.get(
                "DEVSTACK_CACHE_DIR",
                Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "inventory-devstack",
            )
        ).resolve()
    )
    host: str = "127.0.0.1"
    postgres_user: str = "inventory"
    postgres_password: str = "inventory"  # local loopback-only development credential
    postgres_db: str = "inventory"
    postgres_test_db: str = "inventory_test"
    kafka_version: str = field(default_factory=lambda: os.environ.get("DEVSTACK_KAFKA_VERSION", "4.1.1"))
    log4j_version: str = "2.25.2"
    # 512 MB per broker: two stacks (dev + test) fit a 2-core, 24 GB machine with room for the apps.
    kafka_heap: str = field(default_factory=lambda: os.environ.get("DEVSTACK_KAFKA_HEAP", "512m"))

    def __post_init__(self) -> None:
        if self.port_offset < 0:
            object.__setattr__(self, "port_offset", _port_offset(self.name))
        if self.state_dir == Path():
            object.__setattr__(self, "state_dir", _state_dir(self.name))

    # DEVSTACK_<SERVICE>_PORT moves one port of the dev stack only: an override a developer exports for
    # dev must never leak into the test stack. Other stacks take the default dev port + their offset.
    def _port(self, variable: str, dev_default: int) -> int:
        if self.name == DEFAULT_STACK:
            return _env_int(variable, dev_default + self.port_offset)
        return dev_default + self.port_offset

    @property
    def postgres_port(self) -> int:
        return self._port("DEVSTACK_POSTGRES_PORT", 55432)

    @property
    def kafka_port(self) -> int:
        return self._port("DEVSTACK_KAFKA_PORT", 9092)

    @property
    def kafka_controller_port(self) -> int:
        return self._port("DEVSTACK_KAFKA_CONTROLLER_PORT", 9093)

    @property
    def aws_port(self) -> int:
        return self._port("DEVSTACK_AWS_PORT", 5005)

    @property
    def redis_port(self) -> int:
        return self._port("DEVSTACK_REDIS_PORT", 6390)

    @property
    def kafka_retention_ms(self) -> int:
        return FOREVER if self.name == DEFAULT_STACK else WEEK_MS

    @property
    def logs_dir(self) -> Path:
        return self.state_dir / "logs"

    @property
    def database_url(self) -> str:
        return self._pg_url(self.postgres_db)

    @property
    def test_database_url(self) -> str:
        return self._pg_url(self.postgres_test_db)

    def _pg_url(self, db: str) -> str:
        return (
            f"postgresql+psycopg://{self.postgres_user}:{self.postgres_password}@{self.host}:{self.postgres_port}/{db}"
        )

    @property
    def kafka_bootstrap(self) -> str:
        return f"{self.host}:{self.kafka_port}"

    @property
    def aws_endpoint(self) -> str:
        return f"http://{self.host}:{self.aws_port}"

    @property
    def redis_url(self) -> str:
        return f"redis://{self.host}:{self.redis_port}/0"

    def env_exports(self) -> dict[str, str]:
        """Every address another tool needs, under the names `inventory_app.settings` reads."""
        return {
            "DATABASE_URL": self.database_url,
            "TEST_DATABASE_URL": self.test_database_url,
            "KAFKA_BOOTSTRAP_SERVERS": self.kafka_bootstrap,
            "DYNAMODB_ENDPOINT_URL": self.aws_endpoint,
            "S3_ENDPOINT_URL": self.aws_endpoint,
            "AWS_REGION": "us-east-1",
            "AWS_ACCESS_KEY_ID": "local",
            "AWS_SECRET_ACCESS_KEY": "local",
            "REFLEX_REDIS_URL": self.redis_url,
        }
