/*
 * state.h -- the index's private state, shared by index.c (memtables, flushes, open, lookups) and
 * compact.c (merging table files), and the helpers of index.c that compaction also uses. Nothing
 * outside src/index/ includes it: the rest of the store sees only index.h.
 *
 * Lock order: add_mu -> manifest_mu -> mu -> state -> a memtable's lock.
 */
#ifndef STELE_INDEX_STATE_H
#define STELE_INDEX_STATE_H

#include "index/index.h"
#include "index/memtable.h"
#include "index/table.h"
#include "os/vfs.h"

#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#define MAX_FANOUT 64u
#define MAX_IMMUTABLE 2u
#define CANCEL_CHECK_ENTRIES 65536u
#define DETAIL_BYTES 256u

typedef struct tableset {
    uint32_t count;
    stele__table_t *t[]; /* ascending min_position: the order in which they were written */
} tableset_t;

struct stele_index {
    const stele_vfs_t *vfs;
    char *dir;
    uint32_t memtable_entries;
    bool unique_keys; /* memtables are lazy (memtable.h) */
    uint32_t fanout;
    bool readonly; /* index.h: stele_index_options_t.readonly */

    pthread_mutex_t add_mu;      /* one add, flush or reset at a time */
    pthread_mutex_t manifest_mu; /* held from computing a new table set to installing it */
    pthread_mutex_t mu;          /* background coordination */
    pthread_cond_t work_cv;      /* the background threads wait here for work */
    pthread_cond_t done_cv;      /* add (back-pressure), flush and reset wait here */
    pthread_rwlock_t state;      /* shared by readers while they use the four fields below */

    /* Changed only with mu and state (exclusively) held; read with either held. The writer
     * (holding add_mu) is the only one that changes active, so it may read it with add_mu. */
    stele__memtable_t *active;
    stele__memtable_t *imm[MAX_IMMUTABLE]; /* oldest first */
    uint32_t nimm;
    tableset_t *tables;

    /* Under mu. */
    uint64_t next_seq;
    bool stopping, paused, flusher_busy, merger_busy;
    int bg_error;
    char bg_detail[DETAIL_BYTES];
    pthread_t flusher, merger;
    bool threads_started;

    atomic_int bg_error_seen; /* copy of bg_error, read by add without mu */
    atomic_bool cancel;       /* a merge in progress should give up (close, reset) */
    _Atomic uint64_t checkpoint;
    _Atomic uint64_t last_position;
};

/* The path of table file number seq. */
int stele__index_table_path(const stele_index_t *idx, uint64_t seq, char out[PATH_MAX]);

/* The number of a new table file (mu held); fails when numbers are exhausted. */
int stele__index_take_seq(stele_index_t *idx, uint64_t *seq);

/* After a table file is complete: make its name durable, then open (and so verify) it. */
int stele__index_publish_table(stele_index_t *idx, const char *path, uint64_t seq,
                               stele__table_t **out);

/* Makes the table set old - remove + add current, durable in the manifest first. When flushed is
 * set, the oldest immutable memtable is dropped too and checkpoint recorded. On success the
 * removed tables and the flushed memtable are freed (no reader can be using them). */
int stele__index_install(stele_index_t *idx, stele__table_t *add, stele__table_t *const *remove,
                         uint32_t nremove, stele__memtable_t *flushed, uint64_t checkpoint);

/* Records the first background error, with its detail, and wakes everyone who waits. mu held. */
void stele__index_set_error(stele_index_t *idx, int rc);

#endif
