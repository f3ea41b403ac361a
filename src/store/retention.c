/*
 * retention.c -- the retention keys of stream metadata, and which events they hide from readers.
 *
 * A stream's metadata may set `max_count` (keep the last N versions), `max_age` (keep events
 * recorded in the last N seconds) and `truncate_before` (versions below N are gone), as KurrentDB's
 * $maxCount, $maxAge and $tb do. Reads of the stream and subscriptions to it skip the events they
 * exclude. Like KurrentDB before a scavenge, $all keeps them: nothing is removed from the log
 * (reclaiming the space is a later step), and a projection rebuilt from $all must see the same
 * events whenever it runs, which a time-based window would break (docs/design/decisions.md). The
 * keys are read once, when the metadata event is applied to the catalogue (live or in replay), so a
 * read pays nothing for them.
 */
#include "store/retention.h"

#include "os/clock.h"
#include "util/error.h"

#include <inttypes.h>
#include <string.h>

static size_t skip_ws(const char *t, size_t i, size_t n) {
    while (i < n && (t[i] == ' ' || t[i] == '\t' || t[i] == '\n' || t[i] == '\r'))
        i++;
    return i;
}

/* t[i] is the opening quote of a string of valid JSON: the index after its closing quote. */
static size_t skip_string(const char *t, size_t i, size_t n) {
    for (i++; i < n && t[i] != '"'; i++)
        if (t[i] == '\\')
            i++;
    return i + 1;
}

/* The value of hex digit c (valid JSON has only hex digits after \u). */
static unsigned hex(char c) { return (unsigned)(c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10); }

/* Whether the key text t[i..end) (between the quotes, escapes not decoded) is `want`, an ASCII
 * name: "max_c\u006funt" is max_count to every JSON reader, so it must be here too. */
static bool key_is(const char *t, size_t i, size_t end, const char *want) {
    for (; *want != '\0'; want++) {
        if (i >= end)
            return false;
        unsigned c = (unsigned char)t[i++];
        if (c == '\\' && i < end) {
            char e = t[i++];
            if (e == 'u' && end - i >= 4) {
                c = hex(t[i]) << 12 | hex(t[i + 1]) << 8 | hex(t[i + 2]) << 4 | hex(t[i + 3]);
                i += 4;
            } else {
                c = (unsigned char)e; /* \" \\ \/: the character itself; others are no ASCII name */
            }
        }
        if (c != (unsigned char)*want)
            return false;
    }
    return i == end;
}

/* t[i] starts a value of valid JSON: the index after it. */
static size_t skip_value(const char *t, size_t i, size_t n) {
    if (t[i] == '"')
        return skip_string(t, i, n);
    if (t[i] != '{' && t[i] != '[') {
        while (i < n && t[i] != ',' && t[i] != '}' && t[i] != ']' && t[i] != ' ' && t[i] != '\t' &&
               t[i] != '\n' && t[i] != '\r')
            i++;
        return i;
    }
    int depth = 0;
    while (i < n) {
        if (t[i] == '"') {
            i = skip_string(t, i, n);
            continue;
        }
        if (t[i] == '{' || t[i] == '[')
            depth++;
        else if ((t[i] == '}' || t[i] == ']') && --depth == 0)
            return i + 1;
        i++;
    }
    return i;
}

/* The value text[i..end) as a whole number in [min, INT64_MAX]; null is "not set" (-1). */
static int whole_number(const char *key, const char *t, size_t i, size_t end, int64_t min,
                        int64_t *out) {
    if (end - i == 4 && memcmp(t + i, "null", 4) == 0) {
        *out = -1;
        return 0;
    }
    int64_t v = 0;
    size_t k = i;
    for (; k < end && t[k] >= '0' && t[k] <= '9'; k++) {
        if (v > (INT64_MAX - (t[k] - '0')) / 10)
            break;
        v = v * 10 + (t[k] - '0');
    }
    if (k == i || k != end || v < min)
        return stele__fail(STELE_EINVAL,
                           "stream metadata: %s must be a whole number from %" PRId64 " to %" PRId64
                           " (or null), not %.*s",
                           key, min, INT64_MAX, (int)(end - i > 40 ? 40 : end - i), t + i);
    *out = v;
    return 0;
}

int stele__retention_parse(const char *json, size_t len, stele_retention_t *out) {
    out->max_count = out->max_age_s = out->truncate_before = -1;
    static const char *const keys[] = {"max_count", "max_age", "truncate_before"};
    static const int64_t mins[] = {1, 1, 0};
    int64_t *fields[] = {&out->max_count, &out->max_age_s, &out->truncate_before};
    size_t i = skip_ws(json, 0, len);
    if (i >= len || json[i] != '{')
        return 0; /* only an object has keys; the caller validates the JSON itself */
    i = skip_ws(json, i + 1, len);
    while (i < len && json[i] == '"') {
        size_t key_start = i + 1, key_end = skip_string(json, i, len) - 1;
        i = skip_ws(json, key_end + 1, len);
        if (i >= len || json[i] != ':')
            break;
        i = skip_ws(json, i + 1, len);
        size_t value_start = i;
        i = skip_value(json, i, len);
        for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++) {
            if (key_is(json, key_start, key_end, keys[k])) {
                int rc = whole_number(keys[k], json, value_start, i, mins[k], fields[k]);
                if (rc < 0)
                    return rc;
            }
        }
        i = skip_ws(json, i, len);
        if (i < len && json[i] == ',')
            i = skip_ws(json, i + 1, len);
    }
    return 0;
}

bool stele__retention_any(const stele_retention_t *r) {
    return r->max_count >= 0 || r->max_age_s >= 0 || r->truncate_before >= 0;
}

int64_t stele__retention_first(const stele_retention_t *r, int64_t first_version,
                               int64_t last_version) {
    int64_t first = first_version;
    if (r->truncate_before > first)
        first = r->truncate_before;
    if (r->max_count >= 0 && last_version - first + 1 > r->max_count)
        first = last_version - r->max_count + 1;
    return first;
}

int64_t stele__retention_min_time(const stele_retention_t *r, int64_t now_ns) {
    if (r->max_age_s < 0)
        return INT64_MIN;
    if (r->max_age_s > now_ns / 1000000000)
        return INT64_MIN; /* older than the epoch: keeps everything */
    return now_ns - r->max_age_s * 1000000000;
}

bool stele__retention_hides(stele_catalogue_t *cat, const stele_record_t *rec, int64_t now_ns) {
    if (atomic_load_explicit(&cat->retained, memory_order_relaxed) == 0 || rec->stream[0] == '$')
        return false;
    bool hidden = false;
    pthread_rwlock_rdlock(&cat->lock);
    stele_stream_t *st = stele__catalogue_find(cat, rec->stream, rec->stream_len,
                                               stele__index_hash(rec->stream, rec->stream_len));
    if (st && stele__retention_any(&st->retention)) {
        int64_t first = stele__retention_first(&st->retention, 0, st->last_version);
        hidden = (int64_t)rec->version < first ||
                 rec->time_ns < stele__retention_min_time(&st->retention, now_ns);
    }
    pthread_rwlock_unlock(&cat->lock);
    return hidden;
}

void stele__retention_set(stele_catalogue_t *cat, stele_stream_t *st, const char *json,
                          size_t len) {
    bool had = stele__retention_any(&st->retention);
    /* The metadata was validated before it was written: a bad value can only come from a log
     * written by an older version, and then it is ignored rather than fail the replay. */
    if (stele__retention_parse(json, len, &st->retention) < 0) {
        st->retention.max_count = st->retention.max_age_s = st->retention.truncate_before = -1;
        stele__error_clear();
    }
    bool has = stele__retention_any(&st->retention);
    if (has != had)
        atomic_fetch_add_explicit(&cat->retained, has ? 1 : (size_t)-1, memory_order_relaxed);
}
