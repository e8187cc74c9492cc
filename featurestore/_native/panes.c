/* Tumbling and hopping windows: featurestore/pane_group.py in C, step for step. */
#include <math.h>
#include <string.h>

#include "agg.h"

#define W(g) (1 + W_FIELD * (g)->nf)

Panes *panes_new(const Group *g) {
    Panes *ps = calloc(1, sizeof *ps);
    if (!ps) abort();
    ps->cx = xrealloc(NULL, (size_t)W(g) * sizeof(double));
    ps->csk = calloc((size_t)(g->nd ? g->nd : 1), sizeof(Sketch));
    if (!ps->csk) abort();
    return ps;
}

static void cache_clear(const Group *g, Panes *ps) {
    if (ps->cvalid && ps->chas)
        for (int d = 0; d < g->nd; d++) sk_free(&ps->csk[d]);
    ps->cvalid = ps->chas = 0;
}

void panes_free(const Group *g, Panes *ps) {
    cache_clear(g, ps);
    for (int i = 0; i < ps->n * g->nd; i++) sk_free(&ps->sk[i]);
    free(ps->start);
    free(ps->last);
    free(ps->x);
    free(ps->sk);
    free(ps->cx);
    free(ps->csk);
    free(ps);
}

static int find(const Panes *ps, i64 start) {
    for (int i = ps->n - 1; i >= 0; i--) /* the newest panes are the likely ones */
        if (ps->start[i] == start) return i;
    return -1;
}

static int insert(const Group *g, Panes *ps, i64 start) {
    int w = W(g), nd = g->nd;
    if (ps->n == ps->cap) {
        ps->cap = ps->cap ? 2 * ps->cap : 2;
        ps->start = xrealloc(ps->start, (size_t)ps->cap * sizeof(i64));
        ps->last = xrealloc(ps->last, (size_t)ps->cap * sizeof(i64));
        ps->x = xrealloc(ps->x, (size_t)ps->cap * w * sizeof(double));
        ps->sk = xrealloc(ps->sk, (size_t)ps->cap * (nd ? nd : 1) * sizeof(Sketch));
    }
    int i = ps->n;
    while (i > 0 && ps->start[i - 1] > start) i--;
    int tail = ps->n - i;
    memmove(ps->start + i + 1, ps->start + i, (size_t)tail * sizeof(i64));
    memmove(ps->last + i + 1, ps->last + i, (size_t)tail * sizeof(i64));
    memmove(ps->x + (i + 1) * w, ps->x + i * w, (size_t)tail * w * sizeof(double));
    memmove(ps->sk + (i + 1) * nd, ps->sk + i * nd, (size_t)tail * nd * sizeof(Sketch));
    ps->start[i] = start;
    ps->n++;
    return i;
}

void panes_fold(Agg *a, const Group *g, Panes *ps, i64 ts, const double *nums, const u64 *h) {
    (void)a;
    i64 start = ts - floor_mod(ts, g->g);
    if (ps->cvalid && start < ps->cnewest) cache_clear(g, ps); /* a late event changed it */
    int i = find(ps, start);
    if (i < 0) {
        i = insert(g, ps, start);
        double *x = ps->x + i * W(g);
        x[0] = 1.0;
        ps->last[i] = ts;
        for (int k = 0; k < g->nf; k++) {
            double v = nums[g->fidx[k]];
            double *f = x + 1 + W_FIELD * k;
            f[0] = v;
            f[1] = 0.0;
            f[2] = f[3] = f[4] = v;
        }
        for (int d = 0; d < g->nd; d++) sk_init1(&ps->sk[i * g->nd + d], h[g->didx[d]]);
        return;
    }
    double *x = ps->x + i * W(g);
    double n = x[0] + 1.0;
    x[0] = n;
    int newer = ts >= ps->last[i]; /* ties go to the later arrival */
    if (newer) ps->last[i] = ts;
    for (int k = 0; k < g->nf; k++) {
        double v = nums[g->fidx[k]];
        double *f = x + 1 + W_FIELD * k;
        double s = f[0];
        double old_mean = s / (n - 1.0);
        s += v;
        f[0] = s;
        f[1] += (v - old_mean) * (v - s / n);
        if (v < f[2]) f[2] = v;
        if (v > f[3]) f[3] = v;
        if (newer) f[4] = v;
    }
    for (int d = 0; d < g->nd; d++) sk_add(&ps->sk[i * g->nd + d], h[g->didx[d]], g->dprec[d]);
}

/* the aggregates of one pane or merged summary; `tpos`: where out[0] sits, for Pending */
static void outputs(Agg *a, const Group *g, const double *x, const Sketch *sk, double *out,
                    i64 tpos) {
    double n = x[0];
    for (int q = 0; q < g->nplan; q++) {
        const double *f = x + 1 + W_FIELD * g->pj[q];
        switch (g->pkind[q]) {
        case K_COUNT: out[q] = n; break;
        case K_RATE: out[q] = n * 1000.0 / (double)g->size; break;
        case K_SUM: out[q] = f[0]; break;
        case K_MEAN: out[q] = f[0] / n; break;
        case K_STD: out[q] = sqrt(py_max(f[1], 0.0) / n); break;
        case K_MIN: out[q] = f[2]; break;
        case K_MAX: out[q] = f[3]; break;
        case K_LAST: out[q] = f[4]; break;
        default: out[q] = sk_estimate(a, &sk[g->pj[q]], g->dprec[g->pj[q]], tpos + q);
        }
    }
}

/* the aggregates of _merge([o, b]) without building it */
static void merged_outputs(Agg *a, const Group *g, const double *o, i64 olast,
                           const Sketch *osk, const double *b, i64 blast, const Sketch *bsk,
                           double *out, i64 tpos) {
    double na = o[0], nb = b[0], n = na + nb;
    for (int q = 0; q < g->nplan; q++) {
        int j = g->pj[q];
        const double *fa = o + 1 + W_FIELD * j, *fb = b + 1 + W_FIELD * j;
        switch (g->pkind[q]) {
        case K_COUNT: out[q] = n; break;
        case K_RATE: out[q] = n * 1000.0 / (double)g->size; break;
        case K_SUM: out[q] = fa[0] + fb[0]; break;
        case K_MEAN: out[q] = (fa[0] + fb[0]) / n; break;
        case K_STD: {
            double d = fb[0] / nb - fa[0] / na;
            out[q] = sqrt(py_max(fa[1] + (fb[1] + d * d * na * nb / n), 0.0) / n);
            break;
        }
        case K_MIN: out[q] = py_min(fa[2], fb[2]); break;
        case K_MAX: out[q] = py_max(fa[3], fb[3]); break;
        case K_LAST: out[q] = blast >= olast ? fb[4] : fa[4]; break;
        default: out[q] = sk_union_estimate(a, &osk[j], &bsk[j], g->dprec[j], tpos + q);
        }
    }
}

/* _merge: a left fold of the members, oldest first, into the cache */
static void merge_into_cache(const Group *g, Panes *ps, int first, int end) {
    int w = W(g), nd = g->nd;
    double *out = ps->cx;
    memcpy(out, ps->x + first * w, (size_t)w * sizeof(double));
    ps->clast = ps->last[first];
    for (int d = 0; d < nd; d++) sk_copy(&ps->csk[d], &ps->sk[first * nd + d], g->dprec[d]);
    for (int i = first + 1; i < end; i++) {
        const double *p = ps->x + i * w;
        double na = out[0], nb = p[0], n = na + nb;
        out[0] = n;
        int newer = 0;
        if (ps->last[i] >= ps->clast) {
            ps->clast = ps->last[i];
            newer = 1;
        }
        for (int k = 0; k < g->nf; k++) {
            double *fo = out + 1 + W_FIELD * k;
            const double *fp = p + 1 + W_FIELD * k;
            double delta = fp[0] / nb - fo[0] / na;
            fo[0] += fp[0];
            fo[1] += fp[1] + delta * delta * na * nb / n;
            fo[2] = py_min(fo[2], fp[2]);
            fo[3] = py_max(fo[3], fp[3]);
            if (newer) fo[4] = fp[4];
        }
        for (int d = 0; d < nd; d++) sk_merge_into(&ps->csk[d], &ps->sk[i * nd + d], g->dprec[d]);
    }
}

/* the merged summary of the window's panes before `newest` (returns 0 if there are none) */
static int older(const Group *g, Panes *ps, i64 newest) {
    i64 start = newest + g->g - g->size;
    if (ps->cvalid && ps->cstart == start) return ps->chas;
    cache_clear(g, ps);
    int first = 0;
    while (first < ps->n && ps->start[first] < start) first++;
    int end = first;
    while (end < ps->n && ps->start[end] < newest) end++;
    if (end > first) {
        merge_into_cache(g, ps, first, end);
        ps->chas = 1;
    }
    ps->cvalid = 1;
    ps->cstart = start;
    ps->cnewest = newest;
    return ps->chas;
}

/* PaneGroup.values: the aggregates of the window an event at `t` reports */
void panes_values(Agg *a, const Group *g, Panes *ps, i64 t, double *out, i64 tpos,
                  int *missing) {
    i64 newest = t - floor_mod(t, g->g);
    int w = W(g), nd = g->nd;
    int i = find(ps, newest);
    int has_older = g->g == g->size ? 0 : older(g, ps, newest);
    if (!has_older) {
        if (i < 0) {
            *missing = 1;
            return;
        }
        outputs(a, g, ps->x + i * w, ps->sk + i * nd, out, tpos);
    } else if (i < 0) {
        outputs(a, g, ps->cx, ps->csk, out, tpos);
    } else {
        merged_outputs(a, g, ps->cx, ps->clast, ps->csk, ps->x + i * w, ps->last[i],
                       ps->sk + i * nd, out, tpos);
    }
}

void panes_evict(const Group *g, Panes *ps, i64 horizon) {
    i64 first = horizon - floor_mod(horizon, g->g) + g->g - g->size;
    int k = 0, w = W(g), nd = g->nd;
    while (k < ps->n && ps->start[k] < first) k++;
    if (!k) return;
    for (int i = 0; i < k * nd; i++) sk_free(&ps->sk[i]);
    int rest = ps->n - k;
    memmove(ps->start, ps->start + k, (size_t)rest * sizeof(i64));
    memmove(ps->last, ps->last + k, (size_t)rest * sizeof(i64));
    memmove(ps->x, ps->x + k * w, (size_t)rest * w * sizeof(double));
    memmove(ps->sk, ps->sk + k * nd, (size_t)rest * nd * sizeof(Sketch));
    ps->n = rest;
}
