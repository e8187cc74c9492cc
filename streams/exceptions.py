"""Exceptions of the stream layer (Kafka I/O, orchestration, configuration)."""

from __future__ import annotations

__all__ = ["ConfigError", "PredictionTimeout", "RiffleError", "ServiceUnavailableError"]


class RiffleError(Exception):
    """Root of the errors raised by `streams` (the pure packages each have their own root)."""

    retriable = False


class ConfigError(RiffleError, ValueError):
    """The configuration is invalid; the message starts with the offending key."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__(f"{key}: {message}")
        self.key = key


class ServiceUnavailableError(RiffleError):
    """Kafka or Redis cannot be reached."""

    retriable = True


class PredictionTimeout(RiffleError, TimeoutError):
    """No reply to a prediction request within its timeout (the worker is down or behind, or
    dead-lettered the event). Not retriable: the event may still be processed, and sending it
    again publishes it again (its entity's aggregates would count it twice)."""

    def __init__(self, event_id: str, timeout: float, correlation_id: str) -> None:
        super().__init__(
            f"no prediction for event {event_id!r} within {timeout:g} s "
            f"(correlation-id {correlation_id})"
        )
        self.event_id = event_id
        self.timeout = timeout
        self.correlation_id = correlation_id
