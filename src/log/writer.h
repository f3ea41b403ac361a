/*
 * writer.h -- the single writer thread and its group commit.
 *
 * Appends from any thread enter a bounded queue (callers wait while it is full). The writer takes
 * everything waiting (up to one commit's byte limit), has the store check and encode it into one
 * commit buffer (hooks.encode, through log/commit.h), seals the buffer as one commit of the log
 * (chain hash, CRCs), writes it with one pwrite, syncs once (SYNC mode), has the store publish it
 * (hooks.publish: index, catalogue, visible position, subscribers), and then completes every
 * caller. Under load batches grow and one fdatasync serves many appends.
 *
 * A failed write or sync poisons the writer (invariant 2): that batch and every later request fail
 * with the error, then STELE_EPOISONED, until the store is reopened and recovered. An fsync is
 * never retried.
 *
 * Callers wait on a futex word of their own request: a brief spin first, since the writer usually
 * completes a batch within microseconds of a sync returning.
 */
#ifndef STELE_LOG_WRITER_H
#define STELE_LOG_WRITER_H

#include "log/commit.h"
#include "log/log.h"
#include "stele.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct stele_wreq {
    struct stele_wreq *next;
    size_t encoded_bytes; /* set by the caller: exact bytes its records take (0 for control) */
    bool exclusive;       /* run in a batch of its own (maintenance work on the writer thread) */
    int status;           /* set by the writer before completion */
    _Atomic uint32_t done;
    /* Asynchronous requests: called on the writer thread at completion instead of waking a
     * waiting caller; it owns the request from then on. */
    void (*on_done)(struct stele_wreq *r);
} stele_wreq_t;

typedef struct stele_writer_hooks {
    void *ctx;
    /* Check each request and encode the accepted ones into cb (set req->status for each: 0 or an
     * error; rejected ones add nothing). Runs on the writer thread. */
    void (*encode)(void *ctx, stele_wreq_t **reqs, size_t n, stele_commit_buf_t *cb);
    /* The commit [first, last] is written (and synced in SYNC mode): publish it. Also called with
     * err != 0 when it failed, so that tentative state is dropped. */
    void (*publish)(void *ctx, stele_wreq_t **reqs, size_t n, const stele_commit_buf_t *cb,
                    int err);
    /* Optional: work for the writer thread after the batch's callers are completed. */
    void (*after)(void *ctx);
} stele_writer_hooks_t;

typedef struct stele_writer_stats {
    uint64_t commits;
    uint64_t syncs;
    uint64_t requests;
    uint64_t sync_ns;                       /* time spent in fdatasync */
    uint64_t sync_hist[STELE_SYNC_BUCKETS]; /* syncs by duration (stele.h) */
} stele_writer_stats_t;

typedef struct stele_writer stele_writer_t;

int stele__writer_start(stele_log_t *log, stele_durability_t durability, uint32_t sync_interval_ms,
                        uint32_t queue_capacity, const stele_writer_hooks_t *hooks,
                        stele_writer_t **out);
/* Finish what is queued, sync, stop the thread. NULL is a no-op. Returns the poison error if any.
 */
int stele__writer_stop(stele_writer_t *w);

/* Queue req and wait for its completion; returns req->status. STELE_ECLOSED once stopping. */
int stele__writer_submit(stele_writer_t *w, stele_wreq_t *req);

/* Queue req without waiting: req->on_done is called on the writer thread when it completes.
 * Returns 0, or STELE_EBUSY when the queue is full, STELE_EPOISONED, STELE_ECLOSED (then on_done
 * is never called). */
int stele__writer_submit_async(stele_writer_t *w, stele_wreq_t *req);

/* The error that poisoned the writer, or 0. */
int stele__writer_poison(stele_writer_t *w);

void stele__writer_stats(stele_writer_t *w, stele_writer_stats_t *out);

#endif
