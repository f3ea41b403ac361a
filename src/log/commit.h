/*
 * commit.h -- the commit buffer: the records of one commit, encoded back to back as they will lie
 * in the log, then sealed (chain hash in the commit record, CRC of every record).
 *
 * The writer thread owns one buffer and reuses it for every batch: stele__commit_begin() gives it
 * the first position and the time of the commit, the store's encode hook adds each accepted event
 * with stele__commit_add() and re-encodes the last one as the commit record with
 * stele__commit_finish(), and the writer seals it with stele__commit_seal() before writing it with
 * one pwrite. The record layout itself is record.h's; this file only lays records end to end and
 * numbers them. Not thread-safe: one buffer belongs to one thread.
 */
#ifndef STELE_LOG_COMMIT_H
#define STELE_LOG_COMMIT_H

#include "log/record.h"
#include "stele.h"

#include <stddef.h>
#include <stdint.h>

/* The most bytes one commit may take: one append's worth of events, plus room for the largest
 * record so a commit that ends on a big event still fits. */
#define STELE_COMMIT_CAP_BYTES ((size_t)STELE_MAX_APPEND_BYTES + STELE_RECORD_MAX_BYTES)

typedef struct stele_commit_buf {
    uint8_t *buf;
    size_t len;
    size_t cap;
    uint64_t first_position; /* position the first record gets */
    uint64_t next_position;  /* position the next record gets */
    int64_t time_ns;         /* time every record of this commit gets */
    size_t last_record;      /* offset of the last record encoded */
} stele_commit_buf_t;

/* Allocate the buffer (STELE_COMMIT_CAP_BYTES). Returns 0 or STELE_ENOMEM. */
int stele__commit_init(stele_commit_buf_t *cb);
/* Release the buffer; a zeroed or already freed cb is a no-op. */
void stele__commit_free(stele_commit_buf_t *cb);

/* Start an empty commit whose first record gets first_position and every record time_ns. */
void stele__commit_begin(stele_commit_buf_t *cb, uint64_t first_position, int64_t time_ns);

/* Reserve n bytes at the end of the commit buffer (encode hooks call this); NULL when the commit
 * would exceed its limit. */
uint8_t *stele__commit_reserve(stele_commit_buf_t *cb, size_t n);

/* Encode rec as the next record of the commit (its position is cb->next_position, which advances;
 * its time is cb->time_ns). Returns 0 or STELE_ETOOBIG when the commit is full. */
int stele__commit_add(stele_commit_buf_t *cb, stele_record_t *rec);

/* Re-encode the last record added (rec, as passed to stele__commit_add) as the commit record. The
 * encode hook calls this once, after its last stele__commit_add. */
int stele__commit_finish(stele_commit_buf_t *cb, stele_record_t *last);

/* Seal the finished commit: chain its hash to prev_hash (the log's head hash), write the hash into
 * the commit record and the CRC into every record. out_hash receives the commit's hash. */
void stele__commit_seal(stele_commit_buf_t *cb, const uint8_t prev_hash[32], uint8_t out_hash[32]);

#endif
