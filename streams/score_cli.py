"""`riffle score --model NAME@VERSION --input FILE|TOPIC --output FILE`."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from models.registry import MissingKeyError, RegistryError, parse_ref
from streams.config import ModelConfig, load_config
from streams.models_cli import KEY_ENV, _fail, _registry
from streams.score import read_file, read_topic, score, write_predictions

__all__ = ["add_score_parser", "cmd_score"]


def add_score_parser(subparsers: Any, parents: Sequence[argparse.ArgumentParser] = ()) -> None:
    s = subparsers.add_parser(
        "score",
        parents=list(parents),
        help="score a file or a topic with a registered model version, as the stream would",
    )
    s.add_argument("--model", required=True, metavar="NAME@VERSION")
    s.add_argument(
        "--input",
        required=True,
        help="a JSON-lines file of events (and label records), or the stream's events topic",
    )
    s.add_argument("--output", required=True, help="predictions as JSON lines")
    s.add_argument("--stream", default=None, help="the stream whose views and schema to use")
    s.add_argument("--no-learn", action="store_true", help="score the version frozen")
    s.add_argument("--registry", default=argparse.SUPPRESS, help="directory or redis:// URL")
    s.add_argument("--prefix", default=argparse.SUPPRESS)
    s.add_argument("--key-file", default=argparse.SUPPRESS, help=f"default: ${KEY_ENV}")
    s.set_defaults(func=cmd_score)


def cmd_score(args: argparse.Namespace) -> int:
    cfg = load_config(args.config)
    stream = cfg.stream(args.stream)
    try:
        name, version = parse_ref(args.model)
        reg = _registry(args)
        v = reg.get(name, version)
        state = reg.state(name, v.version)
    except MissingKeyError as exc:
        return _fail(f"{exc} (use --key-file or ${KEY_ENV})")
    except (RegistryError, ValueError, OSError) as exc:
        return _fail(str(exc))
    if os.path.exists(args.input):
        replay = read_file(args.input, stream)
    elif args.input == stream.topics.events:
        replay = asyncio.run(read_topic(cfg.kafka, stream))
    else:
        return _fail(f"--input {args.input!r} is neither a file nor {stream.topics.events!r}")
    result = score(
        stream,
        replay,
        ModelConfig(**v.config),
        state,
        version=f"{name}@{v.version}",
        lineage=v.lineage.offsets,
        learn=not args.no_learn,
    )
    n = write_predictions(result.predictions, Path(args.output))
    summary = {
        "model": f"{name}@{v.version}",
        "events": result.n_events,
        "predictions": n,
        "dead_letters": result.n_dead,
        "already_learned": result.n_skipped,
        "output": args.output,
    }
    print(json.dumps(summary, indent=2))
    return 0
