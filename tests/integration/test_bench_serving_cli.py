"""`riffle bench serving` against the real Redis and the server it starts (`riffle serve`, or a
worker's own web server): every request answered, medians reported, and nothing left behind in
the served view's key space."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import redis

from tests.conftest import ROOT

pytestmark = pytest.mark.integration


@pytest.mark.parametrize(("server", "started"), [("serve", "riffle serve"), ("worker", "worker")])
def test_the_serving_bench_answers_everything_and_cleans_up(
    services: tuple[str, str], tmp_path: Path, server: str, started: str
) -> None:
    kafka, redis_url = services
    out = tmp_path / "serving.json"
    env = {**os.environ, "RIFFLE_KAFKA_BOOTSTRAP": kafka, "RIFFLE_REDIS_URL": redis_url}
    args = [
        "bench",
        "serving",
        "--runs",
        "1",
        "--duration",
        "1",
        "--rate",
        "50",
        "--server",
        server,
    ]
    done = subprocess.run(
        [sys.executable, "-m", "streams.cli", *args, "--output", str(out)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(out.read_text())
    assert set(result["median"]) == {"batch_1", "batch_100"}
    (run,) = result["runs"]
    assert run["view"].startswith("payments@v") and run["host"]["speed_probe_us"] > 0
    assert started in run["server"]
    for kind in ("batch_1", "batch_100"):
        res = run["results"][kind]
        assert res["requests"] == 50 and res["errors"] == 0 and res["not_found"] == 0
    client = redis.Redis.from_url(redis_url)
    try:
        assert not list(client.scan_iter("riffle:{*}:bench*", count=10_000))  # its copy's
        assert not list(client.scan_iter("riffle:{bench-*}:*", count=10_000))  # its entities
    finally:
        client.close()
