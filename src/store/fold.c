/*
 * fold.c -- the fold of committed records into the derived state: each record of a commit, in
 * position order, updates its stream in the catalogue (last version and position, state; system
 * events the stream they are about) and becomes an entry of the stream index and of the event-id
 * index. Live publication (publish.c, on the writer thread, for each written batch) and replay
 * (at open and reindex, from the log) both go through stele__fold_record, so the state a store
 * reaches never depends on which of the two built it.
 */
#include "store/fold.h"

#include "index/idindex.h"
#include "os/alloc.h"
#include "store/retention.h"
#include "util/assert.h"
#include "util/error.h"

#include <inttypes.h>
#include <string.h>

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

/* Apply one record of the log to the catalogue: the stream's last version and position, its state,
 * and for system events the stream they are about. hash is the stream name's stele__index_hash.
 * locked: the caller holds cat.lock exclusively. */
static int apply(stele_store_t *s, const stele_record_t *rec, uint64_t hash, bool locked) {
    stele_stream_t *st = NULL;
    int rc = stele__catalogue_get(&s->cat, rec->stream, rec->stream_len, hash, locked, &st);
    if (rc < 0)
        return rc;
    /* the catalogue moves forward only, one record at a time */
    STELE_ASSERT(rec->position > s->cat.position);
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

void stele__fold_begin(stele_fold_t *f, stele_store_t *s, bool locked) {
    f->s = s;
    f->locked = locked;
    f->cat_after = s->cat.position;
    f->index_after = stele__index_checkpoint(s->index);
    f->ids_after = stele__index_checkpoint(s->ids);
    f->count = f->nids = 0;
    f->last = 0;
}

/* Hand the staged entries to the indexes. */
static int flush_index(stele_fold_t *f) {
    int rc = f->count ? stele__index_add(f->s->index, f->s->entries, f->count) : 0;
    f->count = 0;
    return rc;
}
static int flush_ids(stele_fold_t *f) {
    int rc = f->nids ? stele__index_add(f->s->ids, f->s->id_entries, f->nids) : 0;
    f->nids = 0;
    return rc;
}

int stele__fold_record(stele_fold_t *f, const stele_record_t *rec) {
    stele_store_t *s = f->s;
    /* records come in position order, without gaps */
    STELE_ASSERT(rec->position >= 1 && (f->last == 0 || rec->position == f->last + 1));
    f->last = rec->position;
    uint64_t hash = stele__index_hash(rec->stream, rec->stream_len);
    int rc;
    if (rec->position > f->cat_after && (rc = apply(s, rec, hash, f->locked)) < 0)
        return rc;
    if (rec->position > f->index_after) {
        /* Full only in a long replay: one commit's entries always fit (store.c sizes them). */
        if (f->count == s->entries_cap && (rc = flush_index(f)) < 0)
            return rc;
        stele_index_entry_t *e = &s->entries[f->count++];
        e->hash = hash;
        e->version = rec->version;
        e->position = rec->position;
    }
    if (rec->position > f->ids_after) {
        if (f->nids == s->entries_cap && (rc = flush_ids(f)) < 0)
            return rc;
        stele__idindex_entry(&rec->id, rec->position, &s->id_entries[f->nids++]);
    }
    return 0;
}

int stele__fold_end(stele_fold_t *f) {
    int rc = flush_index(f);
    if (rc == 0)
        rc = flush_ids(f);
    return rc;
}

int stele__store_replay(stele_store_t *s, uint64_t from, stele_progress_fn progress, void *arg) {
    uint64_t head = s->log->head_position;
    if (from == 0)
        from = 1;
    if (from > head)
        return 0;
    stele_fold_t fold;
    stele__fold_begin(&fold, s, false);
    stele_log_cursor_t c;
    int rc = stele__cursor_init(&c, s->log, (size_t)1 << 20);
    if (rc < 0)
        return rc;
    if ((rc = stele__cursor_seek(&c, from)) < 0)
        goto out;
    for (uint64_t pos = from; pos <= head; pos++) {
        stele_record_t rec;
        rc = stele__cursor_next(&c, &rec, NULL);
        if (rc == 0)
            rc = stele__fail(STELE_ECORRUPT, "the log ends at %" PRIu64 " before its head", pos);
        if (rc < 0)
            goto out;
        if ((rc = stele__fold_record(&fold, &rec)) < 0)
            goto out;
        if (progress && (pos % 65536 == 0 || pos == head))
            progress(arg, pos - from + 1, head - from + 1);
    }
    rc = stele__fold_end(&fold);
out:
    stele__cursor_free(&c);
    return rc < 0 ? rc : 0;
}

int stele__store_catch_up(stele_store_t *s, bool keep_ahead) {
    uint64_t head = s->log->head_position;
    int rc;
    if (!keep_ahead && stele__index_checkpoint(s->index) > head &&
        (rc = stele__index_reset(s->index)) < 0)
        return rc;
    if (!keep_ahead && stele__index_checkpoint(s->ids) > head &&
        (rc = stele__index_reset(s->ids)) < 0)
        return rc;
    if (s->cat.position > head)
        stele__catalogue_clear(&s->cat);
    /* From the oldest of the three: the event-id index in particular must hold every event of
     * the log before the writer starts, or a retry of an acknowledged append whose entry the
     * index had not written yet would be written again. */
    uint64_t ckpt = stele__index_checkpoint(s->index);
    uint64_t ids_ckpt = stele__index_checkpoint(s->ids);
    if (ids_ckpt < ckpt)
        ckpt = ids_ckpt;
    uint64_t from = (s->cat.position < ckpt ? s->cat.position : ckpt) + 1;
    if ((rc = stele__store_replay(s, from, NULL, NULL)) < 0)
        return rc;
    memcpy(s->head_hash, s->log->head_hash, 32);
    atomic_store(&s->visible, head);
    return 0;
}
