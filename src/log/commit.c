/*
 * commit.c -- the commit buffer (see commit.h): records laid end to end, numbered, then sealed.
 */
#include "log/commit.h"

#include "os/alloc.h"
#include "util/assert.h"

int stele__commit_init(stele_commit_buf_t *cb) {
    cb->len = 0;
    cb->cap = STELE_COMMIT_CAP_BYTES;
    cb->buf = stele__malloc(STELE_COMMIT_CAP_BYTES);
    return cb->buf ? 0 : STELE_ENOMEM;
}

void stele__commit_free(stele_commit_buf_t *cb) {
    stele__free(cb->buf);
    cb->buf = NULL;
    cb->cap = cb->len = 0;
}

void stele__commit_begin(stele_commit_buf_t *cb, uint64_t first_position, int64_t time_ns) {
    STELE_ASSERT(cb->buf && first_position >= 1);
    cb->len = 0;
    cb->first_position = cb->next_position = first_position;
    cb->time_ns = time_ns;
    cb->last_record = 0;
}

uint8_t *stele__commit_reserve(stele_commit_buf_t *cb, size_t n) {
    if (cb->len + n > cb->cap)
        return NULL;
    uint8_t *p = cb->buf + cb->len;
    cb->len += n;
    return p;
}

int stele__commit_add(stele_commit_buf_t *cb, stele_record_t *rec) {
    STELE_ASSERT(cb->next_position >= cb->first_position && cb->len <= cb->cap);
    STELE_ASSERT(cb->len % STELE_RECORD_ALIGN == 0);
    rec->flags = (uint16_t)(rec->flags & ~STELE_RECORD_COMMIT);
    rec->position = cb->next_position;
    rec->time_ns = cb->time_ns;
    rec->commit_events = 0;
    size_t size =
        stele__record_size(rec->stream_len, rec->type_len, rec->metadata_len, rec->data_len, false);
    /* keep room for the hash the commit record will need */
    if (cb->len + size + STELE_RECORD_HASH_BYTES > cb->cap)
        return STELE_ETOOBIG;
    cb->last_record = cb->len;
    stele__record_encode(stele__commit_reserve(cb, size), rec);
    cb->next_position++;
    STELE_ASSERT(rec->position == cb->next_position - 1 && cb->len <= cb->cap);
    return 0;
}

int stele__commit_finish(stele_commit_buf_t *cb, stele_record_t *last) {
    /* at least one record added, and last is the one at last_record */
    STELE_ASSERT(cb->next_position > cb->first_position && cb->last_record < cb->len);
    STELE_ASSERT(last->position == cb->next_position - 1);
    last->flags |= STELE_RECORD_COMMIT;
    last->commit_events = (uint32_t)(cb->next_position - cb->first_position);
    cb->len = cb->last_record;
    size_t size = stele__record_size(last->stream_len, last->type_len, last->metadata_len,
                                     last->data_len, true);
    uint8_t *p = stele__commit_reserve(cb, size);
    if (!p)
        return STELE_ETOOBIG;
    stele__record_encode(p, last);
    return 0;
}

void stele__commit_seal(stele_commit_buf_t *cb, const uint8_t prev_hash[32], uint8_t out_hash[32]) {
    STELE_ASSERT(cb->len > 0 && cb->len % STELE_RECORD_ALIGN == 0 && cb->len <= cb->cap);
    stele__record_commit(cb->buf, cb->len, prev_hash, out_hash);
}
