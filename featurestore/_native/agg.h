/* The feature aggregator's state and per-event loop in C: a twin of the Python engine
 * (featurestore/py_engine.py, pane_group.py, sliding_group.py, sketch.py) that repeats its
 * arithmetic operation for operation (no fast-math, no contraction), so every float is the same.
 * Plain C, no Python API: featurestore/native_engine.py loads it with ctypes and compiles it
 * on first use. Entities are slots the Python side maps names to. */
#ifndef RIFFLE_AGG_H
#define RIFFLE_AGG_H

#include <stdint.h>
#include <stdlib.h>

typedef long long i64;
typedef uint64_t u64;

enum { K_COUNT, K_RATE, K_SUM, K_MEAN, K_STD, K_MIN, K_MAX, K_LAST, K_DISTINCT };
enum { G_PANES, G_SLIDING };
enum { SRC_GROUP, SRC_EWM, SRC_TSL };
#define SPARSE_MAX 64
#define W_FIELD 5 /* per numeric field of a pane: sum, m2, min, max, last */

/* a distinct-count sketch: an exact set of hashes while small (regs NULL), then registers */
typedef struct {
    int n, cap;
    u64 *h;
    uint8_t *regs;
} Sketch;

/* a dense estimate whose register sum numpy may round differently: Python computes it */
typedef struct {
    i64 pos; /* index into the output buffer */
    int p;
    uint8_t *regs;
} Pending;

typedef struct {
    int kind;
    i64 g, size;
    int nf, nd, nplan;
    int *fidx, *didx, *dprec, *pkind, *pj;
    int nmin, nmax;
    int *minf, *maxf; /* sliding: the fields whose min / max keep a deque */
} Group;

/* one entity's panes of a tumbling or hopping window, sorted by start */
typedef struct {
    int n, cap;
    i64 *start, *last;
    double *x; /* per pane: count, then W_FIELD per field */
    Sketch *sk;
    /* the merged summary of the window's panes before its newest: (start, newest, older) */
    int cvalid, chas;
    i64 cstart, cnewest, clast;
    double *cx;
    Sketch *csk;
} Panes;

typedef struct {
    i64 head, n, cap;
    i64 *ts;
    double *v;
} Deque;

typedef struct {
    i64 cap, n;
    u64 *key;
    i64 *cnt; /* 0: free */
} HMap;

/* one entity's buffer of a sliding window, sorted by (event time, arrival) */
typedef struct {
    i64 n, cap, lo;
    i64 *ts, *seq;
    double *v;
    u64 *h;
    int has_k;
    double *k, *s1, *s2;
    Deque *mins, *maxs;
    HMap *dist;
} Slide;

typedef struct {
    int n_num, n_key, ngroups, newm, ntsl, nout;
    Group *groups;
    int *ewm_idx;
    i64 *ewm_half, *tsl_w;
    /* outputs are computed grouped into tmp (group gi's from goff[gi], then the ewms and the
     * time_since_lasts); the view's i-th is tmp[perm[i]], and tmp[j] is the view's unperm[j] */
    int *goff, *perm, *unperm;
    i64 cap, seq;
    uint8_t *alive, *has_newest;
    i64 *newest, *ew0;
    double *ew1, *ew2, *tsl;
    void **gs; /* cap * ngroups: Panes* or Slide* */
    double *tmp;
    i64 npend, cappend;
    Pending *pend;
    int error; /* 1: intermediate overflow in fsum */
} Agg;

/* sketch.c */
void sk_init1(Sketch *s, u64 h);
void sk_free(Sketch *s);
int sk_copy(Sketch *dst, const Sketch *src, int p);
int sk_add(Sketch *s, u64 h, int p);
int sk_merge_into(Sketch *a, const Sketch *b, int p); /* a := a | b */
double sk_estimate(Agg *a, const Sketch *s, int p, i64 pos);
double sk_union_estimate(Agg *a, const Sketch *x, const Sketch *y, int p, i64 pos);
double fsum(const double *xs, i64 n, int *overflow);
double py_min(double a, double b);
double py_max(double a, double b);
i64 floor_mod(i64 a, i64 b);
void *xrealloc(void *p, size_t n);

/* agg.c */
void agg_open(Agg *a, i64 slot);

/* panes.c */
Panes *panes_new(const Group *g);
void panes_free(const Group *g, Panes *ps);
void panes_fold(Agg *a, const Group *g, Panes *ps, i64 ts, const double *nums, const u64 *h);
void panes_values(Agg *a, const Group *g, Panes *ps, i64 t, double *out, i64 pos, int *missing);
void panes_evict(const Group *g, Panes *ps, i64 horizon);

/* slide.c */
Slide *slide_new(const Group *g);
void slide_free(const Group *g, Slide *s);
i64 slide_fold(const Group *g, Slide *s, i64 ts, i64 seq, const double *nums, const u64 *h);
void slide_running(const Group *g, const Slide *s, double *out);
void slide_scan(Agg *a, const Group *g, const Slide *s, i64 ts, i64 pos, double *out);
int slide_evict(const Group *g, Slide *s, i64 horizon); /* returns 1 if empty */
void slide_rebuild(const Group *g, Slide *s);
void hmap_add(HMap *m, u64 key, i64 by);

#endif
