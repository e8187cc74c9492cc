"""HalfSpaceTrees: River's scores exactly, its trees, its windows, and Shuttle against River."""

from __future__ import annotations

import collections
import math
from typing import Any

import numpy as np
import pytest
from river import anomaly as river_anomaly
from river import datasets

from monitor.anomaly import HalfSpaceTrees
from monitor.exceptions import IncompatibleStateError, InvalidInputError

SHUTTLE_ROWS = 20_000


@pytest.fixture(scope="module")
def shuttle() -> tuple[np.ndarray, np.ndarray, list[str]]:
    """River's Shuttle (first rows), each feature min-max scaled into [0, 1] over those rows."""
    rows = list(datasets.Shuttle().take(SHUTTLE_ROWS))
    names = sorted(rows[0][0])  # River draws its trees over the sorted feature names
    X = np.array([[x[k] for k in names] for x, _ in rows], dtype=np.float64)
    y = np.array([int(label) for _, label in rows])
    lo, hi = X.min(axis=0), X.max(axis=0)
    return (X - lo) / np.where(hi > lo, hi - lo, 1.0), y, names


def roc_auc(scores: np.ndarray, y: np.ndarray) -> float:
    """Mann-Whitney ROC AUC with average ranks for ties."""
    order = np.argsort(scores, kind="stable")
    ranks = np.empty(len(scores))
    sorted_scores = scores[order]
    _, first, counts = np.unique(sorted_scores, return_index=True, return_counts=True)
    ranks[order] = np.repeat(first + (counts + 1) / 2.0, counts)
    n_pos = int(y.sum())
    n_neg = len(y) - n_pos
    return float((ranks[y == 1].sum() - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg))


def river_scores(model: Any, X: np.ndarray, names: list[str]) -> np.ndarray:
    out = []
    for row in X.tolist():
        x = dict(zip(names, row, strict=True))
        out.append(model.score_one(x))
        model.learn_one(x)
    return np.array(out, dtype=np.float64)


def transplant(ours: HalfSpaceTrees, river: Any, names: list[str]) -> None:
    """Give River's (already built) trees our splits and masses, node by node in heap order."""
    state = ours.state_dict()["state"]
    for t, root in enumerate(river.trees):
        queue = collections.deque([root])
        i = 0
        while queue:
            node = queue.popleft()
            if hasattr(node, "feature"):
                node.feature = names[int(state["feature"][t, i])]
                node.threshold = float(state["threshold"][t, i])
                queue.extend(node.children)
            node.l_mass = int(state["l_mass"][t, i])
            node.r_mass = int(state["r_mass"][t, i])
            i += 1


def reference_score(det: HalfSpaceTrees, x: np.ndarray) -> float:
    """River's walk, written out on our arrays: sum r * 2**depth, stop after r < 0.1 * W."""
    state = det.state_dict()["state"]
    if state["n"] < det.window_size:
        return 0.0
    total = 0.0
    for t in range(det.n_trees):
        node = 0
        for depth in range(det.height + 1):
            r = int(state["r_mass"][t, node])
            total += r * 2**depth
            if r < 0.1 * det.window_size or depth == det.height:
                break
            go_right = x[state["feature"][t, node]] >= state["threshold"][t, node]
            node = 2 * node + 1 + int(go_right)
    return 1.0 - total / (det.n_trees * det.window_size * (2 ** (det.height + 1) - 1))


# ---------------------------------------------------------------- River parity


def test_same_trees_give_river_scores_bit_for_bit(shuttle: Any) -> None:
    X, _, names = shuttle
    X = X[:6000]
    ours = HalfSpaceTrees(seed=11)
    ours.learn_many(X[:1])
    river = river_anomaly.HalfSpaceTrees(seed=11)
    river.learn_one(dict(zip(names, X[0].tolist(), strict=True)))  # builds River's trees
    transplant(ours, river, names)
    expected = river_scores(river, X[1:], names)
    got = np.concatenate([ours.score_learn_many(X[i : i + 777]) for i in range(1, len(X), 777)])
    assert np.array_equal(got, expected)  # exact, across 23 window swaps and uneven batches
    assert (expected[300:] > 0).all() and expected.max() > 0.9


def test_a_seed_draws_rivers_trees_and_gives_rivers_scores_and_auc_on_shuttle(shuttle: Any) -> None:
    """No transplant: the same seed draws River's trees (same random stream, same depth-first
    order), so scores are River's bit for bit and the ROC AUC is River's, seed by seed."""
    X, y, names = shuttle
    for seed in (0, 1, 2):
        ours = HalfSpaceTrees(seed=seed)
        got = ours.score_learn_many(X)
        river = river_anomaly.HalfSpaceTrees(seed=seed)
        expected = river_scores(river, X, names)
        assert np.array_equal(got, expected), seed
        ours_auc, river_auc = roc_auc(got, y), roc_auc(expected, y)
        assert ours_auc >= river_auc and ours_auc > 0.95, (seed, ours_auc, river_auc)


# ---------------------------------------------------------------- scores and windows


@pytest.mark.parametrize(("height", "window_size"), [(3, 8), (6, 40), (9, 50)])
def test_scores_follow_rivers_walk_including_the_early_stop(height: int, window_size: int) -> None:
    rng = np.random.default_rng(height)
    X = rng.beta(2.0, 5.0, size=(5 * window_size + 3, 3))
    det = HalfSpaceTrees(n_trees=4, height=height, window_size=window_size, seed=5)
    for start in range(0, len(X), 7):
        chunk = X[start : start + 7]
        expected = []
        probe = det.clone()
        probe.load_state_dict(det.state_dict())
        for row in chunk:
            expected.append(reference_score(probe, row))
            probe.learn_many(row[None, :])
        np.testing.assert_array_equal(det.score_learn_many(chunk), expected)
    stops = np.array(det.state_dict()["state"]["r_mass"]) < 0.1 * window_size
    assert stops.any() and not stops[:, 0].any()  # the early stop really is exercised


def test_windows_swap_every_window_size_learns() -> None:
    X = np.random.default_rng(0).random((130, 2))
    det = HalfSpaceTrees(n_trees=2, height=4, window_size=50, seed=0)
    det.learn_many(X[:49])
    assert (det.score_many(X) == 0.0).all()  # first window not full yet
    det.learn_many(X[49:50])
    state = det.state_dict()["state"]
    assert (state["r_mass"][:, 0] == 50).all() and (state["l_mass"] == 0).all()
    assert (det.score_many(X) > 0.0).any()
    det.learn_many(X[50:130])
    state = det.state_dict()["state"]
    assert (state["r_mass"][:, 0] == 50).all() and (state["l_mass"][:, 0] == 30).all()
    leaves = state["r_mass"][:, 2**4 - 1 :]
    assert (leaves.sum(axis=1) == 50).all()  # each tree counts the reference window once


def test_isolated_points_score_above_the_cloud() -> None:
    rng = np.random.default_rng(1)
    X = rng.normal(0.5, 0.05, size=(3000, 4)).clip(0.0, 1.0)
    far = np.array([[0.05, 0.5, 0.5, 0.5], [0.95, 0.95, 0.5, 0.5], [0.5, 0.5, 0.1, 0.9]])
    positions = [1200, 1900, 2600]
    X[positions] = far
    scores = HalfSpaceTrees(n_trees=25, seed=2).score_learn_many(X)
    normal = np.delete(scores[250:], np.array(positions) - 250)
    assert scores[positions].min() > np.quantile(normal, 0.999)
    assert set(np.argsort(scores)[-3:].tolist()) == set(positions)


# ---------------------------------------------------------------- trees


def test_trees_split_inside_the_padded_ranges_of_the_limits() -> None:
    limits = [(0.0, 10.0), (-1.0, 1.0), (100.0, 400.0)]
    det = HalfSpaceTrees(n_trees=20, height=5, window_size=10, limits=limits, seed=4)
    det.learn_many(np.zeros((1, 3)))
    state = det.state_dict()["state"]
    for t in range(det.n_trees):
        ranges = {0: [list(p) for p in limits]}
        for node in range(2**det.height - 1):
            box = ranges[node]
            f, at = int(state["feature"][t, node]), float(state["threshold"][t, node])
            lo, hi = box[f]
            assert lo + 0.15 * (hi - lo) - 1e-12 <= at <= hi - 0.15 * (hi - lo) + 1e-12
            left = [list(p) for p in box]
            right = [list(p) for p in box]
            left[f][1] = at
            right[f][0] = at
            ranges[2 * node + 1], ranges[2 * node + 2] = left, right


def test_split_features_are_drawn_in_proportion_to_their_range() -> None:
    det = HalfSpaceTrees(n_trees=4000, height=1, limits=[(0.0, 1.0), (0.0, 3.0)], seed=9)
    det.learn_many(np.zeros((1, 2)))
    share = float(np.mean(det.state_dict()["state"]["feature"][:, 0] == 1))
    assert share == pytest.approx(0.75, abs=0.03)


def test_the_seed_fixes_the_trees() -> None:
    X = np.random.default_rng(3).random((10, 3))
    a, b, c = HalfSpaceTrees(seed=1), HalfSpaceTrees(seed=1), HalfSpaceTrees(seed=2)
    for det in (a, b, c):
        det.learn_many(X)
    sa, sb, sc = (det.state_dict()["state"] for det in (a, b, c))
    assert np.array_equal(sa["threshold"], sb["threshold"])
    assert not np.array_equal(sa["threshold"], sc["threshold"])


# ---------------------------------------------------------------- limits, inputs, state


def test_one_pair_of_limits_applies_to_every_feature() -> None:
    X = np.random.default_rng(5).normal(50.0, 10.0, size=(600, 3))
    pair = HalfSpaceTrees(window_size=100, limits=(0.0, 100.0), seed=3)
    per_feature = HalfSpaceTrees(window_size=100, limits=[(0.0, 100.0)] * 3, seed=3)
    np.testing.assert_array_equal(pair.score_learn_many(X), per_feature.score_learn_many(X))
    assert pair.limits == (0.0, 100.0)
    assert per_feature.limits == ((0.0, 100.0),) * 3


def test_per_feature_limits_fix_the_width() -> None:
    det = HalfSpaceTrees(limits=[(0.0, 1.0), (0.0, 2.0)], seed=0)
    with pytest.raises(InvalidInputError):
        det.learn_many(np.zeros((3, 3)))
    with pytest.raises(InvalidInputError):
        det.score_one({"a": 0.5})
    assert det.n_features is None
    det.learn_one({"a": 0.5, "b": 1.0})
    assert det.feature_names == ("a", "b")


def test_state_round_trip_with_per_feature_limits_after_json() -> None:
    import json

    X = np.random.default_rng(6).random((700, 2)) * [1.0, 5.0]
    det = HalfSpaceTrees(n_trees=3, height=4, window_size=64, limits=[(0, 1), (0, 5)], seed=0)
    det.learn_many(X[:300])
    state = json.loads(json.dumps(det.state_dict(), default=lambda a: a.tolist()))
    assert state["params"]["limits"] == [[0.0, 1.0], [0.0, 5.0]]
    twin = det.clone()
    twin.load_state_dict(state)
    np.testing.assert_array_equal(twin.score_learn_many(X[300:]), det.score_learn_many(X[300:]))
    bad = json.loads(json.dumps(det.state_dict(), default=lambda a: a.tolist()))
    bad["state"]["l_mass"][0][0] += 1  # the root no longer adds up its children
    with pytest.raises(IncompatibleStateError):
        twin.load_state_dict(bad)
    bad["state"] = {**state["state"], "n": state["state"]["n"] + 1}  # masses miss a vector
    with pytest.raises(IncompatibleStateError):
        twin.load_state_dict(bad)


@pytest.mark.parametrize(
    "params",
    [
        {"n_trees": 0},
        {"n_trees": 2.0},
        {"n_trees": True},
        {"height": 0},
        {"height": 21},
        {"window_size": 0},
        {"window_size": "250"},
        {"seed": -1},
        {"seed": 1.5},
        {"limits": (1.0, 0.0)},
        {"limits": (0.0, math.inf)},
        {"limits": [(0.0, 1.0), (2.0, 2.0)]},
        {"limits": {"a": (0.0, 1.0)}},
        {"limits": "01"},
        {"limits": []},
        {"limits": [(0.0, 1.0, 2.0)]},
        {"limits": (True, 2.0)},
    ],
)
def test_bad_hyperparameters_raise_value_error(params: dict) -> None:
    with pytest.raises(ValueError):
        HalfSpaceTrees(**params)
