/*
 * catalogue.h -- the stream catalogue: name -> state, versions, metadata, for every stream.
 *
 * Derived from the log like the index (invariant 1): kept in memory, saved as a snapshot file
 * ("catalogue.snap") when the store closes and periodically while it runs (store/catalogue_snap.c),
 * and brought up to date at open by replaying the log after the snapshot's position. Why in memory
 * and not in LMDB: the writer consults it on every append (expected versions), where a hash lookup
 * in memory costs ~50 ns; 1M streams take about 70 MB. (docs/design/decisions.md)
 *
 * Concurrency: the writer thread alone changes it. Readers take `lock` shared; the writer takes it
 * exclusively to insert a stream and to publish a batch. `pending_*` fields belong to the writer
 * alone: the state including commits not yet durable; the other fields are what readers may see.
 */
#ifndef STELE_STORE_CATALOGUE_H
#define STELE_STORE_CATALOGUE_H

#include "os/vfs.h"
#include "stele.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The retention keys of a stream's metadata (store/retention.h); -1 where not set. */
typedef struct stele_retention {
    int64_t max_count;
    int64_t max_age_s;
    int64_t truncate_before;
} stele_retention_t;

typedef struct stele_stream {
    uint64_t hash;
    int64_t last_version;  /* -1: no event */
    int64_t first_version; /* first readable version (soft delete moves it) */
    uint64_t last_position;
    char *metadata;              /* JSON object text (stele__malloc), or NULL */
    stele_retention_t retention; /* read from metadata when it is applied */
    int64_t pending_version;
    int64_t pending_first;
    uint32_t batch; /* serial of the last batch that touched it */
    uint16_t name_len;
    uint8_t state; /* stele_stream_state_t */
    uint8_t pending_state;
    char name[]; /* NUL-terminated */
} stele_stream_t;

typedef struct stele_catalogue {
    pthread_rwlock_t lock;
    stele_stream_t **slots; /* open addressing on hash */
    size_t cap;             /* power of two */
    size_t count;
    /* arena for stream entries: they live until the catalogue is freed */
    uint8_t *arena;
    size_t arena_used;
    size_t arena_cap;
    void **chunks;
    size_t nchunks;
    uint64_t position;       /* last log position applied */
    _Atomic size_t retained; /* streams with retention keys: readers skip the check while 0 */
    /* Where the log is synced to (the log's synced_position; NULL: never claimed). A snapshot
     * records whether its position was durable in the log when it was made. */
    const _Atomic uint64_t *synced_position;
    bool loaded_durable; /* the snapshot loaded says its position was synced in the log */
} stele_catalogue_t;

/* Snapshot flag: the log was synced through the snapshot's position when it was made, so a log
 * that ends before it lost acknowledged events (only possible by truncation or loss of files). */
#define STELE_CATALOGUE_DURABLE 0x1u

int stele__catalogue_init(stele_catalogue_t *cat);
void stele__catalogue_free(stele_catalogue_t *cat);
/* Forget every stream (reindex). Writer only, with lock held exclusively by the caller. */
void stele__catalogue_clear(stele_catalogue_t *cat);

/* Find a stream (caller holds lock, shared or exclusive; or is the writer). */
stele_stream_t *stele__catalogue_find(stele_catalogue_t *cat, const char *name, size_t len,
                                      uint64_t hash);
/* Find or insert (writer only). Takes the lock exclusively to insert unless the caller holds it
 * already (locked). */
int stele__catalogue_get(stele_catalogue_t *cat, const char *name, size_t len, uint64_t hash,
                         bool locked, stele_stream_t **out);

/* The catalogue snapshot's file in the store directory. Stores made before it had this name used
 * STELE_CATALOGUE_SNAP_OLD_NAME: that file is read when the new one is missing, and removed once a
 * snapshot under the new name is written. ("snapshot" alone is left for aggregate snapshots.) */
#define STELE_CATALOGUE_SNAP_NAME "catalogue.snap"
#define STELE_CATALOGUE_SNAP_OLD_NAME "streams.snap"

/* Save a snapshot of the published state at position to dir/catalogue.snap (atomic, synced).
 * Caller must keep the catalogue unchanged meanwhile (writer thread, or no writer). */
int stele__catalogue_save(stele_catalogue_t *cat, const stele_vfs_t *vfs, const char *dir);
/* The snapshot's bytes (stele__malloc; the caller frees), and writing them (atomic, synced): the
 * writer serialises (it alone changes the catalogue) and a background thread writes. */
int stele__catalogue_serialize(stele_catalogue_t *cat, uint8_t **out, size_t *out_len);
int stele__catalogue_write(const stele_vfs_t *vfs, const char *dir, const uint8_t *buf, size_t len);

/* Load dir/catalogue.snap (or, when it does not exist, dir/streams.snap of an older store) into an
 * empty catalogue. A missing or bad snapshot leaves it empty with position 0 (it is rebuilt from
 * the log): returns 0 then too, unless out of memory. */
int stele__catalogue_load(stele_catalogue_t *cat, const stele_vfs_t *vfs, const char *dir);

/* Remove the snapshot under both names (the derived state is to be rebuilt from the log). */
void stele__catalogue_remove(const stele_vfs_t *vfs, const char *dir);

#endif
