"""ADWIN's update loop in C (`_adwin_core.c`), compiled on first use and loaded with ctypes.

River's ADWIN is Rust; a Python loop runs at a sixth of its speed and numpy cannot vectorise the
bucket cascade. The C loop repeats `ADWIN.update` operation for operation (no fast-math, no
contraction), so it gives the same floats. The library is built once per source version into
the user's cache directory (``$RIFFLE_CACHE``, else ``$XDG_CACHE_HOME/riffle`` or
``~/.cache/riffle``); without a C compiler, or with ``RIFFLE_NO_NATIVE=1``, ADWIN uses its
numpy path instead.
"""

from __future__ import annotations

import ctypes
import functools
from pathlib import Path
from typing import Any

import numpy as np

from models._native_build import load_library

__all__ = ["NativeBuckets", "native_buckets"]

_SOURCE = Path(__file__).with_name("_adwin_core.c")


@functools.cache
def _library() -> ctypes.CDLL | None:
    lib = load_library("adwin", [_SOURCE])
    if lib is None:
        return None
    fn = lib.adwin_update_many
    fn.restype = ctypes.c_longlong
    # raw pointers: the arrays are built here, contiguous and of the right dtype
    ptr = ctypes.c_void_p
    fn.argtypes = [ptr, ptr, ptr, ptr, ptr, ptr, ctypes.c_longlong, ptr, ptr, ptr]
    return lib


class NativeBuckets:
    """ADWIN's buckets in flat arrays the C loop updates in place, between Python calls too
    (converting lists to arrays on every batch would cost more than the batch)."""

    __slots__ = ("_fn", "_fparams", "_iparams", "cap1", "k", "lengths", "s", "tot", "var")

    def __init__(
        self,
        fn: Any,  # the ctypes function adwin_update_many
        totals: list[list[float]],
        variances: list[list[float]],
        scalars: tuple[float, float, float],
        counters: tuple[int, bool],
        params: tuple[float, int, int, int, int, int],
    ) -> None:
        delta, grace, low, clock, max_buckets, max_rows = params
        self._fn = fn
        self.cap1 = cap1 = max_buckets + 1
        self.tot = np.zeros(max_rows * cap1)
        self.var = np.zeros(max_rows * cap1)
        self.lengths = np.zeros(max_rows, dtype=np.int64)
        for i, (t_row, v_row) in enumerate(zip(totals, variances, strict=True)):
            self.tot[i * cap1 : i * cap1 + len(t_row)] = t_row
            self.var[i * cap1 : i * cap1 + len(v_row)] = v_row
            self.lengths[i] = len(t_row)
        self.s = np.array(scalars, dtype=np.float64)
        n, drift = counters
        self.k = np.array([n, len(totals), int(drift)], dtype=np.int64)
        self._fparams = np.array([delta, float(grace), float(low)])
        self._iparams = np.array([clock, max_buckets, max_rows], dtype=np.int64)

    def run(self, xs: np.ndarray) -> np.ndarray:
        """Update with each value of `xs`; return the positions of drift signals."""
        values = np.ascontiguousarray(xs, dtype=np.float64)
        hits = np.empty(len(values), dtype=np.int64)
        count = self._fn(
            self.tot.ctypes.data,
            self.var.ctypes.data,
            self.lengths.ctypes.data,
            self.s.ctypes.data,
            self.k.ctypes.data,
            values.ctypes.data,
            len(values),
            self._fparams.ctypes.data,
            self._iparams.ctypes.data,
            hits.ctypes.data,
        )
        return hits[:count]

    def lists(self) -> tuple[list[list[float]], list[list[float]]]:
        cap1, rows = self.cap1, int(self.k[1])
        spans = [(i * cap1, i * cap1 + int(self.lengths[i])) for i in range(rows)]
        return [self.tot[a:b].tolist() for a, b in spans], [
            self.var[a:b].tolist() for a, b in spans
        ]


def native_buckets(
    totals: list[list[float]],
    variances: list[list[float]],
    scalars: tuple[float, float, float],
    counters: tuple[int, bool],
    params: tuple[float, int, int, int, int, int],
) -> NativeBuckets | None:
    """The buckets in arrays for the C loop, or None if the library is not available.

    ``params``: delta, grace_period, min_window_length, clock, max_buckets, max_rows.
    """
    lib = _library()
    if lib is None:
        return None
    return NativeBuckets(lib.adwin_update_many, totals, variances, scalars, counters, params)
