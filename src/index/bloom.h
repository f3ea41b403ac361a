/*
 * bloom.h -- the Bloom filter of an index table file: which stream hashes the table may hold.
 *
 * A blocked filter: each hash selects one 512-bit block (one cache line) and sets 7 bits in it, so
 * a negative answer costs one cache miss. About 10 bits per distinct hash give ~1% false positives.
 * Layout and bit choice are part of the table file format (docs/design/index.md).
 */
#ifndef STELE_INDEX_BLOOM_H
#define STELE_INDEX_BLOOM_H

#include <stdbool.h>
#include <stdint.h>

#define STELE__BLOOM_BLOCK_WORDS 8u  /* 64-bit words per block */
#define STELE__BLOOM_BLOCK_BYTES 64u /* bytes per block */
#define STELE__BLOOM_BITS_PER_KEY 10u
#define STELE__BLOOM_K 7u

/* Blocks for a filter over at most keys distinct hashes (at least 1). */
uint64_t stele__bloom_blocks_for(uint64_t keys);
/* Set hash's bits in words (blocks * 8 words). */
void stele__bloom_add(uint64_t *words, uint64_t blocks, uint64_t hash);
/* False when hash was never added; true when it may have been. */
bool stele__bloom_may_contain(const uint64_t *words, uint64_t blocks, uint64_t hash);

/* Ask the CPU to fetch the block of hash (a hint: no effect on the answer). */
void stele__bloom_prefetch(const uint64_t *words, uint64_t blocks, uint64_t hash);

/* A hash's two mixed words (see bloom.c), computed once when one hash is tested against many
 * filters: then each filter costs a multiply and its cache line. */
typedef struct stele__bloom_key {
    uint64_t g1, g2;
} stele__bloom_key_t;

stele__bloom_key_t stele__bloom_key(uint64_t hash);

static inline const uint64_t *stele__bloom_block(const uint64_t *words, uint64_t blocks,
                                                 const stele__bloom_key_t *k) {
    return words + (((k->g1 >> 32) * blocks) >> 32) * STELE__BLOOM_BLOCK_WORDS;
}

/* stele__bloom_may_contain with the key precomputed (the same answer). */
static inline bool stele__bloom_may_contain_key(const uint64_t *words, uint64_t blocks,
                                                const stele__bloom_key_t *k) {
    const uint64_t *w = stele__bloom_block(words, blocks, k);
    for (unsigned i = 0; i < STELE__BLOOM_K; i++) {
        unsigned bit = (unsigned)(k->g2 >> (9 * i)) & 511u;
        if (!(w[bit >> 6] & (1ull << (bit & 63u))))
            return false;
    }
    return true;
}

#endif
