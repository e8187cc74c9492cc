"""Fixtures of the registry tests: registries on each pure backend, trained models."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from models.registry import DirectoryBackend, MemoryBackend, Registry, RegistryBackend
from streams.config import ModelConfig
from streams.registry_redis import build_model, model_config
from tests.models.registry.fixtures import KEY, trained


@pytest.fixture(params=["memory", "directory"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> RegistryBackend:
    if request.param == "memory":
        return MemoryBackend()
    return DirectoryBackend(tmp_path / "registry")


@pytest.fixture
def clock() -> Callable[[], float]:
    ticks = itertools.count()
    return lambda: 1_700_000_000.0 + next(ticks)


@pytest.fixture
def registry(backend: RegistryBackend, clock: Callable[[], float]) -> Registry:
    return Registry(backend, key=KEY, factory=build_model, clock=clock)


@pytest.fixture
def two_versions(registry: Registry) -> Iterator[Registry]:
    """`fraud` with v1 (champion) and v2 (a challenger trained on from v1)."""
    cfg = ModelConfig(type="logistic_regression")
    registry.register(
        "fraud", trained(cfg, 100), config=model_config(cfg), status="champion", actor="ana"
    )
    cfg2 = ModelConfig(type="logistic_regression", lr=0.01)
    registry.register("fraud", trained(cfg2, 300), config=model_config(cfg2), parent=1)
    yield registry
