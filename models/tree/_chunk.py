"""One chunk of a batch through a Hoeffding tree (internal).

A chunk is routed through the tree with numpy and its learned rows are grouped by
(leaf, class) pair. The class weights are a `cumsum` per pair starting from the current weight
(the same additions in the same order as River's `stats[y] += 1`), and the splitters' Welford
statistics advance in rounds with River's exact recurrence (`_history`). Each row is then
predicted from exactly the state a sequential loop would show it.

Split attempts fall at the rows where a leaf's weight since its last attempt reaches
`grace_period`, and run in row order. One where a class dominates the leaf is decided by the
exact class weights: the leaf's splitters restart after that row, within the chunk. Others are
screened with cheap merged (Chan) statistics; one that cannot change the tree only moves the
leaf's `last_attempt`. The chunk ends at the first attempt that may change the tree (or a leaf
reaching `max_depth`): that attempt is redone with the exact statistics, the state is
committed up to its row and the change applied; the rest of the batch is a new chunk.
"""

from __future__ import annotations

import bisect
import heapq

import numpy as np
import numpy.typing as npt

from models.tree._arrays import TreeArrays
from models.tree._base import LearnParams, ranks_after, route, segment_cumsum
from models.tree._history import SplitterHistory
from models.tree._leaf import (
    first_argmax,
    majority_probas,
    naive_bayes_probas,
    ordered_sum,
    use_naive_bayes,
)
from models.tree._split import Gaussians, Reset, Split, attempt_split, dominated

__all__ = ["Chunk"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

_SCREEN_MARGIN = 1e-7  # merits from merged statistics are within ~1e-12 of the exact ones


class Chunk:
    """The rows of `X` (class indices `y`, -1: not learned) from the start of the batch's
    remainder up to the first change of the tree, predicted and learned with a fixed tree."""

    def __init__(self, tree: TreeArrays, X: FloatArray, y: IntArray, params: LearnParams):
        self.tree, self.params = tree, params
        m, C = X.shape[0], tree.n_classes
        self.C, self.d = C, X.shape[1]
        slots = tree.slot[route(tree, X)]
        seen = np.zeros(tree.leaf.size, dtype=np.bool_)
        seen[slots] = True
        us = np.flatnonzero(seen)
        local = np.empty(tree.leaf.size, dtype=np.int64)
        local[us] = np.arange(us.size)
        inv = local[slots]
        self.us, self.U, self.P = us, us.size, us.size * C
        self.act_u = tree.active[us]
        self.act_p = np.repeat(self.act_u, C)
        self.X, self.y, self.inv = X, y, inv
        self._group()
        self.rank0, self.g0 = tree.rank[us], tree.g_rank[us]
        first_pair = np.full(self.P, m, dtype=np.int64)
        first_pair[self.gpairs] = self.srows[self.gstart]
        self.first = np.where(self.rank0 >= 0, -1, first_pair.reshape(self.U, C))
        self.rank = ranks_after(self.first, self.rank0, m)
        self.gc0 = tree.g_count[us].reshape(self.P)
        self.fresh = (self.gc0 == 0) & self.act_p & (first_pair < m)  # splitters start here
        fresh_first = np.where(self.fresh, first_pair, m).reshape(self.U, C)
        self.gfirst = np.where(self.g0 >= 0, -1, fresh_first)
        self.grank = ranks_after(self.gfirst, self.g0, m)
        self._rows()
        self.restarts: dict[int, list[int]] = {}  # leaf -> rows after which its splitters restart
        self.end, self.due = self._scan()
        self._truncate(self.end + 1)
        P, d = self.P, self.d
        self.history = SplitterHistory(
            X,
            self.n,
            (self.srows, self.sgid, self.spos, self.gpairs, self.gid),
            self.restarts,
            (self.gc0, tree.mean[us].reshape(P, d), tree.m2[us].reshape(P, d)),
            self.act_p,
            C,
        )

    # --- grouping and running sums -------------------------------------------------------------

    def _group(self) -> None:
        """Group the learned rows by (leaf, class) pair, in row order within a pair, and
        accumulate the class weights (a cumsum per pair, starting from its current weight)."""
        C, P, y = self.C, self.P, self.y
        lrows = np.flatnonzero(y >= 0)
        lpair = self.inv[lrows] * C + y[lrows]
        cnt = np.bincount(lpair, minlength=P)
        gpairs = np.flatnonzero(cnt)
        gsize = cnt[gpairs]
        gid = np.full(P, -1, dtype=np.int64)
        gid[gpairs] = np.arange(gpairs.size)
        lgid = gid[lpair]
        order = np.argsort(lgid, kind="stable")
        srows, sgid = lrows[order], lgid[order]
        gstart = np.cumsum(gsize) - gsize
        pos = np.arange(srows.size) - gstart[sgid]
        self.lrows, self.srows, self.sgid, self.spos = lrows, srows, sgid, pos
        self.gpairs, self.gsize, self.gid, self.gstart = gpairs, gsize, gid, gstart
        self.w0 = self.tree.weight[self.us].reshape(P)
        steps = np.zeros((int(gsize.max()) + 1 if gsize.size else 1, max(gpairs.size, 1)))
        steps[0, : gpairs.size] = self.w0[gpairs]
        steps[pos + 1, sgid] = 1.0
        self.wsum = np.cumsum(steps, axis=0)  # [k, g]: weight after the pair's first k rows

    def _weight(self, pair: IntArray, k: IntArray) -> FloatArray:
        """Class weight of `pair` after its first `k` learned rows of the chunk."""
        return np.where(k > 0, self.wsum[k, np.maximum(self.gid[pair], 0)], self.w0[pair])

    def _pair_rows(self, pair: int, row: int) -> IntArray:
        """The learned rows of `pair` up to `row`, in order."""
        g = int(self.gid[pair])
        if g < 0:
            return np.zeros(0, dtype=np.int64)
        rows = self.srows[self.gstart[g] : self.gstart[g] + self.gsize[g]]
        return rows[: int(np.searchsorted(rows, row, side="right"))]

    def _rows(self) -> None:
        """Per-row arrays: for every class, the number of earlier learned rows of the same
        (leaf, class), which classes are keys of `leaf.stats`, their order and the class
        weights before the row."""
        C, inv, y, m = self.C, self.inv, self.y, self.X.shape[0]
        self.onehot = np.zeros((m, C), dtype=np.int64)
        self.onehot[self.lrows, y[self.lrows]] = 1
        self.ord_u = np.argsort(inv, kind="stable")
        sorted_hot = self.onehot[self.ord_u]
        self.k = np.empty_like(self.onehot)
        self.k[self.ord_u] = segment_cumsum(sorted_hot, inv[self.ord_u]) - sorted_hot
        self.pidx = inv[:, None] * C + np.arange(C)
        self.order = np.argsort(self.rank, axis=1, kind="stable")[inv]
        self.present = self.first[inv] < np.arange(m)[:, None]
        self.weight = self._weight(self.pidx, self.k)

    def _truncate(self, n: int) -> None:
        """Keep the per-row arrays of the chunk's first `n` rows; add the total weights."""
        self.n = n
        if n < self.X.shape[0]:
            self.k, self.pidx, self.order = self.k[:n], self.pidx[:n], self.order[:n]
            self.present, self.weight = self.present[:n], self.weight[:n]
            self.ord_u = self.ord_u[self.ord_u < n]
        self.learned = self.y[:n] >= 0
        self.act = self.act_u[self.inv[:n]]
        self.total = ordered_sum(self.weight, self.present, self.order)

    # --- split attempts ------------------------------------------------------------------------

    def _scan(self) -> tuple[int, tuple[int, bool] | None]:
        """Run the chunk's split attempts in row order, screening each with merged statistics,
        until one may change the tree or a leaf reaches `max_depth` (then False). Returns its
        row and (leaf, is_attempt), or (last row, None)."""
        p, tree, m = self.params, self.tree, self.X.shape[0]
        lrows = self.lrows
        if tree.n_nodes + 2 > p.max_nodes or not lrows.size:
            return m - 1, None
        lu, ly = self.inv[lrows], self.y[lrows]
        weight = self.weight[lrows]
        own = self.pidx[lrows, ly]
        weight[np.arange(lrows.size), ly] = self._weight(own, self.k[lrows, ly] + 1)
        present = self.first[lu] <= lrows[:, None]
        after = ordered_sum(weight, present, self.order[lrows])  # leaf weight after each row
        seg = np.argsort(lu, kind="stable")
        bounds = np.searchsorted(lu[seg], np.arange(self.U + 1))
        deep = tree.depth[tree.leaf[self.us]] >= p.max_depth
        last = tree.last_attempt[self.us]
        due = self.act_u[lu] & (deep[lu] | (after - last[lu] >= p.grace_period))
        if not due.any():
            return m - 1, None
        # the first due row of each leaf (leaf-grouped positions t, rows in order within a leaf)
        due_t = np.flatnonzero(due[seg])
        due_u = lu[seg[due_t]]
        first_t = due_t[np.concatenate([[True], due_u[1:] != due_u[:-1]])]
        heap: list[tuple[int, int, int]] = []  # (row, leaf, index among its rows; -1: depth)
        for t in first_t.tolist():
            u = int(lu[seg[t]])
            heap.append((int(lrows[seg[t]]), u, -1 if deep[u] else t - int(bounds[u])))
        heapq.heapify(heap)
        used = np.arange(tree.n_leaves)
        stale = ~tree.active[used] & (tree.depth[tree.leaf[used]] < p.max_depth)
        while heap:
            row, u, j = heapq.heappop(heap)
            if j < 0:
                return row, (u, False)
            stats, gaussians = self._leaf_state(u, row, exact=False)
            if dominated(stats, p.split) and not stale.any():  # a restart, known exactly
                self.restarts.setdefault(u, []).append(row)
            elif attempt_split(stats, gaussians, p.split, _SCREEN_MARGIN) is not None:
                self.due_weight = float(after[seg[bounds[u] + j]])
                return row, (u, True)
            idx = seg[bounds[u] : bounds[u + 1]]
            weights = after[idx]
            tree.last_attempt[self.us[u]] = weights[j]
            self._push(heap, u, lrows[idx], weights, weights[j], j + 1)
        return m - 1, None

    def _push(
        self,
        heap: list[tuple[int, int, int]],
        u: int,
        rows: IntArray,
        weights: FloatArray,
        last: float,
        start: int,
    ) -> None:
        """Queue leaf `u`'s next attempt: its first row from `start` on whose weight is at least
        `grace_period` above `last` (River's `weight_seen - last_split_attempt_at`)."""
        due = weights[start:] - last >= self.params.grace_period
        if due.any():
            j = start + int(due.argmax())
            heapq.heappush(heap, (int(rows[j]), u, j))

    def _leaf_state(
        self, u: int, row: int, *, exact: bool
    ) -> tuple[list[tuple[int, float]], Gaussians | None]:
        """Leaf `u`'s class weights (`leaf.stats`) and splitters right after learning `row`;
        the splitters' means and variances are exact (Welford) or merged (Chan)."""
        C, d, tree, s = self.C, self.d, self.tree, int(self.us[u])
        restarts = self.restarts.get(u, [])
        epoch = bisect.bisect_left(restarts, row)  # restarts before `row`
        since = restarts[epoch - 1] if epoch else -1  # the epoch's rows come after this one
        stats: list[tuple[int, int, float]] = []
        splitters: list[tuple[int, int, float, FloatArray, list[float], FloatArray, FloatArray]]
        splitters = []
        for c in range(C):
            p = u * C + c
            seen = self._pair_rows(p, row)
            if self.first[u, c] <= row:
                weight = self._weight(np.array([p]), np.array([seen.size]))
                stats.append((int(self.rank[u, c]), c, float(weight[0])))
            rows = seen[seen > since]
            n0 = float(self.gc0[p]) if epoch == 0 else 0.0
            n = n0 + rows.size
            if n == 0.0:
                continue
            low, high = tree.vmin[s, c], tree.vmax[s, c]
            mean, m2 = (tree.mean[s, c], tree.m2[s, c]) if epoch == 0 else (np.zeros(d),) * 2
            if rows.size:
                values = self.X[rows]
                low = values.min(axis=0) if n0 == 0 else np.minimum(low, values.min(axis=0))
                high = values.max(axis=0) if n0 == 0 else np.maximum(high, values.max(axis=0))
                if exact:
                    at = (np.array([p]), np.array([seen.size]), np.array([epoch]))
                    _, mean_k, m2_k = self.history.state(*at)
                    mean, m2 = mean_k[0], m2_k[0]
                else:  # Chan et al.'s merge of the epoch's start state with the chunk's rows
                    batch_mean = values.mean(axis=0)
                    batch_m2 = ((values - batch_mean) ** 2).sum(axis=0)
                    delta = batch_mean - mean
                    mean = mean + delta * (rows.size / n)
                    m2 = m2 + batch_m2 + delta * delta * (n0 * rows.size / n)
            variance = (m2 / (n - 1.0)).tolist() if n > 1.0 else [0.0] * d
            sigma = [v**0.5 for v in variance]
            key = int(self.grank[u, c]) if epoch == 0 else int(rows[0])  # insertion order
            splitters.append((key, c, n, mean, sigma, low, high))
        stats.sort()
        splitters.sort(key=lambda item: item[0])
        return [(c, w) for _, c, w in stats], Gaussians.of([item[1:] for item in splitters])

    # --- predictions, commit -------------------------------------------------------------------

    def process(self, out: FloatArray | None) -> int:
        """Predict and learn the chunk's rows and apply its change, if any; returns the number
        of rows consumed."""
        probas = self._predictions(out is not None)
        event: tuple[int, Split | Reset | None] | None = None
        if self.due is not None:
            u, attempt = self.due
            if not attempt:
                event = (u, None)
            else:
                stats, gaussians = self._leaf_state(u, self.end, exact=True)
                decision = attempt_split(stats, gaussians, self.params.split)
                self.tree.last_attempt[self.us[u]] = self.due_weight
                if decision is not None:
                    event = (u, decision)
        self._commit()
        if out is not None and probas is not None:
            out[: self.n] = probas
        if event is not None:
            self.tree.apply(int(self.us[event[0]]), event[1], self.params.max_depth)
        return self.n

    def _predictions(self, want: bool) -> FloatArray | None:
        """Each row's prediction (if `want`) and, for "nba", which rows the majority class and
        naive Bayes got right (River's per-leaf counters)."""
        p, y, X = self.params, self.y[: self.n], self.X[: self.n]
        nba = p.leaf_prediction == "nba"
        self.mc_inc: BoolArray | None = None
        self.nb_inc: BoolArray | None = None
        mc = majority_probas(self.weight, self.present, self.total)
        if p.leaf_prediction == "mc" or not (want or nba):
            return mc if want else None
        if nba:
            rows = np.flatnonzero(self.act & (self.learned | want))
        else:
            rows = np.flatnonzero(self.act & (self.total >= p.nb_threshold))
        nb = np.zeros_like(mc)
        voted = np.zeros(rows.size, dtype=np.bool_)
        if rows.size:
            nb[rows], voted = naive_bayes_probas(
                X[rows],
                self.weight[rows],
                self.present[rows],
                self.order[rows],
                self.total[rows],
                self.history.state(
                    self.pidx[rows],
                    self.k[rows],
                    self.history.epoch_of(self.inv[rows], rows)[:, None],
                ),
            )
        mcc = nbc = np.zeros(self.n)
        if nba:
            upd = self.act & self.learned
            mc_arg = first_argmax(mc, self.present, self.order)
            self.mc_inc = upd & (~self.present.any(axis=1) | (mc_arg == y))
            nb_arg = first_argmax(nb[rows], self.present[rows], self.order[rows])
            self.nb_inc = np.zeros(self.n, dtype=np.bool_)
            self.nb_inc[rows] = upd[rows] & voted & (nb_arg == y[rows])
            inv = self.inv[: self.n]
            earlier = self._earlier(np.column_stack([self.mc_inc, self.nb_inc]))
            mcc = self.tree.mc_correct[self.us][inv] + earlier[:, 0]
            nbc = self.tree.nb_correct[self.us][inv] + earlier[:, 1]
        if not want:
            return None
        use_nb = use_naive_bayes(p.leaf_prediction, p.nb_threshold, self.act, self.total, nbc, mcc)
        return np.where(use_nb[:, None], nb, mc)

    def _earlier(self, flags: BoolArray) -> IntArray:
        """Per row (and column), how many earlier rows of the same leaf have `flags` set."""
        v = flags.astype(np.int64)[self.ord_u]
        out = np.empty_like(v)
        out[self.ord_u] = segment_cumsum(v, self.inv[self.ord_u]) - v
        return out

    def _commit(self) -> None:
        """Write the state after the chunk's last row back into the tree."""
        tree, us, U, C, d, P, n = self.tree, self.us, self.U, self.C, self.d, self.P, self.n
        history = self.history
        done = self.srows < n
        kfin = np.zeros(P, dtype=np.int64)
        kfin[self.gpairs] = np.bincount(self.sgid[done], minlength=self.gpairs.size)
        pairs = np.arange(P)
        epoch = np.repeat(history.epoch_of(np.arange(U), np.full(U, n)), C)  # the last epoch
        count, mean, m2 = history.state(pairs, kfin, epoch)
        tree.weight[us] = self._weight(pairs, kfin).reshape(U, C)
        tree.g_count[us] = count.reshape(U, C)
        tree.mean[us] = mean.reshape(U, C, d)
        tree.m2[us] = m2.reshape(U, C, d)
        # min and max: over the last epoch's rows, and the stored ones if it is epoch 0
        spairs = self.gpairs[self.sgid]
        in_last = history.epoch_of(spairs // C, self.srows) == epoch[spairs]
        upd = done & self.act_p[spairs] & in_last
        new = (kfin - history.start[pairs, epoch] > 0) & self.act_p  # rows fed the splitter
        started = new & ((epoch > 0) | (self.gc0 == 0))
        low = tree.vmin[us].reshape(P, d)
        high = tree.vmax[us].reshape(P, d)
        low[started], high[started] = np.inf, -np.inf
        if upd.any():  # rows are grouped by pair: one reduction per pair
            values, rows_pair = self.X[self.srows[upd]], spairs[upd]
            starts = np.flatnonzero(np.concatenate([[True], rows_pair[1:] != rows_pair[:-1]]))
            touched = rows_pair[starts]
            low[touched] = np.minimum(low[touched], np.minimum.reduceat(values, starts))
            high[touched] = np.maximum(high[touched], np.maximum.reduceat(values, starts))
        cleared = (epoch > 0) & ~new
        low[cleared], high[cleared] = 0.0, 0.0
        tree.vmin[us], tree.vmax[us] = low.reshape(U, C, d), high.reshape(U, C, d)
        tree.rank[us] = np.where(self.first < n, self.rank, self.rank0)
        g_rank = np.where(self.gfirst < n, self.grank, self.g0)
        restarted = epoch.reshape(U, C)[:, 0] > 0
        if restarted.any():  # splitter insertion order since the last restart
            g = np.maximum(self.gid, 0)
            start = self.gstart[g] + history.start[pairs, epoch]
            first = np.where(new, self.srows[np.minimum(start, self.srows.size - 1)], n)
            first = first.reshape(U, C)[restarted]
            fresh_rank = ranks_after(first, np.full_like(first, -1), n)
            g_rank[restarted] = np.where(first < n, fresh_rank, -1)
        tree.g_rank[us] = g_rank
        if self.mc_inc is not None and self.nb_inc is not None:
            inv = self.inv[:n]
            tree.mc_correct[us] += np.bincount(inv[self.mc_inc], minlength=U)
            tree.nb_correct[us] += np.bincount(inv[self.nb_inc], minlength=U)
