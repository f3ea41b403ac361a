/*
 * test_observe.c -- commit observers (stele_store_observe): every visible batch reaches every
 * observer exactly once, in position order, with no gap and with the right (stream, version) of
 * each event, while several threads append; unobserve stops the calls; stele_store_on_commit keeps
 * working beside them; the number of observers is bounded.
 *
 * Observers run on the writer thread, where cmocka cannot assert: they record what they see and
 * count violations, and the test thread checks afterwards. Seeded (STELE_TEST_SEED replays).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "test_util.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define THREADS 4
#define COMMITS 250  /* per thread */
#define MAX_PARTS 3  /* per commit */
#define MAX_EVENTS 4 /* per part */
#define STREAMS 8
#define CAP (THREADS * COMMITS * MAX_PARTS * MAX_EVENTS + 64)

typedef struct seen {
    char stream[16];
    int64_t version;
    uint64_t position;
} seen_t;

typedef struct rec {
    uint64_t next; /* the position the next batch must start at */
    seen_t *v;     /* entries seen, in the order seen */
    size_t n;
    size_t batches;
    int errors; /* batches that broke a rule */
    char first_error[200];
} rec_t;

static void rec_error(rec_t *r, const char *what, uint64_t a, uint64_t b) {
    if (r->errors++ == 0)
        snprintf(r->first_error, sizeof r->first_error, "%s (%llu vs %llu)", what,
                 (unsigned long long)a, (unsigned long long)b);
}

static void observer(void *arg, const stele_commit_batch_t *b) {
    rec_t *r = arg;
    r->batches++;
    if (b->first_position != r->next)
        rec_error(r, "batch does not start where the last one ended", b->first_position, r->next);
    if (b->count != b->last_position - b->first_position + 1 || b->count == 0)
        rec_error(r, "count does not match the positions", b->count, b->last_position);
    if (!b->entries)
        rec_error(r, "no entries", 0, 0);
    for (size_t i = 0; b->entries && i < b->count; i++) {
        const stele_commit_entry_t *e = &b->entries[i];
        if (e->position != b->first_position + i)
            rec_error(r, "entries out of position order", e->position, b->first_position + i);
        if (r->n == CAP || e->stream_len >= sizeof r->v[0].stream) {
            rec_error(r, "too many entries or a long name", r->n, e->stream_len);
            continue;
        }
        seen_t *s = &r->v[r->n++];
        memcpy(s->stream, e->stream, e->stream_len);
        s->stream[e->stream_len] = '\0';
        s->version = e->version;
        s->position = e->position;
    }
    r->next = b->last_position + 1;
}

static void rec_init(rec_t *r, uint64_t head) {
    memset(r, 0, sizeof *r);
    r->next = head + 1;
    r->v = calloc(CAP, sizeof *r->v);
    assert_non_null(r->v);
}

typedef struct ack {
    char stream[16];
    int64_t first_version, last_version;
    uint64_t first_position, last_position;
} ack_t;

typedef struct worker {
    stele_store_t *s;
    uint64_t seed;
    ack_t acks[COMMITS * MAX_PARTS];
    size_t nacks;
    int failures;
} worker_t;

static void *append_main(void *arg) {
    worker_t *w = arg;
    tu_rng_t rng;
    tu_rng_init(&rng, w->seed);
    char names[MAX_PARTS][16];
    _Static_assert(STREAMS < 1000, "stream names fit in 16 bytes");
    stele_event_in_t evs[MAX_PARTS][MAX_EVENTS];
    stele_append_part_t parts[MAX_PARTS];
    for (int c = 0; c < COMMITS; c++) {
        size_t np = 1 + (size_t)tu_rnd_below(&rng, MAX_PARTS);
        size_t first = (size_t)tu_rnd_below(&rng, STREAMS); /* distinct streams in one commit */
        for (size_t p = 0; p < np; p++) {
            snprintf(names[p], sizeof names[p], "obs-%zu", (first + p) % STREAMS);
            size_t ne = 1 + (size_t)tu_rnd_below(&rng, MAX_EVENTS);
            for (size_t k = 0; k < ne; k++)
                evs[p][k] = tu_event("Observed", "{\"n\":1}");
            parts[p] = (stele_append_part_t){.stream = names[p],
                                             .expected_version = STELE_EXPECT_ANY,
                                             .events = evs[p],
                                             .count = ne};
        }
        if (stele_commit(w->s, parts, np, NULL) != 0) {
            w->failures++;
            continue;
        }
        for (size_t p = 0; p < np; p++) {
            ack_t *a = &w->acks[w->nacks++];
            memcpy(a->stream, names[p], sizeof a->stream);
            a->first_version = parts[p].result.first_version;
            a->last_version = parts[p].result.last_version;
            a->first_position = parts[p].result.first_position;
            a->last_position = parts[p].result.last_position;
        }
    }
    return NULL;
}

static void test_observer_sees_every_commit_once(void **state) {
    tu_fixture_t *f = *state;
    uint64_t seed = tu_seed("test_observer_sees_every_commit_once");
    /* Some history before the observer: it must start after it, not with it. */
    for (int i = 0; i < 5; i++)
        assert_int_equal(tu_append1(f->s, "before", STELE_EXPECT_ANY, "Old", NULL, NULL), 0);

    static rec_t r1, r2;
    uint64_t id1 = 0, id2 = 0, head = 99;
    assert_int_equal(stele_store_observe(f->s, observer, &r1, &id1, &head), 0);
    assert_int_equal(head, 5);
    rec_init(&r1, head);
    rec_init(&r2, head);
    /* r1 is initialised after registration but before any append: nothing was published yet. */
    assert_int_equal(stele_store_observe(f->s, observer, &r2, &id2, NULL), 0);
    assert_true(id1 != 0 && id2 != 0 && id1 != id2);

    static worker_t w[THREADS];
    pthread_t t[THREADS];
    for (int i = 0; i < THREADS; i++) {
        w[i] = (worker_t){.s = f->s, .seed = seed * 31 + (uint64_t)i};
        assert_int_equal(pthread_create(&t[i], NULL, append_main, &w[i]), 0);
    }
    for (int i = 0; i < THREADS; i++)
        pthread_join(t[i], NULL);
    uint64_t end = tu_head(f->s);
    assert_int_equal(stele_store_unobserve(f->s, id1), 0);
    assert_int_equal(stele_store_unobserve(f->s, id2), 0);

    for (int i = 0; i < THREADS; i++)
        assert_int_equal(w[i].failures, 0);
    rec_t *rs[2] = {&r1, &r2};
    for (int k = 0; k < 2; k++) {
        rec_t *r = rs[k];
        if (r->errors)
            fail_msg("observer %d: %d bad batches, first: %s (seed %llu)", k, r->errors,
                     r->first_error, (unsigned long long)seed);
        /* exactly once: every position after the head at registration, once, in order */
        assert_int_equal(r->n, end - head);
        assert_int_equal(r->next, end + 1);
        assert_true(r->batches >= 1 && r->batches <= r->n);
        for (size_t i = 0; i < r->n; i++)
            assert_int_equal(r->v[i].position, head + 1 + i);
    }
    /* the entries are what each appender was told it wrote */
    size_t checked = 0;
    for (int i = 0; i < THREADS; i++) {
        for (size_t a = 0; a < w[i].nacks; a++) {
            const ack_t *ack = &w[i].acks[a];
            for (uint64_t p = ack->first_position; p <= ack->last_position; p++) {
                const seen_t *s = &r1.v[p - head - 1];
                assert_string_equal(s->stream, ack->stream);
                assert_int_equal(s->version,
                                 ack->first_version + (int64_t)(p - ack->first_position));
                checked++;
            }
            assert_int_equal(ack->last_version - ack->first_version,
                             (int64_t)(ack->last_position - ack->first_position));
        }
    }
    assert_int_equal(checked, end - head);
    /* and what a reader of $all finds there */
    tu_events_t all = {0};
    stele_read_options_t o;
    stele_read_options_init(&o);
    o.from_position = head + 1;
    assert_int_equal(tu_read_all(f->s, &o, &all), 0);
    assert_int_equal(all.n, end - head);
    for (size_t i = 0; i < all.n; i++) {
        assert_int_equal(all.v[i].position, r2.v[i].position);
        assert_string_equal(all.v[i].stream, r2.v[i].stream);
        assert_int_equal(all.v[i].version, r2.v[i].version);
    }
    tu_events_free(&all);
    free(r1.v);
    free(r2.v);
}

static _Atomic int calls_a, calls_b;
static _Atomic uint64_t hook_head;
static void count_a(void *arg, const stele_commit_batch_t *b) {
    (void)arg;
    (void)b;
    atomic_fetch_add(&calls_a, 1);
}
static void count_b(void *arg, const stele_commit_batch_t *b) {
    (void)arg;
    (void)b;
    atomic_fetch_add(&calls_b, 1);
}
static void hook(void *arg, uint64_t head) {
    (void)arg;
    atomic_store(&hook_head, head);
}

static void test_unobserve_and_on_commit(void **state) {
    tu_fixture_t *f = *state;
    uint64_t a = 0, b = 0;
    stele_store_on_commit(f->s, hook, NULL);
    assert_int_equal(stele_store_observe(f->s, count_a, NULL, &a, NULL), 0);
    assert_int_equal(stele_store_observe(f->s, count_b, NULL, &b, NULL), 0);
    assert_int_equal(tu_append1(f->s, "u-1", STELE_EXPECT_ANY, "E", NULL, NULL), 0);
    assert_int_equal(atomic_load(&calls_a), 1);
    assert_int_equal(atomic_load(&calls_b), 1);
    assert_int_equal(atomic_load(&hook_head), 1);
    assert_int_equal(stele_store_unobserve(f->s, a), 0);
    assert_int_equal(tu_append1(f->s, "u-1", STELE_EXPECT_ANY, "E", NULL, NULL), 0);
    assert_int_equal(atomic_load(&calls_a), 1); /* removed: not called again */
    assert_int_equal(atomic_load(&calls_b), 2);
    assert_int_equal(atomic_load(&hook_head), 2);
    assert_int_equal(stele_store_unobserve(f->s, a), STELE_ENOTFOUND);
    tu_assert_detail();
    assert_int_equal(stele_store_unobserve(f->s, b), 0);
    stele_store_on_commit(f->s, NULL, NULL);
    assert_int_equal(tu_append1(f->s, "u-1", STELE_EXPECT_ANY, "E", NULL, NULL), 0);
    assert_int_equal(atomic_load(&calls_b), 2);
    assert_int_equal(atomic_load(&hook_head), 2); /* the hook was removed too */
    assert_int_equal(stele_store_observe(NULL, count_a, NULL, &a, NULL), STELE_EINVAL);
    assert_int_equal(stele_store_observe(f->s, NULL, NULL, &a, NULL), STELE_EINVAL);
    assert_int_equal(stele_store_observe(f->s, count_a, NULL, NULL, NULL), STELE_EINVAL);
}

static void test_observer_limit(void **state) {
    tu_fixture_t *f = *state;
    uint64_t ids[STELE_MAX_OBSERVERS + 1];
    atomic_store(&calls_b, 0);
    for (unsigned i = 0; i < STELE_MAX_OBSERVERS; i++)
        assert_int_equal(stele_store_observe(f->s, count_b, NULL, &ids[i], NULL), 0);
    assert_int_equal(stele_store_observe(f->s, count_b, NULL, &ids[STELE_MAX_OBSERVERS], NULL),
                     STELE_ETOOBIG);
    tu_assert_detail();
    /* the commit hook has a slot of its own, so a full set of observers does not lock it out */
    atomic_store(&hook_head, 0);
    stele_store_on_commit(f->s, hook, NULL);
    assert_int_equal(tu_append1(f->s, "lim", STELE_EXPECT_ANY, "E", NULL, NULL), 0);
    assert_int_equal(atomic_load(&hook_head), 1);
    assert_int_equal(atomic_load(&calls_b), (int)STELE_MAX_OBSERVERS);
    assert_int_equal(stele_store_unobserve(f->s, ids[0]), 0);
    assert_int_equal(stele_store_observe(f->s, count_b, NULL, &ids[0], NULL), 0);
    stele_store_on_commit(f->s, NULL, NULL);
    /* observers still registered at close are dropped with the store (teardown closes it) */
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_observer_sees_every_commit_once, tu_store_setup,
                                        tu_store_teardown),
        cmocka_unit_test_setup_teardown(test_unobserve_and_on_commit, tu_store_setup,
                                        tu_store_teardown),
        cmocka_unit_test_setup_teardown(test_observer_limit, tu_store_setup, tu_store_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
