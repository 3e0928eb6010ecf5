"""Where the local services live: ports, folders and versions, overridable by DEVSTACK_* variables."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent


def _env_int(name: str, default: int) -> int:
    return int(os.environ.get(name, default))


@dataclass(frozen=True)
class StackConfig:
    state_dir: Path = field(
        default_factory=lambda: Path(os.environ.get("DEVSTACK_DIR", REPO_ROOT / ".devstack")).resolve()
    )
    # Downloaded jars live outside the work tree so a fresh clone on the same machine reuses them.
    cache_dir: Path = field(
        default_factory=lambda: Path(
            os.environ.get(
                "DEVSTACK_CACHE_DIR",
                Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "inventory-devstack",
            )
        ).resolve()
    )
    host: str = "127.0.0.1"
    postgres_port: int = field(default_factory=lambda: _env_int("DEVSTACK_POSTGRES_PORT", 55432))
    postgres_user: str = "inventory"
    postgres_password: str = "inventory"  # local loopback-only development credential
    postgres_db: str = "inventory"
    postgres_test_db: str = "inventory_test"
    kafka_port: int = field(default_factory=lambda: _env_int("DEVSTACK_KAFKA_PORT", 9092))
    kafka_controller_port: int = field(default_factory=lambda: _env_int("DEVSTACK_KAFKA_CONTROLLER_PORT", 9093))
    kafka_version: str = os.environ.get("DEVSTACK_KAFKA_VERSION", "4.1.1")
    log4j_version: str = "2.25.2"
    kafka_heap: str = os.environ.get("DEVSTACK_KAFKA_HEAP", "512m")
    aws_port: int = field(default_factory=lambda: _env_int("DEVSTACK_AWS_PORT", 5005))
    redis_port: int = field(default_factory=lambda: _env_int("DEVSTACK_REDIS_PORT", 6390))

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
