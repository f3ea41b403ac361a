/*
 * fuzz_index.c -- opening the stream index (stele__index_open) on a directory holding an
 * arbitrary manifest and table file, then using it.
 *
 * Input: one mode byte, a 16-bit manifest length M, M bytes of MANIFEST, then one table file.
 *   mode & 0x01  make the manifest's CRC valid (so the fuzzer reaches the table list behind it)
 *   mode & 0x02  make the table's header, block and whole-file CRCs valid where its header's
 *                sizes allow (so the fuzzer reaches the entry checks behind them)
 *   mode & 0x04  after open, add three entries after the checkpoint, flush, close and reopen
 * The table file is named after the manifest's first table (sequence 1 when it names none).
 *
 * Checks: open never fails on bad files (they make an empty index, rebuilt from the log) and never
 * crashes, leaks or reads out of bounds; a scan sees only sorted, well-formed entries; a lookup of
 * every scanned hash, forward and backward, returns entries of that hash in version order that the
 * scan also saw; entries added and flushed are there, with the checkpoint, after a reopen.
 */
#include "fuzz_util.h"

#include "index/index.h"
#include "os/alloc.h"
#include "stele.h"
#include "util/crc32c.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_SEEN 4096

typedef struct seen {
    stele_index_entry_t e[MAX_SEEN];
    size_t n;
    bool overflow;
} seen_t;

static int collect(void *arg, const stele_index_entry_t *e) {
    seen_t *s = arg;
    FUZZ_CHECK(e->position != 0, "entry with position 0");
    if (s->n < MAX_SEEN)
        s->e[s->n++] = *e;
    else
        s->overflow = true;
    return 0;
}

static bool seen_has(const seen_t *s, const stele_index_entry_t *e) {
    for (size_t i = 0; i < s->n; i++)
        if (s->e[i].hash == e->hash && s->e[i].version == e->version &&
            s->e[i].position == e->position)
            return true;
    return s->overflow;
}

/* Make the CRCs of a table file valid where its header allows (layout in src/index/table.c). */
static void fix_table(uint8_t *t, size_t len) {
    if (len < 64)
        return;
    uint64_t count = fuzz_u64(t + 16);
    uint32_t stride = fuzz_u32(t + 48), bloom_blocks = fuzz_u32(t + 52);
    fuzz_put_u32(t + 60, stele__crc32c(0, t, 60));
    if (count == 0 || count > len / 24 || stride == 0 || stride > 256 || bloom_blocks > len / 64)
        return;
    uint64_t blocks = (count + stride - 1) / stride;
    uint64_t mids = 64 + count * 24 + (uint64_t)bloom_blocks * 64;
    uint64_t footer = mids + blocks * 32;
    if (footer + 16 != len)
        return;
    for (uint64_t b = 0; b < blocks; b++) {
        uint64_t first = b * stride, n = count - first < stride ? count - first : stride;
        fuzz_put_u32(t + mids + b * 32 + 24,
                     stele__crc32c(0, t + 64 + first * 24, (size_t)(n * 24)));
    }
    fuzz_put_u32(t + footer + 8, stele__crc32c(0, t + 64, (size_t)(footer - 64)));
}

static void check_index(stele_index_t *idx, seen_t *seen) {
    seen->n = 0;
    seen->overflow = false;
    int rc = stele__index_scan(idx, collect, seen);
    if (rc != 0)
        return; /* damage found after open is reported, never returned as entries */
    stele_index_entry_t out[64];
    for (size_t i = 0; i < seen->n && i < 16; i++) {
        uint64_t h = seen->e[i].hash;
        for (int backward = 0; backward < 2; backward++) {
            size_t count = 0;
            rc = stele__index_lookup(idx, h, backward ? UINT64_MAX : 0, backward, out, 64, &count);
            if (rc != 0)
                continue;
            FUZZ_CHECK(count <= 64, "lookup returned %zu", count);
            for (size_t j = 0; j < count; j++) {
                FUZZ_CHECK(out[j].hash == h, "lookup returned another hash");
                FUZZ_CHECK(seen_has(seen, &out[j]), "lookup returned an entry the scan did not");
                if (j > 0)
                    FUZZ_CHECK(backward ? out[j].version <= out[j - 1].version
                                        : out[j].version >= out[j - 1].version,
                               "lookup out of version order");
            }
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 3)
        return 0;
    uint8_t mode = data[0];
    size_t mlen = fuzz_u16(data + 1);
    if (mlen > size - 3)
        mlen = size - 3;
    size_t tlen = size - 3 - mlen;
    uint8_t *manifest = malloc(mlen + 1), *table = malloc(tlen + 1);
    FUZZ_CHECK(manifest && table, "out of memory");
    memcpy(manifest, data + 3, mlen);
    memcpy(table, data + 3 + mlen, tlen);
    if ((mode & 0x01) && mlen >= 4)
        fuzz_put_u32(manifest + mlen - 4, stele__crc32c(0, manifest, mlen - 4));
    if (mode & 0x02)
        fix_table(table, tlen);
    uint64_t seq = mlen >= 40 && fuzz_u32(manifest + 12) > 0 ? fuzz_u64(manifest + 32) : 1;

    int64_t live = fuzz_alloc_live();
    fuzz_scratch_clean();
    fuzz_mkdir("index");
    fuzz_write("index/MANIFEST", manifest, mlen);
    char name[64];
    snprintf(name, sizeof name, "index/table-%016" PRIx64 ".sti", seq);
    fuzz_write(name, table, tlen);
    free(manifest);
    free(table);

    char dir[4200];
    fuzz_path(dir, sizeof dir, "index");
    stele_index_options_t opts = {.memtable_entries = 64, .merge_fanout = 2};
    stele_index_t *idx = NULL;
    int rc = stele__index_open(stele__vfs_posix(), dir, &opts, &idx);
    FUZZ_CHECK(rc == 0, "open failed on bad files: %d %s", rc, stele_errdetail());
    static seen_t seen;
    check_index(idx, &seen);
    uint64_t ckpt = stele__index_checkpoint(idx);
    bool added = false;
    stele_index_entry_t add[3];
    if ((mode & 0x04) && ckpt < UINT64_MAX - 8) {
        for (uint64_t i = 0; i < 3; i++)
            add[i] = (stele_index_entry_t){0x5eed0000u + i, i, ckpt + 1 + i};
        added = stele__index_add(idx, add, 3) == 0 && stele__index_flush(idx) == 0;
        check_index(idx, &seen);
    }
    FUZZ_CHECK(stele__index_close(idx) == 0, "close: %s", stele_errdetail());
    if (added) {
        FUZZ_CHECK(stele__index_open(stele__vfs_posix(), dir, &opts, &idx) == 0, "reopen");
        FUZZ_CHECK(stele__index_checkpoint(idx) == ckpt + 3,
                   "checkpoint %" PRIu64 " after flushing to %" PRIu64,
                   stele__index_checkpoint(idx), ckpt + 3);
        check_index(idx, &seen);
        for (int i = 0; i < 3; i++)
            FUZZ_CHECK(seen_has(&seen, &add[i]), "flushed entry lost after reopen");
        FUZZ_CHECK(stele__index_close(idx) == 0, "close");
    }
    FUZZ_CHECK(fuzz_alloc_live() == live, "libstele leaked %" PRId64 " allocations",
               fuzz_alloc_live() - live);
    return 0;
}
