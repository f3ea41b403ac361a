/*
 * publish.c -- what the writer thread does once a batch is in the log (and synced in SYNC mode):
 * fold it into the catalogue and indexes (fold.c), move the visible head, wake subscribers and call
 * the commit observers (observe.c); or, when the write failed, forget what the batch planned. Also
 * the catalogue snapshot offered after a batch (stele__store_after). Writer thread only.
 */
#include "store/append.h"
#include "store/fold.h"

#include "os/alloc.h"
#include "util/assert.h"
#include "util/error.h"

#include <stdio.h>
#include <string.h>

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
    /* the batch starts right after the visible head, which it moves to its end */
    STELE_ASSERT(cb->len > 0 && cb->next_position > cb->first_position);
    STELE_ASSERT(cb->first_position == atomic_load(&s->visible) + 1);
    STELE_ASSERT(s->log->head_position == cb->next_position - 1);
    int rc = 0;
    stele_fold_t fold;
    pthread_rwlock_wrlock(&s->cat.lock);
    stele__fold_begin(&fold, s, true);
    for (size_t off = 0; off < cb->len;) {
        stele_record_t rec;
        stele__record_parse_own(cb->buf + off, &rec);
        if ((rc = stele__fold_record(&fold, &rec)) < 0)
            break;
        off += rec.padded_length;
    }
    pthread_rwlock_unlock(&s->cat.lock);
    if (rc == 0)
        rc = stele__fold_end(&fold);
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
    STELE_ASSERT(atomic_load(&s->visible) == cb->next_position - 1);
    stele__observers_notify(s, cb);
}

void stele__store_after(void *ctx) {
    stele_store_t *s = ctx;
    uint64_t head = s->log->head_position;
    if (atomic_load(&s->derived_error) || !stele__catsnap_due(&s->snap, head, s->cat.count))
        return;
    uint8_t *buf = NULL;
    size_t len = 0;
    if (stele__catalogue_serialize(&s->cat, &buf, &len) == 0 &&
        !stele__catsnap_offer(&s->snap, buf, len, head))
        stele__free(buf);
}
