/*
 * open_readonly.c -- opening a store read-only without its lock, while a writer (a running steled)
 * may hold it: the view of what is in the log at the time of the open.
 *
 * Why a separate path: the writer's open recovers (cuts a torn tail, removes orphan index files,
 * resets a derived file that is ahead of the log), starts the writer, the index's flusher and
 * merger, the catalogue snapshot thread and the segment preparation, and its close writes the index
 * and the catalogue. A reader of a store another process writes may do none of that: it writes,
 * creates, renames, truncates and removes nothing in the store directory (not even the LOCK file)
 * and starts no thread. What it reads:
 *
 *   1. catalogue.snap (streams.snap in older stores), the catalogue snapshot: its position, and
 *      whether it proves the log durable through that position;
 *   2. the two index manifests and the tables they name (index.h: a table merged away meanwhile
 *      makes the index read its manifest again);
 *   3. the log: the segments listed, each sealed one's offset index, then the last segment up to
 *      its last complete, checksummed commit. A torn or half-written commit after it (the writer
 *      may be writing it now) is where the view ends, never repaired and never an error.
 *
 * The order is what keeps the loss proofs of recovery sound without the lock: the writer only ever
 * adds to the log, and it writes a derived file claiming a position (the snapshot's durable flag,
 * an index checkpoint, a sealed segment's offset index) only after the log holds that position. So
 * each derived file read before the log's end claims no more than the log then holds, and a writer
 * appending between the two cannot make a complete log look truncated. The two findings a writer
 * caught in the middle of a commit or a roll can explain (a half-written commit the writer has
 * finished since, and a last segment sealed after the listing) are checked again by the log
 * (log.h, live); real damage is still there when checked again, and is reported as
 * STELE_ECORRUPT like any open would.
 *
 * The entries of the log's tail after the index checkpoints go to memtables that stay in memory,
 * and the catalogue is brought up to date in memory. The store then serves reads and
 * subscriptions of that prefix (the head does not move), and refuses appends and maintenance with
 * STELE_EREADONLY.
 */
#include "store/store.h"

#include "os/alloc.h"
#include "util/error.h"

#include <string.h>

int stele__store_open_readonly(stele_store_t *s) {
    /* 1: the catalogue snapshot, before the log (see the banner). */
    int rc = stele__catalogue_load(&s->cat, s->vfs, s->dir);
    if (rc < 0)
        return rc;
    /* 2: the index manifests, before the log too: their checkpoints are then at or below the
     * log's end (in SYNC and ASYNC modes the writer adds index entries after writing the log). */
    stele_index_options_t io = {.readonly = true};
    if ((rc = stele__index_open(s->vfs, s->index_dir, &io, &s->index)) < 0)
        return rc;
    stele_index_options_t ids_opts = {.unique_keys = true, .readonly = true};
    if ((rc = stele__index_open(s->vfs, s->ids_dir, &ids_opts, &s->ids)) < 0)
        return rc;
    /* 3: the log, up to its last whole commit. */
    stele_log_open_opts_t lo = {.segment_size = s->opts.segment_size_bytes,
                                .readonly = true,
                                .live = true,
                                .durable_floor = s->cat.loaded_durable ? s->cat.position : 0,
                                .floor_source =
                                    "the catalogue snapshot (" STELE_CATALOGUE_SNAP_NAME ")"};
    if ((rc = stele__log_open_ex(s->vfs, s->log_dir, &lo, &s->log)) < 0)
        return rc;
    s->wcursor.log = s->log;
    s->cat.synced_position = &s->log->synced_position;
    /* Derived state ahead of the log (a crash lost unsynced log bytes in the ASYNC and NONE
     * modes): the writer's next open rebuilds it; this view forgets it in memory. */
    return stele__store_catch_up(s, false);
}
