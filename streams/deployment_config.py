"""`[streams.<s>.deployment]`: challengers, the A/B split, the promotion gate and the
drift-started challenger of a stream."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from streams.exceptions import ConfigError

__all__ = ["DeploymentConfig", "parse_deployment"]

PROMOTION_MODES = ("auto", "manual")


@dataclass(frozen=True)
class DeploymentConfig:
    # challengers learning in shadow from the start (ModelConfig each, distinct names)
    challengers: tuple[Any, ...] = ()
    # promotion: "auto" promotes as soon as the gate says so; "manual" only reports the
    # gate's decision (promote with `riffle models promote`)
    promotion: str = "auto"
    promotion_window: int = 1000
    promotion_alpha: float = 0.01
    promotion_min_samples: int = 300
    promotion_min_gain: float = 0.0
    # the gate is consulted every this many labelled outcomes
    promotion_check_every: int = 50
    # A/B: this challenger serves `ab_fraction` of the entities (by a stable hash)
    ab_challenger: str | None = None
    ab_fraction: float = 0.0
    # a firing drift alert of the stream starts a fresh copy of the champion as a challenger
    drift_challenger: bool = False
    # the drift challenger's model (a model table; default: the champion's configuration)
    drift_challenger_model: Any = None
    max_challengers: int = 4


def parse_deployment(
    key: str,
    raw: Mapping[str, Any],
    champion: Any,
    parse_model: Callable[[str, Mapping[str, Any]], Any],
) -> DeploymentConfig:
    """Validate the table; every error names its key."""
    allowed = set(DeploymentConfig.__dataclass_fields__)
    for k in raw:
        if k not in allowed:
            raise ConfigError(f"{key}.{k}", f"unknown key; expected one of {sorted(allowed)}")
    items = raw.get("challengers", [])
    if not isinstance(items, list):
        raise ConfigError(f"{key}.challengers", "must be an array of model tables")
    challengers = []
    names = {champion.name}
    for i, item in enumerate(items):
        ckey = f"{key}.challengers[{i}]"
        if not isinstance(item, Mapping) or "name" not in item:
            raise ConfigError(ckey, "each challenger is a model table with a name")
        model = parse_model(ckey, item)
        if model.name in names:
            raise ConfigError(f"{ckey}.name", f"{model.name!r} is already a model of this stream")
        names.add(model.name)
        challengers.append(model)
    drift_model = raw.get("drift_challenger_model")
    if drift_model is not None:
        dkey = f"{key}.drift_challenger_model"
        if not isinstance(drift_model, Mapping):
            raise ConfigError(dkey, "must be a model table")
        drift_model = parse_model(dkey, {"name": champion.name, **drift_model})
    cfg = DeploymentConfig(
        **{**raw, "challengers": tuple(challengers), "drift_challenger_model": drift_model}
    )
    if cfg.promotion not in PROMOTION_MODES:
        raise ConfigError(f"{key}.promotion", f"must be one of {list(PROMOTION_MODES)}")
    for name in (
        "promotion_window",
        "promotion_min_samples",
        "promotion_check_every",
        "max_challengers",
    ):
        v = getattr(cfg, name)
        if not isinstance(v, int) or isinstance(v, bool) or v < 1:
            raise ConfigError(f"{key}.{name}", f"must be a positive integer, got {v!r}")
    if cfg.promotion_min_samples > cfg.promotion_window:
        raise ConfigError(f"{key}.promotion_min_samples", "must be <= promotion_window")
    if not 0.0 < cfg.promotion_alpha < 1.0:
        raise ConfigError(f"{key}.promotion_alpha", "must be in (0, 1)")
    if not 0.0 <= cfg.promotion_min_gain < 1.0:
        raise ConfigError(f"{key}.promotion_min_gain", "must be in [0, 1)")
    if not 0.0 <= cfg.ab_fraction <= 1.0:
        raise ConfigError(f"{key}.ab_fraction", "must be in [0, 1]")
    if cfg.ab_fraction > 0 and cfg.ab_challenger not in {c.name for c in challengers}:
        raise ConfigError(
            f"{key}.ab_challenger",
            f"name one of the challengers {[c.name for c in challengers]} to serve "
            f"ab_fraction = {cfg.ab_fraction}",
        )
    if not isinstance(cfg.drift_challenger, bool):
        raise ConfigError(f"{key}.drift_challenger", "must be true or false")
    if len(challengers) > cfg.max_challengers:
        raise ConfigError(
            f"{key}.challengers", f"more than max_challengers = {cfg.max_challengers}"
        )
    return cfg
