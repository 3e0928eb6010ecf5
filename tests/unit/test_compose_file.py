"""compose.yml stays valid and wired to the settings the Python services actually read."""

from __future__ import annotations

import itertools
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from inventory_app.settings import Settings

REPO_ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = REPO_ROOT / "compose.yml"

EXPECTED_SERVICES = {
    "redpanda",
    "postgres",
    "dynamodb",
    "minio",
    "redis",
    "minio-init",
    "migrate",
    "app",
    "notifier",
    "analytics",
    "lb",
}
INFRASTRUCTURE_SERVICES = ("redpanda", "postgres", "dynamodb", "minio", "redis")
LONG_RUNNING_PYTHON_SERVICES = ("app", "notifier", "analytics")
LONG_RUNNING_SERVICES = (*INFRASTRUCTURE_SERVICES, *LONG_RUNNING_PYTHON_SERVICES, "lb")
# What a user expects to survive `docker compose down` + `up`, and where each service keeps it.
PERSISTENT_DATA = {
    "postgres": "/var/lib/postgresql/data",
    "redpanda": "/var/lib/redpanda/data",
    "dynamodb": "/home/dynamodblocal/data",
    "minio": "/data",
}
PYTHON_SERVICES = (*LONG_RUNNING_PYTHON_SERVICES, "migrate")
# Variables owned by Reflex (and the granian server it starts) rather than by our Settings class.
FOREIGN_ENV_PREFIXES = ("REFLEX_", "GRANIAN_")
APP_PORT = 3000
HTTPS_PORT = 443

DOCKER_COMPOSE = shutil.which("docker-compose")

pytestmark = pytest.mark.skipif(
    DOCKER_COMPOSE is None,
    reason="docker-compose binary not found on PATH; CI installs it to validate compose.yml",
)


@pytest.fixture(scope="module")
def compose_config() -> dict[str, Any]:
    """The fully resolved configuration, as `docker-compose config` renders it."""
    assert DOCKER_COMPOSE is not None
    result = subprocess.run(
        [DOCKER_COMPOSE, "-f", str(COMPOSE_FILE), "config"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, f"docker-compose config rejected compose.yml:\n{result.stderr}"
    config = yaml.safe_load(result.stdout)
    assert isinstance(config, dict), f"unexpected docker-compose config output:\n{result.stdout}"
    return config


@pytest.fixture(scope="module")
def services(compose_config: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return compose_config["services"]


def _environment_names(service: dict[str, Any]) -> set[str]:
    environment = service.get("environment") or {}
    if isinstance(environment, dict):
        return set(environment)
    return {entry.split("=", 1)[0] for entry in environment}


def _published_ports(service: dict[str, Any]) -> set[int]:
    published: set[int] = set()
    for port in service.get("ports") or []:
        if isinstance(port, dict):
            if port.get("published") is not None:
                published.add(int(port["published"]))
        else:
            # "[host_ip:]published:target[/protocol]"
            host_side, separator, _target = str(port).split("/", 1)[0].rpartition(":")
            if separator:
                published.add(int(host_side.rpartition(":")[2]))
    return published


def test_compose_file_defines_exactly_the_inventory_stack_services(services: dict[str, Any]) -> None:
    assert set(services) == EXPECTED_SERVICES


@pytest.mark.parametrize("service_name", LONG_RUNNING_PYTHON_SERVICES)
@pytest.mark.parametrize("dependency", ["redpanda", "postgres"])
def test_app_and_workers_start_only_once_kafka_and_postgres_are_healthy(
    services: dict[str, Any], service_name: str, dependency: str
) -> None:
    depends_on = services[service_name].get("depends_on") or {}
    assert isinstance(depends_on, dict), f"{service_name}.depends_on must use the long form with conditions"
    assert dependency in depends_on, f"{service_name} does not depend on {dependency}"
    assert depends_on[dependency].get("condition") == "service_healthy"


@pytest.mark.parametrize("service_name", LONG_RUNNING_PYTHON_SERVICES)
def test_app_and_workers_start_only_after_migrations_completed(services: dict[str, Any], service_name: str) -> None:
    depends_on = services[service_name].get("depends_on") or {}
    assert depends_on.get("migrate", {}).get("condition") == "service_completed_successfully"


@pytest.mark.parametrize("service_name", INFRASTRUCTURE_SERVICES)
def test_every_infrastructure_service_declares_a_healthcheck(services: dict[str, Any], service_name: str) -> None:
    healthcheck = services[service_name].get("healthcheck") or {}
    assert healthcheck.get("test"), f"{service_name} has no healthcheck test"
    assert not healthcheck.get("disable", False)


@pytest.mark.parametrize("service_name", PYTHON_SERVICES)
def test_python_service_environment_only_sets_fields_of_settings(services: dict[str, Any], service_name: str) -> None:
    names = _environment_names(services[service_name])
    assert names, f"{service_name} sets no environment at all"
    settings_fields = {field.lower() for field in Settings.model_fields}
    unknown = sorted(
        name for name in names if not name.startswith(FOREIGN_ENV_PREFIXES) and name.lower() not in settings_fields
    )
    assert not unknown, f"{service_name} sets variables Settings would silently ignore: {unknown}"


@pytest.mark.parametrize("service_name", PYTHON_SERVICES)
def test_python_services_point_at_the_compose_infrastructure(services: dict[str, Any], service_name: str) -> None:
    names = _environment_names(services[service_name])
    required = {"DATABASE_URL", "KAFKA_BOOTSTRAP_SERVERS", "DYNAMODB_ENDPOINT_URL", "S3_ENDPOINT_URL"}
    assert required <= names, f"{service_name} is missing {sorted(required - names)}"


def test_only_the_load_balancer_publishes_a_port_and_it_is_https(services: dict[str, Any]) -> None:
    publishing = {name for name, service in services.items() if _published_ports(service)}
    assert publishing == {"lb"}, "a fixed host port on any other service breaks `--scale` and bypasses TLS"
    assert HTTPS_PORT in _published_ports(services["lb"])


def test_app_and_workers_can_be_scaled_to_several_replicas(services: dict[str, Any]) -> None:
    for name in LONG_RUNNING_PYTHON_SERVICES:
        assert "container_name" not in services[name], f"{name} has a fixed container name: --scale would clash"
        assert not _published_ports(services[name])


def test_load_balancer_proxies_every_app_replica_on_the_app_port() -> None:
    caddyfile = (REPO_ROOT / "deploy" / "Caddyfile").read_text()
    assert "dynamic a" in caddyfile and "name app" in caddyfile, "the lb must re-resolve every app replica"
    assert f"port {APP_PORT}" in caddyfile
    assert "tls internal" in caddyfile


@pytest.mark.parametrize("service_name", LONG_RUNNING_SERVICES)
def test_long_running_services_restart_unless_stopped(services: dict[str, Any], service_name: str) -> None:
    assert services[service_name].get("restart") == "unless-stopped"


def test_postgres_is_healthy_only_once_it_accepts_tcp_connections(services: dict[str, Any]) -> None:
    check = " ".join(services["postgres"]["healthcheck"]["test"])
    assert "pg_isready" in check and "-h 127.0.0.1" in check, "a socket check passes during the init server"


def test_postgres_allows_enough_connections_for_two_app_containers(services: dict[str, Any]) -> None:
    command = services["postgres"].get("command") or []
    command = command if isinstance(command, list) else command.split()
    settings = [value for flag, value in itertools.pairwise(command) if flag == "-c"]
    limits = [int(value.split("=", 1)[1]) for value in settings if value.startswith("max_connections=")]
    assert limits and limits[0] >= 200


def test_migrate_retries_a_bounded_number_of_times(services: dict[str, Any]) -> None:
    script = " ".join(services["migrate"]["command"])
    assert "alembic upgrade head" in script
    assert "for attempt in 1 2 3" in script and "exit 1" in script, "migrate must retry, and give up in the end"


@pytest.mark.parametrize(("service_name", "path"), sorted(PERSISTENT_DATA.items()))
def test_stores_keep_their_data_in_named_volumes(
    compose_config: dict[str, Any], services: dict[str, Any], service_name: str, path: str
) -> None:
    mounts = services[service_name].get("volumes") or []
    named = {
        (mount["source"], mount["target"]) if isinstance(mount, dict) else tuple(str(mount).split(":")[:2])
        for mount in mounts
    }
    assert any(target == path and source in (compose_config.get("volumes") or {}) for source, target in named), (
        f"{service_name} keeps {path} in no named volume: it would start empty after down/up"
    )


def test_dynamodb_local_writes_its_tables_to_disk(services: dict[str, Any]) -> None:
    command = services["dynamodb"]["command"]
    assert "-inMemory" not in command
    assert command[command.index("-dbPath") + 1] == PERSISTENT_DATA["dynamodb"]


def test_app_container_serves_the_frontend_built_into_the_image(services: dict[str, Any]) -> None:
    assert "--prebuilt-frontend" in services["app"]["command"]


def test_the_app_serves_the_network_only_behind_tls_with_its_origin_and_secure_cookies(
    services: dict[str, dict[str, Any]],
) -> None:
    """The app binds loopback by default (APP_HOST); in compose `lb` must reach it, and browsers come
    from https://localhost only, so that is the allowed origin and the session cookie is Secure."""
    environment = services["app"]["environment"]
    assert environment["APP_HOST"] == "0.0.0.0"
    assert environment["APP_ALLOWED_ORIGINS"] == "https://localhost"
    assert environment["SESSION_COOKIE_SECURE"] == "true"
    assert not services["app"].get("ports"), "the app is reached through lb only"
