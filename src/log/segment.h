/*
 * segment.h -- one segment file of the log: its header, its file, and its sparse offset index.
 *
 * Segment file "log/<first position, 20 digits>.seg":
 *
 *   off size field
 *     0    8 magic            "STELESEG"
 *     8    4 format version   1
 *    12    4 header bytes     128 (records start here)
 *    16    8 first position   position of the segment's first record
 *    24    8 nominal size     bytes preallocated (zero-filled) when the segment was made: the
 *                             size at which the writer rolls to the next segment (sizes grow
 *                             along the log, up to the store's maximum; a commit larger than
 *                             the nominal size makes its segment larger)
 *    32    8 created_ns
 *    40   32 prev hash        chain hash of the last commit before this segment (zeros: none)
 *    72    8 prev time_ns     time of the last event before this segment (0: none)
 *    80    4 flags            bit 0 PREALLOCATED: the file had its nominal size (zero-filled or
 *                             space reserved) before this header was synced, so it can never be
 *                             shorter; other bits zero (written 0 before this flag existed)
 *    84   40 reserved         zero
 *   124    4 crc32c           CRC-32C of bytes [0, 124)
 *   128      records (record.h), each starting at a multiple of 8, then zero bytes to the end
 *
 * A commit never spans two segments. Every segment but the last is sealed: never written again.
 *
 * Sparse offset index "log/<first>.sidx" (written when a segment is sealed; rebuilt by a scan when
 * missing or bad): magic "STELESIX", u32 version 1, u32 reserved, u64 first position, u64 last
 * position, u64 end offset, u64 count, count x (u64 position, u64 offset), u32 crc32c of all
 * before. It holds every record whose position is 1 modulo STELE_SPARSE_STRIDE, and the segment's
 * first.
 */
#ifndef STELE_LOG_SEGMENT_H
#define STELE_LOG_SEGMENT_H

#include "os/vfs.h"

#include <stdbool.h>
#include <stdint.h>

#define STELE_SEGMENT_MAGIC "STELESEG"
#define STELE_SEGMENT_FORMAT 1u
#define STELE_SEGMENT_HEADER_BYTES 128u
#define STELE_SPARSE_STRIDE 16u
#define STELE_SEGMENT_PREALLOCATED 0x1u /* header flag */

typedef struct stele_sparse_entry {
    uint64_t position;
    uint64_t offset;
} stele_sparse_entry_t;

typedef struct stele_segment {
    uint64_t first_position;
    uint64_t last_position; /* last record in it (first_position - 1 when empty) */
    uint64_t end_offset;    /* byte after the last whole commit */
    uint64_t size_bytes;    /* current file size */
    uint64_t nominal_bytes; /* nominal size, from the header: the writer rolls past it */
    uint8_t prev_hash[32];
    int64_t prev_time_ns;
    uint32_t flags; /* STELE_SEGMENT_* from the header */
    stele_file_t *file;
    bool sealed;
    /* Sparse index; grows while the segment is active (guarded by the log's lock). */
    stele_sparse_entry_t *sparse;
    size_t sparse_count;
    size_t sparse_cap;
    char path[];
} stele_segment_t;

/* File name of the segment starting at first ("%020llu.seg"), into out (>= 32 bytes). */
void stele__segment_name(uint64_t first, const char *ext, char *out, size_t out_size);

/* Encode a header into buf (STELE_SEGMENT_HEADER_BYTES). */
void stele__segment_header_encode(uint8_t *buf, uint64_t first, uint64_t size_bytes,
                                  int64_t created_ns, const uint8_t prev_hash[32],
                                  int64_t prev_time_ns, uint32_t flags);
/* Decode and check a header. STELE_ENOTSTORE for a wrong magic, STELE_EVERSION for a newer
 * format, STELE_ECORRUPT for a bad checksum. */
int stele__segment_header_decode(const uint8_t *buf, uint64_t *first, uint64_t *size_bytes,
                                 uint8_t prev_hash[32], int64_t *prev_time_ns, uint32_t *flags);

/* Add a sparse entry (caller holds the log's write lock, or owns the segment alone). */
int stele__segment_sparse_add(stele_segment_t *seg, uint64_t position, uint64_t offset);

/* Write the .sidx file of a sealed segment (atomically, synced). */
int stele__segment_sparse_save(const stele_vfs_t *vfs, const char *dir, stele_segment_t *seg);
/* Load it; 0 on success, an error when missing or bad (then the caller rebuilds by a scan). */
int stele__segment_sparse_load(const stele_vfs_t *vfs, const char *dir, stele_segment_t *seg);

void stele__segment_free(stele_segment_t *seg);

#endif
