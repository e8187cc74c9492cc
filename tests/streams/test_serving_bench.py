"""The serving benchmark's arguments (its load generator is tested in test_http_load.py; the whole
bench, with Redis and a worker, runs in `python -m streams.serving_bench`)."""

from __future__ import annotations

from typing import Any

import pytest

from streams.config import RiffleConfig
from streams.serving_bench import run_serving_bench


@pytest.mark.parametrize(
    "kw",
    [
        {"rate": 0.0},
        {"duration_s": -1.0},
        {"warmup_s": -0.5},
        {"n_entities": 0},
        {"batch": ()},
        {"batch": 0},
        {"batch": (1, 11), "n_entities": 10},
    ],
)
def test_bad_arguments_are_refused_before_anything_runs(
    demo_config: RiffleConfig, kw: dict[str, Any]
) -> None:
    with pytest.raises(ValueError):
        run_serving_bench(demo_config, demo_config.stream("payments"), **kw)
