"""Hoeffding tree and Gaussian naive Bayes: ours (numpy micro-batches) against River 0.26.

Test-then-train (prequential) on River's Agrawal streams, all nine features numeric (the
categorical ones as their integer codes, for both). River runs one row at a time
(`predict_one` then `learn_one`); ours runs `predict_learn_many` on micro-batches. Both run in
this process, alternating, and each figure is the median of `--runs` runs.

    .venv/bin/python bench/bench_models_tree.py                 # 50k rows, functions 0 1 2 4 6
    .venv/bin/python bench/bench_models_tree.py --rows 100000 --functions 0 2 --runs 5
"""

from __future__ import annotations

import argparse
import itertools
import json
import statistics
import sys
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
from river import naive_bayes as river_naive_bayes
from river import tree as river_tree
from river.datasets import synth

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from models.naive_bayes import GaussianNB
from models.tree import HoeffdingTreeClassifier

Stream = tuple[list[dict[str, float]], list[int], np.ndarray, np.ndarray]


def agrawal(function: int, rows: int, seed: int) -> Stream:
    data = list(itertools.islice(synth.Agrawal(classification_function=function, seed=seed), rows))
    xs, ys = [x for x, _ in data], [int(y) for _, y in data]
    names = list(xs[0])
    X = np.array([[x[f] for f in names] for x in xs], dtype=np.float64)
    return xs, ys, X, np.array(ys)


def run_river(model: Any, xs: list[dict[str, float]], ys: list[int]) -> tuple[float, float]:
    """(samples/s, prequential accuracy) of River one row at a time."""
    correct = 0
    start = time.perf_counter()
    for x, y in zip(xs, ys, strict=True):
        correct += model.predict_one(x) == y
        model.learn_one(x, y)
    return len(ys) / (time.perf_counter() - start), correct / len(ys)


def run_ours(model: Any, X: np.ndarray, y: np.ndarray, batch: int) -> tuple[float, float]:
    """(samples/s, prequential accuracy) of ours on micro-batches."""
    correct = 0
    start = time.perf_counter()
    for i in range(0, len(y), batch):
        proba = model.predict_learn_many(X[i : i + batch], y[i : i + batch])
        if proba.shape[1]:  # rows before any class was learned count as wrong, as in River
            guess = np.asarray(model.classes_)[proba.argmax(axis=1)]
            correct += int(((guess == y[i : i + batch]) & (proba.max(axis=1) > 0)).sum())
    return len(y) / (time.perf_counter() - start), correct / len(y)


def _fresh_river(
    make: Callable[[], Any], xs: list[dict[str, float]], ys: list[int]
) -> tuple[float, float]:
    return run_river(make(), xs, ys)


def _fresh_ours(
    make: Callable[[], Any], X: np.ndarray, y: np.ndarray, batch: int
) -> tuple[float, float]:
    return run_ours(make(), X, y, batch)


def measure(
    runs: int, makers: dict[str, Callable[[], tuple[float, float]]]
) -> dict[str, dict[str, float]]:
    """Median samples/s and accuracy of each contender, runs interleaved."""
    samples: dict[str, list[tuple[float, float]]] = {name: [] for name in makers}
    for _ in range(runs):
        for name, make in makers.items():
            samples[name].append(make())
    return {
        name: {
            "samples_per_s": statistics.median(s for s, _ in values),
            "accuracy": statistics.median(a for _, a in values),
        }
        for name, values in samples.items()
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=50_000)
    parser.add_argument("--functions", type=int, nargs="+", default=[0, 1, 2, 4, 6])
    parser.add_argument("--batches", type=int, nargs="+", default=[256, 1000])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()

    results: list[dict[str, Any]] = []
    for function in args.functions:
        xs, ys, X, y = agrawal(function, args.rows, args.seed)
        for model, river_make, ours_make in (
            ("HoeffdingTree", river_tree.HoeffdingTreeClassifier, HoeffdingTreeClassifier),
            ("GaussianNB", river_naive_bayes.GaussianNB, GaussianNB),
        ):
            makers: dict[str, Callable[[], tuple[float, float]]] = {
                "river": partial(_fresh_river, river_make, xs, ys)
            }
            for batch in args.batches:
                makers[f"ours/{batch}"] = partial(_fresh_ours, ours_make, X, y, batch)
            stats = measure(args.runs, makers)
            river = stats["river"]
            for name, s in stats.items():
                results.append(
                    {
                        "model": model,
                        "function": function,
                        "rows": args.rows,
                        "contender": name,
                        **s,
                        "speedup": s["samples_per_s"] / river["samples_per_s"],
                        "accuracy_delta": s["accuracy"] - river["accuracy"],
                    }
                )
            print(f"function {function} {model}: done", file=sys.stderr, flush=True)

    header = (
        f"{'model':<14}{'fn':>3}  {'contender':<11}{'samples/s':>11}{'x River':>9}"
        f"{'accuracy':>10}{'Δ acc':>9}"
    )
    print(f"Agrawal(seed={args.seed}), {args.rows} rows, median of {args.runs} runs")
    print(header)
    print("-" * len(header))
    for r in results:
        print(
            f"{r['model']:<14}{r['function']:>3}  {r['contender']:<11}{r['samples_per_s']:>11,.0f}"
            f"{r['speedup']:>9.1f}{r['accuracy']:>10.4f}{r['accuracy_delta']:>+9.4f}"
        )
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
