"""When a challenger has beaten its champion: a paired test over a window of shared outcomes."""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["GateDecision", "PromotionGate", "mcnemar_p_value"]


def mcnemar_p_value(wins: int, losses: int) -> float:
    """One-sided exact McNemar p-value: the chance of at least `wins` challenger wins among the
    ``wins + losses`` discordant pairs if both models were equally good (binomial, p = 1/2).

    >>> round(mcnemar_p_value(30, 10), 5), mcnemar_p_value(0, 0)
    (0.00111, 1.0)
    """
    n = wins + losses
    if n == 0:
        return 1.0
    # exact integer arithmetic: the tail is summed without rounding, then divided once
    tail = sum(math.comb(n, k) for k in range(wins, n + 1))
    return float(tail / (1 << n))


@dataclass(frozen=True, slots=True)
class GateDecision:
    """What the gate concluded over its window."""

    promote: bool
    p_value: float
    n: int  # paired outcomes in the window
    wins: int  # the challenger right where the champion was wrong
    losses: int  # the champion right where the challenger was wrong
    champion_accuracy: float
    challenger_accuracy: float

    def as_dict(self) -> dict[str, Any]:
        return {
            "promote": self.promote,
            "p_value": self.p_value,
            "n": self.n,
            "wins": self.wins,
            "losses": self.losses,
            "champion_accuracy": self.champion_accuracy,
            "challenger_accuracy": self.challenger_accuracy,
        }


class PromotionGate:
    """Compares a challenger with the champion on the same labelled events.

    Both models predict every event (the challenger in shadow), so their outcomes are paired:
    the gate keeps the last ``window`` pairs and runs McNemar's exact test on the discordant
    ones. It says promote once at least ``min_samples`` pairs were seen, the challenger's
    accuracy over the window exceeds the champion's by ``min_gain`` or more, and the one-sided
    p-value is below ``alpha``. Paired tests need far fewer events than comparing two
    accuracies as independent samples, which is what lets a challenger take over soon after a
    concept shift.

    >>> import numpy as np
    >>> gate = PromotionGate(window=200, alpha=0.01, min_samples=100)
    >>> rng = np.random.default_rng(7)
    >>> champion_ok = rng.random(150) < 0.6
    >>> challenger_ok = rng.random(150) < 0.9
    >>> gate.update_many(champion_ok, challenger_ok)
    >>> d = gate.decision()
    >>> d.promote, d.n, d.challenger_accuracy > d.champion_accuracy
    (True, 150, True)
    """

    def __init__(
        self, window: int = 1000, alpha: float = 0.01, min_samples: int = 200, min_gain: float = 0.0
    ) -> None:
        if window < 1:
            raise ValueError("window must be >= 1")
        if not 0.0 < alpha < 1.0:
            raise ValueError("alpha must be in (0, 1)")
        if not 1 <= min_samples <= window:
            raise ValueError("min_samples must be in [1, window]")
        if not 0.0 <= min_gain < 1.0:
            raise ValueError("min_gain must be in [0, 1)")
        self.window = window
        self.alpha = alpha
        self.min_samples = min_samples
        self.min_gain = min_gain
        self._reset()

    def _reset(self) -> None:
        # each pair as 2 * champion_ok + challenger_ok
        self._pairs: deque[int] = deque()
        self._counts = [0, 0, 0, 0]
        self.n_seen = 0

    def update_many(self, champion_ok: np.ndarray, challenger_ok: np.ndarray) -> None:
        """Add paired outcomes (booleans, in event order)."""
        codes = 2 * np.asarray(champion_ok, dtype=np.int64) + np.asarray(
            challenger_ok, dtype=np.int64
        )
        if len(codes) > self.window:
            self.n_seen += len(codes) - self.window
            codes = codes[-self.window :]
        pairs, counts = self._pairs, self._counts
        for code in codes.tolist():
            pairs.append(code)
            counts[code] += 1
            if len(pairs) > self.window:
                counts[pairs.popleft()] -= 1
        self.n_seen += len(codes)

    def decision(self) -> GateDecision:
        n = len(self._pairs)
        _, wins, losses, both = self._counts
        champ = (losses + both) / n if n else 0.0
        chall = (wins + both) / n if n else 0.0
        p = mcnemar_p_value(wins, losses)
        promote = (
            self.n_seen >= self.min_samples
            and n >= self.min_samples
            and chall - champ >= self.min_gain
            and chall > champ
            and p < self.alpha
        )
        return GateDecision(promote, p, n, wins, losses, champ, chall)

    def state_dict(self) -> dict[str, Any]:
        return {"pairs": list(self._pairs), "n_seen": self.n_seen}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self._reset()
        for code in state["pairs"]:
            self._pairs.append(int(code))
            self._counts[int(code)] += 1
        self.n_seen = int(state["n_seen"])
