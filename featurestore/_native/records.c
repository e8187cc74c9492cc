/* The features topic's records (FeatureRecord.to_json) for a whole batch, stitched in C from
 * two arrays orjson wrote: the records' scalar fields and their feature values. C copies
 * tokens between the view's name fragments, so each record is the bytes to_json gives
 * (featurestore/record_json.py holds the per-record fallback; tests compare them). */
#include "json_tokens.h"

/* the next token of a JSON array of arrays of scalars, past separators and brackets: its start
 * in *start and end returned, or -1 at the end or on a malformed token */
static i64 next_token(const char *s, i64 i, i64 len, i64 *start) {
    while (i < len && (s[i] == ',' || s[i] == '[' || s[i] == ']'))
        i++;
    if (i >= len)
        return -1;
    *start = i;
    return s[i] == '"' ? string_end(s, i, len) : number_end(s, i, len);
}

#define N_META 10 /* event_id, entity, ts, label, view, version, topic, partition, offset, timestamp */

/* fields [from, to) of a record: each key, then its token copied from meta */
static char *put_fields(char *o, const char *const *keys, const char *meta,
                        const i64 (*tok)[2], int from, int to) {
    for (int f = from; f < to; f++) {
        size_t k = strlen(keys[f]);
        memcpy(o, keys[f], k);
        o += k;
        memcpy(o, meta + tok[f][0], (size_t)(tok[f][1] - tok[f][0]));
        o += tok[f][1] - tok[f][0];
    }
    return o;
}

/* meta: [[event_id, entity, ts, label, view, version, topic, partition, offset, timestamp],...]
 * nums: [[v, ...], ...] with `width` values a record. Record i's bytes go to
 * out[offs[i]:offs[i + 1]]. Returns the bytes written, -1 if `cap` is too small, -2 if the
 * arrays do not hold n records of the expected shape. */
i64 render_records(i64 n, const char *meta, i64 meta_len, const char *nums, i64 nums_len,
                   i64 width, const char *names, const i64 *name_offs, char *out, i64 cap,
                   i64 *offs) {
    if (meta_len + nums_len + n * (name_offs[width] + width + 160) > cap)
        return -1;
    static const char *const keys[N_META] = {
        "{\"event_id\":", ",\"entity\":", ",\"ts\":", ",\"label\":", ",\"view\":",
        ",\"version\":", ",\"source\":{\"topic\":", ",\"partition\":", ",\"offset\":",
        ",\"timestamp\":"};
    char *o = out;
    i64 mi = 0, ni = 0, start = 0;
    for (i64 r = 0; r < n; r++) {
        offs[r] = o - out;
        i64 tok[N_META][2];
        for (int f = 0; f < N_META; f++) {
            i64 end = next_token(meta, mi, meta_len, &start);
            if (end < 0)
                return -2;
            tok[f][0] = start;
            tok[f][1] = end;
            mi = end;
        }
        if (mi >= meta_len || meta[mi] != ']')
            return -2; /* a record with more fields */
        o = put_fields(o, keys, meta, tok, 0, 3);
        PUT(o, ",\"features\":{");
        while (ni < nums_len && nums[ni] == ',')
            ni++;
        if (ni >= nums_len || nums[ni] != '[')
            return -2;
        if (r == 0)
            ni++; /* the outer array's '[' */
        if (ni >= nums_len || nums[ni] != '[')
            return -2;
        ni++;
        for (i64 f = 0; f < width; f++) {
            if (f > 0) {
                if (ni >= nums_len || nums[ni] != ',')
                    return -2; /* fewer values than names */
                ni++;
                *o++ = ',';
            }
            i64 end = number_end(nums, ni, nums_len);
            if (end == ni || nums[ni] == '"')
                return -2; /* values are numbers (or null) */
            memcpy(o, names + name_offs[f], (size_t)(name_offs[f + 1] - name_offs[f]));
            o += name_offs[f + 1] - name_offs[f];
            memcpy(o, nums + ni, (size_t)(end - ni));
            o += end - ni;
            ni = end;
        }
        if (ni >= nums_len || nums[ni] != ']')
            return -2; /* more values than names */
        ni++;
        *o++ = '}';
        o = put_fields(o, keys, meta, tok, 3, N_META);
        PUT(o, "}}");
    }
    offs[n] = o - out;
    /* both arrays end right after the last record */
    if (n > 0 && (mi + 2 != meta_len || ni + 1 != nums_len))
        return -2;
    return o - out;
}
