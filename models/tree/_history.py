"""The splitters' running statistics over a chunk, after each of its rows (internal).

Within a chunk, a leaf's splitters may restart (River deactivates a leaf whose majority class
dominates, and its memory manager reactivates it at once with fresh splitters). The learned
rows of a (leaf, class) pair therefore fall into *epochs*, separated by the rows after which
the leaf's splitters restarted; a *segment* is one pair's rows within one epoch. Each segment
runs River's Welford recurrence from its start state (the stored one in epoch 0, an empty one
after a restart), all segments at once in rounds: round r updates the r-th row of every
segment.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from models.tree._base import welford_rounds

__all__ = ["SplitterHistory"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]


class SplitterHistory:
    """Welford states of a chunk's pairs after each of their learned rows up to `n`.

    `srows`/`sgid`/`spos` list the learned rows grouped by pair (group ids `gid[pair]`, rows in
    order, `spos` the row's position among its pair's rows); `restarts[u]` holds the rows of
    leaf `u` after which its splitters restart; `count0`/`mean0`/`m20` are the stored states
    of the pairs and `act_p` whether their leaf feeds its splitters."""

    def __init__(
        self,
        X: FloatArray,
        n: int,
        grouping: tuple[IntArray, IntArray, IntArray, IntArray, IntArray],
        restarts: dict[int, list[int]],
        stored: tuple[FloatArray, FloatArray, FloatArray],
        act_p: BoolArray,
        n_classes: int,
    ) -> None:
        srows, sgid, spos, gpairs, gid = grouping
        count0, mean0, m20 = stored
        P, d = gid.size, X.shape[1]
        self.P, self.C, self.gid, self.act_p, self.count0 = P, n_classes, gid, act_p, count0
        self.E = 1 + max((len(r) for r in restarts.values()), default=0)
        # restart rows per leaf (padded with n: never), and rows of each pair before each epoch
        self.bounds = np.full((P // max(n_classes, 1), self.E - 1), n, dtype=np.int64)
        self.start = np.zeros((P, self.E), dtype=np.int64)
        for u, after in restarts.items():
            self.bounds[u, : len(after)] = after
        pair_of = gpairs[sgid]
        epoch = self.epoch_of(pair_of // max(n_classes, 1), srows)
        for u, after in restarts.items():
            for c in range(n_classes):
                mine = pair_of == u * n_classes + c
                self.start[u * n_classes + c, 1 : len(after) + 1] = np.searchsorted(
                    srows[mine], after, side="right"
                )
        keep = (srows < n) & act_p[pair_of]
        rows, pairs, epoch, pos = srows[keep], pair_of[keep], epoch[keep], spos[keep]
        pos = pos - self.start[pairs, epoch]  # position within the segment
        key = gid[pairs] * self.E + epoch  # segments are runs of equal keys
        change = np.concatenate([[True], key[1:] != key[:-1]]) if key.size else key.astype(bool)
        seg = np.cumsum(change) - 1
        size = np.bincount(seg, minlength=int(change.sum()))
        by_size = np.argsort(-size, kind="stable")
        rank = np.empty_like(by_size)
        rank[by_size] = np.arange(by_size.size)
        self.segment = np.full(max(gpairs.size, 1) * self.E, -1, dtype=np.int64)
        self.segment[key[change]] = rank[seg[change]]
        size = size[by_size]
        going = np.bincount(size, minlength=int(size.max()) + 1 if size.size else 1)
        self.off = np.concatenate([[0], np.cumsum(size.size - np.cumsum(going)[:-1])])
        place = self.off[pos] + rank[seg]
        values = np.empty((rows.size, d))
        values[place] = X[rows]
        first = np.where(epoch == 0, count0[pairs], 0.0)
        inv_n = np.empty((rows.size, 1))
        inv_n[place, 0] = 1.0 / (first + (pos + 1.0))
        # rows: the stored states, one empty state, then the states after each segment row
        self.mean = np.empty((P + 1 + rows.size, d))
        self.m2 = np.empty((P + 1 + rows.size, d))
        self.mean[:P], self.m2[:P] = mean0, m20
        self.mean[P], self.m2[P] = 0.0, 0.0
        head_pairs, head_epochs = pairs[change][by_size], epoch[change][by_size]
        init = np.where(head_epochs == 0, head_pairs, P)
        welford_rounds(
            values,
            inv_n,
            self.off.tolist(),
            self.mean[init],
            self.m2[init],
            self.mean[P + 1 :],
            self.m2[P + 1 :],
        )

    def epoch_of(self, u: IntArray, row: IntArray) -> IntArray:
        """The epoch of leaf `u` when learning `row`: how many restarts came before it."""
        if self.E == 1:
            return np.zeros(np.broadcast(u, row).shape, dtype=np.int64)
        out: IntArray = (self.bounds[u] < np.asarray(row)[..., None]).sum(axis=-1)
        return out

    def state(
        self, pair: IntArray, k: IntArray, epoch: IntArray
    ) -> tuple[FloatArray, FloatArray, FloatArray]:
        """Count, mean and m2 of `pair`'s splitter once its first `k` learned rows are learned,
        in `epoch` (elementwise, broadcasting)."""
        pair, k, epoch = np.broadcast_arrays(pair, k, epoch)
        pos = k - self.start[pair, epoch]
        stepped = (pos > 0) & self.act_p[pair]
        count = np.where(epoch == 0, self.count0[pair], 0.0) + np.where(stepped, pos, 0)
        key = np.maximum(self.gid[pair], 0) * self.E + epoch
        seg = np.where(stepped, self.segment[np.where(stepped, key, 0)], 0)
        at = self.off[np.where(stepped, pos - 1, 0)]
        flat = np.where(stepped, self.P + 1 + at + seg, np.where(epoch == 0, pair, self.P))
        return count, self.mean[flat], self.m2[flat]
