"""Champion/challenger deployment of a stream's online models.

Every member (the champion, configured challengers, drift-started challengers, the previous
champion kept for rollback) predicts and learns on exactly the same rows in the same order, so
their prequential outcomes are paired and a promotion gate can compare them event for event.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from models.deployment import GateDecision, PromotionGate, entity_bucket
from models.metrics import Accuracy, RollingAccuracy
from streams.config import ModelConfig, model_from_config
from streams.deployment_config import DeploymentConfig
from streams.model_factory import positive_proba

__all__ = ["STATUSES", "Control", "Deployment", "Member"]

STATUSES = ("champion", "challenger", "shadow", "retired")


@dataclasses.dataclass(frozen=True, slots=True)
class Control:
    """A command for the deployment at its place in the learner's input: ``start`` (a drift
    alert: start a challenger), ``promote`` (with `model`) or ``rollback``."""

    action: str
    model: str | None = None
    reason: str = ""
    actor: str = "riffle"
    ts: int = 0
    id: str = ""


class Member:
    """One model of the deployment, with its own prequential metrics."""

    __slots__ = (
        "accuracy",
        "config",
        "model",
        "n_learned",
        "n_predicted",
        "name",
        "origin",
        "parent",
        "rolling",
        "status",
        "version",
    )

    def __init__(
        self,
        config: ModelConfig,
        version: int,
        status: str,
        origin: str,
        parent: str | None = None,
    ) -> None:
        self.config = config
        self.name = config.name
        self.version = version
        self.status = status
        self.origin = origin  # "config" or "drift"
        self.parent = parent
        self.model = model_from_config(config)
        self.accuracy = Accuracy()
        self.rolling = RollingAccuracy(window_size=1000)
        self.n_predicted = 0
        self.n_learned = 0

    @property
    def model_id(self) -> str:
        return f"{self.name}@{self.version}"

    def info(self) -> dict[str, Any]:
        """What the registry and `/metrics` show about the member."""
        return {
            "model": self.model_id,
            "status": self.status,
            "origin": self.origin,
            "parent": self.parent,
            "config": _config_dict(self.config),
            "metrics": {
                "accuracy": self.accuracy.get(),
                "rolling_accuracy": self.rolling.get(),
                "n_predicted": self.n_predicted,
                "n_learned": self.n_learned,
            },
        }

    def state_dict(self) -> dict[str, Any]:
        return {
            "config": _config_dict(self.config),
            "version": self.version,
            "status": self.status,
            "origin": self.origin,
            "parent": self.parent,
            "model": self.model.state_dict(),
            "accuracy": self.accuracy.state_dict(),
            "rolling": self.rolling.state_dict(),
            "counters": [self.n_predicted, self.n_learned],
        }

    @classmethod
    def from_state(cls, state: Mapping[str, Any]) -> Member:
        cfg = ModelConfig(**state["config"])
        m = cls(cfg, int(state["version"]), state["status"], state["origin"], state["parent"])
        m.model.load_state_dict(state["model"])
        m.accuracy.load_state_dict(state["accuracy"])
        m.rolling.load_state_dict(state["rolling"])
        m.n_predicted, m.n_learned = (int(v) for v in state["counters"])
        return m


class Deployment:
    """The champion, its challengers and the rules that move them.

    Lifecycle events (``promote``, ``rollback``, ``start``, ``retire``) are appended to
    `events` for the driver to publish and record in the registry's audit log.

    >>> from streams.deployment_config import DeploymentConfig
    >>> champion = ModelConfig(name="lr", lr=0.001)  # learns too slowly
    >>> fast = ModelConfig(name="lr-fast", lr=0.5)
    >>> dep = Deployment(champion, DeploymentConfig(challengers=(fast,), promotion_window=300,
    ...                  promotion_min_samples=100))
    >>> rng = np.random.default_rng(1)
    >>> X = rng.normal(size=(600, 2)); y = (X[:, 0] + 0.5 * X[:, 1] > 0).astype(np.int64)
    >>> for i in range(0, 600, 100):
    ...     probas = dep.predict_learn(X[i:i+100], y[i:i+100], np.ones(100, bool))
    ...     preds = {k: (p > 0.5).astype(np.int64) for k, p in probas.items()}
    ...     changes = dep.record(y[i:i+100], preds, ts=np.arange(i, i + 100))
    ...     if changes: print(i, changes)
    0 [(99, 'lr-fast@1')]
    >>> dep.champion.model_id, [(e["action"], e["ts"]) for e in dep.events]
    ('lr-fast@1', [('promote', 99)])
    """

    def __init__(self, champion: ModelConfig, cfg: DeploymentConfig, version: int = 1) -> None:
        self.cfg = cfg
        self.members: dict[str, Member] = {}
        self._versions: dict[str, int] = {}
        self._gates: dict[str, PromotionGate] = {}
        self.events: list[dict[str, Any]] = []
        self.previous: str | None = None  # the champion a rollback returns to
        self._seq = 0  # lifecycle events so far: their ids derive from it
        self._n_outcomes = 0  # labelled outcomes recorded: the gate's clock
        self._champion_before = ""
        self._ab_target: str | None = None
        first = self._add(champion, "champion", "config", version=version)
        self.champion_id = first.model_id
        for c in cfg.challengers:
            self._add(c, "challenger", "config", parent=first.model_id)

    # -- membership ----------------------------------------------------------------------

    def _add(
        self,
        config: ModelConfig,
        status: str,
        origin: str,
        parent: str | None = None,
        version: int | None = None,
    ) -> Member:
        v = version if version is not None else self._versions.get(config.name, 0) + 1
        self._versions[config.name] = max(v, self._versions.get(config.name, 0))
        m = Member(config, v, status, origin, parent)
        self.members[m.model_id] = m
        if status == "challenger":
            self._gates[m.model_id] = self._gate()
        return m

    def _gate(self) -> PromotionGate:
        c = self.cfg
        return PromotionGate(
            c.promotion_window, c.promotion_alpha, c.promotion_min_samples, c.promotion_min_gain
        )

    @property
    def champion(self) -> Member:
        return self.members[self.champion_id]

    def challengers(self) -> list[Member]:
        return [m for m in self.members.values() if m.status == "challenger"]

    def _retire(self, model_id: str, reason: str, ts: int) -> None:
        m = self.members.pop(model_id)
        self._gates.pop(model_id, None)
        m.status = "retired"
        self._emit({"action": "retire", "model": model_id, "reason": reason, "ts": ts, "member": m})

    def start_challenger(self, reason: str, ts: int = 0, actor: str = "riffle") -> Member | None:
        """A fresh model (``drift_challenger_model``, or the champion's configuration),
        learning from now on: after a concept shift a fresh model often beats one that learned
        the old concept. At `max_challengers`, the oldest drift-started challenger makes room; if
        every challenger is a configured one, none is started (the event says so)."""
        if len(self.challengers()) >= self.cfg.max_challengers:
            drift = [m for m in self.challengers() if m.origin == "drift"]
            if not drift:
                self._emit(
                    {"action": "skip_challenger", "reason": reason, "ts": ts, "actor": actor}
                )
                return None
            self._retire(drift[0].model_id, "replaced by a newer drift challenger", ts)
        champ = self.champion
        config = self.cfg.drift_challenger_model or champ.config
        m = self._add(config, "challenger", "drift", parent=champ.model_id)
        self._emit(
            {"action": "start", "model": m.model_id, "parent": champ.model_id, "reason": reason}
            | {"ts": ts, "actor": actor, "member": m}
        )
        return m

    def promote(
        self,
        model_id: str,
        reason: str,
        ts: int = 0,
        actor: str = "riffle",
        decision: GateDecision | None = None,
    ) -> None:
        """Make `model_id` the champion. The old champion keeps learning in shadow so that a
        rollback returns to a model that has kept up; the one kept before it is retired."""
        if model_id not in self.members:
            raise KeyError(f"unknown model {model_id!r}; deployed: {sorted(self.members)}")
        if model_id == self.champion_id:
            raise ValueError(f"{model_id} is already the champion")
        old = self.champion
        if self.previous is not None and self.previous != model_id:
            self._retire(self.previous, f"superseded by the promotion of {model_id}", ts)
        old.status = "shadow"
        new = self.members[model_id]
        new.status = "champion"
        self._gates.pop(model_id, None)
        self.previous, self.champion_id = old.model_id, model_id
        for mid in self._gates:  # every challenger now faces the new champion afresh
            self._gates[mid] = self._gate()
        self._emit(
            {"action": "promote", "model": model_id, "from": old.model_id, "reason": reason}
            | {"ts": ts, "actor": actor, "decision": decision.as_dict() if decision else None}
            | {"member": new}
        )

    def rollback(self, reason: str, ts: int = 0, actor: str = "riffle") -> None:
        """Return to the previous champion; the current one is retired."""
        if self.previous is None or self.previous not in self.members:
            raise ValueError("no previous champion to roll back to")
        bad, back = self.champion_id, self.previous
        self.members[back].status = "champion"
        self.champion_id, self.previous = back, None
        self._retire(bad, f"rolled back: {reason}", ts)
        for mid in self._gates:
            self._gates[mid] = self._gate()
        self._emit(
            {"action": "rollback", "model": back, "from": bad, "reason": reason, "ts": ts}
            | {"actor": actor, "member": self.members[back]}
        )

    # -- the hot path ----------------------------------------------------------------------

    def predict_learn(
        self, X: np.ndarray, y: np.ndarray, mask: np.ndarray
    ) -> dict[str, np.ndarray]:
        """Test-then-train every member on the same rows; each member's positive-class
        probabilities, row by row as a one-by-one loop would give them."""
        return {
            mid: positive_proba(m.model, m.model.predict_learn_many(X, y, mask))
            for mid, m in self.members.items()
        }

    def route(
        self, entities: Sequence[str], rows: np.ndarray, changes: Sequence[tuple[int, str]]
    ) -> list[str]:
        """The member that served each event (at row `rows[k]` of the segment): the champion
        of that row (``changes``: the champion after each row where one was promoted), or the
        A/B challenger for the entities its share of the hash space covers."""
        champs = [self._champion_before] * len(entities)
        for row, champ in changes:
            for k in np.flatnonzero(rows > row).tolist():
                champs[k] = champ
        ab = self.cfg.ab_challenger
        if not self.cfg.ab_fraction or ab is None or self._ab_target is None:
            return champs
        target, frac = self._ab_target, self.cfg.ab_fraction
        return [
            target if entity_bucket(e) < frac else c for e, c in zip(entities, champs, strict=True)
        ]

    def begin(self) -> None:
        """Mark the start of a segment of rows (for `route`)."""
        self._champion_before = self.champion_id
        ab = self.cfg.ab_challenger
        self._ab_target = next((m.model_id for m in self.challengers() if m.name == ab), None)

    def record(
        self, y: np.ndarray, preds: Mapping[str, np.ndarray], ts: np.ndarray
    ) -> list[tuple[int, str]]:
        """Prequential outcomes of labelled rows, in order: each member's prediction for the
        row's event (-1 where the member did not exist yet when the event was predicted).

        The gate is consulted every ``promotion_check_every`` outcomes counted since the
        start, so promotions happen at the same outcome whatever the batching; returns
        ``(index of the outcome after which, new champion)`` for each promotion.
        """
        changes: list[tuple[int, str]] = []
        every = self.cfg.promotion_check_every
        i, n = 0, len(y)
        while i < n:
            j = min(n, i + every - self._n_outcomes % every)
            self._record({k: v[i:j] for k, v in preds.items()}, y[i:j])
            self._n_outcomes += j - i
            if self._n_outcomes % every == 0 and self.decide(int(ts[j - 1])) is not None:
                changes.append((j - 1, self.champion_id))
            i = j
        return changes

    def _record(self, preds: Mapping[str, np.ndarray], y: np.ndarray) -> None:
        for mid, p in preds.items():
            m = self.members.get(mid)
            if m is None:
                continue
            ok = p >= 0
            if ok.any():
                m.accuracy.update_many(y[ok], p[ok])
                m.rolling.update_many(y[ok], p[ok])
                m.n_learned += int(ok.sum())
        champ = preds.get(self.champion_id)
        if champ is None:
            return
        for mid, gate in self._gates.items():
            q = preds.get(mid)
            if q is None:
                continue
            both = (champ >= 0) & (q >= 0)
            if both.any():
                gate.update_many(champ[both] == y[both], q[both] == y[both])

    def decisions(self) -> dict[str, GateDecision]:
        return {mid: g.decision() for mid, g in self._gates.items()}

    def decide(self, ts: int = 0) -> GateDecision | None:
        """Promote the challenger with the strongest evidence if the gate allows it and
        promotion is automatic; returns that decision."""
        ready = [(d.p_value, mid, d) for mid, d in self.decisions().items() if d.promote]
        if not ready or self.cfg.promotion != "auto":
            return None
        _, mid, d = min(ready)
        self.promote(mid, "promotion gate", ts=ts, decision=d)
        return d

    def apply(self, c: Control) -> None:
        """Carry out a control command; a command that cannot apply (unknown model, nothing
        to roll back to) becomes a ``refused`` event, never an exception in the stream."""
        try:
            if c.action == "start":
                self.start_challenger(c.reason, c.ts, c.actor)
            elif c.action == "promote" and c.model is not None:
                self.promote(c.model, c.reason, c.ts, c.actor)
            elif c.action == "rollback":
                self.rollback(c.reason, c.ts, c.actor)
            else:
                raise ValueError(f"unknown command {c.action!r}")
        except (KeyError, ValueError) as exc:
            self._emit(
                {"action": "refused", "command": c.action, "model": c.model, "ts": c.ts}
                | {"actor": c.actor, "reason": str(exc).strip("'\"")}
            )

    def _emit(self, event: dict[str, Any]) -> None:
        event["seq"] = self._seq
        self._seq += 1
        self.events.append(event)

    def drain(self) -> list[dict[str, Any]]:
        out, self.events = self.events, []
        return out

    # -- state ---------------------------------------------------------------------------

    def state_dict(self) -> dict[str, Any]:
        return {
            "members": [m.state_dict() for m in self.members.values()],
            "champion": self.champion_id,
            "previous": self.previous,
            "gates": {mid: g.state_dict() for mid, g in self._gates.items()},
            "versions": dict(self._versions),
            "seq": self._seq,
            "n_outcomes": self._n_outcomes,
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.members = {}
        for ms in state["members"]:
            m = Member.from_state(ms)
            self.members[m.model_id] = m
        self.champion_id = state["champion"]
        self.previous = state["previous"]
        self._gates = {}
        for mid, gs in state["gates"].items():
            gate = self._gate()
            gate.load_state_dict(gs)
            self._gates[mid] = gate
        self._versions = {str(k): int(v) for k, v in state["versions"].items()}
        self._seq = int(state["seq"])
        self._n_outcomes = int(state["n_outcomes"])
        self.events = []
        # challengers added to the configuration since the checkpoint join now
        names = {m.name for m in self.members.values()}
        for c in self.cfg.challengers:
            if c.name not in names:
                self._add(c, "challenger", "config", parent=self.champion_id)


def _config_dict(cfg: ModelConfig) -> dict[str, Any]:
    d = dataclasses.asdict(cfg)
    d["params"] = dict(cfg.params)
    return d
