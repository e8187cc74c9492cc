"""Throughput and prequential accuracy of `StandardScaler | LogisticRegression`: River's
per-sample pipeline against ours (exact and mini-batch), in one process, on the same data.

Run from the repository root:

    .venv/bin/python bench/bench_models_linear.py [--rows 50000] [--batch 256] [--repeats 5]

Every run is test-then-train over the whole stream (each row predicted, then learned) with
River's defaults (SGD(0.01), intercept_lr 0.01), from a fresh model. The runs are interleaved
per repeat (a run shorter than 0.5 s is timed over several passes) and the median throughput
of the repeats is reported. Rows:

- `river`: `predict_proba_one` + `learn_one` per row (River 0.26.1);
- `ours exact dicts`: the same calls on ours (bit-identical probabilities);
- `ours exact arrays`: `predict_learn_many` over batches, exact mode (identical results);
- `ours mini-batch arrays`: `mini_batch=True`, one vectorised update per batch;
- `ours mini-batch dicts`: the same, including building each batch's matrix from the dicts.

Accuracy is over all rows, and over the rows after the first batch (a mini-batch run predicts
its first batch before learning anything); `max|dp|` and `mean|dp|>1st` compare each row's
P(y=1) with River's (0 means bit-identical).
"""

from __future__ import annotations

import argparse
import itertools
import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from river import datasets, linear_model, preprocessing

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from models import LogisticRegression
from models.preprocessing import StandardScaler

Rows = list[dict[str, float]]


def load(name: str, n: int) -> tuple[Rows, list[int]]:
    stream = datasets.synth.Agrawal(seed=42) if name == "agrawal" else datasets.Phishing()
    rows = list(itertools.islice(stream, n))
    return [{k: float(v) for k, v in x.items()} for x, _ in rows], [int(y) for _, y in rows]


def run_river(xs: Rows, ys: list[int], batch: int) -> np.ndarray:
    model = preprocessing.StandardScaler() | linear_model.LogisticRegression()
    out = np.empty(len(ys))
    for i, (x, y) in enumerate(zip(xs, ys, strict=True)):
        out[i] = model.predict_proba_one(x)[True]
        model.learn_one(x, y)
    return out


def run_ours_dicts(xs: Rows, ys: list[int], batch: int) -> np.ndarray:
    model = StandardScaler() | LogisticRegression()
    out = np.empty(len(ys))
    for i, (x, y) in enumerate(zip(xs, ys, strict=True)):
        out[i] = model.predict_proba_one(x)[1]
        model.learn_one(x, y)
    return out


def arrays_runner(mini_batch: bool) -> Callable[[np.ndarray, np.ndarray, int], np.ndarray]:
    def run(X: np.ndarray, y: np.ndarray, batch: int) -> np.ndarray:
        model = StandardScaler(mini_batch=mini_batch) | LogisticRegression(mini_batch=mini_batch)
        parts = [
            model.predict_learn_many(X[i : i + batch], y[i : i + batch])
            for i in range(0, len(y), batch)
        ]
        return np.concatenate(parts)

    return run


def run_mini_batch_dicts(xs: Rows, ys: list[int], batch: int) -> np.ndarray:
    model = StandardScaler(mini_batch=True) | LogisticRegression(mini_batch=True)
    names = list(xs[0])
    parts = []
    for i in range(0, len(ys), batch):
        rows = xs[i : i + batch]
        X = np.array([[x[k] for k in names] for x in rows])
        parts.append(model.predict_learn_many(X, np.array(ys[i : i + batch])))
    return np.concatenate(parts)


def bench(name: str, n: int, batch: int, repeats: int) -> list[dict[str, Any]]:
    xs, ys = load(name, n)
    X, y = np.array([list(x.values()) for x in xs]), np.array(ys)
    runs: dict[str, tuple[Callable[..., np.ndarray], tuple[Any, ...]]] = {
        "river": (run_river, (xs, ys)),
        "ours exact dicts": (run_ours_dicts, (xs, ys)),
        "ours exact arrays": (arrays_runner(False), (X, y)),
        "ours mini-batch arrays": (arrays_runner(True), (X, y)),
        "ours mini-batch dicts": (run_mini_batch_dicts, (xs, ys)),
    }
    rates: dict[str, list[float]] = {k: [] for k in runs}
    probas: dict[str, np.ndarray] = {}
    passes: dict[str, int] = {}
    for label, (run, args) in runs.items():  # warm-up; short runs repeat to last >= 0.5 s
        start = time.perf_counter()
        probas[label] = run(*args, batch)
        passes[label] = max(1, round(0.5 / (time.perf_counter() - start)))
    for _ in range(repeats):
        for label, (run, args) in runs.items():
            start = time.perf_counter()
            for _ in range(passes[label]):
                run(*args, batch)  # a fresh model each pass
            rates[label].append(passes[label] * len(ys) / (time.perf_counter() - start))
    river_rate = statistics.median(rates["river"])
    results = []
    for label in runs:
        p = probas[label]
        rate = statistics.median(rates[label])
        results.append(
            {
                "dataset": name,
                "rows": len(ys),
                "batch": batch,
                "run": label,
                "samples_per_s": rate,
                "speedup_vs_river": rate / river_rate,
                "accuracy": float(np.mean((p > 0.5) == y)),
                "accuracy_after_first_batch": float(np.mean((p[batch:] > 0.5) == y[batch:])),
                "max_abs_proba_diff_vs_river": float(np.abs(p - probas["river"]).max()),
                "mean_abs_proba_diff_vs_river_after_first_batch": float(
                    np.abs(p - probas["river"])[batch:].mean()
                ),
            }
        )
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=50_000, help="Agrawal rows (20k-50k)")
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--json", type=Path, help="also write the results to this file")
    args = parser.parse_args()
    results = bench("agrawal", args.rows, args.batch, args.repeats)
    results += bench("phishing", 1_250, args.batch, args.repeats)
    header = (
        f"{'dataset':9} {'run':23} {'samples/s':>10} {'x River':>8} "
        f"{'accuracy':>9} {'acc>1st':>8} {'max|dp|':>9} {'mean|dp|>1st':>12}"
    )
    print(f"median of {args.repeats} runs, batch {args.batch}, one process")
    print(header)
    print("-" * len(header))
    for r in results:
        print(
            f"{r['dataset']:9} {r['run']:23} {r['samples_per_s']:>10,.0f} "
            f"{r['speedup_vs_river']:>8.1f} {100 * r['accuracy']:>8.2f}% "
            f"{100 * r['accuracy_after_first_batch']:>7.2f}% "
            f"{r['max_abs_proba_diff_vs_river']:>9.2e} "
            f"{r['mean_abs_proba_diff_vs_river_after_first_batch']:>12.2e}"
        )
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
