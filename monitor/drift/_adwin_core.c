/* ADWIN's sequential loop in C, step for step the arithmetic of monitor/drift/adwin.py (and
 * River's Rust ADWIN), so results are bit-identical. Plain C, no Python API: loaded with
 * ctypes by monitor/drift/_adwin_native.py, which compiles it on first use.
 *
 * State: rows of buckets (row i holds sums of 2**i values), `cap1` slots per row, flat and
 * row-major; `len[i]` buckets in row i, oldest first. s[0..2] = width, total, variance;
 * k[0..2] = n (values since the last reset), rows in use, drift flag of the last update. */
#include <math.h>
#include <string.h>

#define T(i, j) tot[(i) * cap1 + (j)]
#define V(i, j) var[(i) * cap1 + (j)]

static void shift_left(double *row, long long len, long long by) {
    memmove(row, row + by, (size_t)(len - by) * sizeof(double));
}

static void compress(double *tot, double *var, long long *len, long long *rows, long long cap1,
                     long long max_buckets, long long max_rows) {
    long long i = 0;
    while (len[i] > max_buckets) {
        double size = ldexp(1.0, (int)i);
        double t0 = T(i, 0), t1 = T(i, 1);
        double diff = t0 / size - t1 / size;
        if (i + 1 == *rows) {
            if (*rows == max_rows) return; /* never reached: 2**60 values */
            len[i + 1] = 0;
            *rows += 1;
        }
        T(i + 1, len[i + 1]) = t0 + t1;
        V(i + 1, len[i + 1]) = (V(i, 0) + V(i, 1)) + ((size * 0.5) * diff) * diff;
        len[i + 1] += 1;
        shift_left(&T(i, 0), len[i], 2);
        shift_left(&V(i, 0), len[i], 2);
        len[i] -= 2;
        i += 1;
    }
}

static int has_cut(const double *tot, const long long *len, long long rows, long long cap1,
                   const double *s, double low, double delta) {
    double width = s[0];
    if (width < 2.0) return 0;
    double d_prime = log(2.0 * log(width) / delta);
    double two_thirds_d = (2.0 / 3.0) * d_prime;
    double var_w = s[2] / width;
    double n0 = 0.0, u0 = 0.0, n1 = width, u1 = s[1];
    for (long long i = rows - 1; i >= 0; i--) {
        double size = ldexp(1.0, (int)i);
        for (long long j = 0; j < len[i]; j++) {
            double t = T(i, j);
            n0 += size;
            n1 -= size;
            u0 += t;
            u1 -= t;
            if (n1 >= low && n0 >= low) {
                double m_recip = 1.0 / (n0 - low + 1.0) + 1.0 / (n1 - low + 1.0);
                double arg = 2.0 * m_recip * var_w * d_prime;
                if (arg >= 0.0 && fabs(u0 / n0 - u1 / n1) > sqrt(arg) + two_thirds_d * m_recip)
                    return 1;
            }
        }
    }
    return 0;
}

static void delete_oldest(double *tot, double *var, long long *len, long long *rows,
                          long long cap1, double *s) {
    long long last = *rows - 1;
    double size = ldexp(1.0, (int)last);
    double u = T(last, 0);
    double mu = u / size;
    s[0] -= size;
    s[1] -= u;
    double diff = mu - s[1] / s[0];
    s[2] -= V(last, 0) + size * s[0] * diff * diff / (size + s[0]);
    shift_left(&T(last, 0), len[last], 1);
    shift_left(&V(last, 0), len[last], 1);
    len[last] -= 1;
    if (len[last] == 0 && *rows > 1) *rows -= 1;
}

/* Update with xs[0..n) in order; write the positions of drift signals to hits; return how
 * many. params: delta, grace_period, min_window_length; iparams: clock, max_buckets, max_rows. */
long long adwin_update_many(double *tot, double *var, long long *len, double *s, long long *k,
                            const double *xs, long long n, const double *params,
                            const long long *iparams, long long *hits) {
    double delta = params[0], grace = params[1], low = params[2];
    long long clock = iparams[0], max_buckets = iparams[1], max_rows = iparams[2];
    long long cap1 = max_buckets + 1, n_hits = 0;
    for (long long p = 0; p < n; p++) {
        if (k[2]) { /* the update after a drift starts from a fresh state */
            s[0] = s[1] = s[2] = 0.0;
            k[0] = 0;
            k[1] = 1;
            k[2] = 0;
            len[0] = 0;
        }
        double x = xs[p];
        T(0, len[0]) = x;
        V(0, len[0]) = 0.0;
        len[0] += 1;
        double width = s[0] + 1.0;
        if (width > 1.0) {
            double d = x - s[1] / (width - 1.0);
            s[2] += (width - 1.0) * d * d / width;
        }
        s[1] += x;
        s[0] = width;
        if (len[0] > max_buckets) compress(tot, var, len, &k[1], cap1, max_buckets, max_rows);
        k[0] += 1;
        if (k[0] % clock == 0 && width > grace &&
            has_cut(tot, len, k[1], cap1, s, low, delta)) {
            do {
                delete_oldest(tot, var, len, &k[1], cap1, s);
            } while (has_cut(tot, len, k[1], cap1, s, low, delta));
            k[2] = 1;
            hits[n_hits++] = p;
        }
    }
    return n_hits;
}
