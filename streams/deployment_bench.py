"""`riffle bench deployment`: on a stream with a known concept shift, how many events after
the shift the drift alert fires, the drift-started challenger starts and is promoted, and how
post-shift accuracy recovers with and without it (embedded driver: deterministic)."""

from __future__ import annotations

import dataclasses
import os
from typing import Any

import numpy as np

from streams.config import ModelConfig, StreamConfig
from streams.deployment_config import DeploymentConfig
from streams.runner import EmbeddedRunner
from streams.workload import Workload

__all__ = ["run_deployment_bench"]


def _run(stream: StreamConfig, wl: Workload, dep: DeploymentConfig) -> dict[str, Any]:
    cfg = dataclasses.replace(stream, deployment=dep)
    res = EmbeddedRunner(cfg, batch_size=250).run_sync(wl.messages())
    shift = wl.shift_at or 0
    ok = sorted(
        (int(p.event_id.rsplit("-", 1)[1]), p.prediction == p.label)
        for p in res.predictions
        if p.label is not None
    )
    idx = np.array([i for i, _ in ok])
    hits = np.array([h for _, h in ok], dtype=float)
    windows = [
        round(float(hits[(idx >= s) & (idx < s + 500)].mean()), 3)
        for s in range(shift, wl.n_events, 500)
    ]
    shift_ts = wl.start_ts + shift * wl.mean_gap_ms

    def after(ts: float) -> int:
        return round((ts - shift_ts) / wl.mean_gap_ms)  # events, at the workload's mean gap

    drift = [a for a in res.alerts if a.kind == "drift" and a.status == "firing"]
    life = [a.details for a in res.alerts if a.detector == "deployment"]
    first = {e["action"]: e for e in reversed(life)}
    out: dict[str, Any] = {
        "post_shift_accuracy_per_500": windows,
        "post_shift_accuracy": round(float(hits[idx >= shift].mean()), 4),
        "drift_alert_events_after_shift": [after(a.ts) for a in drift if a.ts >= shift_ts][:1],
    }
    if "start" in first:
        out["challenger_started_events_after_shift"] = after(first["start"]["ts"])
    if "promote" in first:
        out["promoted_events_after_shift"] = after(first["promote"]["ts"])
        out["promotion"] = {k: first["promote"].get(k) for k in ("model", "from", "decision")}
    return out


def run_deployment_bench(
    stream: StreamConfig, events: int = 20_000, shift_at: int = 10_000, seeds: int = 3
) -> dict[str, Any]:
    base = dataclasses.replace(stream, model=ModelConfig(name=stream.model.name, lr=0.005))
    dep = DeploymentConfig(
        drift_challenger=True,
        drift_challenger_model=ModelConfig(name=stream.model.name, lr=0.05),
        promotion_window=300,
        promotion_min_samples=100,
    )
    runs: list[dict[str, Any]] = []
    for seed in range(seeds):
        wl = Workload(n_events=events, shift_at=shift_at, seed=100 + seed)
        runs.append(
            {
                "seed": 100 + seed,
                "champion_alone": _run(base, wl, DeploymentConfig()),
                "with_drift_challenger": _run(base, wl, dep),
            }
        )
    promoted = [
        r["with_drift_challenger"].get("promoted_events_after_shift")
        for r in runs
        if "promoted_events_after_shift" in r["with_drift_challenger"]
    ]
    return {
        "machine": {"cores": os.cpu_count()},
        "setup": {
            "champion": "logistic_regression lr=0.005",
            "drift_challenger_model": "logistic_regression lr=0.05",
            "drift_detector": stream.monitor.drift_detector,
            "gate": "McNemar one-sided, alpha 0.01, window 300, min 100 pairs, every 50",
            "events": events,
            "shift_at": shift_at,
        },
        "promoted_events_after_shift_median": float(np.median(promoted)) if promoted else None,
        "promoted_runs": len(promoted),
        "runs": runs,
    }
