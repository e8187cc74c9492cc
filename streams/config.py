"""Typed, validated, frozen configuration from `riffle.toml`, overridden by the environment.

The environment is read here and nowhere else: ``RIFFLE_KAFKA_BOOTSTRAP``, ``RIFFLE_REDIS_URL``,
``RIFFLE_KAFKA_SASL_PASSWORD``, ``RIFFLE_WEB_HOST`` (and ``RIFFLE_CONFIG`` by the CLI).
"""

from __future__ import annotations

import importlib.util
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from featurestore import (
    Aggregation,
    EventSchema,
    FeatureProcessor,
    FeatureView,
    FieldSpec,
    Transform,
)
from streams.deployment_config import DeploymentConfig, parse_deployment
from streams.exceptions import ConfigError

__all__ = [
    "KafkaConfig",
    "ModelConfig",
    "MonitorConfig",
    "RegistryConfig",
    "RiffleConfig",
    "RuntimeConfig",
    "Secret",
    "StreamConfig",
    "Topics",
    "load_config",
    "model_from_config",
    "parse_config",
]

ALERTS_TOPIC = "riffle.alerts"


class Secret:
    """A string that never shows itself in logs, reprs or tracebacks."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def get(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


@dataclass(frozen=True)
class KafkaConfig:
    bootstrap_servers: str = "127.0.0.1:9092"
    security_protocol: str = "PLAINTEXT"
    sasl_mechanism: str | None = None
    sasl_username: str | None = None
    sasl_password: Secret | None = None
    ssl_cafile: str | None = None

    def client_options(self) -> dict[str, Any]:
        """Keyword arguments shared by every aiokafka client."""
        opts: dict[str, Any] = {
            "bootstrap_servers": self.bootstrap_servers,
            "security_protocol": self.security_protocol,
        }
        if self.sasl_mechanism:
            opts["sasl_mechanism"] = self.sasl_mechanism
            opts["sasl_plain_username"] = self.sasl_username
            opts["sasl_plain_password"] = self.sasl_password.get() if self.sasl_password else None
        if self.ssl_cafile:
            from aiokafka.helpers import create_ssl_context

            opts["ssl_context"] = create_ssl_context(cafile=self.ssl_cafile)
        return opts


@dataclass(frozen=True)
class Topics:
    events: str
    features: str
    predictions: str
    labels: str
    dlq: str
    alerts: str = ALERTS_TOPIC
    # deployment commands for the learner (promote, rollback), from `riffle models`
    control: str = ""

    @classmethod
    def for_stream(cls, name: str) -> Topics:
        return cls(
            f"{name}.events",
            f"{name}.features",
            f"{name}.predictions",
            f"{name}.labels",
            f"{name}.dlq",
            control=f"{name}.control",
        )


@dataclass(frozen=True)
class ModelConfig:
    type: str = "logistic_regression"
    name: str = "model"
    optimizer: str = "sgd"
    lr: float = 0.05
    l1: float = 0.0
    l2: float = 0.0
    scale: bool = True
    params: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class MonitorConfig:
    """`[streams.<s>.monitor]`: the detectors, thresholds and episode rules of a stream."""

    # concept drift on the error stream; an episode ends `drift_cooldown` outcomes after its
    # last detection
    drift_detector: str = "ddm"
    drift_params: Mapping[str, Any] = field(default_factory=dict)
    drift_cooldown: int = 2000
    # data drift on feature vectors ("none" turns it off); default features: the aggregates
    data_drift_detector: str = "none"
    data_drift_params: Mapping[str, Any] = field(default_factory=dict)
    data_drift_features: tuple[str, ...] | None = None
    anomaly_features: tuple[str, ...] | None = None
    # anomaly scores on feature vectors, flagged by a fixed threshold or a running quantile;
    # a subject's episode ends at its `anomaly_resolve_after`-th consecutive normal event
    anomaly_detector: str = "robust_zscore"
    anomaly_params: Mapping[str, Any] = field(default_factory=dict)
    anomaly_threshold: float | None = None  # robust_zscore: 8.0 unless a quantile is set
    anomaly_quantile: float | None = None
    anomaly_quantile_window: int = 10_000
    anomaly_quantile_warm_up: int = 1_000
    anomaly_alpha: float = 0.01
    anomaly_warm_up: int = 200
    anomaly_resolve_after: int = 3


@dataclass(frozen=True)
class StreamConfig:
    name: str
    topics: Topics
    partitions: int
    schema: EventSchema
    view: FeatureView
    model: ModelConfig
    monitor: MonitorConfig
    max_pending_labels: int = 100_000
    # serving-only views computed from the same events (the model reads `view`)
    extra_views: tuple[FeatureView, ...] = ()
    deployment: DeploymentConfig = field(default_factory=DeploymentConfig)

    @property
    def views(self) -> tuple[FeatureView, ...]:
        return (self.view, *self.extra_views)


@dataclass(frozen=True)
class RuntimeConfig:
    batch_size: int = 1000
    batch_timeout_ms: int = 50
    max_idle_ms: int = 200
    # "always": an empty partition holds a merge back up to max_idle_ms; "lagging": only
    # one that is behind its high watermark (lower latency on quiet streams, see StageLoop)
    idle_wait: str = "always"
    checkpoint_interval_s: float = 5.0
    web_port: int = 6066
    web_host: str = "127.0.0.1"
    # Kafka consumer session: how long a dead worker keeps its partitions
    session_timeout_ms: int = 10_000
    # static group membership (one id per worker process, stable across restarts; env
    # RIFFLE_INSTANCE_ID): a restarted worker takes its partitions back without a rebalance
    instance_id: str | None = None
    # "auto": uvloop where installed (Linux, macOS), else asyncio's loop
    event_loop: str = "auto"


@dataclass(frozen=True)
class RegistryConfig:
    """`[registry]`: where workers record model versions (default: the Redis of `[redis]`) and
    the HMAC key that signs them (``RIFFLE_REGISTRY_KEY``; without one, nothing is recorded
    and the worker says so at start)."""

    url: Secret | None = None
    prefix: str = "riffle:registry"
    key: Secret | None = None


@dataclass(frozen=True)
class RiffleConfig:
    kafka: KafkaConfig
    redis_url: Secret
    streams: Mapping[str, StreamConfig]
    runtime: RuntimeConfig
    registry: RegistryConfig = field(default_factory=RegistryConfig)

    def stream(self, name: str | None = None) -> StreamConfig:
        if name is None:
            if len(self.streams) != 1:
                raise ConfigError("streams", f"name one stream of {sorted(self.streams)}")
            return next(iter(self.streams.values()))
        try:
            return self.streams[name]
        except KeyError:
            raise ConfigError(
                "streams", f"unknown stream {name!r}; have {sorted(self.streams)}"
            ) from None


def load_config(path: str | os.PathLike[str], env: Mapping[str, str] | None = None) -> RiffleConfig:
    """Read a TOML file and apply environment overrides."""
    p = Path(path)
    try:
        raw = tomllib.loads(p.read_text())
    except FileNotFoundError:
        raise ConfigError("config", f"file not found: {p}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError("config", f"{p} is not valid TOML: {exc}") from None
    return parse_config(raw, os.environ if env is None else env)


def parse_config(raw: Mapping[str, Any], env: Mapping[str, str] | None = None) -> RiffleConfig:
    env = env or {}
    _only(raw, "", {"kafka", "redis", "runtime", "streams", "registry"})
    kafka_raw = dict(_table(raw, "kafka"))
    _only(kafka_raw, "kafka", {f for f in KafkaConfig.__dataclass_fields__})
    if "RIFFLE_KAFKA_BOOTSTRAP" in env:
        kafka_raw["bootstrap_servers"] = env["RIFFLE_KAFKA_BOOTSTRAP"]
    if "RIFFLE_KAFKA_SASL_PASSWORD" in env:
        kafka_raw["sasl_password"] = env["RIFFLE_KAFKA_SASL_PASSWORD"]
    if "sasl_password" in kafka_raw:
        kafka_raw["sasl_password"] = Secret(str(kafka_raw["sasl_password"]))
    kafka = KafkaConfig(**kafka_raw)
    if kafka.security_protocol not in ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"):
        raise ConfigError(
            "kafka.security_protocol", f"unknown protocol {kafka.security_protocol!r}"
        )
    if not kafka.bootstrap_servers:
        raise ConfigError("kafka.bootstrap_servers", "must not be empty")
    redis_raw = _table(raw, "redis")
    _only(redis_raw, "redis", {"url"})
    redis_url = env.get("RIFFLE_REDIS_URL", str(redis_raw.get("url", "redis://127.0.0.1:6379/0")))
    if not redis_url.startswith(("redis://", "rediss://", "unix://")):
        raise ConfigError("redis.url", "must start with redis://, rediss:// or unix://")
    reg_raw = _table(raw, "registry")
    _only(reg_raw, "registry", {"url", "prefix", "key_file"})
    reg_url = str(reg_raw.get("url") or redis_url)
    key = env.get("RIFFLE_REGISTRY_KEY")
    if key is None and "key_file" in reg_raw:
        try:
            key = Path(str(reg_raw["key_file"])).read_text().strip()
        except OSError as exc:
            raise ConfigError("registry.key_file", f"cannot read it: {exc}") from None
    if key is not None and len(key) < 8:
        raise ConfigError("registry.key_file", "the signing key must be at least 8 characters")
    registry = RegistryConfig(
        Secret(reg_url), str(reg_raw.get("prefix", "riffle:registry")), Secret(key) if key else None
    )
    runtime_raw = dict(_table(raw, "runtime"))
    _only(runtime_raw, "runtime", set(RuntimeConfig.__dataclass_fields__))
    if "RIFFLE_WEB_HOST" in env:
        runtime_raw["web_host"] = env["RIFFLE_WEB_HOST"]
    if "RIFFLE_INSTANCE_ID" in env:
        runtime_raw["instance_id"] = env["RIFFLE_INSTANCE_ID"]
    runtime = RuntimeConfig(**runtime_raw)
    _positive("runtime.batch_size", runtime.batch_size)
    _positive("runtime.batch_timeout_ms", runtime.batch_timeout_ms)
    _positive("runtime.max_idle_ms", runtime.max_idle_ms)
    _positive("runtime.session_timeout_ms", runtime.session_timeout_ms)
    if runtime.idle_wait not in ("always", "lagging"):
        raise ConfigError("runtime.idle_wait", 'must be "always" or "lagging"')
    if runtime.event_loop not in ("auto", "uvloop", "asyncio"):
        raise ConfigError("runtime.event_loop", 'must be "auto", "uvloop" or "asyncio"')
    if runtime.event_loop == "uvloop" and importlib.util.find_spec("uvloop") is None:
        raise ConfigError("runtime.event_loop", "uvloop is not installed (pip install uvloop)")
    _positive("runtime.checkpoint_interval_s", runtime.checkpoint_interval_s)
    streams_raw = _table(raw, "streams")
    if not streams_raw:
        raise ConfigError("streams", "declare at least one stream, e.g. [streams.payments]")
    streams = {n: _stream(n, _table(streams_raw, n, f"streams.{n}")) for n in streams_raw}
    return RiffleConfig(kafka, Secret(redis_url), streams, runtime, registry)


def _stream(name: str, raw: Mapping[str, Any]) -> StreamConfig:
    key = f"streams.{name}"
    _only(
        raw,
        key,
        {
            "topics",
            "partitions",
            "event",
            "schema",
            "features",
            "model",
            "monitor",
            "max_pending_labels",
            "views",
            "deployment",
        },
    )
    topics = Topics.for_stream(name)
    t_raw = _table(raw, "topics", f"{key}.topics")
    _only(t_raw, f"{key}.topics", set(Topics.__dataclass_fields__))
    topics = Topics(**{**topics.__dict__, **t_raw})
    event = _table(raw, "event", f"{key}.event")
    _only(
        event,
        f"{key}.event",
        {
            "id_field",
            "entity_field",
            "timestamp_field",
            "label_field",
            "timestamp_unit",
            "max_event_bytes",
            "max_abs_value",
            "max_future_ms",
        },
    )
    fields: dict[str, FieldSpec] = {}
    for fname, spec in _table(raw, "schema", f"{key}.schema").items():
        fkey = f"{key}.schema.{fname}"
        spec = {"type": spec} if isinstance(spec, str) else spec
        if not isinstance(spec, Mapping):
            raise ConfigError(fkey, 'use a type name or a table like {type = "float"}')
        _only(spec, fkey, {"type", "required"})
        fields[fname] = _build(fkey, FieldSpec, spec)
    if not fields:
        raise ConfigError(f"{key}.schema", "declare the event's fields")
    schema = _build(f"{key}.event", EventSchema, {**event, "fields": fields})
    view = _view(f"{key}.features", _table(raw, "features", f"{key}.features"), name, fields)
    extra_raw = raw.get("views", [])
    if not isinstance(extra_raw, list):
        raise ConfigError(f"{key}.views", "must be an array of tables ([[streams.<s>.views]])")
    extra_views = []
    for i, v_raw in enumerate(extra_raw):
        v_key = f"{key}.views[{i}]"
        if not isinstance(v_raw, Mapping) or "name" not in v_raw:
            raise ConfigError(v_key, "each view is a table with at least a name")
        extra_views.append(_view(v_key, v_raw, str(v_raw["name"]), fields))
    partitions = raw.get("partitions", 1)
    for where, v in [(f"{key}.features", view)] + [
        (f"{key}.views[{i}]", v) for i, v in enumerate(extra_views)
    ]:
        if v.entity not in (None, schema.entity_field) and partitions != 1:
            raise ConfigError(
                f"{where}.entity",
                f"a view keyed by {v.entity!r} rather than the stream's entity field needs "
                "its events partitioned by that field; Riffle does not repartition yet, so "
                "use it on a stream with 1 partition",
            )
    checks = [(f"{key}.features", [view])]
    checks += [(f"{key}.views[{i}]", [view, v]) for i, v in enumerate(extra_views)]
    checks.append((f"{key}.views", [view, *extra_views]))
    for where, views in checks:
        try:
            FeatureProcessor(schema, views[0], views[1:])
        except ValueError as exc:
            raise ConfigError(where, str(exc)) from None
    model = _model(f"{key}.model", _table(raw, "model", f"{key}.model"))
    deployment = parse_deployment(
        f"{key}.deployment", _table(raw, "deployment", f"{key}.deployment"), model, _model
    )
    monitor = _monitor(f"{key}.monitor", _table(raw, "monitor", f"{key}.monitor"), view)
    partitions = raw.get("partitions", 1)
    if not isinstance(partitions, int) or partitions < 1:
        raise ConfigError(f"{key}.partitions", "must be a positive integer")
    max_pending = raw.get("max_pending_labels", 100_000)
    _positive(f"{key}.max_pending_labels", max_pending)
    return StreamConfig(
        name,
        topics,
        partitions,
        schema,
        view,
        model,
        monitor,
        max_pending,
        tuple(extra_views),
        deployment,
    )


def _model(mkey: str, m_raw: Mapping[str, Any]) -> ModelConfig:
    """A model table (`[streams.<s>.model]` or a challenger)."""
    _only(m_raw, mkey, set(ModelConfig.__dataclass_fields__))
    model: ModelConfig = _build(mkey, ModelConfig, m_raw)
    from streams.model_factory import MODEL_TYPES, OPTIMIZERS

    if model.type not in MODEL_TYPES:
        raise ConfigError(
            f"{mkey}.type", f"unknown model {model.type!r}; known: {sorted(MODEL_TYPES)}"
        )
    if model.optimizer not in OPTIMIZERS:
        raise ConfigError(
            f"{mkey}.optimizer",
            f"unknown optimizer {model.optimizer!r}; known: {sorted(OPTIMIZERS)}",
        )
    _positive(f"{mkey}.lr", model.lr)
    for penalty in ("l1", "l2"):
        if getattr(model, penalty) < 0:
            raise ConfigError(f"{mkey}.{penalty}", "must be >= 0")
    try:
        model_from_config(model)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{mkey}.params", str(exc)) from None
    return model


def _monitor(mkey: str, raw: Mapping[str, Any], view: FeatureView) -> MonitorConfig:
    """The monitor part of a stream: every detector is built once here, so a bad setting fails
    at load with its key."""
    from streams import monitor_stage as ms

    _only(raw, mkey, set(MonitorConfig.__dataclass_fields__))
    m_raw = dict(raw)
    for table in ("drift_params", "data_drift_params", "anomaly_params"):
        if not isinstance(m_raw.get(table, {}), Mapping):
            raise ConfigError(f"{mkey}.{table}", "must be a table, e.g. { name = value }")
    for key in ("data_drift_features", "anomaly_features"):
        if key in m_raw:
            feats = m_raw[key]
            if (
                not isinstance(feats, list)
                or not feats
                or not all(isinstance(f, str) for f in feats)
            ):
                raise ConfigError(f"{mkey}.{key}", "must be a non-empty list of names")
            m_raw[key] = tuple(feats)
    monitor = MonitorConfig(**m_raw)

    def count(name: str, low: int = 1) -> None:
        value = getattr(monitor, name)
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise ConfigError(f"{mkey}.{name}", f"must be an integer >= {low}, got {value!r}")

    for name in ("drift_cooldown", "anomaly_warm_up", "anomaly_resolve_after"):
        count(name)
    choices = (
        ("drift_detector", ms.DRIFT_DETECTORS),
        ("data_drift_detector", ms.DATA_DRIFT_DETECTORS),
        ("anomaly_detector", ms.ANOMALY_DETECTORS),
    )
    for name, known in choices:
        if getattr(monitor, name) not in known:
            raise ConfigError(f"{mkey}.{name}", f"must be one of {sorted(known)}")
    builders = (
        ("drift_params", ms.build_drift),
        ("data_drift_params", ms.build_data_drift),
        ("anomaly_params", ms.build_anomaly),
    )
    for name, build in builders:
        try:
            build(monitor)
        except (TypeError, ValueError) as exc:
            if name == "anomaly_params" and monitor.anomaly_detector == "robust_zscore":
                # the z-score's alpha and warm_up may come from their own keys
                for param in ("alpha", "warm_up"):
                    if str(exc).startswith(param) and param not in monitor.anomaly_params:
                        name = f"anomaly_{param}"
            raise ConfigError(f"{mkey}.{name}", str(exc)) from None
    try:
        n_features = len(ms.anomaly_columns(monitor, view))
    except ValueError as exc:
        raise ConfigError(f"{mkey}.anomaly_features", str(exc)) from None
    limits = monitor.anomaly_params.get("limits") or []
    per_column = isinstance(limits, list) and limits and isinstance(limits[0], list | tuple)
    if per_column and len(limits) != n_features:
        raise ConfigError(
            f"{mkey}.anomaly_params",
            f"limits has {len(limits)} pairs; the anomaly detector scores {n_features} features",
        )
    try:
        ms.data_drift_columns(monitor, view)
    except ValueError as exc:
        raise ConfigError(f"{mkey}.data_drift_features", str(exc)) from None
    if monitor.anomaly_threshold is not None:
        _positive(f"{mkey}.anomaly_threshold", monitor.anomaly_threshold)
        if monitor.anomaly_quantile is not None:
            raise ConfigError(f"{mkey}.anomaly_quantile", "set anomaly_threshold or this, not both")
        if monitor.anomaly_detector == "half_space_trees" and monitor.anomaly_threshold >= 1:
            raise ConfigError(
                f"{mkey}.anomaly_threshold", "half_space_trees scores are in [0, 1]: use < 1"
            )
    q = monitor.anomaly_quantile
    if q is not None and (isinstance(q, bool) or not isinstance(q, int | float) or not 0 < q < 1):
        raise ConfigError(f"{mkey}.anomaly_quantile", f"must be in (0, 1), got {q!r}")
    count("anomaly_quantile_window")
    count("anomaly_quantile_warm_up")
    if monitor.anomaly_quantile_warm_up > monitor.anomaly_quantile_window:
        raise ConfigError(f"{mkey}.anomaly_quantile_warm_up", "must be <= anomaly_quantile_window")
    try:
        ms.build_threshold(monitor)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{mkey}.anomaly_threshold", str(exc)) from None
    return monitor


def _view(
    vkey: str, raw: Mapping[str, Any], name: str, fields: Mapping[str, FieldSpec]
) -> FeatureView:
    """A feature view table (`[streams.<s>.features]` or one of `[[streams.<s>.views]]`)."""
    skey = vkey.rsplit(".", 1)[0] + ".schema"
    f_raw = dict(raw)
    _only(
        f_raw,
        vkey,
        {
            "name",
            "window",
            "fields",
            "aggregations",
            "passthrough",
            "version",
            "ttl",
            "allowed_lateness",
            "transforms",
            "entity",
        },
    )
    f_raw.setdefault("name", name)
    f_raw.setdefault("fields", [f for f, s in fields.items() if s.type in ("float", "int")])
    for tup in ("fields", "passthrough"):
        if tup in f_raw:
            f_raw[tup] = tuple(f_raw[tup])
    f_raw["aggregations"] = tuple(
        _build(f"{vkey}.aggregations[{i}]", Aggregation, a) if isinstance(a, Mapping) else a
        for i, a in enumerate(f_raw.get("aggregations", FeatureView.aggregations))
    )
    f_raw["transforms"] = tuple(
        _build(f"{vkey}.transforms[{i}]", Transform, _tuples(t))
        for i, t in enumerate(f_raw.get("transforms", ()))
    )
    view: FeatureView = _build(vkey, FeatureView, f_raw)
    for f in view.input_fields:
        if f not in fields:
            where = next(
                part
                for part, used in (
                    ("fields", view.fields),
                    ("passthrough", view.raw_fields),
                    ("aggregations", [s.field for s in view.specs]),
                    ("transforms", [t.inputs[0] for t in view.transforms]),
                )
                if f in used
            )
            raise ConfigError(f"{vkey}.{where}", f"{f!r} is not in {skey}")
    if view.entity is not None and view.entity not in fields:
        raise ConfigError(f"{vkey}.entity", f"{view.entity!r} is not in {skey}")
    return view


def model_from_config(cfg: ModelConfig) -> Any:
    """A fresh model as `cfg` describes it."""
    from streams.model_factory import build_model

    return build_model(cfg.type, cfg.optimizer, cfg.lr, cfg.l1, cfg.l2, cfg.scale, dict(cfg.params))


def _tuples(raw: Any) -> Any:
    """A TOML table with its arrays as tuples (frozen dataclasses hash them)."""
    if not isinstance(raw, Mapping):
        return raw
    return {k: tuple(v) if isinstance(v, list) else v for k, v in raw.items()}


def _table(raw: Mapping[str, Any], name: str, key: str | None = None) -> Mapping[str, Any]:
    value = raw.get(name, {})
    if not isinstance(value, Mapping):
        raise ConfigError(key or name, "must be a table")
    return value


def _only(raw: Mapping[str, Any], key: str, allowed: set[str]) -> None:
    for k in raw:
        if k not in allowed:
            where = f"{key}.{k}" if key else k
            raise ConfigError(where, f"unknown key; expected one of {sorted(allowed)}")


def _build(key: str, cls: Any, kwargs: Mapping[str, Any]) -> Any:
    try:
        return cls(**kwargs)
    except (TypeError, ValueError) as exc:
        raise ConfigError(key, str(exc)) from None


def _positive(key: str, value: Any) -> None:
    if not isinstance(value, int | float) or isinstance(value, bool) or value <= 0:
        raise ConfigError(key, f"must be a positive number, got {value!r}")
