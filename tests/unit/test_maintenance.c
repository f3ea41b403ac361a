/*
 * test_maintenance.c -- stele_verify and stele_reindex on their own (src/store/maintenance.c):
 *   - verify on a store of several segments reports every event, commit and segment, with
 *     progress that only grows and ends at its total;
 *   - reindex rebuilds from the log alone everything a user sees through the index and the
 *     catalogue: stream reads, $all, the stream list, each stream's state (soft deleted,
 *     tombstoned), metadata and its retention, event ids (retries stay idempotent, a reused id is
 *     still refused), and the next expected versions;
 *   - reindex while other threads append: every acknowledged append is there after, each stream's
 *     versions without a gap, and verify passes;
 *   - a read-only store refuses reindex (STELE_EREADONLY) and still verifies.
 * The concurrent part draws stream choices from a seed that is printed (STELE_TEST_SEED=<n>).
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

typedef struct progress {
    uint64_t calls, last_done, total;
    bool backwards, beyond;
} progress_t;

static void on_progress(void *arg, uint64_t done, uint64_t total) {
    progress_t *p = arg;
    if (p->calls && done < p->last_done)
        p->backwards = true;
    if (done > total)
        p->beyond = true;
    p->calls++;
    p->last_done = done;
    p->total = total;
}

/* 2,000 events of 1 KiB over 50 streams, in commits of 1 to 4 events: several 1 MiB segments. */
static uint64_t fill(stele_store_t *s, uint64_t *commits) {
    static char data[1100];
    memset(data, 0, sizeof data);
    strcpy(data, "{\"pad\":\"");
    memset(data + 8, 'p', 1000);
    strcpy(data + 1008, "\"}");
    uint64_t n = 0;
    *commits = 0;
    for (int i = 0; n < 2000; i++) {
        char stream[32];
        snprintf(stream, sizeof stream, "m-%d", i % 50);
        stele_event_in_t ev[4];
        size_t k = 1 + (size_t)(i % 4);
        for (size_t j = 0; j < k; j++)
            ev[j] = tu_event("Filled", data);
        stele_append_result_t res;
        assert_int_equal(stele_append(s, stream, STELE_EXPECT_ANY, ev, k, &res), 0);
        n += k;
        (*commits)++;
    }
    return n;
}

static size_t segment_count(const char *dir) {
    char logdir[4200];
    snprintf(logdir, sizeof logdir, "%s/log", dir);
    size_t n = 0;
    char **names = tu_list(logdir, ".seg", &n);
    tu_names_free(names, n);
    return n;
}

static void test_verify_reports(void **state) {
    tu_fixture_t *f = *state;
    uint64_t commits = 0, events = fill(f->s, &commits);
    size_t segments = segment_count(f->dir);
    assert_true(segments >= 2);
    progress_t p = {0};
    stele_verify_report_t rep = {.struct_size = sizeof rep};
    assert_int_equal(stele_verify(f->s, on_progress, &p, &rep), 0);
    assert_int_equal(rep.error, 0);
    assert_int_equal(rep.events, events);
    assert_int_equal(rep.commits, commits);
    assert_int_equal(rep.segments, segments);
    assert_true(rep.bytes > events * 1000);
    assert_true(p.calls >= 1);
    assert_false(p.backwards);
    assert_false(p.beyond);
    assert_int_equal(p.last_done, p.total);
}

/* Everything a user reads about the store, as text, to compare before and after. */
static char *describe(stele_store_t *s) {
    size_t cap = 1 << 20, len = 0;
    char *out = malloc(cap);
    assert_non_null(out);
    out[0] = 0;
#define ADD(...)                                              \
    do {                                                      \
        int k_ = snprintf(out + len, cap - len, __VA_ARGS__); \
        assert_true(k_ >= 0 && (size_t)k_ < cap - len);       \
        len += (size_t)k_;                                    \
    } while (0)
    stele_stream_list_t *list = NULL;
    assert_int_equal(stele_stream_list(s, NULL, NULL, 0, true, &list), 0);
    for (size_t i = 0; i < stele_stream_list_count(list); i++) {
        const stele_stream_info_t *in = stele_stream_list_get(list, i);
        ADD("%s state %d versions %" PRId64 "..%" PRId64 " last %" PRIu64 " meta %" PRId64 "\n",
            in->name, (int)in->state, in->first_version, in->last_version, in->last_position,
            in->metadata_version);
        char *meta = NULL;
        if (stele_stream_metadata_get(s, in->name, &meta) == 0) {
            ADD("  metadata %s\n", meta);
            stele_free(meta);
        }
        tu_events_t ev = {0};
        int rc = tu_read_stream(s, in->name, 0, STELE_FORWARD, 0, &ev);
        ADD("  read %d:", rc);
        for (size_t j = 0; j < ev.n; j++)
            ADD(" %" PRId64 "@%" PRIu64, ev.v[j].version, ev.v[j].position);
        ADD("\n");
        tu_events_free(&ev);
    }
    stele_stream_list_free(list);
    tu_events_t all = {0};
    assert_int_equal(tu_read_all(s, NULL, &all), 0);
    ADD("$all %zu events, last %" PRIu64 "\n", all.n, all.n ? all.v[all.n - 1].position : 0);
    tu_events_free(&all);
#undef ADD
    return out;
}

static const char *const IDS[] = {"11111111-1111-4111-8111-111111111111",
                                  "22222222-2222-4222-8222-222222222222"};

static int append_with_id(stele_store_t *s, const char *stream, int64_t expected, const char *id,
                          const char *data, stele_append_result_t *res) {
    stele_event_in_t ev = tu_event("WithId", data);
    assert_int_equal(stele_uuid_parse(id, &ev.id), 0);
    return stele_append(s, stream, expected, &ev, 1, res);
}

static void test_reindex_rebuilds_what_users_see(void **state) {
    tu_fixture_t *f = *state;
    stele_store_t *s = f->s;
    stele_append_result_t res;
    for (int i = 0; i < 5; i++) {
        assert_int_equal(tu_append1(s, "kept", STELE_EXPECT_ANY, "E", "{}", &res), 0);
        assert_int_equal(tu_append1(s, "gone", STELE_EXPECT_ANY, "E", "{}", &res), 0);
        assert_int_equal(tu_append1(s, "closed", STELE_EXPECT_ANY, "E", "{}", &res), 0);
    }
    assert_int_equal(stele_stream_metadata_set(s, "kept", "{\"max_count\":2,\"owner\":\"x\"}"), 0);
    assert_int_equal(stele_stream_delete(s, "gone", 4, false), 0);
    assert_int_equal(stele_stream_delete(s, "closed", STELE_EXPECT_ANY, true), 0);
    assert_int_equal(append_with_id(s, "ids", STELE_EXPECT_NO_STREAM, IDS[0], "{\"a\":1}", &res),
                     0);
    char *before = describe(s);
    assert_non_null(strstr(before, "kept state 0 versions 0..4"));
    assert_non_null(strstr(before, "gone state 1"));
    assert_non_null(strstr(before, "closed state 2"));

    progress_t p = {0};
    assert_int_equal(stele_reindex(s, on_progress, &p), 0);
    assert_false(p.backwards);
    char *after = describe(s);
    assert_string_equal(after, before);

    /* retention still applies: max_count 2 of 5 */
    tu_events_t kept = {0};
    assert_int_equal(tu_read_stream(s, "kept", 0, STELE_FORWARD, 0, &kept), 0);
    assert_int_equal(kept.n, 2);
    assert_int_equal(kept.v[0].version, 3);
    tu_events_free(&kept);
    /* ids: a retry is idempotent (nothing written), another content under the id is refused */
    uint64_t head = tu_head(s);
    assert_int_equal(append_with_id(s, "ids", STELE_EXPECT_ANY, IDS[0], "{\"a\":1}", &res), 0);
    assert_int_equal(tu_head(s), head);
    assert_int_equal(append_with_id(s, "ids", STELE_EXPECT_ANY, IDS[0], "{\"a\":2}", &res),
                     STELE_EIDREUSE);
    stele_uuid_t id;
    assert_int_equal(stele_uuid_parse(IDS[0], &id), 0);
    stele_reader_t *r = NULL;
    assert_int_equal(stele_event_by_id(s, &id, &r), 0);
    stele_event_t ev;
    assert_int_equal(stele_reader_next(r, &ev), 1);
    assert_int_equal(ev.version, 0);
    stele_reader_close(r);
    /* versions go on where they were; the tombstone holds; the soft-deleted stream comes back */
    assert_int_equal(tu_append1(s, "kept", 4, "E", "{}", &res), 0);
    assert_int_equal(res.first_version, 5);
    assert_int_equal(tu_append1(s, "closed", STELE_EXPECT_ANY, "E", "{}", &res), STELE_ETOMBSTONED);
    assert_int_equal(tu_append1(s, "gone", 4, "E", "{}", &res), 0);
    assert_int_equal(res.first_version, 5);
    stele_verify_report_t rep = {.struct_size = sizeof rep};
    assert_int_equal(stele_verify(s, NULL, NULL, &rep), 0);
    free(before);
    free(after);
}

typedef struct appender {
    stele_store_t *s;
    uint64_t seed;
    int index;
    atomic_bool *stop;
    int64_t last[8]; /* last acknowledged version of stream a<index>-<k> */
    int errors;
} appender_t;

static void *appender_main(void *arg) {
    appender_t *a = arg;
    tu_rng_t rng;
    tu_rng_init(&rng, a->seed + (uint64_t)a->index);
    for (int k = 0; k < 8; k++)
        a->last[k] = -1;
    while (!atomic_load(a->stop)) {
        int k = (int)tu_rnd_below(&rng, 8);
        char stream[32];
        snprintf(stream, sizeof stream, "a%d-%d", a->index, k);
        stele_append_result_t res;
        int rc = tu_append1(a->s, stream, a->last[k] < 0 ? STELE_EXPECT_NO_STREAM : a->last[k],
                            "Beside", "{}", &res);
        if (rc != 0) {
            a->errors++;
            break;
        }
        a->last[k] = res.last_version;
    }
    return NULL;
}

static void test_reindex_beside_appends(void **state) {
    tu_fixture_t *f = *state;
    uint64_t seed = tu_seed("maintenance");
    uint64_t commits = 0;
    fill(f->s, &commits);
    atomic_bool stop = false;
    appender_t a[3];
    pthread_t t[3];
    for (int i = 0; i < 3; i++) {
        a[i] = (appender_t){.s = f->s, .seed = seed, .index = i, .stop = &stop};
        assert_int_equal(pthread_create(&t[i], NULL, appender_main, &a[i]), 0);
    }
    for (int round = 0; round < 3; round++)
        assert_int_equal(stele_reindex(f->s, NULL, NULL), 0);
    atomic_store(&stop, true);
    for (int i = 0; i < 3; i++)
        assert_int_equal(pthread_join(t[i], NULL), 0);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(a[i].errors, 0);
        for (int k = 0; k < 8; k++) {
            char stream[32];
            snprintf(stream, sizeof stream, "a%d-%d", i, k);
            tu_events_t ev = {0};
            int rc = tu_read_stream(f->s, stream, 0, STELE_FORWARD, 0, &ev);
            if (a[i].last[k] < 0) {
                assert_int_equal(rc, STELE_ENOTFOUND);
                continue;
            }
            assert_int_equal(rc, 0);
            assert_int_equal(ev.n, (size_t)(a[i].last[k] + 1));
            for (size_t j = 0; j < ev.n; j++)
                assert_int_equal(ev.v[j].version, (int64_t)j);
            tu_events_free(&ev);
        }
    }
    stele_verify_report_t rep = {.struct_size = sizeof rep};
    assert_int_equal(stele_verify(f->s, NULL, NULL, &rep), 0);
    /* and the rebuilt files are right on disk */
    f->s = tu_reopen(f->s, f->dir);
    assert_int_equal(stele_verify(f->s, NULL, NULL, &rep), 0);
}

static void test_readonly(void **state) {
    tu_fixture_t *f = *state;
    uint64_t commits = 0, events = fill(f->s, &commits);
    assert_int_equal(stele_store_close(f->s), 0);
    stele_options_t o;
    tu_options(&o);
    o.flags = STELE_OPEN_READONLY;
    f->s = NULL;
    assert_int_equal(stele_store_open(f->dir, &o, &f->s), 0);
    assert_int_equal(stele_reindex(f->s, NULL, NULL), STELE_EREADONLY);
    stele_verify_report_t rep = {.struct_size = sizeof rep};
    assert_int_equal(stele_verify(f->s, NULL, NULL, &rep), 0);
    assert_int_equal(rep.events, events);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_verify_reports, tu_store_setup, tu_store_teardown),
        cmocka_unit_test_setup_teardown(test_reindex_rebuilds_what_users_see, tu_store_setup,
                                        tu_store_teardown),
        cmocka_unit_test_setup_teardown(test_reindex_beside_appends, tu_store_setup,
                                        tu_store_teardown),
        cmocka_unit_test_setup_teardown(test_readonly, tu_store_setup, tu_store_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
