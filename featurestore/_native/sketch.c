/* Distinct sketches (featurestore/sketch.py), exact sums (math.fsum) and small helpers. */
#include <math.h>
#include <string.h>

#include "agg.h"

void *xrealloc(void *p, size_t n) {
    void *q = realloc(p, n ? n : 1);
    if (!q) abort(); /* out of memory: nothing sensible to return to Python */
    return q;
}

i64 floor_mod(i64 a, i64 b) {
    i64 r = a % b;
    return r < 0 ? r + b : r;
}

/* Python's min(a, b) and max(a, b): the first argument unless the second beats it */
double py_min(double a, double b) { return b < a ? b : a; }
double py_max(double a, double b) { return b > a ? b : a; }

static void reg_add(uint8_t *regs, u64 h, int p) {
    u64 w = h << p; /* the bits below the index, shifted to the top */
    u64 i = h >> (64 - p);
    int r = w ? 1 + __builtin_clzll(w) : 65 - p;
    if (r > regs[i]) regs[i] = (uint8_t)r;
}

static void densify(Sketch *s, int p) {
    s->regs = calloc((size_t)1 << p, 1);
    if (!s->regs) abort();
    for (int j = 0; j < s->n; j++) reg_add(s->regs, s->h[j], p);
    free(s->h);
    s->h = NULL;
    s->n = s->cap = 0;
}

void sk_init1(Sketch *s, u64 h) {
    s->cap = 4;
    s->h = xrealloc(NULL, 4 * sizeof(u64));
    s->h[0] = h;
    s->n = 1;
    s->regs = NULL;
}

void sk_free(Sketch *s) {
    free(s->h);
    free(s->regs);
    memset(s, 0, sizeof *s);
}

int sk_copy(Sketch *dst, const Sketch *src, int p) {
    memset(dst, 0, sizeof *dst);
    if (src->regs) {
        size_t m = (size_t)1 << p;
        dst->regs = xrealloc(NULL, m);
        memcpy(dst->regs, src->regs, m);
    } else {
        dst->cap = src->n > 4 ? src->n : 4;
        dst->h = xrealloc(NULL, (size_t)dst->cap * sizeof(u64));
        memcpy(dst->h, src->h, (size_t)src->n * sizeof(u64));
        dst->n = src->n;
    }
    return 0;
}

static int contains(const Sketch *s, u64 h) {
    for (int j = 0; j < s->n; j++)
        if (s->h[j] == h) return 1;
    return 0;
}

/* sketch_add: a set outgrowing SPARSE_MAX becomes registers */
int sk_add(Sketch *s, u64 h, int p) {
    if (s->regs) {
        reg_add(s->regs, h, p);
        return 0;
    }
    if (contains(s, h)) return 0;
    if (s->n == s->cap) {
        s->cap = s->cap ? 2 * s->cap : 4;
        s->h = xrealloc(s->h, (size_t)s->cap * sizeof(u64));
    }
    s->h[s->n++] = h;
    if (s->n > SPARSE_MAX) densify(s, p);
    return 0;
}

/* a := sketch_merge(a, b): the union; registers are maxima, so the order of adds is free */
int sk_merge_into(Sketch *a, const Sketch *b, int p) {
    if (b->regs) {
        size_t m = (size_t)1 << p;
        if (!a->regs) {
            Sketch t;
            sk_copy(&t, b, p);
            for (int j = 0; j < a->n; j++) reg_add(t.regs, a->h[j], p);
            sk_free(a);
            *a = t;
            return 0;
        }
        for (size_t i = 0; i < m; i++)
            if (b->regs[i] > a->regs[i]) a->regs[i] = b->regs[i];
        return 0;
    }
    for (int j = 0; j < b->n; j++) sk_add(a, b->h[j], p);
    return 0;
}

static void pend(Agg *a, i64 pos, const uint8_t *regs, int p) {
    if (a->npend == a->cappend) {
        a->cappend = a->cappend ? 2 * a->cappend : 8;
        a->pend = xrealloc(a->pend, (size_t)a->cappend * sizeof(Pending));
    }
    Pending *q = &a->pend[a->npend++];
    q->pos = pos;
    q->p = p;
    q->regs = xrealloc(NULL, (size_t)1 << p);
    memcpy(q->regs, regs, (size_t)1 << p);
}

/* HyperLogLog with linear counting, as sketch_estimate. numpy sums the registers' powers of
 * two pairwise; when the exact sum spans at most 53 bits every partial sum is exact, whatever
 * the order, and it is computed here in integers. Otherwise Python computes it (`pos`). */
static double dense_estimate(Agg *a, const uint8_t *regs, int p, i64 pos) {
    i64 m = (i64)1 << p;
    unsigned __int128 total = 0;
    int rmax = 0;
    i64 zeros = 0;
    for (i64 i = 0; i < m; i++) {
        int r = regs[i];
        total += (unsigned __int128)1 << (65 - r);
        if (r > rmax) rmax = r;
        if (!r) zeros++;
    }
    int top = 127;
    while (!((total >> top) & 1)) top--;
    if (top - (65 - rmax) > 52) {
        pend(a, pos, regs, p);
        return NAN;
    }
    double sum = ldexp((double)total, -65);
    double md = (double)m;
    double alpha = 0.7213 / (1.0 + 1.079 / md);
    double est = alpha * md * md / sum;
    if (est <= 2.5 * md && zeros) return md * log(md / (double)zeros);
    return est;
}

double sk_estimate(Agg *a, const Sketch *s, int p, i64 pos) {
    if (!s->regs) return (double)s->n;
    return dense_estimate(a, s->regs, p, pos);
}

/* sketch_estimate(sketch_merge(x, y)) without building the union while it stays a set */
double sk_union_estimate(Agg *a, const Sketch *x, const Sketch *y, int p, i64 pos) {
    if (!x->regs && !y->regs) {
        int u = x->n;
        for (int j = 0; j < y->n; j++)
            if (!contains(x, y->h[j])) u++;
        if (u <= SPARSE_MAX) return (double)u;
    }
    Sketch t;
    sk_copy(&t, x, p);
    sk_merge_into(&t, y, p);
    double est = sk_estimate(a, &t, p, pos);
    sk_free(&t);
    return est;
}

/* math.fsum: Shewchuk's exact partials, then the correctly rounded sum (CPython's code) */
double fsum(const double *xs, i64 count, int *overflow) {
    i64 cap = 32, n = 0;
    double small[32], *p = small;
    double x, y, t, hi, yr, lo = 0.0;
    for (i64 k = 0; k < count; k++) {
        x = xs[k];
        double xsave = x;
        i64 i = 0;
        for (i64 j = 0; j < n; j++) {
            y = p[j];
            if (fabs(x) < fabs(y)) {
                t = x;
                x = y;
                y = t;
            }
            hi = x + y;
            yr = hi - x;
            lo = y - yr;
            if (lo != 0.0) p[i++] = lo;
            x = hi;
        }
        n = i;
        if (x != 0.0) {
            if (!isfinite(x)) {
                if (isfinite(xsave)) *overflow = 1;
                n = 0; /* inputs are finite: only an overflow gets here */
                continue;
            }
            if (n >= cap) {
                double *q = xrealloc(p == small ? NULL : p, (size_t)(2 * cap) * sizeof(double));
                if (p == small) memcpy(q, small, sizeof small);
                p = q;
                cap *= 2;
            }
            p[n++] = x;
        }
    }
    hi = 0.0;
    if (n > 0) {
        hi = p[--n];
        while (n > 0) {
            x = hi;
            y = p[--n];
            hi = x + y;
            yr = hi - x;
            lo = y - yr;
            if (lo != 0.0) break;
        }
        if (n > 0 && ((lo < 0.0 && p[n - 1] < 0.0) || (lo > 0.0 && p[n - 1] > 0.0))) {
            y = lo * 2.0;
            x = hi + y;
            yr = x - hi;
            if (y == yr) hi = x;
        }
    }
    if (p != small) free(p);
    return hi;
}
