"""Exact running sums of floats, as Python integers (internal).

Every finite double is an integer multiple of 2**-1074, so `x * 2**SCALE` (SCALE = 1127, which
leaves room for the 53-bit mantissa) is an integer, and so is `x * x * 2**(2 * SCALE)`. Summing
those integers is exact: the result does not depend on the order of the terms, adding a batch at
once equals adding its terms one by one, and subtracting a term exactly undoes adding it. The
metrics keep such sums and round once, in `ratio`, when asked for their value; a rolling window
therefore never drifts however many pairs it reverts.

The array versions split each mantissa into 18-bit limbs whose (products') sums stay below 2**53,
so `np.bincount` adds them exactly in float64, grouped by binary exponent; only the few distinct
exponents of a batch are combined in Python.
"""

from __future__ import annotations

import math
import re

import numpy as np
import numpy.typing as npt

from models.exceptions import InvalidInputError

__all__ = ["SCALE", "decode", "encode", "ratio", "scaled", "sum_scaled", "sum_squares_scaled"]

SCALE = 1127
_LIMB = 18
_MASK = (1 << _LIMB) - 1
_CHUNK = 1 << 15  # limb sums of a chunk stay below 2**53
_SMALL = 8
_HEX = re.compile(r"-?[0-9a-f]+")


def scaled(x: float) -> int:
    """`x * 2**SCALE` as an integer (x finite)."""
    mantissa, exponent = math.frexp(x)
    return int(mantissa * 9007199254740992.0) << (exponent + SCALE - 53)


def _limbs(
    values: npt.NDArray[np.float64],
) -> tuple[list[npt.NDArray[np.int64]], npt.NDArray[np.int64]]:
    """`values = (a * 2**36 + b * 2**18 + c) * 2**(e - 53)`: the limbs [a, b, c] and `e`."""
    mantissa, exponent = np.frexp(values)
    m = (mantissa * 2.0**53).astype(np.int64)  # exact: |mantissa| < 1
    return [m >> (2 * _LIMB), (m >> _LIMB) & _MASK, m & _MASK], exponent.astype(np.int64)


def _combine(shifts: npt.NDArray[np.int64], terms: list[tuple[npt.ArrayLike, int]]) -> int:
    """`sum(term_i << (shift_i + offset))` over every element of every (term, offset)."""
    lowest = int(shifts.min())
    bins = shifts - lowest
    sums = [np.bincount(bins, weights=np.asarray(t, dtype=np.float64)) for t, _ in terms]
    nonzero = np.flatnonzero(np.any(np.stack(sums), axis=0))
    columns = [s[nonzero].tolist() for s in sums]
    total = 0
    for k, shift in enumerate(nonzero.tolist()):
        group = 0
        for column, (_, offset) in zip(columns, terms, strict=True):
            group += int(column[k]) << offset
        total += group << (shift + lowest)
    return total


def sum_scaled(values: npt.NDArray[np.float64]) -> int:
    """`sum(values) * 2**SCALE`, exactly (the values must be finite)."""
    if values.shape[0] <= _SMALL:  # a handful of values: plain Python is faster
        return sum(scaled(x) for x in values.tolist())
    total = 0
    for start in range(0, values.shape[0], _CHUNK):
        (a, b, c), exponent = _limbs(values[start : start + _CHUNK])
        # x * 2**SCALE = m << (e - 53 + SCALE) and e >= -1073, so every shift is >= 1.
        shifts = exponent + (SCALE - 53)
        total += _combine(shifts, [(a, 2 * _LIMB), (b, _LIMB), (c, 0)])
    return total


def sum_squares_scaled(values: npt.NDArray[np.float64]) -> int:
    """`sum(values**2) * 2**(2 * SCALE)`, exactly, with the squares taken without rounding."""
    if values.shape[0] <= _SMALL:
        return sum(scaled(x) ** 2 for x in values.tolist())
    total = 0
    for start in range(0, values.shape[0], _CHUNK):
        (a, b, c), exponent = _limbs(values[start : start + _CHUNK])
        shifts = 2 * exponent + (2 * SCALE - 106)
        total += _combine(
            shifts,
            [
                (a * a, 4 * _LIMB),
                (2 * a * b, 3 * _LIMB),
                (2 * a * c + b * b, 2 * _LIMB),
                (2 * b * c, _LIMB),
                (c * c, 0),
            ],
        )
    return total


def ratio(numerator: int, denominator: int) -> float:
    """`numerator / denominator` correctly rounded (Python's int division), inf on overflow."""
    try:
        return numerator / denominator
    except OverflowError:
        return float("inf") if (numerator > 0) == (denominator > 0) else float("-inf")


def encode(total: int) -> str:
    """An exact sum as a JSON-able hexadecimal string."""
    return format(total, "x")


def decode(text: object, key: str, nonnegative: bool = True) -> int:
    """Inverse of `encode`, validated."""
    if not isinstance(text, str) or _HEX.fullmatch(text) is None:
        raise InvalidInputError(f"{key} must be a hexadecimal string, got {text!r}")
    total = int(text, 16)
    if nonnegative and total < 0:
        raise InvalidInputError(f"{key} must be >= 0")
    return total
