/* Flat JSON events into columns, for the feature processor's batch fast path.

   decode_events reads a batch of raw events (one buffer, offsets) and writes, per event, its
   event time, label and float fields into arrays, and its id, entity and string fields into
   one buffer of NUL-terminated strings (Python splits it in one call). It accepts only what
   the schema's Python decoder accepts unchanged in its common case: a flat object whose known
   keys appear once each with their exact JSON types (optional fields may be absent or null),
   ASCII strings without escapes, float
   fields written as JSON floats within the value limit, an integer event time in
   [0, 2^53), a label of 0, 1 or null. Anything else (an error, an integer for a float field,
   an escape, a nested value, a non-ASCII byte) stops the call with the event's index, and the
   caller takes the whole batch through the Python decoder, which gives the same values and
   the errors. Floats are parsed by strtod, correctly rounded as orjson's are. */

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

enum { K_ID = 0, K_ENTITY = 1, K_TS = 2, K_LABEL = 3, K_FLOAT = 4, K_STR = 5 };
/* optional fields: checked when present (null allowed), never written: no view reads them */
enum { K_OPT_FLOAT = 6, K_OPT_STR = 7 };

#define MAX_KEYS 64

static const char *skip_ws(const char *p, const char *end) {
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')) p++;
    return p;
}

/* A string token at p (after its opening quote): ASCII, no escapes, no control characters.
   Returns the closing quote, or NULL. */
static const char *plain_string(const char *p, const char *end) {
    while (p < end) {
        unsigned char c = (unsigned char)*p;
        if (c == '"') return p;
        if (c == '\\' || c < 0x20 || c >= 0x80) return NULL;
        p++;
    }
    return NULL;
}

/* A JSON number token at p: returns its end, or NULL; *is_float tells whether it has a
   fraction or an exponent (orjson's floats). */
static const char *number(const char *p, const char *end, int *is_float) {
    const char *s = p;
    *is_float = 0;
    if (p < end && *p == '-') p++;
    if (p >= end) return NULL;
    if (*p == '0') {
        p++;
    } else if (*p >= '1' && *p <= '9') {
        while (p < end && *p >= '0' && *p <= '9') p++;
    } else {
        return NULL;
    }
    if (p < end && *p == '.') {
        *is_float = 1;
        p++;
        if (p >= end || *p < '0' || *p > '9') return NULL;
        while (p < end && *p >= '0' && *p <= '9') p++;
    }
    if (p < end && (*p == 'e' || *p == 'E')) {
        *is_float = 1;
        p++;
        if (p < end && (*p == '+' || *p == '-')) p++;
        if (p >= end || *p < '0' || *p > '9') return NULL;
        while (p < end && *p >= '0' && *p <= '9') p++;
    }
    return p > s ? p : NULL;
}

/* A JSON float token [p, end) as the correctly rounded double: exactly when its digits fit
   a double's mantissa and its power of ten is exact (one rounding, Clinger's fast path),
   else strtod. Returns 0, or -1 if the token is too long. */
static int parse_double(const char *p, const char *end, double *out) {
    static const double pow10[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                   1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                   1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};
    const char *c = p;
    int negative = *c == '-';
    if (negative) c++;
    uint64_t m = 0;
    int digits = 0, exp10 = 0;
    for (; c < end && *c >= '0' && *c <= '9'; c++) {
        if (m || *c != '0') digits++;
        m = m * 10 + (uint64_t)(*c - '0');
        if (digits > 15) goto slow;
    }
    if (c < end && *c == '.') {
        for (c++; c < end && *c >= '0' && *c <= '9'; c++) {
            if (m || *c != '0') digits++;
            m = m * 10 + (uint64_t)(*c - '0');
            exp10--;
            if (digits > 15) goto slow;
        }
    }
    if (c < end) { /* an exponent */
        c++;
        int sign = 1, e = 0;
        if (*c == '+' || *c == '-') sign = *c++ == '-' ? -1 : 1;
        for (; c < end; c++) {
            e = e * 10 + (*c - '0');
            if (e > 1000) goto slow;
        }
        exp10 += sign * e;
    }
    if (exp10 < -22 || exp10 > 22) goto slow;
    {
        double v = (double)m; /* exact: m < 10^15 < 2^53 */
        v = exp10 < 0 ? v / pow10[-exp10] : v * pow10[exp10];
        *out = negative ? -v : v;
        return 0;
    }
slow: {
    char tmp[64];
    long long n = end - p;
    if (n >= (long long)sizeof tmp) return -1;
    memcpy(tmp, p, (size_t)n);
    tmp[n] = 0;
    *out = strtod(tmp, NULL);
    return 0;
}
}

static int literal(const char *p, const char *end, const char *word, size_t n) {
    return (size_t)(end - p) >= n && memcmp(p, word, n) == 0;
}

/* Index of the known key [k, k+len), or -1; `guess` first (events of a stream mostly
   repeat one key order). */
static int find_key(const char *k, long long len, const char *keys, const long long *key_offs,
                    int nkeys, int guess) {
    if (guess < nkeys && key_offs[guess + 1] - key_offs[guess] == len &&
        memcmp(keys + key_offs[guess], k, (size_t)len) == 0)
        return guess;
    for (int j = 0; j < nkeys; j++) {
        long long a = key_offs[j], b = key_offs[j + 1];
        if (b - a == len && memcmp(keys + a, k, (size_t)len) == 0) return j;
    }
    return -1;
}

/* One event. Strings are written to *strs in output order (id, entity, then the string
   fields in key order), each followed by a NUL. Returns 0, or -1 if the event is not for
   the fast path, -2 if the string buffer is too small. */
static int decode_one(const char *p, const char *end, const char *keys,
                      const long long *key_offs, const int *kinds, const int *slots, int nkeys,
                      double limit, long long *ts, signed char *label, double *floats,
                      char **strs, const char *strs_end) {
    const char *spans[MAX_KEYS];
    long long lens[MAX_KEYS];
    uint64_t seen = 0;
    int guess = 0;
    *label = -1;
    p = skip_ws(p, end);
    if (p >= end || *p != '{') return -1;
    p = skip_ws(p + 1, end);
    if (p < end && *p == '}') return -1; /* no fields: the id at least is missing */
    for (;;) {
        if (p >= end || *p != '"') return -1;
        const char *k = p + 1;
        const char *q = plain_string(k, end);
        if (q == NULL) return -1;
        int j = find_key(k, q - k, keys, key_offs, nkeys, guess);
        if (j >= 0) guess = j + 1;
        p = skip_ws(q + 1, end);
        if (p >= end || *p != ':') return -1;
        p = skip_ws(p + 1, end);
        if (p >= end) return -1;
        if (j >= 0) {
            if (seen & (1ULL << j)) return -1; /* a repeated key: orjson keeps the last */
            seen |= 1ULL << j;
        }
        int kind = j >= 0 ? kinds[j] : -1;
        if (*p == '"') {
            const char *s = p + 1;
            const char *e = plain_string(s, end);
            if (e == NULL) return -1;
            if (kind == K_ID || kind == K_ENTITY || kind == K_STR) {
                if (kind != K_STR && e == s) return -1; /* an empty id or entity */
                spans[j] = s;
                lens[j] = e - s;
            } else if (kind >= 0 && kind != K_OPT_STR) {
                return -1;
            }
            p = e + 1;
        } else if (*p == '-' || (*p >= '0' && *p <= '9')) {
            int is_float;
            const char *e = number(p, end, &is_float);
            if (e == NULL) return -1;
            long long n = e - p;
            if (kind == K_FLOAT || kind == K_OPT_FLOAT) {
                double v;
                if (!is_float || parse_double(p, e, &v) != 0) return -1;
                if (!(v >= -limit && v <= limit)) return -1; /* out of range, or inf */
                if (kind == K_FLOAT) floats[slots[j]] = v;
            } else if (kind == K_TS) {
                if (is_float || *p == '-' || n > 16) return -1;
                long long v = 0;
                for (const char *c = p; c < e; c++) v = v * 10 + (*c - '0');
                if (v >= (1LL << 53)) return -1;
                *ts = v;
            } else if (kind == K_LABEL) {
                if (n != 1 || (*p != '0' && *p != '1')) return -1;
                *label = (signed char)(*p - '0');
            } else if (kind >= 0) {
                return -1;
            } else if (is_float || n > 18) { /* orjson refuses what overflows a double */
                double v;
                if (parse_double(p, e, &v) != 0 || !isfinite(v)) return -1;
            }
            p = e;
        } else if (literal(p, end, "null", 4)) {
            if (kind >= 0 && kind != K_LABEL && kind != K_OPT_FLOAT && kind != K_OPT_STR)
                return -1;
            p += 4;
        } else if (literal(p, end, "true", 4) || literal(p, end, "false", 5)) {
            if (kind >= 0) return -1;
            p += *p == 't' ? 4 : 5;
        } else {
            return -1; /* a nested value, or not JSON */
        }
        p = skip_ws(p, end);
        if (p >= end) return -1;
        if (*p == '}') break;
        if (*p != ',') return -1;
        p = skip_ws(p + 1, end);
    }
    if (skip_ws(p + 1, end) != end) return -1;
    for (int j = 0; j < nkeys; j++) {
        if (kinds[j] < K_OPT_FLOAT && kinds[j] != K_LABEL && !(seen & (1ULL << j))) return -1;
    }
    /* strings in output order: id, entity, string fields (slots give their order) */
    for (int pass = 0; pass < 3; pass++) {
        for (int j = 0; j < nkeys; j++) {
            int kind = kinds[j];
            if ((pass == 0 && kind != K_ID) || (pass == 1 && kind != K_ENTITY) ||
                (pass == 2 && kind != K_STR))
                continue;
            if (*strs + lens[j] + 1 > strs_end) return -2;
            memcpy(*strs, spans[j], (size_t)lens[j]);
            *strs += lens[j];
            *(*strs)++ = 0;
        }
    }
    return 0;
}

/* Decode events buf[offs[i]:offs[i+1]], i < n. keys/key_offs/kinds name the known keys
   (slots: a float key's column, a string key's rank); floats is n x nfloat, row-major.
   Returns the bytes written to strs (>= 0); -1 if an event is not for the fast path; -2 if
   strs is too small. */
long long decode_events(const char *buf, const long long *offs, long long n, const char *keys,
                        const long long *key_offs, const int *kinds, const int *slots,
                        int nkeys, int nfloat, long long max_bytes, double limit,
                        long long *ts, signed char *labels, double *floats, char *strs,
                        long long strs_cap) {
    char *out = strs;
    const char *out_end = strs + strs_cap;
    if (nkeys > MAX_KEYS) return -1;
    for (long long i = 0; i < n; i++) {
        const char *p = buf + offs[i], *end = buf + offs[i + 1];
        int rc = end - p > max_bytes
                     ? -1
                     : decode_one(p, end, keys, key_offs, kinds, slots, nkeys, limit, ts + i,
                                  labels + i, floats + i * nfloat, &out, out_end);
        if (rc != 0) return rc;
    }
    return out - strs;
}
