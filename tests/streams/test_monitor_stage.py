"""The monitor stage without Kafka: episodes, resolved records, replays, checkpoints, config."""

from __future__ import annotations

import copy
import tomllib
from typing import Any

import numpy as np
import pytest

from featurestore import FeatureRecord
from monitor.alert import Alert
from monitor.anomaly import HalfSpaceTrees
from monitor.drift import DDM
from streams.checkpoint import Checkpoint, pack, unpack
from streams.config import StreamConfig, parse_config
from streams.exceptions import ConfigError
from streams.monitor_stage import MonitorStage, build_anomaly
from streams.records import Prediction
from tests.conftest import ROOT

BASE = tomllib.loads((ROOT / "riffle.toml").read_text())
# small windows and few simulations: a data-drift detector that calibrates in ~0.1 s
FAST_KS = {
    "data_drift_detector": "ks",
    "data_drift_params": {"ert": 5000, "window_size": 50, "n_reference": 300, "n_bootstraps": 500},
    "data_drift_features": ["amount", "duration"],
}
SHIFT = 1500  # feature vectors: "amount" moves up by 2 standard deviations here
ODD = 2003  # feature vectors: an anomalous event of entity k3
DRIFT_AT = 3000  # outcomes: the error rate goes from 10% to 50% here


def _stream(**monitor: Any) -> StreamConfig:
    raw = copy.deepcopy(BASE)
    table = raw["streams"]["payments"]["monitor"]
    table.update(monitor)
    for key in [k for k, v in table.items() if v is None]:
        del table[key]
    return parse_config(raw, {}).stream()


def _vectors(stream: StreamConfig, n: int = 3000, seed: int = 0) -> list[FeatureRecord]:
    names = stream.view.feature_names
    X = np.random.default_rng(seed).normal(size=(n, len(names)))
    X[SHIFT:, names.index("amount")] += 2.0
    if n > ODD:
        X[ODD] += 60.0
    return [
        FeatureRecord(
            f"e{i}", f"k{i % 10}", i, X[i].tolist(), None, "payments", 2, "payments.events", 0, i
        )
        for i in range(n)
    ]


def _outcomes(n: int = 5000, seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.r_[rng.random(DRIFT_AT) < 0.1, rng.random(n - DRIFT_AT) < 0.5].astype(int)


def _predictions(errors: np.ndarray) -> tuple[list[Prediction], list[tuple[str, int, int]]]:
    preds = [
        Prediction(
            f"e{i}",
            f"k{i % 10}",
            i,
            "payments-lr@1",
            0,
            0.2,
            label=int(e),  # prediction 0: the label is the error
            source={"topic": "payments.events", "partition": 0, "offset": i},
        )
        for i, e in enumerate(errors.tolist())
    ]
    return preds, [("payments.predictions", 0, i) for i in range(len(preds))]


def _run(
    stage: MonitorStage,
    recs: list[FeatureRecord],
    preds: list[Prediction],
    srcs: list[tuple[str, int, int]],
    lo: int,
    hi: int,
    step: int = 250,
) -> list[Alert]:
    out: list[Alert] = []
    for i in range(lo, hi, step):
        j = min(i + step, hi)
        out += stage.on_features(recs[i:j])
        out += stage.on_predictions(preds[i:j], srcs[i:j])
    return out


def _index(alert: Alert) -> int:
    return int(alert.details["event_id"][1:])


def test_a_drift_episode_is_one_alert_then_one_resolved_record() -> None:
    stream = _stream(drift_cooldown=300, drift_detector="ddm", drift_params={"warm_start": 1000})
    stage = MonitorStage(stream)
    errors = _outcomes()
    preds, srcs = _predictions(errors)
    alerts: list[Alert] = []
    for i in range(0, len(preds), 500):
        alerts += stage.on_predictions(preds[i : i + 500], srcs[i : i + 500])
    hits = DDM(warm_start=1000).update_many(errors.astype(float)).tolist()
    first = next(h for h in hits if h >= DRIFT_AT)
    assert all(h > first + 300 for h in hits if h > first)  # so the episode ends at +300
    assert [(a.kind, a.status, a.offsets["offset"]) for a in alerts] == [
        ("drift", "firing", first),
        ("drift", "resolved", first + 300),
    ]
    fired, resolved = alerts
    assert fired.model_version == "payments-lr@1" and fired.view_version == "payments@v2"
    assert resolved.resolves == fired.id and resolved.details["event_id"] == f"e{first + 300}"
    assert resolved.details["detections"] == 1 and resolved.details["episode_outcomes"] == 300
    assert not stage.monitor.in_drift_episode


def test_feature_records_raise_data_drift_and_anomaly_episodes() -> None:
    stream = _stream(**FAST_KS, anomaly_resolve_after=1)
    stage = MonitorStage(stream)
    alerts: list[Alert] = []
    recs = _vectors(stream)
    for i in range(0, len(recs), 400):
        alerts += stage.on_features(recs[i : i + 400])
    got = [(a.kind, a.status, a.subject) for a in alerts]
    assert got == [
        ("data_drift", "firing", "amount"),
        ("data_drift", "resolved", "amount"),
        ("anomaly", "firing", "k3"),
        ("anomaly", "resolved", "k3"),
    ]
    drift, drift_end, odd, odd_end = alerts
    assert SHIFT <= _index(drift) < SHIFT + 100 and drift.details["features"] == ["amount"]
    assert drift.details["statistics"]["amount"] == drift.score > drift.threshold > 0
    # "refit": the shifted regime is the new reference; a window later it tests clean
    assert _index(drift_end) == _index(drift) + 300 + 2 * 50 and drift_end.resolves == drift.id
    assert _index(odd) == ODD and _index(odd_end) == ODD + 10 and odd_end.resolves == odd.id
    assert odd.threshold == 10.0 and odd.severity == "critical"  # score > 2 x threshold


def test_replayed_records_are_skipped() -> None:
    stream = _stream(**FAST_KS, drift_cooldown=300)
    recs = _vectors(stream, 5000)
    preds, srcs = _predictions(_outcomes())
    once = _run(MonitorStage(stream), recs, preds, srcs, 0, 5000)
    assert {a.kind for a in once} == {"drift", "data_drift", "anomaly"}
    stage = MonitorStage(stream)
    again: list[Alert] = []
    for lo in range(0, 5000, 1000):
        again += _run(stage, recs, preds, srcs, lo, lo + 1000)
        # an upstream stage restarted from an older checkpoint: it re-emits what came before
        again += _run(stage, recs, preds, srcs, max(0, lo - 300), lo + 1000, step=700)
    assert [a.to_dict() for a in again] == [a.to_dict() for a in once]
    assert stage.n_replayed == 2 * (4 * 1300 + 1000)  # features and predictions


MONITORS = {
    "ddm+zscore+ks": {**FAST_KS, "drift_cooldown": 300},
    "kswin+hst+quantile+psi": {
        "drift_detector": "kswin",
        "drift_params": {"alpha": 0.02},  # a binary stream: 30 vs 30 values are coarse
        "drift_cooldown": 300,
        "anomaly_detector": "half_space_trees",
        "anomaly_params": {"n_trees": 5, "height": 6, "window_size": 100},
        "anomaly_threshold": None,
        "anomaly_quantile": 0.995,
        "anomaly_quantile_window": 1000,
        "anomaly_quantile_warm_up": 200,
        "data_drift_detector": "psi",
        "data_drift_params": {"ert": 5000, "window_size": 50, "n_reference": 300, "n_bins": 5},
    },
    "adwin+zscore+quantile+cvm": {
        "drift_detector": "adwin",
        "drift_params": {},
        "anomaly_threshold": None,
        "anomaly_quantile": 0.999,
        "data_drift_detector": "cvm",
        "data_drift_params": {**FAST_KS["data_drift_params"], "on_drift": "restart"},
        "data_drift_features": ["amount", "duration", "items"],
    },
}


@pytest.mark.parametrize("name", list(MONITORS))
def test_state_round_trip_continues_identically(name: str) -> None:
    stream = _stream(**MONITORS[name])
    recs = _vectors(stream, 5000)
    preds, srcs = _predictions(_outcomes())
    cut = SHIFT + 150  # inside the data-drift episode
    whole = MonitorStage(stream)
    before = _run(whole, recs, preds, srcs, 0, cut)
    assert whole.monitor.in_data_drift_episode
    saved = unpack(pack(Checkpoint(whole.state_dict(), {}))).state  # as a worker stores it
    restored = MonitorStage(stream)
    restored.load_state_dict(saved)
    ours = _run(whole, recs, preds, srcs, cut, 5000)
    theirs = _run(restored, recs, preds, srcs, cut, 5000)
    assert [a.to_dict() for a in theirs] == [a.to_dict() for a in ours]
    kinds = {(a.kind, a.status) for a in before + ours}
    assert {("drift", "firing"), ("data_drift", "resolved"), ("anomaly", "firing")} <= kinds
    assert pack(Checkpoint(restored.state_dict(), {})) == pack(Checkpoint(whole.state_dict(), {}))
    # the same stream in other batches gives the same alerts (each topic's in the same order)
    other = _run(MonitorStage(stream), recs, preds, srcs, 0, 5000, step=613)
    for kind in ("drift", "data_drift", "anomaly"):
        assert [a.id for a in other if a.kind == kind] == [
            a.id for a in before + ours if a.kind == kind
        ]


def test_half_space_trees_take_their_limits_from_the_warm_up_window() -> None:
    stream = _stream(
        anomaly_detector="half_space_trees",
        anomaly_params={"n_trees": 3, "height": 4, "window_size": 50},
        anomaly_threshold=0.9,
        anomaly_warm_up=100,
        anomaly_features=None,  # every feature of the view
    )
    stage = MonitorStage(stream)
    recs = _vectors(stream, 300)
    stage.on_features(recs[:60])
    detector = stage.monitor.anomaly
    assert getattr(detector, "trees", "absent") is None  # still warming up
    stage.on_features(recs[60:300])
    X = np.array([r.values for r in recs[:100]])
    span = X.max(axis=0) - X.min(axis=0)
    limits = np.array(detector.trees.limits)  # type: ignore[attr-defined]
    np.testing.assert_allclose(limits[:, 0], X.min(axis=0) - 0.1 * span)
    np.testing.assert_allclose(limits[:, 1], X.max(axis=0) + 0.1 * span)
    given = _stream(
        anomaly_detector="half_space_trees",
        anomaly_params={"limits": [-5.0, 5.0]},
        anomaly_threshold=0.9,
    )
    assert isinstance(build_anomaly(given.monitor), HalfSpaceTrees)


@pytest.mark.parametrize(
    ("monitor", "key"),
    [
        ({"drift_detector": "adwin", "drift_params": {"delta": 2.0}}, "drift_params"),
        ({"drift_params": "warm_start=5"}, "drift_params"),
        ({"drift_cooldown": 0}, "drift_cooldown"),
        ({"data_drift_detector": "mmd"}, "data_drift_detector"),
        ({"data_drift_params": {"ert": 0.5}}, "data_drift_params"),
        ({"data_drift_params": {"window": 10}}, "data_drift_params"),
        ({"data_drift_features": ["amount", "nope"]}, "data_drift_features"),
        ({"data_drift_features": "amount"}, "data_drift_features"),
        ({"anomaly_detector": "isolation_forest"}, "anomaly_detector"),
        ({"anomaly_alpha": 1.5}, "anomaly_alpha"),
        ({"anomaly_params": {"method": "mean"}}, "anomaly_params"),
        ({"anomaly_detector": "half_space_trees"}, "anomaly_threshold"),  # 10 > any HST score
        ({"anomaly_detector": "half_space_trees", "anomaly_threshold": None}, "anomaly_threshold"),
        (
            {
                "anomaly_detector": "half_space_trees",
                "anomaly_threshold": 0.8,
                "anomaly_params": {"limits": [[0.0, 1.0]] * 3},
            },
            "anomaly_params",
        ),
        ({"anomaly_quantile": 0.99}, "anomaly_quantile"),  # and anomaly_threshold = 10
        ({"anomaly_threshold": None, "anomaly_quantile": 1.0}, "anomaly_quantile"),
        (
            {"anomaly_threshold": None, "anomaly_quantile": 0.99, "anomaly_quantile_warm_up": 0},
            "anomaly_quantile_warm_up",
        ),
        (
            {"anomaly_threshold": None, "anomaly_quantile": 0.99, "anomaly_quantile_window": 100},
            "anomaly_quantile_warm_up",  # the default warm-up (1000) exceeds the window
        ),
        ({"anomaly_resolve_after": 0}, "anomaly_resolve_after"),
    ],
)
def test_monitor_settings_are_validated_at_load(monitor: dict[str, Any], key: str) -> None:
    with pytest.raises(ConfigError) as info:
        _stream(**monitor)
    assert info.value.key == f"streams.payments.monitor.{key}"


def test_defaults_and_the_new_choices_load() -> None:
    raw = copy.deepcopy(BASE)
    raw["streams"]["payments"]["monitor"] = {}
    mon = parse_config(raw, {}).stream().monitor
    assert (mon.drift_detector, mon.data_drift_detector, mon.anomaly_detector) == (
        "ddm",
        "none",
        "robust_zscore",
    )
    stage = MonitorStage(parse_config(raw, {}).stream())
    assert stage.monitor.data_drift is None and stage.monitor.anomaly_threshold == 8.0
    # default data-drift features: the view's aggregates
    stream = _stream(**{**FAST_KS, "data_drift_features": None})
    stage = MonitorStage(stream)
    names = stage.monitor.feature_names or []
    cols = stage.monitor.data_drift_columns or []
    assert [names[j] for j in cols] == [s.name for s in stream.view.specs]
    assert "amount_mean_5m" in [names[j] for j in cols] and "amount" not in [names[j] for j in cols]
