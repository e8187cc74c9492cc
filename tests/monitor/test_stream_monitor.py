from __future__ import annotations

import numpy as np
import pytest

from monitor.alert import Alert
from monitor.anomaly import QuantileThreshold, RobustZScore
from monitor.drift import DDM, KSDrift, PageHinkley
from monitor.stream_monitor import StreamMonitor


def _sources(n: int, start: int = 0) -> list[tuple[str, int, int]]:
    return [("s.predictions", 0, start + i) for i in range(n)]


def _episode(rng: np.random.Generator, n_ok: int, n_bad: int) -> np.ndarray:
    return np.r_[(rng.random(n_ok) < 0.1), (rng.random(n_bad) < 0.6)].astype(float)


def _episodes(hits: list[int], cooldown: int) -> list[tuple[int, int]]:
    """The rule, by hand: a detection opens an episode unless one is open; an episode ends at
    the `cooldown`-th outcome after its last detection (a detection there extends it)."""
    out: list[tuple[int, int]] = []
    for i in hits:
        if out and i <= out[-1][1]:
            out[-1] = (out[-1][0], i + cooldown)
        else:
            out.append((i, i + cooldown))
    return out


@pytest.mark.parametrize("n", [7000, 9000])
def test_one_drift_episode_is_one_alert_then_one_resolved_record(n: int) -> None:
    rng = np.random.default_rng(0)
    errors = np.r_[_episode(rng, 3000, 800), _episode(rng, 3000, 800), np.zeros(1400)][:n]
    hits = DDM().update_many(errors).tolist()
    episodes = _episodes(hits, 1000)
    assert len(episodes) < len(hits)  # the cooldown folds some detections together
    mon = StreamMonitor("s", DDM(), RobustZScore(), drift_cooldown=1000)
    alerts = mon.observe_outcomes(errors, list(range(len(errors))), _sources(len(errors)))
    expected = []
    for start, end in episodes:
        expected.append(("firing", start))
        if end is not None and end < len(errors):
            expected.append(("resolved", end))
    assert [(a.status, a.offsets["offset"]) for a in alerts] == expected
    assert mon.in_drift_episode == (expected[-1][0] == "firing")
    firing = [a for a in alerts if a.status == "firing"]
    assert all(a.kind == "drift" and a.severity == "critical" for a in alerts)
    assert all(0.0 <= a.score <= 1.0 for a in alerts)  # recent error rate
    for a in alerts:
        if a.status == "resolved":
            fired = next(f for f in firing if f.id == a.resolves)
            assert a.offsets["offset"] > fired.offsets["offset"] and a.details["detections"] >= 1
            assert a.id != fired.id and a.subject == fired.subject


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


def _index(alert: Alert) -> int:
    return int(alert.details["event_id"][1:])


def _features(mon: StreamMonitor, X: np.ndarray, entities: list[str], step: int) -> list[Alert]:
    out: list[Alert] = []
    for i in range(0, len(X), step):
        j = min(i + step, len(X))
        out += mon.observe_features(
            X[i:j],
            [f"e{k}" for k in range(i, j)],
            entities[i:j],
            list(range(i, j)),
            _sources(j - i, i),
        )
    return out


def test_anomaly_episodes_are_per_subject_and_end_after_n_normal_events() -> None:
    rng = np.random.default_rng(4)
    X = rng.normal(size=(1200, 3))
    entities = [f"k{i % 10}" for i in range(1200)]
    # k3 is odd on three of its events in a row (one episode); k7 on its last two events (one
    # episode, still open at the end)
    for i, offset in ((503, 50), (513, 150), (523, 400), (1187, 50), (1197, 150)):
        X[i] += offset
    mon = StreamMonitor("s", DDM(), RobustZScore(warm_up=100), 8.0, anomaly_resolve_after=2)
    alerts = _features(mon, X, entities, 100)
    assert [(a.status, a.subject, a.details["event_id"]) for a in alerts] == [
        ("firing", "k3", "e503"),
        ("resolved", "k3", "e543"),  # k3's 2nd normal event after its last odd one (e523)
        ("firing", "k7", "e1187"),
    ]
    fired, resolved = alerts[0], alerts[1]
    assert resolved.resolves == fired.id and resolved.details["flagged_events"] == 3
    assert resolved.details["firing_event_id"] == "e503" and resolved.severity == fired.severity
    assert mon.open_anomaly_episodes == 1  # k7
    # the same alerts, batch by batch or all at once
    again = StreamMonitor("s", DDM(), RobustZScore(warm_up=100), 8.0, anomaly_resolve_after=2)
    assert [a.id for a in _features(again, X, entities, 1200)] == [a.id for a in alerts]


def test_a_quantile_threshold_alert_quotes_the_threshold_its_score_crossed() -> None:
    rng = np.random.default_rng(5)
    X = rng.normal(size=(3000, 2))
    X[rng.choice(3000, 30, replace=False)] *= 6.0
    entities = [f"k{i}" for i in range(3000)]  # every event its own subject
    mon = StreamMonitor("s", DDM(), RobustZScore(warm_up=50), QuantileThreshold(0.99, 500, 100))
    alerts = _features(mon, X, entities, 250)
    scores = RobustZScore(warm_up=50).score_learn_many(X)
    ref = QuantileThreshold(0.99, 500, 100)
    expected = []
    for i, s in enumerate(scores.tolist()):  # one by one: the threshold before each score
        thr = ref.threshold
        if ref.update(s):
            expected.append((f"e{i}", thr))
    firing = [(a.details["event_id"], a.threshold) for a in alerts if a.status == "firing"]
    assert [e for e, _ in firing] == [e for e, _ in expected] and len(expected) > 10
    # (the scores of a batch agree with one-by-one scores to the last bits, not beyond)
    np.testing.assert_allclose([t for _, t in firing], [t for _, t in expected], rtol=1e-12)
    assert mon.anomaly_threshold == pytest.approx(ref.threshold, rel=1e-12)


@pytest.mark.parametrize("on_drift", ["refit", "restart"])
def test_data_drift_names_the_feature_and_resolves_once_it_tests_clean(on_drift: str) -> None:
    rng = np.random.default_rng(6)
    X = rng.normal(size=(4000, 4))
    X[1500:2300, 2] += 1.5  # feature "c" drifts for a while, then comes back
    names = ["a", "b", "c", "d"]

    def monitor() -> StreamMonitor:
        dd = KSDrift(ert=5000, window_size=50, n_reference=400, n_bootstraps=500, on_drift=on_drift)
        return StreamMonitor(
            "s",
            DDM(),
            RobustZScore(),
            1e9,
            data_drift=dd,
            data_drift_columns=[1, 2, 3],
            feature_names=names,
        )

    mon = monitor()
    alerts = _features(mon, X, ["k"] * 4000, 300)
    data = [a for a in alerts if a.kind == "data_drift"]
    # refit: the shifted regime becomes the reference, so its end is a second episode
    episodes = 2 if on_drift == "refit" else 1
    assert [a.status for a in data] == ["firing", "resolved"] * episodes
    assert 1500 <= _index(data[0]) < 1600
    if on_drift == "restart":  # the reference stays: clean again only once "c" is back
        assert _index(data[1]) >= 2300
    else:
        assert 2300 <= _index(data[2]) < 2400
    for fired, resolved in zip(data[::2], data[1::2], strict=True):
        assert fired.subject == "c" and fired.details["features"] == ["c"]
        assert fired.details["statistics"]["c"] > fired.threshold > 0
        assert resolved.resolves == fired.id and resolved.details["features"] == ["c"]
        assert resolved.details["statistics"]["c"] <= fired.threshold  # tests clean again
    assert not mon.in_data_drift_episode and mon.data_drift_features == ["b", "c", "d"]
    # batching changes nothing
    again = _features(monitor(), X, ["k"] * 4000, 4000)
    assert [a.to_dict() for a in again if a.kind == "data_drift"] == [a.to_dict() for a in data]
