/*
 * memtable.h -- the in-memory table of the index: the newest entries, in arrival (position) order.
 *
 * Entries arrive in position order, not key order, from one writer, while readers look up
 * concurrently. They are appended to an array; an open-addressing hash table maps each stream hash
 * to the first and last of its entries, and each entry links to the previous and next entry of the
 * same hash, so a lookup walks one stream's chain in either direction. A chain whose versions never
 * decreased (the normal case: one stream per hash) is already in (version, position) order; a chain
 * that did (two streams sharing a hash) is marked and searched whole.
 *
 * Locking: lock is taken exclusively once per add call and shared by each lookup. A memtable that
 * is no longer active is never written again and may be read without it.
 */
#ifndef STELE_INDEX_MEMTABLE_H
#define STELE_INDEX_MEMTABLE_H

#include "index/bloom.h"
#include "index/index.h"
#include "index/lookup.h"

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define STELE__MEMTABLE_MAX_ENTRIES (1u << 30)

typedef struct stele__mt_slot {
    uint64_t hash;
    uint32_t first; /* index of the hash's first entry; top bit: chain is not in version order */
    uint32_t last;  /* index of its latest entry */
} stele__mt_slot_t;

typedef struct stele__memtable {
    pthread_rwlock_t lock;
    stele_index_entry_t *entries; /* capacity, count used */
    uint32_t *prev;               /* previous entry of the same hash, or STELE__MT_NONE */
    uint32_t *next;               /* next entry of the same hash, or STELE__MT_NONE */
    uint32_t count;
    uint32_t capacity;
    stele__mt_slot_t *slots; /* slot_mask + 1 slots, empty when first == STELE__MT_NONE */
    uint32_t slot_mask;
    uint32_t slot_shift; /* 64 - log2(slots) */
    uint32_t distinct;   /* used slots */
    uint64_t min_position, max_position;
    /* Lazy (set before the first add): add only appends; entries [indexed, count) are not in the
     * hash table yet. A look-up enters them first (under the write lock), and a flush sorts the
     * entries themselves instead of using the table. For the event-id index, where every entry
     * has a hash of its own and look-ups are rare, so the writer pays one copy per entry. */
    bool lazy;
    uint32_t indexed; /* entries in the hash table (== count unless lazy) */
    /* Lazy only: a blocked Bloom filter (bloom.h) over the hashes of entries [0, bloomed), built
     * by look-ups (never by add) and consulted before the hash table, so that a look-up of a hash
     * the memtable does not hold (a fresh id) touches about one cache line of a filter of 10 bits
     * per entry instead of the hash table (and the table is built only when the filter says
     * maybe). NULL until the first look-up, or when it could not be allocated (then look-ups use
     * the hash table alone). */
    uint64_t *bloom;
    uint64_t bloom_blocks;
    uint32_t bloomed;
    bool bloom_failed;
} stele__memtable_t;

#define STELE__MT_NONE UINT32_MAX

/* A memtable for capacity entries (1..STELE__MEMTABLE_MAX_ENTRIES). 0 or STELE_ENOMEM. */
int stele__memtable_new(uint32_t capacity, stele__memtable_t **out);
void stele__memtable_free(stele__memtable_t *mt);

/* Append up to n entries (positions increasing; the caller checks), as many as fit; *added says how
 * many. Returns 0 or STELE_ENOMEM (growing the hash table failed; *added were added). */
int stele__memtable_add(stele__memtable_t *mt, const stele_index_entry_t *entries, size_t n,
                        size_t *added);

static inline bool stele__memtable_full(const stele__memtable_t *mt) {
    return mt->count == mt->capacity;
}

/* Merge this memtable's matches into the lookup. Takes the read lock. */
void stele__memtable_lookup(stele__memtable_t *mt, stele__lookup_t *lk);

/* For each i < n with maybe[i] == 0: set maybe[i] = 1 when the memtable may hold an entry of
 * hashes[i] (never 0 for a hash it holds); keys[i] is stele__bloom_key(hashes[i]). Lazy memtables
 * answer from their Bloom filter (brought up to date first), with the filter's blocks fetched
 * for all n hashes before any is tested, so the cache misses overlap; others from their hash
 * table. Takes the memtable's lock. */
void stele__memtable_filter(stele__memtable_t *mt, const uint64_t *hashes,
                            const stele__bloom_key_t *keys, size_t n, uint8_t *maybe);

/* Call emit for every entry in (hash, version, position) order; stops with emit's non-zero return
 * value. The memtable must be immutable (no concurrent add). 0, STELE_ENOMEM or emit's value. */
int stele__memtable_sorted(const stele__memtable_t *mt,
                           int (*emit)(void *arg, const stele_index_entry_t *e), void *arg);

/* Entry count under the read lock. */
uint32_t stele__memtable_count(stele__memtable_t *mt);

#endif
