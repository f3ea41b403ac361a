/*
 * test_snapshot.c -- periodic catalogue snapshots: taken while the store runs, so that a store
 * that was never closed cleanly (copied while open, as a crash would leave it) opens by replaying
 * only the log after the snapshot, with the same streams.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "checker.h"
#include "store/store.h"
#include "test_util.h"

#include <stdio.h>
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
    stele__snapshotter_idle(&s->snap);
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

int main(void) {
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_snapshot_while_running)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
