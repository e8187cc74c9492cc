from __future__ import annotations

import asyncio
import copy
import importlib.util
import tomllib
from typing import Any

import pytest

from streams.config import Secret, load_config, parse_config
from streams.event_loop import use_event_loop
from streams.exceptions import ConfigError
from tests.conftest import ROOT

BASE = tomllib.loads((ROOT / "riffle.toml").read_text())


def _with(path: str, value: Any) -> dict[str, Any]:
    raw = copy.deepcopy(BASE)
    *parents, last = path.split(".")
    node = raw
    for p in parents:
        node = node.setdefault(p, {})
    if value is _DELETE:
        del node[last]
    else:
        node[last] = value
    return raw


_DELETE = object()


@pytest.mark.parametrize(
    ("path", "value", "key"),
    [
        ("typo", 1, "typo"),
        ("kafka.bootstrap", "x", "kafka.bootstrap"),
        ("kafka.security_protocol", "TLS", "kafka.security_protocol"),
        ("kafka.bootstrap_servers", "", "kafka.bootstrap_servers"),
        ("redis.url", "http://localhost", "redis.url"),
        ("runtime.batch_size", 0, "runtime.batch_size"),
        ("runtime.checkpoint_interval_s", -1, "runtime.checkpoint_interval_s"),
        ("streams", {}, "streams"),
        ("streams.payments.partitions", 0, "streams.payments.partitions"),
        ("streams.payments.schema", {}, "streams.payments.schema"),
        ("streams.payments.schema.amount", "complex", "streams.payments.schema.amount"),
        (
            "streams.payments.schema.amount",
            {"type": "float", "nullable": True},
            "streams.payments.schema.amount.nullable",
        ),
        ("streams.payments.event.timestamp_unit", "us", "streams.payments.event"),
        ("streams.payments.features.window", "5 minutes", "streams.payments.features"),
        ("streams.payments.features.aggregations", ["median"], "streams.payments.features"),
        (
            "streams.payments.features.fields",
            ["amount", "nope"],
            "streams.payments.features.fields",
        ),
        (
            "streams.payments.features.aggregations",
            ["count", {"kind": "median", "field": "amount"}],
            "streams.payments.features.aggregations[1]",
        ),
        (
            "streams.payments.features.aggregations",
            [{"kind": "std", "field": "amount", "window": "1h every 7m"}],
            "streams.payments.features.aggregations[0]",
        ),
        (
            "streams.payments.features.aggregations",
            ["mean", {"kind": "distinct", "field": "shop", "window": "last 5m"}],
            "streams.payments.features.aggregations",
        ),
        (
            "streams.payments.features.transforms",
            [{"kind": "sqrt", "inputs": ["amount"]}],
            "streams.payments.features.transforms[0]",
        ),
        (
            "streams.payments.features.transforms",
            [{"kind": "log", "inputs": ["amount_median_5m"]}],
            "streams.payments.features",
        ),
        ("streams.payments.features.entity", "merchant", "streams.payments.features.entity"),
        ("runtime.event_loop", "trio", "runtime.event_loop"),
        ("streams.payments.model.type", "xgboost", "streams.payments.model.type"),
        ("streams.payments.model.learning_rate", 0.1, "streams.payments.model.learning_rate"),
        ("streams.payments.model.lr", -0.1, "streams.payments.model.lr"),
        (
            "streams.payments.monitor.drift_detector",
            "adwin2",
            "streams.payments.monitor.drift_detector",
        ),
        (
            "streams.payments.monitor.anomaly_threshold",
            0,
            "streams.payments.monitor.anomaly_threshold",
        ),
    ],
)
def test_invalid_config_names_the_key(path: str, value: Any, key: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_config(_with(path, value), {})
    assert info.value.key == key
    assert str(info.value).startswith(key)


def test_environment_overrides_and_secrets_stay_hidden() -> None:
    raw = _with("kafka.sasl_password", "hunter2")
    cfg = parse_config(raw, {"RIFFLE_KAFKA_BOOTSTRAP": "b:1", "RIFFLE_REDIS_URL": "redis://r:2/0"})
    assert cfg.kafka.bootstrap_servers == "b:1"
    assert cfg.redis_url.get() == "redis://r:2/0"
    assert isinstance(cfg.kafka.sasl_password, Secret)
    assert "hunter2" not in repr(cfg) and "hunter2" not in str(cfg.kafka)
    assert cfg.kafka.sasl_password.get() == "hunter2"


def test_the_shipped_config_loads_with_derived_topics() -> None:
    cfg = load_config(ROOT / "riffle.toml", env={})
    s = cfg.stream()
    assert s.name == "payments" and list(cfg.streams) == ["payments"]
    assert s.topics.events == "payments.events" and s.topics.dlq == "payments.dlq"
    assert s.view.feature_names[:4] == ("amount", "duration", "items", "risk")
    with pytest.raises(ConfigError, match="unknown stream"):
        cfg.stream("nope")


def test_missing_file_and_bad_toml(tmp_path: Any) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "absent.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[kafka\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(bad)


@pytest.mark.parametrize(
    ("model", "key"),
    [
        ({"type": "xgboost"}, "streams.payments.model.type"),
        ({"optimizer": "rmsprop"}, "streams.payments.model.optimizer"),
        ({"l1": -1.0}, "streams.payments.model.l1"),
        (
            {"type": "hoeffding_tree", "params": {"grace_period": -5}},
            "streams.payments.model.params",
        ),
        ({"params": {"no_such_hyperparameter": 1}}, "streams.payments.model.params"),
    ],
)
def test_model_settings_are_validated_at_load(model: dict[str, Any], key: str) -> None:
    raw = copy.deepcopy(BASE)
    raw["streams"]["payments"]["model"].update(model)
    with pytest.raises(ConfigError) as info:
        parse_config(raw, {})
    assert info.value.key == key


@pytest.mark.parametrize("detector", ["ddm", "eddm", "hddm_a", "page_hinkley"])
def test_every_drift_detector_can_be_configured(detector: str) -> None:
    raw = copy.deepcopy(BASE)
    raw["streams"]["payments"]["monitor"].update({"drift_detector": detector, "drift_params": {}})
    assert parse_config(raw, {}).stream().monitor.drift_detector == detector


def test_bad_drift_params_name_the_key() -> None:
    raw = copy.deepcopy(BASE)
    raw["streams"]["payments"]["monitor"]["drift_params"] = {"nope": 1}
    with pytest.raises(ConfigError) as info:
        parse_config(raw, {})
    assert info.value.key == "streams.payments.monitor.drift_params"


def test_the_demo_view_declares_every_window_kind_and_transforms() -> None:
    view = load_config(ROOT / "riffle.toml", env={}).stream("payments").view
    assert {s.window_spec.kind for s in view.specs} == {"tumbling", "hopping", "sliding"}
    assert {s.kind for s in view.specs} >= {"count", "std", "distinct", "ewm", "rate"}
    assert view.feature_names[-3:] == ("channel=web", "channel=app", "channel=pos")
    assert view.ttl_seconds == 7200  # two of the longest window (1 h)


def test_a_view_keyed_by_another_field_needs_one_partition_and_a_str_or_int_key() -> None:
    raw = _with("streams.payments.partitions", 1)
    raw["streams"]["payments"]["views"] = [
        {"name": "merchants", "entity": "merchant", "fields": ["amount"], "passthrough": []}
    ]
    views = parse_config(raw, {}).stream("payments").views
    assert [(v.name, v.entity) for v in views] == [("payments", None), ("merchants", "merchant")]
    raw["streams"]["payments"]["views"][0]["entity"] = "amount"
    with pytest.raises(ConfigError) as info:
        parse_config(raw, {})
    assert info.value.key == "streams.payments.views[0]" and "str or int" in str(info.value)
    raw["streams"]["payments"]["views"][0]["name"] = "payments"
    with pytest.raises(ConfigError) as info:
        parse_config(raw, {})
    assert info.value.key == "streams.payments.views[0]" and "distinct" in str(info.value)


@pytest.mark.parametrize("detector", ["adwin", "kswin"])
def test_adwin_and_kswin_can_be_configured(detector: str) -> None:
    raw = copy.deepcopy(BASE)
    raw["streams"]["payments"]["monitor"].update({"drift_detector": detector, "drift_params": {}})
    assert parse_config(raw, {}).stream().monitor.drift_detector == detector


@pytest.mark.parametrize(
    ("path", "value"),
    [
        ("streams.payments.monitor.data_drift_detector", "wasserstein"),
        ("streams.payments.monitor.data_drift_params", {"n_reference": 10}),
        ("streams.payments.monitor.data_drift_features", ["amount", "merchant"]),
        ("streams.payments.monitor.anomaly_detector", "lof"),
        ("streams.payments.monitor.anomaly_quantile", 0.999),
        ("streams.payments.monitor.anomaly_resolve_after", -1),
    ],
)
def test_invalid_monitor_settings_name_their_key(path: str, value: Any) -> None:
    with pytest.raises(ConfigError) as info:
        parse_config(_with(path, value), {})
    # anomaly_quantile conflicts with the shipped anomaly_threshold and is named for it
    assert info.value.key == path


def test_the_shipped_monitor_tests_the_raw_fields_for_data_drift() -> None:
    mon = load_config(ROOT / "riffle.toml", env={}).stream().monitor
    assert (mon.drift_detector, mon.data_drift_detector, mon.anomaly_detector) == (
        "hddm_a",
        "ks",
        "robust_zscore",
    )
    raw = ("amount", "duration", "items", "risk")
    assert mon.data_drift_features == raw and mon.anomaly_features == raw
    assert mon.anomaly_threshold == 10.0 and mon.anomaly_quantile is None


def test_anomaly_features_must_be_features_of_the_view() -> None:
    raw = _with("streams.payments.monitor.anomaly_features", ["amount", "nope"])
    with pytest.raises(ConfigError) as info:
        parse_config(raw, {})
    assert info.value.key == "streams.payments.monitor.anomaly_features" and "nope" in str(
        info.value
    )
    raw = _with("streams.payments.monitor.anomaly_features", [])
    with pytest.raises(ConfigError) as info:
        parse_config(raw, {})
    assert info.value.key == "streams.payments.monitor.anomaly_features"


def test_event_loop_choices(monkeypatch: pytest.MonkeyPatch) -> None:
    policy = asyncio.get_event_loop_policy()
    try:
        cfg = parse_config(_with("runtime.event_loop", "asyncio"), {})
        assert use_event_loop(cfg.runtime) == "asyncio"
        assert asyncio.get_event_loop_policy() is policy
        cfg = parse_config(_with("runtime.event_loop", "auto"), {})
        assert use_event_loop(cfg.runtime) == "uvloop"  # a dependency where workers run
        loop = asyncio.new_event_loop()
        assert type(loop).__module__.startswith("uvloop")
        loop.close()
    finally:
        asyncio.set_event_loop_policy(policy)
    # a uvloop asked for where it is not installed fails at start, naming the key
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    assert use_event_loop(parse_config(_with("runtime.event_loop", "auto"), {}).runtime) == (
        "asyncio"
    )
    with pytest.raises(ConfigError) as info:
        parse_config(_with("runtime.event_loop", "uvloop"), {})
    assert info.value.key == "runtime.event_loop" and "not installed" in str(info.value)
