/*
 * test_subscribe.c -- subscriptions as a user relies on them: history, then STELE_SUB_CAUGHT_UP
 * once, then live events, in log order with no gap and no duplicate across the switch while
 * another thread appends; $all and one-stream subscriptions from a position and from the end;
 * filters; a timeout; cancel from another thread waking a waiting next(); closing the store ending
 * a waiting subscription with STELE_ECLOSED; stele_subscription_poll() examining no more than its
 * budget and delivering what next() does whatever the budgets.
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
#include <time.h>

static int64_t now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(long ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000};
    nanosleep(&ts, NULL);
}

static const char *const STREAMS[] = {"order-1", "order-2", "cust-1", "cust-2"};
static const char *const TYPES[] = {"Placed", "Paid", "Created"};

/* Append one event (to STREAMS[k % 4], type TYPES[k % 3]) per call. */
static void append_k(stele_store_t *s, unsigned k) {
    char data[48];
    snprintf(data, sizeof data, "{\"k\":%u}", k);
    assert_int_equal(tu_append1(s, STREAMS[k % 4], STELE_EXPECT_ANY, TYPES[k % 3], data, NULL), 0);
}

static stele_subscription_t *subscribe(stele_store_t *s, const char *stream, uint64_t after,
                                       bool from_end, const stele_filter_t *fl) {
    stele_subscribe_options_t o;
    stele_subscribe_options_init(&o);
    o.stream = stream;
    o.after_position = after;
    o.from_end = from_end;
    if (fl)
        o.filter = *fl;
    stele_subscription_t *sub = NULL;
    int rc = stele_subscribe(s, &o, &sub);
    assert_int_equal(rc, 0);
    assert_non_null(sub);
    return sub;
}

/* ---- basics ------------------------------------------------------------------------------ */

static void test_history_caught_up_live(void **state) {
    tu_fixture_t *f = *state;
    stele_store_t *s = f->s;
    for (unsigned k = 0; k < 10; k++)
        append_k(s, k);
    stele_subscription_t *sub = subscribe(s, NULL, 0, false, NULL);
    assert_int_equal(stele_subscription_position(sub), 0);
    stele_event_t ev;
    for (uint64_t p = 1; p <= 10; p++) {
        assert_int_equal(stele_subscription_next(sub, &ev, 0), STELE_SUB_EVENT);
        assert_int_equal(ev.position, p);
        assert_int_equal(stele_subscription_position(sub), p);
    }
    assert_int_equal(stele_subscription_next(sub, &ev, 0), STELE_SUB_CAUGHT_UP);
    assert_int_equal(stele_subscription_next(sub, &ev, 0), STELE_SUB_TIMEOUT);
    append_k(s, 10);
    append_k(s, 11);
    assert_int_equal(stele_subscription_next(sub, &ev, 0), STELE_SUB_EVENT);
    assert_int_equal(ev.position, 11);
    assert_int_equal(ev.data_len, 8);
    assert_memory_equal(ev.data, "{\"k\":10}", 8);
    assert_int_equal(stele_subscription_next(sub, &ev, 100), STELE_SUB_EVENT);
    assert_int_equal(ev.position, 12);
    /* Caught up is said once only. */
    assert_int_equal(stele_subscription_next(sub, &ev, 0), STELE_SUB_TIMEOUT);
    stele_subscription_close(sub);

    /* From a position, and from the end. */
    sub = subscribe(s, NULL, 7, false, NULL);
    assert_int_equal(stele_subscription_next(sub, &ev, 0), STELE_SUB_EVENT);
    assert_int_equal(ev.position, 8);
    stele_subscription_close(sub);
    sub = subscribe(s, NULL, 1000, false, NULL); /* past the head: from the head */
    assert_int_equal(stele_subscription_next(sub, &ev, 0), STELE_SUB_CAUGHT_UP);
    append_k(s, 12);
    assert_int_equal(stele_subscription_next(sub, &ev, 0), STELE_SUB_EVENT);
    assert_int_equal(ev.position, 13);
    stele_subscription_close(sub);
    sub = subscribe(s, NULL, 3, true, NULL); /* from_end ignores after_position */
    assert_int_equal(stele_subscription_position(sub), 13);
    assert_int_equal(stele_subscription_next(sub, &ev, 0), STELE_SUB_CAUGHT_UP);
    assert_int_equal(stele_subscription_next(sub, &ev, 0), STELE_SUB_TIMEOUT);
    append_k(s, 13);
    assert_int_equal(stele_subscription_next(sub, &ev, 0), STELE_SUB_EVENT);
    assert_int_equal(ev.position, 14);
    stele_subscription_close(sub);
    stele_subscription_close(NULL);

    stele_subscribe_options_t o;
    stele_subscribe_options_init(&o);
    o.stream = "";
    assert_int_equal(stele_subscribe(s, &o, &sub), STELE_ENAME);
    /* An empty store: caught up at once. */
    char dir[PATH_MAX];
    tu_tmpdir(dir, sizeof dir, "sub-empty");
    stele_store_t *e = tu_open(dir);
    sub = subscribe(e, NULL, 0, false, NULL);
    assert_int_equal(stele_subscription_next(sub, &ev, 0), STELE_SUB_CAUGHT_UP);
    assert_int_equal(stele_subscription_next(sub, &ev, 0), STELE_SUB_TIMEOUT);
    stele_subscription_close(sub);
    assert_int_equal(stele_store_close(e), 0);
    tu_rmtree(dir);
}

static void test_stream_subscription(void **state) {
    tu_fixture_t *f = *state;
    stele_store_t *s = f->s;
    for (unsigned k = 0; k < 300; k++) /* order-1 gets k = 0, 4, 8, ...: 75 events */
        append_k(s, k);
    stele_subscription_t *sub = subscribe(s, "order-1", 0, false, NULL);
    stele_event_t ev;
    int64_t v = 0;
    for (;;) {
        int rc = stele_subscription_next(sub, &ev, 0);
        if (rc == STELE_SUB_CAUGHT_UP)
            break;
        assert_int_equal(rc, STELE_SUB_EVENT);
        assert_string_equal(ev.stream, "order-1");
        assert_int_equal(ev.version, v);
        assert_int_equal(ev.position, (uint64_t)(4 * v + 1));
        v++;
    }
    assert_int_equal(v, 75);
    for (unsigned k = 300; k < 320; k++)
        append_k(s, k);
    for (int i = 0; i < 5; i++) {
        assert_int_equal(stele_subscription_next(sub, &ev, 100), STELE_SUB_EVENT);
        assert_string_equal(ev.stream, "order-1");
        assert_int_equal(ev.version, v++);
    }
    assert_int_equal(stele_subscription_next(sub, &ev, 0), STELE_SUB_TIMEOUT);
    stele_subscription_close(sub);
    /* From a position in the middle of the stream's history. */
    sub = subscribe(s, "order-1", 100, false, NULL);
    assert_int_equal(stele_subscription_next(sub, &ev, 0), STELE_SUB_EVENT);
    assert_int_equal(ev.position, 101);
    assert_int_equal(ev.version, 25);
    stele_subscription_close(sub);
    /* A stream that does not exist yet: caught up, then its first event. */
    sub = subscribe(s, "new-1", 0, false, NULL);
    assert_int_equal(stele_subscription_next(sub, &ev, 0), STELE_SUB_CAUGHT_UP);
    assert_int_equal(tu_append1(s, "new-1", STELE_EXPECT_NO_STREAM, "T", "{}", NULL), 0);
    assert_int_equal(stele_subscription_next(sub, &ev, 100), STELE_SUB_EVENT);
    assert_string_equal(ev.stream, "new-1");
    assert_int_equal(ev.version, 0);
    stele_subscription_close(sub);
}

static void test_filtered_subscription(void **state) {
    tu_fixture_t *f = *state;
    stele_store_t *s = f->s;
    for (unsigned k = 0; k < 60; k++)
        append_k(s, k);
    assert_int_equal(stele_stream_metadata_set(s, "order-1", "{\"a\":1}"), 0);
    stele_filter_t fl;
    memset(&fl, 0, sizeof fl);
    fl.category = "order";
    fl.type = "Paid";
    stele_subscription_t *sub = subscribe(s, NULL, 0, false, &fl);
    memset(&fl, 0, sizeof fl);
    fl.include_system = true;
    fl.type_prefix = "$";
    stele_subscription_t *sys = subscribe(s, NULL, 0, false, &fl);
    memset(&fl, 0, sizeof fl);
    fl.stream_prefix = "cust-2";
    stele_subscription_t *pre = subscribe(s, NULL, 30, false, &fl);
    for (unsigned k = 60; k < 120; k++)
        append_k(s, k);
    stele_event_t ev;
    unsigned seen = 0, caught = 0;
    uint64_t last = 0;
    for (;;) {
        int rc = stele_subscription_next(sub, &ev, 0);
        if (rc == STELE_SUB_TIMEOUT)
            break;
        if (rc == STELE_SUB_CAUGHT_UP) {
            caught++;
            continue;
        }
        assert_int_equal(rc, STELE_SUB_EVENT);
        assert_true(strncmp(ev.stream, "order-", 6) == 0);
        assert_string_equal(ev.type, "Paid");
        assert_true(ev.position > last);
        last = ev.position;
        seen++;
    }
    /* k % 4 in {0, 1} and k % 3 == 1 over k < 120 (positions shift by one after k = 59). */
    unsigned want = 0;
    for (unsigned k = 0; k < 120; k++)
        want += (k % 4 <= 1) && (k % 3 == 1);
    assert_int_equal(seen, want);
    assert_int_equal(caught, 1);
    assert_int_equal(stele_subscription_next(sys, &ev, 0), STELE_SUB_EVENT);
    assert_string_equal(ev.stream, "$$order-1");
    assert_string_equal(ev.type, "$metadata");
    assert_int_equal(ev.position, 61);
    assert_int_equal(stele_subscription_next(sys, &ev, 0), STELE_SUB_CAUGHT_UP);
    unsigned n = 0;
    while (stele_subscription_next(pre, &ev, 0) == STELE_SUB_EVENT) {
        assert_string_equal(ev.stream, "cust-2");
        assert_true(ev.position > 30);
        n++;
    }
    assert_int_equal(n, 30 - 7); /* k % 4 == 3 for k in [30, 120): 22 + 1 */
    stele_subscription_close(sub);
    stele_subscription_close(sys);
    stele_subscription_close(pre);
}

/* ---- waiting, timeout, cancel, close ----------------------------------------------------- */

static void test_timeout(void **state) {
    tu_fixture_t *f = *state;
    stele_store_t *s = f->s;
    stele_subscription_t *sub = subscribe(s, NULL, 0, true, NULL);
    stele_event_t ev;
    assert_int_equal(stele_subscription_next(sub, &ev, 0), STELE_SUB_CAUGHT_UP);
    int64_t t0 = now_ms();
    assert_int_equal(stele_subscription_next(sub, &ev, 80), STELE_SUB_TIMEOUT);
    int64_t took = now_ms() - t0;
    assert_true(took >= 75);
    assert_true(took < 2000);
    /* Events that do not pass the filter do not end the wait early with an event. */
    stele_filter_t fl;
    memset(&fl, 0, sizeof fl);
    fl.type = "Never";
    stele_subscription_t *none = subscribe(s, NULL, 0, true, &fl);
    assert_int_equal(stele_subscription_next(none, &ev, 0), STELE_SUB_CAUGHT_UP);
    append_k(s, 0);
    assert_int_equal(stele_subscription_next(none, &ev, 50), STELE_SUB_TIMEOUT);
    assert_int_equal(stele_subscription_position(none), 1);
    stele_subscription_close(none);
    stele_subscription_close(sub);
}

typedef struct waiter {
    stele_subscription_t *sub;
    int rc;
    atomic_int started;
    int64_t returned_ms;
} waiter_t;

static void *wait_forever(void *p) {
    waiter_t *w = p;
    stele_event_t ev;
    atomic_store(&w->started, 1);
    w->rc = stele_subscription_next(w->sub, &ev, -1);
    w->returned_ms = now_ms();
    return NULL;
}

static void test_cancel_wakes_waiter(void **state) {
    tu_fixture_t *f = *state;
    stele_store_t *s = f->s;
    append_k(s, 0);
    waiter_t w = {.sub = subscribe(s, NULL, 0, true, NULL)};
    stele_event_t ev;
    assert_int_equal(stele_subscription_next(w.sub, &ev, 0), STELE_SUB_CAUGHT_UP);
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, wait_forever, &w), 0);
    while (!atomic_load(&w.started))
        sleep_ms(1);
    sleep_ms(50); /* let it block */
    int64_t t0 = now_ms();
    stele_subscription_cancel(w.sub);
    pthread_join(th, NULL);
    assert_int_equal(w.rc, STELE_ECLOSED);
    assert_true(w.returned_ms - t0 < 1000);
    /* Later calls fail the same way, even with events waiting. */
    append_k(s, 1);
    assert_int_equal(stele_subscription_next(w.sub, &ev, 0), STELE_ECLOSED);
    stele_subscription_close(w.sub);
    /* Another subscription is unaffected. */
    stele_subscription_t *other = subscribe(s, NULL, 0, false, NULL);
    assert_int_equal(stele_subscription_next(other, &ev, 0), STELE_SUB_EVENT);
    stele_subscription_close(other);
}

static void test_store_close_ends_waiters(void **state) {
    tu_fixture_t *f = *state;
    stele_store_t *s = f->s;
    append_k(s, 0);
    enum { N = 3 };
    waiter_t w[N];
    pthread_t th[N];
    for (int i = 0; i < N; i++) {
        memset(&w[i], 0, sizeof w[i]);
        w[i].sub = subscribe(s, i == 2 ? "order-1" : NULL, 0, true, NULL);
        stele_event_t ev;
        assert_int_equal(stele_subscription_next(w[i].sub, &ev, 0), STELE_SUB_CAUGHT_UP);
        assert_int_equal(pthread_create(&th[i], NULL, wait_forever, &w[i]), 0);
    }
    for (int i = 0; i < N; i++)
        while (!atomic_load(&w[i].started))
            sleep_ms(1);
    sleep_ms(50);
    assert_int_equal(stele_store_close(s), 0);
    f->s = NULL;
    for (int i = 0; i < N; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(w[i].rc, STELE_ECLOSED);
        stele_subscription_close(w[i].sub);
    }
    f->s = tu_open(f->dir);
}

/* ---- live appends while catching up ------------------------------------------------------ */

typedef struct feeder {
    stele_store_t *s;
    uint64_t seed;
    unsigned count;
    atomic_int done;
} feeder_t;

static void *feed(void *p) {
    feeder_t *fd = p;
    tu_rng_t rng;
    tu_rng_init(&rng, fd->seed);
    for (unsigned k = 0; k < fd->count; k++) {
        if (tu_rnd_below(&rng, 4) == 0) {
            /* A commit over two streams. */
            stele_event_in_t a = tu_event(TYPES[k % 3], "{\"c\":1}");
            stele_event_in_t b[2] = {tu_event("Placed", "{\"c\":2}"), tu_event("Paid", "{}")};
            stele_append_part_t parts[2] = {
                {.stream = "cust-1",
                 .expected_version = STELE_EXPECT_ANY,
                 .events = &a,
                 .count = 1},
                {.stream = "order-2",
                 .expected_version = STELE_EXPECT_ANY,
                 .events = b,
                 .count = 2},
            };
            assert_int_equal(stele_commit(fd->s, parts, 2, NULL), 0);
        } else {
            append_k(fd->s, 1000 + k);
        }
        if (tu_rnd_below(&rng, 50) == 0)
            sleep_ms(1);
    }
    atomic_store(&fd->done, 1);
    return NULL;
}

typedef struct collector {
    stele_store_t *s;
    const char *stream;
    stele_filter_t filter;
    bool use_filter;
    uint64_t *pos;
    size_t n, cap;
    size_t caught_up_at; /* events delivered before CAUGHT_UP */
    unsigned caught_up;
    feeder_t *fd;
    int error;
} collector_t;

static void *collect(void *p) {
    collector_t *c = p;
    stele_subscription_t *sub =
        subscribe(c->s, c->stream, 0, false, c->use_filter ? &c->filter : NULL);
    for (;;) {
        stele_event_t ev;
        int rc = stele_subscription_next(sub, &ev, 200);
        if (rc == STELE_SUB_TIMEOUT) {
            if (atomic_load(&c->fd->done))
                break;
            continue;
        }
        if (rc == STELE_SUB_CAUGHT_UP) {
            c->caught_up++;
            c->caught_up_at = c->n;
            continue;
        }
        if (rc != STELE_SUB_EVENT) {
            c->error = rc;
            break;
        }
        if (c->n == c->cap) {
            c->cap = c->cap ? c->cap * 2 : 1024;
            c->pos = realloc(c->pos, c->cap * sizeof(*c->pos));
        }
        c->pos[c->n++] = ev.position;
    }
    stele_subscription_close(sub);
    return NULL;
}

static void test_no_gap_no_duplicate_while_appending(void **state) {
    tu_fixture_t *f = *state;
    stele_store_t *s = f->s;
    uint64_t seed = tu_seed("test_no_gap_no_duplicate_while_appending");
    for (unsigned k = 0; k < 500; k++)
        append_k(s, k);
    feeder_t fd = {.s = s, .seed = seed, .count = 3000};
    enum { NC = 4 };
    collector_t c[NC];
    memset(c, 0, sizeof c);
    for (int i = 0; i < NC; i++) {
        c[i].s = s;
        c[i].fd = &fd;
    }
    c[1].stream = "order-2";
    c[2].use_filter = true;
    c[2].filter.type = "Paid";
    c[3].use_filter = true;
    c[3].filter.category = "cust";
    pthread_t th[NC], ft;
    assert_int_equal(pthread_create(&ft, NULL, feed, &fd), 0);
    for (int i = 0; i < NC; i++)
        assert_int_equal(pthread_create(&th[i], NULL, collect, &c[i]), 0);
    pthread_join(ft, NULL);
    for (int i = 0; i < NC; i++)
        pthread_join(th[i], NULL);

    tu_events_t all = {0};
    assert_int_equal(tu_read_all(s, NULL, &all), 0);
    assert_int_equal(all.n, tu_head(s));
    for (int i = 0; i < NC; i++) {
        assert_int_equal(c[i].error, 0);
        assert_int_equal(c[i].caught_up, 1);
        size_t k = 0;
        for (size_t j = 0; j < all.n; j++) {
            const tu_event_t *e = &all.v[j];
            bool match = true;
            if (c[i].stream)
                match = strcmp(e->stream, c[i].stream) == 0;
            if (c[i].use_filter && c[i].filter.type)
                match = strcmp(e->type, c[i].filter.type) == 0;
            if (c[i].use_filter && c[i].filter.category)
                match = strncmp(e->stream, "cust-", 5) == 0;
            if (!match)
                continue;
            if (k >= c[i].n || c[i].pos[k] != e->position) {
                fprintf(stderr,
                        "collector %d: delivery %zu is position %" PRIu64 ", the log has %" PRIu64
                        "\n",
                        i, k, k < c[i].n ? c[i].pos[k] : 0, e->position);
                fail();
            }
            k++;
        }
        assert_int_equal(k, c[i].n);
        printf("[ info     ] collector %d: %zu events, caught up after %zu\n", i, c[i].n,
               c[i].caught_up_at);
        free(c[i].pos);
    }
    tu_events_free(&all);
}

/* ---- stele_subscription_poll: bounded work per call ---------------------------------------- */

/* Everything a subscription delivers (positions, then 0 for the caught-up signal), driven by
 * stele_subscription_next() or by poll() with budgets drawn from rng (NULL: next()). */
static size_t drain(stele_subscription_t *sub, tu_rng_t *rng, uint64_t *out, size_t cap) {
    size_t n = 0;
    stele_event_t ev;
    for (unsigned calls = 0; calls < 1000000; calls++) {
        int rc;
        if (rng) {
            uint64_t budget = tu_rnd_below(rng, 20);
            uint64_t given = budget;
            rc = stele_subscription_poll(sub, &ev, &budget);
            assert_true(budget <= given);
            if (rc == STELE_SUB_MORE) {
                assert_int_equal(budget, 0);
                continue;
            }
        } else {
            rc = stele_subscription_next(sub, &ev, 0);
        }
        if (rc == STELE_SUB_TIMEOUT)
            return n;
        assert_true(rc == STELE_SUB_EVENT || rc == STELE_SUB_CAUGHT_UP);
        assert_true(n < cap);
        out[n++] = rc == STELE_SUB_EVENT ? ev.position : 0;
    }
    fail_msg("the subscription made no progress");
    return n;
}

static void test_poll_budget(void **state) {
    tu_fixture_t *f = *state;
    stele_store_t *s = f->s;
    for (unsigned k = 0; k < 1000; k++)
        append_k(s, k);
    stele_event_t ev;

    /* A filter that matches nothing: each call examines exactly its budget, and the position
     * shows how far it got; then caught up. */
    stele_filter_t nope = {.type = "Nope"};
    stele_subscription_t *sub = subscribe(s, NULL, 0, false, &nope);
    for (uint64_t p = 100; p < 1000; p += 100) {
        uint64_t budget = 100;
        assert_int_equal(stele_subscription_poll(sub, &ev, &budget), STELE_SUB_MORE);
        assert_int_equal(budget, 0);
        assert_int_equal(stele_subscription_position(sub), p);
    }
    uint64_t budget = 100; /* exactly what is left */
    assert_int_equal(stele_subscription_poll(sub, &ev, &budget), STELE_SUB_CAUGHT_UP);
    assert_int_equal(budget, 0);
    assert_int_equal(stele_subscription_position(sub), 1000);
    assert_int_equal(stele_subscription_poll(sub, &ev, &budget), STELE_SUB_TIMEOUT);
    append_k(s, 1000);
    assert_int_equal(stele_subscription_poll(sub, &ev, &budget), STELE_SUB_MORE);
    budget = 5;
    assert_int_equal(stele_subscription_poll(sub, &ev, &budget), STELE_SUB_TIMEOUT);
    assert_int_equal(budget, 4);
    assert_int_equal(stele_subscription_position(sub), 1001);
    assert_int_equal(stele_subscription_poll(sub, &ev, NULL), STELE_EINVAL);
    stele_subscription_close(sub);

    /* Whatever the budgets, poll() delivers what next() does: $all with and without a filter,
     * one stream from the start and from late in its history. */
    uint64_t seed = tu_seed("test_poll_budget");
    tu_rng_t rng;
    tu_rng_init(&rng, seed);
    stele_filter_t paid = {.type = "Paid"};
    struct {
        const char *stream;
        uint64_t after;
        const stele_filter_t *filter;
    } cases[] = {{NULL, 0, NULL},
                 {NULL, 0, &paid},
                 {NULL, 700, &paid},
                 {"order-2", 0, NULL},
                 {"order-1", 900, NULL}};
    enum { CAP = 1100 };
    static uint64_t want[CAP], got[CAP];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        stele_subscription_t *a =
            subscribe(s, cases[i].stream, cases[i].after, false, cases[i].filter);
        stele_subscription_t *b =
            subscribe(s, cases[i].stream, cases[i].after, false, cases[i].filter);
        size_t nw = drain(a, NULL, want, CAP);
        size_t ng = drain(b, &rng, got, CAP);
        assert_true(nw > 1);
        assert_int_equal(ng, nw);
        assert_memory_equal(got, want, nw * sizeof want[0]);
        stele_subscription_close(a);
        stele_subscription_close(b);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_history_caught_up_live, tu_store_setup,
                                        tu_store_teardown),
        cmocka_unit_test_setup_teardown(test_stream_subscription, tu_store_setup,
                                        tu_store_teardown),
        cmocka_unit_test_setup_teardown(test_filtered_subscription, tu_store_setup,
                                        tu_store_teardown),
        cmocka_unit_test_setup_teardown(test_timeout, tu_store_setup, tu_store_teardown),
        cmocka_unit_test_setup_teardown(test_cancel_wakes_waiter, tu_store_setup,
                                        tu_store_teardown),
        cmocka_unit_test_setup_teardown(test_store_close_ends_waiters, tu_store_setup,
                                        tu_store_teardown),
        cmocka_unit_test_setup_teardown(test_no_gap_no_duplicate_while_appending, tu_store_setup,
                                        tu_store_teardown),
        cmocka_unit_test_setup_teardown(test_poll_budget, tu_store_setup, tu_store_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
