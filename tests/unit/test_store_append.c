/*
 * test_store_append.c -- appends and commits as a user relies on them: expected versions and
 * conflicts that write nothing, atomic multi-stream commits, idempotent retries and id reuse,
 * every validation error with its code and detail (and nothing written), gap-free positions and
 * non-decreasing times, the head digest, reopening (also without the catalogue snapshot and the
 * index), and eight threads appending to shared and own streams.
 *
 * Random tests print their seed; STELE_TEST_SEED=<n> replays one.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "test_util.h"

#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint64_t stream_count(stele_store_t *s, const char *stream) {
    tu_events_t ev = {0};
    int rc = tu_read_stream(s, stream, 0, STELE_FORWARD, 0, &ev);
    uint64_t n = rc == 0 ? ev.n : 0;
    tu_events_free(&ev);
    return n;
}

static void uuid_n(stele_uuid_t *id, unsigned n) {
    memset(id, 0, sizeof(*id));
    id->bytes[0] = 0x42;
    id->bytes[14] = (uint8_t)(n >> 8);
    id->bytes[15] = (uint8_t)n;
}

/* ---- expected versions ------------------------------------------------------------------- */

static void expect_conflict(stele_store_t *s, const char *stream, int64_t expected,
                            int64_t actual) {
    uint64_t head = tu_head(s);
    stele_append_result_t res;
    memset(&res, 0x7f, sizeof res);
    int rc = tu_append1(s, stream, expected, "Tried", "{\"x\":1}", &res);
    assert_int_equal(rc, STELE_ECONFLICT);
    assert_int_equal(res.actual_version, actual);
    assert_false(res.idempotent);
    tu_assert_detail();
    assert_int_equal(tu_head(s), head);
}

static void test_expected_versions(void **state) {
    tu_fixture_t *f = *state;
    stele_store_t *s = f->s;
    stele_append_result_t res;
    expect_conflict(s, "order-1", STELE_EXPECT_STREAM_EXISTS, -1);
    expect_conflict(s, "order-1", 0, -1);
    expect_conflict(s, "order-1", 5, -1);
    /* A failed append does not make the stream exist. */
    stele_stream_info_t info = {.struct_size = sizeof info};
    assert_int_equal(stele_stream_info(s, "order-1", &info), STELE_ENOTFOUND);
    assert_int_equal(stele_read_stream(s, "order-1", 0, STELE_FORWARD, 0, &(stele_reader_t *){0}),
                     STELE_ENOTFOUND);

    assert_int_equal(tu_append1(s, "order-1", STELE_EXPECT_NO_STREAM, "Placed", "{}", &res), 0);
    assert_int_equal(res.first_version, 0);
    assert_int_equal(res.last_version, 0);
    assert_int_equal(res.first_position, 1);
    assert_int_equal(res.last_position, 1);
    assert_false(res.idempotent);
    expect_conflict(s, "order-1", STELE_EXPECT_NO_STREAM, 0);
    expect_conflict(s, "order-1", 1, 0);
    assert_int_equal(tu_append1(s, "order-1", 0, "Paid", "{}", &res), 0);
    assert_int_equal(res.first_version, 1);
    expect_conflict(s, "order-1", 0, 1);
    assert_int_equal(tu_append1(s, "order-1", STELE_EXPECT_ANY, "Packed", "{}", &res), 0);
    assert_int_equal(res.last_version, 2);
    assert_int_equal(tu_append1(s, "order-1", STELE_EXPECT_STREAM_EXISTS, "Sent", "{}", &res), 0);
    assert_int_equal(res.last_version, 3);
    assert_int_equal(res.last_position, 4);
    assert_int_equal(tu_append1(s, "order-2", STELE_EXPECT_ANY, "Placed", "{}", &res), 0);
    assert_int_equal(res.first_version, 0);
    assert_int_equal(res.first_position, 5);
    /* Not a known expected-version value. */
    uint64_t head = tu_head(s);
    assert_int_equal(tu_append1(s, "order-1", -3, "X", "{}", &res), STELE_EINVAL);
    tu_assert_detail();
    assert_int_equal(tu_append1(s, "order-1", INT64_MIN, "X", "{}", &res), STELE_EINVAL);
    assert_int_equal(tu_head(s), head);
    assert_int_equal(stream_count(s, "order-1"), 4);
    assert_int_equal(stream_count(s, "order-2"), 1);
    /* result may be NULL */
    assert_int_equal(tu_append1(s, "order-2", 0, "Paid", "{}", NULL), 0);
}

/* Refused appends, commits and deletes naming streams never written leave nothing behind: the
 * catalogue (in memory, and saved in snapshots) would otherwise grow with every refused name. */
static void test_refusals_leave_no_stream(void **state) {
    tu_fixture_t *f = *state;
    stele_store_t *s = f->s;
    assert_int_equal(tu_append1(s, "real-1", STELE_EXPECT_ANY, "A", "{}", NULL), 0);
    stele_stats_t before = {.struct_size = sizeof before}, after = {.struct_size = sizeof after};
    assert_int_equal(stele_stats(s, &before), 0);
    char name[32];
    for (int i = 0; i < 200; i++) {
        snprintf(name, sizeof name, "ghost-%d", i);
        expect_conflict(s, name, i % 2 ? STELE_EXPECT_STREAM_EXISTS : 7, -1);
        assert_int_equal(stele_stream_delete(s, name, STELE_EXPECT_ANY, false), STELE_ENOTFOUND);
    }
    /* A commit whose second part conflicts: its new first part is not kept either. */
    stele_event_in_t e[1] = {tu_event("X", "{}")};
    stele_append_part_t parts[2] = {
        {.stream = "ghost-commit",
         .expected_version = STELE_EXPECT_NO_STREAM,
         .events = e,
         .count = 1},
        {.stream = "real-1", .expected_version = 5, .events = e, .count = 1},
    };
    size_t failed = 99;
    assert_int_equal(stele_commit(s, parts, 2, &failed), STELE_ECONFLICT);
    assert_int_equal(failed, 1);
    assert_int_equal(stele_stats(s, &after), 0);
    assert_int_equal(after.streams, before.streams);
    assert_int_equal(after.head_position, before.head_position);
    /* Nor after a reopen (the snapshot), and the names still work as new streams. */
    f->s = s = tu_reopen(s, f->dir);
    assert_int_equal(stele_stats(s, &after), 0);
    assert_int_equal(after.streams, before.streams);
    stele_append_result_t res;
    assert_int_equal(tu_append1(s, "ghost-3", STELE_EXPECT_NO_STREAM, "A", "{}", &res), 0);
    assert_int_equal(res.first_version, 0);
    assert_int_equal(stele_commit(s, parts, 1, &failed), 0);
    assert_int_equal(parts[0].result.first_version, 0);
    assert_int_equal(stele_stats(s, &after), 0);
    assert_int_equal(after.streams, before.streams + 2);
}

static void test_multi_event_append_round_trip(void **state) {
    tu_fixture_t *f = *state;
    stele_store_t *s = f->s;
    static const uint8_t bin[] = {0, 1, 2, 0xff, 'a', 0};
    const char *meta = "{\"actor\":\"ann\",\"correlation_id\":\"c-1\"}";
    stele_event_in_t ev[4];
    ev[0] = tu_event("Opened", "{\"owner\":\"ann\"}");
    ev[1] = tu_event("Deposited", "{\"amount\":10}");
    ev[1].metadata = meta;
    ev[1].metadata_len = strlen(meta);
    uuid_n(&ev[1].id, 7);
    ev[2] = tu_event("Blob", NULL);
    ev[2].data = bin;
    ev[2].data_len = sizeof bin;
    ev[2].flags = STELE_EVENT_BINARY;
    ev[3] = tu_event("Empty", NULL);
    ev[3].data = NULL;
    ev[3].data_len = 0;
    ev[3].flags = STELE_EVENT_BINARY;
    assert_int_equal(tu_append1(s, "other-1", STELE_EXPECT_ANY, "X", "1", NULL), 0);
    stele_append_result_t res;
    assert_int_equal(stele_append(s, "acct-9", STELE_EXPECT_NO_STREAM, ev, 4, &res), 0);
    assert_int_equal(res.first_version, 0);
    assert_int_equal(res.last_version, 3);
    assert_int_equal(res.first_position, 2);
    assert_int_equal(res.last_position, 5);
    tu_events_t got = {0};
    assert_int_equal(tu_read_stream(s, "acct-9", 0, STELE_FORWARD, 0, &got), 0);
    assert_int_equal(got.n, 4);
    for (size_t i = 0; i < 4; i++) {
        assert_int_equal(got.v[i].version, (int64_t)i);
        assert_int_equal(got.v[i].position, 2 + i);
        assert_string_equal(got.v[i].stream, "acct-9");
        assert_string_equal(got.v[i].type, ev[i].type);
        assert_int_equal(got.v[i].data_len, ev[i].data_len);
        if (ev[i].data_len)
            assert_memory_equal(got.v[i].data, ev[i].data, ev[i].data_len);
        assert_int_equal(got.v[i].flags, ev[i].flags);
        assert_false(stele_uuid_is_nil(&got.v[i].id));
        assert_true(got.v[i].time_ns == got.v[0].time_ns); /* one commit, one time */
    }
    assert_null(got.v[0].metadata);
    assert_non_null(got.v[1].metadata);
    assert_int_equal(got.v[1].metadata_len, strlen(meta));
    assert_memory_equal(got.v[1].metadata, meta, strlen(meta));
    stele_uuid_t id7;
    uuid_n(&id7, 7);
    assert_memory_equal(got.v[1].id.bytes, id7.bytes, 16);
    /* Generated ids are distinct. */
    for (size_t i = 0; i < 4; i++)
        for (size_t j = i + 1; j < 4; j++)
            assert_memory_not_equal(got.v[i].id.bytes, got.v[j].id.bytes, 16);
    tu_events_free(&got);
}

/* ---- commits ----------------------------------------------------------------------------- */

static void test_commit_atomic(void **state) {
    tu_fixture_t *f = *state;
    stele_store_t *s = f->s;
    assert_int_equal(tu_append1(s, "b-1", STELE_EXPECT_ANY, "Init", "{}", NULL), 0);
    stele_event_in_t e1[2] = {tu_event("A1", "{}"), tu_event("A2", "{}")};
    stele_event_in_t e2[1] = {tu_event("B1", "{}")};
    stele_event_in_t e3[3] = {tu_event("C1", "{}"), tu_event("C2", "{}"), tu_event("C3", "{}")};
    stele_append_part_t parts[3] = {
        {.stream = "a-1", .expected_version = STELE_EXPECT_NO_STREAM, .events = e1, .count = 2},
        {.stream = "b-1", .expected_version = 0, .events = e2, .count = 1},
        {.stream = "c-1", .expected_version = STELE_EXPECT_ANY, .events = e3, .count = 3},
    };
    size_t failed = 99;
    assert_int_equal(stele_commit(s, parts, 3, &failed), 0);
    assert_int_equal(failed, 3);
    assert_int_equal(parts[0].result.first_position, 2);
    assert_int_equal(parts[0].result.last_position, 3);
    assert_int_equal(parts[1].result.first_version, 1);
    assert_int_equal(parts[1].result.first_position, 4);
    assert_int_equal(parts[2].result.first_position, 5);
    assert_int_equal(parts[2].result.last_position, 7);
    assert_int_equal(parts[2].result.last_version, 2);
    /* All events of one commit share one time. */
    tu_events_t all = {0};
    assert_int_equal(tu_read_all(s, NULL, &all), 0);
    assert_int_equal(all.n, 7);
    for (size_t i = 2; i < 7; i++)
        assert_true(all.v[i].time_ns == all.v[1].time_ns);
    tu_events_free(&all);

    /* The middle part conflicts: nothing of any part is written. */
    uint64_t head = tu_head(s);
    parts[0].expected_version = 1;
    parts[1].expected_version = 0; /* b-1 is at 1 now */
    parts[2].expected_version = 2;
    failed = 99;
    assert_int_equal(stele_commit(s, parts, 3, &failed), STELE_ECONFLICT);
    assert_int_equal(failed, 1);
    assert_int_equal(parts[1].result.actual_version, 1);
    tu_assert_detail();
    assert_int_equal(tu_head(s), head);
    assert_int_equal(stream_count(s, "a-1"), 2);
    assert_int_equal(stream_count(s, "b-1"), 2);
    assert_int_equal(stream_count(s, "c-1"), 3);
    /* The last part conflicts. */
    parts[1].expected_version = 1;
    parts[2].expected_version = STELE_EXPECT_NO_STREAM;
    assert_int_equal(stele_commit(s, parts, 3, &failed), STELE_ECONFLICT);
    assert_int_equal(failed, 2);
    assert_int_equal(parts[2].result.actual_version, 2);
    assert_int_equal(tu_head(s), head);
    /* Validation errors name their part too. */
    parts[2].expected_version = 2;
    parts[1].stream = "a-1";
    assert_int_equal(stele_commit(s, parts, 3, &failed), STELE_EINVAL);
    assert_int_equal(failed, 1);
    tu_assert_detail();
    parts[1].stream = "b-1";
    stele_event_in_t bad = tu_event("", "{}");
    parts[2].events = &bad;
    parts[2].count = 1;
    assert_int_equal(stele_commit(s, parts, 3, &failed), STELE_ETYPE);
    assert_int_equal(failed, 2);
    parts[2].events = e3;
    parts[2].count = 0;
    assert_int_equal(stele_commit(s, parts, 3, &failed), STELE_EEMPTY);
    assert_int_equal(failed, 2);
    assert_int_equal(stele_commit(s, parts, 0, &failed), STELE_EEMPTY);
    assert_int_equal(stele_commit(s, NULL, 0, NULL), STELE_EEMPTY);
    assert_int_equal(tu_head(s), head);
    /* Now all expectations hold. */
    parts[2].count = 3;
    assert_int_equal(stele_commit(s, parts, 3, &failed), 0);
    assert_int_equal(tu_head(s), head + 6);
    /* Too many streams in one commit. */
    stele_append_part_t many[STELE_MAX_COMMIT_STREAMS + 1];
    char names[STELE_MAX_COMMIT_STREAMS + 1][16];
    for (size_t i = 0; i <= STELE_MAX_COMMIT_STREAMS; i++) {
        snprintf(names[i], sizeof names[i], "m-%zu", i);
        many[i] = (stele_append_part_t){
            .stream = names[i], .expected_version = STELE_EXPECT_ANY, .events = e2, .count = 1};
    }
    assert_int_equal(stele_commit(s, many, STELE_MAX_COMMIT_STREAMS + 1, &failed), STELE_ETOOBIG);
    tu_assert_detail();
    assert_int_equal(tu_head(s), head + 6);
    assert_int_equal(stele_commit(s, many, STELE_MAX_COMMIT_STREAMS, &failed), 0);
    assert_int_equal(tu_head(s), head + 6 + STELE_MAX_COMMIT_STREAMS);
}

/* ---- idempotency ------------------------------------------------------------------------- */

static void test_idempotent_retry(void **state) {
    tu_fixture_t *f = *state;
    stele_store_t *s = f->s;
    assert_int_equal(tu_append1(s, "pre-1", STELE_EXPECT_ANY, "X", "{}", NULL), 0);
    stele_event_in_t ev[3] = {tu_event("A", "{\"n\":1}"), tu_event("B", "{\"n\":2}"),
                              tu_event("C", "{\"n\":3}")};
    for (unsigned i = 0; i < 3; i++)
        uuid_n(&ev[i].id, 100 + i);
    stele_append_result_t first, again;
    assert_int_equal(stele_append(s, "pay-1", STELE_EXPECT_NO_STREAM, ev, 3, &first), 0);
    assert_false(first.idempotent);
    uint64_t head = tu_head(s);
    uint8_t h1[32], h2[32];
    uint64_t p1, p2;
    assert_int_equal(stele_head_digest(s, &p1, h1), 0);
    /* The same append again, with each kind of expected version a client might resend. */
    int64_t expects[] = {STELE_EXPECT_NO_STREAM, STELE_EXPECT_ANY, STELE_EXPECT_STREAM_EXISTS};
    for (size_t k = 0; k < 3; k++) {
        memset(&again, 0, sizeof again);
        int rc = stele_append(s, "pay-1", expects[k], ev, 3, &again);
        assert_int_equal(rc, 0);
        assert_true(again.idempotent);
        assert_int_equal(again.first_version, first.first_version);
        assert_int_equal(again.last_version, first.last_version);
        assert_int_equal(again.first_position, first.first_position);
        assert_int_equal(again.last_position, first.last_position);
        assert_int_equal(tu_head(s), head);
    }
    assert_int_equal(stele_head_digest(s, &p2, h2), 0);
    assert_int_equal(p1, p2);
    assert_memory_equal(h1, h2, 32);
    assert_int_equal(stream_count(s, "pay-1"), 3);

    /* Partly the same ids for different events: STELE_EIDREUSE, nothing written. */
    stele_event_in_t mix[3] = {ev[0], ev[1], tu_event("D", "{}")};
    uuid_n(&mix[2].id, 999);
    assert_int_equal(stele_append(s, "pay-1", STELE_EXPECT_NO_STREAM, mix, 3, &again),
                     STELE_EIDREUSE);
    tu_assert_detail();
    assert_int_equal(tu_head(s), head);

    /* Duplicate ids inside one append are refused. */
    stele_event_in_t dup[2] = {tu_event("A", "{}"), tu_event("B", "{}")};
    uuid_n(&dup[0].id, 500);
    uuid_n(&dup[1].id, 500);
    assert_int_equal(stele_append(s, "dup-1", STELE_EXPECT_ANY, dup, 2, &again), STELE_EINVAL);
    tu_assert_detail();
    assert_int_equal(tu_head(s), head);
    assert_int_equal(
        stele_stream_info(s, "dup-1",
                          &(stele_stream_info_t){.struct_size = sizeof(stele_stream_info_t)}),
        STELE_ENOTFOUND);

    /* Idempotency survives a reopen. */
    s = f->s = tu_reopen(s, f->dir);
    memset(&again, 0, sizeof again);
    assert_int_equal(stele_append(s, "pay-1", STELE_EXPECT_NO_STREAM, ev, 3, &again), 0);
    assert_true(again.idempotent);
    assert_int_equal(again.first_position, first.first_position);
    assert_int_equal(again.last_position, first.last_position);
    assert_int_equal(tu_head(s), head);

    /* A retry of an exact-version append whose expected version is now stale. */
    stele_event_in_t nx = tu_event("E", "{}");
    uuid_n(&nx.id, 777);
    stele_append_result_t r1;
    assert_int_equal(stele_append(s, "pay-1", 2, &nx, 1, &r1), 0);
    assert_int_equal(r1.last_version, 3);
    memset(&again, 0, sizeof again);
    assert_int_equal(stele_append(s, "pay-1", 2, &nx, 1, &again), 0);
    assert_true(again.idempotent);
    assert_int_equal(again.first_position, r1.first_position);
    assert_int_equal(tu_head(s), head + 1);

    /* A whole commit retried is idempotent in every part. */
    stele_event_in_t ca = tu_event("CA", "{}"), cb = tu_event("CB", "{}");
    uuid_n(&ca.id, 1001);
    uuid_n(&cb.id, 1002);
    stele_append_part_t parts[2] = {
        {.stream = "ca-1", .expected_version = STELE_EXPECT_NO_STREAM, .events = &ca, .count = 1},
        {.stream = "cb-1", .expected_version = STELE_EXPECT_NO_STREAM, .events = &cb, .count = 1},
    };
    assert_int_equal(stele_commit(s, parts, 2, NULL), 0);
    uint64_t pa = parts[0].result.first_position, pb = parts[1].result.first_position;
    head = tu_head(s);
    assert_int_equal(stele_commit(s, parts, 2, NULL), 0);
    assert_true(parts[0].result.idempotent);
    assert_true(parts[1].result.idempotent);
    assert_int_equal(parts[0].result.first_position, pa);
    assert_int_equal(parts[1].result.first_position, pb);
    assert_int_equal(tu_head(s), head);
}

/* ---- validation -------------------------------------------------------------------------- */

static void expect_invalid(stele_store_t *s, const char *stream, const stele_event_in_t *ev,
                           size_t count, int code, const char *detail_part) {
    uint64_t head = tu_head(s);
    stele_append_result_t res;
    int rc = stele_append(s, stream, STELE_EXPECT_ANY, ev, count, &res);
    if (rc != code)
        fprintf(stderr, "expected %s, got %s (%s)\n", stele_strerror(code), stele_strerror(rc),
                stele_errdetail());
    assert_int_equal(rc, code);
    tu_assert_detail();
    if (detail_part && !strstr(stele_errdetail(), detail_part)) {
        fprintf(stderr, "detail '%s' does not mention '%s'\n", stele_errdetail(), detail_part);
        fail();
    }
    assert_int_equal(tu_head(s), head);
}

static void test_invalid_names(void **state) {
    tu_fixture_t *f = *state;
    stele_store_t *s = f->s;
    stele_event_in_t ev = tu_event("T", "{}");
    static char long_name[STELE_MAX_STREAM_NAME_BYTES + 2];
    memset(long_name, 'n', STELE_MAX_STREAM_NAME_BYTES + 1);
    const char *bad[] = {"",
                         "a\x01"
                         "b",
                         "tab\tname",
                         "del\x7f",
                         "\xff",
                         "a\xc3",
                         "\xc0\x80",
                         "\xed\xa0\x80",
                         "\xf4\x90\x80\x80",
                         "c1\xc2\x85",
                         "nl\n",
                         long_name};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        expect_invalid(s, bad[i], &ev, 1, STELE_ENAME, NULL);
    expect_invalid(s, NULL, &ev, 1, STELE_ENAME, NULL);
    expect_invalid(s, "$system", &ev, 1, STELE_ERESERVED, NULL);
    expect_invalid(s, "$$order-1", &ev, 1, STELE_ERESERVED, NULL);
    /* At the limit, and printable non-ASCII, are fine. */
    long_name[STELE_MAX_STREAM_NAME_BYTES] = 0;
    assert_int_equal(stele_append(s, long_name, STELE_EXPECT_ANY, &ev, 1, NULL), 0);
    assert_int_equal(stream_count(s, long_name), 1);
    assert_int_equal(stele_append(s, "caf\xc3\xa9-\xe2\x82\xac-\xf0\x9f\x98\x80", STELE_EXPECT_ANY,
                                  &ev, 1, NULL),
                     0);
    assert_int_equal(stele_append(s, "a$b", STELE_EXPECT_ANY, &ev, 1, NULL), 0);
}

static void test_invalid_events(void **state) {
    tu_fixture_t *f = *state;
    stele_store_t *s = f->s;
    stele_event_in_t ev[3];
    char long_type[STELE_MAX_TYPE_BYTES + 2];
    memset(long_type, 't', sizeof long_type - 1);
    long_type[sizeof long_type - 1] = 0;
    const char *bad_types[] = {"", long_type, "a\x02", "\xfe", "x\x7f"};
    for (size_t i = 0; i < sizeof bad_types / sizeof bad_types[0]; i++) {
        ev[0] = tu_event("Good", "{}");
        ev[1] = tu_event(bad_types[i], "{}");
        expect_invalid(s, "v-1", ev, 2, STELE_ETYPE, "event 1");
    }
    ev[0] = tu_event(NULL, "{}");
    expect_invalid(s, "v-1", ev, 1, STELE_ETYPE, NULL);
    ev[0] = tu_event("$metadata", "{}");
    expect_invalid(s, "v-1", ev, 1, STELE_ERESERVED, NULL);
    long_type[STELE_MAX_TYPE_BYTES] = 0;
    ev[0] = tu_event(long_type, "{}");
    assert_int_equal(stele_append(s, "v-1", STELE_EXPECT_ANY, ev, 1, NULL), 0);

    /* JSON data and metadata. */
    const char *bad_json[] = {"{", "{\"a\":}", "nope", "{} {}", "[1,]", "\"\xff\"", ""};
    for (size_t i = 0; i < sizeof bad_json / sizeof bad_json[0]; i++) {
        ev[0] = tu_event("A", "{}");
        ev[1] = tu_event("A", "{}");
        ev[2] = tu_event("A", bad_json[i]);
        expect_invalid(s, "v-1", ev, 3, STELE_EJSON, "event 2");
    }
    const char *good_json[] = {"{}", "[]", "1", "\"s\"", "null", " {\"a\" : [1, 2.5e3]} \n"};
    for (size_t i = 0; i < sizeof good_json / sizeof good_json[0]; i++) {
        ev[0] = tu_event("A", good_json[i]);
        assert_int_equal(stele_append(s, "v-1", STELE_EXPECT_ANY, ev, 1, NULL), 0);
    }
    const char *bad_meta[] = {"[1]", "1", "\"s\"", "{", "null"};
    for (size_t i = 0; i < sizeof bad_meta / sizeof bad_meta[0]; i++) {
        ev[0] = tu_event("A", "{}");
        ev[0].metadata = bad_meta[i];
        ev[0].metadata_len = strlen(bad_meta[i]);
        expect_invalid(s, "v-1", ev, 1, STELE_EJSON, "metadata");
    }
    /* Binary data is not checked as JSON. */
    ev[0] = tu_event("Bin", NULL);
    ev[0].data = "{not json";
    ev[0].data_len = 9;
    ev[0].flags = STELE_EVENT_BINARY;
    assert_int_equal(stele_append(s, "v-1", STELE_EXPECT_ANY, ev, 1, NULL), 0);
    /* Unknown flags, NULL pointers with lengths. */
    ev[0].flags = 0x80;
    expect_invalid(s, "v-1", ev, 1, STELE_EINVAL, NULL);
    ev[0] = tu_event("A", "{}");
    ev[0].data = NULL;
    expect_invalid(s, "v-1", ev, 1, STELE_EINVAL, NULL);
    ev[0] = tu_event("A", "{}");
    ev[0].metadata_len = 5;
    expect_invalid(s, "v-1", ev, 1, STELE_EINVAL, NULL);

    /* Sizes. */
    size_t big = STELE_MAX_DATA_BYTES + 1;
    char *blob = malloc(big);
    assert_non_null(blob);
    memset(blob, 'x', big);
    ev[0] = tu_event("Big", NULL);
    ev[0].data = blob;
    ev[0].data_len = big;
    ev[0].flags = STELE_EVENT_BINARY;
    expect_invalid(s, "v-1", ev, 1, STELE_ETOOBIG, NULL);
    ev[0].data_len = STELE_MAX_DATA_BYTES; /* at the limit: fine */
    assert_int_equal(stele_append(s, "big-1", STELE_EXPECT_ANY, ev, 1, NULL), 0);
    tu_events_t got = {0};
    assert_int_equal(tu_read_stream(s, "big-1", 0, STELE_FORWARD, 0, &got), 0);
    assert_int_equal(got.n, 1);
    assert_int_equal(got.v[0].data_len, STELE_MAX_DATA_BYTES);
    assert_memory_equal(got.v[0].data, blob, STELE_MAX_DATA_BYTES);
    tu_events_free(&got);
    /* Five events at the data limit exceed the append limit. */
    stele_event_in_t five[5];
    for (int i = 0; i < 5; i++)
        five[i] = ev[0];
    expect_invalid(s, "big-1", five, 5, STELE_ETOOBIG, NULL);
    char *meta = malloc(STELE_MAX_METADATA_BYTES + 2);
    assert_non_null(meta);
    memset(meta, ' ', STELE_MAX_METADATA_BYTES + 1);
    meta[0] = '{';
    meta[STELE_MAX_METADATA_BYTES] = '}';
    ev[0] = tu_event("A", "{}");
    ev[0].metadata = meta;
    ev[0].metadata_len = STELE_MAX_METADATA_BYTES + 1;
    expect_invalid(s, "v-1", ev, 1, STELE_ETOOBIG, NULL);
    free(meta);
    free(blob);

    /* Empty appends and too many events. */
    expect_invalid(s, "v-1", ev, 0, STELE_EEMPTY, NULL);
    expect_invalid(s, "v-1", NULL, 1, STELE_EEMPTY, NULL);
    size_t n = STELE_MAX_EVENTS_PER_APPEND + 1;
    stele_event_in_t *many = malloc(n * sizeof(*many));
    assert_non_null(many);
    for (size_t i = 0; i < n; i++)
        many[i] = tu_event("M", "1");
    expect_invalid(s, "many-1", many, n, STELE_ETOOBIG, NULL);
    stele_append_result_t res;
    assert_int_equal(stele_append(s, "many-1", STELE_EXPECT_NO_STREAM, many, n - 1, &res), 0);
    assert_int_equal(res.last_version, (int64_t)n - 2);
    assert_int_equal(res.last_position - res.first_position, n - 2);
    free(many);
    assert_int_equal(stream_count(s, "many-1"), STELE_MAX_EVENTS_PER_APPEND);
}

static void test_readonly_and_locked(void **state) {
    tu_fixture_t *f = *state;
    assert_int_equal(tu_append1(f->s, "r-1", STELE_EXPECT_ANY, "A", "{}", NULL), 0);
    stele_options_t o;
    tu_options(&o);
    stele_store_t *second = NULL;
    assert_int_equal(stele_store_open(f->dir, &o, &second), STELE_ELOCKED);
    tu_assert_detail();
    assert_null(second);
    assert_int_equal(stele_store_close(f->s), 0);
    f->s = NULL;
    o.flags = STELE_OPEN_READONLY;
    stele_store_t *ro = NULL;
    assert_int_equal(stele_store_open(f->dir, &o, &ro), 0);
    assert_int_equal(tu_append1(ro, "r-1", STELE_EXPECT_ANY, "A", "{}", NULL), STELE_EREADONLY);
    tu_assert_detail();
    assert_int_equal(stream_count(ro, "r-1"), 1);
    assert_int_equal(stele_stream_metadata_set(ro, "r-1", "{}"), STELE_EREADONLY);
    assert_int_equal(stele_store_close(ro), 0);
    /* A directory that is not a store. */
    char other[PATH_MAX];
    tu_tmpdir(other, sizeof other, "notstore");
    stele_options_init(&o);
    assert_int_equal(stele_store_open(other, &o, &ro), STELE_ENOTSTORE);
    tu_assert_detail();
    o.segment_size_bytes = 1000;
    o.flags = STELE_OPEN_CREATE;
    assert_int_equal(stele_store_open(other, &o, &ro), STELE_EINVAL);
    tu_rmtree(other);
    f->s = tu_open(f->dir);
}

/* ---- positions, times, digest, reopen ---------------------------------------------------- */

/* Random appends of 1..4 events over a few streams. */
static void random_history(stele_store_t *s, tu_rng_t *rng, size_t appends) {
    for (size_t i = 0; i < appends; i++) {
        char stream[32], data[64];
        snprintf(stream, sizeof stream, "%s-%u", tu_rnd_below(rng, 2) ? "order" : "cust",
                 (unsigned)tu_rnd_below(rng, 6));
        size_t n = 1 + tu_rnd_below(rng, 4);
        stele_event_in_t ev[4];
        for (size_t k = 0; k < n; k++) {
            snprintf(data, sizeof data, "{\"i\":%zu,\"k\":%zu}", i, k);
            ev[k] = tu_event(k % 2 ? "Changed" : "Created", NULL);
            ev[k].data = strdup(data);
            ev[k].data_len = strlen(data);
        }
        stele_append_result_t res;
        int rc = stele_append(s, stream, STELE_EXPECT_ANY, ev, n, &res);
        assert_int_equal(rc, 0);
        assert_int_equal(res.last_position - res.first_position + 1, n);
        for (size_t k = 0; k < n; k++)
            free((void *)ev[k].data);
    }
}

static void snapshot_reads(stele_store_t *s, tu_events_t *all, tu_events_t *streams,
                           stele_stream_info_t *infos) {
    assert_int_equal(tu_read_all(s, NULL, all), 0);
    const char *names[] = {"order-0", "order-3", "cust-1", "cust-5"};
    for (size_t i = 0; i < 4; i++) {
        int rc = tu_read_stream(s, names[i], 0, STELE_FORWARD, 0, &streams[i]);
        assert_true(rc == 0 || rc == STELE_ENOTFOUND);
        infos[i].struct_size = sizeof infos[i];
        rc = stele_stream_info(s, names[i], &infos[i]);
        assert_true(rc == 0 || rc == STELE_ENOTFOUND);
        infos[i].name = NULL;
    }
}

static void test_positions_reopen_digest(void **state) {
    tu_fixture_t *f = *state;
    uint64_t seed = tu_seed("test_positions_reopen_digest");
    tu_rng_t rng;
    tu_rng_init(&rng, seed);
    stele_store_t *s = f->s;
    uint8_t prev[32] = {0}, h[32];
    uint64_t pos = 99;
    assert_int_equal(stele_head_digest(s, &pos, h), 0);
    assert_int_equal(pos, 0);
    assert_memory_equal(h, prev, 32); /* empty store: zeros */
    for (int i = 0; i < 20; i++) {
        assert_int_equal(tu_append1(s, "d-1", STELE_EXPECT_ANY, "T", "{}", NULL), 0);
        assert_int_equal(stele_head_digest(s, &pos, h), 0);
        assert_int_equal(pos, (uint64_t)i + 1);
        assert_memory_not_equal(h, prev, 32);
        memcpy(prev, h, 32);
    }
    /* Failed appends leave the digest alone. */
    expect_conflict(s, "d-1", 0, 19);
    assert_int_equal(stele_head_digest(s, &pos, h), 0);
    assert_memory_equal(h, prev, 32);

    random_history(s, &rng, 300);
    tu_events_t all = {0};
    assert_int_equal(tu_read_all(s, NULL, &all), 0);
    assert_int_equal(all.n, tu_head(s));
    /* Positions 1..N, times never decrease, versions gap-free per stream (d-1 aside). */
    for (size_t i = 0; i < all.n; i++) {
        assert_int_equal(all.v[i].position, i + 1);
        if (i)
            assert_true(all.v[i].time_ns >= all.v[i - 1].time_ns);
    }
    tu_events_free(&all);
    uint64_t head_pos;
    uint8_t head_hash[32];
    assert_int_equal(stele_head_digest(s, &head_pos, head_hash), 0);

    tu_events_t a0 = {0}, s0[4] = {{0}};
    stele_stream_info_t i0[4];
    memset(i0, 0, sizeof i0);
    snapshot_reads(s, &a0, s0, i0);

    /* Reopen four ways: plain, without the catalogue snapshot, without the index, without both. */
    for (int mode = 0; mode < 4; mode++) {
        assert_int_equal(stele_store_close(s), 0);
        char p[PATH_MAX];
        if (mode & 1) {
            tu_join(p, sizeof p, f->dir, "catalogue.snap");
            assert_true(tu_exists(p));
            tu_rmtree(p);
        }
        if (mode & 2) {
            tu_join(p, sizeof p, f->dir, "index");
            assert_true(tu_exists(p));
            tu_rmtree(p);
        }
        s = f->s = tu_open(f->dir);
        uint64_t pos2;
        uint8_t hash2[32];
        assert_int_equal(stele_head_digest(s, &pos2, hash2), 0);
        assert_int_equal(pos2, head_pos);
        assert_memory_equal(hash2, head_hash, 32);
        tu_events_t a1 = {0}, s1[4] = {{0}};
        stele_stream_info_t i1[4];
        memset(i1, 0, sizeof i1);
        snapshot_reads(s, &a1, s1, i1);
        assert_true(tu_events_equal(&a0, &a1));
        for (int k = 0; k < 4; k++) {
            assert_true(tu_events_equal(&s0[k], &s1[k]));
            assert_memory_equal(&i0[k], &i1[k], sizeof i0[k]);
            tu_events_free(&s1[k]);
        }
        tu_events_free(&a1);
        /* Appending after the reopen continues positions and versions. */
        stele_append_result_t res;
        assert_int_equal(tu_append1(s, "after-reopen", STELE_EXPECT_ANY, "T", "{}", &res), 0);
        assert_int_equal(res.first_position, head_pos + 1);
        assert_int_equal(res.first_version, mode);
        expect_conflict(s, "d-1", 0, 19);
        head_pos++;
        assert_int_equal(stele_head_digest(s, &pos2, head_hash), 0);
        tu_events_free(&a0);
        for (int k = 0; k < 4; k++)
            tu_events_free(&s0[k]);
        snapshot_reads(s, &a0, s0, i0);
    }
    tu_events_free(&a0);
    for (int k = 0; k < 4; k++)
        tu_events_free(&s0[k]);
}

/* ---- concurrency ------------------------------------------------------------------------- */

#define CT_THREADS 8
#define CT_ROUNDS 120
#define CT_SHARED 3

typedef struct ack {
    char stream[24];
    int64_t version;
    uint64_t position;
    char data[48];
} ack_t;

typedef struct ct_arg {
    stele_store_t *s;
    int thread;
    uint64_t seed;
    ack_t acks[CT_ROUNDS * 2];
    size_t nacks;
    unsigned conflicts;
    int error;
} ct_arg_t;

static void *ct_main(void *p) {
    ct_arg_t *a = p;
    tu_rng_t rng;
    tu_rng_init(&rng, a->seed + (uint64_t)a->thread);
    char own[24];
    snprintf(own, sizeof own, "own-%d", a->thread);
    int64_t own_version = -1;
    for (int i = 0; i < CT_ROUNDS && !a->error; i++) {
        ack_t *k = &a->acks[a->nacks];
        bool shared = tu_rnd_below(&rng, 2) == 0;
        if (shared)
            snprintf(k->stream, sizeof k->stream, "shared-%u",
                     (unsigned)tu_rnd_below(&rng, CT_SHARED));
        else
            snprintf(k->stream, sizeof k->stream, "%s", own);
        snprintf(k->data, sizeof k->data, "{\"t\":%d,\"i\":%d}", a->thread, i);
        stele_event_in_t ev = tu_event("Ct", k->data);
        stele_append_result_t res;
        int rc;
        if (!shared) {
            /* Nobody else writes here: the exact expected version always holds. */
            rc = stele_append(a->s, own, own_version < 0 ? STELE_EXPECT_NO_STREAM : own_version,
                              &ev, 1, &res);
            if (rc == 0)
                own_version = res.last_version;
        } else {
            for (int attempt = 0;; attempt++) {
                stele_stream_info_t info = {.struct_size = sizeof info};
                int64_t expected = STELE_EXPECT_NO_STREAM;
                if (stele_stream_info(a->s, k->stream, &info) == 0)
                    expected = info.last_version;
                rc = stele_append(a->s, k->stream, expected, &ev, 1, &res);
                if (rc != STELE_ECONFLICT || attempt > 1000)
                    break;
                a->conflicts++;
                if (res.actual_version < -1) {
                    a->error = 1;
                    break;
                }
            }
        }
        if (rc != 0) {
            fprintf(stderr, "thread %d: %s (%s)\n", a->thread, stele_strerror(rc),
                    stele_errdetail());
            a->error = rc;
            break;
        }
        k->version = res.last_version;
        k->position = res.last_position;
        a->nacks++;
    }
    return NULL;
}

static void test_concurrent_appenders(void **state) {
    tu_fixture_t *f = *state;
    uint64_t seed = tu_seed("test_concurrent_appenders");
    static ct_arg_t args[CT_THREADS];
    pthread_t th[CT_THREADS];
    for (int t = 0; t < CT_THREADS; t++) {
        memset(&args[t], 0, sizeof args[t]);
        args[t].s = f->s;
        args[t].thread = t;
        args[t].seed = seed;
        assert_int_equal(pthread_create(&th[t], NULL, ct_main, &args[t]), 0);
    }
    size_t total = 0;
    unsigned conflicts = 0;
    for (int t = 0; t < CT_THREADS; t++) {
        pthread_join(th[t], NULL);
        assert_int_equal(args[t].error, 0);
        total += args[t].nacks;
        conflicts += args[t].conflicts;
    }
    printf("[ info     ] %zu appends, %u conflicts retried\n", total, conflicts);
    for (int round = 0; round < 2; round++) {
        stele_store_t *s = f->s;
        assert_int_equal(tu_head(s), total);
        tu_events_t all = {0};
        assert_int_equal(tu_read_all(s, NULL, &all), 0);
        assert_int_equal(all.n, total);
        /* Every acknowledged append is at its position with its stream, version and data. */
        for (int t = 0; t < CT_THREADS; t++) {
            for (size_t i = 0; i < args[t].nacks; i++) {
                const ack_t *k = &args[t].acks[i];
                assert_true(k->position >= 1 && k->position <= total);
                const tu_event_t *e = &all.v[k->position - 1];
                assert_int_equal(e->position, k->position);
                assert_string_equal(e->stream, k->stream);
                assert_int_equal(e->version, k->version);
                assert_string_equal(e->data, k->data);
            }
        }
        /* Per stream: versions 0..n-1 in position order, and info agrees. */
        const char *names[CT_THREADS + CT_SHARED];
        char buf[CT_THREADS + CT_SHARED][24];
        for (int i = 0; i < CT_THREADS + CT_SHARED; i++) {
            if (i < CT_THREADS)
                snprintf(buf[i], sizeof buf[i], "own-%d", i);
            else
                snprintf(buf[i], sizeof buf[i], "shared-%d", i - CT_THREADS);
            names[i] = buf[i];
            tu_events_t st = {0};
            int rc = tu_read_stream(s, names[i], 0, STELE_FORWARD, 0, &st);
            if (rc == STELE_ENOTFOUND)
                continue;
            assert_int_equal(rc, 0);
            for (size_t v = 0; v < st.n; v++) {
                assert_int_equal(st.v[v].version, (int64_t)v);
                if (v)
                    assert_true(st.v[v].position > st.v[v - 1].position);
            }
            stele_stream_info_t info = {.struct_size = sizeof info};
            assert_int_equal(stele_stream_info(s, names[i], &info), 0);
            assert_int_equal(info.last_version, (int64_t)st.n - 1);
            assert_int_equal(info.event_count, st.n);
            tu_events_free(&st);
        }
        tu_events_free(&all);
        f->s = tu_reopen(f->s, f->dir);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_expected_versions, tu_store_setup, tu_store_teardown),
        cmocka_unit_test_setup_teardown(test_refusals_leave_no_stream, tu_store_setup,
                                        tu_store_teardown),
        cmocka_unit_test_setup_teardown(test_multi_event_append_round_trip, tu_store_setup,
                                        tu_store_teardown),
        cmocka_unit_test_setup_teardown(test_commit_atomic, tu_store_setup, tu_store_teardown),
        cmocka_unit_test_setup_teardown(test_idempotent_retry, tu_store_setup, tu_store_teardown),
        cmocka_unit_test_setup_teardown(test_invalid_names, tu_store_setup, tu_store_teardown),
        cmocka_unit_test_setup_teardown(test_invalid_events, tu_store_setup, tu_store_teardown),
        cmocka_unit_test_setup_teardown(test_readonly_and_locked, tu_store_setup,
                                        tu_store_teardown),
        cmocka_unit_test_setup_teardown(test_positions_reopen_digest, tu_store_setup,
                                        tu_store_teardown),
        cmocka_unit_test_setup_teardown(test_concurrent_appenders, tu_store_setup,
                                        tu_store_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
