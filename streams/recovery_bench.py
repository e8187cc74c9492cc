"""`riffle bench recovery`: what a checkpoint costs, and what a crash costs, on the real broker
and Redis.

* checkpoint cost per stage (the feature stage per partition, the learner, the monitor): the
  states a worker checkpointed at the end of a run are loaded back into fresh stage objects,
  then ``state_dict()``, `pack` and the Redis write are timed as `StageLoop.checkpoint` does
  them (the consumer's offset commit aside); the bytes written and the time to load a state
  back (Redis read, `unpack`, ``load_state_dict``), the other half of a recovery;
* recovery after SIGKILL: a worker (every stage) runs in a child process while the workload
  is published at a steady rate; part-way through it is killed and a new one started at once:
  (a) seconds from the new process's start to ready (every stage's partitions assigned and
  checkpoints loaded; a stage may start before the slowest), which includes Kafka's wait for
  the dead consumers' sessions to expire; (b) seconds from its start to its first prediction
  record (a replay, usually), and to its first prediction of an event not predicted before the
  kill; (c) events replayed: predictions it published for event ids already on the
  predictions topic before the kill; and seconds until every event has a prediction. For
  comparison, the ready time of a restart after a clean stop (SIGTERM), whose consumers leave
  their groups and whose states are checkpointed on the way out.

Each run uses a fresh copy of the stream (`renamed`), removed afterwards. Results are medians
over ``runs``; the machine is shared with the broker, Redis and the publisher.

Worker processes: ``python -m streams.recovery_bench worker <config.pickle> [--stages s,...]``
(the pickle holds ``(RiffleConfig, stream name)`` written by the parent) prints
``ready <seconds>`` once its partitions are assigned and runs until SIGTERM.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import math
import os
import pickle
import platform
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import orjson
import redis.asyncio as aioredis
from aiokafka import AIOKafkaConsumer, TopicPartition

from featurestore import FeatureProcessor
from streams.checkpoint import Checkpoint, RedisCheckpoints, pack
from streams.config import RiffleConfig, StreamConfig
from streams.demo import reset_stream
from streams.features_bench import renamed
from streams.learner import Learner
from streams.monitor_stage import MonitorStage
from streams.producer import EventProducer
from streams.worker import STAGES, Worker
from streams.workload import Workload

__all__ = ["WorkerProcess", "checkpoint_costs", "run_recovery_bench", "write_job"]

ROOT = Path(__file__).resolve().parent.parent


class WorkerProcess:
    """A worker running `stages` of one stream in a child process, to be killed.

    Usage::

        proc = await WorkerProcess.start("job.pickle", ["learner"])  # returns once ready
        proc.ready_s, proc.load_s  # from spawn / from the child's start of work to ready
        await proc.kill()  # SIGKILL: nothing is checkpointed on the way out
    """

    def __init__(self, proc: asyncio.subprocess.Process, spawned: float) -> None:
        self.proc = proc
        self.spawned = spawned
        self.ready_s = 0.0
        self.load_s = 0.0

    @classmethod
    async def start(
        cls, job: str | os.PathLike[str], stages: Sequence[str] = STAGES, timeout_s: float = 120.0
    ) -> WorkerProcess:
        """Spawn ``python -m streams.recovery_bench worker job`` and wait for its ``ready``."""
        spawned = time.monotonic()
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "streams.recovery_bench",
            "worker",
            os.fspath(job),
            "--stages",
            ",".join(stages),
            cwd=ROOT,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
        )
        self = cls(proc, spawned)
        assert proc.stdout is not None
        try:
            line = await asyncio.wait_for(proc.stdout.readline(), timeout_s)
        except TimeoutError:
            await self.kill()
            raise RuntimeError(f"worker {list(stages)} not ready after {timeout_s:.0f}s") from None
        word, _, seconds = line.decode().partition(" ")
        if word != "ready":
            raise RuntimeError(f"worker {list(stages)} did not start (exit {await proc.wait()})")
        self.ready_s = time.monotonic() - spawned
        self.load_s = float(seconds)
        return self

    async def kill(self) -> None:
        """SIGKILL, and reap."""
        if self.proc.returncode is None:
            self.proc.send_signal(signal.SIGKILL)
        await self.proc.wait()

    async def stop(self, timeout_s: float = 60.0) -> int:
        """SIGTERM (the worker checkpoints and leaves its groups); SIGKILL after `timeout_s`."""
        if self.proc.returncode is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return await asyncio.wait_for(self.proc.wait(), timeout_s)
        except TimeoutError:
            await self.kill()
            return -signal.SIGKILL


def write_job(path: str | os.PathLike[str], cfg: RiffleConfig, stream: StreamConfig) -> None:
    """The config a `WorkerProcess` reads: ours, for our own child (mode 0600)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        pickle.dump((cfg, stream.name), fh)


# -- checkpoint cost -------------------------------------------------------------------------


async def checkpoint_costs(
    cfg: RiffleConfig, stream: StreamConfig, repeats: int = 15
) -> dict[str, dict[str, float]]:
    """Median cost of checkpointing, and of loading, each stage's checkpointed state.

    Reads the checkpoints `stream`'s worker wrote (they must exist), installs each in a fresh
    stage object and times ``state_dict()``, `pack` and ``SET`` under a scratch key, as a stage
    loop does at every checkpoint interval; then the Redis read, `unpack` and
    ``load_state_dict`` of a restart."""
    names = [f"features:{p}" for p in range(stream.partitions)] + ["learner", "monitor"]
    client = aioredis.Redis.from_url(cfg.redis_url.get())
    store = RedisCheckpoints(client)
    scratch = f"bench-scratch-{uuid.uuid4().hex[:8]}"
    out: dict[str, dict[str, float]] = {}
    try:
        for name in names:
            ck = await store.load(f"{stream.name}:{name}")
            if ck is None:
                continue
            make = _stage_factory(stream, name)
            obj = make()
            obj.load_state_dict(ck.state)
            keys = ("state_dict_ms", "pack_ms", "pack_and_set_ms", "load_ms")
            times: dict[str, list[float]] = {k: [] for k in keys}
            for _ in range(repeats):
                t = [time.perf_counter()]
                state = obj.state_dict()
                t.append(time.perf_counter())
                size = len(pack(Checkpoint(state, ck.offsets)))
                t.append(time.perf_counter())
                await store.save(scratch, Checkpoint(state, ck.offsets))  # packs again
                t.append(time.perf_counter())
                back = await store.load(scratch)
                make().load_state_dict(back.state if back else {})
                t.append(time.perf_counter())
                for k, t0, t1 in zip(keys, t, t[1:], strict=False):
                    times[k].append(t1 - t0)
            cost = zip(times["state_dict_ms"], times["pack_and_set_ms"], strict=True)
            out[name] = {
                "bytes": size,
                **{k: _ms(v) for k, v in times.items()},
                "checkpoint_ms": _ms([a + b for a, b in cost]),  # state_dict + pack + SET
            }
    finally:
        await client.delete(f"riffle:ckpt:{scratch}")
        await client.aclose()
    return out


def _stage_factory(s: StreamConfig, name: str) -> Callable[[], Any]:
    if name.startswith("features"):
        return lambda: FeatureProcessor(s.schema, s.view, s.extra_views)
    if name == "learner":
        return lambda: Learner(
            s.name,
            s.view.feature_names,
            s.model,
            max_pending=s.max_pending_labels,
            deployment=s.deployment,
        )
    return lambda: MonitorStage(s)


def _ms(seconds: list[float]) -> float:
    return round(statistics.median(seconds) * 1000.0, 3)


# -- recovery after a kill -------------------------------------------------------------------


class _Tail:
    """Every prediction record of a stream, read from the start in the background: partition,
    offset, event id and arrival time."""

    def __init__(self, cfg: RiffleConfig, stream: StreamConfig) -> None:
        self.cfg = cfg
        self.topic = stream.topics.predictions
        self.partitions = stream.partitions
        self.records: list[tuple[int, int, str, float]] = []
        self.ids: set[str] = set()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        consumer = AIOKafkaConsumer(
            self.topic,
            **self.cfg.kafka.client_options(),
            group_id=None,
            auto_offset_reset="earliest",
        )
        await consumer.start()
        self._task = asyncio.create_task(self._run(consumer))

    async def _run(self, consumer: AIOKafkaConsumer) -> None:
        try:
            while True:
                batch = await consumer.getmany(timeout_ms=100)
                now = time.monotonic()
                for tp, msgs in batch.items():
                    for m in msgs:
                        eid = orjson.loads(m.value or b"{}")["event_id"]
                        self.records.append((tp.partition, m.offset, eid, now))
                        self.ids.add(eid)
        finally:
            await consumer.stop()

    async def end_offsets(self) -> dict[int, int]:
        """The topic's current end offset per partition."""
        consumer = AIOKafkaConsumer(**self.cfg.kafka.client_options())
        await consumer.start()
        try:
            tps = [TopicPartition(self.topic, p) for p in range(self.partitions)]
            return {tp.partition: off for tp, off in (await consumer.end_offsets(tps)).items()}
        finally:
            await consumer.stop()

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


async def _until(cond: Callable[[], bool], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not cond():
        if time.monotonic() > deadline:
            raise TimeoutError(f"no {what} after {timeout_s:.0f}s")
        await asyncio.sleep(0.01)


async def _recovery_run(
    cfg: RiffleConfig,
    stream: StreamConfig,
    events: int,
    rate: float,
    kill_at: float,
    seed: int,
    job: Path,
) -> dict[str, Any]:
    """One kill and restart on a fresh copy of the stream, then a clean restart; returns the
    timings, and the checkpoint costs of the states left at the end."""
    cfg, stream = renamed(cfg, stream, f"bench{uuid.uuid4().hex[:8]}")
    write_job(job, cfg, stream)
    wl = Workload(n_events=events, seed=seed)
    messages = list(wl.messages())
    valid = {f"e{seed}-{m.index}" for m in messages if m.kind == "event"}
    tail = _Tail(cfg, stream)
    procs: list[WorkerProcess] = []
    try:
        first = await WorkerProcess.start(job)
        procs.append(first)
        await tail.start()
        async with EventProducer(cfg.kafka, stream) as producer:
            publishing = asyncio.create_task(producer.replay(messages, rate=rate))
            timeout = 60 + 3 * len(messages) / rate
            await _until(lambda: len(tail.ids) >= kill_at * len(valid), timeout, "progress")
            await first.kill()
            # what the dead worker published: everything below these offsets, which includes
            # every record read so far
            n0 = len(tail.records)
            ends = await tail.end_offsets()
            second = await WorkerProcess.start(job)
            procs.append(second)

            def after_kill() -> list[tuple[int, int, str, float]]:
                return [r for r in tail.records[n0:] if r[1] >= ends[r[0]]]

            await _until(lambda: bool(after_kill()), 120, "new prediction")
            first_new_s = min(r[3] for r in after_kill()) - second.spawned

            def covered() -> bool:
                return len(tail.ids) >= len(valid) and valid <= tail.ids

            await _until(covered, timeout + 120, "full coverage")
            all_predicted_s = time.monotonic() - second.spawned
            await publishing
        await asyncio.sleep(1.0)  # duplicates would show up right behind the last record
        before = {r[2] for r in tail.records if r[1] < ends[r[0]]}
        replayed = sum(1 for r in after_kill() if r[2] in before)
        unseen = [r[3] for r in after_kill() if r[2] not in before]
        first_unseen_s = min(unseen, default=math.nan) - second.spawned
        # a clean restart: the consumers leave their groups, the states are checkpointed
        await second.stop()
        third = await WorkerProcess.start(job)
        procs.append(third)
        await third.stop()
        costs = await checkpoint_costs(cfg, stream)
        return {
            "predicted_before_kill": len(before),
            "cold_start_ready_s": round(first.ready_s, 3),
            "ready_s": round(second.ready_s, 3),
            "ready_in_process_s": round(second.load_s, 3),
            "first_new_prediction_s": round(first_new_s, 3),
            "first_unseen_event_s": round(first_unseen_s, 3),
            "all_predicted_s": round(all_predicted_s, 3),
            "events_replayed": replayed,
            "clean_restart_ready_s": round(third.ready_s, 3),
            "checkpoints": costs,
        }
    finally:
        await tail.stop()
        for p in procs:
            await p.kill()
        await reset_stream(cfg, stream, vectors=True)


async def run_recovery_bench(
    cfg: RiffleConfig,
    stream: StreamConfig,
    runs: int = 3,
    events: int = 20000,
    rate: float = 4000.0,
    kill_at: float = 0.4,
    seed: int = 17,
) -> dict[str, Any]:
    """Checkpoint costs and recovery after a SIGKILL; medians over `runs`.

    `rate`: messages (events and delayed labels) published per second; the worker is killed
    once `kill_at` of the events have a prediction."""
    if runs < 1 or events < 100 or rate <= 0 or not 0 < kill_at < 1:
        raise ValueError("runs >= 1, events >= 100, rate > 0 and 0 < kill_at < 1 required")
    results = []
    with tempfile.TemporaryDirectory(prefix="riffle-recovery-") as tmp:
        for i in range(runs):
            job = Path(tmp) / "job.pickle"
            results.append(await _recovery_run(cfg, stream, events, rate, kill_at, seed + i, job))

    def med(rows: list[dict[str, Any]], key: str) -> float:
        return round(float(statistics.median(r[key] for r in rows)), 3)

    ckpts = [r["checkpoints"] for r in results]
    stages = [s for s in ckpts[0] if all(s in c for c in ckpts)]
    recovery = [
        "ready_s",
        "ready_in_process_s",
        "first_new_prediction_s",
        "first_unseen_event_s",
        "events_replayed",
        "all_predicted_s",
    ]
    return {
        "benchmark": "recovery",
        "machine": {
            "cores": os.cpu_count(),
            "python": platform.python_version(),
            "load_avg_1m_at_end": round(os.getloadavg()[0], 2),
        },
        "stream": stream.name,
        "partitions": stream.partitions,
        "events": events,
        "rate_per_s": rate,
        "checkpoint_interval_s": cfg.runtime.checkpoint_interval_s,
        "runs": runs,
        "checkpoint": {s: {k: med([c[s] for c in ckpts], k) for k in ckpts[0][s]} for s in stages},
        "recovery_after_sigkill": {k: med(results, k) for k in recovery},
        "cold_start_ready_s": med(results, "cold_start_ready_s"),
        "clean_restart_ready_s": med(results, "clean_restart_ready_s"),
        "per_run": results,
    }


# -- the worker process ----------------------------------------------------------------------


async def _serve(job: str, stages: Sequence[str]) -> None:
    t0 = time.monotonic()
    with open(job, "rb") as fh:
        cfg, name = pickle.load(fh)  # written by our parent (`write_job`)
    worker = Worker(cfg, [name], stages=stages)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    await worker.start()
    try:
        await worker.wait_ready(timeout=120)
        print(f"ready {time.monotonic() - t0:.3f}", flush=True)
        runner = asyncio.create_task(worker.run())
        stopper = asyncio.create_task(stop.wait())
        await asyncio.wait([runner, stopper], return_when=asyncio.FIRST_COMPLETED)
        stopper.cancel()
        if runner.done():
            runner.result()  # a failed loop: its error, after the others are stopped
        else:
            runner.cancel()
    finally:
        await worker.stop()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m streams.recovery_bench")
    sub = p.add_subparsers(dest="cmd", required=True)
    w = sub.add_parser("worker", help="run a worker until SIGTERM; prints 'ready <s>'")
    w.add_argument("job", help="pickle of (RiffleConfig, stream name) written by the parent")
    w.add_argument("--stages", default=",".join(STAGES))
    args = p.parse_args(argv)
    # dead letters and rebalances are expected here; errors still show
    logging.basicConfig(level=logging.ERROR)
    asyncio.run(_serve(args.job, [s for s in args.stages.split(",") if s]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
