/*
 * fuzz_snapshot.c -- the stream catalogue's snapshot loader (stele__catalogue_load) on arbitrary
 * "catalogue.snap" content.
 *
 * Input: one mode byte, then the file. With mode bit 0 the last 4 bytes are replaced by the
 * CRC-32C of the rest, so that the fuzzer reaches the entry parser behind the checksum.
 * Checks: no crash, leak or out-of-bounds read; the loader returns 0 (a bad snapshot is dropped,
 * never an error); a rejected snapshot leaves the catalogue empty at position 0; an accepted one
 * holds exactly the streams it lists, each once and findable by its name, with a valid state; and
 * saving it then loading the saved file gives the same streams and position.
 */
#include "fuzz_util.h"

#include "index/index.h"
#include "os/alloc.h"
#include "os/vfs.h"
#include "store/catalogue.h"
#include "util/crc32c.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

static void check_streams(stele_catalogue_t *cat) {
    size_t n = 0;
    for (size_t i = 0; i < cat->cap; i++) {
        stele_stream_t *s = cat->slots[i];
        if (!s)
            continue;
        n++;
        FUZZ_CHECK(s->name_len > 0 && s->name_len <= STELE_MAX_STREAM_NAME_BYTES &&
                       s->name[s->name_len] == 0,
                   "bad name");
        FUZZ_CHECK(s->state <= STELE_STREAM_TOMBSTONED, "bad state %u", s->state);
        FUZZ_CHECK(stele__catalogue_find(cat, s->name, s->name_len, s->hash) == s,
                   "stream \"%s\" not findable, or listed twice", s->name);
        FUZZ_CHECK(s->hash == stele__index_hash(s->name, s->name_len), "hash");
    }
    FUZZ_CHECK(n == cat->count, "count %zu, %zu streams", cat->count, n);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1)
        return 0;
    int64_t live = fuzz_alloc_live();
    size_t len = size - 1;
    uint8_t *file = malloc(len ? len : 1);
    FUZZ_CHECK(file != NULL, "out of memory");
    if (len)
        memcpy(file, data + 1, len);
    if ((data[0] & 1) && len >= 4)
        fuzz_put_u32(file + len - 4, stele__crc32c(0, file, len - 4));
    fuzz_scratch_clean();
    fuzz_write("catalogue.snap", file, len);
    free(file);

    const stele_vfs_t *vfs = stele__vfs_posix();
    const char *dir = fuzz_scratch();
    stele_catalogue_t cat;
    FUZZ_CHECK(stele__catalogue_init(&cat) == 0, "init");
    int rc = stele__catalogue_load(&cat, vfs, dir);
    FUZZ_CHECK(rc == 0, "load returned %d", rc);
    check_streams(&cat);
    if (cat.count == 0 && cat.position == 0) {
        stele__catalogue_free(&cat);
    } else {
        /* Accepted: save and load again; the same streams come back. */
        FUZZ_CHECK(stele__catalogue_save(&cat, vfs, dir) == 0, "save");
        stele_catalogue_t again;
        FUZZ_CHECK(stele__catalogue_init(&again) == 0, "init");
        FUZZ_CHECK(stele__catalogue_load(&again, vfs, dir) == 0, "reload");
        FUZZ_CHECK(again.count == cat.count && again.position == cat.position,
                   "reload: %zu streams at %" PRIu64 ", saved %zu at %" PRIu64, again.count,
                   again.position, cat.count, cat.position);
        for (size_t i = 0; i < cat.cap; i++) {
            stele_stream_t *s = cat.slots[i];
            if (!s)
                continue;
            stele_stream_t *t = stele__catalogue_find(&again, s->name, s->name_len, s->hash);
            FUZZ_CHECK(t && t->state == s->state && t->last_version == s->last_version &&
                           t->first_version == s->first_version &&
                           t->last_position == s->last_position &&
                           (s->metadata ? t->metadata && strcmp(s->metadata, t->metadata) == 0
                                        : !t->metadata),
                       "stream differs after save and load");
        }
        stele__catalogue_free(&again);
        stele__catalogue_free(&cat);
    }
    FUZZ_CHECK(fuzz_alloc_live() == live, "libstele leaked %" PRId64 " allocations",
               fuzz_alloc_live() - live);
    return 0;
}
