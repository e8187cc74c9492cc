"""Event-time windows: tumbling, hopping and sliding."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Window", "duration_label", "parse_duration_ms"]

_UNITS = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000}
KINDS = ("tumbling", "hopping", "sliding")


def parse_duration_ms(text: str | int) -> int:
    """``"5m"`` → 300000. Integers are milliseconds.

    >>> parse_duration_ms("90s"), parse_duration_ms("2h"), parse_duration_ms(250)
    (90000, 7200000, 250)
    """
    if isinstance(text, int) and not isinstance(text, bool):
        return text
    if isinstance(text, str):
        text = text.strip()
        for unit in ("ms", "s", "m", "h", "d"):
            if text.endswith(unit) and text[: -len(unit)].isdigit():
                return int(text[: -len(unit)]) * _UNITS[unit]
    raise ValueError(f"not a duration: {text!r} (use e.g. 500ms, 30s, 5m, 1h, 1d)")


def duration_label(ms: int) -> str:
    """The shortest exact label of a duration: 300000 → ``"5m"``."""
    for unit in ("d", "h", "m", "s"):
        if ms % _UNITS[unit] == 0:
            return f"{ms // _UNITS[unit]}{unit}"
    return f"{ms}ms"


@dataclass(frozen=True)
class Window:
    """An event-time window, as seen from an event at time ``t`` (epoch ms).

    * ``tumbling`` (``"5m"``): the aligned window ``[⌊t/size⌋·size, … + size)`` holding ``t``;
    * ``hopping`` (``"1h every 5m"``): windows of ``size`` starting every ``hop``; an event's
      feature is the oldest one holding ``t``, the one covering the most history:
      ``[⌊t/hop⌋·hop + hop - size, ⌊t/hop⌋·hop + hop)``;
    * ``sliding`` (``"last 5m"``): ``(t - size, t]``, exactly the last ``size`` of event time.

    Tumbling and hopping windows hold every accepted event whose time falls in them (also one
    that arrived before ``t``'s event but is later in event time, as in Kafka Streams); a
    sliding window never holds an event later than ``t``.

    >>> Window.parse("1h every 5m").bounds(7_000_000)
    (3600000, 7200000)
    >>> Window.parse("last 10s").label, Window.parse("5m").label, Window.parse("1h every 5m").label
    ('10s_sliding', '5m', '1h_every_5m')
    """

    kind: str
    size_ms: int
    hop_ms: int | None = None

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"window kind must be one of {KINDS}, got {self.kind!r}")
        if self.size_ms <= 0:
            raise ValueError("window size must be positive")
        if self.kind == "hopping":
            hop = self.hop_ms
            if hop is None or hop <= 0 or hop >= self.size_ms or self.size_ms % hop:
                raise ValueError(
                    f"a hopping window's hop must divide its size and be shorter, got "
                    f"size {self.size_ms} ms, hop {hop} ms"
                )
        elif self.hop_ms is not None:
            raise ValueError(f"only hopping windows take a hop, not {self.kind}")

    @classmethod
    def parse(cls, text: str | int | Window) -> Window:
        """``"5m"`` (tumbling), ``"1h every 5m"`` (hopping), ``"last 5m"`` (sliding)."""
        if isinstance(text, Window):
            return text
        if isinstance(text, int) and not isinstance(text, bool):
            return cls("tumbling", text)
        if not isinstance(text, str):
            raise ValueError(f"not a window: {text!r}")
        words = text.split()
        if len(words) == 2 and words[0] == "last":
            return cls("sliding", parse_duration_ms(words[1]))
        if len(words) == 3 and words[1] == "every":
            return cls("hopping", parse_duration_ms(words[0]), parse_duration_ms(words[2]))
        if len(words) == 1:
            return cls("tumbling", parse_duration_ms(words[0]))
        raise ValueError(f"not a window: {text!r} (use e.g. '5m', '1h every 5m', 'last 5m')")

    @property
    def pane_ms(self) -> int:
        """The granularity state is kept at (tumbling and hopping windows)."""
        return self.hop_ms if self.hop_ms is not None else self.size_ms

    def bounds(self, t: int) -> tuple[int, int]:
        """``[start, end)`` of the tumbling or hopping window an event at ``t`` reports."""
        g = self.pane_ms
        end = t - t % g + g
        return end - self.size_ms, end

    @property
    def label(self) -> str:
        size = duration_label(self.size_ms)
        if self.kind == "tumbling":
            return size
        if self.kind == "sliding":
            return f"{size}_sliding"
        return f"{size}_every_{duration_label(self.hop_ms or 0)}"

    def __str__(self) -> str:
        size = duration_label(self.size_ms)
        if self.kind == "tumbling":
            return size
        if self.kind == "sliding":
            return f"last {size}"
        return f"{size} every {duration_label(self.hop_ms or 0)}"
