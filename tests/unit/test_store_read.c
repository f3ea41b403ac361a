/*
 * test_store_read.c -- readers as a user relies on them: one stream forward and backward from any
 * version with limits; $all forward and backward from any position with limits; every filter
 * (checked against a filter applied by the test to the whole log); since/until boundaries exactly;
 * a reader sees what was visible when it was opened; reads across 1 MiB segment rolls; backward
 * reads racing appends; verify on a good and on a damaged store; reindex changes no read.
 *
 * Random tests print their seed; STELE_TEST_SEED=<n> replays one.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "log/record.h"
#include "log/segment.h"
#include "test_util.h"

#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static void sleep_ms(long ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000};
    nanosleep(&ts, NULL);
}

/* Append n events; each one's data names its stream and version. */
static void append_n(stele_store_t *s, const char *stream, const char *type, int n) {
    stele_stream_info_t info = {.struct_size = sizeof info};
    int64_t v = stele_stream_info(s, stream, &info) == 0 ? info.last_version + 1 : 0;
    for (int64_t i = v; i < v + n; i++) {
        char data[64];
        snprintf(data, sizeof data, "{\"s\":\"%s\",\"i\":%" PRId64 "}", stream, i);
        assert_int_equal(tu_append1(s, stream, STELE_EXPECT_ANY, type, data, NULL), 0);
    }
}

/* ---- one stream -------------------------------------------------------------------------- */

static void expect_versions(stele_store_t *s, const char *stream, int64_t from,
                            stele_direction_t dir, uint64_t limit, int64_t first, int64_t count) {
    tu_events_t ev = {0};
    int rc = tu_read_stream(s, stream, from, dir, limit, &ev);
    assert_int_equal(rc, 0);
    if ((int64_t)ev.n != count)
        fprintf(stderr,
                "read %s from %" PRId64 " dir %d limit %" PRIu64 ": %zu events, want %" PRId64 "\n",
                stream, from, (int)dir, limit, ev.n, count);
    assert_int_equal(ev.n, (size_t)count);
    for (size_t i = 0; i < ev.n; i++) {
        int64_t want = dir == STELE_FORWARD ? first + (int64_t)i : first - (int64_t)i;
        assert_int_equal(ev.v[i].version, want);
        assert_string_equal(ev.v[i].stream, stream);
        char data[64];
        snprintf(data, sizeof data, "{\"s\":\"%s\",\"i\":%" PRId64 "}", stream, want);
        assert_string_equal(ev.v[i].data, data);
        if (i)
            assert_true(dir == STELE_FORWARD ? ev.v[i].position > ev.v[i - 1].position
                                             : ev.v[i].position < ev.v[i - 1].position);
    }
    tu_events_free(&ev);
}

static void test_stream_reads(void **state) {
    tu_fixture_t *f = *state;
    stele_store_t *s = f->s;
    /* 150 events (more than one index batch), interleaved with another stream. */
    for (int i = 0; i < 150; i++) {
        char data[64];
        snprintf(data, sizeof data, "{\"s\":\"acct-1\",\"i\":%d}", i);
        assert_int_equal(
            tu_append1(s, "acct-1", i - 1 < 0 ? STELE_EXPECT_NO_STREAM : i - 1, "T", data, NULL),
            0);
        if (i % 3 == 0)
            append_n(s, "acct-10", "U", 1);
    }
    expect_versions(s, "acct-1", 0, STELE_FORWARD, 0, 0, 150);
    expect_versions(s, "acct-1", -7, STELE_FORWARD, 0, 0, 150);
    expect_versions(s, "acct-1", 10, STELE_FORWARD, 5, 10, 5);
    expect_versions(s, "acct-1", 70, STELE_FORWARD, 0, 70, 80);
    expect_versions(s, "acct-1", 149, STELE_FORWARD, 10, 149, 1);
    expect_versions(s, "acct-1", 150, STELE_FORWARD, 0, 150, 0);
    expect_versions(s, "acct-1", 1000, STELE_FORWARD, 0, 0, 0);
    expect_versions(s, "acct-1", -1, STELE_BACKWARD, 0, 149, 150);
    expect_versions(s, "acct-1", 20, STELE_BACKWARD, 3, 20, 3);
    expect_versions(s, "acct-1", 100, STELE_BACKWARD, 0, 100, 101);
    expect_versions(s, "acct-1", 1000, STELE_BACKWARD, 2, 149, 2);
    expect_versions(s, "acct-1", 0, STELE_BACKWARD, 0, 0, 1);
    expect_versions(s, "acct-1", 0, STELE_FORWARD, 1, 0, 1);
    expect_versions(s, "acct-10", 0, STELE_FORWARD, 0, 0, 50);
    expect_versions(s, "acct-10", -1, STELE_BACKWARD, 0, 49, 50);
    /* Errors. */
    stele_reader_t *r = NULL;
    assert_int_equal(stele_read_stream(s, "nope-1", 0, STELE_FORWARD, 0, &r), STELE_ENOTFOUND);
    tu_assert_detail();
    assert_null(r);
    assert_int_equal(stele_read_stream(s, "", 0, STELE_FORWARD, 0, &r), STELE_ENAME);
    assert_int_equal(stele_read_stream(s, "acct-1", 0, (stele_direction_t)7, 0, &r), STELE_EINVAL);
    stele_event_t ev;
    assert_int_equal(stele_reader_next(NULL, &ev), STELE_EINVAL);
    stele_reader_close(NULL);
    /* A reader at its end keeps returning 0. */
    assert_int_equal(stele_read_stream(s, "acct-1", 149, STELE_FORWARD, 0, &r), 0);
    assert_int_equal(stele_reader_next(r, &ev), 1);
    assert_int_equal(stele_reader_next(r, &ev), 0);
    assert_int_equal(stele_reader_next(r, &ev), 0);
    stele_reader_close(r);
}

/* ---- $all -------------------------------------------------------------------------------- */

static void expect_all(stele_store_t *s, uint64_t from, stele_direction_t dir, uint64_t limit,
                       uint64_t first, uint64_t count) {
    stele_read_options_t o;
    stele_read_options_init(&o);
    o.from_position = from;
    o.direction = dir;
    o.limit = limit;
    tu_events_t ev = {0};
    assert_int_equal(tu_read_all(s, &o, &ev), 0);
    if (ev.n != count)
        fprintf(stderr,
                "$all from %" PRIu64 " dir %d limit %" PRIu64 ": %zu events, want %" PRIu64 "\n",
                from, (int)dir, limit, ev.n, count);
    assert_int_equal(ev.n, count);
    for (size_t i = 0; i < ev.n; i++)
        assert_int_equal(ev.v[i].position, dir == STELE_FORWARD ? first + i : first - i);
    tu_events_free(&ev);
}

static void test_all_reads(void **state) {
    tu_fixture_t *f = *state;
    stele_store_t *s = f->s;
    expect_all(s, 0, STELE_FORWARD, 0, 1, 0);
    expect_all(s, 0, STELE_BACKWARD, 0, 0, 0);
    for (int i = 0; i < 100; i++)
        append_n(s, i % 2 ? "odd-1" : "even-1", "T", 1);
    expect_all(s, 0, STELE_FORWARD, 0, 1, 100);
    expect_all(s, 1, STELE_FORWARD, 0, 1, 100);
    expect_all(s, 40, STELE_FORWARD, 0, 40, 61);
    expect_all(s, 40, STELE_FORWARD, 7, 40, 7);
    expect_all(s, 100, STELE_FORWARD, 0, 100, 1);
    expect_all(s, 101, STELE_FORWARD, 0, 0, 0);
    expect_all(s, 0, STELE_BACKWARD, 0, 100, 100);
    expect_all(s, 0, STELE_BACKWARD, 5, 100, 5);
    expect_all(s, 60, STELE_BACKWARD, 0, 60, 60);
    expect_all(s, 60, STELE_BACKWARD, 10, 60, 10);
    expect_all(s, 1, STELE_BACKWARD, 0, 1, 1);
    expect_all(s, 5000, STELE_BACKWARD, 3, 100, 3);
    /* opts NULL is forward from the start. */
    tu_events_t ev = {0};
    assert_int_equal(tu_read_all(s, NULL, &ev), 0);
    assert_int_equal(ev.n, 100);
    tu_events_free(&ev);
    stele_read_options_t o;
    stele_read_options_init(&o);
    o.struct_size = 3;
    stele_reader_t *r = NULL;
    assert_int_equal(stele_read_all(s, &o, &r), STELE_EINVAL);
    stele_read_options_init(&o);
    o.direction = (stele_direction_t)9;
    assert_int_equal(stele_read_all(s, &o, &r), STELE_EINVAL);
}

/* ---- filters ----------------------------------------------------------------------------- */

static bool starts(const char *s, const char *p) { return strncmp(s, p, strlen(p)) == 0; }

/* The filter as stele.h documents it, applied by the test. */
static bool model_match(const stele_filter_t *fl, const tu_event_t *e) {
    if (!fl->include_system && e->stream[0] == '$')
        return false;
    if (fl->stream && strcmp(fl->stream, e->stream) != 0)
        return false;
    if (fl->stream_prefix && !starts(e->stream, fl->stream_prefix))
        return false;
    if (fl->category) {
        const char *dash = strchr(e->stream, '-');
        size_t clen = dash ? (size_t)(dash - e->stream) : strlen(e->stream);
        if (strlen(fl->category) != clen || strncmp(fl->category, e->stream, clen) != 0)
            return false;
    }
    if (fl->type && strcmp(fl->type, e->type) != 0)
        return false;
    if (fl->type_prefix && !starts(e->type, fl->type_prefix))
        return false;
    if (fl->since_ns && e->time_ns < fl->since_ns)
        return false;
    if (fl->until_ns && e->time_ns >= fl->until_ns)
        return false;
    return true;
}

static void check_filter(stele_store_t *s, const tu_events_t *everything, const stele_filter_t *fl,
                         size_t expect_min) {
    for (int dir = 0; dir < 2; dir++) {
        for (uint64_t limit = 0; limit <= 3; limit += 3) {
            stele_read_options_t o;
            stele_read_options_init(&o);
            o.filter = *fl;
            o.direction = (stele_direction_t)dir;
            o.limit = limit;
            tu_events_t got = {0};
            assert_int_equal(tu_read_all(s, &o, &got), 0);
            tu_events_t want = {0};
            for (size_t k = 0; k < everything->n; k++) {
                size_t i = dir == STELE_FORWARD ? k : everything->n - 1 - k;
                if (!model_match(fl, &everything->v[i]))
                    continue;
                if (limit && want.n == limit)
                    break;
                if (want.n == want.cap) {
                    want.cap = want.cap ? want.cap * 2 : 64;
                    want.v = realloc(want.v, want.cap * sizeof(*want.v));
                    assert_non_null(want.v);
                }
                want.v[want.n++] = everything->v[i]; /* shallow: not freed */
            }
            if (!limit && want.n < expect_min)
                fprintf(stderr, "filter matches %zu events, fewer than %zu\n", want.n, expect_min);
            assert_true(limit || want.n >= expect_min);
            assert_int_equal(got.n, want.n);
            for (size_t i = 0; i < got.n; i++)
                assert_int_equal(got.v[i].position, want.v[i].position);
            free(want.v);
            tu_events_free(&got);
        }
    }
}

static void test_filters(void **state) {
    tu_fixture_t *f = *state;
    stele_store_t *s = f->s;
    uint64_t seed = tu_seed("test_filters");
    tu_rng_t rng;
    tu_rng_init(&rng, seed);
    const char *streams[] = {"order-1", "order-22", "orders", "order",
                             "cust-1",  "cust-2-x", "ord-9"};
    const char *types[] = {"OrderPlaced", "OrderPaid", "CustomerCreated", "Order", "X"};
    for (int i = 0; i < 200; i++) {
        const char *st = streams[tu_rnd_below(&rng, 7)];
        const char *ty = types[tu_rnd_below(&rng, 5)];
        assert_int_equal(tu_append1(s, st, STELE_EXPECT_ANY, ty, "{}", NULL), 0);
        if (i % 50 == 0)
            assert_int_equal(stele_stream_metadata_set(s, streams[i / 50], "{\"max_count\":10}"),
                             0);
    }
    assert_int_equal(stele_stream_delete(s, "ord-9", STELE_EXPECT_ANY, false), 0);
    tu_events_t everything = {0};
    stele_read_options_t o;
    stele_read_options_init(&o);
    o.filter.include_system = true;
    assert_int_equal(tu_read_all(s, &o, &everything), 0);
    assert_int_equal(everything.n, tu_head(s));
    size_t system = 0;
    for (size_t i = 0; i < everything.n; i++)
        system += everything.v[i].stream[0] == '$';
    assert_int_equal(system, 5); /* four metadata events and one deletion */

    stele_filter_t fl;
    memset(&fl, 0, sizeof fl);
    check_filter(s, &everything, &fl, 190); /* no system events by default */
    fl.include_system = true;
    check_filter(s, &everything, &fl, 200);
    memset(&fl, 0, sizeof fl);
    fl.type = "Order";
    check_filter(s, &everything, &fl, 1);
    fl.type = NULL;
    fl.type_prefix = "Order";
    check_filter(s, &everything, &fl, 10);
    fl.type_prefix = "$";
    fl.include_system = true;
    check_filter(s, &everything, &fl, 5);
    memset(&fl, 0, sizeof fl);
    fl.category = "order";
    check_filter(s, &everything, &fl, 10);
    fl.category = "cust";
    check_filter(s, &everything, &fl, 10);
    fl.category = "orders";
    check_filter(s, &everything, &fl, 1);
    memset(&fl, 0, sizeof fl);
    fl.stream_prefix = "order";
    check_filter(s, &everything, &fl, 10);
    fl.stream_prefix = "order-2";
    check_filter(s, &everything, &fl, 1);
    memset(&fl, 0, sizeof fl);
    fl.stream = "order";
    check_filter(s, &everything, &fl, 1);
    fl.stream = "cust-2-x";
    fl.type = "X";
    check_filter(s, &everything, &fl, 0);
    memset(&fl, 0, sizeof fl);
    fl.stream = "$$order-1";
    check_filter(s, &everything, &fl, 0);
    fl.include_system = true;
    check_filter(s, &everything, &fl, 1);
    memset(&fl, 0, sizeof fl);
    fl.category = "order";
    fl.type_prefix = "OrderP";
    fl.stream_prefix = "order-";
    check_filter(s, &everything, &fl, 1);
    tu_events_free(&everything);
}

/* ---- time ranges ------------------------------------------------------------------------- */

static void read_range(stele_store_t *s, int64_t since, int64_t until, stele_direction_t dir,
                       tu_events_t *out) {
    stele_read_options_t o;
    stele_read_options_init(&o);
    o.filter.since_ns = since;
    o.filter.until_ns = until;
    o.direction = dir;
    assert_int_equal(tu_read_all(s, &o, out), 0);
}

/* The events in [since, until) by the times the store gave them, and in this order. */
static const tu_events_t *range_model;

static void expect_range(stele_store_t *s, int64_t since, int64_t until) {
    for (int dir = 0; dir < 2; dir++) {
        tu_events_t ev = {0};
        read_range(s, since, until, (stele_direction_t)dir, &ev);
        size_t k = 0;
        for (size_t j = 0; j < range_model->n; j++) {
            size_t i = dir == 0 ? j : range_model->n - 1 - j;
            int64_t t = range_model->v[i].time_ns;
            if ((since && t < since) || (until && t >= until))
                continue;
            assert_true(k < ev.n);
            assert_int_equal(ev.v[k].position, range_model->v[i].position);
            k++;
        }
        if (k != ev.n)
            fprintf(stderr, "range [%" PRId64 ", %" PRId64 ") dir %d: %zu events, want %zu\n",
                    since, until, dir, ev.n, k);
        assert_int_equal(ev.n, k);
        tu_events_free(&ev);
    }
}

/* Read [since, until) and check it is exactly positions first..last (count 0 when last < first). */
static void expect_positions(stele_store_t *s, int64_t since, int64_t until, uint64_t first,
                             uint64_t last) {
    tu_events_t ev = {0};
    read_range(s, since, until, STELE_FORWARD, &ev);
    assert_int_equal(ev.n, last >= first ? last - first + 1 : 0);
    for (size_t i = 0; i < ev.n; i++)
        assert_int_equal(ev.v[i].position, first + i);
    tu_events_free(&ev);
    expect_range(s, since, until);
}

static void test_time_range(void **state) {
    tu_fixture_t *f = *state;
    stele_store_t *s = f->s;
    /* Three phases of 30 events, 30 ms apart. */
    for (int phase = 0; phase < 3; phase++) {
        if (phase)
            sleep_ms(30);
        for (int i = 0; i < 30; i++)
            append_n(s, phase == 1 ? "mid-1" : "edge-1", "T", 1);
    }
    tu_events_t all = {0};
    assert_int_equal(tu_read_all(s, NULL, &all), 0);
    assert_int_equal(all.n, 90);
    int64_t p1_first = all.v[0].time_ns, p1_last = all.v[29].time_ns;
    int64_t p2_first = all.v[30].time_ns, p2_last = all.v[59].time_ns;
    int64_t p3_first = all.v[60].time_ns, p3_last = all.v[89].time_ns;
    assert_true(p2_first - p1_last >= 25000000);
    assert_true(p3_first - p2_last >= 25000000);
    range_model = &all;
    /* The phase boundaries, exactly. */
    expect_positions(s, p2_first, 0, 31, 90);
    expect_positions(s, p1_last + 1, 0, 31, 90);
    expect_positions(s, 0, p2_first, 1, 30);
    expect_positions(s, 0, p1_last + 1, 1, 30);
    expect_positions(s, p2_first, p3_first, 31, 60);
    expect_positions(s, p2_first, p2_last + 1, 31, 60);
    expect_positions(s, p1_first, p3_last + 1, 1, 90);
    expect_positions(s, p3_last + 1, 0, 1, 0);
    expect_positions(s, 0, p1_first, 1, 0);
    expect_positions(s, 1, 0, 1, 90);
    expect_positions(s, p3_first, 0, 61, 90);
    /* Every event's own time as since and until. */
    for (size_t i = 0; i < all.n; i += 3) {
        expect_range(s, all.v[i].time_ns, 0);
        expect_range(s, 0, all.v[i].time_ns);
        expect_range(s, all.v[i].time_ns, all.v[i].time_ns + 1);
        if (all.v[i].time_ns > p1_first)
            expect_range(s, p1_first + 1, all.v[i].time_ns + 1);
    }
    tu_events_free(&all);
    /* until at or before since is an argument error. */
    stele_read_options_t o;
    stele_read_options_init(&o);
    o.filter.since_ns = p2_first;
    o.filter.until_ns = p2_first;
    stele_reader_t *r = NULL;
    assert_int_equal(stele_read_all(s, &o, &r), STELE_EINVAL);
    /* A time range together with a from position and a limit. */
    stele_read_options_init(&o);
    o.filter.since_ns = p2_first;
    o.from_position = 45;
    o.limit = 4;
    tu_events_t ev = {0};
    assert_int_equal(tu_read_all(s, &o, &ev), 0);
    assert_int_equal(ev.n, 4);
    assert_int_equal(ev.v[0].position, 45);
    tu_events_free(&ev);
    o.direction = STELE_BACKWARD;
    o.from_position = 40;
    o.limit = 0;
    assert_int_equal(tu_read_all(s, &o, &ev), 0);
    assert_int_equal(ev.n, 10);
    assert_int_equal(ev.v[0].position, 40);
    assert_int_equal(ev.v[9].position, 31);
    tu_events_free(&ev);
}

/* ---- snapshots --------------------------------------------------------------------------- */

static void test_reader_sees_open_time_snapshot(void **state) {
    tu_fixture_t *f = *state;
    stele_store_t *s = f->s;
    append_n(s, "snap-1", "T", 5);
    stele_reader_t *fwd = NULL, *bwd = NULL, *all = NULL, *allb = NULL;
    assert_int_equal(stele_read_stream(s, "snap-1", 0, STELE_FORWARD, 0, &fwd), 0);
    assert_int_equal(stele_read_stream(s, "snap-1", -1, STELE_BACKWARD, 0, &bwd), 0);
    assert_int_equal(stele_read_all(s, NULL, &all), 0);
    stele_read_options_t o;
    stele_read_options_init(&o);
    o.direction = STELE_BACKWARD;
    assert_int_equal(stele_read_all(s, &o, &allb), 0);
    stele_event_t ev;
    assert_int_equal(stele_reader_next(fwd, &ev), 1); /* started before the appends */
    append_n(s, "snap-1", "T", 5);
    append_n(s, "other-1", "T", 3);
    tu_events_t a = {0}, b = {0}, c = {0}, d = {0};
    assert_int_equal(tu_drain(fwd, &a), 0);
    assert_int_equal(tu_drain(bwd, &b), 0);
    assert_int_equal(tu_drain(all, &c), 0);
    assert_int_equal(tu_drain(allb, &d), 0);
    assert_int_equal(a.n, 4);
    assert_int_equal(a.v[3].version, 4);
    assert_int_equal(b.n, 5);
    assert_int_equal(b.v[0].version, 4);
    assert_int_equal(c.n, 5);
    assert_int_equal(d.n, 5);
    assert_int_equal(d.v[0].position, 5);
    tu_events_free(&a);
    tu_events_free(&b);
    tu_events_free(&c);
    tu_events_free(&d);
    stele_reader_close(fwd);
    stele_reader_close(bwd);
    stele_reader_close(all);
    stele_reader_close(allb);
    expect_versions(s, "snap-1", 0, STELE_FORWARD, 0, 0, 10);
}

/* ---- segment rolls ----------------------------------------------------------------------- */

static void test_reads_across_segments(void **state) {
    tu_fixture_t *f = *state;
    stele_store_t *s = f->s;
    uint64_t seed = tu_seed("test_reads_across_segments");
    tu_rng_t rng;
    tu_rng_init(&rng, seed);
    /* About 5 MiB in 1 MiB segments, events of 1..60 KiB over three streams. */
    size_t total = 0, count = 0;
    char *buf = malloc(64 * 1024);
    assert_non_null(buf);
    while (total < (size_t)5 << 20) {
        size_t n = 1024 + tu_rnd_below(&rng, 60 * 1024);
        int len = snprintf(buf, 64, "{\"n\":%zu,\"pad\":\"", count);
        memset(buf + len, 'a' + (int)(count % 26), n);
        memcpy(buf + (size_t)len + n, "\"}", 3);
        char stream[16];
        snprintf(stream, sizeof stream, "big-%zu", count % 3);
        assert_int_equal(tu_append1(s, stream, STELE_EXPECT_ANY, "Big", buf, NULL), 0);
        total += n;
        count++;
    }
    free(buf);
    stele_stats_t st = {.struct_size = sizeof st};
    assert_int_equal(stele_stats(s, &st), 0);
    assert_true(st.segments >= 5);
    assert_int_equal(st.head_position, count);
    for (int round = 0; round < 2; round++) {
        tu_events_t fw = {0}, bw = {0};
        assert_int_equal(tu_read_all(s, NULL, &fw), 0);
        stele_read_options_t o;
        stele_read_options_init(&o);
        o.direction = STELE_BACKWARD;
        assert_int_equal(tu_read_all(s, &o, &bw), 0);
        assert_int_equal(fw.n, count);
        assert_int_equal(bw.n, count);
        for (size_t i = 0; i < count; i++) {
            assert_int_equal(fw.v[i].position, i + 1);
            const tu_event_t *x = &fw.v[i], *y = &bw.v[count - 1 - i];
            assert_int_equal(x->position, y->position);
            assert_int_equal(x->data_len, y->data_len);
            assert_memory_equal(x->data, y->data, x->data_len);
            char head[32];
            snprintf(head, sizeof head, "{\"n\":%zu,", i);
            assert_true(starts(x->data, head));
        }
        for (int k = 0; k < 3; k++) {
            char stream[16];
            snprintf(stream, sizeof stream, "big-%d", k);
            tu_events_t sf = {0}, sb = {0};
            assert_int_equal(tu_read_stream(s, stream, 0, STELE_FORWARD, 0, &sf), 0);
            assert_int_equal(tu_read_stream(s, stream, -1, STELE_BACKWARD, 0, &sb), 0);
            assert_int_equal(sf.n, sb.n);
            for (size_t i = 0; i < sf.n; i++) {
                assert_int_equal(sf.v[i].position, (uint64_t)(3 * i + (size_t)k + 1));
                assert_int_equal(sb.v[sf.n - 1 - i].position, sf.v[i].position);
                assert_memory_equal(sf.v[i].data, fw.v[sf.v[i].position - 1].data,
                                    sf.v[i].data_len);
            }
            tu_events_free(&sf);
            tu_events_free(&sb);
        }
        /* Reads starting at each segment's edges. */
        for (int k = 0; k < 30; k++) {
            uint64_t from = 1 + tu_rnd_below(&rng, count);
            expect_all(s, from, STELE_FORWARD, 5, from, from + 4 <= count ? 5 : count - from + 1);
            expect_all(s, from, STELE_BACKWARD, 5, from, from >= 5 ? 5 : from);
        }
        tu_events_free(&fw);
        tu_events_free(&bw);
        f->s = s = tu_reopen(s, f->dir);
    }
}

/* ---- reads racing appends ---------------------------------------------------------------- */

typedef struct race {
    stele_store_t *s;
    atomic_int stop;
    int appended;
} race_t;

static void *race_writer(void *p) {
    race_t *r = p;
    for (int i = 0; i < 2000 && !atomic_load(&r->stop); i++) {
        char data[64];
        snprintf(data, sizeof data, "{\"s\":\"race-1\",\"i\":%d}", i + 1);
        if (tu_append1(r->s, "race-1", STELE_EXPECT_ANY, "T", data, NULL) != 0)
            break;
        r->appended++;
    }
    return NULL;
}

/* A reader opened while appends are being published sees a consistent prefix: backward from the
 * end it starts at the newest visible version and has every version down to 0. */
static void test_reads_racing_appends(void **state) {
    tu_fixture_t *f = *state;
    stele_store_t *s = f->s;
    append_n(s, "race-1", "T", 1);
    race_t r = {.s = s};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, race_writer, &r), 0);
    int reads = 0;
    for (; reads < 3000; reads++) {
        tu_events_t ev = {0};
        int dir = reads % 2;
        int rc = tu_read_stream(s, "race-1", dir ? -1 : 0, (stele_direction_t)dir, 0, &ev);
        assert_int_equal(rc, 0);
        if (ev.n == 0)
            fprintf(stderr, "read %d (%s) returned nothing\n", reads, dir ? "backward" : "forward");
        assert_true(ev.n >= 1);
        for (size_t i = 0; i < ev.n; i++) {
            int64_t want = dir ? (int64_t)(ev.n - 1 - i) : (int64_t)i;
            assert_int_equal(ev.v[i].version, want);
        }
        tu_events_free(&ev);
        if (reads > 100 && r.appended >= 1999)
            break;
    }
    atomic_store(&r.stop, 1);
    pthread_join(th, NULL);
}

/* ---- verify and reindex ------------------------------------------------------------------ */

static void read_everything(stele_store_t *s, tu_events_t *all, tu_events_t *streams) {
    stele_read_options_t o;
    stele_read_options_init(&o);
    o.filter.include_system = true;
    assert_int_equal(tu_read_all(s, &o, all), 0);
    const char *names[] = {"v-0", "v-1", "v-2", "v-3"};
    for (int i = 0; i < 4; i++)
        assert_int_equal(tu_read_stream(s, names[i], 0, STELE_FORWARD, 0, &streams[i]), 0);
}

static void test_verify_and_reindex(void **state) {
    tu_fixture_t *f = *state;
    stele_store_t *s = f->s;
    char *pad = malloc(20000);
    assert_non_null(pad);
    for (int i = 0; i < 200; i++) {
        snprintf(pad, 20000, "{\"i\":%d,\"p\":\"%0*d\"}", i, 8000 + (i % 7) * 1000, i);
        char stream[8];
        snprintf(stream, sizeof stream, "v-%d", i % 4);
        assert_int_equal(tu_append1(s, stream, STELE_EXPECT_ANY, "V", pad, NULL), 0);
    }
    free(pad);
    assert_int_equal(stele_stream_metadata_set(s, "v-1", "{\"a\":1}"), 0);
    stele_verify_report_t rep = {.struct_size = sizeof rep};
    assert_int_equal(stele_verify(s, NULL, NULL, &rep), 0);
    assert_int_equal(rep.error, 0);
    assert_int_equal(rep.events, 201);
    assert_int_equal(rep.commits, 201);
    assert_true(rep.segments >= 2);

    tu_events_t a0 = {0}, s0[4] = {{0}};
    read_everything(s, &a0, s0);
    uint64_t p0, p1;
    uint8_t h0[32], h1[32];
    assert_int_equal(stele_head_digest(s, &p0, h0), 0);
    assert_int_equal(stele_reindex(s, NULL, NULL), 0);
    tu_events_t a1 = {0}, s1[4] = {{0}};
    read_everything(s, &a1, s1);
    assert_true(tu_events_equal(&a0, &a1));
    for (int i = 0; i < 4; i++) {
        assert_true(tu_events_equal(&s0[i], &s1[i]));
        tu_events_free(&s1[i]);
    }
    assert_int_equal(stele_head_digest(s, &p1, h1), 0);
    assert_int_equal(p0, p1);
    assert_memory_equal(h0, h1, 32);
    char *meta = NULL;
    assert_int_equal(stele_stream_metadata_get(s, "v-1", &meta), 0);
    assert_string_equal(meta, "{\"a\":1}");
    stele_free(meta);
    assert_int_equal(stele_verify(s, NULL, NULL, &rep), 0);
    /* Appends go on after a reindex. */
    stele_append_result_t res;
    assert_int_equal(tu_append1(s, "v-0", 49, "V", "{}", &res), 0);
    assert_int_equal(res.first_position, 202);
    tu_events_free(&a1);

    /* Damage one data byte of record 20 (in the first, sealed segment) while closed. */
    assert_int_equal(stele_store_close(s), 0);
    f->s = s = NULL;
    char logdir[PATH_MAX];
    tu_join(logdir, sizeof logdir, f->dir, "log");
    size_t nseg = 0;
    char **segs = tu_list(logdir, ".seg", &nseg);
    assert_true(nseg >= 2);
    char path[PATH_MAX];
    tu_join(path, sizeof path, logdir, segs[0]);
    tu_names_free(segs, nseg);
    int fd = open(path, O_RDONLY);
    assert_true(fd >= 0);
    uint64_t off = STELE_SEGMENT_HEADER_BYTES, target = 0;
    uint8_t *rb = malloc(64 * 1024);
    assert_non_null(rb);
    for (;;) {
        assert_true(pread(fd, rb, 64 * 1024, (off_t)off) > 0);
        stele_record_t rec;
        size_t need = 0;
        assert_int_equal(stele__record_decode(rb, 64 * 1024, &rec, &need), 0);
        if (rec.position == 20) {
            target = off + STELE_RECORD_HEADER_BYTES + rec.stream_len + 1 + rec.type_len + 1 +
                     rec.data_len / 2;
            break;
        }
        off += rec.padded_length;
    }
    free(rb);
    close(fd);
    assert_int_equal(tu_flip_bit(path, target, 3), 0);
    s = f->s = tu_open(f->dir);
    rep = (stele_verify_report_t){.struct_size = sizeof rep};
    assert_int_equal(stele_verify(s, NULL, NULL, &rep), STELE_ECORRUPT);
    tu_assert_detail();
    assert_int_equal(rep.error, STELE_ECORRUPT);
    assert_int_equal(rep.bad_position, 20);
    assert_int_equal(rep.bad_segment, 1);
    assert_int_equal(rep.bad_offset, off);
    assert_true(rep.message[0] != 0);
    /* Reads that meet the record fail; they never return its wrong bytes. */
    tu_events_t got = {0};
    assert_int_equal(tu_read_all(s, NULL, &got), STELE_ECORRUPT);
    assert_int_equal(got.n, 19);
    tu_events_free(&got);
    assert_int_equal(tu_read_stream(s, "v-3", 0, STELE_FORWARD, 0, &got), STELE_ECORRUPT);
    assert_int_equal(got.n, 4); /* versions 0..3 at positions 4, 8, 12, 16 */
    tu_events_free(&got);
    /* Events away from the damage are still readable (a seek scans from the nearest sparse
     * index entry, every STELE_SPARSE_STRIDE positions, so records up to the next entry after the
     * damage are not). */
    assert_int_equal(tu_read_stream(s, "v-0", 10, STELE_FORWARD, 0, &got), 0);
    assert_int_equal(got.n, 41);
    assert_int_equal(got.v[0].position, 41);
    tu_events_free(&got);
    stele_read_options_t o;
    stele_read_options_init(&o);
    o.direction = STELE_BACKWARD;
    assert_int_equal(tu_read_all(s, &o, &got), STELE_ECORRUPT);
    assert_true(got.n >= 202 - 2 * STELE_SPARSE_STRIDE);
    assert_true(got.n <= 202 - 20);
    tu_events_free(&got);
    tu_events_free(&a0);
    for (int i = 0; i < 4; i++)
        tu_events_free(&s0[i]);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_stream_reads, tu_store_setup, tu_store_teardown),
        cmocka_unit_test_setup_teardown(test_all_reads, tu_store_setup, tu_store_teardown),
        cmocka_unit_test_setup_teardown(test_filters, tu_store_setup, tu_store_teardown),
        cmocka_unit_test_setup_teardown(test_time_range, tu_store_setup, tu_store_teardown),
        cmocka_unit_test_setup_teardown(test_reader_sees_open_time_snapshot, tu_store_setup,
                                        tu_store_teardown),
        cmocka_unit_test_setup_teardown(test_reads_across_segments, tu_store_setup,
                                        tu_store_teardown),
        cmocka_unit_test_setup_teardown(test_reads_racing_appends, tu_store_setup,
                                        tu_store_teardown),
        cmocka_unit_test_setup_teardown(test_verify_and_reindex, tu_store_setup, tu_store_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
