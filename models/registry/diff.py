"""What changed between two model versions: hyperparameters, metrics and learned parameters."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np

from models.registry.model_version import ModelVersion

__all__ = ["diff_versions"]


def diff_versions(
    a: ModelVersion, b: ModelVersion, state_a: Mapping[str, Any], state_b: Mapping[str, Any]
) -> dict[str, Any]:
    """Differences between version `a` and version `b` (JSON-able).

    - ``hyperparameters``: config entries (dotted paths into nested tables) that differ, as
      ``{"a": ..., "b": ...}`` (None where one side lacks the entry);
    - ``metrics``: every metric either side has, with ``delta`` = b - a when both have it;
    - ``parameters``: every numeric entry of the learned state (arrays, and numbers as 0-d
      arrays) by dotted path, with both shapes and the largest absolute difference
      (``max_abs_diff`` None when the shapes differ or one side is missing), and ``changed``;
    - ``state``: other state entries (names, classes, ...) that differ.

    Examples
    --------
    >>> import numpy as np
    >>> va = ModelVersion("m", 1, {"type": "lr", "lr": 0.1}, {"acc": 0.8})
    >>> vb = ModelVersion("m", 2, {"type": "lr", "lr": 0.05}, {"acc": 0.9})
    >>> state_a, state_b = {"w": np.zeros(2), "b": 0.0}, {"w": np.array([0.5, -1.0]), "b": 0.0}
    >>> d = diff_versions(va, vb, state_a, state_b)
    >>> d["hyperparameters"], round(d["metrics"]["acc"]["delta"], 3)
    ({'lr': {'a': 0.1, 'b': 0.05}}, 0.1)
    >>> d["parameters"]["w"]
    {'shape_a': [2], 'shape_b': [2], 'max_abs_diff': 1.0, 'changed': True}
    >>> d["parameters"]["b"]["changed"]
    False
    """
    config_a, config_b = dict(_leaves(a.config)), dict(_leaves(b.config))
    hyper = {
        k: {"a": config_a.get(k), "b": config_b.get(k)}
        for k in sorted(config_a.keys() | config_b.keys())
        if config_a.get(k) != config_b.get(k) or (k in config_a) != (k in config_b)
    }
    metrics = {}
    for k in sorted(a.metrics.keys() | b.metrics.keys()):
        ma, mb = a.metrics.get(k), b.metrics.get(k)
        delta = mb - ma if ma is not None and mb is not None else None
        metrics[k] = {"a": ma, "b": mb, "delta": delta}
    leaves_a, leaves_b = dict(_leaves(state_a)), dict(_leaves(state_b))
    params: dict[str, Any] = {}
    other: dict[str, Any] = {}
    for k in sorted(leaves_a.keys() | leaves_b.keys()):
        la, lb = _numeric(leaves_a.get(k)), _numeric(leaves_b.get(k))
        if la is not None or lb is not None:
            params[k] = _compare(la, lb)
        elif leaves_a.get(k) != leaves_b.get(k):
            other[k] = {"a": leaves_a.get(k), "b": leaves_b.get(k)}
    return {
        "a": a.ref,
        "b": b.ref,
        "hyperparameters": hyper,
        "metrics": metrics,
        "parameters": params,
        "state": other,
    }


def _leaves(tree: Any, prefix: str = "") -> Iterator[tuple[str, Any]]:
    """(dotted path, value) for every non-container value of a nested dict/list."""
    if isinstance(tree, Mapping) and tree:
        for k, v in tree.items():
            yield from _leaves(v, f"{prefix}.{k}" if prefix else str(k))
    elif isinstance(tree, list) and any(isinstance(v, Mapping | list | np.ndarray) for v in tree):
        for i, v in enumerate(tree):
            yield from _leaves(v, f"{prefix}.{i}" if prefix else str(i))
    else:
        yield prefix, tree


def _numeric(value: Any) -> np.ndarray | None:
    """`value` as a float array if it is a number, or an array or list of numbers."""
    if value is None or isinstance(value, str | bool):
        return None
    try:
        arr = np.asarray(value)
    except ValueError:  # ragged lists
        return None
    if arr.dtype.kind not in "biuf" or (
        arr.dtype.kind == "b" and not isinstance(value, np.ndarray)
    ):
        return None
    return arr.astype(np.float64)


def _compare(a: np.ndarray | None, b: np.ndarray | None) -> dict[str, Any]:
    shape_a = None if a is None else list(a.shape)
    shape_b = None if b is None else list(b.shape)
    if a is None or b is None or a.shape != b.shape:
        return {"shape_a": shape_a, "shape_b": shape_b, "max_abs_diff": None, "changed": True}
    with np.errstate(invalid="ignore", over="ignore"):
        same = (a == b) | (np.isnan(a) & np.isnan(b))
        gap = np.where(same, 0.0, np.abs(a - b))
    worst = float(gap.max()) if gap.size else 0.0
    if not np.isfinite(worst):  # NaN or inf on one side only
        return {"shape_a": shape_a, "shape_b": shape_b, "max_abs_diff": None, "changed": True}
    return {"shape_a": shape_a, "shape_b": shape_b, "max_abs_diff": worst, "changed": worst > 0}
