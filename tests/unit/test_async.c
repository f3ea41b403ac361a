/*
 * test_async.c -- asynchronous commits (stele_commit_async) and the commit hook
 * (stele_store_on_commit), the two calls an event loop serves clients with.
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
#include <string.h>

#define N 200

typedef struct job {
    stele_append_part_t part;
    stele_event_in_t ev;
    char stream[32];
    int status;
    char detail[256];
    size_t failed_part;
} job_t;

typedef struct done {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int count;
} done_t;

static done_t done = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0};

static void on_done(void *arg, int status, const char *detail, stele_append_part_t *parts,
                    size_t count, size_t failed_part) {
    job_t *j = arg;
    assert_ptr_equal(parts, &j->part);
    assert_int_equal(count, 1);
    j->status = status;
    snprintf(j->detail, sizeof j->detail, "%s", detail);
    j->failed_part = failed_part;
    pthread_mutex_lock(&done.mu);
    done.count++;
    pthread_cond_signal(&done.cv);
    pthread_mutex_unlock(&done.mu);
}

static void wait_for(int count) {
    pthread_mutex_lock(&done.mu);
    while (done.count < count)
        pthread_cond_wait(&done.cv, &done.mu);
    pthread_mutex_unlock(&done.mu);
}

static _Atomic uint64_t hook_head;
static _Atomic int hook_calls;
static _Atomic int hook_backwards;

static void on_commit(void *arg, uint64_t head) {
    (void)arg;
    if (head < atomic_load(&hook_head))
        atomic_store(&hook_backwards, 1);
    atomic_store(&hook_head, head);
    atomic_fetch_add(&hook_calls, 1);
}

static void test_async_commits(void **state) {
    tu_fixture_t *f = *state;
    stele_store_on_commit(f->s, on_commit, NULL);
    static job_t jobs[N];
    done.count = 0;
    for (int i = 0; i < N; i++) {
        job_t *j = &jobs[i];
        snprintf(j->stream, sizeof j->stream, "async-%d", i % 10);
        j->ev = tu_event("Happened", "{\"i\":1}");
        /* every tenth append expects the stream not to exist: only the first of each can pass */
        j->part = (stele_append_part_t){.stream = j->stream,
                                        .expected_version =
                                            i % 10 == 0 ? STELE_EXPECT_NO_STREAM : STELE_EXPECT_ANY,
                                        .events = &j->ev,
                                        .count = 1};
        assert_int_equal(stele_commit_async(f->s, &j->part, 1, on_done, j, NULL), 0);
    }
    wait_for(N);
    int ok = 0, conflicts = 0;
    for (int i = 0; i < N; i++) {
        job_t *j = &jobs[i];
        if (j->status == 0) {
            ok++;
            assert_int_equal(j->failed_part, 1);
            assert_true(j->part.result.first_position >= 1);
            assert_int_equal(j->part.result.first_position, j->part.result.last_position);
        } else {
            assert_int_equal(j->status, STELE_ECONFLICT);
            assert_int_equal(j->failed_part, 0);
            assert_non_null(strstr(j->detail, "expected no stream"));
            conflicts++;
        }
    }
    /* appends run in queue order: "async-0" at i = 0 is new, i = 10, 20, ... are not */
    assert_int_equal(jobs[0].status, 0);
    assert_int_equal(conflicts, N / 10 - 1);
    assert_int_equal(ok, N - conflicts);
    assert_int_equal(tu_head(f->s), (uint64_t)ok);
    assert_int_equal(atomic_load(&hook_head), (uint64_t)ok);
    assert_true(atomic_load(&hook_calls) >= 1);
    assert_int_equal(atomic_load(&hook_backwards), 0);
    stele_store_on_commit(f->s, NULL, NULL);
}

static void test_async_rejects_before_queueing(void **state) {
    tu_fixture_t *f = *state;
    job_t j;
    memset(&j, 0, sizeof j);
    j.ev = tu_event("Happened", "{not json");
    j.part = (stele_append_part_t){
        .stream = "s-1", .expected_version = STELE_EXPECT_ANY, .events = &j.ev, .count = 1};
    done.count = 0;
    size_t failed = 99;
    assert_int_equal(stele_commit_async(f->s, &j.part, 1, on_done, &j, &failed), STELE_EJSON);
    assert_int_equal(failed, 0); /* the part at fault */
    tu_assert_detail();
    assert_int_equal(done.count, 0); /* no callback for a request never queued */
    assert_int_equal(stele_commit_async(f->s, &j.part, 1, NULL, &j, NULL), STELE_EINVAL);
    assert_int_equal(tu_head(f->s), 0);
}

static void test_async_queue_full(void **state) {
    (void)state;
    char dir[4096];
    tu_tmpdir(dir, sizeof dir, "async-busy");
    stele_options_t o;
    tu_options(&o);
    o.flags = STELE_OPEN_CREATE;
    o.queue_capacity = 1;
    o.durability = STELE_DURABILITY_SYNC;
    stele_store_t *s = NULL;
    assert_int_equal(stele_store_open(dir, &o, &s), 0);
    static job_t jobs[N];
    done.count = 0;
    int queued = 0, busy = 0;
    for (int i = 0; i < N; i++) {
        job_t *j = &jobs[i];
        j->ev = tu_event("Happened", "{}");
        j->part = (stele_append_part_t){
            .stream = "busy-1", .expected_version = STELE_EXPECT_ANY, .events = &j->ev, .count = 1};
        int rc = stele_commit_async(s, &j->part, 1, on_done, j, NULL);
        if (rc == 0)
            queued++;
        else {
            assert_int_equal(rc, STELE_EBUSY);
            busy++;
        }
    }
    wait_for(queued);
    assert_int_equal(queued + busy, N);
    assert_true(queued >= 1);
    assert_int_equal(tu_head(s), (uint64_t)queued); /* every queued one, and nothing else */
    assert_int_equal(stele_store_close(s), 0);
    tu_rmtree(dir);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_async_commits, tu_store_setup, tu_store_teardown),
        cmocka_unit_test_setup_teardown(test_async_rejects_before_queueing, tu_store_setup,
                                        tu_store_teardown),
        cmocka_unit_test(test_async_queue_full),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
