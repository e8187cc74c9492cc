"""Exceptions of the online-learning library."""

from __future__ import annotations

__all__ = ["InvalidInputError", "ModelError"]


class ModelError(Exception):
    """Root of every error raised by `models`."""

    retriable = False


class InvalidInputError(ModelError, ValueError):
    """An input row, matrix, label or state does not fit the estimator.

    Raised for non-finite values, a wrong number of columns, unknown or missing feature names and
    labels outside the estimator's classes. The message says which row and feature are at fault.
    Validation happens before any state is touched, so the estimator is unchanged afterwards.
    """
