/*
 * segment.c -- segment headers and the sparse offset index of a segment (layouts in segment.h).
 */
#include "log/segment.h"

#include "log/record.h"
#include "os/alloc.h"
#include "util/bytes.h"
#include "util/crc32c.h"
#include "util/error.h"
#include "util/path.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

void stele__segment_name(uint64_t first, const char *ext, char *out, size_t out_size) {
    snprintf(out, out_size, "%020" PRIu64 ".%s", first, ext);
}

/* Field offsets of the segment header (segment.h). */
#define SEG_OFF_MAGIC 0u
#define SEG_OFF_FORMAT 8u
#define SEG_OFF_HEADER_BYTES 12u
#define SEG_OFF_FIRST 16u
#define SEG_OFF_NOMINAL 24u
#define SEG_OFF_CREATED 32u
#define SEG_OFF_PREV_HASH 40u
#define SEG_OFF_PREV_TIME 72u
#define SEG_OFF_FLAGS 80u
#define SEG_OFF_RESERVED 84u
#define SEG_OFF_CRC 124u
_Static_assert(SEG_OFF_FORMAT == SEG_OFF_MAGIC + sizeof STELE_SEGMENT_MAGIC - 1, "segment: magic");
_Static_assert(SEG_OFF_HEADER_BYTES == SEG_OFF_FORMAT + 4, "segment: format");
_Static_assert(SEG_OFF_FIRST == SEG_OFF_HEADER_BYTES + 4, "segment: header bytes");
_Static_assert(SEG_OFF_NOMINAL == SEG_OFF_FIRST + 8, "segment: first position");
_Static_assert(SEG_OFF_CREATED == SEG_OFF_NOMINAL + 8, "segment: nominal size");
_Static_assert(SEG_OFF_PREV_HASH == SEG_OFF_CREATED + 8, "segment: created_ns");
_Static_assert(SEG_OFF_PREV_TIME == SEG_OFF_PREV_HASH + STELE_SHA256_BYTES, "segment: prev hash");
_Static_assert(SEG_OFF_FLAGS == SEG_OFF_PREV_TIME + 8, "segment: prev time_ns");
_Static_assert(SEG_OFF_RESERVED == SEG_OFF_FLAGS + 4, "segment: flags");
_Static_assert(SEG_OFF_CRC == SEG_OFF_RESERVED + 40, "segment: reserved");
_Static_assert(SEG_OFF_CRC + 4 == STELE_SEGMENT_HEADER_BYTES, "segment: header size");
_Static_assert(STELE_SEGMENT_HEADER_BYTES % STELE_RECORD_ALIGN == 0, "records start 8-aligned");

void stele__segment_header_encode(uint8_t *buf, uint64_t first, uint64_t size_bytes,
                                  int64_t created_ns, const uint8_t prev_hash[32],
                                  int64_t prev_time_ns, uint32_t flags) {
    memset(buf, 0, STELE_SEGMENT_HEADER_BYTES);
    memcpy(buf, STELE_SEGMENT_MAGIC, 8);
    stele__put_u32(buf + SEG_OFF_FORMAT, STELE_SEGMENT_FORMAT);
    stele__put_u32(buf + SEG_OFF_HEADER_BYTES, STELE_SEGMENT_HEADER_BYTES);
    stele__put_u64(buf + SEG_OFF_FIRST, first);
    stele__put_u64(buf + SEG_OFF_NOMINAL, size_bytes);
    stele__put_u64(buf + SEG_OFF_CREATED, (uint64_t)created_ns);
    memcpy(buf + SEG_OFF_PREV_HASH, prev_hash, 32);
    stele__put_u64(buf + SEG_OFF_PREV_TIME, (uint64_t)prev_time_ns);
    stele__put_u32(buf + SEG_OFF_FLAGS, flags);
    stele__put_u32(buf + SEG_OFF_CRC, stele__crc32c(0, buf, SEG_OFF_CRC));
}

int stele__segment_header_decode(const uint8_t *buf, uint64_t *first, uint64_t *size_bytes,
                                 uint8_t prev_hash[32], int64_t *prev_time_ns, uint32_t *flags) {
    if (memcmp(buf, STELE_SEGMENT_MAGIC, 8) != 0)
        return stele__fail(STELE_ENOTSTORE, "segment header has no Stele magic");
    uint32_t format = stele__get_u32(buf + SEG_OFF_FORMAT);
    if (stele__get_u32(buf + SEG_OFF_CRC) != stele__crc32c(0, buf, SEG_OFF_CRC))
        return stele__fail(STELE_ECORRUPT, "segment header checksum mismatch");
    if (format > STELE_SEGMENT_FORMAT)
        return stele__fail(STELE_EVERSION, "segment format %u is newer than this build knows (%u)",
                           format, STELE_SEGMENT_FORMAT);
    if (format == 0 || stele__get_u32(buf + SEG_OFF_HEADER_BYTES) != STELE_SEGMENT_HEADER_BYTES)
        return stele__fail(STELE_ECORRUPT, "segment header has a bad format or size");
    *first = stele__get_u64(buf + SEG_OFF_FIRST);
    *size_bytes = stele__get_u64(buf + SEG_OFF_NOMINAL);
    memcpy(prev_hash, buf + SEG_OFF_PREV_HASH, 32);
    *prev_time_ns = (int64_t)stele__get_u64(buf + SEG_OFF_PREV_TIME);
    *flags = stele__get_u32(buf + SEG_OFF_FLAGS) &
             STELE_SEGMENT_PREALLOCATED; /* unknown bits: ignored */
    if (*first == 0)
        return stele__fail(STELE_ECORRUPT, "segment header names position 0");
    return 0;
}

int stele__segment_sparse_add(stele_segment_t *seg, uint64_t position, uint64_t offset) {
    if (seg->sparse_count == seg->sparse_cap) {
        size_t cap = seg->sparse_cap ? seg->sparse_cap * 2 : 256;
        stele_sparse_entry_t *n = stele__realloc(seg->sparse, cap * sizeof(*n));
        if (!n)
            return STELE_ENOMEM;
        seg->sparse = n;
        seg->sparse_cap = cap;
    }
    seg->sparse[seg->sparse_count].position = position;
    seg->sparse[seg->sparse_count].offset = offset;
    seg->sparse_count++;
    return 0;
}

#define SIDX_MAGIC "STELESIX"
#define SIDX_HEADER 48u
#define SIDX_ENTRY 16u /* u64 position, u64 offset */
/* magic 8, u32 version, u32 reserved, u64 first, u64 last, u64 end offset, u64 count */
_Static_assert(SIDX_HEADER == 8 + 4 + 4 + 8 + 8 + 8 + 8, "sparse index: header size");
_Static_assert(SIDX_ENTRY == 2 * sizeof(uint64_t), "sparse index: entry size");

int stele__segment_sparse_save(const stele_vfs_t *vfs, const char *dir, stele_segment_t *seg) {
    size_t len = SIDX_HEADER + seg->sparse_count * 16 + 4;
    uint8_t *buf = stele__malloc(len);
    if (!buf)
        return STELE_ENOMEM;
    memcpy(buf, SIDX_MAGIC, 8);
    stele__put_u32(buf + 8, 1);
    stele__put_u32(buf + 12, 0);
    stele__put_u64(buf + 16, seg->first_position);
    stele__put_u64(buf + 24, seg->last_position);
    stele__put_u64(buf + 32, seg->end_offset);
    stele__put_u64(buf + 40, seg->sparse_count);
    for (size_t i = 0; i < seg->sparse_count; i++) {
        stele__put_u64(buf + SIDX_HEADER + i * 16, seg->sparse[i].position);
        stele__put_u64(buf + SIDX_HEADER + i * 16 + 8, seg->sparse[i].offset);
    }
    stele__put_u32(buf + len - 4, stele__crc32c(0, buf, len - 4));
    char name[64];
    stele__segment_name(seg->first_position, "sidx", name, sizeof name);
    int rc = stele__file_write_atomic(vfs, dir, name, buf, len);
    stele__free(buf);
    return rc;
}

int stele__segment_sparse_load(const stele_vfs_t *vfs, const char *dir, stele_segment_t *seg) {
    char name[64], path[4200];
    stele__segment_name(seg->first_position, "sidx", name, sizeof name);
    int rc = stele__path_join(path, sizeof path, dir, name);
    if (rc < 0)
        return rc;
    void *data = NULL;
    size_t len = 0;
    rc = stele__file_read_all(vfs, path, (size_t)1 << 30, &data, &len);
    if (rc < 0)
        return rc;
    const uint8_t *buf = data;
    rc = STELE_ECORRUPT;
    if (len < SIDX_HEADER + 4 || memcmp(buf, SIDX_MAGIC, 8) != 0 ||
        stele__get_u32(buf + len - 4) != stele__crc32c(0, buf, len - 4))
        goto out;
    /* The count is checked against the length by division: a count times 16 could wrap around
     * to the length (a tampered file whose checksum was recomputed). */
    uint64_t count = stele__get_u64(buf + 40);
    if (stele__get_u32(buf + 8) != 1 || stele__get_u64(buf + 16) != seg->first_position ||
        count == 0 || count != (len - SIDX_HEADER - 4) / 16 || (len - SIDX_HEADER - 4) % 16 != 0)
        goto out;
    stele_sparse_entry_t *sp = stele__malloc(count * sizeof(*sp));
    if (!sp) {
        rc = STELE_ENOMEM;
        goto out;
    }
    uint64_t last = stele__get_u64(buf + 24), end = stele__get_u64(buf + 32);
    for (uint64_t i = 0; i < count; i++) {
        sp[i].position = stele__get_u64(buf + SIDX_HEADER + i * 16);
        sp[i].offset = stele__get_u64(buf + SIDX_HEADER + i * 16 + 8);
        /* Entries start at the first record and ascend inside the segment: a seek trusts them. */
        bool ok = i == 0 ? sp[i].position == seg->first_position &&
                               sp[i].offset == STELE_SEGMENT_HEADER_BYTES
                         : sp[i].position > sp[i - 1].position && sp[i].offset > sp[i - 1].offset;
        if (!ok || sp[i].position > last || sp[i].offset >= end) {
            stele__free(sp);
            goto out;
        }
    }
    stele__free(seg->sparse);
    seg->sparse = sp;
    seg->sparse_count = seg->sparse_cap = count;
    seg->last_position = last;
    seg->end_offset = end;
    rc = 0;
out:
    stele__free(data);
    return rc;
}

void stele__segment_free(stele_segment_t *seg) {
    if (!seg)
        return;
    stele__file_close(seg->file);
    stele__free(seg->sparse);
    stele__free(seg);
}
