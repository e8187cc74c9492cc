"""The native engine's state streams (see `_native/state.c`) to and from the Python engine's
JSON layout, so a checkpoint of either engine loads into the other. (The C engine checkpoints
the streams themselves; converting them is for the Python engine and for inspection.)"""

from __future__ import annotations

import base64
from array import array
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from featurestore.agg_plan import AggPlan
from featurestore.pane_group import PaneGroup

__all__ = ["export_entities", "import_entities", "snapshot_entities"]

_U64 = (1 << 64) - 1


def export_entities(
    plan: AggPlan,
    ints: npt.NDArray[np.int64],
    dbls: npt.NDArray[np.float64],
    names: Sequence[str | None],
    raws: Sequence[Sequence[Any]],
) -> dict[str, Any]:
    """Each live entity's [newest, raw, tsl, ewm, groups], as `PyEngine.entities`."""
    xs, ds = ints.tolist(), dbls.tolist()
    i = d = 0
    ntsl, newm = len(plan.tsl), len(plan.ewm)
    out: dict[str, Any] = {}
    while i < len(xs):
        slot, has_newest, newest = xs[i : i + 3]
        i += 3
        tsl = ds[d : d + ntsl]
        d += ntsl
        ewm = []
        for _ in range(newm):
            ewm.append([xs[i], ds[d], ds[d + 1]])
            i += 1
            d += 2
        groups: list[Any] = []
        for g in plan.groups:
            nf, nd = len(g.layout.fidx), len(g.layout.didx)
            if isinstance(g, PaneGroup):
                w = 1 + 5 * nf
                panes: dict[int, list[Any]] = {}
                count = xs[i]
                i += 1
                for _ in range(count):
                    start, last = xs[i], xs[i + 1]
                    i += 2
                    x = ds[d : d + w]
                    d += w
                    sketches: list[Any] = []
                    for p in g.layout.dprec:
                        tag = xs[i]
                        i += 1
                        if tag < 0:
                            words = (1 << p) // 8
                            raw = array("q", xs[i : i + words]).tobytes()
                            sketches.append(base64.b64encode(raw).decode())
                            i += words
                        else:
                            sketches.append([h & _U64 for h in xs[i : i + tag]])
                            i += tag
                    panes[start] = [x[0], last, *x[1:], *sketches]
                groups.append(panes)
            else:
                count, lo, has_k = xs[i : i + 3]
                i += 3
                k, s1, s2 = ds[d : d + nf], ds[d + nf : d + 2 * nf], ds[d + 2 * nf : d + 3 * nf]
                d += 3 * nf
                buf = []
                for _ in range(count):
                    hs = [h & _U64 for h in xs[i + 2 : i + 2 + nd]]
                    buf.append([xs[i], xs[i + 1], ds[d : d + nf], hs])
                    i += 2 + nd
                    d += nf
                groups.append({"buf": buf, "lo": lo, "k": k if has_k else [], "s1": s1, "s2": s2})
        name = names[slot]
        assert name is not None
        out[name] = [newest if has_newest else None, list(raws[slot]), tsl, ewm, groups]
    return out


def snapshot_entities(plan: AggPlan, snap: dict[str, Any]) -> dict[str, Any]:
    """A native engine's `snapshot` in the JSON layout (how the Python engine loads it);
    raises ValueError on a snapshot that does not fit the plan."""
    try:
        ints = np.asarray(snap["ints"], dtype=np.int64)
        dbls = np.asarray(snap["dbls"], dtype=np.float64)
        return export_entities(plan, ints, dbls, list(snap["names"]), list(snap["raws"]))
    except (KeyError, TypeError, IndexError, AttributeError, AssertionError, ValueError) as exc:
        raise ValueError(f"malformed aggregator checkpoint: {exc!r}") from None


def _signed(value: Any) -> int:
    h = int(value)
    return h - (1 << 64) if h >= 1 << 63 else h


def import_entities(plan: AggPlan, states: Sequence[Any]) -> tuple[array[int], array[float]]:
    """The streams `agg_import` reads for entity states in the JSON layout, slot i for the
    i-th; raises ValueError on a state that does not fit the plan."""
    xs: list[int] = []
    ds: list[float] = []
    try:
        for slot, (newest, _, tsl, ewm, groups) in enumerate(states):
            xs += [slot, int(newest is not None), 0 if newest is None else int(newest)]
            if len(tsl) != len(plan.tsl) or len(ewm) != len(plan.ewm):
                raise ValueError("time_since_last or ewm state does not fit the view")
            ds += [float(v) for v in tsl]
            for a in ewm:
                xs.append(int(a[0]))
                ds += [float(a[1]), float(a[2])]
            for g, x in zip(plan.groups, groups, strict=True):
                nf = len(g.layout.fidx)
                if isinstance(g, PaneGroup):
                    panes = sorted((int(s), p) for s, p in x.items())
                    xs.append(len(panes))
                    for start, p in panes:
                        xs += [start, int(p[1])]
                        ds += [float(p[0]), *(float(v) for v in p[2 : 2 + 5 * nf])]
                        sketches = p[2 + 5 * nf :]
                        if len(sketches) != len(g.layout.dprec) or len(p) < 2 + 5 * nf:
                            raise ValueError("a pane does not fit the view")
                        for sk, prec in zip(sketches, g.layout.dprec, strict=True):
                            if isinstance(sk, str):
                                regs = base64.b64decode(sk)
                                if len(regs) != 1 << prec:
                                    raise ValueError("a sketch does not fit the view")
                                xs.append(-1)
                                xs += array("q", regs).tolist()
                            else:
                                xs.append(len(sk))
                                xs += [_signed(h) for h in sk]
                else:
                    buf, k = x["buf"], x["k"]
                    xs += [len(buf), int(x["lo"]), int(bool(k))]
                    ds += [float(v) for v in (k or [0.0] * nf)]
                    ds += [float(v) for v in x["s1"]] + [float(v) for v in x["s2"]]
                    for ts, seq, v, h in buf:
                        xs += [int(ts), int(seq), *(_signed(e) for e in h)]
                        ds += [float(e) for e in v]
    except (TypeError, KeyError, IndexError) as exc:
        raise ValueError(f"malformed aggregator checkpoint: {exc!r}") from None
    return array("q", xs), array("d", ds)
