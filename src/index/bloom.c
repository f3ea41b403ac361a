/*
 * bloom.c -- the blocked Bloom filter of index table files (see bloom.h).
 *
 * Bit choice (on disk, so fixed for ever): g1 = mix64(hash), g2 = mix64(hash ^ 0x9e3779b97f4a7c15)
 * with mix64 the murmur3 finalizer. The block is ((g1 >> 32) * blocks) >> 32; the 7 bits in the
 * block are the 9-bit fields g2 >> 0, >> 9, ..., >> 54 (bit b is bit b % 64 of word b / 64 of the
 * block). The stream hash is already uniform, but mixing again keeps the filter sound for callers
 * (and tests) that use structured hashes.
 */
#include "index/bloom.h"

#include "index/entry.h"
#include "util/assert.h"

uint64_t stele__bloom_blocks_for(uint64_t keys) {
    uint64_t bits = keys * STELE__BLOOM_BITS_PER_KEY;
    uint64_t blocks = (bits + 511u) / 512u;
    return blocks ? blocks : 1;
}

static inline const uint64_t *block_of(const uint64_t *words, uint64_t blocks, uint64_t g1) {
    uint64_t b = ((g1 >> 32) * blocks) >> 32;
    return words + b * STELE__BLOOM_BLOCK_WORDS;
}

void stele__bloom_add(uint64_t *words, uint64_t blocks, uint64_t hash) {
    STELE_ASSERT(blocks > 0 && blocks <= UINT32_MAX);
    uint64_t g1 = stele__mix64(hash), g2 = stele__mix64(hash ^ 0x9e3779b97f4a7c15ull);
    uint64_t *w = (uint64_t *)block_of(words, blocks, g1);
    for (unsigned i = 0; i < STELE__BLOOM_K; i++) {
        unsigned bit = (unsigned)(g2 >> (9 * i)) & 511u;
        w[bit >> 6] |= 1ull << (bit & 63u);
    }
}

bool stele__bloom_may_contain(const uint64_t *words, uint64_t blocks, uint64_t hash) {
    uint64_t g1 = stele__mix64(hash), g2 = stele__mix64(hash ^ 0x9e3779b97f4a7c15ull);
    const uint64_t *w = block_of(words, blocks, g1);
    for (unsigned i = 0; i < STELE__BLOOM_K; i++) {
        unsigned bit = (unsigned)(g2 >> (9 * i)) & 511u;
        if (!(w[bit >> 6] & (1ull << (bit & 63u))))
            return false;
    }
    return true;
}

void stele__bloom_prefetch(const uint64_t *words, uint64_t blocks, uint64_t hash) {
    __builtin_prefetch(block_of(words, blocks, stele__mix64(hash)));
}

stele__bloom_key_t stele__bloom_key(uint64_t hash) {
    return (stele__bloom_key_t){stele__mix64(hash), stele__mix64(hash ^ 0x9e3779b97f4a7c15ull)};
}
