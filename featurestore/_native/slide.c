/* Sliding windows: featurestore/sliding_group.py in C, step for step. */
#include <math.h>
#include <string.h>

#include "agg.h"

/* ---- counted hashes (the exact distinct count of a sliding window) */

static void hmap_grow(HMap *m) {
    i64 old = m->cap;
    u64 *keys = m->key;
    i64 *cnt = m->cnt;
    m->cap = old ? 2 * old : 8;
    m->key = calloc((size_t)m->cap, sizeof(u64));
    m->cnt = calloc((size_t)m->cap, sizeof(i64));
    if (!m->key || !m->cnt) abort();
    m->n = 0;
    for (i64 i = 0; i < old; i++)
        if (cnt[i]) hmap_add(m, keys[i], cnt[i]);
    free(keys);
    free(cnt);
}

/* add `by` (positive or negative) to the key's count; a count of 0 leaves the map */
void hmap_add(HMap *m, u64 key, i64 by) {
    if (2 * (m->n + 1) > m->cap) hmap_grow(m);
    i64 mask = m->cap - 1, i = (i64)(key & (u64)mask);
    while (m->cnt[i] && m->key[i] != key) i = (i + 1) & mask;
    if (!m->cnt[i]) {
        m->key[i] = key;
        m->n++;
    }
    m->cnt[i] += by;
    if (m->cnt[i]) return;
    m->n--; /* deleted: shift the following entries of the run back (linear probing) */
    i64 hole = i;
    for (i64 j = (i + 1) & mask; m->cnt[j]; j = (j + 1) & mask) {
        i64 home = (i64)(m->key[j] & (u64)mask);
        if (((j - home) & mask) >= ((j - hole) & mask)) {
            m->key[hole] = m->key[j];
            m->cnt[hole] = m->cnt[j];
            m->cnt[j] = 0;
            hole = j;
        }
    }
}

/* ---- monotonic deques of (ts, value) */

static void dq_push(Deque *q, i64 ts, double v) {
    if (q->head + q->n == q->cap) {
        if (q->head) {
            memmove(q->ts, q->ts + q->head, (size_t)q->n * sizeof(i64));
            memmove(q->v, q->v + q->head, (size_t)q->n * sizeof(double));
            q->head = 0;
        } else {
            q->cap = q->cap ? 2 * q->cap : 4;
            q->ts = xrealloc(q->ts, (size_t)q->cap * sizeof(i64));
            q->v = xrealloc(q->v, (size_t)q->cap * sizeof(double));
        }
    }
    q->ts[q->head + q->n] = ts;
    q->v[q->head + q->n] = v;
    q->n++;
}

static double dq_back(const Deque *q) { return q->v[q->head + q->n - 1]; }

/* _insert_extreme: fold a late value in (`mins`: a beats b if a <= b; else a >= b) */
static void dq_insert(Deque *q, i64 ts, double v, int mins) {
    i64 *t = q->ts + q->head;
    double *x = q->v + q->head;
    i64 pos = 0;
    while (pos < q->n && t[pos] <= ts) pos++;
    if (pos < q->n && (mins ? x[pos] <= v : x[pos] >= v)) return;
    i64 start = pos;
    while (start > 0 && (mins ? v <= x[start - 1] : v >= x[start - 1])) start--;
    if (start == pos) { /* one more entry: make room at pos */
        dq_push(q, 0, 0.0);
        t = q->ts + q->head;
        x = q->v + q->head;
        memmove(t + pos + 1, t + pos, (size_t)(q->n - 1 - pos) * sizeof(i64));
        memmove(x + pos + 1, x + pos, (size_t)(q->n - 1 - pos) * sizeof(double));
    } else { /* entries start..pos-1 give way to one */
        i64 gone = pos - start - 1;
        memmove(t + start + 1, t + pos, (size_t)(q->n - pos) * sizeof(i64));
        memmove(x + start + 1, x + pos, (size_t)(q->n - pos) * sizeof(double));
        q->n -= gone;
    }
    t[start] = ts;
    x[start] = v;
}

/* ---- the buffer */

Slide *slide_new(const Group *g) {
    Slide *s = calloc(1, sizeof *s);
    if (!s) abort();
    int nf = g->nf ? g->nf : 1, nd = g->nd ? g->nd : 1;
    s->k = calloc((size_t)nf, sizeof(double));
    s->s1 = calloc((size_t)nf, sizeof(double));
    s->s2 = calloc((size_t)nf, sizeof(double));
    s->mins = calloc((size_t)nf, sizeof(Deque));
    s->maxs = calloc((size_t)nf, sizeof(Deque));
    s->dist = calloc((size_t)nd, sizeof(HMap));
    if (!s->k || !s->s1 || !s->s2 || !s->mins || !s->maxs || !s->dist) abort();
    return s;
}

void slide_free(const Group *g, Slide *s) {
    for (int f = 0; f < g->nf; f++) {
        free(s->mins[f].ts);
        free(s->mins[f].v);
        free(s->maxs[f].ts);
        free(s->maxs[f].v);
    }
    for (int d = 0; d < g->nd; d++) {
        free(s->dist[d].key);
        free(s->dist[d].cnt);
    }
    free(s->ts);
    free(s->seq);
    free(s->v);
    free(s->h);
    free(s->k);
    free(s->s1);
    free(s->s2);
    free(s->mins);
    free(s->maxs);
    free(s->dist);
    free(s);
}

static i64 bisect_right(const Slide *s, i64 ts) {
    i64 lo = 0, hi = s->n;
    while (lo < hi) {
        i64 mid = (lo + hi) / 2;
        if (ts < s->ts[mid]) hi = mid;
        else lo = mid + 1;
    }
    return lo;
}

static void add(const Group *g, Slide *s, i64 i, i64 by) {
    const double *v = s->v + i * g->nf;
    for (int f = 0; f < g->nf; f++) {
        double d = v[f] - s->k[f];
        if (by > 0) {
            s->s1[f] += d;
            s->s2[f] += d * d;
        } else {
            s->s1[f] -= d;
            s->s2[f] -= d * d;
        }
    }
    for (int f = 0; f < g->nd; f++) hmap_add(&s->dist[f], s->h[i * g->nd + f], by);
}

static void expire(const Group *g, Slide *s, i64 bound) {
    while (s->ts[s->lo] <= bound) {
        add(g, s, s->lo, -1);
        s->lo++;
    }
    int any = 0;
    for (int f = 0; f < g->nf; f++) any |= s->s1[f] != 0.0;
    if (s->lo == s->n - 1 && any) { /* one event left: restart the sums, shifted by it */
        memcpy(s->k, s->v + (s->n - 1) * g->nf, (size_t)g->nf * sizeof(double));
        memset(s->s1, 0, (size_t)g->nf * sizeof(double));
        memset(s->s2, 0, (size_t)g->nf * sizeof(double));
    }
    for (int q = 0; q < g->nmin; q++) {
        Deque *d = &s->mins[g->minf[q]];
        while (d->n && d->ts[d->head] <= bound) d->head++, d->n--;
    }
    for (int q = 0; q < g->nmax; q++) {
        Deque *d = &s->maxs[g->maxf[q]];
        while (d->n && d->ts[d->head] <= bound) d->head++, d->n--;
    }
}

/* fold an event in; -1 if it is the entity's newest, else where it went */
i64 slide_fold(const Group *g, Slide *s, i64 ts, i64 seq, const double *nums, const u64 *h) {
    int nf = g->nf, nd = g->nd;
    if (s->n == s->cap) {
        s->cap = s->cap ? 2 * s->cap : 4;
        s->ts = xrealloc(s->ts, (size_t)s->cap * sizeof(i64));
        s->seq = xrealloc(s->seq, (size_t)s->cap * sizeof(i64));
        s->v = xrealloc(s->v, (size_t)s->cap * (nf ? nf : 1) * sizeof(double));
        s->h = xrealloc(s->h, (size_t)s->cap * (nd ? nd : 1) * sizeof(u64));
    }
    i64 newest = s->n ? s->ts[s->n - 1] : ts;
    i64 pos = ts >= newest ? s->n : bisect_right(s, ts);
    i64 tail = s->n - pos;
    memmove(s->ts + pos + 1, s->ts + pos, (size_t)tail * sizeof(i64));
    memmove(s->seq + pos + 1, s->seq + pos, (size_t)tail * sizeof(i64));
    memmove(s->v + (pos + 1) * nf, s->v + pos * nf, (size_t)(tail * nf) * sizeof(double));
    memmove(s->h + (pos + 1) * nd, s->h + pos * nd, (size_t)(tail * nd) * sizeof(u64));
    s->ts[pos] = ts;
    s->seq[pos] = seq;
    double *v = s->v + pos * nf;
    for (int f = 0; f < nf; f++) v[f] = nums[g->fidx[f]];
    for (int f = 0; f < nd; f++) s->h[pos * nd + f] = h[g->didx[f]];
    s->n++;
    if (!s->has_k) {
        memcpy(s->k, v, (size_t)nf * sizeof(double));
        s->has_k = 1;
    }
    if (ts >= newest) {
        add(g, s, pos, 1);
        for (int q = 0; q < g->nmin; q++) {
            int f = g->minf[q];
            Deque *d = &s->mins[f];
            while (d->n && dq_back(d) >= v[f]) d->n--;
            dq_push(d, ts, v[f]);
        }
        for (int q = 0; q < g->nmax; q++) {
            int f = g->maxf[q];
            Deque *d = &s->maxs[f];
            while (d->n && dq_back(d) <= v[f]) d->n--;
            dq_push(d, ts, v[f]);
        }
        /* as sliding_group.py: no call when nothing leaves the window */
        if (s->ts[s->lo] <= ts - g->size) expire(g, s, ts - g->size);
        return -1;
    }
    if (ts > newest - g->size) {
        add(g, s, pos, 1);
        for (int q = 0; q < g->nmin; q++) dq_insert(&s->mins[g->minf[q]], ts, v[g->minf[q]], 1);
        for (int q = 0; q < g->nmax; q++) dq_insert(&s->maxs[g->maxf[q]], ts, v[g->maxf[q]], 0);
    } else {
        s->lo++;
    }
    return pos;
}

/* the aggregates of the window of the entity's newest event */
void slide_running(const Group *g, const Slide *s, double *out) {
    double n = (double)(s->n - s->lo);
    const double *last = s->v + (s->n - 1) * g->nf;
    for (int q = 0; q < g->nplan; q++) {
        int j = g->pj[q];
        double s1 = s->s1[j], s2 = s->s2[j];
        switch (g->pkind[q]) {
        case K_COUNT: out[q] = n; break;
        case K_RATE: out[q] = n * 1000.0 / (double)g->size; break;
        case K_DISTINCT: out[q] = (double)s->dist[j].n; break;
        case K_SUM: out[q] = s->k[j] * n + s1; break;
        case K_MEAN: out[q] = s->k[j] + s1 / n; break;
        case K_STD: out[q] = sqrt(py_max(s2 - s1 * s1 / n, 0.0) / n); break;
        case K_MIN: out[q] = s->mins[j].v[s->mins[j].head]; break;
        case K_MAX: out[q] = s->maxs[j].v[s->maxs[j].head]; break;
        default: out[q] = last[j];
        }
    }
}

static int cmp_u64(const void *x, const void *y) {
    u64 a = *(const u64 *)x, b = *(const u64 *)y;
    return a < b ? -1 : a > b;
}

/* _scan: a late event's window (ts - size, ts], members up to the event itself (at `pos`) */
void slide_scan(Agg *a, const Group *g, const Slide *s, i64 ts, i64 pos, double *out) {
    i64 lo = bisect_right(s, ts - g->size), m = pos + 1 - lo;
    double n = (double)m;
    double *col = xrealloc(NULL, (size_t)m * sizeof(double));
    for (int q = 0; q < g->nplan; q++) {
        int j = g->pj[q], kind = g->pkind[q];
        if (kind == K_COUNT) {
            out[q] = n;
        } else if (kind == K_RATE) {
            out[q] = n * 1000.0 / (double)g->size;
        } else if (kind == K_DISTINCT) {
            u64 *hs = xrealloc(NULL, (size_t)m * sizeof(u64));
            for (i64 i = 0; i < m; i++) hs[i] = s->h[(lo + i) * g->nd + j];
            qsort(hs, (size_t)m, sizeof(u64), cmp_u64);
            i64 u = m > 0;
            for (i64 i = 1; i < m; i++) u += hs[i] != hs[i - 1];
            free(hs);
            out[q] = (double)u;
        } else {
            for (i64 i = 0; i < m; i++) col[i] = s->v[(lo + i) * g->nf + j];
            if (kind == K_SUM) {
                out[q] = fsum(col, m, &a->error);
            } else if (kind == K_MEAN) {
                out[q] = fsum(col, m, &a->error) / n;
            } else if (kind == K_STD) {
                double mean = fsum(col, m, &a->error) / n;
                /* `(v - mean) ** 2` is libm's pow(|v - mean|, 2.0), which may differ from the
                 * square by an ulp: keep the compiler from turning it into one */
                volatile double two = 2.0;
                for (i64 i = 0; i < m; i++) col[i] = pow(fabs(col[i] - mean), two);
                out[q] = sqrt(fsum(col, m, &a->error) / n);
            } else if (kind == K_MIN || kind == K_MAX) {
                double e = col[0];
                for (i64 i = 1; i < m; i++)
                    if (kind == K_MIN ? col[i] < e : col[i] > e) e = col[i];
                out[q] = e;
            } else {
                out[q] = col[m - 1];
            }
        }
    }
    free(col);
}

int slide_evict(const Group *g, Slide *s, i64 horizon) {
    i64 bound = horizon - g->size;
    if (s->lo && s->ts[0] <= bound) {
        i64 k = bisect_right(s, bound);
        if (k > s->lo) k = s->lo;
        i64 rest = s->n - k;
        int nf = g->nf, nd = g->nd;
        memmove(s->ts, s->ts + k, (size_t)rest * sizeof(i64));
        memmove(s->seq, s->seq + k, (size_t)rest * sizeof(i64));
        memmove(s->v, s->v + k * nf, (size_t)(rest * nf) * sizeof(double));
        memmove(s->h, s->h + k * nd, (size_t)(rest * nd) * sizeof(u64));
        s->n = rest;
        s->lo -= k;
    }
    return !s->n || s->ts[s->n - 1] <= bound;
}

/* deques and counted hashes from the buffer (after loading a checkpoint) */
void slide_rebuild(const Group *g, Slide *s) {
    for (i64 i = s->lo; i < s->n; i++) {
        const double *v = s->v + i * g->nf;
        for (int q = 0; q < g->nmin; q++) {
            Deque *d = &s->mins[g->minf[q]];
            while (d->n && dq_back(d) >= v[g->minf[q]]) d->n--;
            dq_push(d, s->ts[i], v[g->minf[q]]);
        }
        for (int q = 0; q < g->nmax; q++) {
            Deque *d = &s->maxs[g->maxf[q]];
            while (d->n && dq_back(d) <= v[g->maxf[q]]) d->n--;
            dq_push(d, s->ts[i], v[g->maxf[q]]);
        }
        for (int f = 0; f < g->nd; f++) hmap_add(&s->dist[f], s->h[i * g->nd + f], 1);
    }
}
