/*
 * entry.h -- helpers shared by the index modules: the order of entries, and the little-endian
 * codec of the 24-byte entry (integers little-endian, through util/bytes.h).
 *
 * Entries are ordered by (hash, version, position).
 */
#ifndef STELE_INDEX_ENTRY_H
#define STELE_INDEX_ENTRY_H

#include "index/index.h"
#include "util/bytes.h"

#include <stdint.h>
#include <string.h>

#define STELE__INDEX_ENTRY_BYTES 24u
/* hash u64, version u64, position u64 */
_Static_assert(STELE__INDEX_ENTRY_BYTES == 3 * sizeof(uint64_t), "index entry: three u64");

static inline int stele__entry_cmp(const stele_index_entry_t *a, const stele_index_entry_t *b) {
    if (a->hash != b->hash)
        return a->hash < b->hash ? -1 : 1;
    if (a->version != b->version)
        return a->version < b->version ? -1 : 1;
    if (a->position != b->position)
        return a->position < b->position ? -1 : 1;
    return 0;
}

static inline void stele__entry_encode(unsigned char *p, const stele_index_entry_t *e) {
    stele__put_u64(p, e->hash);
    stele__put_u64(p + 8, e->version);
    stele__put_u64(p + 16, e->position);
}

static inline void stele__entry_decode(const unsigned char *p, stele_index_entry_t *e) {
    e->hash = stele__get_u64(p);
    e->version = stele__get_u64(p + 8);
    e->position = stele__get_u64(p + 16);
}

/* The murmur3 64-bit finalizer: a bijection that spreads every input bit over the output. */
static inline uint64_t stele__mix64(uint64_t h) {
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ull;
    h ^= h >> 33;
    return h;
}

#endif
