/*
 * fold.h -- applying committed records to the derived state (catalogue, stream index, event-id
 * index), one record at a time, in position order: the one path shared by live publication and by
 * replay (see fold.c).
 *
 *     stele_fold_t f;
 *     stele__fold_begin(&f, s, locked);
 *     for each record of the commit(s): stele__fold_record(&f, &rec);
 *     stele__fold_end(&f);   // the staged index entries go to the indexes
 *
 * Records at or below the catalogue's position are not applied to it again, and entries at or below
 * an index's checkpoint are not added to it again, so a replay may start below either. Writer
 * thread or open only (it uses the store's entry buffers).
 */
#ifndef STELE_STORE_FOLD_H
#define STELE_STORE_FOLD_H

#include "store/store.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct stele_fold {
    stele_store_t *s;
    bool locked;          /* the caller holds s->cat.lock exclusively */
    uint64_t cat_after;   /* records at or below are in the catalogue already */
    uint64_t index_after; /* ... in the stream index */
    uint64_t ids_after;   /* ... in the event-id index */
    size_t count, nids;   /* entries staged in s->entries and s->id_entries */
    uint64_t last;        /* position of the last record folded (0: none yet) */
} stele_fold_t;

void stele__fold_begin(stele_fold_t *f, stele_store_t *s, bool locked);

/* Apply rec (a whole, checked record of the log) to the catalogue and stage its index entries.
 * Entries are handed to the indexes only when the buffers are full (a long replay) or at
 * stele__fold_end, so a caller holding cat.lock over one commit never calls into the index.
 * Returns 0 or an error (STELE_ENOMEM; an index error): the derived state then misses the record.
 */
int stele__fold_record(stele_fold_t *f, const stele_record_t *rec);

/* Add the staged entries to the indexes. */
int stele__fold_end(stele_fold_t *f);

#endif
