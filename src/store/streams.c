/*
 * streams.c -- the stream catalogue seen from the API: info, listing, metadata, deletion.
 *
 * Metadata and deletions are events of the reserved stream "$$<name>" (types $metadata, $deleted,
 * $tombstone), so that the log stays the only source of truth and replaying it rebuilds them.
 */
#include "store/append.h"

#include "os/alloc.h"
#include "store/retention.h"
#include "util/error.h"
#include "util/struct_size.h"
#include "util/json.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct stele_stream_list {
    stele_stream_info_t *items;
    size_t count;
    char *names; /* all names, NUL-separated */
};

/* Time of the event at position (0 when it cannot be read). */
static int64_t time_of(stele_store_t *s, uint64_t position) {
    if (position == 0)
        return 0;
    stele_log_cursor_t c;
    int64_t t = 0;
    if (stele__cursor_init(&c, s->log, 4096) == 0) {
        (void)stele__log_time_at(&c, position, &t);
        stele__cursor_free(&c);
    }
    return t;
}

static int64_t created_of(stele_store_t *s, uint64_t hash, const char *name, size_t len) {
    stele_index_entry_t e[8];
    size_t got = 0;
    if (stele__index_lookup(s->index, hash, 0, false, e, 8, &got) < 0)
        return 0;
    stele_log_cursor_t c;
    int64_t t = 0;
    if (stele__cursor_init(&c, s->log, 4096) < 0)
        return 0;
    for (size_t i = 0; i < got; i++) {
        stele_record_t rec;
        if (stele__cursor_seek(&c, e[i].position) < 0 || stele__cursor_next(&c, &rec, NULL) <= 0)
            break;
        if (rec.stream_len == len && memcmp(rec.stream, name, len) == 0) {
            t = rec.time_ns;
            break;
        }
    }
    stele__cursor_free(&c);
    return t;
}

/* The version of "$$name", which holds the stream's metadata, delete and tombstone events: -1
 * when it has none. The caller holds the catalogue lock. */
static int64_t metadata_version_of(stele_store_t *s, const char *name, size_t len) {
    char meta[STELE_MAX_STREAM_NAME_BYTES + 3];
    if (len + 2 > STELE_MAX_STREAM_NAME_BYTES)
        return -1;
    memcpy(meta, STELE_META_PREFIX, 2);
    memcpy(meta + 2, name, len);
    stele_stream_t *m =
        stele__catalogue_find(&s->cat, meta, len + 2, stele__index_hash(meta, len + 2));
    return m ? m->last_version : -1;
}

static void fill_info(const stele_stream_t *st, stele_stream_info_t *out) {
    out->struct_size = sizeof(*out);
    out->state = (stele_stream_state_t)st->state;
    out->first_version = st->first_version;
    out->last_version = st->last_version;
    out->event_count = st->last_version >= st->first_version
                           ? (uint64_t)(st->last_version - st->first_version + 1)
                           : 0;
    out->last_position = st->last_position;
}

static int stream_info(stele_store_t *s, const char *stream, stele_stream_info_t *out) {
    int rc = stele__check_stream_name(stream, true);
    if (rc < 0)
        return rc;
    if ((rc = stele__store_derived_check(s)) < 0)
        return rc;
    size_t len = strlen(stream);
    uint64_t hash = stele__index_hash(stream, len);
    memset(out, 0, sizeof(*out));
    pthread_rwlock_rdlock(&s->cat.lock);
    stele_stream_t *st = stele__catalogue_find(&s->cat, stream, len, hash);
    bool found = st && (st->last_version >= 0 || st->state != STELE_STREAM_ACTIVE);
    if (found) {
        fill_info(st, out);
        out->metadata_version = metadata_version_of(s, stream, len);
    }
    pthread_rwlock_unlock(&s->cat.lock);
    if (!found)
        return stele__fail(STELE_ENOTFOUND, "stream '%.64s' does not exist", stream);
    out->name = stream;
    out->created_ns = created_of(s, hash, stream, len);
    out->updated_ns = time_of(s, out->last_position);
    return 0;
}

int stele_stream_info(stele_store_t *s, const char *stream, stele_stream_info_t *out) {
    stele__error_clear();
    if (!s || !out)
        return stele__fail(STELE_EINVAL, "store or out pointer is NULL");
    size_t copy;
    int rc = stele__struct_size_check(out->struct_size,
                                      STELE__SIZE_V1(stele_stream_info_t, metadata_version),
                                      sizeof(stele_stream_info_t), "stele_stream_info_t", &copy);
    if (rc < 0)
        return rc;
    stele_stream_info_t full;
    memset(&full, 0, sizeof full);
    rc = stream_info(s, stream, &full);
    full.struct_size = sizeof full;
    stele__struct_size_copy(out, &full, copy);
    return rc;
}

static int info_cmp(const void *a, const void *b) {
    return strcmp(((const stele_stream_info_t *)a)->name, ((const stele_stream_info_t *)b)->name);
}

int stele_stream_list(stele_store_t *s, const char *prefix, const char *after, size_t limit,
                      bool include_hidden, stele_stream_list_t **out) {
    stele__error_clear();
    if (!s || !out)
        return stele__fail(STELE_EINVAL, "store or out pointer is NULL");
    *out = NULL;
    if (stele__store_derived_check(s) < 0)
        return STELE_EPOISONED;
    size_t plen = prefix ? strlen(prefix) : 0;
    stele_stream_list_t *l = stele__calloc(1, sizeof(*l));
    if (!l)
        return STELE_ENOMEM;
    int rc = 0;
    pthread_rwlock_rdlock(&s->cat.lock);
    size_t n = 0, bytes = 0;
    for (size_t pass = 0; pass < 2 && rc == 0; pass++) {
        if (pass == 1) {
            l->items = stele__calloc(n ? n : 1, sizeof(*l->items));
            l->names = stele__malloc(bytes ? bytes : 1);
            if (!l->items || !l->names) {
                rc = STELE_ENOMEM;
                break;
            }
        }
        size_t k = 0, off = 0;
        for (size_t i = 0; i < s->cat.cap; i++) {
            stele_stream_t *st = s->cat.slots[i];
            if (!st || (st->last_version < 0 && st->state == STELE_STREAM_ACTIVE))
                continue;
            if (!include_hidden && (st->name[0] == '$' || st->state == STELE_STREAM_DELETED))
                continue;
            if (plen && (st->name_len < plen || memcmp(st->name, prefix, plen) != 0))
                continue;
            if (after && strcmp(st->name, after) <= 0)
                continue;
            if (pass == 0) {
                n++;
                bytes += st->name_len + 1u;
                continue;
            }
            memcpy(l->names + off, st->name, st->name_len + 1u);
            l->items[k].name = l->names + off;
            fill_info(st, &l->items[k]);
            l->items[k].metadata_version = metadata_version_of(s, st->name, st->name_len);
            off += st->name_len + 1u;
            k++;
        }
    }
    pthread_rwlock_unlock(&s->cat.lock);
    if (rc < 0) {
        stele_stream_list_free(l);
        return rc;
    }
    qsort(l->items, n, sizeof(*l->items), info_cmp);
    l->count = limit && limit < n ? limit : n;
    for (size_t i = 0; i < l->count; i++) {
        l->items[i].updated_ns = time_of(s, l->items[i].last_position);
        size_t len = strlen(l->items[i].name);
        l->items[i].created_ns =
            created_of(s, stele__index_hash(l->items[i].name, len), l->items[i].name, len);
    }
    *out = l;
    return 0;
}

size_t stele_stream_list_count(const stele_stream_list_t *l) { return l ? l->count : 0; }

const stele_stream_info_t *stele_stream_list_get(const stele_stream_list_t *l, size_t i) {
    return l && i < l->count ? &l->items[i] : NULL;
}

void stele_stream_list_free(stele_stream_list_t *l) {
    if (!l)
        return;
    stele__free(l->items);
    stele__free(l->names);
    stele__free(l);
}

int stele_stream_metadata_get(stele_store_t *s, const char *stream, char **json_out) {
    stele__error_clear();
    if (!s || !json_out)
        return stele__fail(STELE_EINVAL, "store or out pointer is NULL");
    *json_out = NULL;
    int rc = stele__check_stream_name(stream, true);
    if (rc < 0)
        return rc;
    if ((rc = stele__store_derived_check(s)) < 0)
        return rc;
    size_t len = strlen(stream);
    pthread_rwlock_rdlock(&s->cat.lock);
    stele_stream_t *st =
        stele__catalogue_find(&s->cat, stream, len, stele__index_hash(stream, len));
    bool found = st && (st->last_version >= 0 || st->metadata || st->state != STELE_STREAM_ACTIVE);
    char *copy = found ? stele__strdup(st->metadata ? st->metadata : "{}") : NULL;
    pthread_rwlock_unlock(&s->cat.lock);
    if (!found)
        return stele__fail(STELE_ENOTFOUND, "stream '%.64s' does not exist", stream);
    if (!copy)
        return STELE_ENOMEM;
    *json_out = copy;
    return 0;
}

/* Append one system event about stream to "$$stream" with the expected version of "$$stream";
 * del (or NULL) is checked against stream on the writer thread. *version_out (may be NULL) is
 * the version of "$$stream" written, or its actual version after STELE_ECONFLICT. */
static int system_event(stele_store_t *s, const char *stream, const char *type, const char *data,
                        int64_t expected, const stele_delete_check_t *del, int64_t *version_out) {
    size_t len = strlen(stream);
    if (len + 2 > STELE_MAX_STREAM_NAME_BYTES)
        return stele__fail(STELE_ENAME, "stream name too long for its metadata stream");
    char meta_stream[STELE_MAX_STREAM_NAME_BYTES + 1];
    snprintf(meta_stream, sizeof meta_stream, STELE_META_PREFIX "%s", stream);
    stele_event_in_t ev;
    memset(&ev, 0, sizeof ev);
    ev.type = type;
    ev.data = data;
    ev.data_len = strlen(data);
    stele_append_part_t part = {
        .stream = meta_stream, .expected_version = expected, .events = &ev, .count = 1};
    int rc = stele__store_submit(s, &part, 1, true, del, NULL);
    if (version_out)
        *version_out = rc == 0 ? part.result.last_version : part.result.actual_version;
    return rc;
}

int stele_stream_metadata_set(stele_store_t *s, const char *stream, const char *json) {
    return stele_stream_metadata_set_expect(s, stream, json, STELE_EXPECT_ANY, NULL);
}

/* The tombstone check and the expected version run on the writer thread with the write's own
 * commit (like a delete's), so no delete or other metadata write can come between them. */
int stele_stream_metadata_set_expect(stele_store_t *s, const char *stream, const char *json,
                                     int64_t expected_version, int64_t *version_out) {
    stele__error_clear();
    if (version_out)
        *version_out = -1;
    if (!s || !json)
        return stele__fail(STELE_EINVAL, "store or metadata is NULL");
    int rc = stele__check_stream_name(stream, false);
    if (rc < 0)
        return rc;
    if ((rc = stele__json_validate(json, strlen(json), true, "stream metadata")) < 0)
        return rc;
    stele_retention_t retention;
    if ((rc = stele__retention_parse(json, strlen(json), &retention)) < 0)
        return rc;
    if (strlen(json) > STELE_MAX_METADATA_BYTES)
        return stele__fail(STELE_ETOOBIG, "stream metadata is over %u bytes",
                           STELE_MAX_METADATA_BYTES);
    stele_delete_check_t check = {.target = stream, .expected = STELE_EXPECT_ANY, .metadata = true};
    int64_t version = -1;
    rc = system_event(s, stream, STELE_TYPE_METADATA, json, expected_version, &check, &version);
    if (version_out)
        *version_out = version;
    if (rc == STELE_ECONFLICT) {
        char want[32];
        if (expected_version == STELE_EXPECT_NO_STREAM)
            snprintf(want, sizeof want, "none written yet");
        else if (expected_version == STELE_EXPECT_STREAM_EXISTS)
            snprintf(want, sizeof want, "some written");
        else
            snprintf(want, sizeof want, "version %" PRId64, expected_version);
        return stele__fail(rc,
                           "the metadata of stream '%.64s' is at version %" PRId64
                           " (-1: none written), but the write expected %s",
                           stream, version, want);
    }
    return rc;
}

/* The checks (existence, state, expected version) run on the writer thread with the delete's
 * own commit, so no append can come between them. */
int stele_stream_delete(stele_store_t *s, const char *stream, int64_t expected_version,
                        bool tombstone) {
    stele__error_clear();
    if (!s)
        return stele__fail(STELE_EINVAL, "store is NULL");
    int rc = stele__check_stream_name(stream, false);
    if (rc < 0)
        return rc;
    if (expected_version < 0 && expected_version != STELE_EXPECT_ANY &&
        expected_version != STELE_EXPECT_STREAM_EXISTS)
        return stele__fail(STELE_EINVAL, "a delete expects any, stream_exists or a version");
    char data[STELE_DELETE_DATA_BYTES];
    stele__delete_data(data, 0); /* rewritten on the writer thread, at the same length */
    stele_delete_check_t del = {
        .target = stream, .expected = expected_version, .tombstone = tombstone, .data = data};
    return system_event(s, stream, tombstone ? STELE_TYPE_TOMBSTONE : STELE_TYPE_DELETED,
                        tombstone ? "{}" : data, STELE_EXPECT_ANY, &del, NULL);
}
