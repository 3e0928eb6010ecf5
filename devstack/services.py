"""The local services: PostgreSQL, Kafka in KRaft mode, the moto DynamoDB/S3 server and Redis."""

from __future__ import annotations

import asyncio
import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import urllib.request
from pathlib import Path

from devstack.config import StackConfig
from devstack.processes import (
    ServiceError,
    log_tail,
    port_open,
    read_pid,
    spawn,
    terminate,
    wait_until,
)

INSTALL_HINTS = {
    "java": "Java 17+ is missing: install it with `apt-get install -y openjdk-17-jre-headless`.",
    "mvn": "Maven is missing (needed once to fetch the Kafka jars): `apt-get install -y maven`.",
    "postgres": "PostgreSQL server binaries are missing: `apt-get install -y postgresql`.",
    "moto_server": "moto_server is missing: run `make venv` (pip install -r requirements.txt).",
    "runuser": "runuser is missing (util-linux): `apt-get install -y util-linux`.",
    "redis-server": "redis-server is missing (Reflex keeps UI state there when several workers serve): "
    "`apt-get install -y redis-server`.",
}


def require(binary: str, hint_key: str | None = None) -> str:
    path = shutil.which(binary)
    if path is None:
        raise ServiceError(INSTALL_HINTS.get(hint_key or binary, f"{binary} is missing."))
    return path


class Service:
    name: str = ""
    start_timeout_s: float = 60.0

    def __init__(self, config: StackConfig) -> None:
        self.config = config
        self.dir = config.state_dir / self.name
        self.log_file = config.logs_dir / f"{self.name}.log"
        self.pid_file = self.dir / "pid"

    # -- overridden per service -------------------------------------------------------------
    def healthy(self) -> bool:
        raise NotImplementedError

    def _launch(self) -> None:
        raise NotImplementedError

    def _after_start(self) -> None:
        """One-time set-up once the service answers (databases, ...)."""

    def describe(self) -> str:
        raise NotImplementedError

    # -- shared life cycle ------------------------------------------------------------------
    def pid(self) -> int | None:
        return read_pid(self.pid_file)

    def start(self) -> str:
        if self.healthy():
            self._after_start()
            return "already running"
        self.dir.mkdir(parents=True, exist_ok=True)
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        if self.pid() is None:
            self._launch()
        ok = wait_until(self.healthy, self.start_timeout_s, still_running=lambda: self.pid() is not None)
        if not ok:
            raise ServiceError(
                f"{self.name} did not become ready within {self.start_timeout_s:.0f}s "
                f"(log: {self.log_file}). Last lines:\n{log_tail(self.log_file)}"
            )
        self._after_start()
        return "started"

    def stop(self) -> str:
        pid = self.pid()
        if pid is None:
            return "not running"
        terminate(pid, self.stop_signal(), timeout_s=30)
        self.pid_file.unlink(missing_ok=True)
        return "stopped"

    def stop_signal(self) -> int:
        return signal.SIGTERM


class Postgres(Service):
    name = "postgres"
    start_timeout_s = 30.0

    def _bin(self, tool: str) -> str:
        found = shutil.which(tool)
        candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{tool}"), reverse=True)
        if candidates:
            return candidates[0]
        if found:
            return found
        raise ServiceError(INSTALL_HINTS["postgres"])

    def _run_as(self) -> str | None:
        """PostgreSQL refuses to run as root: use the unprivileged `postgres` account then."""
        if os.geteuid() != 0:
            return None
        require("runuser")
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            subprocess.run(["useradd", "--system", "--no-create-home", "postgres"], check=True)
        return "postgres"

    @property
    def data_dir(self) -> Path:
        return self.dir / "data"

    def describe(self) -> str:
        return f"postgresql://{self.config.host}:{self.config.postgres_port}"

    def healthy(self) -> bool:
        if not port_open(self.config.host, self.config.postgres_port):
            return False
        result = subprocess.run(
            [self._bin("pg_isready"), "-h", self.config.host, "-p", str(self.config.postgres_port)],
            capture_output=True,
            timeout=5,
        )
        return result.returncode == 0

    def _chown(self, user: str | None) -> None:
        if user:
            shutil.chown(self.dir, user)
            for path in self.dir.rglob("*"):
                shutil.chown(path, user)

    def _launch(self) -> None:
        user = self._run_as()
        self.dir.mkdir(parents=True, exist_ok=True)
        self._chown(user)
        if not (self.data_dir / "PG_VERSION").exists():
            pwfile = self.dir / "pwfile"
            pwfile.write_text(self.config.postgres_password + "\n")
            self._chown(user)
            init = [
                self._bin("initdb"),
                "-D",
                str(self.data_dir),
                "-U",
                self.config.postgres_user,
                f"--pwfile={pwfile}",
                "--auth-local=trust",
                "--auth-host=scram-sha-256",
                "-E",
                "UTF8",
                "--locale=C.UTF-8",
            ]
            if user:
                init = ["runuser", "-u", user, "--", *init]
            with open(self.log_file, "ab") as log:
                subprocess.run(init, check=True, stdout=log, stderr=subprocess.STDOUT, timeout=120)
            pwfile.unlink()
        socket_dir = self.dir / "run"
        socket_dir.mkdir(exist_ok=True)
        self._chown(user)
        # Run the server itself (not pg_ctl) so the pid file names the postmaster we can signal.
        spawn(
            [
                self._bin("postgres"),
                "-D",
                str(self.data_dir),
                "-h",
                self.config.host,
                "-p",
                str(self.config.postgres_port),
                "-k",
                str(socket_dir),
                "-c",
                "max_connections=300",
                "-c",
                "shared_buffers=256MB",
                "-c",
                "fsync=on",
                "-c",
                "synchronous_commit=on",
                # Per-statement timings for profiling (`make bench` reads them; see bench/NOTES.md).
                "-c",
                "shared_preload_libraries=pg_stat_statements",
            ],
            self.log_file,
            self.pid_file,
            user=user,
        )

    def stop_signal(self) -> int:
        return signal.SIGINT  # "fast" shutdown: roll back open transactions, then exit

    def _after_start(self) -> None:
        socket_dir = self.dir / "run"
        for db in (self.config.postgres_db, self.config.postgres_test_db):
            exists = subprocess.run(
                [
                    self._bin("psql"),
                    "-h",
                    str(socket_dir),
                    "-p",
                    str(self.config.postgres_port),
                    "-U",
                    self.config.postgres_user,
                    "-d",
                    "postgres",
                    "-tAc",
                    f"SELECT 1 FROM pg_database WHERE datname = '{db}'",
                ],
                capture_output=True,
                text=True,
                timeout=10,
            )
            if exists.returncode != 0:
                raise ServiceError(f"postgres: cannot query databases: {exists.stderr.strip()}")
            if exists.stdout.strip() != "1":
                subprocess.run(
                    [
                        self._bin("createdb"),
                        "-h",
                        str(socket_dir),
                        "-p",
                        str(self.config.postgres_port),
                        "-U",
                        self.config.postgres_user,
                        db,
                    ],
                    check=True,
                    capture_output=True,
                    timeout=10,
                )


class Kafka(Service):
    name = "kafka"
    start_timeout_s = 90.0

    @property
    def libs_dir(self) -> Path:
        return self.config.cache_dir / f"kafka-{self.config.kafka_version}" / "libs"

    def describe(self) -> str:
        return f"kafka://{self.config.kafka_bootstrap}"

    def fetch_jars(self) -> None:
        """Fetch the broker jars once from Maven Central into the cache (outside the work tree)."""
        marker = self.libs_dir / ".complete"
        if marker.exists():
            return
        require("mvn")
        build = self.libs_dir.parent / "pom-build"
        build.mkdir(parents=True, exist_ok=True)
        template = (Path(__file__).parent / "kafka-pom.xml").read_text()
        (build / "pom.xml").write_text(
            template.replace("@KAFKA_VERSION@", self.config.kafka_version).replace(
                "@LOG4J_VERSION@", self.config.log4j_version
            )
        )
        print(f"kafka: fetching Apache Kafka {self.config.kafka_version} jars from Maven Central (once)...")
        result = subprocess.run(
            [
                "mvn",
                "-q",
                "-B",
                "dependency:copy-dependencies",
                "-DincludeScope=runtime",
                f"-DoutputDirectory={self.libs_dir}",
            ],
            cwd=build,
            capture_output=True,
            text=True,
            timeout=900,
        )
        if result.returncode != 0:
            raise ServiceError(f"kafka: Maven could not fetch the jars:\n{result.stdout[-3000:]}")
        marker.write_text(self.config.kafka_version)

    def _properties(self) -> Path:
        data = self.dir / "data"
        props = self.dir / "server.properties"
        host, port, cport = self.config.host, self.config.kafka_port, self.config.kafka_controller_port
        props.write_text(
            "\n".join(
                [
                    "process.roles=broker,controller",
                    "node.id=1",
                    f"controller.quorum.bootstrap.servers={host}:{cport}",
                    f"listeners=PLAINTEXT://{host}:{port},CONTROLLER://{host}:{cport}",
                    f"advertised.listeners=PLAINTEXT://{host}:{port},CONTROLLER://{host}:{cport}",
                    "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
                    "controller.listener.names=CONTROLLER",
                    "inter.broker.listener.name=PLAINTEXT",
                    f"log.dirs={data}",
                    "num.partitions=6",
                    "offsets.topic.replication.factor=1",
                    "offsets.topic.num.partitions=6",
                    "transaction.state.log.replication.factor=1",
                    "transaction.state.log.min.isr=1",
                    "share.coordinator.state.topic.replication.factor=1",
                    "share.coordinator.state.topic.min.isr=1",
                    "group.initial.rebalance.delay.ms=0",
                    "auto.create.topics.enable=true",
                    # The dev broker is the event store the notifier rebuilds from: -1 keeps every record.
                    f"log.retention.ms={self.config.kafka_retention_ms}",
                    "log.retention.bytes=-1",
                    "",
                ]
            )
        )
        return props

    def _java(self) -> list[str]:
        return [require("java"), "-cp", f"{self.libs_dir}/*"]

    def _launch(self) -> None:
        self.fetch_jars()
        props = self._properties()
        log4j = self.dir / "log4j2.properties"
        log4j.write_text(
            "rootLogger.level=INFO\nrootLogger.appenderRef.stdout.ref=STDOUT\n"
            "appender.stdout.type=Console\nappender.stdout.name=STDOUT\n"
            "appender.stdout.layout.type=PatternLayout\n"
            "appender.stdout.layout.pattern=[%d] %p %m (%c)%n\n"
            "logger.kafka.name=kafka\nlogger.kafka.level=WARN\n"
            "logger.state.name=state.change.logger\nlogger.state.level=WARN\n"
            "logger.server.name=kafka.server.KafkaRaftServer\nlogger.server.level=INFO\n"
            "logger.broker.name=kafka.server.BrokerServer\nlogger.broker.level=INFO\n"
        )
        if not (self.dir / "data" / "meta.properties").exists():
            cluster_id = (
                subprocess.run(
                    [*self._java(), "kafka.tools.StorageTool", "random-uuid"],
                    capture_output=True,
                    text=True,
                    check=True,
                    timeout=120,
                )
                .stdout.strip()
                .splitlines()[-1]
            )
            with open(self.log_file, "ab") as log:
                subprocess.run(
                    [
                        *self._java(),
                        f"-Dlog4j2.configurationFile={log4j}",
                        "kafka.tools.StorageTool",
                        "format",
                        "--standalone",
                        "-t",
                        cluster_id,
                        "-c",
                        str(props),
                        "--ignore-formatted",
                    ],
                    check=True,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    timeout=120,
                )
        spawn(
            [
                require("java"),
                f"-Xms{self.config.kafka_heap}",
                f"-Xmx{self.config.kafka_heap}",
                "-XX:+UseG1GC",
                "-XX:TieredStopAtLevel=1",
                f"-Dlog4j2.configurationFile={log4j}",
                f"-Dkafka.logs.dir={self.dir / 'logs'}",
                "-cp",
                f"{self.libs_dir}/*",
                "kafka.Kafka",
                str(props),
            ],
            self.log_file,
            self.pid_file,
        )

    def healthy(self) -> bool:
        if not port_open(self.config.host, self.config.kafka_port):
            return False
        return asyncio.run(_kafka_metadata_ok(self.config.kafka_bootstrap))


async def _kafka_metadata_ok(bootstrap: str) -> bool:
    from aiokafka import AIOKafkaClient  # imported lazily: only the Kafka check needs it

    client = AIOKafkaClient(bootstrap_servers=bootstrap, request_timeout_ms=3000, metadata_max_age_ms=1000)
    try:
        await asyncio.wait_for(client.bootstrap(), timeout=5)
        return bool(client.cluster.brokers())
    except Exception:  # noqa: BLE001 - any failure means 'not ready'
        return False
    finally:
        await client.close()


class AwsApi(Service):
    """moto's server: DynamoDB and S3 APIs in one process (in memory; nothing survives a restart)."""

    name = "aws"
    start_timeout_s = 30.0

    def describe(self) -> str:
        return self.config.aws_endpoint

    def _launch(self) -> None:
        moto = Path(sys.executable).parent / "moto_server"
        binary = str(moto) if moto.exists() else require("moto_server")
        spawn([binary, "-H", self.config.host, "-p", str(self.config.aws_port)], self.log_file, self.pid_file)

    def healthy(self) -> bool:
        if not port_open(self.config.host, self.config.aws_port):
            return False
        with urllib.request.urlopen(f"{self.config.aws_endpoint}/moto-api/", timeout=2) as response:
            return response.status == 200

    def stop_signal(self) -> int:
        return signal.SIGINT  # moto may ignore SIGTERM while clients hold connections


class Redis(Service):
    """Debian's redis-server: Reflex's state store, so several app workers can serve one UI session."""

    name = "redis"
    start_timeout_s = 20.0

    def describe(self) -> str:
        return self.config.redis_url

    def _launch(self) -> None:
        binary = require("redis-server")
        # Reflex state is a cache of UI sessions: nothing to persist, so no RDB/AOF files.
        spawn(
            [
                binary,
                "--bind",
                self.config.host,
                "--port",
                str(self.config.redis_port),
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.dir),
            ],
            self.log_file,
            self.pid_file,
        )

    def healthy(self) -> bool:
        if not port_open(self.config.host, self.config.redis_port):
            return False
        with socket.create_connection((self.config.host, self.config.redis_port), timeout=2) as conn:
            conn.sendall(b"PING\r\n")
            return conn.recv(16).startswith(b"+PONG")


def all_services(config: StackConfig) -> list[Service]:
    return [Postgres(config), Kafka(config), AwsApi(config), Redis(config)]


def by_name(config: StackConfig, name: str) -> Service:
    for service in all_services(config):
        if service.name == name:
            return service
    names = ", ".join(s.name for s in all_services(config))
    raise ServiceError(f"unknown service {name!r}; choose one of: {names}")
