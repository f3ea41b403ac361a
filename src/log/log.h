/*
 * log.h -- the log: an ordered set of segment files and the append path the writer uses (write a
 * whole commit, roll to a new segment, sync). Records are read back through cursors (cursor.h).
 *
 * Concurrency: the writer thread alone appends, rolls and syncs. Readers (any thread) use cursors;
 * they read only positions at or below the visible position the store publishes, whose bytes were
 * written before it was published. `lock` guards the segment array and the active segment's sparse
 * index, which the writer grows; readers hold it shared for a lookup only.
 */
#ifndef STELE_LOG_LOG_H
#define STELE_LOG_LOG_H

#include "log/record.h"
#include "log/segment.h"
#include "os/vfs.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

typedef struct stele_log {
    const stele_vfs_t *vfs;
    char *dir;             /* "<store>/log" */
    uint64_t segment_size; /* maximum nominal size of a segment (they grow up to it) */
    bool readonly;

    pthread_rwlock_t lock; /* guards segs, nsegs, and the last segment's sparse array */
    stele_segment_t **segs;
    size_t nsegs;
    size_t segs_cap;

    /* Head of the log: written by the writer thread (and by open). */
    uint64_t head_position;
    uint8_t head_hash[32];
    int64_t head_time_ns;
    _Atomic uint64_t bytes; /* record bytes in all segments */

    /* Background preparation of the next zero-filled segment. */
    pthread_t prep_thread;
    bool prep_started;
    pthread_mutex_t prep_mu;
    pthread_cond_t prep_cv;
    bool prep_stop;
    _Atomic bool prep_cancel; /* closing: stop zero-filling */
    bool prep_wanted;
    bool prep_ready;    /* "<dir>/next.tmp" exists, zero-filled and synced, prep_size bytes */
    uint64_t prep_size; /* size of the file being prepared, or ready */
    int prep_error;

    /* The log is on stable storage up to here: set at open (after a sync of the recovered
     * tail), then by the writer after each sync. Derived files (catalogue snapshot, index
     * checkpoint) claim their position is durable only when it is at or below this. */
    _Atomic uint64_t synced_position;

    /* What recovery did at open (for stats and tests). */
    uint64_t recovered_cut_bytes; /* bytes of torn tail zeroed */

    /* Open options that recovery reads (see stele_log_open_opts_t). */
    bool tolerant;
    bool live;
    bool view_cut; /* segments after the last one kept were left out (damage or loss found) */
    uint64_t durable_floor;
    char floor_source[200];
    /* Tolerant opens: the first damage or proven loss found (damage = 0: none). The log then
     * ends before it: head_position is the last good commit before the damage. */
    int damage;
    uint64_t damage_position; /* the first position that is bad or missing */
    uint64_t damage_segment;  /* first position of the segment where it lies */
    uint64_t damage_offset;   /* byte offset there */
    char damage_msg[512];
} stele_log_t;

/* How to open a log. */
typedef struct stele_log_open_opts {
    uint64_t segment_size; /* of new segments */
    bool create;           /* create the log when no segment exists */
    bool readonly;         /* no recovery writes (a torn tail is not cut), no preparation */
    /* Verify: report instead of refusing. Damage in the middle of the log or a proven loss does
     * not fail the open: it is recorded in log->damage*, and the log ends at the last good commit
     * before it. Requires readonly. */
    bool tolerant;
    /* A derived file (named by floor_source) proves that the log was synced through this
     * position: if the log ends before it, events were lost (0 = no such proof). */
    uint64_t durable_floor;
    const char *floor_source;
    /* Another process (a writer holding the store's lock) may be appending and rolling while this
     * read-only open reads (requires readonly): the two findings a writer caught in the middle of
     * a commit or a roll explains are checked again, and when the log moved on under the open they
     * are no damage: the log simply ends at its last good commit (recovery.c live_recheck). */
    bool live;
} stele_log_open_opts_t;

/* Nominal size of the first segment of a new log (a quarter of the maximum when that is smaller);
 * each later segment is twice the one before, up to the maximum. */
#define STELE_LOG_FIRST_SEGMENT_BYTES ((uint64_t)2 << 20)

/* Largest commit the writer makes; a torn tail is never longer. */
#define STELE_LOG_MAX_COMMIT_BYTES ((size_t)STELE_MAX_APPEND_BYTES + STELE_RECORD_MAX_BYTES)

/* Open the log in dir (created when create is set and no segment exists); segment_size is the
 * maximum nominal size of a segment. Recovers the tail of the last segment: a torn commit is cut
 * back (its bytes zeroed, synced) unless readonly; damage followed by an intact later commit is
 * corruption in the middle: STELE_ECORRUPT, nothing cut. */
int stele__log_open(const stele_vfs_t *vfs, const char *dir, uint64_t segment_size, bool create,
                    bool readonly, stele_log_t **out);
/* The same with every option. Besides damage in the middle, open refuses (STELE_ECORRUPT, nothing
 * cut) when the log provably lost events that were durable: the log ends before durable_floor; a
 * segment made at its full size is now shorter; a sealed segment is shorter than its sparse index
 * records; the last segment has a sparse index (it was sealed, so a later segment existed)
 * reaching beyond the end. Only the last commit can be torn: a torn tail never explains these. */
int stele__log_open_ex(const stele_vfs_t *vfs, const char *dir, const stele_log_open_opts_t *opts,
                       stele_log_t **out);
void stele__log_close(stele_log_t *log);

/* Write one whole commit (records encoded and sealed by stele__record_commit) whose last position
 * is last_position, at the end of the log; rolls to a new segment first when it does not fit.
 * Does not sync. Updates the head and the sparse index. */
int stele__log_write_commit(stele_log_t *log, const uint8_t *buf, size_t len,
                            uint64_t last_position, const uint8_t hash[32], int64_t last_time_ns);
/* fdatasync the active segment (and advance synced_position to the head). */
int stele__log_sync(stele_log_t *log);

/* Number of segments, and the first position of segment i, under the lock. */
size_t stele__log_segment_count(stele_log_t *log);

#endif
