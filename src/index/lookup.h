/*
 * lookup.h -- the bounded result of one index lookup, into which every source (memtables, table
 * files) merges the entries it finds.
 *
 * A lookup wants the first max entries of one hash in the order of its direction: (version,
 * position) ascending when forward, descending when backward. Each source yields its matching
 * entries already in that order, in chunks; stele__lookup_merge() merges a chunk into the result in
 * place (no allocation), keeping only the first max. A source stops as soon as its next entry could
 * no longer enter the result (stele__lookup_wants()).
 */
#ifndef STELE_INDEX_LOOKUP_H
#define STELE_INDEX_LOOKUP_H

#include "index/index.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct stele__lookup {
    uint64_t hash;
    uint64_t from_version;
    bool backward;
    stele_index_entry_t *out; /* the caller's array, sorted in direction order */
    size_t count;             /* entries in out */
    size_t max;               /* capacity of out (> 0) */
} stele__lookup_t;

/* < 0 when a comes before b in the lookup's direction (both have the lookup's hash). */
static inline int stele__lookup_cmp(const stele__lookup_t *lk, const stele_index_entry_t *a,
                                    const stele_index_entry_t *b) {
    int c;
    if (a->version != b->version)
        c = a->version < b->version ? -1 : 1;
    else if (a->position != b->position)
        c = a->position < b->position ? -1 : 1;
    else
        c = 0;
    return lk->backward ? -c : c;
}

/* True when e matches the lookup's version bound. */
static inline bool stele__lookup_in_range(const stele__lookup_t *lk, const stele_index_entry_t *e) {
    return lk->backward ? e->version <= lk->from_version : e->version >= lk->from_version;
}

/* True when an entry e could still enter the result. */
static inline bool stele__lookup_wants(const stele__lookup_t *lk, const stele_index_entry_t *e) {
    return lk->count < lk->max || stele__lookup_cmp(lk, e, &lk->out[lk->count - 1]) < 0;
}

/* Merge chunk[0..n), sorted in direction order and all matching, into the result. Returns true
 * when entries after the chunk (from the same source) could still enter the result. */
bool stele__lookup_merge(stele__lookup_t *lk, const stele_index_entry_t *chunk, size_t n);

#endif
