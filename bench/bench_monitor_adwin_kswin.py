"""Update rate of ADWIN and KSWIN: River 0.26.1's against ours, in one process, on one stream.

Run from the repository root:

    .venv/bin/python bench/bench_monitor_adwin_kswin.py [--rows 100000] [--repeats 3]

The stream is seeded Gaussian noise whose mean shifts every 10% of the rows (0, 0.5, -0.3,
1.0, ...), so both detectors fire and restart many times. Each repeat runs, interleaved and
from fresh detectors:

- `river`: `update(x)` then `drift_detected`, per value (River's ADWIN is Rust via PyO3;
  its KSWIN is Python calling `scipy.stats.ks_2samp`);
- `ours update`: the same loop on ours;
- `ours update_many`: one call over the whole stream (a numpy array).

The median updates/s of the repeats is reported, with the detection indices of every run
checked identical to River's (the script exits with status 1 otherwise). Detectors use
River's defaults (KSWIN with seed=42). River's KSWIN manages about 2,000 updates/s, so the
default run takes a few minutes; `--rows 20000` is a quick look.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from river import drift

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from monitor.drift import ADWIN, KSWIN

Run = Callable[[np.ndarray], list[int]]


def stream(rows: int, seed: int = 42) -> np.ndarray:
    rng = np.random.default_rng(seed)
    means = [0.0, 0.5, -0.3, 1.0, 0.2, -0.8, 0.4, 0.0, 1.5, 0.7]
    cuts = np.linspace(0, rows, len(means) + 1).astype(int)
    parts = [
        rng.normal(m, 1.0, hi - lo) for m, lo, hi in zip(means, cuts[:-1], cuts[1:], strict=True)
    ]
    return np.concatenate(parts)


def loop(make: Callable[[], Any]) -> Run:
    def run(values: np.ndarray) -> list[int]:
        detector = make()
        hits = []
        for i, x in enumerate(values.tolist()):
            detector.update(x)
            if detector.drift_detected:
                hits.append(i)
        return hits

    return run


def batch(make: Callable[[], Any]) -> Run:
    def run(values: np.ndarray) -> list[int]:
        return make().update_many(values).tolist()  # type: ignore[no-any-return]

    return run


DETECTORS: dict[str, dict[str, Run]] = {
    "ADWIN": {
        "river": loop(drift.ADWIN),
        "ours update": loop(ADWIN),
        "ours update_many": batch(ADWIN),
    },
    "KSWIN": {
        "river": loop(lambda: drift.KSWIN(seed=42)),
        "ours update": loop(lambda: KSWIN(seed=42)),
        "ours update_many": batch(lambda: KSWIN(seed=42)),
    },
}


def bench(values: np.ndarray, repeats: int) -> list[dict[str, Any]]:
    times: dict[tuple[str, str], list[float]] = {}
    hits: dict[tuple[str, str], list[list[int]]] = {}
    for _ in range(repeats):
        for detector, runs in DETECTORS.items():
            for name, run in runs.items():
                start = time.perf_counter()
                found = run(values)
                times.setdefault((detector, name), []).append(time.perf_counter() - start)
                hits.setdefault((detector, name), []).append(found)
    results = []
    for (detector, name), elapsed in times.items():
        reference = hits[(detector, "river")][0]
        rate = len(values) / statistics.median(elapsed)
        river_rate = len(values) / statistics.median(times[(detector, "river")])
        results.append(
            {
                "detector": detector,
                "run": name,
                "rows": len(values),
                "updates_per_s": rate,
                "x_river": rate / river_rate,
                "drifts": len(reference),
                "identical_to_river": all(h == reference for h in hits[(detector, name)]),
                "seconds": elapsed,
            }
        )
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", type=Path, help="also write the results to this file")
    args = parser.parse_args()
    results = bench(stream(args.rows), args.repeats)
    print(f"{args.rows:,} values, median of {args.repeats} runs, one process")
    header = f"{'detector':8} {'run':17} {'updates/s':>11} {'x River':>8} {'drifts':>6} identical"
    print(header)
    print("-" * len(header))
    for r in results:
        print(
            f"{r['detector']:8} {r['run']:17} {r['updates_per_s']:>11,.0f} "
            f"{r['x_river']:>8.2f} {r['drifts']:>6} {'yes' if r['identical_to_river'] else 'NO'}"
        )
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    if not all(r["identical_to_river"] for r in results):
        sys.exit(1)


if __name__ == "__main__":
    main()
