/*
 * index.h -- the per-event stream index: (stream hash, version) -> position.
 *
 * A specialised log-structured merge tree of fixed-size 24-byte entries (the design KurrentDB uses
 * for its "PTables"), because general-purpose B-trees and LSMs measured 10-60x slower for this
 * access pattern (DESIGN.md). Entries arrive in log order from the writer after each synced batch
 * and go to an in-memory table that readers consult; a full memtable becomes immutable and a
 * background thread writes it as a sorted, immutable table file with a Bloom filter and sparse
 * midpoints; table files are merged in the background. The manifest records the table files and the
 * checkpoint: the last log position whose entries are all in table files. On open the store re-adds
 * the entries after the checkpoint by scanning the log. The index is derived: deleting the index
 * directory loses nothing.
 *
 * The index never syncs on the append path: index_add only touches memory (it may wait only when
 * two memtables are already waiting to be written: back-pressure, not I/O on the caller's behalf).
 *
 * Hash collisions: two stream names may share a 64-bit hash. The index keeps every entry (the key
 * is (hash, version, position)), so a lookup may return entries of another stream: the caller
 * checks the stream name in the record it reads.
 */
#ifndef STELE_INDEX_INDEX_H
#define STELE_INDEX_INDEX_H

#include "os/vfs.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct stele_index_entry {
    uint64_t hash;     /* stele__index_hash(stream name) */
    uint64_t version;  /* stream version (>= 0) */
    uint64_t position; /* log position (>= 1) */
} stele_index_entry_t;

typedef struct stele_index_options {
    uint64_t memtable_entries; /* entries per memtable before it is written (default 1 << 20) */
    uint32_t merge_fanout;     /* merge when this many tables of one level exist (default 4) */
    bool unique_keys; /* nearly every entry has a hash of its own (the event-id index): add only
                         appends to the memtable; look-ups build its hash table when they need it,
                         and flushes sort the entries directly (memtable.h, lazy) */
    bool readonly;    /* an unlocked reader of a store a live writer may hold: open writes, creates
                         and removes nothing and starts no thread; added entries stay in memory (a
                         full memtable is replaced by a larger one, never written); flush refuses
                         with STELE_EREADONLY and reset only empties the index in memory */
} stele_index_options_t;

typedef struct stele_index stele_index_t;

typedef struct stele_index_stats {
    uint64_t entries;       /* in memtables and tables */
    uint64_t tables;        /* table files */
    uint64_t checkpoint;    /* last position whose entries are durable in table files */
    uint64_t last_position; /* last position added */
} stele_index_stats_t;

/* 64-bit hash of a stream name (stable across versions: it is on disk). */
uint64_t stele__index_hash(const char *name, size_t len);

/* Open the index in directory dir (created if missing), loading the manifest. A missing, damaged
 * or unknown-version manifest or table makes an empty index (checkpoint 0) after removing the index
 * files (it is rebuilt from the log), never an error, unless the directory itself cannot be used.
 * opts may be NULL. Starts the background threads.
 * Read-only (opts->readonly): nothing is created or removed. A table the manifest names that is
 * missing was merged away by the live writer after the manifest was read: the manifest is read
 * again (a bounded number of times); a damaged or still inconsistent index is empty in memory
 * (checkpoint 0), the files left as they are. */
int stele__index_open(const stele_vfs_t *vfs, const char *dir, const stele_index_options_t *opts,
                      stele_index_t **out);

/* Stop the background thread, write the memtables as tables (so the next open needs no catch-up),
 * and free everything. NULL is a no-op. */
int stele__index_close(stele_index_t *idx);

/* Last position whose entries are durable in table files (0 = none). */
uint64_t stele__index_checkpoint(stele_index_t *idx);

/* Add n entries, in strictly increasing position order, each position greater than every position
 * added before. Called by one thread at a time (the store's writer). Returns 0 or STELE_ENOMEM, or
 * the error that stopped the background writer (then the index is unusable until reopened, but the
 * log is unaffected). */
int stele__index_add(stele_index_t *idx, const stele_index_entry_t *entries, size_t n);

/* Entries of hash with version >= from_version (forward) or <= from_version (backward, from_version
 * UINT64_MAX = from the last), in version order of the direction, at most max; ties in version are
 * ordered by position. *count is set to the number written to out. Thread-safe against add and the
 * background thread. Returns 0 or an error (-EIO, STELE_ECORRUPT when a table fails its check). */
int stele__index_lookup(stele_index_t *idx, uint64_t hash, uint64_t from_version, bool backward,
                        stele_index_entry_t *out, size_t max, size_t *count);

/* Which of n hashes the index may hold: maybe[i] is set to 0 only when no memtable or table holds
 * an entry of hashes[i] (so a look-up of it would find nothing), else 1. Answered from Bloom
 * filters (the lazy memtables' and the tables'), fetching the blocks of all n hashes before
 * testing any so that the cache misses overlap: for a batch of fresh keys this costs a fraction
 * of n look-ups. Thread-safe like lookup; allocates nothing that can fail the answer. */
void stele__index_filter(stele_index_t *idx, const uint64_t *hashes, size_t n, uint8_t *maybe);

/* Write every memtable as a table now and record the checkpoint (durable on return). */
int stele__index_flush(stele_index_t *idx);

/* Drop every entry and table file (for reindex). Not concurrent with add. */
int stele__index_reset(stele_index_t *idx);

void stele__index_stats(stele_index_t *idx, stele_index_stats_t *out);

/* Check that every entry in the table files and memtables is well-formed and sorted and that the
 * table checksums hold; calls fn for each entry (in no particular order) so the caller can check it
 * against the log; fn returning non-zero stops and is returned. */
int stele__index_scan(stele_index_t *idx, int (*fn)(void *arg, const stele_index_entry_t *e),
                      void *arg);

#endif
