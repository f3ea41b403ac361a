/*
 * append.c -- appends and commits: validation in the caller's thread, then, on the writer thread,
 * expected-version checks, idempotent retries, encoding (stele__store_encode) and publication
 * (stele__store_publish).
 */
#include "store/append.h"

#include "index/idindex.h"
#include "os/alloc.h"
#include "store/retention.h"
#include "util/error.h"
#include "util/json.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* ---- caller side ----------------------------------------------------------------------------- */

int stele__check_event(const stele_event_in_t *e, size_t k, bool system) {
    int rc = stele__check_type(e->type, system);
    if (rc < 0)
        return stele__fail(rc, "event %zu: %s", k, stele_errdetail());
    if (e->data_len > STELE_MAX_DATA_BYTES)
        return stele__fail(STELE_ETOOBIG, "event %zu: data is %zu bytes; the limit is %u", k,
                           e->data_len, STELE_MAX_DATA_BYTES);
    if (e->metadata_len > STELE_MAX_METADATA_BYTES)
        return stele__fail(STELE_ETOOBIG, "event %zu: metadata is %zu bytes; the limit is %u", k,
                           e->metadata_len, STELE_MAX_METADATA_BYTES);
    if (e->data_len && !e->data)
        return stele__fail(STELE_EINVAL, "event %zu: data is NULL with a length", k);
    if (e->metadata_len && !e->metadata)
        return stele__fail(STELE_EINVAL, "event %zu: metadata is NULL with a length", k);
    if (e->flags & ~(uint32_t)STELE_EVENT_BINARY)
        return stele__fail(STELE_EINVAL, "event %zu: unknown flags 0x%x", k, e->flags);
    if (!(e->flags & STELE_EVENT_BINARY) &&
        (rc = stele__json_validate(e->data, e->data_len, false, "data")) < 0)
        return stele__fail(rc, "event %zu %s", k, stele_errdetail());
    if (e->metadata_len &&
        (rc = stele__json_validate(e->metadata, e->metadata_len, true, "metadata")) < 0)
        return stele__fail(rc, "event %zu %s", k, stele_errdetail());
    return 0;
}

static bool expected_valid(int64_t e) {
    return e >= 0 || e == STELE_EXPECT_ANY || e == STELE_EXPECT_NO_STREAM ||
           e == STELE_EXPECT_STREAM_EXISTS;
}

void stele__delete_data(char *out, int64_t truncate_before) {
    snprintf(out, STELE_DELETE_DATA_BYTES, "{\"truncate_before\":%20" PRId64 "}", truncate_before);
}

/* Validate parts and fill request r (ids generated, sizes computed). On failure *bad is the part
 * at fault (nparts when none is). */
static int prepare(stele_store_t *s, stele_store_req_t *r, stele_append_part_t *parts,
                   size_t nparts, bool system, const stele_delete_check_t *del, size_t *bad) {
    size_t total = 0, bytes = 0;
    *bad = nparts;
    if (s->opts.flags & STELE_OPEN_READONLY)
        return stele__fail(STELE_EREADONLY, "the store was opened read-only");
    int derived = atomic_load(&s->derived_error);
    if (derived)
        return stele__fail(STELE_EPOISONED,
                           "an earlier commit could not be added to the index (%s): reopen the "
                           "store",
                           stele_strerror(derived));
    if (!parts || nparts == 0)
        return stele__fail(STELE_EEMPTY, "nothing to append");
    if (nparts > STELE_MAX_COMMIT_STREAMS)
        return stele__fail(STELE_ETOOBIG, "a commit has %zu streams; the limit is %u", nparts,
                           STELE_MAX_COMMIT_STREAMS);
    int rc = 0;
    for (size_t i = 0; i < nparts; i++) {
        stele_append_part_t *p = &parts[i];
        *bad = i;
        memset(&p->result, 0, sizeof(p->result));
        p->result.actual_version = -1;
        if ((rc = stele__check_stream_name(p->stream, system)) < 0)
            return rc;
        if (!expected_valid(p->expected_version))
            return stele__fail(STELE_EINVAL, "expected version %" PRId64 " is not valid",
                               p->expected_version);
        if (!p->events || p->count == 0)
            return stele__fail(STELE_EEMPTY, "no events for stream '%.64s'", p->stream);
        for (size_t j = 0; j < i; j++)
            if (strcmp(parts[j].stream, p->stream) == 0)
                return stele__fail(STELE_EINVAL, "stream '%.64s' appears twice in one commit",
                                   p->stream);
        total += p->count;
        if (total > STELE_MAX_EVENTS_PER_APPEND)
            return stele__fail(STELE_ETOOBIG, "more than %u events in one append",
                               STELE_MAX_EVENTS_PER_APPEND);
        size_t slen = strlen(p->stream);
        for (size_t k = 0; k < p->count; k++) {
            if ((rc = stele__check_event(&p->events[k], k, system)) < 0)
                return rc;
            bytes += stele__record_size(slen, strlen(p->events[k].type), p->events[k].metadata_len,
                                        p->events[k].data_len, false);
        }
    }
    *bad = nparts;
    if (bytes > STELE_MAX_APPEND_BYTES)
        return stele__fail(STELE_ETOOBIG, "the append encodes to %zu bytes; the limit is %u", bytes,
                           STELE_MAX_APPEND_BYTES);
    if (total <= STELE_INLINE_IDS) {
        r->ids = r->inline_ids;
        r->client_ids = r->inline_client;
    } else {
        r->ids = stele__malloc(total * sizeof(*r->ids));
        r->client_ids = stele__malloc(total);
        if (!r->ids || !r->client_ids)
            return STELE_ENOMEM;
    }
    /* Ids repeated inside the request are found on the writer thread (check_ids), with a hash
     * table that also catches an id repeated by two requests of one batch. */
    for (size_t i = 0, e = 0; i < nparts; i++) {
        for (size_t k = 0; k < parts[i].count; k++, e++) {
            const stele_uuid_t *id = &parts[i].events[k].id;
            r->client_ids[e] = !stele_uuid_is_nil(id);
            if (r->client_ids[e])
                r->ids[e] = *id;
            else
                stele_uuid_generate(&r->ids[e]);
        }
    }
    r->parts = parts;
    r->nparts = nparts;
    r->system = system;
    r->del = del;
    r->failed_part = nparts;
    r->w.encoded_bytes = bytes + STELE_RECORD_HASH_BYTES + 8;
    return 0;
}

static void release(stele_store_req_t *r) {
    if (r->ids != r->inline_ids)
        stele__free(r->ids);
    if (r->client_ids != r->inline_client)
        stele__free(r->client_ids);
    r->ids = NULL;
    r->client_ids = NULL;
}

int stele__store_submit(stele_store_t *s, stele_append_part_t *parts, size_t nparts, bool system,
                        const stele_delete_check_t *del, size_t *failed_part) {
    stele__error_clear();
    size_t bad = nparts;
    stele_store_req_t r;
    memset(&r, 0, offsetof(stele_store_req_t, inline_ids));
    int rc = prepare(s, &r, parts, nparts, system, del, &bad);
    if (rc == 0) {
        rc = stele__writer_submit(s->writer, &r.w);
        if (rc < 0) {
            bad = r.failed_part;
            if (r.detail[0])
                stele__fail(rc, "%s", r.detail);
            else if (!stele_errdetail()[0])
                stele__fail(rc, "%s", stele_strerror(rc));
        } else {
            atomic_fetch_add(&s->appends, 1);
        }
    }
    release(&r);
    if (failed_part)
        *failed_part = rc < 0 ? bad : nparts;
    return rc;
}

/* Completion of an asynchronous append, on the writer thread. */
static void async_done(stele_wreq_t *w) {
    stele_store_req_t *r = (stele_store_req_t *)w;
    int status = w->status;
    if (status == 0)
        atomic_fetch_add(&r->store->appends, 1);
    const char *detail = r->detail[0] ? r->detail : status < 0 ? stele_strerror(status) : "";
    r->async_cb(r->async_arg, status, detail, r->parts, r->nparts,
                status < 0 ? r->failed_part : r->nparts);
    release(r);
    stele__free(r);
}

int stele_commit_async(stele_store_t *store, stele_append_part_t *parts, size_t count,
                       stele_append_cb cb, void *arg, size_t *failed_part) {
    stele__error_clear();
    if (failed_part)
        *failed_part = count;
    if (!store || !cb)
        return stele__fail(STELE_EINVAL, "store or callback is NULL");
    stele_store_req_t *r = stele__calloc(1, sizeof(*r));
    if (!r)
        return STELE_ENOMEM;
    size_t bad = count;
    int rc = prepare(store, r, parts, count, false, NULL, &bad);
    if (rc == 0) {
        r->store = store;
        r->async_cb = cb;
        r->async_arg = arg;
        r->w.on_done = async_done;
        rc = stele__writer_submit_async(store->writer, &r->w);
        if (rc == 0)
            return 0; /* r belongs to the writer until async_done */
    }
    if (failed_part)
        *failed_part = bad;
    release(r);
    stele__free(r);
    return rc;
}

int stele__store_control(stele_store_t *s, int (*fn)(stele_store_t *, stele_store_req_t *),
                         void *arg) {
    if (s->opts.flags & STELE_OPEN_READONLY)
        return stele__fail(STELE_EREADONLY, "the store was opened read-only");
    stele_store_req_t r;
    memset(&r, 0, sizeof r);
    r.control = fn;
    r.control_arg = arg;
    r.w.exclusive = true;
    int rc = stele__writer_submit(s->writer, &r.w);
    if (rc < 0 && r.detail[0])
        stele__fail(rc, "%s", r.detail);
    return rc;
}

int stele_append(stele_store_t *store, const char *stream, int64_t expected_version,
                 const stele_event_in_t *events, size_t count, stele_append_result_t *result) {
    if (!store)
        return stele__fail(STELE_EINVAL, "store is NULL");
    stele_append_part_t part = {
        .stream = stream, .expected_version = expected_version, .events = events, .count = count};
    int rc = stele__store_submit(store, &part, 1, false, NULL, NULL);
    if (result)
        *result = part.result;
    return rc;
}

int stele_commit(stele_store_t *store, stele_append_part_t *parts, size_t count,
                 size_t *failed_part) {
    if (!store)
        return stele__fail(STELE_EINVAL, "store is NULL");
    return stele__store_submit(store, parts, count, false, NULL, failed_part);
}

/* ---- writer side ----------------------------------------------------------------------------- */

/* ---- event ids: retries and reuse ------------------------------------------------------------
 *
 * Every client-supplied id is looked up, first among the ids of the batch being encoded (a hash
 * table, batch_ids, filled as requests pass their checks), then in the event-id index, which holds
 * every event of the log up to the last published batch. Ids the store generated are neither
 * looked up nor entered: they are fresh UUIDv7s. The rules, for every expected-version kind:
 *   - no id of the part was seen: an ordinary append;
 *   - every event of the part was seen, each with the same stream, type, data, metadata and
 *     binary flag, at consecutive positions in the order given: an idempotent retry, answered
 *     with the stored versions and positions, writing nothing;
 *   - anything else (one id seen with other content, or some ids seen and some not: a retry must
 *     repeat the whole append): STELE_EIDREUSE, naming the id;
 *   - an id given twice in one request: STELE_EINVAL. */

typedef struct stele_batch_id {
    uint8_t id[16];
    uint64_t gen;  /* in use in the batch being encoded when == s->id_gen */
    uint32_t req;  /* its request's index in the batch */
    uint32_t k;    /* its event's index in the part */
    uint16_t part; /* its part */
    uint8_t dead;  /* its request was not encoded after all: matches nothing */
} stele_batch_id_t;

#define BATCH_IDS_MIN 1024u

static size_t batch_slot(const stele_store_t *s, const stele_uuid_t *id) {
    stele_index_entry_t e;
    stele__idindex_entry(id, 0, &e);
    return (size_t)(e.hash & s->batch_ids_mask);
}

/* Room for n more ids in this batch's table (load at most 1/2). 0 or STELE_ENOMEM. */
static int batch_ids_reserve(stele_store_t *s, size_t n) {
    size_t cap = s->batch_ids_mask ? s->batch_ids_mask + 1 : 0;
    if ((s->batch_ids_used + n) * 2 <= cap)
        return 0;
    size_t ncap = cap ? cap : BATCH_IDS_MIN;
    while ((s->batch_ids_used + n) * 2 > ncap)
        ncap *= 2;
    stele_batch_id_t *t = stele__calloc(ncap, sizeof(*t)), *old = s->batch_ids;
    if (!t)
        return STELE_ENOMEM;
    s->batch_ids = t;
    s->batch_ids_mask = ncap - 1;
    for (size_t i = 0; i < cap; i++) {
        if (old[i].gen != s->id_gen)
            continue;
        size_t j = batch_slot(s, (const stele_uuid_t *)old[i].id);
        while (t[j].gen == s->id_gen)
            j = (j + 1) & s->batch_ids_mask;
        t[j] = old[i];
    }
    stele__free(old);
    return 0;
}

/* The live slot of id in this batch, or NULL; *free_slot is where it would be inserted. */
static stele_batch_id_t *batch_find(stele_store_t *s, const stele_uuid_t *id, size_t *free_slot) {
    size_t j = batch_slot(s, id);
    for (;; j = (j + 1) & s->batch_ids_mask) {
        stele_batch_id_t *b = &s->batch_ids[j];
        if (b->gen != s->id_gen) {
            *free_slot = j;
            return NULL;
        }
        if (!b->dead && memcmp(b->id, id->bytes, 16) == 0)
            return b;
    }
}

/* After request r (index ri) was not encoded: its ids match nothing any more. */
static void batch_forget(stele_store_t *s, const stele_store_req_t *r, uint32_t ri) {
    if (!s->batch_ids_mask || !r->client_ids)
        return;
    size_t e = 0;
    for (size_t i = 0; i < r->nparts; i++) {
        for (size_t k = 0; k < r->parts[i].count; k++, e++) {
            if (!r->client_ids[e])
                continue;
            size_t j = batch_slot(s, &r->ids[e]);
            for (; s->batch_ids[j].gen == s->id_gen; j = (j + 1) & s->batch_ids_mask) {
                stele_batch_id_t *b = &s->batch_ids[j];
                if (b->req == ri && memcmp(b->id, r->ids[e].bytes, 16) == 0)
                    b->dead = 1;
            }
        }
    }
}

/* What an earlier event holds, to compare with a retried one. */
typedef struct seen_event {
    const char *stream, *type;
    size_t stream_len, type_len;
    const void *data, *metadata;
    size_t data_len, metadata_len;
    bool binary;
    int64_t version;
    uint64_t position;
} seen_event_t;

/* Name the first difference between an earlier event and event e of part p ("" when none). */
static const char *difference(const seen_event_t *a, const stele_append_part_t *p,
                              const stele_event_in_t *e) {
    if (a->stream_len != strlen(p->stream) || memcmp(a->stream, p->stream, a->stream_len) != 0)
        return "stream";
    if (a->type_len != strlen(e->type) || memcmp(a->type, e->type, a->type_len) != 0)
        return "type";
    if (a->binary != ((e->flags & STELE_EVENT_BINARY) != 0) || a->data_len != e->data_len ||
        (e->data_len && memcmp(a->data, e->data, e->data_len) != 0))
        return "data";
    if (a->metadata_len != e->metadata_len ||
        (e->metadata_len && memcmp(a->metadata, e->metadata, e->metadata_len) != 0))
        return "metadata";
    return "";
}

static int id_reuse(stele_store_req_t *r, const stele_uuid_t *id, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int id_reuse(stele_store_req_t *r, const stele_uuid_t *id, const char *fmt, ...) {
    char text[37];
    stele_uuid_format(id, text);
    int n = snprintf(r->detail, sizeof r->detail, "event id %s ", text);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->detail + n, sizeof r->detail - (size_t)n, fmt, ap);
    va_end(ap);
    return STELE_EIDREUSE;
}

/* Look up the ids of part i (its first event is number e0 of the request, which is number ri of
 * the batch) and enter its client ids in the batch table. Returns 0 when none was seen before, 1
 * for an idempotent retry (p->result filled), or an error with r->detail set. */
static int check_ids(stele_store_t *s, stele_store_req_t *r, uint32_t ri, size_t i, size_t e0) {
    stele_append_part_t *p = &r->parts[i];
    const stele_uuid_t *ids = r->ids + e0;
    const uint8_t *client = r->client_ids + e0;
    size_t nclient = 0, nseen = 0;
    for (size_t k = 0; k < p->count; k++)
        nclient += client[k];
    if (nclient == 0)
        return 0;
    int rc = batch_ids_reserve(s, nclient);
    if (rc < 0)
        return rc;
    const stele_uuid_t *first_seen = NULL, *first_new = NULL;
    uint64_t first_pos = 0;
    for (size_t k = 0; k < p->count; k++) {
        if (!client[k]) {
            if (!first_new)
                first_new = &ids[k];
            continue;
        }
        size_t free_slot = 0;
        stele_batch_id_t *b = batch_find(s, &ids[k], &free_slot);
        seen_event_t seen;
        bool found = false;
        if (b && b->req == ri) {
            char text[37];
            stele_uuid_format(&ids[k], text);
            snprintf(r->detail, sizeof r->detail,
                     "event id %s is given twice in one append (event %u of part %u and event "
                     "%zu of part %zu)",
                     text, b->k, (unsigned)b->part, k, i);
            return STELE_EINVAL;
        }
        if (b) {
            /* Written by an earlier request of this batch: compare with what it asked for. */
            const stele_store_req_t *o = (const stele_store_req_t *)s->batch_reqs[b->req];
            const stele_append_part_t *op = &o->parts[b->part];
            const stele_event_in_t *oe = &op->events[b->k];
            seen = (seen_event_t){.stream = op->stream,
                                  .stream_len = strlen(op->stream),
                                  .type = oe->type,
                                  .type_len = strlen(oe->type),
                                  .data = oe->data,
                                  .data_len = oe->data_len,
                                  .metadata = oe->metadata,
                                  .metadata_len = oe->metadata_len,
                                  .binary = (oe->flags & STELE_EVENT_BINARY) != 0,
                                  .version = op->result.first_version + (int64_t)b->k,
                                  .position = op->result.first_position + b->k};
            found = true;
        } else {
            stele_batch_id_t *nb = &s->batch_ids[free_slot];
            memcpy(nb->id, ids[k].bytes, 16);
            nb->gen = s->id_gen;
            nb->req = ri;
            nb->part = (uint16_t)i;
            nb->k = (uint32_t)k;
            nb->dead = 0;
            s->batch_ids_used++;
            uint64_t pos = 0;
            if ((rc = stele__idindex_find(s->ids, &ids[k], &pos)) < 0)
                return rc;
            if (rc == 1) {
                stele_record_t rec;
                if ((rc = stele__cursor_seek(&s->wcursor, pos)) < 0 ||
                    (rc = stele__cursor_next(&s->wcursor, &rec, NULL)) <= 0)
                    return rc < 0 ? rc : STELE_ECORRUPT;
                if (memcmp(rec.id.bytes, ids[k].bytes, 16) != 0 || rec.position != pos) {
                    snprintf(r->detail, sizeof r->detail,
                             "the event-id index names position %" PRIu64
                             " for an event with another id (run reindex)",
                             pos);
                    return STELE_ECORRUPT;
                }
                seen = (seen_event_t){.stream = rec.stream,
                                      .stream_len = rec.stream_len,
                                      .type = rec.type,
                                      .type_len = rec.type_len,
                                      .data = rec.data,
                                      .data_len = rec.data_len,
                                      .metadata = rec.metadata,
                                      .metadata_len = rec.metadata_len,
                                      .binary = (rec.flags & STELE_RECORD_BINARY) != 0,
                                      .version = (int64_t)rec.version,
                                      .position = rec.position};
                found = true;
            }
        }
        if (!found) {
            if (!first_new)
                first_new = &ids[k];
            continue;
        }
        const char *diff = difference(&seen, p, &p->events[k]);
        if (diff[0])
            return id_reuse(r, &ids[k],
                            "was already used for another event (stream '%.*s', version %" PRId64
                            ", position %" PRIu64 "): its %s differs",
                            (int)(seen.stream_len < 64 ? seen.stream_len : 64), seen.stream,
                            seen.version, seen.position, diff);
        if (nseen == 0) {
            first_seen = &ids[k];
            first_pos = seen.position;
            p->result.first_version = seen.version;
            p->result.first_position = seen.position;
        } else if (k != nseen || seen.position != first_pos + k) {
            return id_reuse(r, &ids[k],
                            "was written by another append than the ids before it in this one "
                            "(position %" PRIu64 "): a retry must repeat the whole append",
                            seen.position);
        }
        p->result.last_version = seen.version;
        p->result.last_position = seen.position;
        nseen++;
    }
    if (nseen == 0)
        return 0;
    if (nseen < p->count) {
        char text[37];
        if (client[first_new - ids])
            stele_uuid_format(first_new, text);
        return id_reuse(r, first_seen,
                        "was already written (position %" PRIu64 "), but event %s of this "
                        "append was not: a retry must repeat the whole append with the same ids",
                        first_pos, client[first_new - ids] ? text : "without an id");
    }
    p->result.idempotent = true;
    return 1;
}

/* Check one part against the writer's view. Returns 0 to append, 1 when it is an idempotent retry
 * (result filled), or an error with r->detail set. */
static int check_part(stele_store_t *s, stele_store_req_t *r, uint32_t ri, size_t i, size_t e0,
                      stele_stream_t *st) {
    stele_append_part_t *p = &r->parts[i];
    int64_t cur = st->pending_version, e = p->expected_version;
    bool deleted = st->pending_state == STELE_STREAM_DELETED;
    bool exists = cur >= 0 && !deleted;
    /* Ids first: a retry is answered with its first result whatever the stream became since. */
    int rc = check_ids(s, r, ri, i, e0);
    if (rc != 0)
        return rc;
    if (st->pending_state == STELE_STREAM_TOMBSTONED) {
        snprintf(r->detail, sizeof r->detail, "stream '%.64s' is tombstoned", p->stream);
        return STELE_ETOMBSTONED;
    }
    bool ok = e == STELE_EXPECT_ANY || (e == STELE_EXPECT_NO_STREAM && !exists) ||
              (e == STELE_EXPECT_STREAM_EXISTS && exists) || (e >= 0 && e == cur);
    if (!ok) {
        p->result.actual_version = exists ? cur : -1;
        char want[32];
        if (e == STELE_EXPECT_NO_STREAM)
            snprintf(want, sizeof want, "no stream");
        else if (e == STELE_EXPECT_STREAM_EXISTS)
            snprintf(want, sizeof want, "an existing stream");
        else
            snprintf(want, sizeof want, "version %" PRId64, e);
        snprintf(r->detail, sizeof r->detail, "stream '%.64s': expected %s, but the stream %s",
                 p->stream, want,
                 exists    ? "is at version "
                 : deleted ? "was deleted"
                           : "does not exist");
        if (exists) {
            size_t n = strlen(r->detail);
            snprintf(r->detail + n, sizeof r->detail - n, "%" PRId64, cur);
        }
        return STELE_ECONFLICT;
    }
    return 0;
}

/* A stand-in for a stream not in the catalogue, as stele__catalogue_get would insert it. */
static stele_stream_t *stand_in(const char *name, size_t len, uint64_t hash) {
    stele_stream_t *st = stele__malloc(sizeof(*st) + len + 1);
    if (!st)
        return NULL;
    memset(st, 0, sizeof(*st));
    st->hash = hash;
    st->last_version = st->pending_version = -1;
    st->name_len = (uint16_t)len;
    memcpy(st->name, name, len);
    st->name[len] = 0;
    return st;
}

/* Check and encode one request. Returns 0 (encoded or idempotent), or an error; nothing of a
 * failed request stays in cb. */
/* Check a delete against the writer's view of the stream it deletes; fill its data. */
static int check_delete(stele_store_t *s, stele_store_req_t *r, stele_stream_t **target) {
    const stele_delete_check_t *d = r->del;
    size_t len = strlen(d->target);
    /* Found, not inserted: deleting a stream never seen must not leave an entry behind. */
    stele_stream_t *t =
        stele__catalogue_find(&s->cat, d->target, len, stele__index_hash(d->target, len));
    *target = d->metadata ? NULL : t;
    int rc = 0;
    int64_t cur = t != NULL ? t->pending_version : -1, e = d->expected;
    if (d->metadata)
        rc = t != NULL && t->pending_state == STELE_STREAM_TOMBSTONED ? STELE_ETOMBSTONED : 0;
    else if (t == NULL || (cur < 0 && t->pending_state == STELE_STREAM_ACTIVE))
        rc = STELE_ENOTFOUND;
    else if (t->pending_state == STELE_STREAM_TOMBSTONED)
        rc = STELE_ETOMBSTONED;
    else if (t->pending_state == STELE_STREAM_DELETED && !d->tombstone)
        rc = STELE_EDELETED;
    else if (!(e == STELE_EXPECT_ANY || e == cur ||
               (e == STELE_EXPECT_STREAM_EXISTS && t->pending_state == STELE_STREAM_ACTIVE)))
        rc = STELE_ECONFLICT;
    if (rc == STELE_ECONFLICT) {
        r->parts[0].result.actual_version = cur;
        snprintf(r->detail, sizeof r->detail,
                 "stream '%.64s': expected version %" PRId64 ", but it is at %" PRId64, d->target,
                 e, cur);
    } else if (rc < 0) {
        snprintf(r->detail, sizeof r->detail, "stream '%.64s' %s", d->target,
                 rc == STELE_ENOTFOUND  ? "does not exist"
                 : rc == STELE_EDELETED ? "is already deleted"
                 : d->metadata          ? "is tombstoned: its metadata cannot change"
                                        : "is already tombstoned");
    } else if (!d->tombstone && !d->metadata) {
        stele__delete_data(d->data, cur + 1);
    }
    return rc;
}

static int encode_request(stele_store_t *s, stele_store_req_t *r, uint32_t ri,
                          stele_commit_buf_t *cb, stele_record_t *last, bool *encoded) {
    stele_stream_t *sts[STELE_MAX_COMMIT_STREAMS], *target = NULL;
    size_t nidem = 0, e0 = 0;
    const stele_uuid_t *ids = r->ids;
    *encoded = false;
    if (r->del) {
        int rc = check_delete(s, r, &target);
        if (rc < 0)
            return rc;
    }
    /* A stream the catalogue does not know yet is checked against a stand-in and inserted only
     * once the whole request passes: a refused append to a new name (a wrong expected version,
     * reused ids, another part failing) must not leave an entry behind, since entries live in an
     * arena until the store closes and are saved in snapshots. */
    bool fresh[STELE_MAX_COMMIT_STREAMS];
    memset(fresh, 0, sizeof fresh);
    int rc = 0;
    for (size_t i = 0; i < r->nparts; i++) {
        stele_append_part_t *p = &r->parts[i];
        size_t len = strlen(p->stream);
        uint64_t hash = stele__index_hash(p->stream, len);
        sts[i] = stele__catalogue_find(&s->cat, p->stream, len, hash);
        fresh[i] = sts[i] == NULL;
        if (fresh[i]) {
            sts[i] = stand_in(p->stream, len, hash);
            if (!sts[i]) {
                fresh[i] = false;
                rc = STELE_ENOMEM;
                r->failed_part = i;
                goto done;
            }
        }
        rc = check_part(s, r, ri, i, e0, sts[i]);
        if (rc < 0) {
            r->failed_part = i;
            goto done;
        }
        nidem += (size_t)rc;
        e0 += p->count;
    }
    rc = 0;
    if (nidem == r->nparts)
        goto done;
    if (nidem > 0) {
        snprintf(r->detail, sizeof r->detail,
                 "part of this commit was already written by an earlier append with these ids");
        rc = STELE_EIDREUSE;
        goto done;
    }
    for (size_t i = 0; i < r->nparts; i++) {
        if (!fresh[i])
            continue;
        stele_stream_t *real = NULL;
        rc = stele__catalogue_get(&s->cat, sts[i]->name, sts[i]->name_len, sts[i]->hash, false,
                                  &real);
        if (rc < 0)
            goto done;
        stele__free(sts[i]);
        sts[i] = real;
        fresh[i] = false;
    }
    size_t mark_len = cb->len, mark_last = cb->last_record;
    uint64_t mark_pos = cb->next_position;
    stele_record_t rec, keep = *last;
    ids = r->ids;
    for (size_t i = 0; i < r->nparts; i++) {
        stele_append_part_t *p = &r->parts[i];
        stele_stream_t *st = sts[i];
        int64_t version = st->pending_version + 1;
        p->result.first_version = version;
        p->result.first_position = cb->next_position;
        for (size_t k = 0; k < p->count; k++) {
            const stele_event_in_t *e = &p->events[k];
            memset(&rec, 0, sizeof rec);
            rec.flags = (uint16_t)(((e->flags & STELE_EVENT_BINARY) ? STELE_RECORD_BINARY : 0) |
                                   (e->metadata_len ? STELE_RECORD_HAS_METADATA : 0));
            rec.version = (uint64_t)version++;
            rec.id = ids[k];
            rec.stream = st->name;
            rec.stream_len = st->name_len;
            rec.type = e->type;
            rec.type_len = (uint16_t)strlen(e->type);
            rec.metadata = e->metadata;
            rec.metadata_len = (uint32_t)e->metadata_len;
            rec.data = e->data;
            rec.data_len = (uint32_t)e->data_len;
            if (stele__commit_add(cb, &rec) < 0) {
                cb->len = mark_len;
                cb->last_record = mark_last;
                cb->next_position = mark_pos;
                *last = keep;
                snprintf(r->detail, sizeof r->detail, "the append does not fit in one commit");
                return STELE_ETOOBIG;
            }
            *last = rec;
        }
        ids += p->count;
        p->result.last_version = version - 1;
        p->result.last_position = cb->next_position - 1;
        p->result.actual_version = version - 1;
    }
    for (size_t i = 0; i < r->nparts; i++) {
        stele_stream_t *st = sts[i];
        st->pending_version = r->parts[i].result.last_version;
        if (st->pending_state == STELE_STREAM_DELETED)
            st->pending_state = STELE_STREAM_ACTIVE;
        st->batch = s->batch_serial;
    }
    if (target) {
        target->pending_state = r->del->tombstone ? STELE_STREAM_TOMBSTONED : STELE_STREAM_DELETED;
        if (!r->del->tombstone)
            target->pending_first = target->pending_version + 1;
    }
    *encoded = true;
    return 0;
done:
    for (size_t i = 0; i < r->nparts; i++) {
        if (fresh[i])
            stele__free(sts[i]);
    }
    return rc;
}

void stele__store_encode(void *ctx, stele_wreq_t **reqs, size_t n, stele_commit_buf_t *cb) {
    stele_store_t *s = ctx;
    stele_record_t last;
    bool any = false;
    s->batch_serial++;
    s->id_gen++;
    s->batch_ids_used = 0;
    s->batch_reqs = reqs;
    memset(&last, 0, sizeof last);
    for (size_t i = 0; i < n; i++) {
        stele_store_req_t *r = (stele_store_req_t *)reqs[i];
        if (r->control) {
            r->w.status = r->control(s, r);
            continue;
        }
        bool encoded = false;
        r->w.status = encode_request(s, r, (uint32_t)i, cb, &last, &encoded);
        if (!encoded)
            batch_forget(s, r, (uint32_t)i);
        any = any || encoded;
    }
    if (any && stele__commit_finish(cb, &last) < 0) {
        /* cannot happen: commit_add keeps room for the hash */
        for (size_t i = 0; i < n; i++)
            reqs[i]->status = STELE_ETOOBIG;
        cb->len = 0;
    }
}

/* System events change the stream they are about ("$$name" is about "name"). */
static int apply_system(stele_store_t *s, const stele_record_t *rec, bool locked) {
    const char *target = rec->stream + 2;
    size_t tlen = rec->stream_len - 2;
    stele_stream_t *t = NULL;
    int rc =
        stele__catalogue_get(&s->cat, target, tlen, stele__index_hash(target, tlen), locked, &t);
    if (rc < 0)
        return rc;
    if (rec->type_len == strlen(STELE_TYPE_METADATA) &&
        memcmp(rec->type, STELE_TYPE_METADATA, rec->type_len) == 0) {
        char *m = stele__strndup((const char *)rec->data, rec->data_len);
        if (!m)
            return STELE_ENOMEM;
        stele__free(t->metadata);
        t->metadata = m;
        stele__retention_set(&s->cat, t, m, rec->data_len);
    } else if (rec->type_len == strlen(STELE_TYPE_DELETED) &&
               memcmp(rec->type, STELE_TYPE_DELETED, rec->type_len) == 0) {
        t->state = t->pending_state = STELE_STREAM_DELETED;
        t->first_version = t->pending_first = t->last_version + 1;
    } else if (rec->type_len == strlen(STELE_TYPE_TOMBSTONE) &&
               memcmp(rec->type, STELE_TYPE_TOMBSTONE, rec->type_len) == 0) {
        t->state = t->pending_state = STELE_STREAM_TOMBSTONED;
    }
    return 0;
}

int stele__store_apply(stele_store_t *s, const stele_record_t *rec, uint64_t hash, bool locked) {
    stele_stream_t *st = NULL;
    int rc = stele__catalogue_get(&s->cat, rec->stream, rec->stream_len, hash, locked, &st);
    if (rc < 0)
        return rc;
    st->last_version = (int64_t)rec->version;
    if (st->pending_version < st->last_version)
        st->pending_version = st->last_version;
    st->last_position = rec->position;
    if (st->state == STELE_STREAM_DELETED) {
        st->state = STELE_STREAM_ACTIVE;
        if (st->pending_state == STELE_STREAM_DELETED)
            st->pending_state = STELE_STREAM_ACTIVE;
    }
    s->cat.position = rec->position;
    if (rec->stream_len > 2 && rec->stream[0] == '$' && rec->stream[1] == '$' &&
        rec->type[0] == '$')
        return apply_system(s, rec, locked);
    return 0;
}

void stele__store_publish(void *ctx, stele_wreq_t **reqs, size_t n, const stele_commit_buf_t *cb,
                          int err) {
    stele_store_t *s = ctx;
    if (err) {
        /* Poisoned: forget what this batch planned. */
        pthread_rwlock_wrlock(&s->cat.lock);
        for (size_t i = 0; i < n; i++) {
            stele_store_req_t *r = (stele_store_req_t *)reqs[i];
            for (size_t j = 0; j < r->nparts; j++) {
                size_t len = strlen(r->parts[j].stream);
                stele_stream_t *st = stele__catalogue_find(
                    &s->cat, r->parts[j].stream, len, stele__index_hash(r->parts[j].stream, len));
                if (st) {
                    st->pending_version = st->last_version;
                    st->pending_state = st->state;
                    st->pending_first = st->first_version;
                }
            }
        }
        pthread_rwlock_unlock(&s->cat.lock);
        return;
    }
    size_t count = 0;
    int rc = 0;
    pthread_rwlock_wrlock(&s->cat.lock);
    for (size_t off = 0; off < cb->len;) {
        stele_record_t rec;
        stele__record_parse_own(cb->buf + off, &rec);
        uint64_t hash = stele__index_hash(rec.stream, rec.stream_len);
        if ((rc = stele__store_apply(s, &rec, hash, true)) < 0)
            break;
        stele__idindex_entry(&rec.id, rec.position, &s->id_entries[count]);
        stele_index_entry_t *e = &s->entries[count++];
        e->hash = hash;
        e->version = rec.version;
        e->position = rec.position;
        off += rec.padded_length;
    }
    pthread_rwlock_unlock(&s->cat.lock);
    if (rc == 0)
        rc = stele__index_add(s->index, s->entries, count);
    if (rc == 0)
        rc = stele__index_add(s->ids, s->id_entries, count);
    if (rc != 0) {
        /* The log holds the commit; the derived state could not follow. Reads through the index
         * may miss it until reopen rebuilds it, so stop accepting appends (stele__store_submit)
         * and tell these callers that their events are in the log. */
        int expected = 0;
        atomic_compare_exchange_strong(&s->derived_error, &expected, rc);
        for (size_t i = 0; i < n; i++) {
            stele_store_req_t *r = (stele_store_req_t *)reqs[i];
            if (r->w.status != 0 || r->control)
                continue;
            r->w.status = rc;
            snprintf(r->detail, sizeof r->detail,
                     "%s after the commit was written to the log: its events are stored, but the "
                     "index could not be updated; reopen the store",
                     stele_strerror(rc));
        }
    }
    pthread_mutex_lock(&s->notify_mu);
    memcpy(s->head_hash, s->log->head_hash, 32);
    atomic_store_explicit(&s->visible, s->log->head_position, memory_order_release);
    pthread_cond_broadcast(&s->notify_cv);
    pthread_mutex_unlock(&s->notify_mu);
    if (s->on_commit)
        s->on_commit(s->on_commit_arg, s->log->head_position);
}

void stele__store_after(void *ctx) {
    stele_store_t *s = ctx;
    uint64_t head = s->log->head_position;
    if (atomic_load(&s->derived_error) || !stele__snapshot_due(&s->snap, head, s->cat.count))
        return;
    uint8_t *buf = NULL;
    size_t len = 0;
    if (stele__catalogue_serialize(&s->cat, &buf, &len) == 0 &&
        !stele__snapshotter_offer(&s->snap, buf, len, head))
        stele__free(buf);
}

void stele_store_on_commit(stele_store_t *store, void (*fn)(void *arg, uint64_t head), void *arg) {
    if (!store)
        return;
    store->on_commit_arg = arg;
    store->on_commit = fn;
}
