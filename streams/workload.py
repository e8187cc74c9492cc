"""A seeded synthetic workload: skewed entities, inline and delayed labels, a concept shift at a
known event, injected anomalies and bad records. The demo, the benchmark and the tests replay it."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

import numpy as np
import orjson

__all__ = ["BAD_KINDS", "CHANNELS", "FIELDS", "Message", "Workload"]

FIELDS = ("amount", "duration", "items", "risk")
BAD_KINDS = ("malformed_json", "missing_entity", "wrong_type", "nan", "oversized", "too_late")
CHANNELS = ("web", "app", "pos")


@dataclass(frozen=True, slots=True)
class Message:
    """One record to publish: to the events or the labels topic."""

    kind: Literal["event", "label"]
    key: bytes
    value: bytes
    index: int  # position of the event in the workload (labels: of the event they label)
    bad: str | None = None
    anomaly: bool = False
    headers: tuple[tuple[str, bytes], ...] = ()


@dataclass(frozen=True)
class Workload:
    """Events for `n_entities` accounts with Zipf-skewed activity.

    The label is a noisy logistic function of the standardised fields; at `shift_at` the sign of
    the weights of `amount` and `risk` flips (a concept shift). A fraction of events carry their
    label inline; another fraction get it later on the labels topic, `label_delay` events after.

    >>> msgs = list(Workload(n_events=5, seed=1).messages())
    >>> [m.kind for m in msgs].count("event")
    5
    """

    n_events: int = 20_000
    n_entities: int = 2_000
    seed: int = 42
    shift_at: int | None = None
    inline_label_rate: float = 0.7
    delayed_label_rate: float = 0.2
    label_delay: int = 200
    anomaly_rate: float = 0.002
    bad_rate: float = 0.0
    start_ts: int = 1_767_225_600_000  # 2026-01-01T00:00:00Z, in ms
    mean_gap_ms: float = 20.0
    skew: float = 1.1
    # events sent late: their event time is up to `max_disorder_ms` before the previous one's
    disorder_rate: float = 0.05
    max_disorder_ms: int = 30_000

    def __post_init__(self) -> None:
        if self.inline_label_rate + self.delayed_label_rate > 1.0:
            raise ValueError("inline_label_rate + delayed_label_rate must be <= 1")

    def messages(self) -> Iterator[Message]:
        rng = np.random.default_rng(self.seed)
        n = self.n_events
        ranks = np.arange(1, self.n_entities + 1, dtype=float)
        p = ranks**-self.skew
        entities = rng.choice(self.n_entities, size=n, p=p / p.sum())
        # Each entity has its own typical amount, so per-entity aggregates carry signal.
        entity_scale = rng.lognormal(0.0, 0.5, size=self.n_entities)
        gaps = rng.exponential(self.mean_gap_ms, size=n).astype(np.int64) + 1
        ts = self.start_ts + np.cumsum(gaps)
        late = rng.random(n) < self.disorder_rate
        ts = ts - np.where(late, rng.integers(0, self.max_disorder_ms + 1, size=n), 0)
        # a few merchants per entity, and a channel, for distinct counts and one-hot features
        merchant = (entities * 7 + rng.integers(0, 5, size=n) ** 2) % 997
        channel = rng.choice(len(CHANNELS), size=n, p=[0.5, 0.35, 0.15])
        amount = entity_scale[entities] * rng.lognormal(3.0, 0.6, size=n)
        duration = rng.gamma(2.0, 30.0, size=n)
        items = rng.poisson(3.0, size=n).astype(float) + 1.0
        risk = rng.beta(2.0, 5.0, size=n)
        anomaly = rng.random(n) < self.anomaly_rate
        amount = np.where(anomaly, amount * 40.0, amount)
        duration = np.where(anomaly, duration * 25.0, duration)
        z = np.stack(
            [
                (np.log(amount) - 3.0) / 0.7,
                (duration - 60.0) / 42.0,
                (items - 4.0) / 1.7,
                (risk - 0.286) / 0.16,
            ],
            axis=1,
        )
        w_before = np.array([1.5, -0.8, 0.6, 1.8])
        w_after = np.array([-1.5, -0.8, 0.6, -1.8])
        shift = np.arange(n) >= (self.shift_at if self.shift_at is not None else n)
        logits = np.where(shift, z @ w_after, z @ w_before) - 0.2
        labels = (rng.random(n) < 1.0 / (1.0 + np.exp(-3.0 * logits))).astype(int)
        label_mode = rng.random(n)
        bad = rng.random(n) < self.bad_rate
        bad_kind = rng.integers(0, len(BAD_KINDS), size=n)
        pending: dict[int, list[Message]] = {}
        for i in range(n):
            yield from pending.pop(i, ())
            eid = f"e{self.seed}-{i}"
            ent = f"acct-{entities[i]}"
            body: dict[str, object] = {
                "id": eid,
                "entity": ent,
                "ts": int(ts[i]),
                "amount": round(float(amount[i]), 4),
                "duration": round(float(duration[i]), 3),
                "items": float(items[i]),
                "risk": round(float(risk[i]), 5),
                "merchant": f"m-{merchant[i]}",
                "channel": CHANNELS[int(channel[i])],
            }
            mode = label_mode[i]
            if mode < self.inline_label_rate:
                body["label"] = int(labels[i])
            elif mode < self.inline_label_rate + self.delayed_label_rate:
                label = orjson.dumps({"event_id": eid, "label": int(labels[i])})
                pending.setdefault(i + self.label_delay, []).append(
                    Message("label", ent.encode(), label, i)
                )
            if bad[i]:
                kind = BAD_KINDS[int(bad_kind[i])]
                yield Message("event", ent.encode(), _corrupt(body, kind), i, bad=kind)
            else:
                yield Message(
                    "event", ent.encode(), orjson.dumps(body), i, anomaly=bool(anomaly[i])
                )
        for i in sorted(pending):
            yield from pending[i]

    def labels(self) -> np.ndarray:
        """The true label of every event (inline, delayed or never sent), for evaluation."""
        out = np.zeros(self.n_events, dtype=int)
        for m in self.messages():
            if m.kind == "label":
                out[m.index] = orjson.loads(m.value)["label"]
            elif m.bad is None:
                label = orjson.loads(m.value).get("label")
                if label is not None:
                    out[m.index] = label
        return out


def _corrupt(body: dict[str, object], kind: str) -> bytes:
    if kind == "malformed_json":
        return orjson.dumps(body)[:-7]
    if kind == "missing_entity":
        body = dict(body)
        del body["entity"]
        return orjson.dumps(body)
    if kind == "wrong_type":
        return orjson.dumps({**body, "amount": "12.5"})
    if kind == "nan":
        return json.dumps({**body, "duration": math.nan}).encode()
    if kind == "too_late":  # a day behind: far beyond any allowed lateness
        return orjson.dumps({**body, "ts": int(body["ts"]) - 86_400_000})  # type: ignore[call-overload]
    # oversized: a valid event padded past the default 64 KiB limit
    return orjson.dumps({**body, "note": "x" * 70_000})
