"""Measure which driver carries the hot path: faust's Stream (`take_events`) or aiokafka
`getmany`, both feeding the same feature processor on the real broker.

Run: ``python -m streams.driver_bench --events 100000`` (also ``riffle bench drivers``).
Each driver runs in a fresh subprocess on a topic pre-filled with the same seeded events; the
clock runs from the first record received to the last features record acknowledged.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import statistics
import subprocess
import sys
import time
import uuid
from typing import Any

from featurestore import EventSchema, FeatureProcessor, FeatureView, FieldSpec, SourceRecord
from streams.workload import FIELDS, Workload

__all__ = ["main"]


def _processor() -> FeatureProcessor:
    schema = EventSchema(fields={f: FieldSpec("float") for f in FIELDS})
    return FeatureProcessor(schema, FeatureView("bench", window="5m", fields=FIELDS))


async def _fill(bootstrap: str, topic: str, n: int) -> None:
    from aiokafka import AIOKafkaProducer
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, 1, 1), NewTopic(topic + ".out", 1, 1)])
    finally:
        await admin.close()
    prod = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=5, max_batch_size=256 * 1024)
    await prod.start()
    try:
        futs = [
            await prod.send(topic, m.value, key=m.key)
            for m in Workload(
                n_events=n, seed=7, inline_label_rate=1.0, delayed_label_rate=0.0
            ).messages()
        ]
        await asyncio.gather(*futs)
    finally:
        await prod.stop()


async def _run_getmany(bootstrap: str, topic: str, n: int, batch: int) -> dict[str, Any]:
    from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

    proc = _processor()
    cons = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=f"g-{uuid.uuid4().hex[:6]}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        max_partition_fetch_bytes=4 << 20,
    )
    prod = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=5, max_batch_size=256 * 1024)
    await cons.start()
    await prod.start()
    seen = 0
    t0 = 0.0
    try:
        while seen < n:
            got = await cons.getmany(timeout_ms=100, max_records=batch)
            for tp, msgs in got.items():
                if not t0:
                    t0 = time.perf_counter()
                recs = [
                    SourceRecord(m.value, m.key, tp.topic, tp.partition, m.offset, m.timestamp)
                    for m in msgs
                ]
                out = proc.process(recs)
                futs = [
                    await prod.send(topic + ".out", r.to_json(), key=r.entity.encode())
                    for r in out.features
                ]
                await asyncio.gather(*futs)
                await cons.commit()
                seen += len(msgs)
    finally:
        elapsed = time.perf_counter() - t0
        await prod.stop()
        await cons.stop()
    return {"driver": "aiokafka.getmany", "events": seen, "seconds": elapsed}


def _run_faust(bootstrap: str, topic: str, n: int, batch: int, result_path: str) -> None:
    import faust

    app = faust.App(
        f"bench-{uuid.uuid4().hex[:6]}",
        broker=f"kafka://{bootstrap}",
        store="memory://",
        value_serializer="raw",
        key_serializer="raw",
        web_enabled=False,
        topic_allow_declare=False,
        consumer_auto_offset_reset="earliest",
    )
    source = app.topic(topic, value_serializer="raw", key_serializer="raw")
    sink = app.topic(topic + ".out", value_serializer="raw", key_serializer="raw")
    proc = _processor()
    state = {"seen": 0, "t0": 0.0}

    @app.agent(source)
    async def features(stream: Any) -> None:
        async for events in stream.take_events(batch, within=0.05):
            if not state["t0"]:
                state["t0"] = time.perf_counter()
            recs = [
                SourceRecord(
                    e.message.value,
                    e.message.key,
                    e.message.topic,
                    e.message.partition,
                    e.message.offset,
                    0,
                )
                for e in events
            ]
            out = proc.process(recs)
            futs = [await sink.send(key=r.entity.encode(), value=r.to_json()) for r in out.features]
            await asyncio.gather(*futs)
            state["seen"] += len(events)
            if state["seen"] >= n:
                elapsed = time.perf_counter() - state["t0"]
                with open(result_path, "w") as fh:
                    json.dump(
                        {
                            "driver": "faust.take_events",
                            "events": state["seen"],
                            "seconds": elapsed,
                        },
                        fh,
                    )
                os.kill(os.getpid(), signal.SIGTERM)

    worker = faust.Worker(app, loglevel="ERROR", quiet=True)
    worker.execute_from_commandline()


def _child(args: argparse.Namespace) -> None:
    if args.driver == "getmany":
        res = asyncio.run(_run_getmany(args.bootstrap, args.topic, args.events, args.batch))
        with open(args.result, "w") as fh:
            json.dump(res, fh)
    else:
        _run_faust(args.bootstrap, args.topic, args.events, args.batch, args.result)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="riffle bench drivers")
    p.add_argument(
        "--bootstrap", default=os.environ.get("RIFFLE_KAFKA_BOOTSTRAP", "127.0.0.1:9092")
    )
    p.add_argument("--events", type=int, default=100_000)
    p.add_argument("--batch", type=int, default=1000)
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--output", default=None)
    p.add_argument("--driver", choices=["getmany", "faust"], help=argparse.SUPPRESS)
    p.add_argument("--topic", help=argparse.SUPPRESS)
    p.add_argument("--result", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.driver:
        _child(args)
        return 0
    rates: dict[str, list[float]] = {"getmany": [], "faust": []}
    for _ in range(args.runs):
        for driver in ("getmany", "faust"):  # alternate, so machine noise hits both alike
            topic = f"bench.drivers.{uuid.uuid4().hex[:8]}"
            asyncio.run(_fill(args.bootstrap, topic, args.events))
            result = f"/tmp/{topic}.json"
            cmd = [
                sys.executable,
                "-m",
                "streams.driver_bench",
                "--driver",
                driver,
                "--topic",
                topic,
                "--events",
                str(args.events),
                "--batch",
                str(args.batch),
                "--bootstrap",
                args.bootstrap,
                "--result",
                result,
            ]
            subprocess.run(cmd, check=False, timeout=600)
            with open(result) as fh:
                res = json.load(fh)
            rate = res["events"] / res["seconds"]
            rates[driver].append(rate)
            print(
                f"{driver:8s} {res['events']} events in {res['seconds']:.2f}s = {rate:,.0f}/s",
                flush=True,
            )
    summary = {
        "benchmark": "drivers",
        "events": args.events,
        "batch": args.batch,
        "runs": args.runs,
        "cores": os.cpu_count(),
        "median_events_per_s": {k: statistics.median(v) for k, v in rates.items()},
        "all_events_per_s": rates,
    }
    ratio = summary["median_events_per_s"]["getmany"] / summary["median_events_per_s"]["faust"]
    summary["getmany_over_faust"] = ratio
    print(json.dumps(summary, indent=2))
    if args.output:
        with open(args.output, "w") as fh:
            json.dump(summary, fh, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
