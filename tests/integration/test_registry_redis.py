"""The model registry on the real Redis: key layout, atomic version numbers, signatures, the
audit list, and `riffle models` against it."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import redis

from models.registry import Registry, TamperedArtifactError
from streams.cli import main
from streams.config import ModelConfig, model_from_config
from streams.exceptions import ServiceUnavailableError
from streams.registry_redis import RedisBackend, build_model, model_config, open_registry

pytestmark = pytest.mark.integration

KEY = b"integration-key"
CFG = ModelConfig(type="logistic_regression")


def _trained(cfg: ModelConfig = CFG, seed: int = 0) -> object:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(200, 3))
    model = model_from_config(cfg)
    model.learn_many(X, (X[:, 0] > 0).astype(np.int64))
    return model


@pytest.fixture
def redis_url(services: tuple[str, str]) -> str:
    return services[1]


@pytest.fixture
def prefix(redis_url: str) -> Iterator[str]:
    prefix = f"riffle:test:registry:{uuid.uuid4().hex[:10]}"
    yield prefix
    client = redis.Redis.from_url(redis_url)
    keys = list(client.scan_iter(match=f"{prefix}:*"))
    if keys:
        client.delete(*keys)
    client.close()


@pytest.fixture
def client(redis_url: str) -> Iterator[redis.Redis]:
    c = redis.Redis.from_url(redis_url)
    yield c
    c.close()


@pytest.fixture
def registry(redis_url: str, prefix: str) -> Iterator[Registry]:
    with RedisBackend(redis_url, prefix=prefix) as backend:
        yield Registry(backend, key=KEY, factory=build_model)


def test_round_trip_and_key_layout(registry: Registry, prefix: str, client: redis.Redis) -> None:
    tree = ModelConfig(type="hoeffding_tree")
    lr_model, tree_model = _trained(), _trained(tree)
    registry.register("fraud", lr_model, config=model_config(CFG), status="champion", actor="ana")
    registry.register("fraud", tree_model, config=model_config(tree), parent=1)

    X = np.random.default_rng(1).normal(size=(50, 3))
    np.testing.assert_array_equal(
        registry.load("fraud").predict_proba_many(X),
        lr_model.predict_proba_many(X),  # type: ignore[attr-defined]
    )
    np.testing.assert_array_equal(
        registry.load("fraud", 2).predict_proba_many(X),
        tree_model.predict_proba_many(X),  # type: ignore[attr-defined]
    )
    assert client.get(f"{prefix}:fraud:last_version") == b"2"
    assert client.get(f"{prefix}:fraud:champion") == b"1"
    assert client.type(f"{prefix}:fraud:versions") == b"list"
    assert client.lrange(f"{prefix}:fraud:versions", 0, -1) == [b"1", b"2"]
    assert client.get(
        f"{prefix}:fraud:v2:artifact",
    ).startswith(b"RFMA1")  # type: ignore[union-attr]
    assert json.loads(client.get(f"{prefix}:fraud:v2:meta"))["parent"] == 1  # type: ignore[arg-type]
    assert client.get(f"{prefix}:fraud:v2:status") == b"challenger"
    audit = [json.loads(line) for line in client.lrange(f"{prefix}:audit", 0, -1)]
    assert [e["action"] for e in audit] == ["register", "promote", "register"]


def test_concurrent_workers_get_distinct_version_numbers(redis_url: str, prefix: str) -> None:
    def work(i: int) -> list[int]:
        with RedisBackend(redis_url, prefix=prefix) as backend:
            reg = Registry(backend, key=KEY)
            model = _trained(seed=i)
            return [reg.register("race", model, config=model_config(CFG)).version for _ in range(5)]

    with ThreadPoolExecutor(8) as pool:
        got = sorted(v for vs in pool.map(work, range(8)) for v in vs)
    assert got == list(range(1, 41))
    with RedisBackend(redis_url, prefix=prefix) as backend:
        reg = Registry(backend, key=KEY)
        assert [v.version for v in reg.versions("race")] == got
        assert reg.names() == ["race"]


def test_promote_rollback_and_audit(registry: Registry, prefix: str, client: redis.Redis) -> None:
    for seed in range(3):
        registry.register("churn", _trained(seed=seed), config=model_config(CFG))
    registry.promote("churn", 1, reason="first", actor="ana")
    registry.promote("churn", 3, reason="better", actor="ana")
    assert registry.rollback("churn", reason="alerts", actor="bob").version == 1
    statuses = [v.status for v in registry.versions("churn")]
    assert statuses == ["champion", "challenger", "retired"]
    entries = [json.loads(line) for line in client.lrange(f"{prefix}:churn:audit", 0, -1)]
    assert [(e["action"], e["version"], e["from_version"]) for e in entries[3:]] == [
        ("promote", 1, None),
        ("promote", 3, 1),
        ("rollback", 1, 3),
    ]


def test_a_tampered_artifact_in_redis_is_refused(
    registry: Registry, prefix: str, client: redis.Redis
) -> None:
    registry.register("fraud", _trained(), config=model_config(CFG))
    key = f"{prefix}:fraud:v1:artifact"
    data = client.get(key)
    assert isinstance(data, bytes)
    client.setrange(key, len(data) - 3, bytes([data[-3] ^ 0xFF]))
    with pytest.raises(TamperedArtifactError, match="fraud@1 was modified"):
        registry.load("fraud", 1)
    with pytest.raises(TamperedArtifactError):
        Registry(registry.catalog.backend, key=b"other").state("fraud", 1)


def test_riffle_models_on_redis(
    registry: Registry,
    redis_url: str,
    prefix: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: object,
) -> None:
    registry.register("fraud", _trained(), config=model_config(CFG), status="champion")
    registry.register("fraud", _trained(seed=1), config=model_config(CFG), parent=1)
    monkeypatch.setenv("RIFFLE_REGISTRY_KEY", KEY.decode())
    base = ["--registry", redis_url, "--prefix", prefix]
    assert main(["models", "promote", "fraud@2", "--reason", "r", "--actor", "cy", *base]) == 0
    assert "fraud@2 is the champion of fraud (was fraud@1)" in capsys.readouterr().out
    # without --registry: the Redis URL of the configuration / RIFFLE_REDIS_URL
    monkeypatch.setenv("RIFFLE_REDIS_URL", redis_url)
    argv = ["models", "list", "fraud", "--json", "--prefix", prefix, "--config", "/nonexistent"]
    assert main(argv) == 0
    assert [v["status"] for v in json.loads(capsys.readouterr().out)] == ["retired", "champion"]
    assert main(["models", "diff", "fraud@1", "fraud@2", "--json", *base]) == 0
    assert "1.weights" in json.loads(capsys.readouterr().out)["parameters"]
    assert main(["models", "show", "fraud@7", *base]) == 2
    assert "no version 7" in capsys.readouterr().err
    assert open_registry(redis_url, key=KEY, prefix=prefix).get("fraud").version == 2


def test_unreachable_redis_is_a_clear_error() -> None:
    with pytest.raises(ServiceUnavailableError, match=r"127\.0\.0\.1:1/0 is not reachable"):
        RedisBackend("redis://:secret@127.0.0.1:1/0").start()
    with pytest.raises(RuntimeError, match="not started"):
        RedisBackend("redis://127.0.0.1:1/0").get("x")
