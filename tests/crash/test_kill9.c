/*
 * test_kill9.c -- kill -9 at random moments while four threads append (TESTING.md, fault class
 * "process killed at any moment").
 *
 * The test binary re-executes itself ("/proc/self/exe --child DIR ACKLOG SEED") as the appender: it
 * opens the store (SYNC, 1 MiB segments so that rolls happen), runs 4 threads making single-event
 * and multi-event appends, multi-stream commits, appends with EXPECT_ANY to a shared stream, and
 * immediate idempotent retries, every event with a client id. Before each call it logs an intent
 * (the ids), after each success an ack per event (chk_intent / chk_ack). The parent kills it with
 * SIGKILL after a seeded random delay, reopens the store, runs the checker over every ack of every
 * cycle so far, retries each append whose outcome is unknown with the same ids and expected
 * versions (it must be answered idempotently or written once, never twice), retries some
 * acknowledged appends with expected version any (each must be answered with its acknowledged
 * result and write nothing: the event-id index caught up from the log), and starts the next
 * cycle on the same store. STELE_KILL9_CYCLES sets the cycle count (default and minimum 50);
 * STELE_TEST_SEED replays a run.
 */
#include "checker.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define THREADS 4
#define OWN_STREAMS 6
#define SEGMENT_BYTES ((uint64_t)1 << 20)

/* ---- the child: appenders -------------------------------------------------------------------- */

typedef struct worker {
    stele_store_t *s;
    chk_t *c;
    int t;
    chk_rng_t rng;
    int64_t ver[OWN_STREAMS];
    char names[OWN_STREAMS][32];
} worker_t;

static void die(const char *what, int rc) {
    fprintf(stderr, "child: %s: %s (%s)\n", what, stele_strerror(rc), stele_errdetail());
    fflush(stderr);
    _exit(3);
}

static void new_id(worker_t *w, stele_uuid_t *id) {
    stele_uuid_generate(id);
    /* vary the payload shape independently of the time-ordered bytes */
    uint64_t r = chk_rnd(&w->rng);
    memcpy(id->bytes + 12, &r, 4);
}

static void *worker_main(void *arg) {
    worker_t *w = arg;
    enum { MAXEV = 12 };
    chk_event_t evs[MAXEV];
    stele_event_in_t ins[MAXEV];
    stele_append_part_t parts[3];
    size_t nparts = 0;
    bool last_exact = false;
    for (;;) {
        unsigned op = (unsigned)chk_below(&w->rng, 10);
        if (op == 9 && last_exact) {
            /* Retry the previous append with the same ids and expected versions: it must be
             * recognised as already written. */
            chk_intent(w->c, parts, nparts, true);
            int rc = stele_commit(w->s, parts, nparts, NULL);
            if (rc < 0)
                die("idempotent retry", rc);
            for (size_t i = 0; i < nparts; i++)
                if (!parts[i].result.idempotent)
                    die("retry not recognised as idempotent", STELE_EINVAL);
            if (chk_ack(w->c, parts, nparts) < 0) {
                fprintf(stderr, "child: %s\n", chk_last_error(w->c));
                _exit(3);
            }
            continue;
        }
        size_t e = 0;
        nparts = 0;
        bool exact = true;
        int idx[3];
        if (op <= 5) {
            size_t n = op <= 3 ? 1 : 2 + chk_below(&w->rng, 5);
            idx[0] = (int)chk_below(&w->rng, OWN_STREAMS);
            parts[0] = (stele_append_part_t){.stream = w->names[idx[0]],
                                             .expected_version = w->ver[idx[0]],
                                             .events = &ins[0],
                                             .count = n};
            e = n;
            nparts = 1;
        } else if (op <= 8 && op != 8) {
            nparts = 2 + chk_below(&w->rng, 2);
            int first = (int)chk_below(&w->rng, OWN_STREAMS);
            for (size_t i = 0; i < nparts; i++) {
                idx[i] = (first + (int)i) % OWN_STREAMS;
                size_t n = 1 + chk_below(&w->rng, 3);
                parts[i] = (stele_append_part_t){.stream = w->names[idx[i]],
                                                 .expected_version = w->ver[idx[i]],
                                                 .events = &ins[e],
                                                 .count = n};
                e += n;
            }
        } else {
            exact = false;
            size_t n = 1 + chk_below(&w->rng, 3);
            parts[0] = (stele_append_part_t){.stream = "shared",
                                             .expected_version = STELE_EXPECT_ANY,
                                             .events = &ins[0],
                                             .count = n};
            e = n;
            nparts = 1;
        }
        for (size_t k = 0; k < e; k++) {
            stele_uuid_t id;
            new_id(w, &id);
            chk_event_make(&evs[k], &id);
            ins[k] = evs[k].in;
        }
        chk_intent(w->c, parts, nparts, exact);
        int rc = stele_commit(w->s, parts, nparts, NULL);
        if (rc < 0)
            die("append", rc);
        if (chk_ack(w->c, parts, nparts) < 0) {
            fprintf(stderr, "child: %s\n", chk_last_error(w->c));
            _exit(3);
        }
        if (exact)
            for (size_t i = 0; i < nparts; i++)
                w->ver[idx[i]] = parts[i].result.last_version;
        last_exact = exact;
    }
    return NULL;
}

static int child_main(const char *dir, const char *acklog, uint64_t seed) {
    stele_options_t o;
    stele_options_init(&o);
    o.flags = STELE_OPEN_CREATE;
    o.durability = STELE_DURABILITY_SYNC;
    o.segment_size_bytes = SEGMENT_BYTES;
    stele_store_t *s = NULL;
    int rc = stele_store_open(dir, &o, &s);
    if (rc < 0)
        die("open", rc);
    chk_t *c = chk_new(acklog);
    worker_t w[THREADS];
    pthread_t th[THREADS];
    for (int t = 0; t < THREADS; t++) {
        w[t].s = s;
        w[t].c = c;
        w[t].t = t;
        w[t].rng.s = seed * 1000003u + (uint64_t)t;
        for (int j = 0; j < OWN_STREAMS; j++) {
            snprintf(w[t].names[j], sizeof w[t].names[j], "k%d-%d", t, j);
            stele_stream_info_t info;
            rc = stele_stream_info(s, w[t].names[j], &info);
            if (rc == STELE_ENOTFOUND)
                w[t].ver[j] = STELE_EXPECT_NO_STREAM;
            else if (rc < 0)
                die("stream info", rc);
            else
                w[t].ver[j] = info.last_version;
        }
        pthread_create(&th[t], NULL, worker_main, &w[t]);
    }
    for (int t = 0; t < THREADS; t++)
        pthread_join(th[t], NULL);
    return 0;
}

/* ---- the parent ------------------------------------------------------------------------------ */

static void sleep_ms(uint64_t ms) {
    struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR) {
    }
}

static void test_kill9(void **state) {
    (void)state;
    uint64_t seed = chk_seed("kill9");
    chk_rng_t rng = {seed};
    uint64_t cycles = chk_env_u64("STELE_KILL9_CYCLES", 50);
    if (cycles < 50)
        cycles = 50;
    char root[4096], dir[4200], acklog[4200], errpath[4200];
    chk_tmpdir(root, sizeof root, "kill9");
    snprintf(dir, sizeof dir, "%s/store", root);
    snprintf(acklog, sizeof acklog, "%s/acks.log", root);
    snprintf(errpath, sizeof errpath, "%s/child.err", root);
    uint64_t killed_in_open = 0, total_retried = 0, total_idem = 0, total_acked_retried = 0;
    chk_stats_t st = {0};
    for (uint64_t cycle = 0; cycle < cycles; cycle++) {
        uint64_t delay = 10 + chk_below(&rng, 150);
        char seedtext[32];
        snprintf(seedtext, sizeof seedtext, "%" PRIu64, chk_rnd(&rng));
        pid_t pid = fork();
        if (pid == 0) {
            FILE *ef = freopen(errpath, "w", stderr);
            (void)ef;
            execl("/proc/self/exe", "test_kill9", "--child", dir, acklog, seedtext, (char *)NULL);
            _exit(127);
        }
        assert_true(pid > 0);
        sleep_ms(delay);
        kill(pid, SIGKILL);
        int status = 0;
        assert_int_equal(waitpid(pid, &status, 0), pid);
        if (!(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)) {
            uint8_t *buf = NULL;
            size_t len = 0;
            if (chk_read_file(errpath, &buf, &len) == 0) {
                fprintf(stderr, "%.*s", (int)len, (const char *)buf);
                free(buf);
            }
            fail_msg("cycle %" PRIu64 ": the child ended by itself (status 0x%x); seed %" PRIu64,
                     cycle, status, seed);
        }
        if (access(dir, F_OK) != 0) {
            killed_in_open++;
            continue;
        }
        chk_t *c = chk_new(acklog);
        assert_int_equal(chk_load(c, acklog), 0);
        stele_store_t *s = NULL;
        stele_options_t o;
        stele_options_init(&o);
        o.segment_size_bytes = SEGMENT_BYTES;
        int rc = stele_store_open(dir, &o, &s);
        if (rc == STELE_ENOTSTORE) {
            /* killed while creating the store, before its marker was written */
            killed_in_open++;
            chk_free(c);
            continue;
        }
        if (rc < 0)
            fail_msg("cycle %" PRIu64 ": reopen failed: %s (%s); seed %" PRIu64, cycle,
                     stele_strerror(rc), stele_errdetail(), seed);
        if (chk_verify(c, s) < 0)
            fail_msg("cycle %" PRIu64 " (killed after %" PRIu64 " ms): %s; seed %" PRIu64, cycle,
                     delay, chk_last_error(c), seed);
        uint64_t again = 0;
        char err[512];
        if (chk_retry_acked(c, s, &rng, 20, &again, err, sizeof err) < 0)
            fail_msg("cycle %" PRIu64 ": %s; seed %" PRIu64, cycle, err, seed);
        total_acked_retried += again;
        chk_retry_t r = {.s = s, .c = c};
        if (chk_for_each_unknown(c, chk_retry_one, &r) < 0)
            fail_msg("cycle %" PRIu64 ": %s; seed %" PRIu64, cycle, r.err, seed);
        total_retried += r.retried;
        total_idem += r.idempotent;
        if (cycle + 1 == cycles && chk_verify(c, s) < 0)
            fail_msg("cycle %" PRIu64 " after retries: %s; seed %" PRIu64, cycle, chk_last_error(c),
                     seed);
        chk_get_stats(c, &st);
        assert_int_equal(stele_store_close(s), 0);
        chk_free(c);
    }
    printf("kill9: %" PRIu64 " cycles, %" PRIu64 " acknowledged events checked, head %" PRIu64
           ", %" PRIu64 " streams, %" PRIu64 " unknown outcomes retried (%" PRIu64
           " found already written), %" PRIu64 " acknowledged appends retried (expected version "
           "any) and answered idempotently, %" PRIu64 " kills before the store existed\n",
           cycles, st.acked, st.head, st.streams, total_retried, total_idem, total_acked_retried,
           killed_in_open);
    chk_rmtree(root);
}

int main(int argc, char **argv) {
    if (argc == 5 && strcmp(argv[1], "--child") == 0)
        return child_main(argv[2], argv[3], strtoull(argv[4], NULL, 10));
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_kill9)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
