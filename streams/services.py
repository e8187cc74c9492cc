"""Finding, and if asked starting, the local Kafka broker and Redis (scripts/services.sh)."""

from __future__ import annotations

import socket
import subprocess
from pathlib import Path

from streams.config import RiffleConfig
from streams.exceptions import ServiceUnavailableError

__all__ = ["ensure_services", "reachable"]

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "services.sh"


def reachable(host_port: str, timeout: float = 1.0) -> bool:
    host, _, port = host_port.rpartition(":")
    try:
        with socket.create_connection((host or "127.0.0.1", int(port)), timeout=timeout):
            return True
    except (OSError, ValueError):
        return False


def _redis_host_port(url: str) -> str:
    rest = url.split("://", 1)[-1].split("/", 1)[0].rsplit("@", 1)[-1]
    return rest if ":" in rest else f"{rest}:6379"


def ensure_services(cfg: RiffleConfig, start: bool = True) -> None:
    """Make sure Kafka and Redis answer; start the local ones with the script if allowed."""
    kafka = cfg.kafka.bootstrap_servers.split(",")[0]
    redis = _redis_host_port(cfg.redis_url.get())
    if reachable(kafka) and reachable(redis):
        return
    if not start or not SCRIPT.exists():
        raise ServiceUnavailableError(
            f"Kafka ({kafka}) or Redis ({redis}) is not reachable; start them with "
            "`make services-up` or point RIFFLE_KAFKA_BOOTSTRAP / RIFFLE_REDIS_URL at yours"
        )
    subprocess.run(["bash", str(SCRIPT), "up"], check=True)
