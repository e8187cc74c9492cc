from __future__ import annotations

import numpy as np
import pytest

from featurestore import FeatureRecord
from models import LogisticRegression
from models.optim import SGD
from models.preprocessing import StandardScaler
from streams.config import ModelConfig
from streams.learner import Label, Learner

NAMES = ("a", "b", "c")


def _stream(n: int, seed: int) -> list[FeatureRecord | Label]:
    """Events with inline, delayed (label later) and missing labels, in arrival order."""
    rng = np.random.default_rng(seed)
    items: list[FeatureRecord | Label] = []
    later: dict[int, list[Label]] = {}
    for i in range(n):
        items.extend(later.pop(i, []))
        x = rng.normal(size=3)
        y = int(x @ [1.0, -2.0, 0.5] + 0.3 * rng.normal() > 0)
        mode = rng.random()
        inline = y if mode < 0.5 else None
        items.append(FeatureRecord(f"e{i}", f"k{i % 7}", i, x.tolist(), inline, "v", 1))
        if 0.5 <= mode < 0.8:
            later.setdefault(i + int(rng.integers(1, 30)), []).append((f"e{i}", y))
    for i in sorted(later):
        items.extend(later[i])
    return items


def _reference(items: list[FeatureRecord | Label], lr: float) -> list[float]:
    """The same stream one item at a time through River-style dict calls."""
    model = StandardScaler() | LogisticRegression(optimizer=SGD(lr))
    seen: dict[str, dict[str, float]] = {}
    probas = []
    for it in items:
        if isinstance(it, FeatureRecord):
            x = dict(zip(NAMES, it.values, strict=True))
            probas.append(model.predict_proba_one(x)[1])
            if it.label is not None:
                model.learn_one(x, it.label)
            else:
                seen[it.event_id] = x
        else:
            x_late = seen.pop(it[0], None)
            if x_late is not None:
                model.learn_one(x_late, it[1])
    return probas


@pytest.mark.parametrize("batch", [1, 5, 64, 10_000])
def test_batches_equal_the_one_by_one_run(batch: int) -> None:
    items = _stream(600, seed=1)
    learner = Learner("s", NAMES, ModelConfig(lr=0.1))
    probas = []
    for i in range(0, len(items), batch):
        probas.extend(p.proba for p in learner.process_mixed(items[i : i + batch]))
    np.testing.assert_allclose(probas, _reference(items, 0.1), rtol=0, atol=1e-12)
    n_labelled = sum(1 for it in items if not isinstance(it, FeatureRecord)) + sum(
        1 for it in items if isinstance(it, FeatureRecord) and it.label is not None
    )
    assert learner.n_learned == n_labelled
    assert learner.n_predicted == 600


def test_a_label_that_comes_before_its_event_is_used_inline() -> None:
    learner = Learner("s", NAMES, ModelConfig())
    learner.process_labels([("e1", 1)])
    preds = learner.process([FeatureRecord("e1", "k", 5, [1.0, 2.0, 3.0], None, "v", 1)])
    assert preds[0].label == 1 and learner.n_learned == 1


def test_unmatched_labels_are_counted_not_lost() -> None:
    learner = Learner("s", NAMES, ModelConfig(), max_pending=3)
    assert learner.process_labels([(f"ghost{i}", 1) for i in range(5)]) == 0
    assert learner.n_unmatched_labels == 2  # evicted from the bounded buffer
    learner.process([FeatureRecord("e", "k", 10_000_000, [0.0, 0.0, 0.0], None, "v", 1)])
    # labels that came before any event had no age: they start ageing now
    assert learner.n_unmatched_labels == 2
    later = 10_000_000 + 3_600_001
    learner.process([FeatureRecord("f", "k", later, [0.0, 0.0, 0.0], None, "v", 1)])
    # the rest expired (older than the label TTL), and so did event "e", whose label never came
    assert learner.n_unmatched_labels == 6


def test_state_round_trip_continues_identically() -> None:
    items = _stream(400, seed=2)
    a = Learner("s", NAMES, ModelConfig(lr=0.05))
    a.process_mixed(items[:250])
    b = Learner("s", NAMES, ModelConfig(lr=0.05))
    b.load_state_dict(a.state_dict())
    pa = [p.proba for p in a.process_mixed(items[250:])]
    pb = [p.proba for p in b.process_mixed(items[250:])]
    assert pa == pb
    assert a.accuracy == b.accuracy and a.n_learned == b.n_learned


def test_records_replayed_by_a_restarted_feature_stage_are_skipped() -> None:
    recs = [
        FeatureRecord(
            f"e{i}",
            "k",
            i,
            [float(i % 2), 1.0, 0.0],
            i % 2,
            "v",
            1,
            topic="s.events",
            partition=0,
            offset=i,
        )
        for i in range(50)
    ]
    once = Learner("s", NAMES, ModelConfig(lr=0.1))
    once.process(recs)
    twice = Learner("s", NAMES, ModelConfig(lr=0.1))
    twice.process(recs[:30])
    assert len(twice.process(recs[20:])) == 20  # offsets 20..29 come again: skipped
    assert twice.n_replayed == 10 and twice.n_learned == once.n_learned == 50
    assert twice.model.state_dict()["1.weights"].tolist() == (
        once.model.state_dict()["1.weights"].tolist()
    )


def test_late_and_unknown_labels_are_reported_with_their_source() -> None:
    learner = Learner("s", NAMES, ModelConfig(), max_pending=2)
    x = [0.0, 0.0, 0.0]
    learner.process([FeatureRecord(f"e{i}", "k", i, x, None, "v", 1) for i in range(4)])
    assert learner.n_unlabelled == 2  # e0 and e1 left the bounded wait
    where = ("s.labels", 0, 7, '{"event_id": "e0", "label": 1}')
    assert learner.process_labels([("e0", 1, where), ("e3", 0), ("ghost", 1)]) == 1
    assert learner.drain_unmatched() == [("late_label", "e0", 1, where)]
    # the ghost's label waits for its event until the TTL (in event time) ends
    learner.process([FeatureRecord("e9", "k", 3_600_000 + 10, x, None, "v", 1)])
    assert learner.drain_unmatched() == [("unknown_event", "ghost", 1, None)]
    assert (learner.n_late_labels, learner.n_unknown_labels) == (1, 1)
    # the counters and the late-label memory survive a checkpoint
    again = Learner("s", NAMES, ModelConfig(), max_pending=2)
    again.load_state_dict(learner.state_dict())
    again.process_labels([("e1", 0)])
    assert again.drain_unmatched()[0][:2] == ("late_label", "e1")
    assert again.n_unmatched_labels == learner.n_unmatched_labels + 1
