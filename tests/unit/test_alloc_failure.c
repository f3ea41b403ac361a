/*
 * test_alloc_failure.c -- out of memory at every allocation (invariant 6): for N = 1, 2, ... the
 * Nth allocation and every one after it fail (stele__alloc_fail_at(N, sticky)) around opening a
 * new store, opening an existing one, and one append followed by a read. Each failure must come
 * back as an error (no crash), leave no allocation behind once the store is closed, and leave a
 * store that opens after the failures stop and holds exactly the acknowledged events.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "alloc_hooks.h"
#include "test_util.h"

#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_N 20000

static void disarm(void) { stele__alloc_fail_at(0, 0); }

static void expect_live(int64_t base, const char *what, uint64_t n) {
    int64_t live = stele__alloc_live();
    if (live != base)
        fprintf(stderr, "%s, N=%" PRIu64 ": %" PRId64 " allocations live, %" PRId64 " before\n",
                what, n, live, base);
    assert_true(live == base);
}

/* The ids of the events of stream, in order. */
static size_t stream_ids(stele_store_t *s, const char *stream, stele_uuid_t *ids, size_t max) {
    tu_events_t ev = {0};
    int rc = tu_read_stream(s, stream, 0, STELE_FORWARD, 0, &ev);
    if (rc == STELE_ENOTFOUND)
        return 0;
    assert_int_equal(rc, 0);
    assert_true(ev.n <= max);
    for (size_t i = 0; i < ev.n; i++) {
        assert_int_equal(ev.v[i].version, (int64_t)i);
        ids[i] = ev.v[i].id;
    }
    size_t n = ev.n;
    tu_events_free(&ev);
    return n;
}

static void test_open_new_store(void **state) {
    (void)state;
    char base_dir[PATH_MAX];
    tu_tmpdir(base_dir, sizeof base_dir, "oom-new");
    int64_t base = stele__alloc_live();
    uint64_t n;
    unsigned failures = 0;
    for (n = 1; n < MAX_N; n++) {
        char dir[PATH_MAX];
        tu_join(dir, sizeof dir, base_dir, "s");
        snprintf(dir + strlen(dir), 24, "%" PRIu64, n);
        stele_options_t o;
        tu_options(&o);
        stele_store_t *s = NULL;
        stele__alloc_fail_at(n, 1);
        int rc = stele_store_open(dir, &o, &s);
        disarm();
        if (rc == 0) {
            assert_non_null(s);
            assert_int_equal(stele_store_close(s), 0);
            expect_live(base, "open new (success)", n);
            break;
        }
        failures++;
        assert_true(rc < 0);
        assert_null(s);
        expect_live(base, "open new", n);
        /* Whatever the failed open left, the store can be opened (created) now. */
        s = tu_open(dir);
        assert_int_equal(tu_head(s), 0);
        assert_int_equal(tu_append1(s, "x-1", STELE_EXPECT_NO_STREAM, "T", "{}", NULL), 0);
        assert_int_equal(stele_store_close(s), 0);
        expect_live(base, "open new (after)", n);
        tu_rmtree(dir);
    }
    printf("[ info     ] open of a new store succeeded at N=%" PRIu64 " after %u failures\n", n,
           failures);
    assert_true(n < MAX_N);
    assert_true(failures > 5);
    tu_rmtree(base_dir);
}

static void test_open_existing_store(void **state) {
    (void)state;
    char dir[PATH_MAX];
    tu_tmpdir(dir, sizeof dir, "oom-existing");
    stele_store_t *s = tu_open(dir);
    stele_event_in_t ev[3] = {tu_event("A", "{\"a\":1}"), tu_event("B", "[1,2]"),
                              tu_event("C", "null")};
    for (int i = 0; i < 5; i++) {
        char stream[16];
        snprintf(stream, sizeof stream, "e-%d", i);
        assert_int_equal(stele_append(s, stream, STELE_EXPECT_ANY, ev, 3, NULL), 0);
    }
    assert_int_equal(stele_stream_metadata_set(s, "e-1", "{\"m\":1}"), 0);
    assert_int_equal(stele_stream_delete(s, "e-2", STELE_EXPECT_ANY, false), 0);
    tu_events_t before = {0};
    assert_int_equal(tu_read_all(s, NULL, &before), 0);
    assert_int_equal(stele_store_close(s), 0);
    /* Half of the rounds without the catalogue snapshot, so that open replays the log. */
    int64_t base = stele__alloc_live();
    uint64_t n;
    for (n = 1; n < MAX_N; n++) {
        stele_options_t o;
        tu_options(&o);
        o.flags = 0;
        s = NULL;
        stele__alloc_fail_at(n, 1);
        int rc = stele_store_open(dir, &o, &s);
        disarm();
        if (rc == 0)
            assert_int_equal(stele_store_close(s), 0);
        else
            assert_null(s);
        expect_live(base, "open existing", n);
        s = tu_open(dir);
        tu_events_t after = {0};
        assert_int_equal(tu_read_all(s, NULL, &after), 0);
        assert_true(tu_events_equal(&before, &after));
        tu_events_free(&after);
        char *meta = NULL;
        assert_int_equal(stele_stream_metadata_get(s, "e-1", &meta), 0);
        assert_string_equal(meta, "{\"m\":1}");
        stele_free(meta);
        stele_reader_t *r = NULL;
        assert_int_equal(stele_read_stream(s, "e-2", 0, STELE_FORWARD, 0, &r), STELE_EDELETED);
        assert_int_equal(stele_store_close(s), 0);
        expect_live(base, "open existing (after)", n);
        if (rc == 0)
            break;
        if (n % 2 == 0) {
            char p[PATH_MAX];
            tu_join(p, sizeof p, dir, "catalogue.snap");
            tu_rmtree(p);
        }
    }
    printf("[ info     ] open of an existing store succeeded at N=%" PRIu64 "\n", n);
    assert_true(n < MAX_N);
    tu_events_free(&before);
    tu_rmtree(dir);
}

static void test_append_and_read(void **state) {
    (void)state;
    char dir[PATH_MAX];
    tu_tmpdir(dir, sizeof dir, "oom-append");
    stele_store_t *s = tu_open(dir);
    assert_int_equal(tu_append1(s, "other-1", STELE_EXPECT_ANY, "T", "{}", NULL), 0);
    assert_int_equal(stele_store_close(s), 0);
    stele_uuid_t acked[MAX_N];
    size_t nacked = 0;
    int64_t base = stele__alloc_live();
    uint64_t n;
    unsigned unacked_but_written = 0, poisonings = 0;
    for (n = 1; n < MAX_N; n++) {
        s = tu_open(dir);
        /* A new stream every round: the catalogue insert is on the path too. */
        char stream[32];
        snprintf(stream, sizeof stream, "oom-%" PRIu64, n);
        char meta[64];
        snprintf(meta, sizeof meta, "{\"n\":%" PRIu64 "}", n);
        stele_event_in_t ev = tu_event("Tried", "{\"payload\":[1,2,3],\"s\":\"text\"}");
        ev.metadata = meta;
        ev.metadata_len = strlen(meta);
        stele_uuid_generate(&ev.id);
        stele_append_result_t res;
        stele__alloc_fail_at(n, 1);
        int rc = stele_append(s, "oom-all", STELE_EXPECT_ANY, &ev, 1, &res);
        int rc2 = tu_append1(s, stream, STELE_EXPECT_NO_STREAM, "T", "{}", NULL);
        tu_events_t got = {0};
        int rrc = tu_read_stream(s, "oom-all", 0, STELE_FORWARD, 0, &got);
        disarm();
        assert_true(rc <= 0 && rc2 <= 0 && rrc <= 0);
        if (rc == 0) {
            acked[nacked++] = ev.id;
            assert_int_equal(res.last_version, (int64_t)nacked - 1 + unacked_but_written);
        }
        if (rrc == 0) {
            /* A successful read shows every acknowledged event. */
            assert_true(got.n >= nacked);
        }
        tu_events_free(&got);
        /* A failure after the log write (the index could not follow) poisons the store: the
         * caller was told its events are stored, and further appends are refused until reopen. */
        stele_stats_t st = {.struct_size = sizeof st};
        assert_int_equal(stele_stats(s, &st), 0);
        if (st.poisoned) {
            assert_true(rc != 0 || rc2 != 0);
            assert_int_equal(tu_append1(s, "probe-1", STELE_EXPECT_ANY, "T", "{}", NULL),
                             STELE_EPOISONED);
            tu_assert_detail();
            poisonings++;
        }
        assert_int_equal(stele_store_close(s), 0);
        expect_live(base, "append+read", n);

        /* Reopened, the stream holds exactly the acknowledged events, and those of a failed
         * append only when that failure poisoned the store. */
        s = tu_open(dir);
        stele_uuid_t ids[MAX_N];
        size_t have = stream_ids(s, "oom-all", ids, MAX_N);
        if (rc != 0 && have == nacked + unacked_but_written + 1) {
            assert_true(st.poisoned);
            unacked_but_written++;
        }
        assert_int_equal(have, nacked + unacked_but_written);
        for (size_t i = 0, j = 0; i < have; i++) {
            if (j < nacked && memcmp(ids[i].bytes, acked[j].bytes, 16) == 0)
                j++;
            if (i + 1 == have)
                assert_int_equal(j, nacked);
        }
        stele_stream_info_t info = {.struct_size = sizeof info};
        int irc = stele_stream_info(s, stream, &info);
        if (rc2 == 0)
            assert_int_equal(irc, 0);
        else if (!st.poisoned)
            assert_int_equal(irc, STELE_ENOTFOUND);
        /* The rebuilt index agrees with the log. */
        stele_verify_report_t rep = {.struct_size = sizeof rep};
        assert_int_equal(stele_verify(s, NULL, NULL, &rep), 0);
        assert_int_equal(stele_store_close(s), 0);
        expect_live(base, "append+read (after)", n);
        if (rc == 0 && rc2 == 0 && rrc == 0)
            break;
    }
    printf("[ info     ] append+read succeeded at N=%" PRIu64 " (%zu acknowledged, %u poisoned, "
           "%u written but not acknowledged)\n",
           n, nacked, poisonings, unacked_but_written);
    assert_true(n < MAX_N);
    assert_true(unacked_but_written <= poisonings);
    tu_rmtree(dir);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_open_new_store),
        cmocka_unit_test(test_open_existing_store),
        cmocka_unit_test(test_append_and_read),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
