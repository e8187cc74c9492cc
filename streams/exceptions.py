"""Exceptions of the stream layer (Kafka I/O, orchestration, configuration)."""

from __future__ import annotations

__all__ = ["ConfigError", "RiffleError", "ServiceUnavailableError"]


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
