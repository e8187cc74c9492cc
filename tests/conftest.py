"""Shared fixtures. Integration tests use real services, found in this order: the
RIFFLE_KAFKA_BOOTSTRAP / RIFFLE_REDIS_URL environment, then the local services started by
scripts/services.sh (started here if needed), then testcontainers where a Docker engine works."""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from streams.config import RiffleConfig, StreamConfig, load_config, parse_config
from streams.services import reachable

ROOT = Path(__file__).resolve().parent.parent


def _docker_services() -> tuple[str, str] | None:
    if shutil.which("docker") is None:
        return None
    try:
        subprocess.run(["docker", "info"], check=True, capture_output=True, timeout=10)
    except (subprocess.SubprocessError, OSError):
        return None
    from testcontainers.core.container import DockerContainer
    from testcontainers.redis import RedisContainer

    kafka = DockerContainer("apache/kafka:4.1.1").with_bind_ports(9092, 19092)
    for key, value in {
        "KAFKA_NODE_ID": "1",
        "KAFKA_PROCESS_ROLES": "broker,controller",
        "KAFKA_LISTENERS": "PLAINTEXT://:9092,CONTROLLER://:9093",
        "KAFKA_ADVERTISED_LISTENERS": "PLAINTEXT://127.0.0.1:19092",
        "KAFKA_CONTROLLER_LISTENER_NAMES": "CONTROLLER",
        "KAFKA_LISTENER_SECURITY_PROTOCOL_MAP": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
        "KAFKA_CONTROLLER_QUORUM_VOTERS": "1@localhost:9093",
        "KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR": "1",
        "KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR": "1",
        "KAFKA_TRANSACTION_STATE_LOG_MIN_ISR": "1",
        "KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS": "0",
    }.items():
        kafka = kafka.with_env(key, value)
    kafka.start()
    redis = RedisContainer("redis:7.0")
    redis.start()
    port = redis.get_exposed_port(6379)
    import time

    deadline = time.monotonic() + 90
    while not reachable("127.0.0.1:19092") and time.monotonic() < deadline:
        time.sleep(0.5)
    return "127.0.0.1:19092", f"redis://127.0.0.1:{port}/0"


@pytest.fixture(scope="session")
def services() -> tuple[str, str]:
    kafka = os.environ.get("RIFFLE_KAFKA_BOOTSTRAP", "127.0.0.1:9092")
    redis = os.environ.get("RIFFLE_REDIS_URL", "redis://127.0.0.1:6379/0")
    redis_hp = redis.split("://", 1)[1].split("/", 1)[0].rsplit("@", 1)[-1]
    if reachable(kafka) and reachable(redis_hp):
        return kafka, redis
    script = ROOT / "scripts" / "services.sh"
    if shutil.which("java") and script.exists():
        subprocess.run(["bash", str(script), "up"], check=True)
        return kafka, redis
    docker = _docker_services()
    if docker is not None:
        return docker
    pytest.fail("no Kafka/Redis: set RIFFLE_KAFKA_BOOTSTRAP/RIFFLE_REDIS_URL or install Java")


@pytest.fixture(scope="session")
def demo_config() -> RiffleConfig:
    return load_config(ROOT / "riffle.toml", env={})


def fresh_config(services: tuple[str, str], **overrides: Any) -> RiffleConfig:
    """The demo stream under a unique name, so tests never share topics or checkpoints."""
    kafka, redis = services
    return parse_config(
        fresh_raw(**overrides), {"RIFFLE_KAFKA_BOOTSTRAP": kafka, "RIFFLE_REDIS_URL": redis}
    )


def fresh_raw(**overrides: Any) -> dict[str, Any]:
    import tomllib

    raw = tomllib.loads((ROOT / "riffle.toml").read_text())
    name = f"t{uuid.uuid4().hex[:10]}"
    stream = raw["streams"].pop("payments")
    # the demo's champion/challenger set-up only where a test asks for one
    stream.pop("deployment", None)
    stream["features"]["name"] = name  # Redis keys are per view: keep tests apart
    for view in stream.get("views", []):
        view["name"] = f"{view['name']}_{name}"
    for key, value in overrides.items():
        stream.setdefault(key, {}).update(value) if isinstance(value, dict) else stream.update(
            {key: value}
        )
    raw["streams"] = {name: stream}
    raw["runtime"]["checkpoint_interval_s"] = 0.5
    raw["runtime"]["web_port"] = 0
    return raw


@pytest.fixture
def kafka_config(services: tuple[str, str]) -> RiffleConfig:
    return fresh_config(services)


@pytest.fixture
def stream(demo_config: RiffleConfig) -> StreamConfig:
    return demo_config.stream("payments")


@pytest.fixture
def tmp_cwd(tmp_path: Path) -> Iterator[Path]:
    old = os.getcwd()
    os.chdir(tmp_path)
    try:
        yield tmp_path
    finally:
        os.chdir(old)
