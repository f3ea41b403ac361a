/*
 * entry.h -- helpers shared by the index modules: the order of entries, and the little-endian
 * codec of the 24-byte entry and of the integers in index files.
 *
 * Entries are ordered by (hash, version, position). Every index file stores integers little-endian
 * whatever the host: on little-endian hosts these helpers are plain (unaligned) loads and stores,
 * elsewhere they assemble the bytes one by one.
 */
#ifndef STELE_INDEX_ENTRY_H
#define STELE_INDEX_ENTRY_H

#include "index/index.h"

#include <stdint.h>
#include <string.h>

#define STELE__INDEX_ENTRY_BYTES 24u

static inline int stele__entry_cmp(const stele_index_entry_t *a, const stele_index_entry_t *b) {
    if (a->hash != b->hash)
        return a->hash < b->hash ? -1 : 1;
    if (a->version != b->version)
        return a->version < b->version ? -1 : 1;
    if (a->position != b->position)
        return a->position < b->position ? -1 : 1;
    return 0;
}

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define STELE__LITTLE_ENDIAN 1
#else
#define STELE__LITTLE_ENDIAN 0
#endif

static inline void stele__put_u32(unsigned char *p, uint32_t v) {
#if STELE__LITTLE_ENDIAN
    memcpy(p, &v, 4);
#else
    for (int i = 0; i < 4; i++)
        p[i] = (unsigned char)(v >> (8 * i));
#endif
}

static inline void stele__put_u64(unsigned char *p, uint64_t v) {
#if STELE__LITTLE_ENDIAN
    memcpy(p, &v, 8);
#else
    for (int i = 0; i < 8; i++)
        p[i] = (unsigned char)(v >> (8 * i));
#endif
}

static inline uint32_t stele__get_u32(const unsigned char *p) {
    uint32_t v = 0;
#if STELE__LITTLE_ENDIAN
    memcpy(&v, p, 4);
#else
    for (int i = 0; i < 4; i++)
        v |= (uint32_t)p[i] << (8 * i);
#endif
    return v;
}

static inline uint64_t stele__get_u64(const unsigned char *p) {
    uint64_t v = 0;
#if STELE__LITTLE_ENDIAN
    memcpy(&v, p, 8);
#else
    for (int i = 0; i < 8; i++)
        v |= (uint64_t)p[i] << (8 * i);
#endif
    return v;
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
