"""`riffle demo`: the seeded workload through a real worker (or `--embedded`, in-process), with a
live console view and a final summary."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections import Counter
from pathlib import Path
from typing import Any, TextIO

import redis.asyncio as aioredis
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from featurestore import DeadLetter
from featurestore.store import entity_key
from monitor.alert import Alert
from streams.config import RiffleConfig, StreamConfig
from streams.demo_report import DemoReport
from streams.producer import EventProducer
from streams.records import Prediction
from streams.runner import EmbeddedRunner, RunResult
from streams.services import ensure_services
from streams.workload import Workload

__all__ = ["embedded_demo", "kafka_demo", "reset_stream"]


def _alert_line(a: Alert) -> str:
    return f"[{a.severity}] {a.kind}/{a.detector} subject={a.subject} score={a.score:.3g}"


def embedded_demo(stream: StreamConfig, wl: Workload, out: TextIO = sys.stdout) -> dict[str, Any]:
    report = DemoReport(wl)
    t0 = time.perf_counter()
    last = [0.0]

    def view(res: RunResult) -> None:
        now = time.perf_counter()
        if now - last[0] >= 0.5:
            last[0] = now
            _line(
                out,
                now - t0,
                "events",
                res.n_events,
                wl.n_events,
                len(res.predictions),
                runner.learner.rolling_accuracy,
                len(res.dead),
                Counter(a.kind for a in res.alerts if a.status == "firing"),
                res.alerts[-1] if res.alerts else None,
            )

    runner = EmbeddedRunner(stream, on_batch=view)
    res = runner.run_sync(wl.messages())
    report.seconds = time.perf_counter() - t0
    report.add_predictions(res.predictions)
    report.alerts, report.dead = res.alerts, res.dead
    print(file=out)
    return report.summary()


def _line(
    out: TextIO,
    t: float,
    what: str,
    published: int,
    total: int,
    n_pred: int,
    acc: float,
    n_dead: int,
    kinds: Counter[str],
    last: Alert | None,
) -> None:
    tail = f" | last alert: {_alert_line(last)}" if last else ""
    print(
        f"\r{t:6.1f}s {what} {published:,}/{total:,} | predictions {n_pred:,} | rolling acc "
        f"{acc:.3f} | dlq {n_dead} | alerts drift={kinds.get('drift', 0)} "
        f"anomaly={kinds.get('anomaly', 0)}{tail}"[:220].ljust(160),
        end="",
        file=out,
        flush=True,
    )


async def reset_stream(cfg: RiffleConfig, stream: StreamConfig, vectors: bool = False) -> None:
    """Delete a stream's topics and checkpoints, for a demo from scratch (Kafka drops the
    committed offsets of deleted topics; without a checkpoint the stages read from the start),
    and with `vectors` its views' vectors in Redis (a benchmark's throwaway stream)."""
    t = stream.topics
    names = [t.events, t.features, t.predictions, t.labels, t.dlq, t.control]
    admin = AIOKafkaAdminClient(**cfg.kafka.client_options())
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        doomed = [n for n in names if n in existing]
        if doomed:
            await admin.delete_topics(doomed)
        for _ in range(100):
            if not set(await admin.list_topics()) & set(doomed):
                break
            await asyncio.sleep(0.2)
    finally:
        await admin.close()
    client = aioredis.Redis.from_url(cfg.redis_url.get())
    try:
        patterns = [f"riffle:ckpt:{stream.name}:*"]
        if vectors:
            views = (stream.view, *stream.extra_views)
            patterns += [entity_key("riffle", v, "*") for v in views]
        for pattern in patterns:
            keys = [k async for k in client.scan_iter(pattern, count=10_000)]
            for i in range(0, len(keys), 10_000):
                await client.delete(*keys[i : i + 10_000])
    finally:
        await client.aclose()


async def kafka_demo(
    cfg: RiffleConfig,
    config_path: str,
    stream: StreamConfig,
    wl: Workload,
    rate: float | None = None,
    out: TextIO = sys.stdout,
    timeout_s: float = 300.0,
) -> dict[str, Any]:
    ensure_services(cfg)
    await reset_stream(cfg, stream)
    t = stream.topics
    consumer = AIOKafkaConsumer(
        **cfg.kafka.client_options(), group_id=None, enable_auto_commit=False
    )
    await consumer.start()
    # the worker writes this log for as long as it runs, past this statement
    log_file = open(_log_path(), "w")  # noqa: SIM115
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "streams.cli",
            "--config",
            config_path,
            "worker",
            "--stream",
            stream.name,
        ],
        env=dict(os.environ),
        stdout=subprocess.DEVNULL,
        stderr=log_file,
    )
    report = DemoReport(wl)
    try:
        await _wait_healthy(cfg.runtime.web_port, worker)
        # read alerts from now on (the topic is shared) and the stream's outputs from the start
        alert_tps = [
            TopicPartition(t.alerts, p) for p in (consumer.partitions_for_topic(t.alerts) or {0})
        ]
        tps = (
            alert_tps
            + [TopicPartition(t.predictions, p) for p in range(stream.partitions)]
            + [TopicPartition(t.dlq, p) for p in range(stream.partitions)]
        )
        consumer.assign(tps)
        await consumer.seek_to_end(*alert_tps)
        for tp in alert_tps:
            await consumer.position(tp)
        print(
            f"worker up (pid {worker.pid}); publishing {wl.n_events:,} events to {t.events}",
            file=out,
        )
        published = [0]
        messages = list(wl.messages())
        n_messages = len(messages)
        t0 = time.perf_counter()

        async def publish() -> None:
            async with EventProducer(cfg.kafka, stream) as producer:
                await producer.replay(
                    wl.messages(), rate=rate, on_progress=lambda n: published.__setitem__(0, n)
                )

        pub = asyncio.create_task(publish())
        last_view = 0.0
        recent: list[int] = []
        deadline = time.monotonic() + timeout_s
        while len(report.predictions) + report.n_dead_events() < wl.n_events:
            if time.monotonic() > deadline:
                print(f"\ntimed out after {timeout_s:.0f}s", file=out)
                break
            if worker.poll() is not None:
                raise RuntimeError(f"the worker exited with {worker.returncode}; see {_log_path()}")
            batch = await consumer.getmany(timeout_ms=200)
            now_ms = time.time() * 1000
            for tp, msgs in batch.items():
                if tp.topic == t.predictions:
                    preds = [Prediction.from_json(m.value or b"") for m in msgs]
                    report.add_predictions(preds)
                    report.latencies_ms.extend(
                        now_ms - p.source.get("sent_ms", now_ms) for p in preds
                    )
                    recent.extend(
                        int(p.prediction == p.label) for p in preds if p.label is not None
                    )
                    del recent[:-1000]
                elif tp.topic == t.dlq:
                    report.dead.extend(
                        DeadLetter.from_headers(m.value or b"", m.key, list(m.headers))
                        for m in msgs
                    )
                else:
                    report.alerts.extend(
                        a
                        for a in (Alert.from_json(m.value or b"") for m in msgs)
                        if a.stream == stream.name
                    )
            now = time.perf_counter()
            if now - last_view >= 0.5:
                last_view = now
                acc = sum(recent) / len(recent) if recent else 0.0
                _line(
                    out,
                    now - t0,
                    "published",
                    published[0],
                    n_messages,
                    len(report.predictions),
                    acc,
                    len(report.dead),
                    Counter(a.kind for a in report.alerts if a.status == "firing"),
                    report.alerts[-1] if report.alerts else None,
                )
        report.seconds = time.perf_counter() - t0
        await pub
        # alerts may trail the last prediction by a batch
        end = time.monotonic() + 3
        while time.monotonic() < end:
            batch = await consumer.getmany(*alert_tps, timeout_ms=300)
            for msgs in batch.values():
                report.alerts.extend(
                    a
                    for a in (Alert.from_json(m.value or b"") for m in msgs)
                    if a.stream == stream.name
                )
        print(file=out)
    finally:
        await consumer.stop()
        if worker.poll() is None:
            worker.send_signal(signal.SIGTERM)
            try:
                worker.wait(30)
            except subprocess.TimeoutExpired:
                worker.kill()
        log_file.close()
    summary = report.summary()
    summary["mode"] = "kafka"
    return summary


def _log_path() -> str:
    return str(Path(os.environ.get("TMPDIR", "/tmp")) / "riffle-demo-worker.log")


def _get(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=1) as resp:
        body: bytes = resp.read()
        return body


async def _wait_healthy(port: int, proc: subprocess.Popen[bytes], timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the worker exited with {proc.returncode}; see {_log_path()}")
        try:
            body = await asyncio.to_thread(_get, f"http://127.0.0.1:{port}/health")
            if json.loads(body).get("ok"):
                return
        except OSError:
            pass
        await asyncio.sleep(0.5)
    raise RuntimeError(f"the worker did not become healthy in {timeout:.0f}s; see {_log_path()}")
