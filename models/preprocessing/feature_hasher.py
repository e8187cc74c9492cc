"""The hashing trick: any dict record into a fixed number of columns."""

from __future__ import annotations

import math
import numbers
import struct
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Self

import numpy as np
import numpy.typing as npt

from models.exceptions import InvalidInputError
from models.preprocessing.encoder import Encoder, Record

__all__ = ["FeatureHasher", "murmurhash3_32"]

_M32 = 0xFFFFFFFF
_C1, _C2 = 0xCC9E2D51, 0x1B873593
_CACHE_SIZE = 1 << 16


def _rotl(x: int, r: int) -> int:
    return ((x << r) | (x >> (32 - r))) & _M32


def murmurhash3_32(data: bytes, seed: int) -> int:
    """MurmurHash3 x86 32-bit of `data` (Austin Appleby's reference), as a signed int32."""
    h = seed & _M32
    n = len(data)
    body = n - n % 4
    for (k,) in struct.iter_unpack("<I", data[:body]):
        k = _rotl((k * _C1) & _M32, 15) * _C2 & _M32
        h = (_rotl(h ^ k, 13) * 5 + 0xE6546B64) & _M32
    tail = data[body:]
    if tail:
        k = int.from_bytes(tail, "little")
        h ^= _rotl((k * _C1) & _M32, 15) * _C2 & _M32
    h ^= n
    h ^= h >> 16
    h = (h * 0x85EBCA6B) & _M32
    h ^= h >> 13
    h = (h * 0xC2B2AE35) & _M32
    h ^= h >> 16
    return h - (1 << 32) if h & 0x80000000 else h


class FeatureHasher(Encoder):
    """Hashes each feature into one of `n_features` columns, River's `preprocessing.FeatureHasher`.

    A string value `v` of feature `k` adds 1 to the column of the token `"k=v"`; a number adds
    itself to the column of the token `"k"` (so numbers keep their magnitude and strings are
    one-hot). A token's column is its signed 32-bit MurmurHash3 modulo `n_features`, and with
    `alternate_sign` a negative hash subtracts instead of adding, so collisions tend to cancel.
    The hash is computed from the token's UTF-8 bytes with a seed derived from `seed` exactly
    as River derives it, so columns are the same in every process (no `PYTHONHASHSEED`
    dependence) and equal River's for the same `seed`. Nothing is learned: `learn_*` only
    validate their input, and the state is empty.

    Parameters
    ----------
    n_features
        Number of output columns.
    seed
        Seed of the hash, an int in [0, 2**32).
    alternate_sign
        Whether the sign of the hash signs each contribution.

    `transform_one` keys are the column numbers as strings (`"0"` ... `"n_features - 1"`).

    Examples
    --------
    >>> from models.preprocessing import FeatureHasher
    >>> hasher = FeatureHasher(n_features=10, seed=42)
    >>> hasher.transform_one({"dog": 1, "cat": 2, "elephant": 4})
    {'5': -3.0, '7': 2.0}
    >>> hasher.transform_many([{"dog": 2, "run": 5}, {"colour": "red"}]).tolist()[0]
    [0.0, 0.0, 0.0, 0.0, 0.0, 2.0, 0.0, 0.0, 0.0, -5.0]
    """

    def __init__(self, n_features: int = 1024, seed: int = 0, alternate_sign: bool = True) -> None:
        if isinstance(n_features, bool) or not isinstance(n_features, int) or n_features < 1:
            raise ValueError(f"n_features must be an int >= 1, got {n_features!r}")
        if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**32:
            raise ValueError(f"seed must be an int in [0, 2**32), got {seed!r}")
        if not isinstance(alternate_sign, bool):
            raise ValueError(f"alternate_sign must be a bool, got {alternate_sign!r}")
        self.n_features = n_features
        self.seed = seed
        self.alternate_sign = alternate_sign
        # River's derivation of MurmurHash3's 32-bit seed, so that equal seeds hash alike.
        self._hash_seed = int(np.random.RandomState(seed).randint(0, 2**32, dtype=np.uint32))
        self._cache: dict[str, tuple[int, float]] = {}  # token -> (column, sign); not state

    @property
    def n_features_out_(self) -> int:
        return self.n_features

    def clone(self) -> Self:
        return type(self)(self.n_features, self.seed, self.alternate_sign)

    def state_dict(self) -> dict[str, Any]:
        """Empty: hashing learns nothing."""
        return {}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        if state:
            raise InvalidInputError(f"a FeatureHasher has no state, got keys {sorted(state)}")

    def _column(self, token: str) -> tuple[int, float]:
        hit = self._cache.get(token)
        if hit is None:
            h = murmurhash3_32(token.encode("utf-8"), self._hash_seed)
            hit = (h % self.n_features, -1.0 if self.alternate_sign and h < 0 else 1.0)
            if len(self._cache) >= _CACHE_SIZE:
                self._cache.clear()
            self._cache[token] = hit
        return hit

    def learn_one(self, x: Record) -> None:
        """Check the record; nothing is learned."""
        self._entries(self._records([x]))

    def learn_many(self, records: Iterable[Record]) -> None:
        """Check the records; nothing is learned."""
        self._entries(self._records(records))

    def transform_one(self, x: Record) -> dict[str, float]:
        """The non-zero columns of the hashed record (without building the dense row)."""
        _, cols, values = self._entries(self._records([x]))
        sums: dict[int, float] = {}
        for column, value in zip(cols, values, strict=True):
            sums[column] = sums.get(column, 0.0) + value  # the order of transform_many
        return {str(j): sums[j] for j in sorted(sums) if sums[j] != 0.0}

    def _entries(self, records: list[Record]) -> tuple[list[int], list[int], list[float]]:
        """(record, column, signed value) of every feature of every record, validated."""
        rows: list[int] = []
        cols: list[int] = []
        values: list[float] = []
        for i, x in enumerate(records):
            for key, value in x.items():
                if isinstance(value, str):
                    column, sign = self._column(f"{key}={value}")
                    amount = 1.0
                elif type(value) is float and math.isfinite(value):  # the common case, fast
                    column, sign = self._column(key)
                    amount = value
                elif isinstance(value, numbers.Real):
                    column, sign = self._column(key)
                    try:
                        amount = float(value)
                    except OverflowError:
                        amount = math.inf
                    if not math.isfinite(amount):
                        raise InvalidInputError(
                            f"record {i}, feature {key!r}: value is {amount}, "
                            "expected a finite number"
                        )
                else:
                    raise InvalidInputError(
                        f"record {i}, feature {key!r}: expected a str or a real number, "
                        f"got {type(value).__name__}"
                    )
                rows.append(i)
                cols.append(column)
                values.append(sign * amount)
        return rows, cols, values

    def _run(
        self, records: list[Record], learn: Sequence[bool]
    ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
        rows, cols, values = self._entries(records)
        n, width = len(records), self.n_features
        flat = np.asarray(rows, dtype=np.int64) * width + np.asarray(cols, dtype=np.int64)
        # bincount adds the values to their cell in input order: transform_one's sums exactly.
        weights = np.asarray(values, dtype=np.float64)
        counts = np.bincount(flat, weights=weights, minlength=n * width)
        out = np.asarray(counts, dtype=np.float64).reshape(n, width)
        return out, out

    def _column_name(self, j: int, x: Record) -> str:
        return str(j)
