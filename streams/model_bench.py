"""`riffle bench models`: River's per-sample loop and Riffle's models on the same streams, in one
process, test-then-train; throughput (samples/s) and prequential accuracy side by side.

River is a test/bench-only dependency: ``pip install -e '.[test]'``.
"""

from __future__ import annotations

import json
import os
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["run"]

Stream = tuple[list[tuple[dict[str, float], Any]], np.ndarray, np.ndarray]


def _stream(name: str, n: int) -> Stream:
    from river import datasets

    source: Any
    if name.startswith("agrawal"):
        fn = int(name.rsplit("-", 1)[1])
        source = datasets.synth.Agrawal(classification_function=fn, seed=42)
    elif name == "sea":
        source = datasets.synth.SEA(variant=0, seed=42)
    elif name == "phishing":
        source = datasets.Phishing()
    else:
        raise ValueError(f"unknown stream {name!r}")
    pairs = []
    for x, y in source.take(n):
        pairs.append(({k: float(v) for k, v in x.items()}, int(y)))
    names = list(pairs[0][0])
    X = np.array([[x[k] for k in names] for x, _ in pairs], dtype=np.float64)
    y = np.array([label for _, label in pairs])
    return pairs, X, y


def _river_model(case: str) -> Any:
    from river import linear_model, naive_bayes, preprocessing, tree

    if case == "logreg+scaler":
        return preprocessing.StandardScaler() | linear_model.LogisticRegression()
    if case == "hoeffding_tree":
        return tree.HoeffdingTreeClassifier()
    if case == "gaussian_nb":
        return naive_bayes.GaussianNB()  # type: ignore[no-untyped-call]  # River is untyped
    raise ValueError(case)


def _our_models(case: str) -> dict[str, Callable[[], Any]]:
    from models import LogisticRegression
    from models.preprocessing import StandardScaler

    if case == "logreg+scaler":
        return {
            "exact": lambda: StandardScaler() | LogisticRegression(),
            "mini-batch": lambda: (
                StandardScaler(mini_batch=True) | LogisticRegression(mini_batch=True)
            ),
        }
    if case == "hoeffding_tree":
        from models.tree import HoeffdingTreeClassifier

        return {"exact": HoeffdingTreeClassifier}
    if case == "gaussian_nb":
        from models.naive_bayes import GaussianNB

        return {"exact": lambda: GaussianNB()}
    raise ValueError(case)


def _time_river(model: Any, pairs: list[tuple[dict[str, float], Any]]) -> tuple[float, float]:
    correct = 0
    t0 = time.perf_counter()
    for x, y in pairs:
        y_pred = model.predict_one(x)
        correct += y_pred == y
        model.learn_one(x, y)
    return len(pairs) / (time.perf_counter() - t0), correct / len(pairs)


def _time_ours(model: Any, X: np.ndarray, y: np.ndarray, batch: int) -> tuple[float, float]:
    correct = 0
    t0 = time.perf_counter()
    for i in range(0, len(X), batch):
        out = model.predict_learn_many(X[i : i + batch], y[i : i + batch])
        if out.ndim == 1:
            pred = (out > 0.5).astype(np.int64)
        else:
            classes = np.asarray(model.classes_ or (0,), dtype=object)
            pred = classes[out.argmax(axis=1)] if out.shape[1] else np.full(len(out), -1)
        correct += int((pred == y[i : i + batch]).sum())
    return len(X) / (time.perf_counter() - t0), correct / len(X)


CASES = {
    "logreg+scaler": ["agrawal-0", "phishing", "sea"],
    "hoeffding_tree": ["agrawal-0", "agrawal-2", "agrawal-6"],
    "gaussian_nb": ["agrawal-0", "sea"],
}


def run(
    n: int = 50_000,
    runs: int = 3,
    batch: int = 256,
    output: str | None = None,
    cases: list[str] | None = None,
) -> dict[str, Any]:
    """Measure every case; print a table; write JSON to `output`."""
    rows = []
    for case in cases or list(CASES):
        for name in CASES[case]:
            pairs, X, y = _stream(name, n)
            river_rates, river_acc = [], 0.0
            ours: dict[str, list[float]] = {}
            our_acc: dict[str, float] = {}
            for _ in range(runs):  # alternate, so noise hits both alike
                rate, river_acc = _time_river(_river_model(case), pairs)
                river_rates.append(rate)
                for label, make in _our_models(case).items():
                    rate, acc = _time_ours(make(), X, y, batch)
                    ours.setdefault(label, []).append(rate)
                    our_acc[label] = acc
            river_med = statistics.median(river_rates)
            for label, rates in ours.items():
                med = statistics.median(rates)
                row = {
                    "case": case,
                    "stream": name,
                    "n": len(X),
                    "variant": label,
                    "batch": batch,
                    "river_samples_per_s": round(river_med),
                    "ours_samples_per_s": round(med),
                    "speedup": round(med / river_med, 2),
                    "river_accuracy": round(river_acc, 4),
                    "ours_accuracy": round(our_acc[label], 4),
                    "accuracy_diff_points": round(100 * (our_acc[label] - river_acc), 2),
                }
                rows.append(row)
                print(
                    f"{case:15s} {name:10s} {label:10s} river {river_med:>10,.0f}/s "
                    f"acc {river_acc:.4f} | ours {med:>11,.0f}/s acc {our_acc[label]:.4f} | "
                    f"x{med / river_med:.1f}",
                    flush=True,
                )
    result = {"benchmark": "models", "cores": os.cpu_count(), "runs": runs, "rows": rows}
    if output:
        Path(output).parent.mkdir(parents=True, exist_ok=True)
        Path(output).write_text(json.dumps(result, indent=2) + "\n")
    return result
