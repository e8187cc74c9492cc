"""The worker's event loop: uvloop where it is installed, asyncio's own otherwise.

uvloop's sockets and scheduling are C: the serving endpoint answers a single-entity GET with
~20 % less CPU (`riffle bench serving`); the stream stages, whose time goes to Python, gain
little. ``runtime.event_loop = "asyncio"`` keeps the standard loop (e.g. to debug with it).
"""

from __future__ import annotations

import asyncio
import importlib.util

from streams.config import RuntimeConfig

__all__ = ["use_event_loop"]


def use_event_loop(runtime: RuntimeConfig) -> str:
    """Install the configured loop policy before the worker creates its loop; returns the name
    of the loop in use ("uvloop" or "asyncio")."""
    choice = runtime.event_loop
    if choice == "asyncio" or (choice == "auto" and importlib.util.find_spec("uvloop") is None):
        return "asyncio"
    import uvloop  # config validation checked that "uvloop" is installed

    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    return "uvloop"
