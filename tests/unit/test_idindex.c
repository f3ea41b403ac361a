/*
 * test_idindex.c -- exact idempotency by event id, whatever the expected version: a retry is
 * answered with its first result and writes nothing, an id used for another event (other stream,
 * type, data, metadata or flags) or a partial retry is STELE_EIDREUSE naming the id, an id given
 * twice in one append, one commit or one group-commit batch is caught; an event is found by its
 * id (stele_event_by_id); all of it after a reopen, with the event-id index deleted, and after a
 * reindex. A randomized run interleaves retries under every expected-version kind with other
 * appends and deletes.
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
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void uuid_n(stele_uuid_t *id, uint64_t n) {
    memset(id, 0, sizeof(*id));
    id->bytes[0] = 0x17;
    for (int i = 0; i < 8; i++)
        id->bytes[15 - i] = (uint8_t)(n >> (8 * i));
    id->bytes[6] = 0x40;
    id->bytes[8] = 0x80;
}

static uint64_t stream_count(stele_store_t *s, const char *stream) {
    tu_events_t ev = {0};
    int rc = tu_read_stream(s, stream, 0, STELE_FORWARD, 0, &ev);
    uint64_t n = rc == 0 ? ev.n : 0;
    tu_events_free(&ev);
    return n;
}

static void assert_same_result(const stele_append_result_t *a, const stele_append_result_t *b) {
    assert_int_equal(a->first_version, b->first_version);
    assert_int_equal(a->last_version, b->last_version);
    assert_int_equal(a->first_position, b->first_position);
    assert_int_equal(a->last_position, b->last_position);
}

/* The detail of the last error names this id. */
static void assert_detail_names(const stele_uuid_t *id) {
    char text[37];
    stele_uuid_format(id, text);
    if (!strstr(stele_errdetail(), text))
        fail_msg("detail \"%s\" does not name %s", stele_errdetail(), text);
}

/* ---- the reproduction, under every expected-version kind -------------------------- */

static void test_retry_after_other_appends(void **state) {
    tu_fixture_t *f = *state;
    stele_store_t *s = f->s;
    const int64_t kinds[] = {STELE_EXPECT_ANY, STELE_EXPECT_STREAM_EXISTS, 0,
                             STELE_EXPECT_NO_STREAM};
    for (size_t k = 0; k < 4; k++) {
        char stream[32];
        snprintf(stream, sizeof stream, "order-%zu", k);
        if (kinds[k] != STELE_EXPECT_NO_STREAM)
            assert_int_equal(tu_append1(s, stream, STELE_EXPECT_ANY, "Opened", "{}", NULL), 0);
        stele_event_in_t placed = tu_event("OrderPlaced", "{\"total\":5}");
        uuid_n(&placed.id, 0x1111 + k);
        stele_append_result_t first, again;
        assert_int_equal(stele_append(s, stream, kinds[k], &placed, 1, &first), 0);
        assert_false(first.idempotent);
        /* Another append, then the same append again (the client never saw the first answer). */
        assert_int_equal(tu_append1(s, stream, STELE_EXPECT_ANY, "OrderPaid", "{}", NULL), 0);
        uint64_t head = tu_head(s);
        memset(&again, 0, sizeof again);
        assert_int_equal(stele_append(s, stream, kinds[k], &placed, 1, &again), 0);
        assert_true(again.idempotent);
        assert_same_result(&again, &first);
        assert_int_equal(tu_head(s), head);
        /* ... and with every other kind too. */
        for (size_t j = 0; j < 4; j++) {
            memset(&again, 0, sizeof again);
            assert_int_equal(
                stele_append(s, stream, kinds[j] == 0 ? 7 : kinds[j], &placed, 1, &again), 0);
            assert_true(again.idempotent);
            assert_same_result(&again, &first);
        }
        assert_int_equal(tu_head(s), head);
        assert_int_equal(stream_count(s, stream), kinds[k] == STELE_EXPECT_NO_STREAM ? 2 : 3);
    }
    /* A retry after the stream was deleted, and after it was tombstoned: still the first result. */
    stele_event_in_t e = tu_event("Late", "{}");
    uuid_n(&e.id, 0x2222);
    stele_append_result_t first, again;
    assert_int_equal(stele_append(s, "gone-1", STELE_EXPECT_ANY, &e, 1, &first), 0);
    assert_int_equal(stele_stream_delete(s, "gone-1", STELE_EXPECT_ANY, false), 0);
    assert_int_equal(stele_append(s, "gone-1", STELE_EXPECT_STREAM_EXISTS, &e, 1, &again), 0);
    assert_true(again.idempotent);
    assert_same_result(&again, &first);
    assert_int_equal(stele_stream_delete(s, "gone-1", STELE_EXPECT_ANY, true), 0);
    assert_int_equal(stele_append(s, "gone-1", STELE_EXPECT_ANY, &e, 1, &again), 0);
    assert_true(again.idempotent);
    assert_same_result(&again, &first);
}

/* ---- an id used for anything else ----------------------------------------------------------- */

static void test_reuse_refused(void **state) {
    tu_fixture_t *f = *state;
    stele_store_t *s = f->s;
    const char meta[] = "{\"actor\":\"ann\"}";
    stele_event_in_t orig = tu_event("Paid", "{\"amount\":10}");
    orig.metadata = meta;
    orig.metadata_len = strlen(meta);
    uuid_n(&orig.id, 42);
    stele_append_result_t first, res;
    assert_int_equal(stele_append(s, "pay-1", STELE_EXPECT_NO_STREAM, &orig, 1, &first), 0);
    uint64_t head = tu_head(s);

    const char meta2[] = "{\"actor\":\"bob\"}";
    stele_event_in_t v[5];
    for (int i = 0; i < 5; i++)
        v[i] = orig;
    v[0].type = "Refunded";
    v[1].data = "{\"amount\":11}";
    v[1].data_len = strlen("{\"amount\":11}");
    v[2].metadata = meta2;
    v[2].metadata_len = strlen(meta2);
    v[3].metadata = NULL;
    v[3].metadata_len = 0;
    v[4].flags = STELE_EVENT_BINARY;
    const char *what[5] = {"type", "data", "metadata", "metadata", "data"};
    for (int i = 0; i < 5; i++) {
        int64_t kinds[] = {STELE_EXPECT_ANY, 0, STELE_EXPECT_NO_STREAM};
        for (int k = 0; k < 3; k++) {
            int rc = stele_append(s, "pay-1", kinds[k], &v[i], 1, &res);
            assert_int_equal(rc, STELE_EIDREUSE);
            assert_detail_names(&orig.id);
            assert_non_null(strstr(stele_errdetail(), what[i]));
            assert_false(res.idempotent);
        }
    }
    /* The same event in another stream. */
    assert_int_equal(stele_append(s, "pay-2", STELE_EXPECT_ANY, &orig, 1, &res), STELE_EIDREUSE);
    assert_detail_names(&orig.id);
    assert_non_null(strstr(stele_errdetail(), "stream"));
    assert_int_equal(
        stele_stream_info(s, "pay-2",
                          &(stele_stream_info_t){.struct_size = sizeof(stele_stream_info_t)}),
        STELE_ENOTFOUND);
    /* Nothing was written by any of them, and the original is intact. */
    assert_int_equal(tu_head(s), head);
    stele_reader_t *r = NULL;
    assert_int_equal(stele_event_by_id(s, &orig.id, &r), 0);
    tu_events_t got = {0};
    assert_int_equal(tu_drain(r, &got), 0);
    stele_reader_close(r);
    assert_int_equal(got.n, 1);
    assert_string_equal(got.v[0].type, "Paid");
    assert_string_equal(got.v[0].data, "{\"amount\":10}");
    assert_string_equal(got.v[0].metadata, meta);
    tu_events_free(&got);
}

/* ---- partial retries and ids repeated in one append, commit or batch ----------------------- */

static void test_partial_and_repeated(void **state) {
    tu_fixture_t *f = *state;
    stele_store_t *s = f->s;
    stele_event_in_t ab[3] = {tu_event("A", "{}"), tu_event("B", "{}"), tu_event("C", "{}")};
    for (int i = 0; i < 3; i++)
        uuid_n(&ab[i].id, 100 + (uint64_t)i);
    stele_append_result_t first, res;
    assert_int_equal(stele_append(s, "p-1", STELE_EXPECT_ANY, ab, 2, &first), 0);
    assert_int_equal(tu_append1(s, "p-1", STELE_EXPECT_ANY, "Other", "{}", NULL), 0);
    uint64_t head = tu_head(s);
    /* Some ids seen, some not: a retry must repeat the whole append. */
    assert_int_equal(stele_append(s, "p-1", STELE_EXPECT_ANY, ab, 3, &res), STELE_EIDREUSE);
    assert_detail_names(&ab[0].id);
    stele_event_in_t an[2] = {ab[0], tu_event("N", "{}")}; /* N: no id, the store makes one */
    assert_int_equal(stele_append(s, "p-1", STELE_EXPECT_ANY, an, 2, &res), STELE_EIDREUSE);
    assert_non_null(strstr(stele_errdetail(), "without an id"));
    /* The seen ids in another order. */
    stele_event_in_t ba[2] = {ab[1], ab[0]};
    assert_int_equal(stele_append(s, "p-1", STELE_EXPECT_ANY, ba, 2, &res), STELE_EIDREUSE);
    assert_int_equal(tu_head(s), head);
    /* A leading part of the append is a retry of that part: its own versions and positions. */
    assert_int_equal(stele_append(s, "p-1", STELE_EXPECT_ANY, ab, 1, &res), 0);
    assert_true(res.idempotent);
    assert_int_equal(res.first_position, first.first_position);
    assert_int_equal(res.last_position, first.first_position);

    /* One id twice in one append, or in two parts of one commit: refused, nothing written. */
    stele_event_in_t dup[2] = {tu_event("D1", "{}"), tu_event("D2", "{}")};
    uuid_n(&dup[0].id, 500);
    dup[1].id = dup[0].id;
    assert_int_equal(stele_append(s, "d-1", STELE_EXPECT_ANY, dup, 2, &res), STELE_EINVAL);
    assert_detail_names(&dup[0].id);
    stele_append_part_t parts[2] = {
        {.stream = "d-2", .expected_version = STELE_EXPECT_ANY, .events = &dup[0], .count = 1},
        {.stream = "d-3", .expected_version = STELE_EXPECT_ANY, .events = &dup[1], .count = 1},
    };
    size_t failed = 9;
    assert_int_equal(stele_commit(s, parts, 2, &failed), STELE_EINVAL);
    assert_detail_names(&dup[0].id);
    /* An id already stored, given twice in one append: still refused as a repetition. */
    stele_event_in_t twice[2] = {ab[0], ab[0]};
    assert_int_equal(stele_append(s, "p-1", STELE_EXPECT_ANY, twice, 2, &res), STELE_EINVAL);
    assert_int_equal(tu_head(s), head);
    /* The refused ids were not kept anywhere: they can still be used. */
    assert_int_equal(stele_append(s, "d-1", STELE_EXPECT_ANY, dup, 1, &res), 0);
    assert_false(res.idempotent);

    /* A commit whose parts are all retries is idempotent; one part new and one a retry is not. */
    stele_event_in_t ca = tu_event("CA", "{}"), cb = tu_event("CB", "{}");
    uuid_n(&ca.id, 601);
    uuid_n(&cb.id, 602);
    stele_append_part_t cp[2] = {
        {.stream = "c-1", .expected_version = STELE_EXPECT_NO_STREAM, .events = &ca, .count = 1},
        {.stream = "c-2", .expected_version = STELE_EXPECT_NO_STREAM, .events = &cb, .count = 1},
    };
    assert_int_equal(stele_commit(s, cp, 1, NULL), 0);
    head = tu_head(s);
    assert_int_equal(stele_commit(s, cp, 2, &failed), STELE_EIDREUSE);
    assert_int_equal(tu_head(s), head);
    assert_int_equal(stele_commit(s, cp, 1, NULL), 0);
    assert_true(cp[0].result.idempotent);
}

/* Requests queued together share one batch of the writer: the second of two with the same id is
 * a retry of the first (same event) or refused (another event), never written twice. */
typedef struct async_out {
    _Atomic int status;
    _Atomic int done;
    stele_append_result_t result;
} async_out_t;

static void async_cb(void *arg, int status, const char *detail, stele_append_part_t *parts,
                     size_t count, size_t failed_part) {
    (void)detail;
    (void)count;
    (void)failed_part;
    async_out_t *o = arg;
    o->result = parts[0].result;
    atomic_store(&o->status, status);
    atomic_store(&o->done, 1);
}

#define PAIRS 300

static void test_same_batch(void **state) {
    tu_fixture_t *f = *state;
    stele_store_t *s = f->s;
    static stele_event_in_t ev[2 * PAIRS];
    static stele_append_part_t parts[2 * PAIRS];
    static async_out_t out[2 * PAIRS];
    static char streams[2 * PAIRS][32];
    memset(out, 0, sizeof out);
    for (int i = 0; i < 2 * PAIRS; i++) {
        int pair = i / 2;
        bool same = pair % 2 == 0; /* even pairs: the same event twice; odd: other data */
        ev[i] = tu_event("Placed", (same || i % 2 == 0) ? "{\"v\":1}" : "{\"v\":2}");
        uuid_n(&ev[i].id, 10000 + (uint64_t)pair);
        snprintf(streams[i], sizeof streams[i], "b-%d", pair % 7);
        parts[i] = (stele_append_part_t){.stream = streams[i],
                                         .expected_version = STELE_EXPECT_ANY,
                                         .events = &ev[i],
                                         .count = 1};
    }
    uint64_t head = tu_head(s);
    for (int i = 0; i < 2 * PAIRS; i++)
        assert_int_equal(stele_commit_async(s, &parts[i], 1, async_cb, &out[i], NULL), 0);
    for (int i = 0; i < 2 * PAIRS; i++)
        while (!atomic_load(&out[i].done))
            sched_yield();
    for (int p = 0; p < PAIRS; p++) {
        async_out_t *a = &out[2 * p], *b = &out[2 * p + 1];
        assert_int_equal(a->status, 0);
        assert_false(a->result.idempotent);
        if (p % 2 == 0) {
            assert_int_equal(b->status, 0);
            assert_true(b->result.idempotent);
            assert_same_result(&b->result, &a->result);
        } else {
            assert_int_equal(b->status, STELE_EIDREUSE);
        }
    }
    assert_int_equal(tu_head(s), head + PAIRS);
    stele_stats_t st = {.struct_size = sizeof st};
    assert_int_equal(stele_stats(s, &st), 0);
    print_message("%d pairs of requests in %" PRIu64 " commits\n", PAIRS, st.commits);
}

/* ---- look-up by id, reopen, a lost index, reindex ------------------------------------------ */

static void expect_found(stele_store_t *s, const stele_uuid_t *id, uint64_t position,
                         const char *stream) {
    stele_reader_t *r = NULL;
    assert_int_equal(stele_event_by_id(s, id, &r), 0);
    tu_events_t got = {0};
    assert_int_equal(tu_drain(r, &got), 0);
    stele_reader_close(r);
    assert_int_equal(got.n, 1);
    assert_int_equal(got.v[0].position, position);
    assert_memory_equal(got.v[0].id.bytes, id->bytes, 16);
    assert_string_equal(got.v[0].stream, stream);
    tu_events_free(&got);
}

static void test_lookup_reopen_reindex(void **state) {
    tu_fixture_t *f = *state;
    stele_store_t *s = f->s;
    stele_event_in_t e = tu_event("Placed", "{\"n\":1}");
    uuid_n(&e.id, 7);
    stele_append_result_t first, res;
    assert_int_equal(stele_append(s, "l-1", STELE_EXPECT_NO_STREAM, &e, 1, &first), 0);
    /* Events the store named itself are found too, system events included. */
    assert_int_equal(stele_stream_metadata_set(s, "l-1", "{\"max_count\":5}"), 0);
    tu_events_t all = {0};
    stele_read_options_t o;
    stele_read_options_init(&o);
    o.filter.include_system = true;
    assert_int_equal(tu_read_all(s, &o, &all), 0);
    assert_int_equal(all.n, 2);
    expect_found(s, &e.id, first.first_position, "l-1");
    expect_found(s, &all.v[1].id, 2, all.v[1].stream);
    stele_uuid_t missing;
    uuid_n(&missing, 8);
    stele_reader_t *r = NULL;
    assert_int_equal(stele_event_by_id(s, &missing, &r), STELE_ENOTFOUND);
    assert_null(r);
    assert_detail_names(&missing);
    assert_int_equal(stele_event_by_id(s, NULL, &r), STELE_EINVAL);

    for (int round = 0; round < 3; round++) {
        if (round == 0) {
            s = f->s = tu_reopen(s, f->dir); /* from the index's table files */
        } else if (round == 1) {
            /* The event-id index lost while closed: open rebuilds it from the log before it
             * accepts an append. */
            assert_int_equal(stele_store_close(s), 0);
            char ids[4200];
            tu_join(ids, sizeof ids, f->dir, "ids");
            assert_true(tu_exists(ids));
            tu_rmtree(ids);
            s = f->s = tu_open(f->dir);
        } else {
            assert_int_equal(stele_reindex(s, NULL, NULL), 0);
        }
        uint64_t head = tu_head(s);
        memset(&res, 0, sizeof res);
        assert_int_equal(stele_append(s, "l-1", STELE_EXPECT_ANY, &e, 1, &res), 0);
        assert_true(res.idempotent);
        assert_same_result(&res, &first);
        stele_event_in_t other = e;
        other.type = "Other";
        assert_int_equal(stele_append(s, "l-1", STELE_EXPECT_ANY, &other, 1, &res), STELE_EIDREUSE);
        assert_int_equal(tu_head(s), head);
        expect_found(s, &e.id, first.first_position, "l-1");
        expect_found(s, &all.v[1].id, 2, all.v[1].stream);
        stele_verify_report_t rep = {.struct_size = sizeof rep};
        assert_int_equal(stele_verify(s, NULL, NULL, &rep), 0);
    }
    tu_events_free(&all);
}

/* ---- randomized: retries under every expected-version kind among other appends ------------- */

#define R_STREAMS 5
#define R_MAX_EVENTS 3

typedef struct r_append {
    char stream[16];
    size_t count;
    stele_uuid_t ids[R_MAX_EVENTS];
    char data[R_MAX_EVENTS][32];
    char type[R_MAX_EVENTS][16];
    bool has_meta[R_MAX_EVENTS];
    stele_append_result_t result;
} r_append_t;

static const char r_meta[] = "{\"source\":\"test\"}";

static void r_events(const r_append_t *a, stele_event_in_t *ev) {
    for (size_t i = 0; i < a->count; i++) {
        ev[i] = tu_event(a->type[i], a->data[i]);
        ev[i].id = a->ids[i];
        if (a->has_meta[i]) {
            ev[i].metadata = r_meta;
            ev[i].metadata_len = strlen(r_meta);
        }
    }
}

static int64_t r_expected(tu_rng_t *rng, stele_store_t *s, const char *stream) {
    stele_stream_info_t info = {.struct_size = sizeof info};
    int64_t last = stele_stream_info(s, stream, &info) == 0 ? info.last_version : -1;
    switch (tu_rnd_below(rng, 6)) {
    case 0: return STELE_EXPECT_ANY;
    case 1: return STELE_EXPECT_NO_STREAM;
    case 2: return STELE_EXPECT_STREAM_EXISTS;
    case 3: return last >= 0 ? last : STELE_EXPECT_NO_STREAM; /* the right version */
    case 4: return (int64_t)tu_rnd_below(rng, 50);            /* most likely a wrong one */
    default: return STELE_EXPECT_ANY;
    }
}

static int uuid_cmp(const void *a, const void *b) { return memcmp(a, b, 16); }

static void test_random_retries(void **state) {
    tu_fixture_t *f = *state;
    stele_store_t *s = f->s;
    uint64_t seed = tu_seed("test_random_retries");
    tu_rng_t rng;
    tu_rng_init(&rng, seed);
    enum { OPS = 1200 };
    r_append_t *done = calloc(OPS, sizeof *done);
    assert_non_null(done);
    size_t ndone = 0;
    uint64_t next_id = 1, retries = 0, refused = 0;
    for (int op = 0; op < OPS; op++) {
        uint64_t dice = tu_rnd_below(&rng, 100);
        stele_event_in_t ev[R_MAX_EVENTS + 1];
        stele_append_result_t res;
        if (op % 300 == 299) {
            s = f->s = tu_reopen(s, f->dir);
        } else if (op % 400 == 199) {
            assert_int_equal(stele_reindex(s, NULL, NULL), 0);
        }
        if (ndone == 0 || dice < 45) {
            /* A new append (sometimes with an event whose id the store makes). */
            r_append_t *a = &done[ndone];
            memset(a, 0, sizeof *a);
            snprintf(a->stream, sizeof a->stream, "r-%u", (unsigned)tu_rnd_below(&rng, R_STREAMS));
            a->count = 1 + tu_rnd_below(&rng, R_MAX_EVENTS);
            bool generated = false;
            for (size_t i = 0; i < a->count; i++) {
                if (tu_rnd_below(&rng, 10) == 0) {
                    generated = true;
                } else {
                    uuid_n(&a->ids[i], next_id++);
                }
                snprintf(a->type[i], sizeof a->type[i], "T%u", (unsigned)tu_rnd_below(&rng, 3));
                snprintf(a->data[i], sizeof a->data[i], "{\"n\":%u}",
                         (unsigned)tu_rnd_below(&rng, 4));
                a->has_meta[i] = tu_rnd_below(&rng, 2) == 0;
            }
            r_events(a, ev);
            int rc = stele_append(s, a->stream, r_expected(&rng, s, a->stream), ev, a->count,
                                  &a->result);
            if (rc == STELE_ECONFLICT)
                continue;
            assert_int_equal(rc, 0);
            assert_false(a->result.idempotent);
            if (!generated)
                ndone++; /* only appends whose every id is known can be retried */
        } else if (dice < 60) {
            /* Soft delete a stream: retries of its earlier appends still answer their results. */
            char stream[16];
            snprintf(stream, sizeof stream, "r-%u", (unsigned)tu_rnd_below(&rng, R_STREAMS));
            int rc = stele_stream_delete(s, stream, STELE_EXPECT_ANY, false);
            assert_true(rc == 0 || rc == STELE_ENOTFOUND || rc == STELE_EDELETED);
        } else {
            /* A retry of an acknowledged append: exact, altered, or partial. */
            const r_append_t *a = &done[tu_rnd_below(&rng, ndone)];
            r_events(a, ev);
            uint64_t head = tu_head(s);
            int64_t expected = r_expected(&rng, s, a->stream);
            uint64_t how = tu_rnd_below(&rng, 10);
            const char *stream = a->stream;
            size_t count = a->count;
            int want = STELE_EIDREUSE;
            size_t named = 0; /* the id the refusal names */
            if (how < 6) {
                want = 0;
            } else if (how == 6) {
                named = tu_rnd_below(&rng, count);
                ev[named].data = "{\"n\":99}";
                ev[named].data_len = strlen(ev[named].data);
            } else if (how == 7) {
                stream = "r-elsewhere";
            } else if (how == 8) {
                ev[count] = tu_event("Extra", "{}");
                uuid_n(&ev[count].id, next_id++);
                count++;
            } else {
                size_t i = named = tu_rnd_below(&rng, count);
                ev[i].metadata = ev[i].metadata ? NULL : r_meta;
                ev[i].metadata_len = ev[i].metadata ? strlen(r_meta) : 0;
            }
            memset(&res, 0, sizeof res);
            int rc = stele_append(s, stream, expected, ev, count, &res);
            if (rc != want)
                fail_msg("seed %" PRIu64 " op %d: retry (kind %" PRIu64 ", expected %" PRId64
                         ") gave %s (%s), wanted %s",
                         seed, op, how, expected, stele_strerror(rc), stele_errdetail(),
                         stele_strerror(want));
            if (want == 0) {
                assert_true(res.idempotent);
                assert_same_result(&res, &a->result);
                retries++;
            } else {
                assert_detail_names(&a->ids[named]);
                refused++;
            }
            assert_int_equal(tu_head(s), head);
        }
    }
    /* Every acknowledged event is stored exactly once, where its append said, and found by id;
     * also after a reopen and after a reindex. */
    for (int round = 0; round < 3; round++) {
        if (round == 1)
            s = f->s = tu_reopen(s, f->dir);
        if (round == 2)
            assert_int_equal(stele_reindex(s, NULL, NULL), 0);
        tu_events_t all = {0};
        stele_read_options_t o;
        stele_read_options_init(&o);
        o.filter.include_system = true;
        assert_int_equal(tu_read_all(s, &o, &all), 0);
        for (size_t i = 0; i < ndone; i++) {
            const r_append_t *a = &done[i];
            for (size_t k = 0; k < a->count; k++) {
                uint64_t pos = a->result.first_position + k;
                assert_true(pos >= 1 && pos <= all.n);
                assert_memory_equal(all.v[pos - 1].id.bytes, a->ids[k].bytes, 16);
                expect_found(s, &a->ids[k], pos, a->stream);
            }
        }
        stele_uuid_t *ids = calloc(all.n + 1, sizeof *ids);
        assert_non_null(ids);
        for (size_t i = 0; i < all.n; i++)
            ids[i] = all.v[i].id;
        qsort(ids, all.n, sizeof *ids, uuid_cmp);
        for (size_t i = 1; i < all.n; i++)
            assert_memory_not_equal(ids[i - 1].bytes, ids[i].bytes, 16);
        free(ids);
        tu_events_free(&all);
    }
    print_message("seed %" PRIu64 ": %zu appends, %" PRIu64 " idempotent retries, %" PRIu64
                  " refused reuses\n",
                  seed, ndone, retries, refused);
    free(done);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_retry_after_other_appends, tu_store_setup,
                                        tu_store_teardown),
        cmocka_unit_test_setup_teardown(test_reuse_refused, tu_store_setup, tu_store_teardown),
        cmocka_unit_test_setup_teardown(test_partial_and_repeated, tu_store_setup,
                                        tu_store_teardown),
        cmocka_unit_test_setup_teardown(test_same_batch, tu_store_setup, tu_store_teardown),
        cmocka_unit_test_setup_teardown(test_lookup_reopen_reindex, tu_store_setup,
                                        tu_store_teardown),
        cmocka_unit_test_setup_teardown(test_random_retries, tu_store_setup, tu_store_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
