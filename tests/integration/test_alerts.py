"""Alerts end to end on the real broker: concept drift, data drift and anomalies raise firing
alerts on `riffle.alerts`, their episodes end with resolved records, `/metrics` shows the
stages and detectors, and `riffle alerts tail` prints the alerts."""

from __future__ import annotations

import asyncio
import io
from pathlib import Path

import orjson
import pytest

from monitor.alert import Alert
from streams.cli import main
from streams.metrics import METRICS
from streams.tail import tail
from streams.worker import Worker
from streams.workload import Message, Workload
from tests.conftest import ROOT, fresh_config
from tests.integration.helpers import Outputs, collect, publish

pytestmark = pytest.mark.integration

N1, SHIFT = 8_000, 4_000  # phase 1: a concept shift half way, injected anomalies
N2 = 2_500  # phase 2: the amounts are 4 times larger (data drift)
MONITOR = {
    "drift_cooldown": 300,
    "data_drift_detector": "ks",
    "data_drift_params": {
        "ert": 1_000_000,
        "window_size": 100,
        "n_reference": 1000,
        "n_bootstraps": 1000,
    },
    "data_drift_features": ["amount", "duration"],
    "anomaly_resolve_after": 1,
}


def _phase_two(start_ts: int) -> list[Message]:
    out = []
    for m in Workload(n_events=N2, seed=8, start_ts=start_ts, anomaly_rate=0.0).messages():
        if m.kind == "event":
            body = orjson.loads(m.value)
            body["amount"] = round(body["amount"] * 4.0, 4)
            m = Message("event", m.key, orjson.dumps(body), m.index)
        out.append(m)
    return out


def _phase(alert: Alert) -> tuple[int, int]:
    """(phase, event index) of the event an alert points at ("e5-12" → (1, 12))."""
    seed, index = alert.details["event_id"][1:].split("-")
    return (1 if seed == "5" else 2), int(index)


def _firing(out: Outputs, kind: str, phase: int, after: int = 0) -> Alert | None:
    for a in out.alerts:
        if a.kind == kind and a.status == "firing" and _phase(a) >= (phase, after):
            return a
    return None


def _resolved(out: Outputs, alert: Alert | None) -> Alert | None:
    return next((a for a in out.alerts if alert and a.resolves == alert.id), None)


def _complete(out: Outputs) -> bool:
    drift = _firing(out, "drift", 1, SHIFT)
    data = _firing(out, "data_drift", 2)
    return _resolved(out, drift) is not None and _resolved(out, data) is not None


async def test_alerts_fire_resolve_and_tail(
    services: tuple[str, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    cfg = fresh_config(services, monitor=MONITOR)
    stream = cfg.stream()
    name = stream.name
    phase_one = list(Workload(n_events=N1, shift_at=SHIFT, seed=5).messages())
    last_ts = max(orjson.loads(m.value)["ts"] for m in phase_one if m.kind == "event")
    messages = phase_one + _phase_two(last_ts + 1_000)
    worker = Worker(cfg)
    await worker.start()
    try:
        await worker.wait_ready()
        await publish(cfg, stream, messages)
        out = await collect(cfg, stream, expected=N1 + N2, timeout_s=90, until=_complete)
        metrics = METRICS.render()
    finally:
        await worker.stop()

    assert len(out.unique_predictions()) == N1 + N2
    ids = [a.id for a in out.alerts]
    assert len(ids) == len(set(ids))  # one record per episode start and end
    assert all(a.stream == name and a.view_version == f"{name}@v2" for a in out.alerts)
    firing = {a.id for a in out.alerts if a.status == "firing"}
    assert all(a.resolves in firing for a in out.alerts if a.status == "resolved")

    # concept drift: an alert after the shift, then its episode ends
    drift = _firing(out, "drift", 1, SHIFT)
    assert drift is not None, [a.to_dict() for a in out.alerts if a.kind == "drift"]
    assert drift.severity == "critical" and drift.model_version == "payments-lr@1"
    drift_end = _resolved(out, drift)
    assert drift_end is not None and drift_end.details["detections"] >= 1
    # data drift: the amounts of phase 2, tested against the reference from phase 1
    data = _firing(out, "data_drift", 2)
    assert data is not None, [a.to_dict() for a in out.alerts if a.kind == "data_drift"]
    assert data.subject == "amount" and data.details["features"] == ["amount"]
    assert data.details["statistics"]["amount"] > data.threshold > 0 and _phase(data)[1] < 200
    data_end = _resolved(out, data)
    assert data_end is not None and data_end.details["statistics"]["amount"] <= data.threshold
    # anomalies: most injected ones fire, and some episodes end
    injected = {f"e5-{m.index}" for m in phase_one if m.kind == "event" and m.anomaly}
    flagged = {a.details["event_id"] for a in out.alerts if a.kind == "anomaly"}
    assert len(injected & flagged) >= 0.6 * len(injected)
    assert any(a.kind == "anomaly" and a.status == "resolved" for a in out.alerts)

    # /metrics (rendered from METRICS on every worker): stages, lag, detectors, alerts
    for line in (
        f'riffle_stage_batch_seconds_bucket{{stream="{name}",stage="monitor",le="+Inf"}}',
        f'riffle_consumer_lag{{stream="{name}",stage="features",topic="{name}.events",'
        'partition="0"}',
        f'riffle_prequential_accuracy{{stream="{name}",model="payments-lr@1"}}',
        f'riffle_alerts_total{{stream="{name}",kind="drift",severity="critical",status="firing"}}',
        f'riffle_alerts_total{{stream="{name}",kind="data_drift",severity="warning",'
        'status="resolved"}',
        f'riffle_monitor_data_drift_statistic{{stream="{name}",detector="ks",feature="amount"}}',
        f'riffle_monitor_anomaly_threshold{{stream="{name}",detector="robust_zscore"}} 10',
    ):
        assert line in metrics, line

    # `riffle alerts tail` prints them, in the topic's order, with their status
    path = tmp_path / "riffle.toml"
    path.write_text(
        (ROOT / "riffle.toml").read_text().replace("streams.payments", f"streams.{name}")
    )
    monkeypatch.setenv("RIFFLE_KAFKA_BOOTSTRAP", services[0])
    n = len(out.alerts)
    argv = ["alerts", "tail", "--config", str(path), "--stream", name, "--from-beginning"]
    argv += ["--max", str(n), "--idle-timeout", "10"]
    capsys.readouterr()
    assert await asyncio.to_thread(main, argv) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == n
    for line, a in zip(lines, out.alerts, strict=True):
        assert line.startswith(f"{a.status.upper()} [{a.severity}] {a.kind}/{a.detector} ")
        assert f"id={a.id}" in line and f"subject={a.subject}" in line
    assert any("data_drift/ks" in x and "features=amount:" in x for x in lines)
    # and only the resolved records, when asked
    shown = io.StringIO()
    resolved = [a for a in out.alerts if a.status == "resolved"]
    await tail(
        cfg,
        stream,
        "alerts",
        from_beginning=True,
        max_records=len(resolved),
        idle_timeout_s=10,
        out=shown,
        status="resolved",
    )
    assert [x.split(" id=")[1].split()[0] for x in shown.getvalue().splitlines()] == [
        a.id for a in resolved
    ]
