"""Feature-serving latency: single-entity GETs and batch POSTs against a real worker's web server.

Run: ``python -m streams.serving_bench --duration 20`` (the `riffle bench` wiring is separate).
Fills Redis with `n_entities` vectors of the stream's view, starts a worker process serving only
the web routes (no stages, so it never joins the stream's consumer groups) unless `url` names a
running one, then sends requests from this process on an open-loop schedule at `rate`
requests/s: each request goes out when it is due, whether or not earlier ones have been
answered, on one of a pool of keep-alive HTTP/1.1 connections (`streams.http_load`, a lean
asyncio client; every answer is still checked: status 200, one result per entity, how many were
not found). Latency runs from each request's *scheduled* send time, so a slow answer also counts
against the requests queued behind it (no coordinated omission); `service` is the time from the
actual send and `send_lag` how late the generator sent (it shares the machine too).
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import os
import pickle
import platform
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import redis.asyncio as aioredis

from featurestore import FeatureClient, FeatureRecord, FeatureServingError, FeatureView, RedisStore
from featurestore.store import entity_key
from streams.bench_stats import speed_probe
from streams.config import RiffleConfig, StreamConfig, load_config
from streams.demo import reset_stream
from streams.features_bench import renamed
from streams.http_load import LoadGenerator, precise_loop

__all__ = ["main", "median_of_runs", "run_serving_bench"]

TARGET_P99_MS = {1: 2.0, 100: 10.0}
SERVERS = {"serve": "riffle serve", "worker": "a worker's web server (web only, no stages)"}


def run_serving_bench(
    cfg: RiffleConfig,
    stream: StreamConfig,
    rate: float = 500.0,
    duration_s: float = 10.0,
    batch: int | Sequence[int] = (1, 100),
    url: str | None = None,
    n_entities: int = 10_000,
    warmup_s: float = 2.0,
    seed: int = 0,
    server: str = "serve",
) -> dict[str, Any]:
    """Measure serving latency at a steady `rate` for each batch size in `batch` (1 = GET one
    entity, n > 1 = POST n entities) against `riffle serve` (``server="serve"``) or a worker's
    own web server (``"worker"``) started for the run, or the server at `url`. Returns the
    summary, percentiles in milliseconds."""
    if server not in SERVERS:
        raise ValueError(f"server must be one of {sorted(SERVERS)}, got {server!r}")
    batches = [batch] if isinstance(batch, int) else list(batch)
    if rate <= 0 or duration_s <= 0 or warmup_s < 0 or n_entities < 1:
        raise ValueError("rate, duration_s and n_entities must be positive, warmup_s >= 0")
    if not batches or any(b < 1 or b > n_entities for b in batches):
        raise ValueError(f"batch sizes must be within 1..n_entities, got {batches}")
    original = stream
    if url is None:  # our own worker serves a copy of the view: the real one is left alone
        cfg, stream = renamed(cfg, stream, f"bench{uuid.uuid4().hex[:8]}")
    view = stream.view
    entities = [f"bench-{i}" for i in range(n_entities)]
    asyncio.run(_fill(cfg.redis_url.get(), view, entities))
    proc: subprocess.Popen[bytes] | None = None
    if url is None:
        port = _free_port()
        url = f"http://127.0.0.1:{port}"
        served = dataclasses.replace(
            cfg, runtime=dataclasses.replace(cfg.runtime, web_port=port, web_host="127.0.0.1")
        )
        with tempfile.NamedTemporaryFile(
            prefix="riffle-serving-", suffix=".pickle", delete=False
        ) as tmp:
            pickle.dump(
                (served, stream.name, server), tmp
            )  # our own config, read back by our child
        proc = subprocess.Popen(
            [sys.executable, "-m", "streams.serving_bench", "--serve-config", tmp.name],
            cwd=Path(__file__).resolve().parent.parent,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,  # the JSON summary owns stdout; faust logs to stderr
        )
    try:
        _wait_served(url, view.name, entities[0], proc)
        pid = proc.pid if proc is not None else None
        with asyncio.Runner(loop_factory=precise_loop) as runner:
            results = runner.run(
                _measure(url, view.name, entities, batches, rate, duration_s, warmup_s, seed, pid)
            )
    finally:
        if proc is not None:
            proc.terminate()  # SIGTERM: faust's graceful shutdown
            try:
                proc.wait(60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            os.unlink(tmp.name)
        asyncio.run(_clean(cfg, stream, entities, own=proc is not None))
    return {
        "benchmark": "serving",
        "stream": original.name,
        "view": original.view.qualified_name,
        "n_features": len(view.feature_names),
        "url": url,
        "server": SERVERS[server] if proc is not None else "given",
        "rate_per_s": rate,
        "duration_s": duration_s,
        "warmup_s": warmup_s,
        "n_entities": n_entities,
        "seed": seed,
        "results": results,
        "host": {
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "load_avg_1m": round(os.getloadavg()[0], 2),
            "speed_probe_us": speed_probe(),  # see `streams.bench_stats.speed_probe`
        },
    }


async def _measure(
    url: str,
    view: str,
    entities: list[str],
    batches: list[int],
    rate: float,
    duration_s: float,
    warmup_s: float,
    seed: int,
    pid: int | None,
) -> dict[str, Any]:
    rng = random.Random(seed)
    generator = LoadGenerator(url)
    await generator.start()
    results: dict[str, Any] = {}
    try:
        for b in batches:
            if warmup_s > 0:
                await generator.run(view, entities, b, rate, warmup_s, rng)
            server_cpu = _cpu_seconds(pid) if pid is not None else None
            client_cpu = time.process_time()
            res = await generator.run(view, entities, b, rate, duration_s, rng)
            # CPU per request: what caps a worker's rate, whatever else shares the machine
            res["client_cpu_ms_per_request"] = round(
                (time.process_time() - client_cpu) * 1000 / res["requests"], 3
            )
            if pid is not None and server_cpu is not None:
                used = (_cpu_seconds(pid) or 0.0) - server_cpu
                res["server_cpu_ms_per_request"] = round(used * 1000 / res["requests"], 3)
            res["target_p99_ms"] = TARGET_P99_MS.get(b)
            results[f"batch_{b}"] = res
    finally:
        generator.close()
    return results


async def _fill(redis_url: str, view: FeatureView, entities: list[str]) -> None:
    store = RedisStore(redis_url)
    await store.start()
    rng = random.Random(1)
    now = int(time.time() * 1000)
    names = view.feature_names
    try:
        for lo in range(0, len(entities), 1000):
            await store.write_many(
                view,
                [
                    FeatureRecord(
                        f"bench-{e}",
                        e,
                        now - rng.randrange(60_000),
                        [rng.uniform(-100, 100) for _ in names],
                        None,
                        view.name,
                        view.version,
                        names=names,
                    )
                    for e in entities[lo : lo + 1000]
                ],
            )
    finally:
        await store.stop()


async def _clean(cfg: RiffleConfig, stream: StreamConfig, entities: list[str], own: bool) -> None:
    """Remove what the bench wrote: its copy of the stream, or its entities of a served view."""
    if own:
        await reset_stream(cfg, stream, vectors=True)
        return
    client = aioredis.Redis.from_url(cfg.redis_url.get())
    try:
        keys = [entity_key("riffle", stream.view, e) for e in entities]
        for lo in range(0, len(keys), 10_000):
            await client.delete(*keys[lo : lo + 10_000])
    finally:
        await client.aclose()


def median_of_runs(runs: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Per request kind, the medians over `run_serving_bench` summaries (a noisy machine's runs
    differ more than their percentiles do).

    >>> one = {"latency_ms": {"p50": 1.0, "p99": 3.0}, "service_ms": {"p99": 2.0},
    ...        "achieved_rate_per_s": 500.0, "saturated": False, "target_p99_ms": 2.0}
    >>> two = {**one, "latency_ms": {"p50": 2.0, "p99": 9.0}, "saturated": True}
    >>> median_of_runs([{"results": {"batch_1": r}} for r in (one, two, one)])["batch_1"]["p99_ms"]
    3.0
    """
    out: dict[str, Any] = {}
    for kind in runs[0]["results"]:
        rs = [r["results"][kind] for r in runs]
        out[kind] = {
            "p50_ms": statistics.median(r["latency_ms"]["p50"] for r in rs),
            "p99_ms": statistics.median(r["latency_ms"]["p99"] for r in rs),
            "service_p99_ms": statistics.median(r["service_ms"]["p99"] for r in rs),
            "achieved_rate_per_s": statistics.median(r["achieved_rate_per_s"] for r in rs),
            "saturated_runs": sum(bool(r["saturated"]) for r in rs),
            "target_p99_ms": rs[0]["target_p99_ms"],
        }
    return out


def _serve(path: str) -> None:
    """The serving process: `riffle serve`, or the faust app with its web server and no
    stages."""
    import faust

    from streams.app import create_app
    from streams.event_loop import use_event_loop
    from streams.serve import run_server

    with open(path, "rb") as f:
        cfg, stream, server = pickle.load(f)

    if server == "serve":
        run_server(cfg, [stream], cfg.runtime.web_host, cfg.runtime.web_port)
        return
    use_event_loop(cfg.runtime)
    app = create_app(cfg, [stream], stages=())
    faust.Worker(app, loglevel="WARNING", quiet=True).execute_from_commandline()


def _wait_served(url: str, view: str, entity: str, proc: subprocess.Popen[bytes] | None) -> None:
    deadline = time.monotonic() + 120
    with FeatureClient(url, timeout=2) as client:
        while True:
            if proc is not None and proc.poll() is not None:
                raise RuntimeError(f"the server exited with code {proc.returncode}")
            try:
                if client.get(view, entity).found:
                    return
                raise RuntimeError(f"{url} does not find the bench's vectors of view {view!r}")
            except FeatureServingError:
                if time.monotonic() > deadline:
                    raise
            time.sleep(0.2)


def _cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of a process (Linux /proc; None elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m streams.serving_bench", description=__doc__)
    p.add_argument("--config", default=os.environ.get("RIFFLE_CONFIG", "riffle.toml"))
    p.add_argument("--stream", default=None)
    p.add_argument("--rate", type=float, default=500.0)
    p.add_argument("--duration", type=float, default=10.0)
    p.add_argument("--warmup", type=float, default=2.0)
    p.add_argument("--batch", type=int, action="append", help="repeatable; default: 1 and 100")
    p.add_argument("--entities", type=int, default=10_000)
    p.add_argument("--url", default=None, help="a running server (default: start one)")
    p.add_argument("--server", choices=sorted(SERVERS), default="serve", help="what to start")
    p.add_argument("--output", default=None, help="also write the JSON summary here")
    p.add_argument("--serve-config", default=None, help=argparse.SUPPRESS)  # the child
    args = p.parse_args(argv)
    if args.serve_config:
        _serve(args.serve_config)
        return 0
    cfg = load_config(args.config)
    summary = run_serving_bench(
        cfg,
        cfg.stream(args.stream),
        rate=args.rate,
        duration_s=args.duration,
        batch=args.batch or (1, 100),
        url=args.url,
        n_entities=args.entities,
        warmup_s=args.warmup,
        server=args.server,
    )
    text = json.dumps(summary, indent=2)
    print(text)
    if args.output:
        Path(args.output).parent.mkdir(parents=True, exist_ok=True)
        Path(args.output).write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
