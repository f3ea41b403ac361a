/*
 * test_store_streams.c -- streams as a user relies on them: info fields, listing with prefix,
 * after and limit (paging and byte order), hidden reserved and deleted streams, metadata set and
 * get, soft delete (hidden, recreated by an append with versions continuing, old versions gone
 * from the stream but kept in $all), tombstones, and all of it after reopening (also without the
 * catalogue snapshot, so that the log replay must rebuild it); metadata under an expected
 * version and closed by a tombstone; the retention keys of metadata (max_count,
 * truncate_before, max_age) hiding events from reads of the stream and subscriptions to it, while
 * $all keeps them.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "test_util.h"

#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Close and reopen; mode 1 also deletes the catalogue snapshot. */
static void reopen(tu_fixture_t *f, int mode) {
    assert_int_equal(stele_store_close(f->s), 0);
    if (mode == 1) {
        char p[PATH_MAX];
        tu_join(p, sizeof p, f->dir, "catalogue.snap");
        assert_true(tu_exists(p));
        tu_rmtree(p);
    }
    f->s = tu_open(f->dir);
}

static void append_n(stele_store_t *s, const char *stream, int n) {
    for (int i = 0; i < n; i++)
        assert_int_equal(tu_append1(s, stream, STELE_EXPECT_ANY, "T", "{}", NULL), 0);
}

/* ---- info -------------------------------------------------------------------------------- */

static void test_info(void **state) {
    tu_fixture_t *f = *state;
    stele_store_t *s = f->s;
    stele_stream_info_t info = {.struct_size = sizeof info};
    assert_int_equal(stele_stream_info(s, "acct-1", &info), STELE_ENOTFOUND);
    tu_assert_detail();
    assert_int_equal(stele_stream_info(s, "", &info), STELE_ENAME);
    append_n(s, "acct-1", 1);
    append_n(s, "other-1", 2);
    append_n(s, "acct-1", 2);
    tu_events_t all = {0};
    assert_int_equal(tu_read_all(s, NULL, &all), 0);
    for (int round = 0; round < 3; round++) {
        const char *name = "acct-1";
        memset(&info, 0x5a, sizeof info);
        info.struct_size = sizeof info;
        assert_int_equal(stele_stream_info(s, name, &info), 0);
        assert_ptr_equal(info.name, name);
        assert_int_equal(info.state, STELE_STREAM_ACTIVE);
        assert_int_equal(info.first_version, 0);
        assert_int_equal(info.last_version, 2);
        assert_int_equal(info.event_count, 3);
        assert_int_equal(info.last_position, 5);
        assert_true(info.created_ns == all.v[0].time_ns);
        assert_true(info.updated_ns == all.v[4].time_ns);
        assert_true(info.created_ns > 0 && info.updated_ns >= info.created_ns);
        assert_int_equal(stele_stream_info(s, "other-1", &info), 0);
        assert_int_equal(info.last_version, 1);
        assert_int_equal(info.last_position, 3);
        assert_true(info.created_ns == all.v[1].time_ns);
        assert_true(info.updated_ns == all.v[2].time_ns);
        reopen(f, round);
        s = f->s;
    }
    tu_events_free(&all);
}

/* ---- listing ----------------------------------------------------------------------------- */

static size_t list_names(stele_store_t *s, const char *prefix, const char *after, size_t limit,
                         bool hidden, char out[][32], size_t max) {
    stele_stream_list_t *l = NULL;
    assert_int_equal(stele_stream_list(s, prefix, after, limit, hidden, &l), 0);
    size_t n = stele_stream_list_count(l);
    assert_true(n <= max);
    for (size_t i = 0; i < n; i++) {
        const stele_stream_info_t *it = stele_stream_list_get(l, i);
        assert_non_null(it);
        snprintf(out[i], 32, "%s", it->name);
        if (i)
            assert_true(strcmp(out[i - 1], out[i]) < 0);
    }
    assert_null(stele_stream_list_get(l, n));
    stele_stream_list_free(l);
    return n;
}

static void expect_list(stele_store_t *s, const char *prefix, const char *after, size_t limit,
                        bool hidden, const char *const *want, size_t nwant) {
    char got[64][32];
    size_t n = list_names(s, prefix, after, limit, hidden, got, 64);
    if (n != nwant) {
        fprintf(stderr, "list prefix=%s after=%s limit=%zu: %zu names, want %zu:", prefix, after,
                limit, n, nwant);
        for (size_t i = 0; i < n; i++)
            fprintf(stderr, " %s", got[i]);
        fprintf(stderr, "\n");
    }
    assert_int_equal(n, nwant);
    for (size_t i = 0; i < n; i++)
        assert_string_equal(got[i], want[i]);
}

static void test_list(void **state) {
    tu_fixture_t *f = *state;
    stele_store_t *s = f->s;
    expect_list(s, NULL, NULL, 0, false, NULL, 0);
    const char *names[] = {"order-10", "order-2", "cust-1", "order-1",  "orders",
                           "Order-9",  "cust-10", "a",      "order-1-x"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        append_n(s, names[i], (int)i + 1);
    /* A failed append and a metadata-only stream do not appear. */
    assert_int_equal(tu_append1(s, "ghost-1", 3, "T", "{}", NULL), STELE_ECONFLICT);
    assert_int_equal(stele_stream_metadata_set(s, "meta-only", "{\"a\":1}"), 0);
    assert_int_equal(stele_stream_metadata_set(s, "cust-1", "{\"b\":2}"), 0);
    const char *sorted[] = {"Order-9",   "a",        "cust-1",  "cust-10", "order-1",
                            "order-1-x", "order-10", "order-2", "orders"};
    for (int round = 0; round < 3; round++) {
        expect_list(s, NULL, NULL, 0, false, sorted, 9);
        expect_list(s, "", NULL, 0, false, sorted, 9);
        expect_list(s, "order-1", NULL, 0, false, sorted + 4, 3);
        expect_list(s, "order", NULL, 0, false, sorted + 4, 5);
        expect_list(s, "order", "order-1-x", 0, false, sorted + 6, 3);
        expect_list(s, "order", "order-1-x", 2, false, sorted + 6, 2);
        expect_list(s, NULL, NULL, 4, false, sorted, 4);
        expect_list(s, NULL, "b", 0, false, sorted + 2, 7);
        expect_list(s, NULL, "zzz", 0, false, NULL, 0);
        expect_list(s, "x", NULL, 0, false, NULL, 0);
        /* Paging with after = the last name of the previous page gives the whole list once. */
        for (size_t page = 1; page <= 4; page++) {
            char got[64][32], all[64][32];
            size_t total = 0, n;
            const char *after = NULL;
            do {
                n = list_names(s, NULL, after, page, false, got, 64);
                for (size_t i = 0; i < n; i++)
                    memcpy(all[total++], got[i], 32);
                after = total ? all[total - 1] : NULL;
            } while (n == page);
            assert_int_equal(total, 9);
            for (size_t i = 0; i < total; i++)
                assert_string_equal(all[i], sorted[i]);
        }
        /* Hidden: the reserved streams of metadata. */
        const char *with_hidden[] = {"$$cust-1", "$$meta-only", "Order-9", "a",
                                     "cust-1",   "cust-10",     "order-1", "order-1-x",
                                     "order-10", "order-2",     "orders"};
        expect_list(s, NULL, NULL, 0, true, with_hidden, 11);
        expect_list(s, "$", NULL, 0, true, with_hidden, 2);
        /* Info in the list matches stele_stream_info. */
        stele_stream_list_t *l = NULL;
        assert_int_equal(stele_stream_list(s, "order-2", NULL, 0, false, &l), 0);
        assert_int_equal(stele_stream_list_count(l), 1);
        const stele_stream_info_t *it = stele_stream_list_get(l, 0);
        stele_stream_info_t info = {.struct_size = sizeof info};
        assert_int_equal(stele_stream_info(s, "order-2", &info), 0);
        assert_int_equal(it->last_version, 1);
        assert_int_equal(it->event_count, 2);
        assert_int_equal(it->last_position, info.last_position);
        assert_true(it->created_ns == info.created_ns);
        assert_true(it->updated_ns == info.updated_ns);
        assert_int_equal(it->state, STELE_STREAM_ACTIVE);
        stele_stream_list_free(l);
        reopen(f, round);
        s = f->s;
    }
    stele_stream_list_free(NULL);
    assert_int_equal(stele_stream_list_count(NULL), 0);
}

/* ---- metadata ---------------------------------------------------------------------------- */

static void expect_meta(stele_store_t *s, const char *stream, const char *want) {
    char *json = NULL;
    assert_int_equal(stele_stream_metadata_get(s, stream, &json), 0);
    assert_non_null(json);
    assert_string_equal(json, want);
    stele_free(json);
}

static void test_metadata(void **state) {
    tu_fixture_t *f = *state;
    stele_store_t *s = f->s;
    char *json = (char *)"untouched";
    assert_int_equal(stele_stream_metadata_get(s, "m-1", &json), STELE_ENOTFOUND);
    assert_null(json);
    append_n(s, "m-1", 2);
    expect_meta(s, "m-1", "{}");
    uint64_t head = tu_head(s);
    const char *bad[] = {"[1]", "{", "1", "\"x\"", "", "{\"a\":1} x"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(stele_stream_metadata_set(s, "m-1", bad[i]), STELE_EJSON);
        tu_assert_detail();
    }
    assert_int_equal(stele_stream_metadata_set(s, "$m", "{}"), STELE_ERESERVED);
    assert_int_equal(stele_stream_metadata_set(s, "", "{}"), STELE_ENAME);
    assert_int_equal(stele_stream_metadata_set(s, "m-1", NULL), STELE_EINVAL);
    assert_int_equal(tu_head(s), head);
    expect_meta(s, "m-1", "{}");
    assert_int_equal(stele_stream_metadata_set(s, "m-1", "{\"max_count\":5,\"owner\":\"ann\"}"), 0);
    assert_int_equal(tu_head(s), head + 1);
    expect_meta(s, "m-1", "{\"max_count\":5,\"owner\":\"ann\"}");
    assert_int_equal(stele_stream_metadata_set(s, "m-1", "{\"max_age\":60}"), 0);
    expect_meta(s, "m-1", "{\"max_age\":60}");
    /* Metadata is not an event of the stream itself; its version is untouched. */
    stele_stream_info_t info = {.struct_size = sizeof info};
    assert_int_equal(stele_stream_info(s, "m-1", &info), 0);
    assert_int_equal(info.last_version, 1);
    /* It is recorded as events of the reserved stream "$$m-1". */
    tu_events_t ev = {0};
    assert_int_equal(tu_read_stream(s, "$$m-1", 0, STELE_FORWARD, 0, &ev), 0);
    assert_int_equal(ev.n, 2);
    assert_string_equal(ev.v[1].type, "$metadata");
    assert_string_equal(ev.v[1].data, "{\"max_age\":60}");
    tu_events_free(&ev);
    /* Metadata may be set before the stream has events. */
    assert_int_equal(stele_stream_metadata_set(s, "later-1", "{\"x\":true}"), 0);
    expect_meta(s, "later-1", "{\"x\":true}");
    assert_int_equal(stele_stream_info(s, "later-1", &info), STELE_ENOTFOUND);
    for (int round = 0; round < 2; round++) {
        reopen(f, round);
        s = f->s;
        expect_meta(s, "m-1", "{\"max_age\":60}");
        expect_meta(s, "later-1", "{\"x\":true}");
    }
    append_n(s, "later-1", 1);
    expect_meta(s, "later-1", "{\"x\":true}");
}

/* ---- deletion ---------------------------------------------------------------------------- */

static void check_soft_deleted_then_recreated(stele_store_t *s) {
    stele_stream_info_t info = {.struct_size = sizeof info};
    assert_int_equal(stele_stream_info(s, "cart-1", &info), 0);
    assert_int_equal(info.state, STELE_STREAM_ACTIVE);
    assert_int_equal(info.first_version, 3);
    assert_int_equal(info.last_version, 4);
    assert_int_equal(info.event_count, 2);
    tu_events_t ev = {0};
    assert_int_equal(tu_read_stream(s, "cart-1", 0, STELE_FORWARD, 0, &ev), 0);
    assert_int_equal(ev.n, 2);
    assert_int_equal(ev.v[0].version, 3);
    assert_int_equal(ev.v[1].version, 4);
    assert_string_equal(ev.v[0].data, "{\"after\":1}");
    tu_events_free(&ev);
    assert_int_equal(tu_read_stream(s, "cart-1", -1, STELE_BACKWARD, 0, &ev), 0);
    assert_int_equal(ev.n, 2);
    assert_int_equal(ev.v[0].version, 4);
    assert_int_equal(ev.v[1].version, 3);
    tu_events_free(&ev);
    assert_int_equal(tu_read_stream(s, "cart-1", 1, STELE_BACKWARD, 0, &ev), 0);
    assert_int_equal(ev.n, 0);
    tu_events_free(&ev);
    /* $all keeps the original events. */
    stele_read_options_t o;
    stele_read_options_init(&o);
    o.filter.stream = "cart-1";
    assert_int_equal(tu_read_all(s, &o, &ev), 0);
    assert_int_equal(ev.n, 5);
    tu_events_free(&ev);
}

static void test_soft_delete(void **state) {
    tu_fixture_t *f = *state;
    stele_store_t *s = f->s;
    assert_int_equal(stele_stream_delete(s, "cart-1", STELE_EXPECT_ANY, false), STELE_ENOTFOUND);
    tu_assert_detail();
    append_n(s, "cart-1", 3);
    append_n(s, "cart-2", 1);
    uint64_t head = tu_head(s);
    assert_int_equal(stele_stream_delete(s, "cart-1", 1, false), STELE_ECONFLICT);
    tu_assert_detail();
    assert_int_equal(stele_stream_delete(s, "$$cart-1", STELE_EXPECT_ANY, false), STELE_ERESERVED);
    assert_int_equal(tu_head(s), head);
    assert_int_equal(stele_stream_delete(s, "cart-1", 2, false), 0);
    assert_int_equal(tu_head(s), head + 1);
    for (int round = 0; round < 3; round++) {
        stele_reader_t *r = NULL;
        assert_int_equal(stele_read_stream(s, "cart-1", 0, STELE_FORWARD, 0, &r), STELE_EDELETED);
        tu_assert_detail();
        assert_null(r);
        stele_stream_info_t info = {.struct_size = sizeof info};
        assert_int_equal(stele_stream_info(s, "cart-1", &info), 0);
        assert_int_equal(info.state, STELE_STREAM_DELETED);
        assert_int_equal(info.last_version, 2);
        assert_int_equal(info.first_version, 3);
        assert_int_equal(info.event_count, 0);
        assert_int_equal(stele_stream_delete(s, "cart-1", STELE_EXPECT_ANY, false), STELE_EDELETED);
        /* Hidden from lists unless asked for. */
        char got[8][32];
        assert_int_equal(list_names(s, "cart", NULL, 0, false, got, 8), 1);
        assert_string_equal(got[0], "cart-2");
        assert_int_equal(list_names(s, "cart", NULL, 0, true, got, 8), 2);
        assert_string_equal(got[0], "cart-1");
        /* "The stream must exist" is not met by a deleted stream. */
        assert_int_equal(tu_append1(s, "cart-1", STELE_EXPECT_STREAM_EXISTS, "T", "{}", NULL),
                         STELE_ECONFLICT);
        reopen(f, round % 2);
        s = f->s;
    }
    /* An append recreates it; versions continue. */
    stele_append_result_t res;
    assert_int_equal(tu_append1(s, "cart-1", STELE_EXPECT_NO_STREAM, "T", "{\"after\":1}", &res),
                     0);
    assert_int_equal(res.first_version, 3);
    assert_int_equal(tu_append1(s, "cart-1", 3, "T", "{\"after\":2}", &res), 0);
    assert_int_equal(res.first_version, 4);
    for (int round = 0; round < 3; round++) {
        check_soft_deleted_then_recreated(s);
        char got[8][32];
        assert_int_equal(list_names(s, "cart", NULL, 0, false, got, 8), 2);
        reopen(f, round % 2);
        s = f->s;
    }
    /* Deleted again, and recreated with "any". */
    assert_int_equal(stele_stream_delete(s, "cart-1", STELE_EXPECT_STREAM_EXISTS, false), 0);
    assert_int_equal(tu_append1(s, "cart-1", STELE_EXPECT_ANY, "T", "{}", &res), 0);
    assert_int_equal(res.first_version, 5);
    stele_stream_info_t info = {.struct_size = sizeof info};
    assert_int_equal(stele_stream_info(s, "cart-1", &info), 0);
    assert_int_equal(info.first_version, 5);
    assert_int_equal(info.event_count, 1);
}

static void test_tombstone(void **state) {
    tu_fixture_t *f = *state;
    stele_store_t *s = f->s;
    append_n(s, "acct-7", 2);
    append_n(s, "acct-8", 1);
    assert_int_equal(stele_stream_delete(s, "acct-8", STELE_EXPECT_ANY, false), 0);
    assert_int_equal(stele_stream_delete(s, "acct-7", STELE_EXPECT_ANY, true), 0);
    /* A soft-deleted stream can still be tombstoned. */
    assert_int_equal(stele_stream_delete(s, "acct-8", STELE_EXPECT_ANY, true), 0);
    for (int round = 0; round < 3; round++) {
        const char *names[] = {"acct-7", "acct-8"};
        for (int k = 0; k < 2; k++) {
            uint64_t head = tu_head(s);
            assert_int_equal(tu_append1(s, names[k], STELE_EXPECT_ANY, "T", "{}", NULL),
                             STELE_ETOMBSTONED);
            tu_assert_detail();
            assert_int_equal(tu_append1(s, names[k], STELE_EXPECT_NO_STREAM, "T", "{}", NULL),
                             STELE_ETOMBSTONED);
            stele_event_in_t ev = tu_event("T", "{}");
            stele_append_part_t parts[2] = {
                {.stream = "fine-1",
                 .expected_version = STELE_EXPECT_ANY,
                 .events = &ev,
                 .count = 1},
                {.stream = names[k],
                 .expected_version = STELE_EXPECT_ANY,
                 .events = &ev,
                 .count = 1},
            };
            size_t failed = 0;
            assert_int_equal(stele_commit(s, parts, 2, &failed), STELE_ETOMBSTONED);
            assert_int_equal(failed, 1);
            assert_int_equal(tu_head(s), head);
            stele_reader_t *r = NULL;
            assert_int_equal(stele_read_stream(s, names[k], 0, STELE_FORWARD, 0, &r),
                             STELE_ETOMBSTONED);
            assert_int_equal(stele_stream_delete(s, names[k], STELE_EXPECT_ANY, false),
                             STELE_ETOMBSTONED);
            assert_int_equal(stele_stream_delete(s, names[k], STELE_EXPECT_ANY, true),
                             STELE_ETOMBSTONED);
            stele_stream_info_t info = {.struct_size = sizeof info};
            assert_int_equal(stele_stream_info(s, names[k], &info), 0);
            assert_int_equal(info.state, STELE_STREAM_TOMBSTONED);
        }
        /* The commit that failed on its tombstoned part wrote nothing of its other part. */
        stele_stream_info_t fine = {.struct_size = sizeof fine};
        assert_int_equal(stele_stream_info(s, "fine-1", &fine), STELE_ENOTFOUND);
        reopen(f, round % 2);
        s = f->s;
    }
}

/* Metadata under optimistic concurrency: the expected version is that of "$$<stream>" (every
 * metadata write, soft delete and tombstone advances it), a mismatch writes nothing and reports
 * the actual version, and a tombstoned stream's metadata cannot change; all of it after reopen. */
static void test_metadata_expect(void **state) {
    tu_fixture_t *f = *state;
    int64_t v = 99;
    assert_int_equal(
        stele_stream_metadata_set_expect(f->s, "mx-1", "{\"a\":1}", STELE_EXPECT_NO_STREAM, &v), 0);
    assert_int_equal(v, 0);
    uint64_t head = tu_head(f->s);
    v = 99;
    assert_int_equal(
        stele_stream_metadata_set_expect(f->s, "mx-1", "{\"a\":2}", STELE_EXPECT_NO_STREAM, &v),
        STELE_ECONFLICT);
    assert_int_equal(v, 0);
    assert_non_null(strstr(stele_errdetail(), "metadata"));
    assert_int_equal(stele_stream_metadata_set_expect(f->s, "mx-1", "{\"a\":2}", 5, &v),
                     STELE_ECONFLICT);
    assert_int_equal(v, 0);
    assert_int_equal(tu_head(f->s), head);
    char *json = NULL;
    assert_int_equal(stele_stream_metadata_get(f->s, "mx-1", &json), 0);
    assert_string_equal(json, "{\"a\":1}");
    stele_free(json);
    assert_int_equal(stele_stream_metadata_set_expect(f->s, "mx-1", "{\"a\":2}", 0, &v), 0);
    assert_int_equal(v, 1);
    assert_int_equal(
        stele_stream_metadata_set_expect(f->s, "mx-1", "{}", STELE_EXPECT_STREAM_EXISTS, NULL), 0);
    assert_int_equal(stele_stream_metadata_set_expect(f->s, "mx-1", "{}", -7, &v), STELE_EINVAL);
    /* The stream's info names the version; a delete advances it. */
    append_n(f->s, "mx-1", 2);
    stele_stream_info_t info = {.struct_size = sizeof info};
    assert_int_equal(stele_stream_info(f->s, "mx-1", &info), 0);
    assert_int_equal(info.metadata_version, 2);
    assert_int_equal(stele_stream_delete(f->s, "mx-1", STELE_EXPECT_ANY, false), 0);
    assert_int_equal(stele_stream_info(f->s, "mx-1", &info), 0);
    assert_int_equal(info.metadata_version, 3);
    append_n(f->s, "plain-1", 1);
    assert_int_equal(stele_stream_info(f->s, "plain-1", &info), 0);
    assert_int_equal(info.metadata_version, -1);
    /* A tombstoned stream's metadata is closed, whatever the expected version. */
    assert_int_equal(stele_stream_delete(f->s, "mx-1", STELE_EXPECT_ANY, true), 0);
    for (int round = 0; round < 2; round++) {
        head = tu_head(f->s);
        assert_int_equal(stele_stream_metadata_set(f->s, "mx-1", "{\"b\":1}"), STELE_ETOMBSTONED);
        assert_non_null(strstr(stele_errdetail(), "tombstoned"));
        assert_int_equal(stele_stream_metadata_set_expect(f->s, "mx-1", "{}", 4, &v),
                         STELE_ETOMBSTONED);
        assert_int_equal(tu_head(f->s), head);
        assert_int_equal(stele_stream_info(f->s, "mx-1", &info), 0);
        assert_int_equal(info.metadata_version, 4);
        reopen(f, round);
    }
}

/* ---- retention --------------------------------------------------------------------------- */

/* The versions of `stream` that a read (forward and backward) and a subscription to the stream
 * deliver must be want[0..n); $all (a read and a subscription, filtered to the stream) keeps every
 * event of it, `total` versions from 0, as KurrentDB's $all does until space is reclaimed. */
static void expect_kept(stele_store_t *s, const char *stream, const int64_t *want, size_t n,
                        size_t total) {
    tu_events_t fwd = {0}, bwd = {0}, all = {0};
    assert_int_equal(tu_read_stream(s, stream, 0, STELE_FORWARD, 0, &fwd), 0);
    assert_int_equal(tu_read_stream(s, stream, -1, STELE_BACKWARD, 0, &bwd), 0);
    stele_read_options_t o;
    stele_read_options_init(&o);
    o.filter.stream = stream;
    assert_int_equal(tu_read_all(s, &o, &all), 0);
    assert_int_equal(fwd.n, n);
    assert_int_equal(bwd.n, n);
    assert_int_equal(all.n, total);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(fwd.v[i].version, want[i]);
        assert_int_equal(bwd.v[n - 1 - i].version, want[i]);
    }
    for (size_t i = 0; i < total; i++)
        assert_int_equal(all.v[i].version, (int64_t)i);
    for (int kind = 0; kind < 2; kind++) {
        stele_subscribe_options_t so;
        stele_subscribe_options_init(&so);
        if (kind == 0)
            so.stream = stream;
        else
            so.filter.stream = stream;
        stele_subscription_t *sub = NULL;
        assert_int_equal(stele_subscribe(s, &so, &sub), 0);
        size_t got = 0;
        stele_event_t ev;
        int rc;
        while ((rc = stele_subscription_next(sub, &ev, 1000)) == 1) {
            if (kind == 0) {
                assert_true(got < n);
                assert_int_equal(ev.version, want[got]);
            } else {
                assert_int_equal(ev.version, (int64_t)got);
            }
            got++;
        }
        assert_int_equal(rc, STELE_SUB_CAUGHT_UP);
        assert_int_equal(got, kind == 0 ? n : total);
        stele_subscription_close(sub);
    }
    tu_events_free(&fwd);
    tu_events_free(&bwd);
    tu_events_free(&all);
}

static void test_retention(void **state) {
    tu_fixture_t *f = *state;
    append_n(f->s, "ret-1", 10);
    append_n(f->s, "other-1", 3);
    int64_t all10[10], last3[3] = {7, 8, 9}, from5[5] = {5, 6, 7, 8, 9}, other3[3] = {0, 1, 2};
    for (int i = 0; i < 10; i++)
        all10[i] = i;
    expect_kept(f->s, "ret-1", all10, 10, 10);

    /* Bad values are refused, naming the key, and change nothing. */
    const char *bad[] = {"{\"max_count\":0}",         "{\"max_count\":-1}",
                         "{\"max_count\":\"5\"}",     "{\"max_age\":1.5}",
                         "{\"truncate_before\":1e3}", "{\"max_count\":99999999999999999999}",
                         "{\"max_age\":0}",           "{\"truncate_before\":true}"};
    uint64_t head = tu_head(f->s);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(stele_stream_metadata_set(f->s, "ret-1", bad[i]), STELE_EINVAL);
        assert_non_null(strstr(stele_errdetail(), strstr(bad[i], "max_count") ? "max_count"
                                                  : strstr(bad[i], "max_age") ? "max_age"
                                                                              : "truncate_before"));
    }
    /* A key is a key however it is escaped: every JSON reader sees max_count here. */
    assert_int_equal(stele_stream_metadata_set(f->s, "ret-1", "{\"max_c\\u006funt\":0}"),
                     STELE_EINVAL);
    assert_non_null(strstr(stele_errdetail(), "max_count"));
    assert_int_equal(tu_head(f->s), head);
    expect_kept(f->s, "ret-1", all10, 10, 10);

    /* max_count keeps the last N, also as the stream grows; other keys are free. */
    assert_int_equal(
        stele_stream_metadata_set(f->s, "ret-1", "{\"owner\":{\"max_count\":1},\"max_count\":3}"),
        0);
    expect_kept(f->s, "ret-1", last3, 3, 10);
    expect_kept(f->s, "other-1", other3, 3, 3);
    for (int mode = 0; mode < 2; mode++) { /* the snapshot, then a replay of the log */
        reopen(f, mode);
        expect_kept(f->s, "ret-1", last3, 3, 10);
    }

    /* truncate_before, then null clears a key. */
    assert_int_equal(stele_stream_metadata_set(f->s, "ret-1", "{\"truncate_before\":5}"), 0);
    expect_kept(f->s, "ret-1", from5, 5, 10);
    assert_int_equal(
        stele_stream_metadata_set(f->s, "ret-1", "{\"truncate_before\":null,\"max_count\":null}"),
        0);
    expect_kept(f->s, "ret-1", all10, 10, 10);

    /* max_age: events older than N seconds are hidden; a new one is seen. */
    struct timespec pause = {1, 100000000};
    nanosleep(&pause, NULL);
    assert_int_equal(stele_stream_metadata_set(f->s, "ret-1", "{\"max_age\":1}"), 0);
    expect_kept(f->s, "ret-1", NULL, 0, 10);
    append_n(f->s, "ret-1", 1);
    int64_t fresh[1] = {10};
    expect_kept(f->s, "ret-1", fresh, 1, 11);
    expect_kept(f->s, "other-1", other3, 3, 3);
    reopen(f, 1);
    expect_kept(f->s, "ret-1", fresh, 1, 11);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_info, tu_store_setup, tu_store_teardown),
        cmocka_unit_test_setup_teardown(test_list, tu_store_setup, tu_store_teardown),
        cmocka_unit_test_setup_teardown(test_metadata, tu_store_setup, tu_store_teardown),
        cmocka_unit_test_setup_teardown(test_soft_delete, tu_store_setup, tu_store_teardown),
        cmocka_unit_test_setup_teardown(test_tombstone, tu_store_setup, tu_store_teardown),
        cmocka_unit_test_setup_teardown(test_metadata_expect, tu_store_setup, tu_store_teardown),
        cmocka_unit_test_setup_teardown(test_retention, tu_store_setup, tu_store_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
