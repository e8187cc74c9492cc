/* Checkpoints: every live entity's state as two flat streams (integers and floats), the
 * layout native_engine.py reads into the Python engine's JSON state and writes back. Per
 * entity, integers: slot, has newest, newest, each ewm's reference time, then per window group
 *   panes: count, per pane: start, last, per sketch: -1 and its registers packed 8 to a word,
 *          or its size and hashes;
 *   sliding: length, lo, has k, per event: ts, seq, hashes;
 * floats: time_since_last values, each ewm's sum and weight, then per window group
 *   panes: per pane count and the field summaries; sliding: k, s1, s2, per event its values. */
#include <string.h>

#include "agg.h"

typedef struct {
    i64 *ints;
    double *dbl;
    i64 ni, nd, icap, dcap;
} Out;

static void put_i(Out *o, i64 v) {
    if (o->ni < o->icap) o->ints[o->ni] = v;
    o->ni++;
}

static void put_d(Out *o, double v) {
    if (o->nd < o->dcap) o->dbl[o->nd] = v;
    o->nd++;
}

static void put_sketch(Out *o, const Sketch *s, int p) {
    if (!s->regs) {
        put_i(o, s->n);
        for (int j = 0; j < s->n; j++) put_i(o, (i64)s->h[j]);
        return;
    }
    put_i(o, -1);
    size_t m = (size_t)1 << p;
    for (size_t w = 0; w < m / 8; w++) {
        i64 word;
        memcpy(&word, s->regs + 8 * w, 8);
        put_i(o, word);
    }
}

/* Write the state; returns 0, or 1 if a buffer was too small: sizes[0..1] say what is needed */
int agg_export(Agg *a, i64 *ints, i64 icap, double *dbl, i64 dcap, i64 *sizes) {
    Out o = {ints, dbl, 0, 0, icap, dcap};
    for (i64 s = 0; s < a->cap; s++) {
        if (!a->alive[s]) continue;
        put_i(&o, s);
        put_i(&o, a->has_newest[s]);
        put_i(&o, a->newest[s]);
        for (int i = 0; i < a->ntsl; i++) put_d(&o, a->tsl[s * a->ntsl + i]);
        for (int i = 0; i < a->newm; i++) {
            put_i(&o, a->ew0[s * a->newm + i]);
            put_d(&o, a->ew1[s * a->newm + i]);
            put_d(&o, a->ew2[s * a->newm + i]);
        }
        for (int gi = 0; gi < a->ngroups; gi++) {
            const Group *g = &a->groups[gi];
            const void *gs = a->gs[s * a->ngroups + gi];
            if (g->kind == G_PANES) {
                const Panes *ps = gs;
                int w = 1 + W_FIELD * g->nf;
                put_i(&o, ps->n);
                for (int i = 0; i < ps->n; i++) {
                    put_i(&o, ps->start[i]);
                    put_i(&o, ps->last[i]);
                    for (int k = 0; k < w; k++) put_d(&o, ps->x[i * w + k]);
                    for (int d = 0; d < g->nd; d++) put_sketch(&o, &ps->sk[i * g->nd + d], g->dprec[d]);
                }
            } else {
                const Slide *sl = gs;
                put_i(&o, sl->n);
                put_i(&o, sl->lo);
                put_i(&o, sl->has_k);
                for (int f = 0; f < g->nf; f++) put_d(&o, sl->k[f]);
                for (int f = 0; f < g->nf; f++) put_d(&o, sl->s1[f]);
                for (int f = 0; f < g->nf; f++) put_d(&o, sl->s2[f]);
                for (i64 i = 0; i < sl->n; i++) {
                    put_i(&o, sl->ts[i]);
                    put_i(&o, sl->seq[i]);
                    for (int d = 0; d < g->nd; d++) put_i(&o, (i64)sl->h[i * g->nd + d]);
                    for (int f = 0; f < g->nf; f++) put_d(&o, sl->v[i * g->nf + f]);
                }
            }
        }
    }
    sizes[0] = o.ni;
    sizes[1] = o.nd;
    return o.ni > icap || o.nd > dcap;
}

/* Read state written as by agg_export (slots opened here); returns 0, 1 on a malformed stream */
int agg_import(Agg *a, const i64 *ints, i64 ni, const double *dbl, i64 nd) {
    const i64 *ip = ints, *iend = ints + ni;
    const double *dp = dbl, *dend = dbl + nd;
#define NEED(ptr, end, k) \
    if ((end) - (ptr) < (k)) return 1
    while (ip < iend) {
        NEED(ip, iend, 3);
        i64 s = *ip++;
        if (s < 0) return 1;
        agg_open(a, s);
        a->has_newest[s] = (uint8_t)*ip++;
        a->newest[s] = *ip++;
        NEED(dp, dend, a->ntsl + 2 * a->newm);
        NEED(ip, iend, a->newm);
        for (int i = 0; i < a->ntsl; i++) a->tsl[s * a->ntsl + i] = *dp++;
        for (int i = 0; i < a->newm; i++) {
            a->ew0[s * a->newm + i] = *ip++;
            a->ew1[s * a->newm + i] = *dp++;
            a->ew2[s * a->newm + i] = *dp++;
        }
        for (int gi = 0; gi < a->ngroups; gi++) {
            const Group *g = &a->groups[gi];
            void *gs = a->gs[s * a->ngroups + gi];
            NEED(ip, iend, 1);
            if (g->kind == G_PANES) {
                Panes *ps = gs;
                int w = 1 + W_FIELD * g->nf;
                i64 count = *ip++;
                ps->cap = count > 2 ? (int)count : 2;
                ps->start = xrealloc(NULL, (size_t)ps->cap * sizeof(i64));
                ps->last = xrealloc(NULL, (size_t)ps->cap * sizeof(i64));
                ps->x = xrealloc(NULL, (size_t)ps->cap * w * sizeof(double));
                ps->sk = calloc((size_t)ps->cap * (g->nd ? g->nd : 1), sizeof(Sketch));
                for (i64 i = 0; i < count; i++) {
                    NEED(ip, iend, 2);
                    NEED(dp, dend, w);
                    ps->start[i] = *ip++;
                    ps->last[i] = *ip++;
                    memcpy(ps->x + i * w, dp, (size_t)w * sizeof(double));
                    dp += w;
                    ps->n++; /* counted now: a malformed stream frees what is here */
                    for (int d = 0; d < g->nd; d++) {
                        Sketch *sk = &ps->sk[i * g->nd + d];
                        NEED(ip, iend, 1);
                        i64 tag = *ip++;
                        if (tag < 0) {
                            size_t m = (size_t)1 << g->dprec[d];
                            NEED(ip, iend, (i64)(m / 8));
                            sk->regs = xrealloc(NULL, m);
                            memcpy(sk->regs, ip, m);
                            ip += m / 8;
                        } else {
                            NEED(ip, iend, tag);
                            sk->cap = tag > 4 ? (int)tag : 4;
                            sk->h = xrealloc(NULL, (size_t)sk->cap * sizeof(u64));
                            for (i64 j = 0; j < tag; j++) sk->h[j] = (u64)*ip++;
                            sk->n = (int)tag;
                        }
                    }
                }
            } else {
                Slide *sl = gs;
                NEED(ip, iend, 3);
                i64 count = *ip++;
                sl->lo = *ip++;
                sl->has_k = (int)*ip++;
                NEED(dp, dend, 3 * g->nf);
                for (int f = 0; f < g->nf; f++) sl->k[f] = *dp++;
                for (int f = 0; f < g->nf; f++) sl->s1[f] = *dp++;
                for (int f = 0; f < g->nf; f++) sl->s2[f] = *dp++;
                sl->cap = count > 4 ? count : 4;
                sl->ts = xrealloc(NULL, (size_t)sl->cap * sizeof(i64));
                sl->seq = xrealloc(NULL, (size_t)sl->cap * sizeof(i64));
                sl->v = xrealloc(NULL, (size_t)sl->cap * (g->nf ? g->nf : 1) * sizeof(double));
                sl->h = xrealloc(NULL, (size_t)sl->cap * (g->nd ? g->nd : 1) * sizeof(u64));
                for (i64 i = 0; i < count; i++) {
                    NEED(ip, iend, 2 + g->nd);
                    NEED(dp, dend, g->nf);
                    sl->ts[i] = *ip++;
                    sl->seq[i] = *ip++;
                    for (int d = 0; d < g->nd; d++) sl->h[i * g->nd + d] = (u64)*ip++;
                    for (int f = 0; f < g->nf; f++) sl->v[i * g->nf + f] = *dp++;
                }
                sl->n = count;
                if (sl->lo < 0 || sl->lo > count || (count && sl->lo == count)) return 1;
                slide_rebuild(g, sl);
            }
        }
    }
    return dp != dend;
#undef NEED
}

/* The open slots, ascending, into `out` (up to `cap` of them); returns how many are open */
i64 agg_live(Agg *a, i64 *out, i64 cap) {
    i64 k = 0;
    for (i64 s = 0; s < a->cap; s++) {
        if (!a->alive[s]) continue;
        if (k < cap) out[k] = s;
        k++;
    }
    return k;
}
