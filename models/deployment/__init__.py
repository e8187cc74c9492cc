"""Champion/challenger deployment of online models: promotion gates and traffic splits."""

from __future__ import annotations

from models.deployment.promotion_gate import GateDecision, PromotionGate, mcnemar_p_value
from models.deployment.traffic import entity_bucket

__all__ = ["GateDecision", "PromotionGate", "entity_bucket", "mcnemar_p_value"]
