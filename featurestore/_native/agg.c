/* The aggregator: configuration, entity slots and the batch loop (featurestore/py_engine.py). */
#include <math.h>
#include <string.h>

#include "agg.h"

static int *take(const i64 **c, int n, int stride, int field) {
    int *out = xrealloc(NULL, (size_t)(n ? n : 1) * sizeof(int));
    for (int i = 0; i < n; i++) out[i] = (int)(*c)[i * stride + field];
    return out;
}

/* the view's plan, flattened by native_engine.py (see `_config` there) */
Agg *agg_new(const i64 *c) {
    Agg *a = calloc(1, sizeof *a);
    if (!a) abort();
    a->n_num = (int)*c++;
    a->n_key = (int)*c++;
    a->ngroups = (int)*c++;
    a->groups = calloc((size_t)(a->ngroups ? a->ngroups : 1), sizeof(Group));
    a->goff = xrealloc(NULL, (size_t)(a->ngroups + 1) * sizeof(int));
    int off = 0;
    for (int gi = 0; gi < a->ngroups; gi++) {
        Group *g = &a->groups[gi];
        g->kind = (int)*c++;
        g->g = *c++;
        g->size = *c++;
        g->nf = (int)*c++;
        g->fidx = take(&c, g->nf, 1, 0);
        c += g->nf;
        g->nd = (int)*c++;
        g->didx = take(&c, g->nd, 2, 0);
        g->dprec = take(&c, g->nd, 2, 1);
        c += 2 * g->nd;
        g->nplan = (int)*c++;
        g->pkind = take(&c, g->nplan, 2, 0);
        g->pj = take(&c, g->nplan, 2, 1);
        c += 2 * g->nplan;
        g->minf = xrealloc(NULL, (size_t)(g->nf ? g->nf : 1) * sizeof(int));
        g->maxf = xrealloc(NULL, (size_t)(g->nf ? g->nf : 1) * sizeof(int));
        for (int f = 0; f < g->nf; f++) { /* the fields a min or max reads keep a deque */
            int mn = 0, mx = 0;
            for (int q = 0; q < g->nplan; q++) {
                mn |= g->pkind[q] == K_MIN && g->pj[q] == f;
                mx |= g->pkind[q] == K_MAX && g->pj[q] == f;
            }
            if (mn) g->minf[g->nmin++] = f;
            if (mx) g->maxf[g->nmax++] = f;
        }
        a->goff[gi] = off;
        off += g->nplan;
    }
    a->goff[a->ngroups] = off;
    a->newm = (int)*c++;
    a->ewm_idx = take(&c, a->newm, 2, 0);
    a->ewm_half = xrealloc(NULL, (size_t)(a->newm ? a->newm : 1) * sizeof(i64));
    for (int i = 0; i < a->newm; i++) a->ewm_half[i] = c[2 * i + 1];
    c += 2 * a->newm;
    a->ntsl = (int)*c++;
    a->tsl_w = xrealloc(NULL, (size_t)(a->ntsl ? a->ntsl : 1) * sizeof(i64));
    for (int i = 0; i < a->ntsl; i++) a->tsl_w[i] = *c++;
    a->nout = (int)*c++;
    a->perm = take(&c, a->nout, 1, 0);
    a->unperm = xrealloc(NULL, (size_t)(a->nout ? a->nout : 1) * sizeof(int));
    for (int i = 0; i < a->nout; i++) a->unperm[a->perm[i]] = i;
    a->tmp = xrealloc(NULL, (size_t)(a->nout + a->ntsl + 1) * sizeof(double));
    return a;
}

static void slot_free(Agg *a, i64 s) {
    for (int gi = 0; gi < a->ngroups; gi++) {
        void *gs = a->gs[s * a->ngroups + gi];
        if (!gs) continue;
        if (a->groups[gi].kind == G_PANES) panes_free(&a->groups[gi], gs);
        else slide_free(&a->groups[gi], gs);
        a->gs[s * a->ngroups + gi] = NULL;
    }
    a->alive[s] = 0;
}

void agg_free(Agg *a) {
    for (i64 s = 0; s < a->cap; s++)
        if (a->alive[s]) slot_free(a, s);
    for (int gi = 0; gi < a->ngroups; gi++) {
        Group *g = &a->groups[gi];
        free(g->fidx), free(g->didx), free(g->dprec), free(g->pkind), free(g->pj);
        free(g->minf), free(g->maxf);
    }
    for (i64 i = 0; i < a->npend; i++) free(a->pend[i].regs);
    free(a->pend), free(a->groups), free(a->goff), free(a->ewm_idx), free(a->ewm_half);
    free(a->tsl_w), free(a->perm), free(a->unperm), free(a->tmp), free(a->alive);
    free(a->has_newest), free(a->newest), free(a->ew0), free(a->ew1), free(a->ew2);
    free(a->tsl), free(a->gs), free(a);
}

static void ensure(Agg *a, i64 slot) {
    if (slot < a->cap) return;
    i64 old = a->cap, cap = old ? old : 64;
    while (cap <= slot) cap *= 2;
    int ne = a->newm ? a->newm : 1, nt = a->ntsl ? a->ntsl : 1, ng = a->ngroups ? a->ngroups : 1;
    a->alive = xrealloc(a->alive, (size_t)cap);
    a->has_newest = xrealloc(a->has_newest, (size_t)cap);
    a->newest = xrealloc(a->newest, (size_t)cap * sizeof(i64));
    a->ew0 = xrealloc(a->ew0, (size_t)(cap * ne) * sizeof(i64));
    a->ew1 = xrealloc(a->ew1, (size_t)(cap * ne) * sizeof(double));
    a->ew2 = xrealloc(a->ew2, (size_t)(cap * ne) * sizeof(double));
    a->tsl = xrealloc(a->tsl, (size_t)(cap * nt) * sizeof(double));
    a->gs = xrealloc(a->gs, (size_t)(cap * ng) * sizeof(void *));
    memset(a->alive + old, 0, (size_t)(cap - old));
    memset(a->gs + old * ng, 0, (size_t)((cap - old) * ng) * sizeof(void *));
    a->cap = cap;
}

/* a new entity in `slot`: empty windows, no events */
void agg_open(Agg *a, i64 slot) {
    ensure(a, slot);
    if (a->alive[slot]) slot_free(a, slot);
    a->alive[slot] = 1;
    a->has_newest[slot] = 0;
    a->newest[slot] = 0;
    for (int i = 0; i < a->newm; i++) {
        a->ew0[slot * a->newm + i] = 0;
        a->ew1[slot * a->newm + i] = a->ew2[slot * a->newm + i] = 0.0;
    }
    for (int i = 0; i < a->ntsl; i++) a->tsl[slot * a->ntsl + i] = 0.0;
    for (int gi = 0; gi < a->ngroups; gi++) {
        Group *g = &a->groups[gi];
        a->gs[slot * a->ngroups + gi] = g->kind == G_PANES ? (void *)panes_new(g) : slide_new(g);
    }
}

void agg_close(Agg *a, i64 slot) {
    if (slot < a->cap && a->alive[slot]) slot_free(a, slot);
}

static void fold_ewm(Agg *a, i64 slot, i64 ts, const double *nums) {
    for (int i = 0; i < a->newm; i++) {
        i64 *a0 = &a->ew0[slot * a->newm + i];
        double *a1 = &a->ew1[slot * a->newm + i], *a2 = &a->ew2[slot * a->newm + i];
        double half = (double)a->ewm_half[i], x = nums[a->ewm_idx[i]];
        if (*a2 == 0.0 || ts >= *a0) {
            double decay = *a2 != 0.0 ? pow(2.0, (double)(-(ts - *a0)) / half) : 0.0;
            *a0 = ts;
            *a1 = *a1 * decay + x;
            *a2 = *a2 * decay + 1.0;
        } else {
            double w = pow(2.0, (double)(-(*a0 - ts)) / half);
            *a1 += x * w;
            *a2 += w;
        }
    }
}

/* move the outputs from grouped order (tmp) to the view's order, Pending positions too */
static void place(Agg *a, double *out, i64 base, i64 pend0) {
    for (int i = 0; i < a->nout; i++) out[i] = a->tmp[a->perm[i]];
    for (i64 k = pend0; k < a->npend; k++) a->pend[k].pos = base + a->unperm[a->pend[k].pos];
}

/* Fold events in order (a slot not in use opens). With `answer`, write each event's aggregates
 * in the view's order to `out` (n rows of nout). `newest[e]`: whether event e is its entity's
 * newest. Returns -1 on an overflow in fsum, else flags: 1 a window was missing, 2 estimates
 * are pending (agg_pending). */
int agg_run(Agg *a, i64 n, const i64 *slots, const i64 *ts, const double *nums,
            const u64 *hashes, int answer, double *out, uint8_t *newest) {
    int missing = 0;
    for (i64 e = 0; e < n; e++) {
        i64 s = slots[e], t = ts[e], pend0 = a->npend;
        if (s >= a->cap || !a->alive[s]) agg_open(a, s);
        const double *x = nums + e * a->n_num;
        const u64 *h = hashes + e * a->n_key;
        i64 seq = ++a->seq;
        int had = a->has_newest[s];
        i64 prev = a->newest[s];
        for (int gi = 0; gi < a->ngroups; gi++) {
            Group *g = &a->groups[gi];
            void *gs = a->gs[s * a->ngroups + gi];
            double *o = a->tmp + a->goff[gi];
            if (g->kind == G_PANES) {
                panes_fold(a, g, gs, t, x, h);
                if (answer) panes_values(a, g, gs, t, o, a->goff[gi], &missing);
            } else {
                i64 pos = slide_fold(g, gs, t, seq, x, h);
                if (answer && pos < 0) slide_running(g, gs, o);
                else if (answer) slide_scan(a, g, gs, t, pos, o);
            }
        }
        fold_ewm(a, s, t, x);
        double *o = a->tmp + a->goff[a->ngroups];
        for (int i = 0; answer && i < a->newm; i++)
            o[i] = a->ew1[s * a->newm + i] / a->ew2[s * a->newm + i];
        double *tsl = o + a->newm;
        for (int i = 0; i < a->ntsl; i++) {
            i64 w = a->tsl_w[i], d = t - prev;
            tsl[i] = !had ? (double)w : (double)(d < 0 ? 0 : d < w ? d : w);
        }
        int is_new = !had || t >= prev;
        if (is_new) {
            a->has_newest[s] = 1;
            a->newest[s] = t;
            memcpy(a->tsl + s * a->ntsl, tsl, (size_t)a->ntsl * sizeof(double));
        }
        newest[e] = (uint8_t)is_new;
        if (answer) place(a, out + e * a->nout, e * a->nout, pend0);
    }
    return a->error ? -1 : missing | (a->npend ? 2 : 0);
}

/* the entity's aggregates as of its newest event (Aggregator.current); 1: no window */
static int current(Agg *a, i64 s, double *out, i64 base) {
    int missing = 0;
    i64 pend0 = a->npend, t = a->newest[s];
    for (int gi = 0; gi < a->ngroups; gi++) {
        Group *g = &a->groups[gi];
        void *gs = a->gs[s * a->ngroups + gi];
        double *o = a->tmp + a->goff[gi];
        if (g->kind == G_PANES) panes_values(a, g, gs, t, o, a->goff[gi], &missing);
        else slide_running(g, gs, o);
    }
    double *o = a->tmp + a->goff[a->ngroups];
    for (int i = 0; i < a->newm; i++) o[i] = a->ew1[s * a->newm + i] / a->ew2[s * a->newm + i];
    memcpy(o + a->newm, a->tsl + s * a->ntsl, (size_t)a->ntsl * sizeof(double));
    if (!missing) place(a, out, base, pend0);
    return missing;
}

/* `current` of n entities (open slots) into n rows of `out`; flags as agg_run */
int agg_current_many(Agg *a, i64 n, const i64 *slots, double *out) {
    int missing = 0;
    for (i64 i = 0; i < n; i++) missing |= current(a, slots[i], out + i * a->nout, i * a->nout);
    return missing | (a->npend ? 2 : 0);
}

/* Drop state no event at or after `horizon` can reach; write the slots of entities that left
 * to `gone` and return how many. */
i64 agg_evict(Agg *a, i64 horizon, i64 reach, i64 *gone) {
    i64 k = 0;
    for (i64 s = 0; s < a->cap; s++) {
        if (!a->alive[s]) continue;
        int empty = 1;
        for (int gi = 0; gi < a->ngroups; gi++) {
            Group *g = &a->groups[gi];
            void *gs = a->gs[s * a->ngroups + gi];
            if (g->kind == G_PANES) {
                panes_evict(g, gs, horizon);
                empty &= ((Panes *)gs)->n == 0;
            } else {
                empty &= slide_evict(g, gs, horizon);
            }
        }
        if (empty && (!a->has_newest[s] || a->newest[s] <= horizon - reach)) {
            slot_free(a, s);
            gone[k++] = s;
        }
    }
    return k;
}

i64 agg_pending(Agg *a, i64 i, i64 *pos, uint8_t *regs) {
    if (i >= a->npend) {
        for (i64 j = 0; j < a->npend; j++) free(a->pend[j].regs);
        a->npend = 0;
        return 0;
    }
    *pos = a->pend[i].pos;
    memcpy(regs, a->pend[i].regs, (size_t)1 << a->pend[i].p);
    return (i64)1 << a->pend[i].p;
}

i64 agg_seq(Agg *a, i64 set) {
    if (set >= 0) a->seq = set;
    return a->seq;
}
