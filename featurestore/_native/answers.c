/* The serving layer's JSON answers, assembled in C from pieces orjson already wrote: the entity
 * ids (one JSON array of strings) and the found vectors' values (one JSON array of numbers).
 * C only copies tokens between the view's name fragments, so every byte is orjson's and the
 * answer equals orjson.dumps of the same answer built as dicts (featurestore/answers.py holds
 * the Python twin; tests compare the three). Plain C, loaded with ctypes. */
#include "json_tokens.h"

/* Writes head, then per entity {"entity":<key>,"found":...,"values":{...},"event_ts":...,
 * "age_ms":...,"written_at":...} separated by commas, then tail. With `bare`, the first
 * object's opening brace is left out (a single answer is the head's fields plus the result's).
 * found[i] says whether entity i has a vector; the found ones take `width` numbers each from
 * `nums` and their times from `ts` and `written`, in order. names holds the width name
 * fragments ("name": in JSON) at name_offs[0..width]. Returns the bytes written, -1 if `cap`
 * is too small, -2 if the keys or numbers do not match the counts. */
i64 render_answers(i64 n, const char *found, const char *keys, i64 keys_len, const char *nums,
                   i64 nums_len, i64 width, const char *names, const i64 *name_offs,
                   const i64 *ts, const i64 *written, i64 now, const char *head, i64 head_len,
                   const char *tail, i64 tail_len, int bare, char *out, i64 cap) {
    /* every token is copied at most once, plus fixed text per entity and per value */
    i64 need = head_len + tail_len + keys_len + nums_len + n * 160;
    i64 k = 0;
    for (i64 i = 0; i < n; i++)
        k += found[i] != 0;
    need += k * (name_offs[width] + width + 64);
    if (need > cap)
        return -1;
    char *o = out;
    memcpy(o, head, (size_t)head_len);
    o += head_len;
    i64 ki = 1, ni = 1, j = 0; /* past the arrays' '[' */
    if (keys_len < 2 || keys[0] != '[' || nums_len < 2 || nums[0] != '[')
        return -2;
    for (i64 i = 0; i < n; i++) {
        if (ki >= keys_len || keys[ki] != '"')
            return -2;
        i64 kend = string_end(keys, ki, keys_len);
        if (kend < 0)
            return -2;
        if (i > 0)
            *o++ = ',';
        if (!(bare && i == 0))
            *o++ = '{';
        PUT(o, "\"entity\":");
        memcpy(o, keys + ki, (size_t)(kend - ki));
        o += kend - ki;
        ki = kend + 1; /* past the ',' or ']' */
        if (!found[i]) {
            PUT(o, ",\"found\":false,\"values\":null,\"event_ts\":null,\"age_ms\":null,"
                   "\"written_at\":null}");
            continue;
        }
        PUT(o, ",\"found\":true,\"values\":{");
        for (i64 f = 0; f < width; f++) {
            if (ni >= nums_len)
                return -2;
            i64 nend = number_end(nums, ni, nums_len);
            if (f > 0)
                *o++ = ',';
            memcpy(o, names + name_offs[f], (size_t)(name_offs[f + 1] - name_offs[f]));
            o += name_offs[f + 1] - name_offs[f];
            memcpy(o, nums + ni, (size_t)(nend - ni));
            o += nend - ni;
            ni = nend + 1;
        }
        PUT(o, "},\"event_ts\":");
        o = put_i64(o, ts[j]);
        PUT(o, ",\"age_ms\":");
        o = put_i64(o, now - ts[j]);
        PUT(o, ",\"written_at\":");
        o = put_i64(o, written[j]);
        *o++ = '}';
        j++;
    }
    if ((n > 0 ? ki != keys_len : keys_len != 2) || (k > 0 ? ni != nums_len : nums_len != 2))
        return -2; /* entities or numbers left over */
    memcpy(o, tail, (size_t)tail_len);
    o += tail_len;
    return o - out;
}
