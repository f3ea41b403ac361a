/*
 * store.h -- the store object shared by the files of store/ (append, read, streams, subscriptions,
 * maintenance). Not part of the public API.
 *
 * Lock order: cat.lock before notify_mu; log->lock is taken alone.
 */
#ifndef STELE_STORE_STORE_H
#define STELE_STORE_STORE_H

#include "index/index.h"
#include "log/cursor.h"
#include "log/log.h"
#include "log/writer.h"
#include "store/catalogue.h"
#include "store/catalogue_snap.h"
#include "stele.h"
#include "util/error.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

/* Reserved system streams and event types. */
#define STELE_META_PREFIX "$$"
#define STELE_TYPE_METADATA "$metadata"
#define STELE_TYPE_DELETED "$deleted"
#define STELE_TYPE_TOMBSTONE "$tombstone"

/* A commit observer (observe.c). The public ones, plus one slot kept for stele_store_on_commit. */
#define STELE__OBSERVER_SLOTS (STELE_MAX_OBSERVERS + 1u)
typedef struct stele_observer {
    uint64_t id; /* 0: the slot is free */
    stele_observer_fn fn;
    void *arg;
    uint64_t after; /* the visible head at registration: batches at or below it are not its own */
    bool entries;   /* it reads the entries (the on_commit hook looks only at the head) */
} stele_observer_t;

struct stele_store {
    char *dir;
    char *log_dir;
    char *index_dir;
    char *ids_dir;
    const stele_vfs_t *vfs;
    stele_options_t opts;
    stele_file_t *lock_file;

    stele_log_t *log;
    stele_index_t *index;
    stele_index_t *ids; /* the event-id index (index/idindex.h) */
    stele_catalogue_t cat;
    stele_writer_t *writer;
    stele_catsnap_t snap;
    /* Commit observers (observe.c). The writer holds obs_mu while it calls them, so unobserve,
     * which takes it, returns only once the observer is not running. Lock order: obs_mu, then
     * what an observer's reads take (cat.lock, notify_mu). */
    pthread_mutex_t obs_mu;
    stele_observer_t observers[STELE__OBSERVER_SLOTS]; /* id 0: a free slot */
    _Atomic uint32_t nobservers; /* slots in use: the writer looks without obs_mu */
    uint64_t next_observer_id;
    stele_commit_entry_t *obs_entries; /* entries_cap, allocated by the first public observer */
    void (*on_commit)(void *arg, uint64_t head); /* stele_store_on_commit, an observer */
    void *on_commit_arg;
    uint64_t on_commit_id;

    /* Published head: readers see positions <= visible. */
    _Atomic uint64_t visible;
    pthread_mutex_t notify_mu; /* guards head_hash and wakes subscribers */
    pthread_cond_t notify_cv;
    uint8_t head_hash[32];
    _Atomic bool closing;
    /* Set when a commit reached the log but the index or catalogue could not follow (out of
     * memory): appends are refused until reopen or reindex, and close does not persist the derived
     * state, so that the next open rebuilds it from the log. */
    _Atomic int derived_error;
    /* Threads inside stele_subscription_next(): close wakes them with STELE_ECLOSED and waits for
     * them to leave before it frees what they use (guarded for waiting by notify_mu). */
    _Atomic uint32_t sub_inside;

    /* Writer-thread state. */
    uint32_t batch_serial;
    stele_index_entry_t *entries; /* index entries of the batch being published */
    size_t entries_cap;
    stele_index_entry_t *id_entries; /* event-id index entries of the same batch */
    stele_log_cursor_t wcursor;      /* the writer's reads (idempotency checks) */
    /* The client-supplied ids of the batch being encoded (append.c), so that an id met twice in
     * one batch (in one request, or in two) is caught before either is in the id index. Open
     * addressing; a slot is in use when its gen is id_gen. */
    struct stele_batch_id *batch_ids;
    size_t batch_ids_mask; /* slots - 1 (0 before the first use) */
    size_t batch_ids_used;
    /* Scratch of check_ids (encode.c): which ids of a part the event-id index may hold, asked
     * for the whole part at once (stele__idindex_filter). Grows to the largest part seen. */
    uint64_t *id_keys;
    uint8_t *id_maybe;
    size_t id_scratch_cap;
    uint64_t id_gen;
    stele_wreq_t **batch_reqs; /* the batch being encoded */

    _Atomic uint64_t appends;
};

/* 0, or STELE_EPOISONED while the derived state (index, catalogue) is known to miss commits of
 * the log (derived_error: a publish or a reindex failed): a stream read, a one-stream
 * subscription or a catalogue query would then answer from it wrongly (a stream with too few or
 * no events), so they fail until reopen or a successful reindex. $all reads use the log only. */
static inline int stele__store_derived_check(stele_store_t *s) {
    int e = atomic_load(&s->derived_error);
    if (e == 0)
        return 0;
    return stele__fail(STELE_EPOISONED,
                       "the index could not follow the log (%s): reopen the store or reindex",
                       stele_strerror(e));
}

/* The writer hooks: encode.c decides and encodes a batch; publish.c publishes it. */
void stele__store_encode(void *ctx, stele_wreq_t **reqs, size_t n, stele_commit_buf_t *cb);
void stele__store_publish(void *ctx, stele_wreq_t **reqs, size_t n, const stele_commit_buf_t *cb,
                          int err);
/* After the batch's callers are completed: a catalogue snapshot when one is due. */
void stele__store_after(void *ctx);

/* fold.c: replay the log from position `from` to the head into the catalogue (positions above
 * its position) and the indexes (above their checkpoints), through the same fold as publication.
 * progress may be NULL. */
int stele__store_replay(stele_store_t *s, uint64_t from, stele_progress_fn progress, void *arg);
/* fold.c: at open, bring the catalogue and both indexes up to the log's head and make the head
 * visible. Derived state ahead of the log (possible when the log lost unsynced data in the ASYNC
 * and NONE modes) is forgotten, unless keep_ahead (a verifying open reports the log and leaves
 * the index files as they are); then the log is replayed from the oldest of the three. */
int stele__store_catch_up(stele_store_t *s, bool keep_ahead);

/* observe.c: set up and free the observer registry (open and close); tell the observers about a
 * batch that just became visible (publish, writer thread). */
void stele__observers_init(stele_store_t *s);
void stele__observers_free(stele_store_t *s);
void stele__observers_notify(stele_store_t *s, const stele_commit_buf_t *cb);

/* open_readonly.c: the rest of stele_store_open() for STELE_OPEN_READONLY without
 * STELE_OPEN_VERIFY (no lock, no writes, no threads). s holds its options, vfs, paths and an
 * empty catalogue; on failure s is left for store_free(). */
int stele__store_open_readonly(stele_store_t *s);

/* limits.c: validation of names and types. allow_reserved: the name is one the store may already
 * hold (a look-up, or the store's own write): '$' names are accepted, and so are invisible or
 * confusable code points (refused in the names and types users write, but a store written before
 * that rule may hold them). */
int stele__check_stream_name(const char *name, bool allow_reserved);
int stele__check_type(const char *type, bool allow_reserved);
/* append.c: check event k of an append (type, sizes, flags, JSON); system as allow_reserved. */
int stele__check_event(const stele_event_in_t *e, size_t k, bool system);
/* The category of a stream name: the bytes before the first '-' (the whole name without one). */
size_t stele__category_len(const char *name, size_t len);

/* filter.c */
bool stele__filter_match(const stele_filter_t *f, const stele_record_t *rec);

/* Fill a public event from a record. */
void stele__event_from_record(stele_event_t *ev, const stele_record_t *rec);

#endif
