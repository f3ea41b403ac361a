/*
 * test_catalogue_snap.c -- periodic catalogue snapshots: taken while the store runs, so that a
 * store that was never closed cleanly (copied while open, as a crash would leave it) opens by
 * replaying only the log after the snapshot, with the same streams. And the file's name: stores
 * made before it was "catalogue.snap" hold "streams.snap", which must still be read.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "checker.h"
#include "os/vfs.h"
#include "store/catalogue.h"
#include "store/store.h"
#include "test_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define STREAMS 100u
#define BATCH 1000u
#define EVENTS (((uint64_t)1 << 20) + 50000u)

static void test_snapshot_while_running(void **state) {
    (void)state;
    char root[4096], live[4200], copy[4200];
    tu_tmpdir(root, sizeof root, "snapshot");
    snprintf(live, sizeof live, "%s/live", root);
    snprintf(copy, sizeof copy, "%s/copy", root);
    stele_options_t o;
    stele_options_init(&o);
    o.flags = STELE_OPEN_CREATE;
    o.durability = STELE_DURABILITY_NONE;
    stele_store_t *s = NULL;
    assert_int_equal(stele_store_open(live, &o, &s), 0);

    static stele_event_in_t ev[BATCH];
    for (size_t i = 0; i < BATCH; i++)
        ev[i] = tu_event("Ticked", "{\"n\":1}");
    char stream[32];
    for (uint64_t done = 0; done < EVENTS; done += BATCH) {
        snprintf(stream, sizeof stream, "clock-%llu", (unsigned long long)(done / BATCH % STREAMS));
        assert_int_equal(stele_append(s, stream, STELE_EXPECT_ANY, ev, BATCH, NULL), 0);
    }
    stele__catsnap_idle(&s->snap);
    assert_true(s->snap.written >= 1);
    assert_true(s->snap.position >= ((uint64_t)1 << 20));

    /* The store as a crash would leave it: never closed. */
    assert_int_equal(chk_copytree(live, copy), 0);
    stele_store_t *c = NULL;
    assert_int_equal(stele_store_open(copy, &o, &c), 0);
    for (unsigned i = 0; i < STREAMS; i++) {
        stele_stream_info_t a = {.struct_size = sizeof a}, b = {.struct_size = sizeof b};
        snprintf(stream, sizeof stream, "clock-%u", i);
        assert_int_equal(stele_stream_info(s, stream, &a), 0);
        assert_int_equal(stele_stream_info(c, stream, &b), 0);
        assert_int_equal(a.last_version, b.last_version);
        assert_int_equal(a.last_position, b.last_position);
    }
    assert_int_equal(stele_store_close(c), 0);
    assert_int_equal(stele_store_close(s), 0);
    tu_rmtree(root);
}

/* The position the catalogue snapshot of dir says it holds (0: none was read). */
static uint64_t snapshot_position(const char *dir, size_t *streams) {
    stele_catalogue_t cat;
    assert_int_equal(stele__catalogue_init(&cat), 0);
    assert_int_equal(stele__catalogue_load(&cat, stele__vfs_posix(), dir), 0);
    uint64_t pos = cat.position;
    *streams = cat.count;
    stele__catalogue_free(&cat);
    return pos;
}

static void test_older_store_name(void **state) {
    (void)state;
    char dir[4096], snap[4200], old[4200];
    tu_tmpdir(dir, sizeof dir, "snap-name");
    tu_join(snap, sizeof snap, dir, "catalogue.snap");
    tu_join(old, sizeof old, dir, "streams.snap");
    stele_store_t *s = tu_open(dir);
    for (int i = 0; i < 30; i++) {
        char stream[32];
        snprintf(stream, sizeof stream, "named-%d", i % 3);
        assert_int_equal(tu_append1(s, stream, STELE_EXPECT_ANY, "T", "{}", NULL), 0);
    }
    assert_int_equal(stele_stream_metadata_set(s, "named-1", "{\"owner\":\"x\"}"), 0);
    uint64_t head = tu_head(s);
    assert_int_equal(stele_store_close(s), 0);
    /* the snapshot is written under its new name only */
    assert_true(tu_exists(snap));
    assert_false(tu_exists(old));
    size_t streams = 0;
    assert_int_equal(snapshot_position(dir, &streams), head);

    /* A store of an earlier version: the same file under the old name. It is read (not rebuilt
     * from the log: the catalogue loads at its position), the store opens with the same streams,
     * and the next snapshot replaces it with the new name. */
    assert_int_equal(rename(snap, old), 0);
    assert_int_equal(snapshot_position(dir, &streams), head);
    assert_int_equal(streams, 4); /* named-0..2 and the metadata stream $$named-1 */
    s = tu_open(dir);
    stele_stream_info_t info = {.struct_size = sizeof info};
    assert_int_equal(stele_stream_info(s, "named-0", &info), 0);
    assert_int_equal(info.last_version, 9);
    char *meta = NULL;
    assert_int_equal(stele_stream_metadata_get(s, "named-1", &meta), 0);
    assert_non_null(strstr(meta, "owner"));
    stele_free(meta);
    assert_int_equal(tu_append1(s, "named-0", STELE_EXPECT_ANY, "T", "{}", NULL), 0);
    assert_int_equal(stele_store_close(s), 0);
    assert_true(tu_exists(snap));
    assert_false(tu_exists(old)); /* superseded: removed */
    assert_int_equal(snapshot_position(dir, &streams), head + 1);

    /* Both present (a crash between writing the new one and removing the old): the new wins. */
    FILE *f = fopen(old, "wb");
    assert_non_null(f);
    fputs("not a snapshot", f);
    fclose(f);
    assert_int_equal(snapshot_position(dir, &streams), head + 1);
    tu_rmtree(dir);
}

int main(void) {
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_older_store_name),
                                       cmocka_unit_test(test_snapshot_while_running)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
