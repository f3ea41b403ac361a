/*
 * manifest.c -- encoding of the index manifest (see manifest.h).
 *
 * Layout, all integers little-endian (T tables):
 *
 *   offset   size  content
 *   0        8     magic "STELEIXM"
 *   8        4     format version (1)
 *   12       4     table count T (at most 4096)
 *   16       8     checkpoint: last position whose entries are all in the tables (0 = none)
 *   24       8     next table sequence number
 *   32       40*T  per table: seq u64 (file table-<seq, 16 hex digits>.sti), level u32, reserved
 *                  u32 (0), entry count u64, smallest position u64, largest position u64
 *   32+40T   4     CRC32C of bytes 0 .. 32+40T-1
 *
 * The file is exactly 36 + 40T bytes.
 */
#include "index/manifest.h"

#include "index/entry.h"
#include "os/alloc.h"
#include "stele.h"
#include "util/bytes.h"
#include "util/crc32c.h"
#include "util/error.h"

#include <string.h>

#define HEADER_BYTES 32u
#define TABLE_BYTES 40u
/* magic 8, version 4, count 4, checkpoint 8, next seq 8 | seq 8, level 4, 0 4, count 8, min 8,
 * max 8 (the layout above) */
_Static_assert(HEADER_BYTES == 8 + 4 + 4 + 8 + 8, "manifest: header size");
_Static_assert(TABLE_BYTES == 8 + 4 + 4 + 8 + 8 + 8, "manifest: per-table size");
#define FORMAT_VERSION 1u

static const unsigned char magic[8] = {'S', 'T', 'E', 'L', 'E', 'I', 'X', 'M'};

size_t stele__manifest_max_bytes(void) {
    return HEADER_BYTES + (size_t)TABLE_BYTES * STELE__MANIFEST_MAX_TABLES + 4u;
}

int stele__manifest_encode(const stele__manifest_t *m, unsigned char **out, size_t *len) {
    size_t n = HEADER_BYTES + (size_t)TABLE_BYTES * m->ntables + 4u;
    unsigned char *b = stele__malloc(n);
    if (!b)
        return stele__fail(STELE_ENOMEM, "index: no memory for the manifest");
    memcpy(b, magic, 8);
    stele__put_u32(b + 8, FORMAT_VERSION);
    stele__put_u32(b + 12, m->ntables);
    stele__put_u64(b + 16, m->checkpoint);
    stele__put_u64(b + 24, m->next_seq);
    unsigned char *p = b + HEADER_BYTES;
    for (uint32_t i = 0; i < m->ntables; i++, p += TABLE_BYTES) {
        const stele__manifest_table_t *t = &m->tables[i];
        stele__put_u64(p, t->seq);
        stele__put_u32(p + 8, t->level);
        stele__put_u32(p + 12, 0);
        stele__put_u64(p + 16, t->count);
        stele__put_u64(p + 24, t->min_position);
        stele__put_u64(p + 32, t->max_position);
    }
    stele__put_u32(p, stele__crc32c(0, b, n - 4));
    *out = b;
    *len = n;
    return 0;
}

int stele__manifest_decode(const unsigned char *buf, size_t len, stele__manifest_t *m) {
    memset(m, 0, sizeof *m);
    if (len < HEADER_BYTES + 4u || memcmp(buf, magic, 8) != 0)
        return stele__fail(STELE_ECORRUPT, "index: manifest has no valid header");
    uint32_t ntables = stele__get_u32(buf + 12);
    if (ntables > STELE__MANIFEST_MAX_TABLES ||
        len != HEADER_BYTES + (size_t)TABLE_BYTES * ntables + 4u)
        return stele__fail(STELE_ECORRUPT, "index: manifest length does not match");
    if (stele__crc32c(0, buf, len - 4) != stele__get_u32(buf + len - 4))
        return stele__fail(STELE_ECORRUPT, "index: manifest checksum mismatch");
    if (stele__get_u32(buf + 8) != FORMAT_VERSION)
        return stele__fail(STELE_EVERSION, "index: unknown manifest version %u",
                           stele__get_u32(buf + 8));
    m->checkpoint = stele__get_u64(buf + 16);
    m->next_seq = stele__get_u64(buf + 24);
    if (ntables > 0) {
        m->tables = stele__calloc(ntables, sizeof *m->tables);
        if (!m->tables)
            return stele__fail(STELE_ENOMEM, "index: no memory for the manifest");
    }
    const unsigned char *p = buf + HEADER_BYTES;
    for (uint32_t i = 0; i < ntables; i++, p += TABLE_BYTES) {
        stele__manifest_table_t *t = &m->tables[i];
        t->seq = stele__get_u64(p);
        t->level = stele__get_u32(p + 8);
        t->count = stele__get_u64(p + 16);
        t->min_position = stele__get_u64(p + 24);
        t->max_position = stele__get_u64(p + 32);
        if (t->seq >= m->next_seq || t->max_position > m->checkpoint || t->count == 0) {
            stele__free(m->tables);
            m->tables = NULL;
            return stele__fail(STELE_ECORRUPT, "index: manifest table %u is inconsistent", i);
        }
    }
    m->ntables = ntables;
    return 0;
}
