"""`riffle models`: list, show, promote, roll back, diff and audit registered model versions.

The registry is ``--registry DIR`` or ``--registry redis://...`` (default: the Redis URL of the
configuration, which ``RIFFLE_REDIS_URL`` overrides). The signing key comes from ``--key-file``
or ``RIFFLE_REGISTRY_KEY``; listing and showing need none, loading artifacts (promote, rollback,
diff) does. Errors are one line on stderr and exit code 2.
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from models.registry import MissingKeyError, Registry, RegistryError, parse_ref
from streams.config import load_config
from streams.registry_redis import DEFAULT_PREFIX, REDIS_SCHEMES, open_registry

__all__ = ["add_models_parser", "cmd_models"]

KEY_ENV = "RIFFLE_REGISTRY_KEY"


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no user database entry (containers)
        return "unknown"


def add_models_parser(
    subparsers: Any, parents: Sequence[argparse.ArgumentParser] = ()
) -> argparse.ArgumentParser:
    """Add ``models`` and its subcommands to the `riffle` parser's subparsers."""
    opts = argparse.ArgumentParser(add_help=False)
    opts.add_argument(
        "--registry",
        default=argparse.SUPPRESS,
        help="registry directory or redis:// URL (default: the config's Redis URL)",
    )
    opts.add_argument("--prefix", default=argparse.SUPPRESS, help=f"default: {DEFAULT_PREFIX}")
    opts.add_argument(
        "--key-file", default=argparse.SUPPRESS, help=f"signing key file (default: ${KEY_ENV})"
    )
    opts.add_argument("--json", action="store_true", default=argparse.SUPPRESS)
    both = [*parents, opts]
    m = subparsers.add_parser("models", parents=both, help="the model registry")
    m_sub = m.add_subparsers(dest="models_command", required=True)
    ls = m_sub.add_parser("list", parents=both, help="models, or the versions of one")
    ls.add_argument("name", nargs="?")
    show = m_sub.add_parser("show", parents=both, help="one version (default: the champion)")
    show.add_argument("ref", metavar="NAME[@VERSION]")
    pr = m_sub.add_parser("promote", parents=both, help="make a version the champion")
    pr.add_argument("ref", metavar="NAME@VERSION")
    rb = m_sub.add_parser("rollback", parents=both, help="restore the previous champion")
    rb.add_argument("name")
    for p in (pr, rb):
        p.add_argument("--reason", required=True, help="why (recorded in the audit log)")
        p.add_argument("--actor", default=_user(), help="who (default: your user name)")
        p.add_argument(
            "--stream",
            default=None,
            help="send the command to this stream's running learner (NAME@VERSION as the "
            "stream deploys it); it carries it out and records it in the registry",
        )
    diff = m_sub.add_parser("diff", parents=both, help="what changed between two versions")
    diff.add_argument("a", metavar="NAME@A")
    diff.add_argument("b", metavar="NAME@B")
    au = m_sub.add_parser("audit", parents=both, help="the audit log (of one model, or all)")
    au.add_argument("name", nargs="?")
    m.set_defaults(func=cmd_models)
    return m  # type: ignore[no-any-return]  # argparse's subparsers are untyped


def cmd_models(args: argparse.Namespace) -> int:
    """Run a ``riffle models`` subcommand; registry errors print one line and return 2."""
    command, render = _COMMANDS[args.models_command]
    try:
        out = command(_registry(args), args)
    except MissingKeyError as exc:
        return _fail(f"{exc} (use --key-file or ${KEY_ENV})")
    except (RegistryError, ValueError, OSError) as exc:
        return _fail(str(exc))
    print(json.dumps(out, indent=2) if getattr(args, "json", False) else render(out))
    return 0


def _fail(message: str) -> int:
    print(f"riffle: error: {message}", file=sys.stderr)
    return 2


def _registry(args: argparse.Namespace) -> Registry:
    where = getattr(args, "registry", None)
    if where is None:
        config = Path(getattr(args, "config", "riffle.toml"))
        # the config's URL with the environment applied; without a config, the environment
        where = (
            load_config(config).redis_url.get()
            if config.exists()
            else os.environ.get("RIFFLE_REDIS_URL", "redis://127.0.0.1:6379/0")
        )
    if not where.startswith(REDIS_SCHEMES) and not Path(where).is_dir():
        raise ValueError(f"no registry at {where}: the directory does not exist")
    key: bytes | str | None = os.environ.get(KEY_ENV) or None
    if getattr(args, "key_file", None):
        key = Path(args.key_file).read_bytes().rstrip(b"\r\n")
    return open_registry(where, key=key, prefix=getattr(args, "prefix", DEFAULT_PREFIX))


def _list(reg: Registry, args: argparse.Namespace) -> Any:
    if args.name:
        return [v.to_dict() for v in reg.versions(args.name)]
    rows = []
    for name in reg.names():
        versions = reg.versions(name)
        champion = next((v.version for v in versions if v.status == "champion"), None)
        latest = versions[-1].version if versions else None
        rows.append(
            {"name": name, "champion": champion, "latest": latest, "versions": len(versions)}
        )
    return rows


def _show(reg: Registry, args: argparse.Namespace) -> Any:
    return reg.get(*parse_ref(args.ref)).to_dict()


def _send(args: argparse.Namespace, action: str, model: str | None) -> dict[str, Any]:
    """A command on the stream's control topic, for its learner to carry out."""
    import asyncio

    from aiokafka import AIOKafkaProducer

    from streams.deployment_control import encode_control

    cfg = load_config(Path(getattr(args, "config", "riffle.toml")))
    stream = cfg.stream(args.stream)
    value = encode_control(action, model, args.reason, args.actor)

    async def send() -> None:
        producer = AIOKafkaProducer(**cfg.kafka.client_options())
        await producer.start()
        try:
            await producer.send_and_wait(stream.topics.control, value, key=stream.name.encode())
        finally:
            await producer.stop()

    asyncio.run(send())
    return {"sent": action, "model": model, "stream": stream.name, "topic": stream.topics.control}


def _promote(reg: Registry, args: argparse.Namespace) -> Any:
    name, version = parse_ref(args.ref)
    if version is None:
        raise ValueError(f"promote needs a version: {name}@VERSION")
    if args.stream:
        return _send(args, "promote", args.ref)
    v = reg.promote(name, version, reason=args.reason, actor=args.actor)
    return {**v.to_dict(), "from_version": reg.audit(name)[-1].from_version}


def _rollback(reg: Registry, args: argparse.Namespace) -> Any:
    name, version = parse_ref(args.name)
    if version is not None:
        raise ValueError(f"rollback takes a model name, not a version: {name}")
    if args.stream:
        return _send(args, "rollback", None)
    v = reg.rollback(name, reason=args.reason, actor=args.actor)
    return {**v.to_dict(), "from_version": reg.audit(name)[-1].from_version}


def _diff(reg: Registry, args: argparse.Namespace) -> Any:
    (name_a, a), (name_b, b) = parse_ref(args.a), parse_ref(args.b)
    if name_a != name_b:
        raise ValueError(f"diff compares versions of one model, got {name_a} and {name_b}")
    return reg.diff(name_a, a, b)


def _audit(reg: Registry, args: argparse.Namespace) -> Any:
    if args.name:
        reg.versions(args.name)  # unknown names are an error, not an empty log
    return [e.to_dict() for e in reg.audit(args.name)]


def _when(ts: Any) -> str:
    return datetime.fromtimestamp(float(ts), tz=UTC).isoformat(timespec="seconds")


def _models_text(rows: list[dict[str, Any]]) -> str:
    lines = [f"{'NAME':<24} {'CHAMPION':>8} {'LATEST':>6} {'VERSIONS':>8}"]
    for r in rows:
        champion = "-" if r["champion"] is None else r["champion"]
        latest = "-" if r["latest"] is None else r["latest"]
        lines.append(f"{r['name']:<24} {champion:>8} {latest:>6} {r['versions']:>8}")
    return "\n".join(lines) if rows else "no models registered"


def _versions_text(rows: list[dict[str, Any]]) -> str:
    lines = [
        f"{'VERSION':>7}  {'STATUS':<10} {'PARENT':>6} {'SAMPLES':>9}  {'CREATED':<25} METRICS"
    ]
    for v in rows:
        parent = "-" if v["parent"] is None else v["parent"]
        metrics = " ".join(f"{k}={m:.4g}" for k, m in sorted(v["metrics"].items()))
        lines.append(
            f"{v['version']:>7}  {v['status']:<10} {parent:>6} "
            f"{v['lineage']['samples']:>9}  {_when(v['created']):<25} {metrics}"
        )
    return "\n".join(lines)


def _list_text(rows: list[dict[str, Any]]) -> str:
    return _versions_text(rows) if rows and "version" in rows[0] else _models_text(rows)


def _show_text(v: dict[str, Any]) -> str:
    shown = {**v, "created": _when(v["created"])}
    return "\n".join(f"{k}: {json.dumps(value)}" for k, value in shown.items())


def _moved_text(v: dict[str, Any]) -> str:
    if "sent" in v:
        what = v["sent"] + (f" {v['model']}" if v["model"] else "")
        return f"sent {what} to stream {v['stream']} ({v['topic']})"
    was = f" (was {v['name']}@{v['from_version']})" if v["from_version"] is not None else ""
    return f"{v['name']}@{v['version']} is the champion of {v['name']}{was}"


def _audit_text(entries: list[dict[str, Any]]) -> str:
    lines = []
    for e in entries:
        was = f" (was @{e['from_version']})" if e["from_version"] is not None else ""
        why = f": {e['reason']}" if e["reason"] else ""
        lines.append(
            f"{_when(e['ts'])}  {e['action']:<8} {e['name']}@{e['version']}{was} "
            f"by {e['actor']}{why}"
        )
    return "\n".join(lines) if lines else "no audit entries"


def _diff_text(d: dict[str, Any]) -> str:
    lines = [f"{d['a']} -> {d['b']}", "hyperparameters:"]
    lines += [f"  {k}: {v['a']!r} -> {v['b']!r}" for k, v in d["hyperparameters"].items()]
    lines.append("metrics:")
    for k, m in d["metrics"].items():
        delta = "" if m["delta"] is None else f" ({m['delta']:+.4g})"
        lines.append(f"  {k}: {m['a']} -> {m['b']}{delta}")
    lines.append("parameters (max |b - a|):")
    for k, p in d["parameters"].items():
        if p["shape_a"] != p["shape_b"]:
            lines.append(f"  {k}: shape {p['shape_a']} -> {p['shape_b']}")
        elif p["changed"]:
            gap = "n/a" if p["max_abs_diff"] is None else f"{p['max_abs_diff']:.6g}"
            lines.append(f"  {k} {p['shape_a']}: {gap}")
    lines.append(f"  ({sum(not p['changed'] for p in d['parameters'].values())} unchanged)")
    if d["state"]:
        lines.append("other state:")
        lines += [f"  {k}: {v['a']!r} -> {v['b']!r}" for k, v in d["state"].items()]
    return "\n".join(lines)


Command = Callable[[Registry, argparse.Namespace], Any]

_COMMANDS: dict[str, tuple[Command, Callable[[Any], str]]] = {
    "list": (_list, _list_text),
    "show": (_show, _show_text),
    "promote": (_promote, _moved_text),
    "rollback": (_rollback, _moved_text),
    "diff": (_diff, _diff_text),
    "audit": (_audit, _audit_text),
}
