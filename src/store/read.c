/*
 * read.c -- readers: one stream through the index, or $all through the log, with filters and a
 * time range found by binary search (times never decrease along positions, invariant 4).
 *
 * A reader sees the events visible when it was opened: it never reads past that position, so it
 * never meets a commit being written.
 */
#include "store/store.h"

#include "os/alloc.h"
#include "os/clock.h"
#include "store/retention.h"
#include "util/error.h"

#include <inttypes.h>
#include <string.h>

#define STREAM_BATCH 64

struct stele_reader {
    stele_store_t *store;
    stele_log_cursor_t cursor;
    uint64_t visible;   /* the head when opened */
    uint64_t remaining; /* events still allowed by the limit (UINT64_MAX: no limit) */
    bool all;           /* $all (else one stream) */
    bool backward;
    bool done;
    /* $all */
    uint64_t next_pos; /* next position to look at */
    uint64_t end_pos;  /* forward: last position; backward: first position */
    stele_filter_t filter;
    bool has_filter;
    /* one stream */
    uint64_t hash;
    char *stream;
    size_t stream_len;
    int64_t next_version;
    int64_t first_version, last_version;
    int64_t min_time_ns; /* events recorded before are hidden by max_age (INT64_MIN: none) */
    stele_index_entry_t ents[STREAM_BATCH];
    size_t nents, ient;
    bool progress; /* the current batch yielded an event */
    /* copies of filter strings */
    char *strings[5];
};

void stele_read_options_init(stele_read_options_t *o) {
    memset(o, 0, sizeof(*o));
    o->struct_size = sizeof(*o);
    o->direction = STELE_FORWARD;
}

/* Buffer sizes: a stream read jumps between positions, and each jump reads one buffer, so it
 * reads about one sparse-index interval (16 records); a $all read streams through the log. */
#define STREAM_READ_BUFFER (4u * 1024u)
#define ALL_READ_BUFFER (256u * 1024u)

static stele_reader_t *reader_new(stele_store_t *s, size_t buffer_bytes) {
    stele_reader_t *r = stele__calloc(1, sizeof(*r));
    if (!r)
        return NULL;
    if (stele__cursor_init(&r->cursor, s->log, buffer_bytes) < 0) {
        stele__free(r);
        return NULL;
    }
    r->store = s;
    r->visible = atomic_load_explicit(&s->visible, memory_order_acquire);
    return r;
}

void stele_reader_close(stele_reader_t *r) {
    if (!r)
        return;
    stele__cursor_free(&r->cursor);
    stele__free(r->stream);
    for (size_t i = 0; i < 5; i++)
        stele__free(r->strings[i]);
    stele__free(r);
}

int stele_read_stream(stele_store_t *s, const char *stream, int64_t from_version,
                      stele_direction_t dir, uint64_t limit, stele_reader_t **out) {
    stele__error_clear();
    if (!s || !out)
        return stele__fail(STELE_EINVAL, "store or out pointer is NULL");
    *out = NULL;
    int rc = stele__check_stream_name(stream, true);
    if (rc < 0)
        return rc;
    if (dir != STELE_FORWARD && dir != STELE_BACKWARD)
        return stele__fail(STELE_EINVAL, "direction %d is not forward or backward", (int)dir);
    if ((rc = stele__store_derived_check(s)) < 0)
        return rc;
    size_t len = strlen(stream);
    uint64_t hash = stele__index_hash(stream, len);
    stele_reader_t *r = reader_new(s, STREAM_READ_BUFFER);
    if (!r)
        return STELE_ENOMEM;
    pthread_rwlock_rdlock(&s->cat.lock);
    stele_stream_t *st = stele__catalogue_find(&s->cat, stream, len, hash);
    int state = st ? st->state : -1;
    int64_t first = st ? st->first_version : 0, last = st ? st->last_version : -1;
    uint64_t last_position = st ? st->last_position : 0;
    stele_retention_t retention = {-1, -1, -1};
    if (st)
        retention = st->retention;
    pthread_rwlock_unlock(&s->cat.lock);
    /* Retention hides the versions before its first and the events older than max_age. */
    first = stele__retention_first(&retention, first, last);
    r->min_time_ns = stele__retention_min_time(&retention, stele__clock_realtime_ns());
    /* The writer updates the catalogue, then the index, then the visible position. A catalogue
     * read in between names versions the reader would not see (a backward read would find no
     * event at all): wait for the visible position to cover them; it follows within the batch. */
    if (last_position > r->visible) {
        pthread_mutex_lock(&s->notify_mu);
        while (atomic_load(&s->visible) < last_position && !atomic_load(&s->closing))
            pthread_cond_wait(&s->notify_cv, &s->notify_mu);
        pthread_mutex_unlock(&s->notify_mu);
        r->visible = atomic_load_explicit(&s->visible, memory_order_acquire);
    }
    if (!st || (last < 0 && state == STELE_STREAM_ACTIVE)) {
        rc = stele__fail(STELE_ENOTFOUND, "stream '%.64s' does not exist", stream);
        goto fail;
    }
    if (state == STELE_STREAM_TOMBSTONED) {
        rc = stele__fail(STELE_ETOMBSTONED, "stream '%.64s' is tombstoned", stream);
        goto fail;
    }
    if (state == STELE_STREAM_DELETED) {
        rc = stele__fail(STELE_EDELETED, "stream '%.64s' was deleted", stream);
        goto fail;
    }
    if (!(r->stream = stele__strndup(stream, len))) {
        rc = STELE_ENOMEM;
        goto fail;
    }
    r->stream_len = len;
    r->hash = hash;
    r->backward = dir == STELE_BACKWARD;
    r->first_version = first;
    r->last_version = last;
    r->remaining = limit ? limit : UINT64_MAX;
    if (r->backward)
        r->next_version = (from_version < 0 || from_version > last) ? last : from_version;
    else
        r->next_version = from_version < first ? first : from_version;
    *out = r;
    return 0;
fail:
    stele_reader_close(r);
    return rc;
}

/* First position (in [lo, hi]) whose time is >= t; hi + 1 if none. */
static int first_at_or_after(stele_reader_t *r, uint64_t lo, uint64_t hi, int64_t t,
                             uint64_t *out) {
    uint64_t a = lo, b = hi + 1;
    while (a < b) {
        uint64_t mid = a + (b - a) / 2;
        int64_t mt = 0;
        int rc = stele__log_time_at(&r->cursor, mid, &mt);
        if (rc < 0)
            return rc;
        if (mt >= t)
            b = mid;
        else
            a = mid + 1;
    }
    *out = a;
    return 0;
}

static int copy_filter(stele_reader_t *r, const stele_filter_t *f, stele_filter_t *dst,
                       char **strings) {
    *dst = *f;
    const char *src[5] = {f->type, f->type_prefix, f->category, f->stream_prefix, f->stream};
    const char **fields[5] = {&dst->type, &dst->type_prefix, &dst->category, &dst->stream_prefix,
                              &dst->stream};
    (void)r;
    for (size_t i = 0; i < 5; i++) {
        if (!src[i])
            continue;
        if (!(strings[i] = stele__strdup(src[i])))
            return STELE_ENOMEM;
        *fields[i] = strings[i];
    }
    return 0;
}

int stele_read_all(stele_store_t *s, const stele_read_options_t *opts, stele_reader_t **out) {
    stele__error_clear();
    if (!s || !out)
        return stele__fail(STELE_EINVAL, "store or out pointer is NULL");
    *out = NULL;
    stele_read_options_t o;
    stele_read_options_init(&o);
    if (opts) {
        if (opts->struct_size < sizeof(size_t) || opts->struct_size > sizeof o)
            return stele__fail(STELE_EINVAL, "read options struct_size %zu is not a known size",
                               opts->struct_size);
        memcpy(&o, opts, opts->struct_size);
    }
    if (o.direction != STELE_FORWARD && o.direction != STELE_BACKWARD)
        return stele__fail(STELE_EINVAL, "direction %d is not forward or backward",
                           (int)o.direction);
    if (o.filter.since_ns && o.filter.until_ns && o.filter.until_ns <= o.filter.since_ns)
        return stele__fail(STELE_EINVAL, "until is not after since");
    stele_reader_t *r = reader_new(s, ALL_READ_BUFFER);
    if (!r)
        return STELE_ENOMEM;
    int rc = copy_filter(r, &o.filter, &r->filter, r->strings);
    if (rc < 0)
        goto fail;
    r->all = true;
    r->backward = o.direction == STELE_BACKWARD;
    r->remaining = o.limit ? o.limit : UINT64_MAX;
    uint64_t lo = 1, hi = r->visible;
    if (r->filter.since_ns && lo <= hi) {
        if ((rc = first_at_or_after(r, lo, hi, r->filter.since_ns, &lo)) < 0)
            goto fail;
    }
    if (r->filter.until_ns && lo <= hi) {
        uint64_t first_after = 0;
        if ((rc = first_at_or_after(r, lo, hi, r->filter.until_ns, &first_after)) < 0)
            goto fail;
        hi = first_after - 1;
    }
    if (r->backward) {
        uint64_t from = o.from_position ? o.from_position : UINT64_MAX;
        r->next_pos = from < hi ? from : hi;
        r->end_pos = lo;
        r->done = r->next_pos < lo || r->next_pos == 0;
    } else {
        uint64_t from = o.from_position ? o.from_position : 1;
        r->next_pos = from > lo ? from : lo;
        r->end_pos = hi;
        r->done = r->next_pos > hi;
        if (!r->done && (rc = stele__cursor_seek(&r->cursor, r->next_pos)) < 0)
            goto fail;
    }
    *out = r;
    return 0;
fail:
    stele_reader_close(r);
    return rc;
}

static int next_all(stele_reader_t *r, stele_event_t *ev) {
    stele_record_t rec;
    while (!r->done) {
        int rc;
        if (r->backward) {
            if ((rc = stele__cursor_seek(&r->cursor, r->next_pos)) < 0)
                return rc;
        }
        rc = stele__cursor_next(&r->cursor, &rec, NULL);
        if (rc == 0)
            rc = stele__fail(STELE_ECORRUPT, "the log ends before position %" PRIu64, r->next_pos);
        if (rc < 0)
            return rc;
        if (r->backward) {
            r->done = r->next_pos <= r->end_pos;
            r->next_pos--;
        } else {
            r->done = r->next_pos >= r->end_pos;
            r->next_pos++;
        }
        if (stele__filter_match(&r->filter, &rec)) {
            stele__event_from_record(ev, &rec);
            return 1;
        }
    }
    return 0;
}

static int next_stream(stele_reader_t *r, stele_event_t *ev) {
    stele_store_t *s = r->store;
    for (;;) {
        if (r->next_version < r->first_version || r->next_version > r->last_version)
            return 0;
        if (r->ient == r->nents) {
            if (r->nents > 0 && !r->progress)
                return 0; /* a whole batch without the version we wait for: none is left */
            r->progress = false;
            r->ient = r->nents = 0;
            int rc = stele__store_derived_check(s);
            if (rc == 0)
                rc = stele__index_lookup(s->index, r->hash, (uint64_t)r->next_version, r->backward,
                                         r->ents, STREAM_BATCH, &r->nents);
            if (rc < 0)
                return rc;
            if (r->nents == 0)
                return 0;
        }
        stele_index_entry_t *e = &r->ents[r->ient++];
        if ((int64_t)e->version != r->next_version || e->position > r->visible)
            continue; /* another stream's version, or a later one than we wait for */
        int rc = stele__cursor_seek(&r->cursor, e->position);
        if (rc < 0)
            return rc;
        stele_record_t rec;
        rc = stele__cursor_next(&r->cursor, &rec, NULL);
        if (rc == 0)
            rc = stele__fail(STELE_ECORRUPT, "index names position %" PRIu64 " past the log",
                             e->position);
        if (rc < 0)
            return rc;
        if (rec.stream_len != r->stream_len || memcmp(rec.stream, r->stream, r->stream_len) != 0)
            continue; /* hash collision */
        if ((int64_t)rec.version != r->next_version)
            return stele__fail(STELE_ECORRUPT,
                               "index entry for version %" PRId64 " points at version %" PRIu64,
                               r->next_version, rec.version);
        r->next_version += r->backward ? -1 : 1;
        r->progress = true;
        if (rec.time_ns < r->min_time_ns) {
            /* Times never decrease along versions: going back, every earlier one is older. */
            if (r->backward)
                return 0;
            continue;
        }
        stele__event_from_record(ev, &rec);
        return 1;
    }
}

int stele_reader_next(stele_reader_t *r, stele_event_t *ev) {
    if (!r || !ev)
        return stele__fail(STELE_EINVAL, "reader or event is NULL");
    if (r->remaining == 0)
        return 0;
    int rc = r->all ? next_all(r, ev) : next_stream(r, ev);
    if (rc == 1 && r->remaining != UINT64_MAX)
        r->remaining--;
    return rc;
}
