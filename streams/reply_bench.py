"""`riffle bench reply`: request/reply round trips through a real worker at a steady rate.

What is measured: the round trip a caller of `PredictionClient.predict` sees, from the moment
a request is due to the moment its prediction is handed back. In between: the request on
`<s>.events` (acks=all), the feature stage (fetch, validate, aggregate, Redis write, features
record), the learner (fetch, merge of its input partitions in timestamp order, which can wait
up to ``runtime.max_idle_ms`` for a quiet partition, predict, publish the prediction and the
reply), and the client's reply consumer. Send and receive happen in one process, so one
monotonic clock times both ends (no clock skew between machines or processes).

How, and why this way on a 2-core machine:

* The worker (features + learner stages, as `riffle worker` runs them; the monitor is off by
  default because it is not on the request's path) runs in this process, on a fresh copy of
  the stream (`renamed`), removed afterwards.
* The load generator and its `PredictionClient` run in a child process. Sharing the worker's
  event loop would measure the wrong thing: a request due while the worker handles a batch
  would be sent only after it (the schedule slips), and a reply would be noticed only when the
  worker next yields, so the client's queueing behind the worker would be counted as the
  worker's latency, or hidden, depending on the moment. A caller is another process (usually
  another machine); so is the generator here.
* Open loop: requests are sent when the clock says, whether or not earlier ones have been
  answered. Latency runs from each request's *scheduled* time, so a stall counts against every
  request queued behind it (no coordinated omission); ``service_ms`` runs from the actual send.
* The two processes, the broker (a JVM) and Redis share the machine's cores, so the numbers
  include that contention, which a deployment with the callers elsewhere would not have. The
  result reports the core count, the load average and the CPU each side spent per request
  (the worker's and the generator's), which say how close a rate is to what the machine can
  carry whatever else runs on it.
* A warm-up (one answered request, then ``warmup_s`` seconds at the rate) is not counted.
  Requests carry no label: a caller asks for a prediction; ground truth comes later.

Run: ``python -m streams.reply_bench --rate 1000 --duration 20 --runs 3``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import pickle
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from streams.bench_stats import latency_summary
from streams.config import RiffleConfig, StreamConfig, load_config
from streams.demo import reset_stream
from streams.exceptions import PredictionTimeout
from streams.features_bench import renamed
from streams.prediction_client import PredictionClient
from streams.worker import Worker
from streams.workload import Workload

__all__ = ["main", "run_reply_bench"]

_READY_S = 60.0  # how long the first request may take (the worker's partitions, connections)


async def run_reply_bench(
    cfg: RiffleConfig,
    stream: StreamConfig,
    rate: float = 1000.0,
    duration_s: float = 20.0,
    runs: int = 3,
    *,
    warmup_s: float = 3.0,
    timeout_s: float = 10.0,
    entities: int = 10_000,
    stages: Sequence[str] = ("features", "learner"),
    seed: int = 0,
) -> dict[str, Any]:
    """Round-trip latency of `runs` runs at `rate` requests/s for `duration_s` seconds each,
    each against a fresh worker and stream; medians over the runs, percentiles in ms."""
    if rate <= 0 or duration_s <= 0 or runs < 1 or warmup_s < 0 or timeout_s <= 0:
        raise ValueError("rate, duration_s, runs and timeout_s must be positive, warmup_s >= 0")
    results = []
    for run in range(runs):
        results.append(
            await _one_run(
                cfg, stream, rate, duration_s, warmup_s, timeout_s, entities, stages, seed + run
            )
        )

    def median(key: str, sub: str | None = None) -> float:
        values = [r[key][sub] if sub else r[key] for r in results]
        return round(float(statistics.median(values)), 3)

    return {
        "benchmark": "reply",
        "stream": stream.name,
        "partitions": stream.partitions,
        "stages": list(stages),
        "rate_per_s": rate,
        "duration_s": duration_s,
        "warmup_s": warmup_s,
        "timeout_s": timeout_s,
        "runtime": {
            "batch_timeout_ms": cfg.runtime.batch_timeout_ms,
            "max_idle_ms": cfg.runtime.max_idle_ms,
            "batch_size": cfg.runtime.batch_size,
        },
        "median": {
            "latency_ms": {q: median("latency_ms", q) for q in ("p50", "p95", "p99", "max")},
            "service_ms": {q: median("service_ms", q) for q in ("p50", "p95", "p99", "max")},
            "achieved_rate_per_s": median("achieved_rate_per_s"),
            "worker_cpu_ms_per_request": median("worker_cpu_ms_per_request"),
            "client_cpu_ms_per_request": median("client_cpu_ms_per_request"),
        },
        "timeouts": sum(r["timeouts"] for r in results),
        "errors": sum(r["errors"] for r in results),
        "runs": results,
        "machine": {
            "cores": os.cpu_count(),
            "python": platform.python_version(),
            "load_avg_1m": round(os.getloadavg()[0], 2),
        },
    }


@contextlib.asynccontextmanager
async def _worker(
    cfg: RiffleConfig, stream: StreamConfig, stages: Sequence[str]
) -> AsyncIterator[tuple[RiffleConfig, StreamConfig, Worker]]:
    """A worker for a fresh copy of the stream in this process; the copy is removed after."""
    cfg, stream = renamed(cfg, stream, f"reply{uuid.uuid4().hex[:8]}")
    worker = Worker(cfg, [stream.name], stages=stages)
    try:
        await worker.start()
        await worker.wait_ready()
        yield cfg, stream, worker
    finally:
        await worker.stop()
        await reset_stream(cfg, stream, vectors=True)


async def _one_run(
    cfg: RiffleConfig,
    stream: StreamConfig,
    rate: float,
    duration_s: float,
    warmup_s: float,
    timeout_s: float,
    entities: int,
    stages: Sequence[str],
    seed: int,
) -> dict[str, Any]:
    load = round(os.getloadavg()[0], 2)  # other work on the machine, as the run starts
    async with _worker(cfg, stream, stages) as (cfg, stream, worker):
        job = (cfg, stream, rate, duration_s, warmup_s, timeout_s, entities, seed)
        with tempfile.NamedTemporaryFile(prefix="riffle-reply-", suffix=".pickle") as tmp:
            pickle.dump(job, tmp)  # our own config, read back by our own child (mode 0600)
            tmp.flush()
            proc = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "streams.reply_bench",
                "--generate",
                tmp.name,
                cwd=Path(__file__).resolve().parent.parent,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
            )
            generator = asyncio.create_task(_follow(proc))
            # a worker loop that fails ends the run with its error, not with 100% timeouts
            failed = asyncio.create_task(worker.run())
            await asyncio.wait({generator, failed}, return_when=asyncio.FIRST_COMPLETED)
            if not generator.done():
                proc.kill()
                generator.cancel()
                await proc.wait()
                raise RuntimeError("a worker loop failed during the run") from (
                    failed.exception() if not failed.cancelled() else None
                )
            failed.cancel()
            return {**generator.result(), "load_avg_1m_at_start": load}


async def _follow(proc: asyncio.subprocess.Process) -> dict[str, Any]:
    """The child's summary, with this process's (the worker's) CPU per request over the
    child's measured window, which it marks on stdout."""
    assert proc.stdout is not None
    cpu0 = cpu1 = None
    summary: dict[str, Any] | None = None
    async for line in proc.stdout:
        text = line.decode().strip()
        if text == "measure-start":
            cpu0 = time.process_time()
        elif text == "measure-end":
            cpu1 = time.process_time()
        elif text.startswith("{"):
            summary = json.loads(text)
    if await proc.wait() != 0 or summary is None or cpu0 is None or cpu1 is None:
        raise RuntimeError(f"the reply load generator failed (exit {proc.returncode})")
    summary["worker_cpu_ms_per_request"] = round((cpu1 - cpu0) * 1000 / summary["requests"], 3)
    return summary


# -- the load generator (child process) -------------------------------------------------------


def _events(stream: StreamConfig, n: int, entities: int, seed: int) -> list[dict[str, Any]]:
    """`n` unlabelled events of the stream's schema: the seeded workload's values where its
    fields match the schema, simple typed values elsewhere; ids unique to this run."""
    schema = stream.schema
    rng = np.random.default_rng(seed)
    wl = Workload(n_events=n, n_entities=entities, seed=seed, anomaly_rate=0.0)
    tag = uuid.uuid4().hex[:6]
    out = []
    for i, m in enumerate(m for m in wl.messages() if m.kind == "event"):
        body = orjson.loads(m.value)
        event: dict[str, Any] = {
            schema.id_field: f"q{tag}-{i}",
            schema.entity_field: body["entity"],
            schema.timestamp_field: 0,  # stamped when sent
        }
        for name, spec in schema.fields.items():
            if name in body and name not in (schema.id_field, schema.entity_field):
                event[name] = body[name]
            elif spec.type == "float":
                event[name] = round(float(rng.lognormal(2.0, 0.5)), 4)
            elif spec.type == "int":
                event[name] = int(rng.poisson(3))
            elif spec.type == "bool":
                event[name] = bool(rng.random() < 0.5)
            else:
                event[name] = f"{name}-{int(rng.integers(0, 20))}"
        out.append(event)
    return out


async def _open_loop(
    client: PredictionClient,
    events: list[dict[str, Any]],
    ts_field: str,
    rate: float,
    duration_s: float,
    timeout_s: float,
) -> dict[str, Any]:
    n = max(1, int(rate * duration_s))
    latency = np.full(n, np.nan)
    service = np.full(n, np.nan)
    failures = {"timeouts": 0, "errors": 0}
    clock = time.perf_counter
    start = clock() + 0.01

    async def one(i: int, scheduled: float) -> None:
        event = events[i % len(events)]
        event[ts_field] = int(time.time() * 1000)
        sent = clock()
        try:
            await client.predict(event, timeout_s)
        except PredictionTimeout:
            failures["timeouts"] += 1
            return
        except Exception:
            failures["errors"] += 1
            return
        done = clock()
        latency[i] = done - scheduled
        service[i] = done - sent

    tasks = []
    i = 0
    while i < n:
        due = min(n, int((clock() - start) * rate) + 1)
        while i < due:
            tasks.append(asyncio.create_task(one(i, start + i / rate)))
            i += 1
        await asyncio.sleep(max(0.0, start + i / rate - clock()))
    sending = clock() - start
    await asyncio.gather(*tasks)
    answered = latency[~np.isnan(latency)]
    return {
        "requests": n,
        "answered": int(answered.size),
        **failures,
        "achieved_rate_per_s": round(n / sending, 1),
        # the worker (or this generator) could not keep up: latency then grows with the backlog
        "saturated": n / sending < 0.95 * rate,
        "latency_ms": latency_summary(answered, digits=2),
        "service_ms": latency_summary(service[~np.isnan(service)], digits=2),
    }


async def _generate(
    cfg: RiffleConfig,
    stream: StreamConfig,
    rate: float,
    duration_s: float,
    warmup_s: float,
    timeout_s: float,
    entities: int,
    seed: int,
) -> dict[str, Any]:
    n = int(rate * (duration_s + warmup_s)) + 1
    events = _events(stream, n, entities, seed)
    ts_field = stream.schema.timestamp_field
    async with PredictionClient(cfg, stream, timeout=timeout_s) as client:
        deadline = time.monotonic() + _READY_S
        while True:  # the first answer: the worker has its partitions and connections
            events[-1][ts_field] = int(time.time() * 1000)
            try:
                await client.predict(events[-1], timeout=5.0)
                break
            except PredictionTimeout:
                if time.monotonic() > deadline:
                    raise
        if warmup_s > 0:
            await _open_loop(client, events, ts_field, rate, warmup_s, timeout_s)
        late0 = client.late_replies
        print("measure-start", flush=True)
        cpu0 = time.process_time()
        result = await _open_loop(
            client, events[int(rate * warmup_s) :], ts_field, rate, duration_s, timeout_s
        )
        cpu = time.process_time() - cpu0
        print("measure-end", flush=True)
        result["client_cpu_ms_per_request"] = round(cpu * 1000 / result["requests"], 3)
        result["late_replies"] = client.late_replies - late0
        result["unknown_replies"] = client.unknown_replies
    return result


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m streams.reply_bench", description=__doc__)
    p.add_argument("--config", default=os.environ.get("RIFFLE_CONFIG", "riffle.toml"))
    p.add_argument("--stream", default=None)
    p.add_argument("--rate", type=float, default=1000.0, help="requests per second")
    p.add_argument("--duration", type=float, default=20.0, help="measured seconds per run")
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--warmup", type=float, default=3.0)
    p.add_argument("--timeout", type=float, default=10.0, help="per-request timeout (s)")
    p.add_argument("--output", default=None, help="also write the JSON summary here")
    p.add_argument("--generate", default=None, help=argparse.SUPPRESS)  # the child
    args = p.parse_args(argv)
    if args.generate:
        with open(args.generate, "rb") as f:
            job = pickle.load(f)
        print(json.dumps(asyncio.run(_generate(*job))), flush=True)
        return 0
    cfg = load_config(args.config)
    summary = asyncio.run(
        run_reply_bench(
            cfg,
            cfg.stream(args.stream),
            rate=args.rate,
            duration_s=args.duration,
            runs=args.runs,
            warmup_s=args.warmup,
            timeout_s=args.timeout,
        )
    )
    text = json.dumps(summary, indent=2)
    print(text)
    if args.output:
        Path(args.output).parent.mkdir(parents=True, exist_ok=True)
        Path(args.output).write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
