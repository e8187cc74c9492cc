"""The `riffle` command."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import json
import logging
import os
import sys
from pathlib import Path
from typing import Any

from monitor.alert import KINDS, SEVERITIES, STATUSES
from streams.config import RiffleConfig, load_config
from streams.exceptions import RiffleError
from streams.models_cli import add_models_parser
from streams.score_cli import add_score_parser
from streams.workload import Workload

__all__ = ["main"]

DEFAULT_CONFIG = os.environ.get("RIFFLE_CONFIG", "riffle.toml")


def _config(args: argparse.Namespace) -> RiffleConfig:
    return load_config(args.config)


def cmd_worker(args: argparse.Namespace) -> int:
    import faust

    from streams.app import create_app
    from streams.event_loop import use_event_loop
    from streams.worker import STAGES

    cfg = _config(args)
    stages = args.stages.split(",") if args.stages else list(STAGES)
    use_event_loop(cfg.runtime)
    app = create_app(cfg, args.stream or None, stages)
    worker = faust.Worker(app, loglevel=args.loglevel, quiet=True)
    worker.execute_from_commandline()
    return 0


def _workload(args: argparse.Namespace) -> Workload:
    return Workload(
        n_events=args.events,
        n_entities=args.entities,
        seed=args.seed,
        shift_at=args.shift_at if args.shift_at is not None else args.events // 2,
        anomaly_rate=args.anomaly_rate,
        bad_rate=args.bad_rate,
    )


def cmd_serve(args: argparse.Namespace) -> int:
    from streams.serve import run_server

    cfg = _config(args)
    for name in args.stream or []:
        cfg.stream(name)  # an unknown stream fails here, naming it
    run_server(cfg, args.stream or None, args.host, args.port)
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from streams.demo import embedded_demo, kafka_demo

    cfg = _config(args)
    stream = cfg.stream(args.stream)
    wl = _workload(args)
    if args.embedded:
        print(f"embedded demo: {wl.n_events:,} events through the in-process runner")
        summary = embedded_demo(stream, wl)
        summary["mode"] = "embedded"
    else:
        summary = asyncio.run(kafka_demo(cfg, args.config, stream, wl, rate=args.rate))
    print(json.dumps(summary, indent=2))
    if args.output:
        Path(args.output).parent.mkdir(parents=True, exist_ok=True)
        Path(args.output).write_text(json.dumps(summary, indent=2) + "\n")
    return 0 if summary["accounted"] else 1


def cmd_tail(args: argparse.Namespace) -> int:
    from streams.tail import tail

    cfg = _config(args)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(
            tail(
                cfg,
                cfg.stream(args.stream),
                args.what,
                args.from_beginning,
                args.max,
                args.kind,
                args.min_severity,
                args.idle_timeout,
                status=args.status,
            )
        )
    return 0


def cmd_alerts(args: argparse.Namespace) -> int:
    args.what = "alerts"
    return cmd_tail(args)


def cmd_bench(args: argparse.Namespace) -> int:
    if args.what == "drivers":
        from streams import driver_bench

        rest = [
            "--events",
            str(args.events),
            "--runs",
            str(args.runs),
            "--output",
            args.output or "bench/results/drivers.json",
        ]
        return driver_bench.main(rest)
    if args.what == "models":
        from streams import model_bench

        model_bench.run(
            n=args.events,
            runs=args.runs,
            batch=args.batch,
            output=args.output or "bench/results/models.json",
            cases=args.case or None,
        )
        return 0
    if args.what == "monitor":
        from streams import monitor_bench

        monitor_bench.run(
            events=args.events,
            runs=args.runs,
            batch=args.batch,
            output=args.output or "bench/results/monitor.json",
        )
        return 0
    if args.what == "features":
        from streams.features_bench import run_features_bench
        from streams.services import ensure_services

        cfg = _config(args)
        stream = cfg.stream(args.stream)
        ensure_services(cfg)
        result = asyncio.run(
            run_features_bench(
                cfg,
                stream,
                events=args.events,
                entities=args.entities,
                rate=args.rate or 5000.0,
                duration_s=args.duration,
                runs=args.runs,
                serving=not args.no_serving,
            )
        )
        text = json.dumps(result, indent=2)
        out = Path(args.output or "bench/results/features.json")
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text + "\n")
        print(text)
        return 0
    if args.what == "serving":
        from streams.services import ensure_services
        from streams.serving_bench import median_of_runs, run_serving_bench

        cfg = _config(args)
        stream = cfg.stream(args.stream)
        ensure_services(cfg)
        runs = [
            run_serving_bench(
                cfg,
                stream,
                rate=args.rate or 500.0,
                duration_s=args.duration,
                seed=seed,
                server=args.server,
            )
            for seed in range(args.runs)
        ]
        result = {"benchmark": "serving", "median": median_of_runs(runs), "runs": runs}
        return _write_bench(result, args.output or "bench/results/serving.json")
    if args.what == "deployment":
        from streams.deployment_bench import run_deployment_bench

        result = run_deployment_bench(
            _config(args).stream(args.stream), events=args.events, seeds=args.runs
        )
        return _write_bench(result, args.output or "bench/results/deployment.json")
    if args.what in ("reply", "recovery"):
        from streams.services import ensure_services

        cfg = _config(args)
        stream = cfg.stream(args.stream)
        ensure_services(cfg)
        if args.what == "reply":
            from streams.reply_bench import run_reply_bench

            result = asyncio.run(
                run_reply_bench(
                    cfg, stream, rate=args.rate or 1000.0, duration_s=args.duration, runs=args.runs
                )
            )
        else:
            from streams.recovery_bench import run_recovery_bench

            # as configured, then with static group membership (a restarted worker gets its
            # partitions back without waiting for the dead one's session to time out)
            static = dataclasses.replace(
                cfg, runtime=dataclasses.replace(cfg.runtime, instance_id="riffle-bench")
            )
            result = {
                "default": asyncio.run(
                    run_recovery_bench(cfg, stream, runs=args.runs, events=args.events)
                ),
                "static_membership": asyncio.run(
                    run_recovery_bench(static, stream, runs=args.runs, events=args.events)
                ),
            }
        return _write_bench(result, args.output or f"bench/results/{args.what}.json")
    raise RiffleError(f"unknown benchmark {args.what!r}")


def _write_bench(result: dict[str, Any], path: str) -> int:
    text = json.dumps(result, indent=2)
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text + "\n")
    print(text)
    return 0


def cmd_features_export(args: argparse.Namespace) -> int:
    from streams.export import export_features

    cfg = _config(args)
    summary = asyncio.run(
        export_features(
            cfg,
            cfg.stream(args.stream),
            args.output,
            fmt=args.format,
            spine=args.spine,
            from_ts=args.from_ts,
            to_ts=args.to_ts,
            labelled_only=args.labelled_only,
            ttl_s=args.ttl,
        )
    )
    print(json.dumps(summary.to_dict(), indent=2))
    return 0


def build_parser() -> argparse.ArgumentParser:
    # the common options work before or after the subcommand
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--config",
        default=argparse.SUPPRESS,
        help=f"riffle.toml path (default: $RIFFLE_CONFIG or {DEFAULT_CONFIG})",
    )
    common.add_argument("--loglevel", default=argparse.SUPPRESS, help="default: WARNING")
    p = argparse.ArgumentParser(
        prog="riffle", description="Kafka-native streaming ML.", parents=[common]
    )
    sub = p.add_subparsers(dest="command", required=True)

    w = sub.add_parser(
        "worker", parents=[common], help="run the faust worker (feature, learner, monitor stages)"
    )
    w.add_argument("--stream", action="append", help="stream to run (repeatable; default: all)")
    w.add_argument("--stages", help="comma-separated subset of features,learner,monitor")
    w.set_defaults(func=cmd_worker)

    sv = sub.add_parser(
        "serve", parents=[common], help="serve features from Redis in a process of its own"
    )
    sv.add_argument("--stream", action="append", help="stream whose views to serve (default: all)")
    sv.add_argument("--host", default="", help="default: runtime.web_host")
    sv.add_argument("--port", type=int, default=6067)
    sv.set_defaults(func=cmd_serve)

    d = sub.add_parser(
        "demo", parents=[common], help="replay a seeded workload with a live view and a summary"
    )
    d.add_argument("--embedded", action="store_true", help="in-process, no broker")
    d.add_argument("--stream", default=None)
    d.add_argument("--events", type=int, default=40_000)
    d.add_argument("--entities", type=int, default=2_000)
    d.add_argument("--seed", type=int, default=42)
    d.add_argument("--shift-at", type=int, default=None, help="default: half way")
    d.add_argument("--anomaly-rate", type=float, default=0.002)
    d.add_argument("--bad-rate", type=float, default=0.002)
    d.add_argument(
        "--rate", type=float, default=None, help="events/s (default: as fast as it goes)"
    )
    d.add_argument("--output", help="write the summary as JSON here")
    d.set_defaults(func=cmd_demo)

    t = sub.add_parser("tail", parents=[common], help="print predictions, alerts or dead letters")
    t.add_argument("what", choices=["predictions", "alerts", "dlq"])
    t.add_argument("--stream", default=None)
    t.add_argument("--from-beginning", action="store_true")
    t.add_argument("--max", type=int, default=None)
    t.add_argument("--kind", choices=list(KINDS))
    t.add_argument("--min-severity", choices=list(SEVERITIES), default="info")
    t.add_argument("--status", choices=list(STATUSES), default=None)
    t.add_argument("--idle-timeout", type=float, default=None, help="stop after N idle seconds")
    t.set_defaults(func=cmd_tail)

    a = sub.add_parser("alerts", parents=[common], help="alerts for ops")
    a_sub = a.add_subparsers(dest="alerts_command", required=True)
    at = a_sub.add_parser("tail", parents=[common], help="print alerts as they arrive")
    at.add_argument("--stream", default=None)
    at.add_argument("--from-beginning", action="store_true")
    at.add_argument("--max", type=int, default=None)
    at.add_argument("--kind", choices=list(KINDS))
    at.add_argument("--min-severity", choices=list(SEVERITIES), default="info")
    at.add_argument("--status", choices=list(STATUSES), default=None)
    at.add_argument("--idle-timeout", type=float, default=None, help="stop after N idle seconds")
    at.set_defaults(func=cmd_alerts)

    f = sub.add_parser("features", parents=[common], help="offline features (training sets)")
    f_sub = f.add_subparsers(dest="features_command", required=True)
    fe = f_sub.add_parser(
        "export", parents=[common], help="write point-in-time-correct rows from <s>.features"
    )
    fe.add_argument("--stream", default=None)
    fe.add_argument("--output", required=True, help="file to write (.csv: CSV, else Parquet)")
    fe.add_argument("--format", choices=["parquet", "csv"], default=None)
    fe.add_argument("--spine", help="CSV with entity, ts (ms) [, label, ...]: as-of join")
    fe.add_argument("--from-ts", type=int, default=None, help="rows with ts >= this (ms)")
    fe.add_argument("--to-ts", type=int, default=None, help="rows with ts < this (ms)")
    fe.add_argument("--ttl", type=float, default=None, help="spine: max feature age, seconds")
    lab = fe.add_mutually_exclusive_group()
    lab.add_argument(
        "--labelled-only",
        dest="labelled_only",
        action="store_const",
        const=True,
        help="only rows with a label (default without --spine)",
    )
    lab.add_argument(
        "--all",
        dest="labelled_only",
        action="store_const",
        const=False,
        help="unlabelled rows too (default without --spine: labelled rows only)",
    )
    fe.set_defaults(func=cmd_features_export, labelled_only=None)

    b = sub.add_parser("bench", parents=[common], help="benchmarks (results in bench/results/)")
    b.add_argument(
        "what",
        choices=[
            "drivers",
            "models",
            "features",
            "monitor",
            "serving",
            "deployment",
            "reply",
            "recovery",
        ],
    )
    b.add_argument("--events", type=int, default=100_000, help="events (models: samples) per run")
    b.add_argument("--stream", default=None, help="features, serving: the stream whose view to use")
    b.add_argument("--entities", type=int, default=20_000, help="features: distinct entities")
    b.add_argument(
        "--rate",
        type=float,
        default=None,
        help="events/s (features: 5000); requests/s (reply: 1000; serving: 500)",
    )
    b.add_argument(
        "--duration",
        type=float,
        default=20.0,
        help="features, serving, reply: seconds per timed run",
    )
    b.add_argument("--no-serving", action="store_true", help="features: skip serving latency")
    b.add_argument(
        "--server",
        choices=["serve", "worker"],
        default="serve",
        help="serving: riffle serve, or a worker's own web server",
    )
    b.add_argument("--batch", type=int, default=256, help="models, monitor: micro-batch size")
    b.add_argument("--case", action="append", help="models: logreg+scaler, hoeffding_tree, ...")
    b.add_argument("--runs", type=int, default=3)
    b.add_argument("--output", default=None)
    b.set_defaults(func=cmd_bench)

    add_models_parser(sub, parents=[common])
    add_score_parser(sub, parents=[common])
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    args.config = getattr(args, "config", DEFAULT_CONFIG)
    args.loglevel = getattr(args, "loglevel", "WARNING")
    logging.basicConfig(
        level=args.loglevel.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        return int(args.func(args))
    except RiffleError as exc:
        print(f"riffle: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
