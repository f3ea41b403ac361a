/*
 * table.c -- index table files: writing a sorted run of entries, verifying and reading it.
 *
 * A table file is immutable once written. Every integer is little-endian. Layout (N entries, S
 * entries per block, M = ceil(N / S) blocks, B Bloom blocks):
 *
 *   offset          size  content
 *   0               64    header
 *     0             8       magic "STELEIXT"
 *     8             4       format version (1)
 *     12            4       level (0 = written from a memtable, L+1 = merged from level L)
 *     16            8       entry count N (>= 1)
 *     24            8       distinct hashes D
 *     32            8       smallest position in the table
 *     40            8       largest position in the table
 *     48            4       stride S: entries per block (1..256; written as 32)
 *     52            4       Bloom blocks B (>= 1)
 *     56            4       reserved, 0
 *     60            4       CRC32C of header bytes 0..59
 *   64              24*N  entries in strictly increasing (hash, version, position) order, each
 *                         hash u64, version u64, position u64
 *   64+24N          64*B  Bloom filter: B blocks of 8 u64 words (bit b of a block is bit b%64 of
 *                         word b/64); bit choice in bloom.c
 *   64+24N+64B      32*M  midpoints, one per block i: hash, version, position of entry i*S (u64
 *                         each), CRC32C of the block's entry bytes (u32), reserved 0 (u32)
 *   64+24N+64B+32M  16    footer: entry count N (u64), CRC32C of every byte from offset 64 up to
 *                         the footer (u32), magic "STIX" (4 bytes)
 *
 * The file is exactly that long. Opening a table checks all of it (so a damaged file is found
 * before it is used, and the index is rebuilt instead); a lookup checks the CRC of each block it
 * reads, so damage after open is reported as STELE_ECORRUPT, never returned as entries. The
 * midpoints are the first binary-search step: a lookup finds the one block that can hold its key
 * in memory, then reads that block (S * 24 = 768 bytes) with one pread.
 */
#include "index/table.h"

#include "index/bloom.h"
#include "index/entry.h"
#include "os/alloc.h"
#include "stele.h"
#include "util/bytes.h"
#include "util/crc32c.h"
#include "util/assert.h"
#include "util/error.h"

#include <errno.h>
#include <string.h>

#define HEADER_BYTES 64u
#define FOOTER_BYTES 16u
#define MID_BYTES 32u
/* The layout in the banner: magic 8, version 4, level 4, N 8, D 8, min 8, max 8, stride 4,
 * Bloom blocks 4, reserved 4, CRC 4. */
_Static_assert(HEADER_BYTES == 8 + 4 + 4 + 8 + 8 + 8 + 8 + 4 + 4 + 4 + 4, "table: header size");
_Static_assert(MID_BYTES == STELE__INDEX_ENTRY_BYTES + 4 + 4, "table: midpoint = entry, CRC, 0");
_Static_assert(FOOTER_BYTES == 8 + 4 + 4, "table: footer = count, CRC, magic");
_Static_assert(STELE__BLOOM_BLOCK_BYTES == 8 * sizeof(uint64_t), "table: Bloom block = 8 u64");
#define FORMAT_VERSION 1u
#define MAX_ENTRIES (UINT64_C(1) << 40)
#define WRITE_BLOCKS 64u   /* blocks per write buffer */
#define READ_BLOCKS 32u    /* blocks per sequential read (merges, scans) */
#define VERIFY_BLOCKS 256u /* blocks per read while verifying at open */

static const unsigned char header_magic[8] = {'S', 'T', 'E', 'L', 'E', 'I', 'X', 'T'};
static const unsigned char footer_magic[4] = {'S', 'T', 'I', 'X'};

/* ---------------------------------------------------------------------------------------------
 * Writing
 * ------------------------------------------------------------------------------------------- */

struct stele__table_writer {
    const stele_vfs_t *vfs;
    stele_file_t *file;
    char *path;
    uint32_t level;
    unsigned char *buf; /* WRITE_BLOCKS whole blocks */
    size_t buf_len;
    size_t block_start; /* offset in buf of the current block */
    uint64_t file_off;  /* where buf goes */
    uint32_t crc_all;
    uint64_t count, distinct, min_position, max_position;
    stele_index_entry_t last;
    stele_index_entry_t *mid_keys;
    uint32_t *mid_crcs;
    uint64_t mids_cap;
    uint64_t *bloom;
    uint64_t bloom_blocks;
};

static size_t buf_bytes(void) {
    return (size_t)WRITE_BLOCKS * STELE__TABLE_BLOCK_ENTRIES * STELE__INDEX_ENTRY_BYTES;
}

int stele__table_writer_open(const stele_vfs_t *vfs, const char *path, uint32_t level,
                             uint64_t entries_hint, uint64_t distinct_bound,
                             stele__table_writer_t **out) {
    int rc = STELE_ENOMEM;
    stele__table_writer_t *w = stele__calloc(1, sizeof *w);
    if (!w)
        goto fail;
    w->vfs = vfs;
    w->level = level;
    w->path = stele__strdup(path);
    w->buf = stele__malloc(buf_bytes());
    w->bloom_blocks = stele__bloom_blocks_for(distinct_bound);
    if (w->bloom_blocks > UINT32_MAX)
        w->bloom_blocks = UINT32_MAX;
    w->bloom = stele__calloc((size_t)w->bloom_blocks * STELE__BLOOM_BLOCK_WORDS, sizeof *w->bloom);
    w->mids_cap = entries_hint / STELE__TABLE_BLOCK_ENTRIES + 1;
    w->mid_keys = stele__malloc(sizeof *w->mid_keys * (size_t)w->mids_cap);
    w->mid_crcs = stele__malloc(sizeof *w->mid_crcs * (size_t)w->mids_cap);
    if (!w->path || !w->buf || !w->bloom || !w->mid_keys || !w->mid_crcs)
        goto fail_free;
    w->min_position = UINT64_MAX;
    w->file_off = HEADER_BYTES;
    rc = vfs->open(vfs, path, STELE_VFS_RDWR | STELE_VFS_CREATE | STELE_VFS_EXCL, &w->file);
    if (rc != 0) {
        stele__fail(rc, "index: cannot create table %s", path);
        goto fail_free;
    }
    *out = w;
    return 0;

fail_free:
    stele__free(w->path);
    stele__free(w->buf);
    stele__free(w->bloom);
    stele__free(w->mid_keys);
    stele__free(w->mid_crcs);
    stele__free(w);
fail:
    if (rc == STELE_ENOMEM)
        stele__fail(rc, "index: no memory for a table writer");
    return rc;
}

static void writer_free(stele__table_writer_t *w) {
    stele__free(w->path);
    stele__free(w->buf);
    stele__free(w->bloom);
    stele__free(w->mid_keys);
    stele__free(w->mid_crcs);
    stele__free(w);
}

void stele__table_writer_discard(stele__table_writer_t *w) {
    if (!w)
        return;
    if (w->file) {
        stele__file_close(w->file);
        w->vfs->unlink(w->vfs, w->path);
    }
    writer_free(w);
}

uint64_t stele__table_writer_count(const stele__table_writer_t *w) { return w->count; }

/* Writes buf[0..buf_len) at file_off, adding it to the whole-file CRC. */
static int flush_buf(stele__table_writer_t *w) {
    if (w->buf_len == 0)
        return 0;
    w->crc_all = stele__crc32c(w->crc_all, w->buf, w->buf_len);
    int rc = stele__file_pwrite(w->file, w->buf, w->buf_len, w->file_off);
    if (rc != 0)
        return stele__fail(rc, "index: cannot write table %s", w->path);
    w->file_off += w->buf_len;
    w->buf_len = 0;
    return 0;
}

/* Closes the current block: its CRC goes with its midpoint. */
static void end_block(stele__table_writer_t *w) {
    uint64_t b = (w->count - 1) / STELE__TABLE_BLOCK_ENTRIES;
    w->mid_crcs[b] = stele__crc32c(0, w->buf + w->block_start, w->buf_len - w->block_start);
}

int stele__table_writer_add(stele__table_writer_t *w, const stele_index_entry_t *e) {
    if (w->count > 0 && stele__entry_cmp(&w->last, e) >= 0)
        return stele__fail(STELE_ECORRUPT, "index: table %s: entries out of order", w->path);
    if (w->count % STELE__TABLE_BLOCK_ENTRIES == 0) {
        uint64_t b = w->count / STELE__TABLE_BLOCK_ENTRIES;
        if (b == w->mids_cap) {
            uint64_t cap = w->mids_cap * 2;
            stele_index_entry_t *k = stele__realloc(w->mid_keys, sizeof *k * (size_t)cap);
            if (k)
                w->mid_keys = k;
            uint32_t *c = stele__realloc(w->mid_crcs, sizeof *c * (size_t)cap);
            if (c)
                w->mid_crcs = c;
            if (!k || !c)
                return stele__fail(STELE_ENOMEM, "index: no memory for table midpoints");
            w->mids_cap = cap;
        }
        if (w->buf_len == buf_bytes()) {
            int rc = flush_buf(w);
            if (rc != 0)
                return rc;
        }
        w->mid_keys[b] = *e;
        w->block_start = w->buf_len;
    }
    if (w->count == 0 || e->hash != w->last.hash) {
        w->distinct++;
        stele__bloom_add(w->bloom, w->bloom_blocks, e->hash);
    }
    stele__entry_encode(w->buf + w->buf_len, e);
    w->buf_len += STELE__INDEX_ENTRY_BYTES;
    w->count++;
    w->last = *e;
    if (e->position < w->min_position)
        w->min_position = e->position;
    if (e->position > w->max_position)
        w->max_position = e->position;
    if (w->count % STELE__TABLE_BLOCK_ENTRIES == 0)
        end_block(w);
    return 0;
}

/* Appends len bytes to the buffer, flushing it as it fills. */
static int put_bytes(stele__table_writer_t *w, const unsigned char *p, size_t len) {
    while (len > 0) {
        size_t room = buf_bytes() - w->buf_len;
        size_t n = len < room ? len : room;
        memcpy(w->buf + w->buf_len, p, n);
        w->buf_len += n;
        p += n;
        len -= n;
        if (w->buf_len == buf_bytes()) {
            int rc = flush_buf(w);
            if (rc != 0)
                return rc;
        }
    }
    return 0;
}

int stele__table_writer_finish(stele__table_writer_t *w) {
    int rc = 0;
    unsigned char tmp[MID_BYTES];
    STELE_ASSERT(w->count > 0);
    if (w->count % STELE__TABLE_BLOCK_ENTRIES != 0)
        end_block(w);
    uint64_t blocks = (w->count + STELE__TABLE_BLOCK_ENTRIES - 1) / STELE__TABLE_BLOCK_ENTRIES;
    for (uint64_t i = 0; i < w->bloom_blocks * STELE__BLOOM_BLOCK_WORDS && rc == 0; i++) {
        stele__put_u64(tmp, w->bloom[i]);
        rc = put_bytes(w, tmp, 8);
    }
    for (uint64_t b = 0; b < blocks && rc == 0; b++) {
        stele__entry_encode(tmp, &w->mid_keys[b]);
        stele__put_u32(tmp + 24, w->mid_crcs[b]);
        stele__put_u32(tmp + 28, 0);
        rc = put_bytes(w, tmp, MID_BYTES);
    }
    if (rc == 0)
        rc = flush_buf(w);
    if (rc != 0)
        goto fail;

    unsigned char footer[FOOTER_BYTES];
    stele__put_u64(footer, w->count);
    stele__put_u32(footer + 8, w->crc_all);
    memcpy(footer + 12, footer_magic, 4);
    rc = stele__file_pwrite(w->file, footer, sizeof footer, w->file_off);
    if (rc != 0) {
        stele__fail(rc, "index: cannot write table %s", w->path);
        goto fail;
    }

    unsigned char h[HEADER_BYTES];
    memset(h, 0, sizeof h);
    memcpy(h, header_magic, 8);
    stele__put_u32(h + 8, FORMAT_VERSION);
    stele__put_u32(h + 12, w->level);
    stele__put_u64(h + 16, w->count);
    stele__put_u64(h + 24, w->distinct);
    stele__put_u64(h + 32, w->min_position);
    stele__put_u64(h + 40, w->max_position);
    stele__put_u32(h + 48, STELE__TABLE_BLOCK_ENTRIES);
    stele__put_u32(h + 52, (uint32_t)w->bloom_blocks);
    stele__put_u32(h + 60, stele__crc32c(0, h, 60));
    rc = stele__file_pwrite(w->file, h, sizeof h, 0);
    if (rc != 0) {
        stele__fail(rc, "index: cannot write table %s", w->path);
        goto fail;
    }
    rc = stele__file_sync(w->file);
    if (rc != 0) {
        stele__fail(rc, "index: cannot sync table %s", w->path);
        goto fail;
    }
    rc = stele__file_close(w->file);
    w->file = NULL;
    if (rc != 0) {
        stele__fail(rc, "index: cannot close table %s", w->path);
        w->vfs->unlink(w->vfs, w->path);
        writer_free(w);
        return rc;
    }
    writer_free(w);
    return 0;

fail:
    stele__table_writer_discard(w);
    return rc;
}

/* ---------------------------------------------------------------------------------------------
 * Reading
 * ------------------------------------------------------------------------------------------- */

static uint64_t block_entries(const stele__table_t *t, uint64_t b) {
    uint64_t start = b * t->stride;
    return t->count - start < t->stride ? t->count - start : t->stride;
}

static uint64_t entries_offset(const stele__table_t *t, uint64_t b) {
    return HEADER_BYTES + b * t->stride * STELE__INDEX_ENTRY_BYTES;
}

static int corrupt(const stele__table_t *t, const char *what, uint64_t b) {
    return stele__fail(STELE_ECORRUPT, "index: table %s: %s (block %llu)", t->path, what,
                       (unsigned long long)b);
}

/* Checks blocks [b, b+n) in raw (as read) and decodes them into out. */
static int check_blocks(const stele__table_t *t, uint64_t b, uint64_t n, const unsigned char *raw,
                        stele_index_entry_t *out) {
    for (uint64_t i = 0; i < n; i++, b++) {
        size_t len = (size_t)block_entries(t, b) * STELE__INDEX_ENTRY_BYTES;
        if (stele__crc32c(0, raw, len) != t->mid_crcs[b])
            return corrupt(t, "block checksum mismatch", b);
        for (size_t j = 0; j < len; j += STELE__INDEX_ENTRY_BYTES)
            stele__entry_decode(raw + j, out++);
        if (stele__entry_cmp(out - len / STELE__INDEX_ENTRY_BYTES, &t->mid_keys[b]) != 0)
            return corrupt(t, "block does not start with its midpoint", b);
        raw += len;
    }
    return 0;
}

/* Reads and checks blocks [b, b+n) into out (n * stride entries at most); raw is scratch. */
static int read_blocks(const stele__table_t *t, uint64_t b, uint64_t n, unsigned char *raw,
                       stele_index_entry_t *out, size_t *count) {
    uint64_t entries = (b + n) * t->stride < t->count ? n * t->stride : t->count - b * t->stride;
    size_t len = (size_t)entries * STELE__INDEX_ENTRY_BYTES;
    int rc = stele__file_read_exact(t->file, raw, len, entries_offset(t, b));
    if (rc == -ENODATA)
        return corrupt(t, "file is shorter than its header says", b);
    if (rc != 0)
        return stele__fail(rc, "index: cannot read table %s", t->path);
    rc = check_blocks(t, b, n, raw, out);
    if (rc == 0)
        *count = (size_t)entries;
    return rc;
}

void stele__table_close(stele__table_t *t) {
    if (!t)
        return;
    stele__file_close(t->file);
    stele__free(t->path);
    stele__free(t->mid_hashes);
    stele__free(t->mid_keys);
    stele__free(t->mid_crcs);
    stele__free(t->bloom);
    stele__free(t);
}

/* Reads every entry once to check the block CRCs, the order, the positions and the distinct
 * count, extending *crc with the entry bytes. */
static int verify_entries(stele__table_t *t, uint32_t *crc) {
    int rc = 0;
    size_t cap = (size_t)VERIFY_BLOCKS * t->stride;
    unsigned char *raw = stele__malloc(cap * STELE__INDEX_ENTRY_BYTES);
    stele_index_entry_t *ents = stele__malloc(sizeof *ents * cap);
    stele_index_entry_t last = {0, 0, 0};
    uint64_t distinct = 0;
    if (!raw || !ents) {
        rc = stele__fail(STELE_ENOMEM, "index: no memory to verify table %s", t->path);
        goto done;
    }
    for (uint64_t b = 0; b < t->blocks; b += VERIFY_BLOCKS) {
        uint64_t n = t->blocks - b < VERIFY_BLOCKS ? t->blocks - b : VERIFY_BLOCKS;
        size_t got;
        rc = read_blocks(t, b, n, raw, ents, &got);
        if (rc != 0)
            goto done;
        *crc = stele__crc32c(*crc, raw, got * STELE__INDEX_ENTRY_BYTES);
        for (size_t i = 0; i < got; i++) {
            const stele_index_entry_t *e = &ents[i];
            bool first = b == 0 && i == 0;
            if (!first && stele__entry_cmp(&last, e) >= 0) {
                rc = corrupt(t, "entries out of order", b + i / t->stride);
                goto done;
            }
            if (e->position < t->min_position || e->position > t->max_position ||
                e->position == 0) {
                rc = corrupt(t, "position outside the table's range", b + i / t->stride);
                goto done;
            }
            if (first || e->hash != last.hash)
                distinct++;
            last = *e;
        }
    }
    if (distinct != t->distinct)
        rc = corrupt(t, "distinct hash count mismatch", 0);
done:
    stele__free(raw);
    stele__free(ents);
    return rc;
}

int stele__table_open(const stele_vfs_t *vfs, const char *path, uint64_t seq,
                      stele__table_t **out) {
    int rc = STELE_ENOMEM;
    unsigned char *raw = NULL;
    stele__table_t *t = stele__calloc(1, sizeof *t);
    if (!t || !(t->path = stele__strdup(path))) {
        rc = stele__fail(STELE_ENOMEM, "index: no memory to open table %s", path);
        goto fail;
    }
    t->seq = seq;
    rc = vfs->open(vfs, path, STELE_VFS_RDONLY, &t->file);
    if (rc != 0) {
        stele__fail(rc, "index: cannot open table %s", path);
        goto fail;
    }
    uint64_t size;
    rc = vfs->size(t->file, &size);
    if (rc != 0) {
        stele__fail(rc, "index: cannot size table %s", path);
        goto fail;
    }
    unsigned char h[HEADER_BYTES];
    rc = stele__file_read_exact(t->file, h, sizeof h, 0);
    if (rc == -ENODATA)
        rc = corrupt(t, "file shorter than a header", 0);
    if (rc != 0)
        goto fail;
    rc = STELE_ECORRUPT;
    if (memcmp(h, header_magic, 8) != 0) {
        corrupt(t, "bad header magic", 0);
        goto fail;
    }
    if (stele__crc32c(0, h, 60) != stele__get_u32(h + 60)) {
        corrupt(t, "header checksum mismatch", 0);
        goto fail;
    }
    if (stele__get_u32(h + 8) != FORMAT_VERSION) {
        corrupt(t, "unknown format version", 0);
        goto fail;
    }
    t->level = stele__get_u32(h + 12);
    t->count = stele__get_u64(h + 16);
    t->distinct = stele__get_u64(h + 24);
    t->min_position = stele__get_u64(h + 32);
    t->max_position = stele__get_u64(h + 40);
    t->stride = stele__get_u32(h + 48);
    t->bloom_blocks = stele__get_u32(h + 52);
    if (t->count == 0 || t->count > MAX_ENTRIES || t->stride == 0 ||
        t->stride > STELE__TABLE_MAX_STRIDE || t->bloom_blocks == 0 || t->distinct == 0 ||
        t->distinct > t->count || t->min_position == 0 || t->min_position > t->max_position) {
        corrupt(t, "header fields out of range", 0);
        goto fail;
    }
    t->blocks = (t->count + t->stride - 1) / t->stride;
    uint64_t bloom_off = HEADER_BYTES + t->count * STELE__INDEX_ENTRY_BYTES;
    uint64_t bloom_len = t->bloom_blocks * STELE__BLOOM_BLOCK_BYTES;
    uint64_t mids_off = bloom_off + bloom_len;
    uint64_t mids_len = t->blocks * MID_BYTES;
    uint64_t footer_off = mids_off + mids_len;
    if (size != footer_off + FOOTER_BYTES) {
        corrupt(t, "file size does not match its header", 0);
        goto fail;
    }

    /* The Bloom filter and the midpoints stay in memory. */
    raw = stele__malloc((size_t)(bloom_len + mids_len + FOOTER_BYTES));
    t->bloom = stele__malloc((size_t)bloom_len);
    t->mid_hashes = stele__malloc(sizeof *t->mid_hashes * (size_t)t->blocks);
    t->mid_keys = stele__malloc(sizeof *t->mid_keys * (size_t)t->blocks);
    t->mid_crcs = stele__malloc(sizeof *t->mid_crcs * (size_t)t->blocks);
    if (!raw || !t->bloom || !t->mid_hashes || !t->mid_keys || !t->mid_crcs) {
        rc = stele__fail(STELE_ENOMEM, "index: no memory to open table %s", path);
        goto fail;
    }
    rc = stele__file_read_exact(t->file, raw, (size_t)(bloom_len + mids_len + FOOTER_BYTES),
                                bloom_off);
    if (rc == -ENODATA)
        rc = corrupt(t, "file shorter than its size", 0);
    if (rc != 0)
        goto fail;
    for (uint64_t i = 0; i < bloom_len / 8; i++)
        t->bloom[i] = stele__get_u64(raw + 8 * i);
    const unsigned char *m = raw + bloom_len;
    for (uint64_t b = 0; b < t->blocks; b++, m += MID_BYTES) {
        stele__entry_decode(m, &t->mid_keys[b]);
        t->mid_hashes[b] = t->mid_keys[b].hash;
        t->mid_crcs[b] = stele__get_u32(m + 24);
    }
    const unsigned char *f = raw + bloom_len + mids_len;
    rc = STELE_ECORRUPT;
    if (stele__get_u64(f) != t->count || memcmp(f + 12, footer_magic, 4) != 0) {
        corrupt(t, "bad footer", 0);
        goto fail;
    }

    uint32_t crc = 0;
    rc = verify_entries(t, &crc);
    if (rc != 0)
        goto fail;
    crc = stele__crc32c(crc, raw, (size_t)(bloom_len + mids_len));
    if (crc != stele__get_u32(f + 8)) {
        rc = corrupt(t, "checksum mismatch", 0);
        goto fail;
    }
    stele__free(raw);
    *out = t;
    return 0;

fail:
    stele__free(raw);
    stele__table_close(t);
    return rc;
}

/* Index of the first of keys[0..n) greater than k (upper) or not less than k (!upper). */
static size_t bound(const stele_index_entry_t *keys, size_t n, const stele_index_entry_t *k,
                    bool upper) {
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = stele__entry_cmp(&keys[mid], k);
        if (c < 0 || (upper && c == 0))
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* bound() over the midpoints: first over the dense hash array, then over the full keys of the
 * (usually zero or one) midpoints with the key's hash. */
static size_t bound_mids(const stele__table_t *t, const stele_index_entry_t *k, bool upper) {
    size_t lo = 0, hi = (size_t)t->blocks;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (t->mid_hashes[mid] < k->hash)
            lo = mid + 1;
        else
            hi = mid;
    }
    size_t end = lo;
    while (end < t->blocks && t->mid_hashes[end] == k->hash && end - lo < 8)
        end++;
    if (end < t->blocks && t->mid_hashes[end] == k->hash)
        end = (size_t)t->blocks; /* a long run of one hash: search all of it */
    return lo + bound(t->mid_keys + lo, end - lo, k, upper);
}

int stele__table_lookup(stele__table_t *t, stele__lookup_t *lk) {
    unsigned char raw[STELE__TABLE_MAX_STRIDE * STELE__INDEX_ENTRY_BYTES];
    stele_index_entry_t ents[STELE__TABLE_MAX_STRIDE];
    uint64_t h = lk->hash;
    if (!stele__bloom_may_contain(t->bloom, t->bloom_blocks, h))
        return 0;
    size_t got;
    int rc;
    if (!lk->backward) {
        /* From the block before the first midpoint not below the key, forward. */
        stele_index_entry_t key = {h, lk->from_version, 0};
        size_t lo = bound_mids(t, &key, false);
        for (uint64_t b = lo ? lo - 1 : 0; b < t->blocks; b++) {
            if (b >= lo && t->mid_keys[b].hash != h)
                return 0;
            rc = read_blocks(t, b, 1, raw, ents, &got);
            if (rc != 0)
                return rc;
            size_t start = bound(ents, got, &key, false), end = start;
            while (end < got && ents[end].hash == h)
                end++;
            if (end > start && !stele__lookup_merge(lk, ents + start, end - start))
                return 0;
            if (end < got)
                return 0;
        }
    } else {
        /* From the block of the last midpoint not above the key, backward. */
        stele_index_entry_t key = {h, lk->from_version, UINT64_MAX};
        size_t hi = bound_mids(t, &key, true);
        for (uint64_t b = hi; b-- > 0;) {
            rc = read_blocks(t, b, 1, raw, ents, &got);
            if (rc != 0)
                return rc;
            size_t end = bound(ents, got, &key, true), start = end;
            while (start > 0 && ents[start - 1].hash == h)
                start--;
            for (size_t i = start, j = end; i + 1 < j; i++, j--) {
                stele_index_entry_t tmp = ents[i];
                ents[i] = ents[j - 1];
                ents[j - 1] = tmp;
            }
            if (end > start && !stele__lookup_merge(lk, ents + start, end - start))
                return 0;
            if (start > 0)
                return 0;
        }
    }
    return 0;
}

void stele__table_filter(const stele__table_t *t, const stele__bloom_key_t *keys, size_t n,
                         uint8_t *maybe) {
    for (size_t i = 0; i < n; i++)
        if (!maybe[i])
            __builtin_prefetch(stele__bloom_block(t->bloom, t->bloom_blocks, &keys[i]));
    for (size_t i = 0; i < n; i++)
        if (!maybe[i] && stele__bloom_may_contain_key(t->bloom, t->bloom_blocks, &keys[i]))
            maybe[i] = 1;
}

int stele__table_iter_init(stele__table_iter_t *it, stele__table_t *t) {
    memset(it, 0, sizeof *it);
    it->t = t;
    size_t cap = (size_t)READ_BLOCKS * t->stride;
    it->raw = stele__malloc(cap * STELE__INDEX_ENTRY_BYTES);
    it->entries = stele__malloc(sizeof *it->entries * cap);
    if (!it->raw || !it->entries) {
        stele__table_iter_free(it);
        return stele__fail(STELE_ENOMEM, "index: no memory to read table %s", t->path);
    }
    return 0;
}

int stele__table_iter_next(stele__table_iter_t *it, const stele_index_entry_t **e) {
    if (it->pos == it->len) {
        const stele__table_t *t = it->t;
        if (it->next_block >= t->blocks)
            return 0;
        uint64_t n = t->blocks - it->next_block;
        if (n > READ_BLOCKS)
            n = READ_BLOCKS;
        int rc = read_blocks(t, it->next_block, n, it->raw, it->entries, &it->len);
        if (rc != 0)
            return rc;
        it->next_block += n;
        it->pos = 0;
    }
    *e = &it->entries[it->pos++];
    return 1;
}

void stele__table_iter_free(stele__table_iter_t *it) {
    stele__free(it->raw);
    stele__free(it->entries);
    it->raw = NULL;
    it->entries = NULL;
}
