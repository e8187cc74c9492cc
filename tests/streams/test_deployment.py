"""Champion/challenger on the learner, without Kafka: shadow learning, the promotion gate,
A/B routing, rollback, commands and drift-started challengers."""

from __future__ import annotations

import dataclasses

import numpy as np
import orjson
import pytest

from featurestore import FeatureRecord, InvalidEventError
from models.deployment import PromotionGate, entity_bucket, mcnemar_p_value
from monitor.alert import Alert
from streams.config import ModelConfig, load_config, parse_config
from streams.deployment import Control, Deployment
from streams.deployment_config import DeploymentConfig
from streams.deployment_control import decode_control, drift_control, encode_control
from streams.exceptions import ConfigError
from streams.learner import Label, Learner
from streams.runner import EmbeddedRunner
from streams.workload import Workload

NAMES = ("a", "b", "c")
SLOW = ModelConfig(name="slow", lr=0.002)
FAST = ModelConfig(name="fast", lr=0.3)


def _stream(n: int, seed: int, flip_at: int | None = None) -> list[FeatureRecord | Label]:
    """Inline, delayed and missing labels; the concept flips at `flip_at`."""
    rng = np.random.default_rng(seed)
    items: list[FeatureRecord | Label] = []
    later: dict[int, list[Label]] = {}
    for i in range(n):
        items.extend(later.pop(i, []))
        x = rng.normal(size=3)
        w = np.array([1.0, -2.0, 0.5]) * (-1 if flip_at is not None and i >= flip_at else 1)
        y = int(x @ w + 0.3 * rng.normal() > 0)
        mode = rng.random()
        inline = y if mode < 0.6 else None
        items.append(FeatureRecord(f"e{i}", f"k{i % 97}", i, x.tolist(), inline, "v", 1))
        if 0.6 <= mode < 0.9:
            later.setdefault(i + int(rng.integers(1, 30)), []).append((f"e{i}", y))
    for i in sorted(later):
        items.extend(later[i])
    return items


def _learner(**kw: object) -> Learner:
    dep = DeploymentConfig(
        challengers=(FAST,), promotion_window=200, promotion_min_samples=100, **kw
    )  # type: ignore[arg-type]
    return Learner("s", NAMES, SLOW, deployment=dep)


def _run(learner: Learner, items: list[FeatureRecord | Label | Control], batch: int) -> list:
    out = []
    for i in range(0, len(items), batch):
        out.extend(learner.process_mixed(items[i : i + batch]))
    return out


@pytest.mark.parametrize("batch", [1, 7, 100, 100_000])
def test_promotions_and_predictions_do_not_depend_on_batching(batch: int) -> None:
    items = _stream(1500, seed=3)
    ref_learner = _learner()
    ref = _run(ref_learner, items, 100_000)
    learner = _learner()
    got = _run(learner, items, batch)
    assert [(p.event_id, p.model, p.prediction) for p in got] == [
        (p.event_id, p.model, p.prediction) for p in ref
    ]
    np.testing.assert_allclose([p.proba for p in got], [p.proba for p in ref], rtol=0, atol=1e-12)
    assert learner.model_id == ref_learner.model_id == "fast@1"  # the gate promoted it
    events = ref_learner.deployment.drain()
    assert [e["action"] for e in events] == ["promote"]
    assert events[0]["decision"]["p_value"] < 0.01
    # served predictions switch to the challenger right after the promotion
    first_fast = next(i for i, p in enumerate(ref) if p.model == "fast@1")
    assert all(p.model == "fast@1" for p in ref[first_fast:])


def test_every_member_learns_every_row_like_a_lone_model() -> None:
    items = _stream(800, seed=4)
    deployed = _learner(promotion="manual")
    _run(deployed, items, 50)
    alone = Learner("s", NAMES, FAST)
    _run(alone, items, 50)
    shadow = deployed.deployment.members["fast@1"]
    assert shadow.status == "challenger"
    a, b = shadow.model.state_dict(), alone.model.state_dict()
    for k in a:
        np.testing.assert_array_equal(np.asarray(a[k]), np.asarray(b[k]))
    assert shadow.accuracy.get() == alone.accuracy  # same prequential outcomes


def test_state_round_trip_mid_stream_continues_identically() -> None:
    items = _stream(1200, seed=5, flip_at=600)
    whole = _learner()
    ref = _run(whole, items, 64)
    first = _learner()
    head = _run(first, items[:700], 64)
    state = orjson.loads(orjson.dumps(first.state_dict(), option=orjson.OPT_SERIALIZE_NUMPY))
    second = _learner()
    second.load_state_dict(_arrays(state, first.state_dict()))
    tail = _run(second, items[700:], 64)
    assert [(p.event_id, p.model, p.prediction) for p in head + tail] == [
        (p.event_id, p.model, p.prediction) for p in ref
    ]


def _arrays(decoded: object, original: object) -> object:
    """JSON-decoded state with numpy arrays restored where the original had them."""
    if isinstance(original, np.ndarray):
        return np.asarray(decoded, dtype=original.dtype)
    if isinstance(original, dict):
        return {k: _arrays(decoded[k], v) for k, v in original.items()}  # type: ignore[index]
    if isinstance(original, list):
        return [_arrays(d, o) for d, o in zip(decoded, original, strict=True)]  # type: ignore[call-overload]
    return decoded


def test_commands_promote_and_roll_back_at_their_place_in_the_stream() -> None:
    items: list[FeatureRecord | Label | Control] = list(_stream(600, seed=6))
    items.insert(200, Control("promote", "fast@1", "looks better", "ana"))
    items.insert(400, Control("rollback", None, "worse on EU traffic", "bob"))
    items.insert(450, Control("promote", "nope@9", "typo", "bob"))
    learner = _learner(promotion="manual")
    preds = _run(learner, items, 37)
    events = learner.deployment.drain()
    assert [(e["action"], e.get("model"), e.get("actor")) for e in events] == [
        ("promote", "fast@1", "ana"),
        ("retire", "fast@1", None),
        ("rollback", "slow@1", "bob"),
        ("refused", "nope@9", "bob"),
    ]
    assert "unknown model 'nope@9'" in events[-1]["reason"]
    models = [p.model for p in preds]
    assert set(models[:150]) == {"slow@1"} and "fast@1" in models[200:350]
    assert set(models[-100:]) == {"slow@1"}
    assert learner.model_id == "slow@1" and "fast@1" not in learner.deployment.members


def test_ab_split_is_stable_per_entity_and_close_to_the_fraction() -> None:
    learner = _learner(promotion="manual", ab_challenger="fast", ab_fraction=0.3)
    preds = _run(learner, list(_stream(3000, seed=7)), 100)
    by_entity: dict[str, set[str]] = {}
    for p in preds:
        by_entity.setdefault(p.entity, set()).add(p.model)
    assert all(len(ms) == 1 for ms in by_entity.values())
    share = np.mean([ms == {"fast@1"} for ms in by_entity.values()])
    assert 0.15 < share < 0.45
    assert all((entity_bucket(e) < 0.3) == (ms == {"fast@1"}) for e, ms in by_entity.items())


def test_drift_challenger_is_fresh_and_bounded() -> None:
    dep = Deployment(SLOW, DeploymentConfig(drift_challenger=True, max_challengers=2))
    for i in range(3):
        dep.apply(Control("start", None, f"drift {i}", "drift", ts=i))
    events = dep.drain()
    assert [(e["action"], e["model"]) for e in events] == [
        ("start", "slow@2"),
        ("start", "slow@3"),
        ("retire", "slow@2"),
        ("start", "slow@4"),
    ]
    assert sorted(dep.members) == ["slow@1", "slow@3", "slow@4"]
    assert dep.members["slow@4"].parent == "slow@1"


def test_gate_needs_evidence() -> None:
    assert mcnemar_p_value(10, 10) > 0.5
    assert mcnemar_p_value(40, 10) < 1e-4
    gate = PromotionGate(window=100, alpha=0.01, min_samples=50)
    gate.update_many(np.ones(40, bool), np.ones(40, bool))
    assert not gate.decision().promote  # no discordant pairs, too few samples
    gate.update_many(np.zeros(60, bool), np.ones(60, bool))
    d = gate.decision()
    assert d.promote and d.n == 100 and d.wins == 60 and d.losses == 0


def test_control_records() -> None:
    c = decode_control(encode_control("rollback", reason="bad", actor="ops"))
    assert (c.action, c.model, c.reason, c.actor) == ("rollback", None, "bad", "ops")
    for raw in (b"{", b'{"action": "explode"}', b'{"action": "promote"}'):
        with pytest.raises(InvalidEventError) as err:
            decode_control(raw)
        assert err.value.reason == "bad_command"
    alert = Alert.create("s", "drift", "hddm_a", "error_rate", 1.0, 0.5, "critical", ts=9)
    assert drift_control(alert.to_json(), "s") == Control(
        "start", None, f"drift alert {alert.id} (hddm_a on error_rate)", "drift", 9, alert.id
    )
    assert drift_control(alert.to_json(), "other") is None
    assert drift_control(alert.resolve(10, ("t", 0, 1), 0.1).to_json(), "s") is None
    with pytest.raises(InvalidEventError):
        drift_control(b'{"kind": "drift"}', "s")


@pytest.mark.parametrize(
    ("table", "key"),
    [
        ({"promotion": "sometimes"}, "deployment.promotion"),
        ({"promotion_alpha": 2}, "deployment.promotion_alpha"),
        ({"promotion_min_samples": 5000}, "deployment.promotion_min_samples"),
        ({"ab_fraction": 0.2}, "deployment.ab_challenger"),
        ({"challengers": [{"name": "payments-lr"}]}, "deployment.challengers[0].name"),
        ({"challengers": [{"name": "x", "type": "svm"}]}, "deployment.challengers[0].type"),
        ({"drift_challenger_model": {"lr": -1}}, "deployment.drift_challenger_model.lr"),
        ({"bogus": 1}, "deployment.bogus"),
    ],
)
def test_bad_deployment_config_names_the_key(table: dict, key: str) -> None:
    import tomllib

    with open("riffle.toml", "rb") as f:
        raw = tomllib.load(f)
    raw["streams"]["payments"]["deployment"] = table
    with pytest.raises(ConfigError) as err:
        parse_config(raw)
    assert err.value.key == f"streams.payments.{key}"


def test_drift_started_challenger_recovers_a_concept_shift_faster() -> None:
    """The workload's concept flips at event 8,000: with `drift_challenger`, the drift alert
    starts a fresh, faster-learning challenger, the gate promotes it within a bounded number
    of events, and post-shift accuracy recovers sooner than with the champion alone."""
    base = load_config("riffle.toml").stream("payments")
    base = dataclasses.replace(base, model=ModelConfig(name="payments-lr", lr=0.005))
    shift, n = 8_000, 14_000

    def run(dep: DeploymentConfig) -> tuple[np.ndarray, list[Alert]]:
        cfg = dataclasses.replace(base, deployment=dep)
        res = EmbeddedRunner(cfg, batch_size=250).run_sync(
            Workload(n_events=n, shift_at=shift, seed=7).messages()
        )
        ok = sorted(
            (int(p.event_id.rsplit("-", 1)[1]), p.prediction == p.label)
            for p in res.predictions
            if p.label is not None
        )
        idx = np.array([i for i, _ in ok])
        hits = np.array([h for _, h in ok], dtype=float)
        windows = np.array(
            [hits[(idx >= s) & (idx < s + 500)].mean() for s in range(shift, n, 500)]
        )
        return windows, res.alerts

    alone, _ = run(DeploymentConfig())
    fast = ModelConfig(name="payments-lr", lr=0.05)
    dep = DeploymentConfig(
        drift_challenger=True,
        drift_challenger_model=fast,
        promotion_window=300,
        promotion_min_samples=100,
    )
    with_challenger, alerts = run(dep)
    lifecycle = [a.details for a in alerts if a.detector == "deployment"]
    promoted = [e for e in lifecycle if e["action"] == "promote"]
    assert promoted and promoted[0]["model"] == "payments-lr@2", lifecycle
    assert promoted[0]["from"] == "payments-lr@1" and promoted[0]["actor"] == "riffle"
    shift_ts = 1_767_225_600_000 + shift * 20  # the workload's mean gap is 20 ms
    events_after_shift = (promoted[0]["ts"] - shift_ts) / 20
    assert events_after_shift < 2_500, events_after_shift
    # recovery: the 500 events after the first 500 of the new concept
    assert with_challenger[1:4].mean() > alone[1:4].mean() + 0.03, (with_challenger, alone)
