"""`riffle worker` (the faust app) serves /health and /metrics and runs the stages;
`riffle tail` shows what consumers and ops read."""

from __future__ import annotations

import asyncio
import io
import json
import os
import signal
import socket
import subprocess
import sys
import urllib.request
import uuid
from pathlib import Path

import pytest

from streams.config import load_config
from streams.tail import tail
from streams.workload import Workload
from tests.conftest import ROOT
from tests.integration.helpers import collect, publish

pytestmark = pytest.mark.integration


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=2) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


async def test_cli_worker_health_metrics_and_tail(
    services: tuple[str, str], tmp_path: Path
) -> None:
    name = f"c{uuid.uuid4().hex[:8]}"
    port = _free_port()
    text = (ROOT / "riffle.toml").read_text().replace("streams.payments", f"streams.{name}")
    text = text.replace("web_port = 6066", f"web_port = {port}")
    text = text.replace('name = "payments"', f'name = "{name}"')  # its own Redis keys
    path = tmp_path / "riffle.toml"
    path.write_text(text)
    kafka, redis = services
    env = {**os.environ, "RIFFLE_KAFKA_BOOTSTRAP": kafka, "RIFFLE_REDIS_URL": redis}
    cfg = load_config(path, env)
    stream = cfg.stream()
    log = (tmp_path / "worker.log").open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "streams.cli", "--config", str(path), "worker"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        for _ in range(240):
            assert proc.poll() is None, (tmp_path / "worker.log").read_text()[-3000:]
            try:
                status, body = _get(f"http://127.0.0.1:{port}/health")
                if status == 200 and json.loads(body)["ok"]:
                    break
            except OSError:
                pass
            await asyncio.sleep(0.5)
        else:
            pytest.fail("the worker never became healthy")
        wl = Workload(n_events=1_500, seed=21, bad_rate=0.01)
        await publish(cfg, stream, wl.messages())
        out = await collect(cfg, stream, expected=wl.n_events, timeout_s=90)
        assert len(out.unique_predictions()) + len(out.dead) == wl.n_events

        status, metrics = _get(f"http://127.0.0.1:{port}/metrics")
        text = metrics.decode()
        assert status == 200
        assert f'riffle_records_in_total{{stream="{name}",stage="features"}} 1500' in text
        assert f'riffle_prequential_accuracy{{stream="{name}"' in text

        shown = io.StringIO()
        n = await tail(
            cfg,
            stream,
            "dlq",
            from_beginning=True,
            max_records=len(out.dead),
            idle_timeout_s=10,
            out=shown,
        )
        lines = shown.getvalue().splitlines()
        assert n == len(out.dead) == len(lines) > 0
        assert all(f"from {stream.topics.events}:" in line for line in lines)
        shown = io.StringIO()
        await tail(
            cfg,
            stream,
            "predictions",
            from_beginning=True,
            max_records=3,
            idle_timeout_s=10,
            out=shown,
        )
        assert [json.loads(x)["model"] for x in shown.getvalue().splitlines()] == [
            "payments-lr@1"
        ] * 3
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            code = proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()
            code = proc.wait()
        log.close()
    assert code == 0, (tmp_path / "worker.log").read_text()[-3000:]
