from __future__ import annotations

import numpy as np

from monitor.alert import Alert
from monitor.anomaly import RobustZScore
from monitor.drift import DDM, PageHinkley
from monitor.stream_monitor import StreamMonitor


def _sources(n: int, start: int = 0) -> list[tuple[str, int, int]]:
    return [("s.predictions", 0, start + i) for i in range(n)]


def _episode(rng: np.random.Generator, n_ok: int, n_bad: int) -> np.ndarray:
    return np.r_[(rng.random(n_ok) < 0.1), (rng.random(n_bad) < 0.6)].astype(float)


def test_one_drift_episode_is_one_alert_until_the_cooldown_passes() -> None:
    rng = np.random.default_rng(0)
    errors = np.r_[_episode(rng, 3000, 800), _episode(rng, 3000, 800)]
    hits = DDM().update_many(errors).tolist()
    # the rule: alert on a detection only if `cooldown` outcomes passed since the last alert
    expected, last = [], None
    for i in hits:
        if last is None or i - last >= 1000:
            expected.append(i)
            last = i
    assert len(expected) < len(hits)  # the cooldown folds some detections together
    mon = StreamMonitor("s", DDM(), RobustZScore(), drift_cooldown=1000)
    alerts = mon.observe_outcomes(errors, list(range(len(errors))), _sources(len(errors)))
    assert [a.offsets["offset"] for a in alerts] == expected
    assert all(a.kind == "drift" and a.severity == "critical" for a in alerts)
    assert all(0.0 <= a.score <= 1.0 for a in alerts)  # recent error rate


def test_batching_does_not_change_drift_alerts() -> None:
    rng = np.random.default_rng(1)
    errors = np.r_[_episode(rng, 2000, 500), _episode(rng, 2000, 500)]
    whole = StreamMonitor("s", PageHinkley(), RobustZScore(), drift_cooldown=300)
    ref = whole.observe_outcomes(errors, list(range(len(errors))), _sources(len(errors)))
    parts = StreamMonitor("s", PageHinkley(), RobustZScore(), drift_cooldown=300)
    got: list[Alert] = []
    for i in range(0, len(errors), 333):
        chunk = errors[i : i + 333]
        got += parts.observe_outcomes(
            chunk, list(range(i, i + len(chunk))), _sources(len(chunk), i)
        )
    assert [a.id for a in got] == [a.id for a in ref] and ref


def test_anomalies_above_threshold_raise_one_alert_each() -> None:
    rng = np.random.default_rng(2)
    X = rng.normal(size=(3000, 4))
    X[[500, 1500, 2500]] += 40.0
    mon = StreamMonitor("s", DDM(), RobustZScore(warm_up=100), anomaly_threshold=8.0)
    alerts = mon.observe_features(
        X,
        [f"e{i}" for i in range(3000)],
        [f"k{i}" for i in range(3000)],
        list(range(3000)),
        _sources(3000),
    )
    assert [a.details["event_id"] for a in alerts] == ["e500", "e1500", "e2500"]
    assert all(a.kind == "anomaly" and a.subject.startswith("k") for a in alerts)


def test_state_round_trip_and_alert_ids_are_replay_stable() -> None:
    rng = np.random.default_rng(3)
    errors = _episode(rng, 2000, 600)
    a = StreamMonitor("s", DDM(), RobustZScore(), drift_cooldown=100)
    a.observe_outcomes(errors[:1500], list(range(1500)), _sources(1500))
    b = StreamMonitor("s", DDM(), RobustZScore(), drift_cooldown=100)
    b.load_state_dict(a.state_dict())
    rest = errors[1500:]
    ta = a.observe_outcomes(rest, list(range(1500, 2600)), _sources(1100, 1500))
    tb = b.observe_outcomes(rest, list(range(1500, 2600)), _sources(1100, 1500))
    assert ta and [x.id for x in ta] == [x.id for x in tb]
    assert Alert.from_json(ta[0].to_json()) == ta[0]
