"""Straight-line functions for per-event arithmetic a feature view fixes at construction.

Which slots of a summary an aggregate reads, and in which order, is known once the view is; a
function generated for it skips the per-event dispatch on the aggregate's kind, which costs more
than the arithmetic. The generated code spells the same expressions, in the same order, as the
summaries' definitions, so every rounding is the same.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

__all__ = ["compile_function"]

# names the generated code may use besides those the caller passes
_BUILTINS: dict[str, Any] = {"_sqrt": math.sqrt, "_min": min, "_max": max, "_float": float}


def compile_function(
    name: str, params: str, body: Sequence[str], env: dict[str, Any] | None = None
) -> Callable[..., Any]:
    """``def name(params): body`` (one statement per line) with ``env`` as its globals."""
    source = f"def {name}({params}):\n" + "".join(f"    {line}\n" for line in body)
    namespace: dict[str, Any] = {**_BUILTINS, **(env or {})}
    exec(compile(source, f"<riffle {name}>", "exec"), namespace)
    fn: Callable[..., Any] = namespace[name]
    fn.__doc__ = source  # what runs, for a debugger or a curious reader
    return fn
