"""The deployment's control plane on Kafka: commands on `<s>.control`, drift alerts that start
challengers, and lifecycle events published as alerts."""

from __future__ import annotations

import uuid
from typing import Any

import orjson

from featurestore import InvalidEventError
from monitor.alert import Alert
from streams.deployment import Control

__all__ = ["decode_control", "drift_control", "encode_control", "lifecycle_alert"]

_ACTIONS = ("promote", "rollback", "start")


def encode_control(
    action: str, model: str | None = None, reason: str = "", actor: str = ""
) -> bytes:
    """A command record for `<s>.control` (what `riffle models promote|rollback` sends).

    >>> c = decode_control(encode_control("promote", "lr@2", "better on the new data", "ana"))
    >>> c.action, c.model, c.actor
    ('promote', 'lr@2', 'ana')
    """
    if action not in _ACTIONS:
        raise ValueError(f"action must be one of {_ACTIONS}")
    if action == "promote" and not model:
        raise ValueError("promote needs a model (name@version)")
    body = {"id": uuid.uuid4().hex, "action": action, "model": model, "reason": reason}
    return orjson.dumps(body | {"actor": actor})


def decode_control(raw: bytes) -> Control:
    """Raises `InvalidEventError` (``bad_command``) for anything but a well-formed command."""
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise InvalidEventError("bad_command", f"command is not valid JSON: {exc}") from None
    if not isinstance(body, dict) or body.get("action") not in _ACTIONS:
        raise InvalidEventError("bad_command", f"command needs an action in {list(_ACTIONS)}")
    model = body.get("model")
    if body["action"] == "promote" and not isinstance(model, str):
        raise InvalidEventError("bad_command", "promote needs a model (name@version)")
    return Control(
        body["action"],
        model if isinstance(model, str) else None,
        str(body.get("reason") or "command"),
        str(body.get("actor") or "unknown"),
        0,
        str(body.get("id") or ""),
    )


def drift_control(raw: bytes, stream: str) -> Control | None:
    """The command a firing concept-drift alert of `stream` means (start a challenger), or
    None for any other alert."""
    try:
        alert = Alert.from_json(raw)
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
        raise InvalidEventError("bad_alert", f"not an alert record: {exc}") from None
    if alert.stream != stream or alert.kind != "drift" or alert.status != "firing":
        return None
    reason = f"drift alert {alert.id} ({alert.detector} on {alert.subject})"
    return Control("start", None, reason, "drift", alert.ts, alert.id)


def lifecycle_alert(stream: str, event: dict[str, Any]) -> Alert:
    """A deployment event as an `info` alert of kind ``performance``; its id derives from the
    deployment's event sequence, so a replay republishes the same id."""
    details = {k: v for k, v in event.items() if k != "member"}
    decision = event.get("decision") or {}
    return Alert.create(
        stream,
        "performance",
        "deployment",
        str(event.get("model") or event.get("action")),
        float(decision.get("p_value", 0.0)),
        0.0,
        "info" if event["action"] != "refused" else "warning",
        int(event.get("ts") or 0),
        source=(f"{stream}.deployment", 0, int(event["seq"])),
        model_version=event.get("model"),
        details=details,
    )
