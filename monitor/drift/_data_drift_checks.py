"""Validation of a `DataDriftDetector`'s inputs (events, batches) and checkpoint states."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt

from monitor.exceptions import IncompatibleStateError, InvalidInputError

FloatArray = npt.NDArray[np.float64]


def parse_event(
    value: Any, feature_names: tuple[str, ...] | None, check_value: Callable[[Any], float]
) -> tuple[FloatArray, str, tuple[str, ...] | None]:
    """One event as a (1, d) row, its form ("scalar" or "vector") and its feature names."""
    names = None
    if isinstance(value, Mapping):
        names = feature_names or tuple(value)
        if not value or not all(isinstance(k, str) for k in value) or set(value) != set(names):
            raise InvalidInputError(f"expected a dict of features {list(names)}, got {value!r}")
        value = [value[k] for k in names]
    elif isinstance(value, str | bytes):
        raise InvalidInputError(f"expected numbers, got {value!r}")
    elif _ndim(value) == 0:
        return np.array([[check_value(value)]]), "scalar", None
    try:
        arr = np.asarray(value)
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(f"expected a sequence of numbers: {exc}") from exc
    if arr.ndim != 1 or arr.size == 0 or arr.dtype.kind not in "biuf":
        raise InvalidInputError(f"expected a non-empty 1-D sequence of numbers, got {value!r}")
    row = arr.astype(np.float64)[None, :]
    if not np.isfinite(row).all():
        raise InvalidInputError("feature values contain NaN or infinity")
    return row, "vector", names


def parse_batch(values: npt.ArrayLike) -> tuple[FloatArray, str]:
    """A batch as (n, d) rows and its form ("scalar" for a 1-D array, else "vector")."""
    try:
        arr = np.asarray(values)
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(f"expected an (n, d) array of numbers: {exc}") from exc
    if arr.ndim not in (1, 2) or (arr.shape[-1:] == (0,) and arr.ndim == 2):
        raise InvalidInputError(f"expected an (n, d) array with d >= 1, got shape {arr.shape}")
    if arr.dtype.kind not in "biuf" and arr.size:
        raise InvalidInputError(f"expected numbers, got dtype {arr.dtype}")
    rows = arr.astype(np.float64).reshape(arr.shape[0], arr.shape[1] if arr.ndim == 2 else 1)
    if not np.isfinite(rows).all():
        raise InvalidInputError("values contain NaN or infinity")
    return rows, "scalar" if arr.ndim == 1 else "vector"


class DataDriftState(NamedTuple):
    """The validated fields of a data-drift detector's state."""

    form: str
    feature_names: tuple[str, ...] | None
    reference: FloatArray
    n_collected: int
    epoch: int
    window: npt.NDArray[np.int32]
    window_count: int
    t: int
    drift_detected: bool
    drifted: npt.NDArray[np.bool_]
    statistics: FloatArray
    complete: bool  # the reference is complete (sorted, with thresholds to derive)


def read_state(state: Mapping[str, Any], window_size: int, max_reference: int) -> DataDriftState:
    """Check ``state`` (see ``DataDriftDetector._get_state``); raise `IncompatibleStateError`."""
    form, names = state.get("form"), state.get("feature_names")
    ref = _rows(state, "reference", None)
    n_ref, d = ref.shape
    sizes = range(window_size, max_reference + 1) if form else [0]
    if form not in ("", "scalar", "vector") or n_ref not in sizes or bool(d) != bool(form):
        raise IncompatibleStateError("malformed state: form or reference")
    if (form == "scalar" and d != 1) or not (
        names is None
        or (
            form == "vector"
            and isinstance(names, list)
            and len(set(names)) == len(names) == d
            and all(isinstance(k, str) for k in names)
        )
    ):
        raise IncompatibleStateError("malformed state: feature_names")
    collected = _int(state, "n_collected", 0, n_ref)
    complete = bool(form) and collected == n_ref
    if complete and (np.diff(ref, axis=0) < 0).any():
        raise IncompatibleStateError("malformed state: unsorted reference")
    epoch = _int(state, "epoch", int(complete), 1 << 62)
    window = _rows(state, "window", d, integers=True)
    if (
        window.shape[0] != window_size
        or not 0 <= window.min(initial=0) <= window.max(initial=0) <= n_ref
    ):
        raise IncompatibleStateError("malformed state: window")
    count = _int(state, "window_count", 0, window_size if complete else 0)
    t = _int(state, "t", 0, 1 << 62)
    drift, drifted, stats = (state.get(k) for k in ("drift_detected", "drifted", "statistics"))
    if not (
        isinstance(drift, bool)
        and isinstance(drifted, list)
        and isinstance(stats, list)
        and len(drifted) == len(stats) == d
        and all(isinstance(b, bool) for b in drifted)
        and all(s is None or _number(s) for s in stats)
    ):
        raise IncompatibleStateError("malformed state: drift_detected, drifted or statistics")
    return DataDriftState(
        str(form),
        None if names is None else tuple(names),
        ref,
        collected,
        epoch,
        window.astype(np.int32),
        count,
        t,
        drift,
        np.array(drifted, dtype=bool).reshape(d),
        np.array([math.nan if s is None else s for s in stats], dtype=np.float64),
        complete,
    )


def _ndim(value: Any) -> int:
    try:
        return int(np.ndim(value))
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(f"expected numbers: {exc}") from exc


def _int(state: Mapping[str, Any], key: str, low: int, high: int) -> int:
    value = state.get(key)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise IncompatibleStateError(f"state[{key!r}] must be an int in [{low}, {high}]")
    return value


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _rows(
    state: Mapping[str, Any], key: str, width: int | None, *, integers: bool = False
) -> FloatArray:
    """``state[key]``: a list of rows of ``width`` finite numbers (None: any common width)."""
    rows = state.get(key)
    kinds = int if integers else (int, float)
    if isinstance(rows, list) and width is None:
        width = len(rows[0]) if rows and isinstance(rows[0], list) else 0
    if not isinstance(rows, list) or not all(
        isinstance(r, list)
        and len(r) == width
        and all(isinstance(v, kinds) and _number(v) for v in r)
        for r in rows
    ):
        raise IncompatibleStateError(f"malformed state: {key}")
    return np.array(rows, dtype=np.float64).reshape(len(rows), width or 0)
