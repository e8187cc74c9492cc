"""Write flow control for asyncio protocols, as something to await."""

from __future__ import annotations

import asyncio

__all__ = ["FlowControlled"]


class FlowControlled(asyncio.Protocol):
    """A protocol whose writers wait while the transport's buffer is over its high-water mark
    (asyncio calls `pause_writing` and `resume_writing`; a lost connection must call
    `resume_writing` too, so no writer waits forever)."""

    _writable: asyncio.Future[None] | None = None

    def pause_writing(self) -> None:
        self._writable = asyncio.get_running_loop().create_future()

    def resume_writing(self) -> None:
        if self._writable is not None and not self._writable.done():
            self._writable.set_result(None)
        self._writable = None

    async def writable(self) -> None:
        """Return once the transport takes more data."""
        if self._writable is not None:
            await self._writable
