"""The state envelope every detector and threshold policy shares:
``{"type": class name, "params": hyperparameters, "state": learned state}``."""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from typing import Any

from monitor.exceptions import IncompatibleStateError

__all__ = ["hyperparameters", "unwrap_state"]


def hyperparameters(obj: object) -> dict[str, Any]:
    """The constructor's arguments, read back from the attributes of the same names."""
    signature = inspect.signature(type(obj).__init__)
    return {name: getattr(obj, name) for name in list(signature.parameters)[1:]}


def unwrap_state(
    obj: object, state: Mapping[str, Any], params: Mapping[str, Any]
) -> Mapping[str, Any]:
    """The inner state of an envelope made by an object of `obj`'s type with hyperparameters
    `params` (as its `_get_params` gives them); raises ``IncompatibleStateError`` otherwise."""
    if not isinstance(state, Mapping):
        raise IncompatibleStateError("state must be a mapping")
    if state.get("type") != type(obj).__name__:
        raise IncompatibleStateError(
            f"state is for {state.get('type')!r}, not {type(obj).__name__!r}"
        )
    if state.get("params") != params:
        raise IncompatibleStateError(
            f"state hyperparameters {state.get('params')!r} differ from {params!r}"
        )
    inner = state.get("state")
    if not isinstance(inner, Mapping):
        raise IncompatibleStateError("state['state'] must be a mapping")
    return inner
