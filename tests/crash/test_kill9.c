/*
 * test_kill9.c -- kill -9 at random moments while four threads append (TESTING.md, fault class
 * "process killed at any moment").
 *
 * The test binary re-executes itself ("/proc/self/exe --child DIR ACKLOG PROGRESS SEED THREADS") as
 * the appender: it opens the store (SYNC, 1 MiB segments so that rolls happen), runs 4 threads
 * making single-event and multi-event appends, multi-stream commits, appends with EXPECT_ANY to a
 * shared stream, and immediate idempotent retries, every event with a client id. Before each call
 * it logs an intent (the ids), after each success an ack per event (chk_intent / chk_ack). The
 * parent kills it with SIGKILL after a seeded random delay, reopens the store, runs the checker
 * over every ack of every cycle so far, retries each append whose outcome is unknown with the same
 * ids and expected versions (it must be answered idempotently or written once, never twice),
 * retries some acknowledged appends with expected version any (each must be answered with its
 * acknowledged result and write nothing: the event-id index caught up from the log), and starts
 * the next cycle on the same store. STELE_KILL9_CYCLES sets the cycle count (default and minimum
 * 50).
 *
 * Progress is asserted, relative to a calibration in the same run (no absolute rate): before the
 * cycles, one appender thread runs alone for CALIBRATE_MS and measures how many events one thread
 * gets acknowledged per millisecond on this machine now. The child counts the events each thread
 * got acknowledged in a small shared file (mapped, so that a SIGKILL leaves the counts), with the
 * time it started appending. Then:
 *   - over all cycles, the four threads together must be acknowledged at least a quarter of what
 *     one thread alone would have been in the same running time;
 *   - in three out of four cycles that appended for at least 100 ms, at least one event and a
 *     twentieth of it (not every cycle: a loaded machine can stall one, say a segment roll
 *     waiting behind other processes' I/O);
 *   - every one of the four threads must have at least a sixteenth of its share, so that the
 *     concurrent appenders themselves (not only the parent's single-threaded retries) are shown to
 *     be acknowledged: a writer that stalls when two requests share a batch fails here.
 *
 * STELE_TEST_SEED replays a run: the kill delays and, through each cycle's child seed, every
 * thread's workload (operations, streams, event counts, event ids and so payloads) come from it;
 * the interleaving of the threads is the scheduler's.
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
#include <fcntl.h>
#include <stdatomic.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define THREADS 4
#define OWN_STREAMS 6
#define SEGMENT_BYTES ((uint64_t)1 << 20)
#define CALIBRATE_MS 400

/* The progress file the child maps: when it started appending, and the events each thread got
 * acknowledged. */
typedef struct progress {
    _Atomic uint64_t started_ns; /* CLOCK_MONOTONIC; 0 until the store is open */
    _Atomic uint64_t acked[THREADS];
} progress_t;

static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static progress_t *map_progress(const char *path, bool reset) {
    int fd = open(path, O_RDWR | O_CREAT | (reset ? O_TRUNC : 0), 0644);
    if (fd < 0 || ftruncate(fd, sizeof(progress_t)) < 0)
        return NULL;
    void *p = mmap(NULL, sizeof(progress_t), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
    return p == MAP_FAILED ? NULL : p;
}

/* ---- the child: appenders -------------------------------------------------------------------- */

typedef struct worker {
    stele_store_t *s;
    chk_t *c;
    int t;
    chk_rng_t rng;
    int64_t ver[OWN_STREAMS];
    char names[OWN_STREAMS][32];
    _Atomic uint64_t *acked; /* this thread's counter in the progress file */
} worker_t;

static void die(const char *what, int rc) {
    fprintf(stderr, "child: %s: %s (%s)\n", what, stele_strerror(rc), stele_errdetail());
    fflush(stderr);
    _exit(3);
}

/* A version 4 UUID from the thread's seeded generator: the ids, and so the payloads
 * (chk_event_make), replay from the seed. */
static void new_id(worker_t *w, stele_uuid_t *id) {
    uint64_t a = chk_rnd(&w->rng), b = chk_rnd(&w->rng);
    memcpy(id->bytes, &a, 8);
    memcpy(id->bytes + 8, &b, 8);
    id->bytes[6] = (uint8_t)((id->bytes[6] & 0x0f) | 0x40);
    id->bytes[8] = (uint8_t)((id->bytes[8] & 0x3f) | 0x80);
}

static size_t events_in(const stele_append_part_t *parts, size_t nparts) {
    size_t n = 0;
    for (size_t i = 0; i < nparts; i++)
        n += parts[i].count;
    return n;
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
            atomic_fetch_add(w->acked, events_in(parts, nparts));
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
        atomic_fetch_add(w->acked, events_in(parts, nparts));
        if (exact)
            for (size_t i = 0; i < nparts; i++)
                w->ver[idx[i]] = parts[i].result.last_version;
        last_exact = exact;
    }
    return NULL;
}

static int child_main(const char *dir, const char *acklog, const char *progress_path, uint64_t seed,
                      int threads) {
    progress_t *pg = map_progress(progress_path, false);
    if (!pg)
        die("progress file", -errno);
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
    for (int t = 0; t < threads; t++) {
        w[t].acked = &pg->acked[t];
        w[t].s = s;
        w[t].c = c;
        w[t].t = t;
        w[t].rng.s = seed * 1000003u + (uint64_t)t;
        for (int j = 0; j < OWN_STREAMS; j++) {
            snprintf(w[t].names[j], sizeof w[t].names[j], "k%d-%d", t, j);
            stele_stream_info_t info = {.struct_size = sizeof info};
            rc = stele_stream_info(s, w[t].names[j], &info);
            if (rc == STELE_ENOTFOUND)
                w[t].ver[j] = STELE_EXPECT_NO_STREAM;
            else if (rc < 0)
                die("stream info", rc);
            else
                w[t].ver[j] = info.last_version;
        }
    }
    /* The appending starts now: the parent measures progress from here. */
    atomic_store(&pg->started_ns, now_ns());
    for (int t = 0; t < threads; t++)
        pthread_create(&th[t], NULL, worker_main, &w[t]);
    for (int t = 0; t < threads; t++)
        pthread_join(th[t], NULL);
    return 0;
}

/* ---- the parent ------------------------------------------------------------------------------ */

static void sleep_ms(uint64_t ms) {
    struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR) {
    }
}

typedef struct run {
    uint64_t seed;
    char dir[4200], acklog[4200], errpath[4200], progpath[4200];
    progress_t *pg;
    uint64_t killed_in_open, total_retried, total_idem, total_acked_retried;
    chk_stats_t st;
} run_t;

/* One cycle: start the child with threads appenders, kill it delay_ms after the fork (or, with
 * after_start, delay_ms after it started appending), reopen, check, retry the unknown outcomes.
 * *acked gets the events the child's threads got acknowledged, *ran_ms how long they ran. */
static void cycle(run_t *r, chk_rng_t *rng, uint64_t n, int threads, uint64_t delay_ms,
                  bool after_start, bool last, uint64_t acked[THREADS], uint64_t *ran_ms) {
    char seedtext[32], threadtext[8];
    snprintf(seedtext, sizeof seedtext, "%" PRIu64, chk_rnd(rng));
    snprintf(threadtext, sizeof threadtext, "%d", threads);
    memset(r->pg, 0, sizeof *r->pg);
    pid_t pid = fork();
    if (pid == 0) {
        FILE *ef = freopen(r->errpath, "w", stderr);
        (void)ef;
        execl("/proc/self/exe", "test_kill9", "--child", r->dir, r->acklog, r->progpath, seedtext,
              threadtext, (char *)NULL);
        _exit(127);
    }
    assert_true(pid > 0);
    if (after_start) {
        for (int i = 0; i < 30000 && atomic_load(&r->pg->started_ns) == 0; i++)
            sleep_ms(1);
        if (atomic_load(&r->pg->started_ns) == 0)
            fail_msg("calibration: the child did not open the store in 30 s; seed %" PRIu64,
                     r->seed);
    }
    sleep_ms(delay_ms);
    uint64_t killed_at = now_ns();
    kill(pid, SIGKILL);
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    if (!(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)) {
        uint8_t *buf = NULL;
        size_t len = 0;
        if (chk_read_file(r->errpath, &buf, &len) == 0) {
            fprintf(stderr, "%.*s", (int)len, (const char *)buf);
            free(buf);
        }
        fail_msg("cycle %" PRIu64 ": the child ended by itself (status 0x%x); seed %" PRIu64, n,
                 status, r->seed);
    }
    uint64_t started = atomic_load(&r->pg->started_ns);
    *ran_ms = started && killed_at > started ? (killed_at - started) / 1000000u : 0;
    for (int t = 0; t < THREADS; t++)
        acked[t] = atomic_load(&r->pg->acked[t]);
    if (access(r->dir, F_OK) != 0) {
        r->killed_in_open++;
        return;
    }
    chk_t *c = chk_new(r->acklog);
    assert_int_equal(chk_load(c, r->acklog), 0);
    stele_store_t *s = NULL;
    stele_options_t o;
    stele_options_init(&o);
    o.segment_size_bytes = SEGMENT_BYTES;
    int rc = stele_store_open(r->dir, &o, &s);
    if (rc == STELE_ENOTSTORE) {
        /* killed while creating the store, before its marker was written */
        r->killed_in_open++;
        chk_free(c);
        return;
    }
    if (rc < 0)
        fail_msg("cycle %" PRIu64 ": reopen failed: %s (%s); seed %" PRIu64, n, stele_strerror(rc),
                 stele_errdetail(), r->seed);
    if (chk_verify(c, s) < 0)
        fail_msg("cycle %" PRIu64 " (killed after %" PRIu64 " ms): %s; seed %" PRIu64, n, delay_ms,
                 chk_last_error(c), r->seed);
    /* Acknowledged appends retried with expected version any: answered with their acknowledged
     * result, nothing written (the event-id index caught up from the log at open). */
    uint64_t again = 0;
    char err[512];
    if (chk_retry_acked(c, s, rng, 20, &again, err, sizeof err) < 0)
        fail_msg("cycle %" PRIu64 ": %s; seed %" PRIu64, n, err, r->seed);
    r->total_acked_retried += again;
    chk_retry_t rt = {.s = s, .c = c};
    if (chk_for_each_unknown(c, chk_retry_one, &rt) < 0)
        fail_msg("cycle %" PRIu64 ": %s; seed %" PRIu64, n, rt.err, r->seed);
    r->total_retried += rt.retried;
    r->total_idem += rt.idempotent;
    if (last && chk_verify(c, s) < 0)
        fail_msg("cycle %" PRIu64 " after retries: %s; seed %" PRIu64, n, chk_last_error(c),
                 r->seed);
    chk_get_stats(c, &r->st);
    assert_int_equal(stele_store_close(s), 0);
    chk_free(c);
}

static void test_kill9(void **state) {
    (void)state;
    run_t r = {0};
    r.seed = chk_seed("kill9");
    chk_rng_t rng = {r.seed};
    uint64_t cycles = chk_env_u64("STELE_KILL9_CYCLES", 50);
    if (cycles < 50)
        cycles = 50;
    char root[4096];
    chk_tmpdir(root, sizeof root, "kill9");
    snprintf(r.dir, sizeof r.dir, "%s/store", root);
    snprintf(r.acklog, sizeof r.acklog, "%s/acks.log", root);
    snprintf(r.errpath, sizeof r.errpath, "%s/child.err", root);
    snprintf(r.progpath, sizeof r.progpath, "%s/progress", root);
    r.pg = map_progress(r.progpath, true);
    assert_non_null(r.pg);

    /* Calibration: one thread alone, uninterrupted for CALIBRATE_MS after it started. */
    uint64_t acked[THREADS], ran_ms = 0;
    cycle(&r, &rng, 0, 1, CALIBRATE_MS, true, false, acked, &ran_ms);
    uint64_t cal_acked = acked[0];
    if (cal_acked == 0 || ran_ms == 0)
        fail_msg("calibration: one thread got %" PRIu64 " events acknowledged in %" PRIu64
                 " ms; seed %" PRIu64,
                 cal_acked, ran_ms, r.seed);
    double rate = (double)cal_acked / (double)ran_ms; /* events per ms, one thread */
    printf("kill9: calibration: one thread alone, %" PRIu64 " events acknowledged in %" PRIu64
           " ms (%.2f per ms)\n",
           cal_acked, ran_ms, rate);

    uint64_t sum_ms = 0, sum_acked = 0, per_thread[THREADS] = {0}, long_cycles = 0, slow = 0;
    for (uint64_t n = 1; n <= cycles; n++) {
        uint64_t delay = 10 + chk_below(&rng, 150);
        cycle(&r, &rng, n, THREADS, delay, false, n == cycles, acked, &ran_ms);
        uint64_t here = 0;
        for (int t = 0; t < THREADS; t++) {
            here += acked[t];
            per_thread[t] += acked[t];
        }
        sum_ms += ran_ms;
        sum_acked += here;
        double want = rate * (double)ran_ms / 20.0;
        if (ran_ms >= 100) {
            long_cycles++;
            if (here == 0 || (double)here < want) {
                slow++;
                printf("kill9: cycle %" PRIu64 ": %d threads got %" PRIu64
                       " events acknowledged in %" PRIu64 " ms, under the floor of %.0f\n",
                       n, THREADS, here, ran_ms, want);
            }
        }
    }
    /* A single cycle can stall on a loaded machine (a segment roll's syncs behind other
     * processes' I/O): the floor must hold in three cycles out of four. */
    if (slow * 4 > long_cycles)
        fail_msg("%" PRIu64 " of the %" PRIu64 " cycles that appended for >= 100 ms got fewer "
                 "events acknowledged than a twentieth of one thread alone (%.2f per ms); "
                 "seed %" PRIu64,
                 slow, long_cycles, rate, r.seed);
    double want_total = rate * (double)sum_ms / 4.0;
    printf("kill9: %" PRIu64 " cycles: the %d threads got %" PRIu64
           " events acknowledged in %" PRIu64
           " ms of appending (%.2f per ms; one thread alone: %.2f); per thread:",
           cycles, THREADS, sum_acked, sum_ms, sum_ms ? (double)sum_acked / (double)sum_ms : 0.0,
           rate);
    for (int t = 0; t < THREADS; t++)
        printf(" %" PRIu64, per_thread[t]);
    printf("\n");
    if ((double)sum_acked < want_total)
        fail_msg("the %d appender threads got %" PRIu64 " events acknowledged in %" PRIu64
                 " ms, want >= %.0f (a quarter of one thread alone); seed %" PRIu64,
                 THREADS, sum_acked, sum_ms, want_total, r.seed);
    for (int t = 0; t < THREADS; t++)
        if ((double)per_thread[t] < want_total / THREADS / 16.0)
            fail_msg("appender thread %d got %" PRIu64 " events acknowledged, want >= %.0f; "
                     "seed %" PRIu64,
                     t, per_thread[t], want_total / THREADS / 16.0, r.seed);
    printf("kill9: %" PRIu64 " cycles, %" PRIu64 " acknowledged events checked, head %" PRIu64
           ", %" PRIu64 " streams, %" PRIu64 " unknown outcomes retried (%" PRIu64
           " found already written), %" PRIu64 " acknowledged appends retried (expected version "
           "any) and answered idempotently, %" PRIu64 " kills before the store existed\n",
           cycles, r.st.acked, r.st.head, r.st.streams, r.total_retried, r.total_idem,
           r.total_acked_retried, r.killed_in_open);
    munmap(r.pg, sizeof *r.pg);
    chk_rmtree(root);
}

int main(int argc, char **argv) {
    if (argc == 7 && strcmp(argv[1], "--child") == 0)
        return child_main(argv[2], argv[3], argv[4], strtoull(argv[5], NULL, 10), atoi(argv[6]));
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_kill9)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
