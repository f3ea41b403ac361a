/*
 * encode.c -- the writer-side decision on each request of a batch, and its encoding: expected
 * versions checked against the catalogue's pending state, idempotent retries and reused ids found
 * (batch table, then the event-id index), deletes checked against the stream they delete, and the
 * accepted requests encoded into the commit buffer (stele__store_encode, the writer's encode
 * hook). Writer thread only.
 */
#include "store/append.h"

#include "index/idindex.h"
#include "os/alloc.h"
#include "store/retention.h"
#include "util/assert.h"
#include "util/error.h"
#include "util/json.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

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
    /* Which ids the index may hold, for the whole part at once: a fresh id (the common case) is
     * then settled by Bloom filters whose cache misses overlap, without a look-up of its own. */
    if (p->count > s->id_scratch_cap) {
        uint64_t *keys = stele__realloc(s->id_keys, sizeof *keys * p->count);
        if (keys)
            s->id_keys = keys;
        uint8_t *maybe = stele__realloc(s->id_maybe, p->count);
        if (maybe)
            s->id_maybe = maybe;
        if (!keys || !maybe)
            return STELE_ENOMEM;
        s->id_scratch_cap = p->count;
    }
    stele__idindex_filter(s->ids, ids, p->count, s->id_keys, s->id_maybe);
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
            rc = 0;
            if (s->id_maybe[k] && (rc = stele__idindex_find(s->ids, &ids[k], &pos)) < 0)
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
        /* the writer's view of a stream is never behind what is published */
        STELE_ASSERT(st->pending_version >= st->last_version);
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
        STELE_ASSERT(version - p->result.first_version == (int64_t)p->count);
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
