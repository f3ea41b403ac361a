/*
 * table.h -- index table files: immutable sorted runs of 24-byte entries with a Bloom filter and
 * midpoints, written once (from a memtable or by merging tables) and then only read.
 *
 * The format is described byte by byte at the top of table.c and in docs/design/index.md.
 */
#ifndef STELE_INDEX_TABLE_H
#define STELE_INDEX_TABLE_H

#include "index/bloom.h"
#include "index/index.h"
#include "index/lookup.h"
#include "os/vfs.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define STELE__TABLE_BLOCK_ENTRIES 32u /* entries per block (the midpoint stride) written */
#define STELE__TABLE_MAX_STRIDE 256u   /* the largest stride a reader accepts */

/* An open, verified table file. Immutable after open; safe to use from any number of threads. */
typedef struct stele__table {
    stele_file_t *file;
    char *path;
    uint64_t seq; /* the number in its file name */
    uint32_t level;
    uint32_t stride; /* entries per block */
    uint64_t count, distinct, min_position, max_position;
    uint64_t blocks;               /* ceil(count / stride) */
    uint64_t *mid_hashes;          /* hash of each block's first key (dense, for searching) */
    stele_index_entry_t *mid_keys; /* first key of each block */
    uint32_t *mid_crcs;            /* CRC32C of each block's entry bytes */
    uint64_t *bloom;               /* bloom_blocks * 8 words */
    uint64_t bloom_blocks;
} stele__table_t;

/* Open path and verify it whole (header, size, every checksum, midpoints against entries). Loads
 * the Bloom filter and midpoints; entries stay on disk. STELE_ECORRUPT (with a detail message) when
 * it is damaged, or the I/O error. */
int stele__table_open(const stele_vfs_t *vfs, const char *path, uint64_t seq, stele__table_t **out);
/* Close and free (NULL is a no-op). */
void stele__table_close(stele__table_t *t);

/* Merge the table's matches into the lookup. 0, STELE_ECORRUPT or the read error. */
int stele__table_lookup(stele__table_t *t, stele__lookup_t *lk);

/* For each i < n with maybe[i] == 0: set maybe[i] = 1 when the table's Bloom filter says it may
 * hold the hash of keys[i] (stele__bloom_key). The filter blocks of all n keys are fetched before
 * any is tested, so their cache misses overlap. */
void stele__table_filter(const stele__table_t *t, const stele__bloom_key_t *keys, size_t n,
                         uint8_t *maybe);

/* Sequential reader over a table's entries (merges and scans), verifying each block. */
typedef struct stele__table_iter {
    stele__table_t *t;
    unsigned char *raw;           /* a run of blocks as read */
    stele_index_entry_t *entries; /* decoded */
    uint64_t next_block;
    size_t pos, len;
} stele__table_iter_t;

int stele__table_iter_init(stele__table_iter_t *it, stele__table_t *t);
/* 1 with *e set (valid until the next call), 0 at the end, or a negative error. */
int stele__table_iter_next(stele__table_iter_t *it, const stele_index_entry_t **e);
void stele__table_iter_free(stele__table_iter_t *it);

/* Writer: entries must be added in strictly increasing (hash, version, position) order. */
typedef struct stele__table_writer stele__table_writer_t;

/* Create path (must not exist). entries_hint sizes the midpoints; distinct_bound (an upper bound of
 * the distinct hashes to be added) sizes the Bloom filter. */
int stele__table_writer_open(const stele_vfs_t *vfs, const char *path, uint32_t level,
                             uint64_t entries_hint, uint64_t distinct_bound,
                             stele__table_writer_t **out);
int stele__table_writer_add(stele__table_writer_t *w, const stele_index_entry_t *e);
/* Entries added so far. */
uint64_t stele__table_writer_count(const stele__table_writer_t *w);
/* Write the rest, sync and close the file, and free w. On failure the file is removed. The caller
 * syncs the directory before anything names the file. At least one entry must have been added. */
int stele__table_writer_finish(stele__table_writer_t *w);
/* Close and remove the file, and free w (NULL is a no-op). */
void stele__table_writer_discard(stele__table_writer_t *w);

#endif
