/*
 * append.c -- the public append calls (stele_append, stele_commit, stele_commit_async) and what
 * happens in the caller's thread: validation of every event and part, ids generated, the request
 * built and handed to the writer. The writer thread then decides and encodes the batch (encode.c)
 * and publishes it (publish.c), which applies it to the catalogue and indexes (fold.c).
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
