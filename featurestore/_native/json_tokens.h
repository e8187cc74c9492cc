/* Helpers shared by the JSON stitchers (answers.c, records.c): they copy tokens orjson wrote
 * rather than format values, so the bytes stay orjson's. */
#ifndef RIFFLE_JSON_TOKENS_H
#define RIFFLE_JSON_TOKENS_H

#include <string.h>

typedef long long i64;

/* the end of the JSON string token starting at s[i] == '"', or -1 */
static inline i64 string_end(const char *s, i64 i, i64 len) {
    for (i++; i < len; i++) {
        if (s[i] == '\\')
            i++;
        else if (s[i] == '"')
            return i + 1;
    }
    return -1;
}

/* the end of the number (or null) token starting at s[i] */
static inline i64 number_end(const char *s, i64 i, i64 len) {
    while (i < len && s[i] != ',' && s[i] != ']' && s[i] != '[')
        i++;
    return i;
}

static inline char *put_i64(char *o, i64 v) {
    char tmp[24];
    int n = 0;
    unsigned long long u = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;
    do {
        tmp[n++] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0)
        *o++ = '-';
    while (n)
        *o++ = tmp[--n];
    return o;
}

#define PUT(o, lit) (memcpy((o), (lit), sizeof(lit) - 1), (o) += sizeof(lit) - 1)

#endif
