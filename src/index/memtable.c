/*
 * memtable.c -- the in-memory table of the index (see memtable.h for the structure and locking).
 */
#include "index/memtable.h"

#include "index/bloom.h"
#include "index/entry.h"
#include "os/alloc.h"
#include "stele.h"
#include "util/assert.h"
#include "util/error.h"

#include <stdlib.h>
#include <string.h>

#define NONMONO 0x80000000u /* in slot.first: the chain's versions are not in order */
#define INITIAL_SLOTS 1024u

static inline uint32_t slot_of(const stele__memtable_t *mt, uint64_t hash) {
    /* Fibonacci hashing: callers' hashes are uniform, but tests use structured ones. */
    return (uint32_t)((hash * 0x9e3779b97f4a7c15ull) >> mt->slot_shift);
}

static inline uint32_t log2_u32(uint32_t v) {
    uint32_t r = 0;
    while ((1u << r) < v)
        r++;
    return r;
}

static int set_slots(stele__memtable_t *mt, uint32_t nslots) {
    stele__mt_slot_t *slots = stele__malloc(sizeof *slots * nslots);
    if (!slots)
        return stele__fail(STELE_ENOMEM, "index memtable: no memory for %u hash slots", nslots);
    for (uint32_t i = 0; i < nslots; i++)
        slots[i].first = STELE__MT_NONE;
    stele__mt_slot_t *old = mt->slots;
    uint32_t old_n = old ? mt->slot_mask + 1 : 0;
    mt->slots = slots;
    mt->slot_mask = nslots - 1;
    mt->slot_shift = 64u - log2_u32(nslots);
    for (uint32_t i = 0; i < old_n; i++) {
        if (old[i].first == STELE__MT_NONE)
            continue;
        uint32_t s = slot_of(mt, old[i].hash);
        while (slots[s].first != STELE__MT_NONE)
            s = (s + 1) & mt->slot_mask;
        slots[s] = old[i];
    }
    stele__free(old);
    return 0;
}

int stele__memtable_new(uint32_t capacity, stele__memtable_t **out) {
    STELE_ASSERT(capacity >= 1 && capacity <= STELE__MEMTABLE_MAX_ENTRIES);
    int rc = STELE_ENOMEM;
    stele__memtable_t *mt = stele__calloc(1, sizeof *mt);
    if (!mt)
        goto fail;
    /* Not zeroed: pages are touched (and become resident) only as entries arrive. */
    mt->entries = stele__malloc(sizeof *mt->entries * capacity);
    mt->prev = stele__malloc(sizeof *mt->prev * capacity);
    mt->next = stele__malloc(sizeof *mt->next * capacity);
    if (!mt->entries || !mt->prev || !mt->next)
        goto fail_free;
    uint32_t max_slots = 1u << log2_u32(capacity * 2u);
    rc = set_slots(mt, max_slots < INITIAL_SLOTS ? max_slots : INITIAL_SLOTS);
    if (rc != 0)
        goto fail_free;
    mt->capacity = capacity;
    rc = pthread_rwlock_init(&mt->lock, NULL);
    if (rc != 0) {
        rc = -rc;
        goto fail_free;
    }
    *out = mt;
    return 0;

fail_free:
    stele__free(mt->slots);
    stele__free(mt->entries);
    stele__free(mt->prev);
    stele__free(mt->next);
    stele__free(mt);
fail:
    if (rc == STELE_ENOMEM)
        stele__fail(rc, "index memtable: no memory for %u entries", capacity);
    return rc;
}

void stele__memtable_free(stele__memtable_t *mt) {
    if (!mt)
        return;
    pthread_rwlock_destroy(&mt->lock);
    stele__free(mt->bloom);
    stele__free(mt->slots);
    stele__free(mt->entries);
    stele__free(mt->prev);
    stele__free(mt->next);
    stele__free(mt);
}

/* Enter entry idx (already in entries[]) in the hash table and its chain. 0 or STELE_ENOMEM. */
static int enter(stele__memtable_t *mt, uint32_t idx) {
    const stele_index_entry_t *e = &mt->entries[idx];
    /* Keep the load factor at most 1/2 (the table never needs more than 2 * capacity). */
    if ((mt->distinct + 1u) * 2u > mt->slot_mask + 1u) {
        int rc = set_slots(mt, (mt->slot_mask + 1u) * 2u);
        if (rc != 0)
            return rc;
    }
    uint32_t s = slot_of(mt, e->hash);
    while (mt->slots[s].first != STELE__MT_NONE && mt->slots[s].hash != e->hash)
        s = (s + 1) & mt->slot_mask;
    stele__mt_slot_t *slot = &mt->slots[s];
    mt->next[idx] = STELE__MT_NONE;
    if (slot->first == STELE__MT_NONE) {
        slot->hash = e->hash;
        slot->first = idx;
        slot->last = idx;
        mt->prev[idx] = STELE__MT_NONE;
        mt->distinct++;
    } else {
        uint32_t last = slot->last;
        if (e->version < mt->entries[last].version)
            slot->first |= NONMONO;
        mt->prev[idx] = last;
        mt->next[last] = idx;
        slot->last = idx;
    }
    mt->indexed = idx + 1;
    return 0;
}

/* Enter every appended entry (write lock held). 0 or STELE_ENOMEM. */
static int catch_up(stele__memtable_t *mt) {
    int rc = 0;
    /* Size the table for all of them at once: a lazy memtable catches up many entries at a time,
     * and doubling step by step would move every slot again at each step. */
    uint64_t want = ((uint64_t)mt->distinct + (mt->count - mt->indexed)) * 2u;
    if (mt->indexed < mt->count && want > mt->slot_mask + 1u) {
        uint32_t nslots = 1u << log2_u32((uint32_t)(want < (1ull << 31) ? want : (1ull << 31)));
        if (set_slots(mt, nslots) != 0)
            return STELE_ENOMEM;
    }
    /* Fetch the slot a few entries ahead: the table is far larger than the cache (32 MiB for
     * 2^20 entries), and a lazy catch-up enters many unrelated hashes in a row, whose misses can
     * overlap. */
    enum { AHEAD = 8 };
    while (rc == 0 && mt->indexed < mt->count) {
        if (mt->count - mt->indexed > AHEAD)
            __builtin_prefetch(&mt->slots[slot_of(mt, mt->entries[mt->indexed + AHEAD].hash)]);
        rc = enter(mt, mt->indexed);
    }
    return rc;
}

/* Lazy: enter entries [bloomed, count) in the Bloom filter, allocating it first (write lock
 * held). False when there is no filter (it could not be allocated): use the hash table. */
static bool bloom_catch_up(stele__memtable_t *mt) {
    if (!mt->bloom) {
        if (mt->bloom_failed)
            return false;
        uint64_t blocks = stele__bloom_blocks_for(mt->capacity);
        mt->bloom = stele__calloc(blocks * STELE__BLOOM_BLOCK_WORDS, sizeof(uint64_t));
        if (!mt->bloom) {
            mt->bloom_failed = true; /* not an error: look-ups stay exact without it */
            return false;
        }
        mt->bloom_blocks = blocks;
        mt->bloomed = 0;
    }
    /* Fetch the block a few entries ahead, so that the cache misses of the adds overlap. */
    enum { AHEAD = 8 };
    for (uint32_t i = mt->bloomed; i < mt->count && i < mt->bloomed + AHEAD; i++)
        stele__bloom_prefetch(mt->bloom, mt->bloom_blocks, mt->entries[i].hash);
    for (; mt->bloomed < mt->count; mt->bloomed++) {
        if (mt->count - mt->bloomed > AHEAD)
            stele__bloom_prefetch(mt->bloom, mt->bloom_blocks,
                                  mt->entries[mt->bloomed + AHEAD].hash);
        stele__bloom_add(mt->bloom, mt->bloom_blocks, mt->entries[mt->bloomed].hash);
    }
    return true;
}

int stele__memtable_add(stele__memtable_t *mt, const stele_index_entry_t *entries, size_t n,
                        size_t *added) {
    int rc = 0;
    size_t i = 0;
    pthread_rwlock_wrlock(&mt->lock);
    if (mt->lazy) {
        i = n < mt->capacity - mt->count ? n : mt->capacity - mt->count;
        if (i > 0) {
            memcpy(&mt->entries[mt->count], entries, sizeof *entries * i);
            if (mt->count == 0)
                mt->min_position = entries[0].position;
            mt->max_position = entries[i - 1].position;
            mt->count += (uint32_t)i;
        }
        pthread_rwlock_unlock(&mt->lock);
        *added = i;
        return 0;
    }
    for (; i < n && mt->count < mt->capacity; i++) {
        const stele_index_entry_t *e = &entries[i];
        uint32_t idx = mt->count;
        mt->entries[idx] = *e;
        if ((rc = enter(mt, idx)) != 0)
            break;
        if (idx == 0)
            mt->min_position = e->position;
        mt->max_position = e->position;
        mt->count = idx + 1;
    }
    pthread_rwlock_unlock(&mt->lock);
    *added = i;
    return rc;
}

uint32_t stele__memtable_count(stele__memtable_t *mt) {
    pthread_rwlock_rdlock(&mt->lock);
    uint32_t n = mt->count;
    pthread_rwlock_unlock(&mt->lock);
    return n;
}

static const stele__mt_slot_t *find(const stele__memtable_t *mt, uint64_t hash) {
    uint32_t s = slot_of(mt, hash);
    for (;;) {
        const stele__mt_slot_t *slot = &mt->slots[s];
        if (slot->first == STELE__MT_NONE)
            return NULL;
        if (slot->hash == hash)
            return slot;
        s = (s + 1) & mt->slot_mask;
    }
}

#define CHUNK 64

void stele__memtable_filter(stele__memtable_t *mt, const uint64_t *hashes,
                            const stele__bloom_key_t *keys, size_t n, uint8_t *maybe) {
    if (!mt->lazy) {
        pthread_rwlock_rdlock(&mt->lock);
        for (size_t i = 0; i < n; i++)
            if (!maybe[i] && find(mt, hashes[i]))
                maybe[i] = 1;
        pthread_rwlock_unlock(&mt->lock);
        return;
    }
    pthread_rwlock_wrlock(&mt->lock);
    if (mt->count > 0 && bloom_catch_up(mt)) {
        for (size_t i = 0; i < n; i++)
            if (!maybe[i])
                __builtin_prefetch(stele__bloom_block(mt->bloom, mt->bloom_blocks, &keys[i]));
        for (size_t i = 0; i < n; i++)
            if (!maybe[i] && stele__bloom_may_contain_key(mt->bloom, mt->bloom_blocks, &keys[i]))
                maybe[i] = 1;
    } else if (mt->count > 0) {
        for (size_t i = 0; i < n; i++)
            maybe[i] = 1; /* no filter: the exact look-up decides */
    }
    pthread_rwlock_unlock(&mt->lock);
}

/* Lazy: true when the Bloom filter says the memtable holds no entry of hash (entries [bloomed,
 * count), added after the filter was brought up to date, are checked one by one). Read lock
 * held; may drop it to bring the filter up to date. */
static bool lazy_absent(stele__memtable_t *mt, uint64_t hash) {
    if (mt->bloomed < mt->count || !mt->bloom) {
        if (mt->bloom_failed)
            return false;
        pthread_rwlock_unlock(&mt->lock);
        pthread_rwlock_wrlock(&mt->lock);
        (void)bloom_catch_up(mt);
        pthread_rwlock_unlock(&mt->lock);
        pthread_rwlock_rdlock(&mt->lock);
        if (!mt->bloom)
            return false;
    }
    if (stele__bloom_may_contain(mt->bloom, mt->bloom_blocks, hash))
        return false;
    for (uint32_t i = mt->bloomed; i < mt->count; i++)
        if (mt->entries[i].hash == hash)
            return false;
    return true;
}

void stele__memtable_lookup(stele__memtable_t *mt, stele__lookup_t *lk) {
    stele_index_entry_t chunk[CHUNK];
    size_t n = 0;
    pthread_rwlock_rdlock(&mt->lock);
    if (mt->lazy && mt->count > 0 && lazy_absent(mt, lk->hash))
        goto done;
    if (mt->indexed < mt->count) {
        /* Lazy: enter what was appended since the last look-up. Entries added after this (by a
         * concurrent add) are newer than the look-up and need not be seen by it. */
        pthread_rwlock_unlock(&mt->lock);
        pthread_rwlock_wrlock(&mt->lock);
        (void)catch_up(mt); /* out of memory: the rest is scanned below */
        pthread_rwlock_unlock(&mt->lock);
        pthread_rwlock_rdlock(&mt->lock);
    }
    /* Entries not in the table (only after a failed catch-up): offered one by one. */
    for (uint32_t i = mt->indexed; i < mt->count; i++) {
        const stele_index_entry_t *e = &mt->entries[i];
        if (e->hash == lk->hash && stele__lookup_in_range(lk, e) && stele__lookup_wants(lk, e))
            stele__lookup_merge(lk, e, 1);
    }
    const stele__mt_slot_t *slot = find(mt, lk->hash);
    if (!slot)
        goto done;
    if (slot->first & NONMONO) {
        /* Two streams share this hash: the chain is in position order only, so every matching
         * entry is offered on its own. */
        for (uint32_t i = slot->first & ~NONMONO; i != STELE__MT_NONE; i = mt->next[i]) {
            const stele_index_entry_t *e = &mt->entries[i];
            if (stele__lookup_in_range(lk, e) && stele__lookup_wants(lk, e))
                stele__lookup_merge(lk, e, 1);
        }
        goto done;
    }
    /* The chain is in (version, position) order: walk it in the lookup's direction. */
    const uint32_t *link = lk->backward ? mt->prev : mt->next;
    uint32_t i = lk->backward ? slot->last : slot->first;
    for (; i != STELE__MT_NONE; i = link[i]) {
        const stele_index_entry_t *e = &mt->entries[i];
        if (!stele__lookup_in_range(lk, e))
            continue;
        if (!stele__lookup_wants(lk, e))
            break;
        chunk[n++] = *e;
        if (n == CHUNK) {
            bool more = stele__lookup_merge(lk, chunk, n);
            n = 0;
            if (!more)
                break;
        }
    }
    if (n > 0)
        stele__lookup_merge(lk, chunk, n);
done:
    pthread_rwlock_unlock(&mt->lock);
}

typedef struct keyed {
    uint64_t hash;
    uint64_t slot;
} keyed_t;

/* LSD radix sort of a[0..n) by hash, 8 bits per pass, tmp as scratch; skips passes in which every
 * key has the same digit. The result ends in a. */
static void radix_sort(keyed_t *a, keyed_t *tmp, size_t n) {
    enum { passes = 8 };
    size_t hist[passes][256];
    memset(hist, 0, sizeof hist);
    for (size_t i = 0; i < n; i++)
        for (unsigned p = 0; p < passes; p++)
            hist[p][(a[i].hash >> (8 * p)) & 0xff]++;
    keyed_t *src = a, *dst = tmp;
    for (unsigned p = 0; p < passes; p++) {
        if (hist[p][(src[0].hash >> (8 * p)) & 0xff] == n)
            continue;
        size_t offs[256], sum = 0;
        for (unsigned d = 0; d < 256; d++) {
            offs[d] = sum;
            sum += hist[p][d];
        }
        for (size_t i = 0; i < n; i++)
            dst[offs[(src[i].hash >> (8 * p)) & 0xff]++] = src[i];
        keyed_t *t = src;
        src = dst;
        dst = t;
    }
    if (src != a)
        memcpy(a, src, sizeof *a * n);
}

static int cmp_entry(const void *a, const void *b) { return stele__entry_cmp(a, b); }

/* A lazy memtable in order: its entries sorted by hash directly, without the hash table (entries
 * sharing a hash, rare there, are sorted among themselves). */
static int sorted_lazy(const stele__memtable_t *mt,
                       int (*emit)(void *arg, const stele_index_entry_t *e), void *arg) {
    int rc = 0;
    size_t n = mt->count, group_cap = 0;
    stele_index_entry_t *group = NULL;
    keyed_t *keys = stele__malloc(sizeof *keys * n);
    keyed_t *tmp = stele__malloc(sizeof *tmp * n);
    if (!keys || !tmp) {
        rc = stele__fail(STELE_ENOMEM, "index memtable: no memory to sort %zu entries", n);
        goto done;
    }
    for (size_t i = 0; i < n; i++)
        keys[i] = (keyed_t){mt->entries[i].hash, i};
    radix_sort(keys, tmp, n);
    for (size_t g = 0; g < n && rc == 0;) {
        size_t end = g + 1;
        while (end < n && keys[end].hash == keys[g].hash)
            end++;
        if (end - g == 1) {
            rc = emit(arg, &mt->entries[keys[g].slot]);
        } else {
            size_t len = end - g;
            if (len > group_cap) {
                stele_index_entry_t *p = stele__realloc(group, sizeof *group * len);
                if (!p) {
                    rc = stele__fail(STELE_ENOMEM, "index memtable: no memory to sort a chain");
                    break;
                }
                group = p;
                group_cap = len;
            }
            for (size_t i = 0; i < len; i++)
                group[i] = mt->entries[keys[g + i].slot];
            qsort(group, len, sizeof *group, cmp_entry);
            for (size_t i = 0; i < len && rc == 0; i++)
                rc = emit(arg, &group[i]);
        }
        g = end;
    }
done:
    stele__free(group);
    stele__free(keys);
    stele__free(tmp);
    return rc;
}

int stele__memtable_sorted(const stele__memtable_t *mt,
                           int (*emit)(void *arg, const stele_index_entry_t *e), void *arg) {
    if (mt->lazy)
        return mt->count ? sorted_lazy(mt, emit, arg) : 0;
    int rc = 0;
    size_t n = mt->distinct;
    stele_index_entry_t *group = NULL;
    size_t group_cap = 0;
    if (n == 0)
        return 0;
    keyed_t *keys = stele__malloc(sizeof *keys * n);
    keyed_t *tmp = stele__malloc(sizeof *tmp * n);
    if (!keys || !tmp) {
        rc = stele__fail(STELE_ENOMEM, "index memtable: no memory to sort %zu hashes", n);
        goto done;
    }
    size_t k = 0;
    for (uint32_t s = 0; s <= mt->slot_mask; s++)
        if (mt->slots[s].first != STELE__MT_NONE)
            keys[k++] = (keyed_t){mt->slots[s].hash, s};
    STELE_ASSERT(k == n);
    radix_sort(keys, tmp, n);

    for (size_t g = 0; g < n && rc == 0; g++) {
        const stele__mt_slot_t *slot = &mt->slots[keys[g].slot];
        uint32_t first = slot->first & ~NONMONO;
        if (!(slot->first & NONMONO)) {
            for (uint32_t i = first; i != STELE__MT_NONE && rc == 0; i = mt->next[i])
                rc = emit(arg, &mt->entries[i]);
            continue;
        }
        /* A chain of several streams: gather and sort it. */
        size_t len = 0;
        for (uint32_t i = first; i != STELE__MT_NONE; i = mt->next[i]) {
            if (len == group_cap) {
                size_t cap = group_cap ? group_cap * 2 : 64;
                stele_index_entry_t *p = stele__realloc(group, sizeof *group * cap);
                if (!p) {
                    rc = stele__fail(STELE_ENOMEM, "index memtable: no memory to sort a chain");
                    goto done;
                }
                group = p;
                group_cap = cap;
            }
            group[len++] = mt->entries[i];
        }
        qsort(group, len, sizeof *group, cmp_entry);
        for (size_t i = 0; i < len && rc == 0; i++)
            rc = emit(arg, &group[i]);
    }
done:
    stele__free(group);
    stele__free(keys);
    stele__free(tmp);
    return rc;
}
