/*
 * test_faults.c -- EIO, ENOSPC and short writes at every I/O site of the append path, through the
 * fault-injecting file table (TESTING.md, "fsync / write EIO, ENOSPC").
 *
 * Each scenario opens a fresh store (SYNC, 1 MiB segments) over the fault table, makes some
 * appends, arms one fault (an operation, a path filter, the nth call, an error, sticky or not,
 * short write or not) at a chosen moment -- at once, right before a segment roll, before the
 * background preparation of the next segment, or before close -- and appends from one thread,
 * checking every call:
 *   - an append during which a fault was injected on its own write/sync path never returns 0;
 *   - the first failing append returns the injected error (or STELE_EPOISONED), every later one
 *     STELE_EPOISONED, and stats report the store poisoned;
 * then reopens with the plain POSIX table and runs the checker (every acknowledged event there,
 * byte for byte, gap-free, index = log, verify passes) and appends once more. Index table writes
 * and the catalogue snapshot happen at close: there the close reports the error and the reopen must
 * rebuild. Full-disk scenarios fail every write from the nth on (sticky ENOSPC), reopen while the
 * disk is still full (the store must open and read), then after space is freed. A group-commit
 * scenario does the same with 4 appending threads.
 */
#include "checker.h"

#include "vfs_fault.h"
#include "store/store.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define SEG ((uint64_t)1 << 20)
#define SMALL 300u
#define BIG (48u * 1024u)

/* When the fault is armed: after the first appends; right before a roll that takes the prepared
 * next.tmp; before the background preparation of the next segment; right before a roll that finds
 * no prepared file (the background preparation is broken by a second fault table underneath) and
 * makes one itself (roll.tmp, space reserved); before close; a full disk. */
typedef enum phase { PH_START, PH_ROLL, PH_PREP, PH_ROLL2, PH_CLOSE, PH_FULL } phase_t;

typedef struct scenario {
    const char *name;
    phase_t phase;
    stele_fault_op_t op;
    const char *filter;
    uint64_t nth;
    int error;
    bool sticky;
    bool short_write;
    bool own_path; /* a fault here belongs to the append in progress: it must fail */
} scenario_t;

typedef struct ctx {
    char dir[4200];
    stele_fault_vfs_t *fv;
    stele_fault_vfs_t *under; /* PH_ROLL2: breaks the background preparation */
    stele_store_t *s;
    chk_t *c;
    chk_rng_t rng;
    uint64_t seed;
    uint8_t big[BIG + 2048];
    uint64_t appends, failed;
} ctx_t;

/* Whether log/<name> exists in the store dir. */
static bool exists_in_log(const char *dir, const char *name) {
    char path[4400];
    snprintf(path, sizeof path, "%s/log/%s", dir, name);
    return access(path, F_OK) == 0;
}

static void open_store(ctx_t *x, bool faulty) {
    stele_options_t o;
    stele_options_init(&o);
    o.flags = STELE_OPEN_CREATE;
    o.segment_size_bytes = SEG;
    o.vfs = faulty ? stele__fault_vfs_table(x->fv) : NULL;
    int rc = stele_store_open(x->dir, &o, &x->s);
    if (rc < 0)
        fail_msg("%s open failed: %s (%s)", faulty ? "faulty" : "plain", stele_strerror(rc),
                 stele_errdetail());
}

/* One append of one event of about `size` bytes; records intent and ack. */
static int append1(ctx_t *x, size_t size, const char *stream) {
    stele_event_in_t e;
    chk_event_t ce;
    stele_uuid_t id;
    stele_uuid_generate(&id);
    uint64_t r = chk_rnd(&x->rng);
    memcpy(id.bytes + 12, &r, 4);
    if (size > SMALL) {
        memset(&e, 0, sizeof e);
        e.type = "blob";
        e.data = x->big;
        e.data_len = size;
        e.flags = STELE_EVENT_BINARY;
        e.id = id;
    } else {
        chk_event_make(&ce, &id);
        e = ce.in;
    }
    stele_append_part_t p = {
        .stream = stream, .expected_version = STELE_EXPECT_ANY, .events = &e, .count = 1};
    chk_intent(x->c, &p, 1, false);
    int rc = stele_commit(x->s, &p, 1, NULL);
    x->appends++;
    if (rc == 0 && chk_ack(x->c, &p, 1) < 0)
        fail_msg("%s", chk_last_error(x->c));
    return rc;
}

static uint64_t active_end(ctx_t *x) {
    stele_log_t *log = x->s->log;
    pthread_rwlock_rdlock(&log->lock);
    uint64_t end = log->segs[log->nsegs - 1]->end_offset;
    pthread_rwlock_unlock(&log->lock);
    return end;
}

/* Nominal size of the active segment: segments grow from a quarter of SEG up to SEG. */
static uint64_t active_nominal(ctx_t *x) {
    stele_log_t *log = x->s->log;
    pthread_rwlock_rdlock(&log->lock);
    uint64_t n = log->segs[log->nsegs - 1]->nominal_bytes;
    pthread_rwlock_unlock(&log->lock);
    assert_true(n <= SEG);
    return n;
}

/* Append until the next append must roll to a new segment: fill the active segment with big
 * events, then one of exactly the size that leaves 64 bytes, less than any record takes. */
static void fill_to_roll(ctx_t *x) {
    uint64_t seg = active_nominal(x);
    size_t big_rec = stele__record_size(1, 4, 0, BIG, true);
    while (seg - active_end(x) > big_rec + 1024)
        assert_int_equal(append1(x, BIG, "f"), 0);
    uint64_t room = seg - active_end(x);
    size_t base = stele__record_size(1, 4, 0, 0, true) - 1; /* 111 bytes + data, unpadded */
    assert_int_equal(append1(x, (size_t)(room - 64 - base), "f"), 0);
    assert_int_equal(seg - active_end(x), 64);
}

static void reopen_and_check(ctx_t *x, const char *name) {
    open_store(x, false);
    if (chk_verify(x->c, x->s) < 0)
        fail_msg("%s: after reopen: %s (seed %" PRIu64 ")", name, chk_last_error(x->c), x->seed);
    stele_stats_t st = {.struct_size = sizeof st};
    assert_int_equal(stele_stats(x->s, &st), 0);
    assert_false(st.poisoned);
    int rc = append1(x, SMALL, "after");
    if (rc != 0)
        fail_msg("%s: append after reopen: %s (%s)", name, stele_strerror(rc), stele_errdetail());
    if (chk_verify(x->c, x->s) < 0)
        fail_msg("%s: after the new append: %s", name, chk_last_error(x->c));
    assert_int_equal(stele_store_close(x->s), 0);
    x->s = NULL;
}

/* Append until one fails (or limit); check the poisoning rules. Returns true if one failed. */
static bool append_until_failure(ctx_t *x, const scenario_t *sc, size_t size, int limit) {
    for (int i = 0; i < limit; i++) {
        uint64_t before = stele__fault_injected(x->fv);
        int rc = append1(x, size, i % 3 ? "s" : "t");
        uint64_t after = stele__fault_injected(x->fv);
        if (rc == 0) {
            if (sc->own_path && after > before)
                fail_msg("%s: an append was acknowledged although its write or sync failed "
                         "(seed %" PRIu64 ")",
                         sc->name, x->seed);
            continue;
        }
        x->failed++;
        if (after == before)
            fail_msg("%s: append failed without an injected fault: %s (%s)", sc->name,
                     stele_strerror(rc), stele_errdetail());
        if (rc != sc->error && rc != STELE_EPOISONED)
            fail_msg("%s: append failed with %s, not the injected %s", sc->name, stele_strerror(rc),
                     stele_strerror(sc->error));
        for (int k = 0; k < 3; k++) {
            rc = append1(x, SMALL, "s");
            if (rc != STELE_EPOISONED)
                fail_msg("%s: append after a failed one returned %s, not STELE_EPOISONED", sc->name,
                         stele_strerror(rc));
        }
        stele_stats_t st = {.struct_size = sizeof st};
        assert_int_equal(stele_stats(x->s, &st), 0);
        assert_true(st.poisoned);
        return true;
    }
    return false;
}

static void run(ctx_t *x, const scenario_t *sc, const char *root, int serial) {
    snprintf(x->dir, sizeof x->dir, "%s/s%d", root, serial);
    x->c = chk_new(NULL);
    x->under = NULL;
    if (sc->phase == PH_ROLL2)
        assert_int_equal(stele__fault_vfs_new(NULL, &x->under), 0);
    assert_int_equal(
        stele__fault_vfs_new(x->under ? stele__fault_vfs_table(x->under) : NULL, &x->fv), 0);
    open_store(x, true);
    for (int i = 0; i < 10; i++)
        assert_int_equal(append1(x, SMALL, i % 2 ? "a" : "b"), 0);
    /* The background preparation of next.tmp must be done before the close (which would cancel
     * it): on a loaded machine it can take a while, and a roll without it takes another path. */
    for (int i = 0; i < 3000 && !exists_in_log(x->dir, "next.tmp"); i++)
        usleep(10000);
    if (!exists_in_log(x->dir, "next.tmp"))
        fail_msg("%s: the next segment was not prepared within 30 s", sc->name);
    /* Reopen: the prepared next.tmp then exists, so no background preparation runs until the
     * first roll, and the active segment's file is known by its .seg name (a segment made by a
     * roll keeps the name it was opened with, next.tmp, in the fault table's path filter). */
    assert_int_equal(stele_store_close(x->s), 0);
    open_store(x, true);
    if (sc->phase == PH_ROLL2) {
        /* every background preparation fails from now on; one roll uses up the prepared file */
        stele__fault_set_path_filter(x->under, "next.partial");
        stele__fault_arm(x->under, STELE_FAULT_OPEN, 1, -EIO, true);
        fill_to_roll(x);
        assert_int_equal(append1(x, SMALL, "f"), 0);
    }
    if (sc->phase == PH_ROLL || sc->phase == PH_PREP || sc->phase == PH_ROLL2)
        fill_to_roll(x);
    stele__fault_set_path_filter(x->fv, sc->filter);
    stele__fault_set_short_write(x->fv, sc->short_write);
    stele__fault_arm(x->fv, sc->op, sc->nth, sc->error, sc->sticky);
    if (sc->phase == PH_FULL)
        stele__fault_arm(x->fv, STELE_FAULT_ALLOCATE, 1, sc->error, true);
    bool failed = false;
    if (sc->phase == PH_CLOSE) {
        for (int i = 0; i < 5; i++)
            assert_int_equal(append1(x, SMALL, "c"), 0);
        int rc = stele_store_close(x->s);
        x->s = NULL;
        if (stele__fault_injected(x->fv) == 0)
            fail_msg("%s: the fault was never hit", sc->name);
        if (rc == 0)
            fail_msg("%s: close hid a failed write (returned 0)", sc->name);
    } else {
        int limit = sc->phase == PH_PREP ? (int)(SEG / BIG) + 8 : 30;
        if (sc->phase == PH_PREP) {
            /* roll, then give the (paced) background preparation time to meet the fault */
            assert_int_equal(append1(x, SMALL, "f"), 0);
            for (int i = 0; i < 300 && stele__fault_injected(x->fv) == 0; i++)
                usleep(10000);
        }
        failed = append_until_failure(x, sc, sc->phase == PH_PREP ? BIG : SMALL, limit);
        if (stele__fault_injected(x->fv) == 0)
            fail_msg("%s: the fault was never hit", sc->name);
        if (sc->phase == PH_PREP && failed)
            fail_msg("%s: a failed background preparation failed an append", sc->name);
        if (sc->phase != PH_PREP && sc->sticky && !failed)
            fail_msg("%s: a sticky fault did not fail any append", sc->name);
        int rc = stele_store_close(x->s);
        x->s = NULL;
        (void)rc; /* the writer's error, or 0 */
    }
    if (sc->phase == PH_FULL) {
        /* still full: the store opens and reads */
        stele__fault_reset(x->fv);
        stele__fault_arm(x->fv, STELE_FAULT_WRITE, 1, -ENOSPC, true);
        stele__fault_arm(x->fv, STELE_FAULT_ALLOCATE, 1, -ENOSPC, true);
        open_store(x, true);
        if (chk_verify(x->c, x->s) < 0)
            fail_msg("%s: reopened on a full disk: %s", sc->name, chk_last_error(x->c));
        int rc = append1(x, SMALL, "s");
        if (rc == 0)
            fail_msg("%s: an append on a full disk was acknowledged", sc->name);
        (void)stele_store_close(x->s);
        x->s = NULL;
    }
    reopen_and_check(x, sc->name);
    stele__fault_vfs_free(x->fv);
    stele__fault_vfs_free(x->under);
    chk_free(x->c);
    x->c = NULL;
}

static const scenario_t scenarios[] = {
    /* the append path: the segment write and its fdatasync */
    {"seg write #1 EIO", PH_START, STELE_FAULT_WRITE, ".seg", 1, -EIO, false, false, true},
    {"seg write #3 ENOSPC", PH_START, STELE_FAULT_WRITE, ".seg", 3, -ENOSPC, false, false, true},
    {"seg write #2 EIO sticky", PH_START, STELE_FAULT_WRITE, ".seg", 2, -EIO, true, false, true},
    {"seg write #1 short", PH_START, STELE_FAULT_WRITE, ".seg", 1, -EIO, false, true, true},
    {"seg write #4 short ENOSPC", PH_START, STELE_FAULT_WRITE, ".seg", 4, -ENOSPC, false, true,
     true},
    {"seg sync #1 EIO", PH_START, STELE_FAULT_SYNC, ".seg", 1, -EIO, false, false, true},
    {"seg sync #5 EIO", PH_START, STELE_FAULT_SYNC, ".seg", 5, -EIO, false, false, true},
    {"seg sync #2 ENOSPC", PH_START, STELE_FAULT_SYNC, ".seg", 2, -ENOSPC, false, false, true},
    /* the segment roll */
    {"roll: sync of the sealed segment", PH_ROLL, STELE_FAULT_SYNC, ".seg", 1, -EIO, false, false,
     true},
    {"roll: open next.tmp", PH_ROLL, STELE_FAULT_OPEN, "next.tmp", 1, -EIO, false, false, true},
    {"roll: header write", PH_ROLL, STELE_FAULT_WRITE, "next.tmp", 1, -EIO, false, false, true},
    {"roll: header short write", PH_ROLL, STELE_FAULT_WRITE, "next.tmp", 1, -ENOSPC, false, true,
     true},
    {"roll: header sync", PH_ROLL, STELE_FAULT_SYNC, "next.tmp", 1, -EIO, false, false, true},
    {"roll: rename into place", PH_ROLL, STELE_FAULT_RENAME, ".seg", 1, -EIO, false, false, true},
    {"roll: directory sync", PH_ROLL, STELE_FAULT_SYNC, "/log", 3, -EIO, false, false, true},
    {"roll: first write in the new segment", PH_ROLL, STELE_FAULT_WRITE, "next.tmp", 2, -ENOSPC,
     false, false, true},
    {"roll: first sync of the new segment", PH_ROLL, STELE_FAULT_SYNC, "next.tmp", 2, -EIO, false,
     false, true},
    /* a roll that finds no prepared file makes roll.tmp itself (space reserved, not zero-filled) */
    {"roll without prep: open roll.tmp", PH_ROLL2, STELE_FAULT_OPEN, "roll.tmp", 1, -EIO, false,
     false, true},
    {"roll without prep: truncate", PH_ROLL2, STELE_FAULT_ALLOCATE, "roll.tmp", 1, -EIO, false,
     false, true},
    {"roll without prep: fallocate ENOSPC", PH_ROLL2, STELE_FAULT_ALLOCATE, "roll.tmp", 2, -ENOSPC,
     false, false, true},
    {"roll without prep: header write", PH_ROLL2, STELE_FAULT_WRITE, "roll.tmp", 1, -ENOSPC, false,
     false, true},
    {"roll without prep: header sync", PH_ROLL2, STELE_FAULT_SYNC, "roll.tmp", 1, -EIO, false,
     false, true},
    {"roll without prep: rename", PH_ROLL2, STELE_FAULT_RENAME, ".seg", 1, -EIO, false, false,
     true},
    {"roll without prep: directory sync", PH_ROLL2, STELE_FAULT_SYNC, "/log", 3, -EIO, false, false,
     true},
    {"roll without prep: first commit write", PH_ROLL2, STELE_FAULT_WRITE, "roll.tmp", 2, -ENOSPC,
     false, false, true},
    {"roll without prep: first commit short write", PH_ROLL2, STELE_FAULT_WRITE, "roll.tmp", 2,
     -EIO, false, true, true},
    {"roll without prep: first commit sync", PH_ROLL2, STELE_FAULT_SYNC, "roll.tmp", 2, -EIO, false,
     false, true},
    /* the background preparation of the next segment: a failure there never fails an append
     * (the roll makes its own file) */
    {"prep: zero-fill write", PH_PREP, STELE_FAULT_WRITE, "next.partial", 1, -ENOSPC, false, false,
     false},
    {"prep: zero-fill write sticky", PH_PREP, STELE_FAULT_WRITE, "next.partial", 1, -ENOSPC, true,
     false, false},
    {"prep: truncate", PH_PREP, STELE_FAULT_ALLOCATE, "next.partial", 1, -EIO, false, false, false},
    {"prep: sync", PH_PREP, STELE_FAULT_SYNC, "next.partial", 1, -EIO, false, false, false},
    {"prep: sync sticky", PH_PREP, STELE_FAULT_SYNC, "next.partial", 1, -EIO, true, false, false},
    {"prep: rename", PH_PREP, STELE_FAULT_RENAME, "next.tmp", 1, -EIO, false, false, false},
    {"prep: open sticky", PH_PREP, STELE_FAULT_OPEN, "next.partial", 1, -ENOSPC, true, false,
     false},
    /* index tables and the catalogue snapshot, written at close */
    {"close: index table write", PH_CLOSE, STELE_FAULT_WRITE, "/index/", 1, -EIO, false, false,
     false},
    {"close: index table write ENOSPC sticky", PH_CLOSE, STELE_FAULT_WRITE, "/index/", 1, -ENOSPC,
     true, false, false},
    {"close: index sync", PH_CLOSE, STELE_FAULT_SYNC, "/index", 1, -EIO, false, false, false},
    {"close: index rename", PH_CLOSE, STELE_FAULT_RENAME, "/index/", 1, -EIO, false, false, false},
    {"close: index short write", PH_CLOSE, STELE_FAULT_WRITE, "/index/", 1, -EIO, false, true,
     false},
    {"close: snapshot write", PH_CLOSE, STELE_FAULT_WRITE, "catalogue.snap", 1, -ENOSPC, false,
     false, false},
    {"close: snapshot short write", PH_CLOSE, STELE_FAULT_WRITE, "catalogue.snap", 1, -EIO, false,
     true, false},
    {"close: snapshot sync", PH_CLOSE, STELE_FAULT_SYNC, "catalogue.snap", 1, -EIO, false, false,
     false},
    {"close: snapshot rename", PH_CLOSE, STELE_FAULT_RENAME, "catalogue.snap", 1, -EIO, false,
     false, false},
    /* a full disk: every write from the nth on fails */
    {"full disk from write #1", PH_FULL, STELE_FAULT_WRITE, NULL, 1, -ENOSPC, true, false, false},
    {"full disk from write #2", PH_FULL, STELE_FAULT_WRITE, NULL, 2, -ENOSPC, true, false, false},
    {"full disk from write #5", PH_FULL, STELE_FAULT_WRITE, NULL, 5, -ENOSPC, true, false, false},
    {"full disk from write #9", PH_FULL, STELE_FAULT_WRITE, NULL, 9, -ENOSPC, true, false, false},
};

static void test_fault_scenarios(void **state) {
    (void)state;
    ctx_t *x = calloc(1, sizeof *x);
    x->seed = chk_seed("faults");
    x->rng.s = x->seed;
    for (size_t i = 0; i < BIG; i++)
        x->big[i] = (uint8_t)chk_rnd(&x->rng);
    char root[4096];
    chk_tmpdir(root, sizeof root, "faults");
    size_t n = sizeof scenarios / sizeof scenarios[0];
    for (size_t i = 0; i < n; i++) {
        run(x, &scenarios[i], root, (int)i);
        printf("  ok: %s\n", scenarios[i].name);
    }
    /* the same sites swept over nth: every write and sync of the first appends */
    int swept = 0;
    for (uint64_t nth = 1; nth <= 12; nth++) {
        for (int op = 0; op < 2; op++) {
            scenario_t sc = {"sweep",      PH_START,     op ? STELE_FAULT_SYNC : STELE_FAULT_WRITE,
                             "/log/",      nth,          (nth % 2) ? -EIO : -ENOSPC,
                             nth % 3 == 0, nth % 4 == 1, true};
            run(x, &sc, root, 1000 + swept++);
        }
    }
    printf("faults: %zu scenarios + %d swept, %" PRIu64 " appends, %" PRIu64
           " failed as injected, 0 acknowledged-but-lost\n",
           n, swept, x->appends, x->failed);
    chk_rmtree(root);
    free(x);
}

/* ---- group commit: 4 threads, a sync fails under them ---------------------------------------- */

typedef struct gthread {
    ctx_t *x;
    int t;
    uint64_t acked, failed_eio, failed_poisoned;
    chk_rng_t rng; /* this thread's ids: they replay from the seed */
    char err[256];
} gthread_t;

static void *gthread_main(void *arg) {
    gthread_t *g = arg;
    char stream[16];
    snprintf(stream, sizeof stream, "g%d", g->t);
    bool seen_failure = false;
    for (int i = 0; i < 400; i++) {
        stele_event_in_t e;
        chk_event_t ce;
        stele_uuid_t id;
        uint64_t a = chk_rnd(&g->rng), b = chk_rnd(&g->rng);
        memcpy(id.bytes, &a, 8);
        memcpy(id.bytes + 8, &b, 8);
        chk_event_make(&ce, &id);
        e = ce.in;
        stele_append_part_t p = {
            .stream = stream, .expected_version = STELE_EXPECT_ANY, .events = &e, .count = 1};
        chk_intent(g->x->c, &p, 1, false);
        int rc = stele_commit(g->x->s, &p, 1, NULL);
        if (rc == 0) {
            if (seen_failure) {
                snprintf(g->err, sizeof g->err, "an append succeeded after one failed");
                return NULL;
            }
            g->acked++;
            if (chk_ack(g->x->c, &p, 1) < 0) {
                snprintf(g->err, sizeof g->err, "inconsistent acknowledgement: %s",
                         chk_last_error(g->x->c));
                return NULL;
            }
        } else if (rc == STELE_EPOISONED) {
            seen_failure = true;
            g->failed_poisoned++;
            if (g->failed_poisoned > 3)
                return NULL;
        } else if (rc == -EIO) {
            seen_failure = true;
            g->failed_eio++;
        } else {
            snprintf(g->err, sizeof g->err, "unexpected error %s", stele_strerror(rc));
            return NULL;
        }
    }
    return NULL;
}

static void test_group_commit_sync_failure(void **state) {
    (void)state;
    ctx_t *x = calloc(1, sizeof *x);
    x->seed = chk_seed("faults_group");
    x->rng.s = x->seed;
    char root[4096];
    chk_tmpdir(root, sizeof root, "faults-group");
    for (int round = 0; round < 6; round++) {
        snprintf(x->dir, sizeof x->dir, "%s/g%d", root, round);
        x->c = chk_new(NULL);
        assert_int_equal(stele__fault_vfs_new(NULL, &x->fv), 0);
        open_store(x, false);
        assert_int_equal(stele_store_close(x->s), 0);
        open_store(x, true);
        stele__fault_set_path_filter(x->fv, ".seg");
        stele__fault_arm(x->fv, round % 2 ? STELE_FAULT_WRITE : STELE_FAULT_SYNC,
                         5 + chk_below(&x->rng, 60), -EIO, false);
        gthread_t g[4];
        pthread_t th[4];
        for (int t = 0; t < 4; t++) {
            g[t] = (gthread_t){
                .x = x, .t = t, .rng = {x->seed * 31u + (uint64_t)round * 4 + (uint64_t)t}};
            pthread_create(&th[t], NULL, gthread_main, &g[t]);
        }
        uint64_t eio = 0, acked = 0;
        for (int t = 0; t < 4; t++) {
            /* A liveness bound, not a speed one: a writer that stalls fails with a message. */
            struct timespec deadline;
            clock_gettime(CLOCK_REALTIME, &deadline);
            deadline.tv_sec += 60;
            if (pthread_timedjoin_np(th[t], NULL, &deadline) != 0) {
                fprintf(stderr,
                        "group round %d: appender thread %d made no progress for 60 s (the writer "
                        "stalled?); seed %" PRIu64 "\n",
                        round, t, x->seed);
                fflush(stdout);
                _exit(1);
            }
            if (g[t].err[0])
                fail_msg("group round %d thread %d: %s (seed %" PRIu64 ")", round, t, g[t].err,
                         x->seed);
            eio += g[t].failed_eio;
            acked += g[t].acked;
        }
        assert_true(eio >= 1);
        /* The fault comes after 5..64 writes or syncs of the segment: appends were acknowledged
         * before it (each checked by chk_ack above, and by reopen_and_check below). */
        if (acked == 0)
            fail_msg("group round %d: no append was acknowledged before the fault (seed %" PRIu64
                     ")",
                     round, x->seed);
        assert_int_equal(stele__fault_injected(x->fv), 1);
        (void)stele_store_close(x->s);
        x->s = NULL;
        reopen_and_check(x, "group commit");
        stele__fault_vfs_free(x->fv);
        chk_free(x->c);
    }
    chk_rmtree(root);
    free(x);
}

/* A start that fails on a full disk gives the space back (issue 9): the first segment of a new
 * store is zero-filled as log/roll.tmp, and a roll without a prepared file reserves a segment's
 * space as roll.tmp; a failure on the way left that file behind (20 MB on a full filesystem),
 * and a failed background preparation left next.partial. */

static void test_full_disk_leaves_no_temporary(void **state) {
    (void)state;
    char root[4096], dir[4200];
    chk_tmpdir(root, sizeof root, "faults-tmp");
    static const struct {
        stele_fault_op_t op;
        uint64_t nth;
        const char *filter;
    } starts[] = {{STELE_FAULT_WRITE, 1, "roll.tmp"}, {STELE_FAULT_WRITE, 3, "roll.tmp"},
                  {STELE_FAULT_SYNC, 1, "roll.tmp"},  {STELE_FAULT_ALLOCATE, 1, "roll.tmp"},
                  {STELE_FAULT_OPEN, 2, "roll.tmp"},  {STELE_FAULT_RENAME, 1, ".seg"}};
    for (size_t i = 0; i < sizeof starts / sizeof starts[0]; i++) {
        snprintf(dir, sizeof dir, "%s/start%zu", root, i);
        stele_fault_vfs_t *fv = NULL;
        assert_int_equal(stele__fault_vfs_new(NULL, &fv), 0);
        stele__fault_set_path_filter(fv, starts[i].filter);
        stele__fault_arm(fv, starts[i].op, starts[i].nth, -ENOSPC, true);
        stele_options_t o;
        stele_options_init(&o);
        o.flags = STELE_OPEN_CREATE;
        /* a first segment of 2 MiB (segments grow from there): two zero-filling writes and the
         * header's, so that the third write of roll.tmp is reached */
        o.segment_size_bytes = SEG * 16;
        o.vfs = stele__fault_vfs_table(fv);
        stele_store_t *s = NULL;
        int rc = stele_store_open(dir, &o, &s);
        if (rc == 0 || stele__fault_injected(fv) == 0)
            fail_msg("start %zu: open gave %d after %" PRIu64 " faults", i, rc,
                     stele__fault_injected(fv));
        if (exists_in_log(dir, "roll.tmp"))
            fail_msg("start %zu (op %d, #%" PRIu64 "): a failed start left log/roll.tmp", i,
                     (int)starts[i].op, starts[i].nth);
        /* once there is space again, the store is made */
        o.vfs = NULL;
        assert_int_equal(stele_store_open(dir, &o, &s), 0);
        assert_int_equal(stele_store_close(s), 0);
        stele__fault_vfs_free(fv);
    }

    /* A roll that finds no prepared file, on a full disk; and a failed background preparation. */
    ctx_t *x = calloc(1, sizeof *x);
    x->seed = chk_seed("faults_tmp");
    x->rng.s = x->seed;
    snprintf(x->dir, sizeof x->dir, "%s/roll", root);
    x->c = chk_new(NULL);
    assert_int_equal(stele__fault_vfs_new(NULL, &x->under), 0);
    assert_int_equal(stele__fault_vfs_new(stele__fault_vfs_table(x->under), &x->fv), 0);
    /* the preparation fails (and must remove its partial file), so the roll makes roll.tmp */
    stele__fault_set_path_filter(x->under, "next.partial");
    stele__fault_arm(x->under, STELE_FAULT_WRITE, 1, -ENOSPC, true);
    open_store(x, true);
    fill_to_roll(x);
    for (int i = 0; i < 1000 && exists_in_log(x->dir, "next.partial"); i++)
        usleep(2000); /* the background thread gives up on its own time */
    if (exists_in_log(x->dir, "next.partial"))
        fail_msg("a failed preparation left log/next.partial");
    stele__fault_set_path_filter(x->fv, "roll.tmp");
    stele__fault_arm(x->fv, STELE_FAULT_ALLOCATE, 2, -ENOSPC, true);
    if (append1(x, BIG, "f") == 0)
        fail_msg("an append that needed a roll on a full disk was acknowledged");
    if (exists_in_log(x->dir, "roll.tmp"))
        fail_msg("a failed roll left log/roll.tmp");
    (void)stele_store_close(x->s);
    x->s = NULL;
    stele__fault_reset(x->under);
    reopen_and_check(x, "roll on a full disk");
    stele__fault_vfs_free(x->fv);
    stele__fault_vfs_free(x->under);
    chk_free(x->c);
    free(x);
    chk_rmtree(root);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fault_scenarios),
        cmocka_unit_test(test_group_commit_sync_failure),
        cmocka_unit_test(test_full_disk_leaves_no_temporary),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
