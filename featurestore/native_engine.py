"""The aggregator's state in C (`_native/*.c`), a batch of events per call.

A ctypes call costs about a microsecond, more than a pane update in C, so the processor hands
the engine a whole batch: entity slots, times, values and key hashes in flat arrays. The C code
repeats the Python engine operation for operation, so the floats are the same; the rare dense
distinct estimate whose register sum numpy could round otherwise comes back to Python.
"""

from __future__ import annotations

import ctypes
import functools
from array import array
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from featurestore.agg_plan import AggPlan
from featurestore.native_state import export_entities, import_entities
from featurestore.pane_group import PaneGroup
from featurestore.sketch import sketch_estimate
from models._native_build import load_library

__all__ = ["NativeEngine", "native_engine"]

_SOURCES = [Path(__file__).with_name("_native") / f for f in ("agg.c", "panes.c", "slide.c")]
_SOURCES += [Path(__file__).with_name("_native") / f for f in ("sketch.c", "state.c")]
_KINDS = {k: i for i, k in enumerate(("count", "rate", "sum", "mean", "std"))}
_KINDS.update({k: i + 5 for i, k in enumerate(("min", "max", "last", "distinct"))})
_P = ctypes.c_void_p
_I = ctypes.c_longlong
_SIGNATURES: dict[str, tuple[Any, list[Any]]] = {
    "agg_new": (_P, [_P]),
    "agg_free": (None, [_P]),
    "agg_close": (None, [_P, _I]),
    "agg_run": (ctypes.c_int, [_P, _I, _P, _P, _P, _P, ctypes.c_int, _P, _P]),
    "agg_current_many": (ctypes.c_int, [_P, _I, _P, _P]),
    "agg_evict": (_I, [_P, _I, _I, _P]),
    "agg_pending": (_I, [_P, _I, _P, _P]),
    "agg_seq": (_I, [_P, _I]),
    "agg_export": (ctypes.c_int, [_P, _P, _I, _P, _I, _P]),
    "agg_import": (ctypes.c_int, [_P, _P, _I, _P, _I]),
    "agg_live": (_I, [_P, _P, _I]),
}


@functools.cache
def _library() -> ctypes.CDLL | None:
    lib = load_library("agg", _SOURCES)
    if lib is None:
        return None
    for name, (restype, argtypes) in _SIGNATURES.items():
        fn = getattr(lib, name)
        fn.restype, fn.argtypes = restype, argtypes
    return lib


def native_engine(plan: AggPlan) -> NativeEngine | None:
    """The C engine for ``plan``, or None if native code is off or cannot be built."""
    lib = _library()
    return None if lib is None else NativeEngine(lib, plan)


def _config(plan: AggPlan) -> list[int]:
    """The plan as the integers `agg_new` reads."""
    cfg = [len(plan.num_fields), len(plan.key_fields), len(plan.groups)]
    for g in plan.groups:
        lay = g.layout
        panes = isinstance(g, PaneGroup)
        cfg += [0 if panes else 1, g.window.pane_ms, g.window.size_ms]
        cfg += [len(lay.fidx), *lay.fidx, len(lay.didx)]
        for i, p in zip(lay.didx, lay.dprec, strict=True):
            cfg += [i, p]
        cfg.append(len(lay.plan))
        for kind, j in lay.plan:
            cfg += [_KINDS[kind], j]
    cfg.append(len(plan.ewm))
    for i, half in plan.ewm:
        cfg += [i, half]
    cfg += [len(plan.tsl), *plan.tsl, len(plan.perm), *plan.perm]
    return cfg


def _addr(buf: array[Any] | bytearray | np.ndarray[Any, Any]) -> int:
    if isinstance(buf, np.ndarray):
        return int(buf.ctypes.data)
    if isinstance(buf, bytearray):
        return ctypes.addressof(ctypes.c_char.from_buffer(buf)) if buf else 0
    return int(buf.buffer_info()[0])


class NativeEngine:
    """Entities are slots of the C state; this side keeps the names and passthrough values."""

    native = True

    def __init__(self, lib: ctypes.CDLL, plan: AggPlan) -> None:
        self._lib = lib
        self.plan = plan
        self._cfg = array("q", _config(plan))
        self._nout = len(plan.perm)
        self._nn, self._nk = len(plan.num_fields), len(plan.key_fields)
        self._handle: int | None = None
        self.reset()

    def _release(self) -> None:
        if self._handle is not None:
            self._lib.agg_free(self._handle)
            self._handle = None

    __del__ = _release  # the C state is ours alone: it goes with the engine

    def reset(self) -> None:
        self._release()
        self._handle = self._lib.agg_new(_addr(self._cfg))
        self._slots: dict[str, int] = {}
        self._names: list[str | None] = []  # slot -> entity
        self._free: list[int] = []
        self._raw: list[Sequence[Any]] = []  # slot -> passthrough values of the newest event
        self._newest: list[int] = []  # slot -> newest event time
        self._export_hint = (4096, 4096)

    @property
    def seq(self) -> int:
        return int(self._lib.agg_seq(self._handle, -1))

    def __len__(self) -> int:
        return len(self._slots)

    def _slot(self, entity: str) -> int:
        """The entity's slot, a fresh one (the C side opens it on its first event) if new."""
        if self._free:
            s = self._free.pop()
            self._names[s] = entity
        else:
            s = len(self._names)
            self._names.append(entity)
            self._raw.append([])
            self._newest.append(0)
        self._slots[entity] = s
        return s

    def run(
        self,
        entities: Sequence[str],
        ts: Sequence[int],
        nums: Sequence[float],
        hashes: Sequence[int],
        raws: Sequence[Sequence[Any]],
        answer: bool,
    ) -> tuple[np.ndarray[Any, np.dtype[np.float64]] | None, Sequence[int]]:
        """`step` (or `fold`) of a batch: see `Aggregator.run`."""
        n = len(entities)
        known = self._slots
        slots = array("q", [known[e] if e in known else self._slot(e) for e in entities])
        tss = array("q", ts)
        xs = array("d", nums)
        hs = array("Q", hashes)
        out = np.empty((n, self._nout)) if answer else None
        newest = bytearray(n)
        rc = self._lib.agg_run(
            self._handle,
            n,
            _addr(slots),
            _addr(tss),
            _addr(xs),
            _addr(hs),
            int(answer),
            0 if out is None else _addr(out),
            _addr(newest),
        )
        if rc & 2:
            self._settle(out)
        if rc < 0:
            raise OverflowError("intermediate overflow in fsum")
        if rc & 1:
            raise AssertionError("an event's window has no pane")
        raw, new = self._raw, self._newest
        for s, t, r, flag in zip(slots, ts, raws, newest, strict=True):
            if flag:
                raw[s] = r
                new[s] = t
        return out, newest

    def _settle(self, out: np.ndarray[Any, Any] | None) -> None:
        """Fill in the dense estimates C left to numpy's summation."""
        pos = array("q", [0])
        regs = bytearray(1 << 16)
        i = 0
        while m := self._lib.agg_pending(self._handle, i, _addr(pos), _addr(regs)):
            if out is not None:
                out.flat[pos[0]] = sketch_estimate(bytearray(regs[:m]))
            i += 1

    def step(
        self, entity: str, ts: int, nums: Sequence[float], hashes: Sequence[int], raw: list[Any]
    ) -> tuple[list[float], bool]:
        outs, newest = self.run([entity], [ts], nums, hashes, [raw], True)
        assert outs is not None
        return outs[0].tolist(), bool(newest[0])

    def fold(
        self, entity: str, ts: int, nums: Sequence[float], hashes: Sequence[int], raw: list[Any]
    ) -> bool:
        return bool(self.run([entity], [ts], nums, hashes, [raw], False)[1][0])

    def newest_ts(self, entity: str) -> int:
        s = self._slots.get(entity)
        return -1 if s is None else self._newest[s]

    def current(self, entity: str) -> tuple[int, list[Any], list[float]] | None:
        return self.current_many([entity])[0] if entity in self._slots else None

    def current_many(self, entities: Sequence[str]) -> list[tuple[int, list[Any], list[float]]]:
        slots = array("q", [self._slots[e] for e in entities])
        out = np.empty((len(slots), self._nout))
        rc = self._lib.agg_current_many(self._handle, len(slots), _addr(slots), _addr(out))
        if rc & 2:
            self._settle(out)
        if rc & 1:
            raise AssertionError("an entity has no pane for its newest event")
        new, raw = self._newest, self._raw
        return [(new[s], list(raw[s]), row) for s, row in zip(slots, out.tolist(), strict=True)]

    def evict(self, horizon: int) -> int:
        gone = array("q", bytes(8 * len(self._names)))
        k = self._lib.agg_evict(self._handle, horizon, self.plan.reach, _addr(gone))
        for s in gone[:k]:
            name = self._names[s]
            assert name is not None
            del self._slots[name]
            self._names[s] = None
            self._raw[s] = []
            self._free.append(s)
        return int(k)

    def _export(self) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
        """The C state streams, into buffers sized by the last export (one pass, usually)."""
        sizes = array("q", [0, 0])
        icap, dcap = self._export_hint
        while True:
            ints, dbls = np.empty(icap, dtype=np.int64), np.empty(dcap, dtype=np.float64)
            if not self._lib.agg_export(
                self._handle, _addr(ints), icap, _addr(dbls), dcap, _addr(sizes)
            ):
                break
            icap, dcap = sizes[0] + sizes[0] // 4, sizes[1] + sizes[1] // 4
        self._export_hint = (
            max(4096, sizes[0] + sizes[0] // 4),
            max(4096, sizes[1] + sizes[1] // 4),
        )
        return ints[: sizes[0]], dbls[: sizes[1]]

    def entities(self) -> dict[str, Any]:
        """Each entity's state, JSON-able, in the Python engine's layout."""
        ints, dbls = self._export()
        return export_entities(self.plan, ints, dbls, self._names, self._raw)

    def snapshot(self) -> dict[str, Any]:
        """The state as C streams it (two flat arrays) with the slots' names, passthrough
        values and newest times: a checkpoint in milliseconds, where converting ten thousand
        entities to the JSON layout takes a hundred (see `native_state.snapshot_entities`)."""
        ints, dbls = self._export()
        return {
            "ints": ints,
            "dbls": dbls,
            "names": list(self._names),
            "raws": list(self._raw),  # an entity's values are replaced, never changed in place
            "newest": np.array(self._newest, dtype=np.int64),
        }

    def load_snapshot(self, snap: dict[str, Any], seq: int) -> None:
        """Install what `snapshot` returned; ValueError (and empty state) if it is malformed."""
        self.reset()
        try:
            names, raws = list(snap["names"]), list(snap["raws"])
            newest = np.asarray(snap["newest"], dtype=np.int64).tolist()
            ints = np.ascontiguousarray(snap["ints"], dtype=np.int64)
            dbls = np.ascontiguousarray(snap["dbls"], dtype=np.float64)
            if not len(names) == len(raws) == len(newest) or ints.ndim != 1 or dbls.ndim != 1:
                raise ValueError("the snapshot's slots do not line up")
            if self._lib.agg_import(self._handle, _addr(ints), len(ints), _addr(dbls), len(dbls)):
                raise ValueError("the snapshot's state stream is malformed")
            live = array("q", bytes(8 * (len(names) + 1)))
            n = self._lib.agg_live(self._handle, _addr(live), len(live))
            named = [s for s, e in enumerate(names) if e is not None]
            if live[:n].tolist() != named:
                raise ValueError("the snapshot's names do not match its state")
            for s, (e, r, t) in enumerate(zip(names, raws, newest, strict=True)):
                self._names.append(None if e is None else str(e))
                self._raw.append(list(r))
                self._newest.append(int(t))
                if e is None:
                    self._free.append(s)
                else:
                    self._slots[str(e)] = s
        except (KeyError, TypeError, ValueError) as exc:
            self.reset()
            raise ValueError(f"malformed aggregator checkpoint: {exc}") from None
        self._lib.agg_seq(self._handle, seq)

    def load(self, entities: dict[str, Any], seq: int) -> None:
        self.reset()
        names = [str(e) for e in entities]
        ints, dbls = import_entities(self.plan, list(entities.values()))
        if self._lib.agg_import(self._handle, _addr(ints), len(ints), _addr(dbls), len(dbls)):
            raise ValueError("malformed aggregator checkpoint")
        for e, state in zip(names, entities.values(), strict=True):
            s = self._slot(e)
            self._raw[s] = list(state[1])
            self._newest[s] = -1 if state[0] is None else int(state[0])
        self._lib.agg_seq(self._handle, seq)
