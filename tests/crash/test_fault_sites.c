/*
 * test_fault_sites.c -- EIO, ENOSPC and short writes at EVERY I/O site of append, segment roll,
 * index update (close), recovery at open, reindex and reads, found by enumeration rather than
 * chosen by hand (TESTING.md, "fsync / write EIO, ENOSPC"; test_faults.c has the hand-picked
 * scenarios, the background preparation and group commit).
 *
 * For each operation (a "phase") a base store is built once. A counting run copies the base, runs
 * the operation over the fault table with nothing armed and learns how many calls of each kind it
 * makes (stele__fault_count) and, through a tracing table stacked on the fault table, the path of
 * each call. Then for every kind and every k in 1..count the operation runs again on a fresh copy
 * with only the kth call failing: writes with EIO, ENOSPC and short (torn) writes; syncs, reads and
 * opens with EIO; renames with EIO; truncate/fallocate with ENOSPC. Checked each time:
 *   - exactly that call failed (the runs are deterministic), on the same path as in the count;
 *   - the operation returns an error, never a silent success (the only tolerated failures are those
 *     of caches the design allows to be lost: the sparse index of a sealed segment, the derived
 *     files an open rebuilds when it cannot read them);
 *   - no append during which its write or sync failed is acknowledged; a failed log write or sync
 *     poisons the store (the first append returns the injected error, later ones STELE_EPOISONED,
 *     stats say poisoned); a failed reindex poisons it too (its index is half made);
 *   - reads (stream, $all, both directions, subscriptions) with a failed pread return an error and
 *     only correct events before it, never a short or wrong answer; verify returns the read error;
 *   - after reopening with the plain POSIX table: the checker (every acknowledged event there byte
 *     for byte, gap-free, no partial commit, index = log, stele_verify passes) and a new append.
 *
 * Background work is kept out of the counts: the zero-filling of the next segment is disabled in
 * the runs (its file cannot be opened; test_faults.c covers it), so every roll makes its segment
 * itself; index tables are written only at close and by reindex.
 */
#include "checker.h"
#include "test_util.h"

#include "vfs_fault.h"
#include "store/store.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define SEG ((uint64_t)1 << 20)
#define SMALL 300u
#define BIG (48u * 1024u)
#define NOPS STELE_FAULT_OP_COUNT

static const char *const op_names[NOPS] = {"write", "sync", "read", "open", "rename", "allocate"};

/* ---- a tracing file table on top of the fault table ------------------------------------------ */

typedef struct trace {
    stele_vfs_t table;
    const stele_vfs_t *ft; /* the fault table below */
    pthread_mutex_t mu;
    bool on;
    char **paths[NOPS];
    size_t n[NOPS], cap[NOPS];
} trace_t;

static trace_t T;

typedef struct tfile {
    struct stele_file base;
    stele_file_t *inner;
    char path[];
} tfile_t;

static void record(int op, const char *path) {
    pthread_mutex_lock(&T.mu);
    if (T.on) {
        if (T.n[op] == T.cap[op]) {
            T.cap[op] = T.cap[op] ? T.cap[op] * 2 : 64;
            T.paths[op] = realloc(T.paths[op], T.cap[op] * sizeof(char *));
        }
        T.paths[op][T.n[op]++] = strdup(path ? path : "");
    }
    pthread_mutex_unlock(&T.mu);
}

static void trace_clear(void) {
    pthread_mutex_lock(&T.mu);
    for (int op = 0; op < NOPS; op++) {
        for (size_t i = 0; i < T.n[op]; i++)
            free(T.paths[op][i]);
        T.n[op] = 0;
    }
    pthread_mutex_unlock(&T.mu);
}

static stele_file_t *in_of(stele_file_t *f) { return ((tfile_t *)f)->inner; }
static const char *path_of(stele_file_t *f) { return ((tfile_t *)f)->path; }

static int t_open(const stele_vfs_t *vfs, const char *path, unsigned flags, stele_file_t **out) {
    (void)vfs;
    /* the background preparation of the next segment cannot start: every roll makes its own */
    if (strstr(path, "next.partial"))
        return -EIO;
    record(STELE_FAULT_OPEN, path);
    stele_file_t *inner = NULL;
    int rc = T.ft->open(T.ft, path, flags, &inner);
    if (rc < 0)
        return rc;
    size_t len = strlen(path);
    tfile_t *f = malloc(sizeof *f + len + 1);
    f->base.vfs = &T.table;
    f->inner = inner;
    memcpy(f->path, path, len + 1);
    *out = &f->base;
    return 0;
}
static int t_close(stele_file_t *f) {
    if (!f)
        return 0;
    int rc = stele__file_close(in_of(f));
    free(f);
    return rc;
}
static int t_pread(stele_file_t *f, void *buf, size_t len, uint64_t off, size_t *nread) {
    record(STELE_FAULT_READ, path_of(f));
    return stele__file_pread(in_of(f), buf, len, off, nread);
}
static int t_pwrite(stele_file_t *f, const void *buf, size_t len, uint64_t off) {
    record(STELE_FAULT_WRITE, path_of(f));
    return stele__file_pwrite(in_of(f), buf, len, off);
}
static int t_sync(stele_file_t *f) {
    record(STELE_FAULT_SYNC, path_of(f));
    return stele__file_sync(in_of(f));
}
static int t_size(stele_file_t *f, uint64_t *size) { return in_of(f)->vfs->size(in_of(f), size); }
static int t_truncate(stele_file_t *f, uint64_t size) {
    record(STELE_FAULT_ALLOCATE, path_of(f));
    return in_of(f)->vfs->truncate(in_of(f), size);
}
static int t_allocate(stele_file_t *f, uint64_t off, uint64_t len) {
    record(STELE_FAULT_ALLOCATE, path_of(f));
    return in_of(f)->vfs->allocate(in_of(f), off, len);
}
static int t_lock(stele_file_t *f) { return in_of(f)->vfs->lock(in_of(f)); }
/* The target of the last rename: a directory sync is named after it ("<dir> after <target>"),
 * so that the sync making a sparse index file durable is known as part of saving that cache. */
static char last_rename[4200];

static int t_rename(const stele_vfs_t *vfs, const char *from, const char *to) {
    (void)vfs;
    record(STELE_FAULT_RENAME, to);
    pthread_mutex_lock(&T.mu);
    snprintf(last_rename, sizeof last_rename, "%s", to);
    pthread_mutex_unlock(&T.mu);
    return T.ft->rename(T.ft, from, to);
}
static int t_unlink(const stele_vfs_t *vfs, const char *path) {
    (void)vfs;
    return T.ft->unlink(T.ft, path);
}
static int t_mkdir(const stele_vfs_t *vfs, const char *path) {
    (void)vfs;
    return T.ft->mkdir(T.ft, path);
}
static int t_sync_dir(const stele_vfs_t *vfs, const char *path) {
    (void)vfs;
    char name[8600];
    pthread_mutex_lock(&T.mu);
    snprintf(name, sizeof name, "%s after %s", path, last_rename);
    pthread_mutex_unlock(&T.mu);
    record(STELE_FAULT_SYNC, name);
    return T.ft->sync_dir(T.ft, path);
}
static int t_list_dir(const stele_vfs_t *vfs, const char *path, int (*fn)(void *, const char *),
                      void *arg) {
    (void)vfs;
    return T.ft->list_dir(T.ft, path, fn, arg);
}
static int t_exists(const stele_vfs_t *vfs, const char *path) {
    (void)vfs;
    return T.ft->exists(T.ft, path);
}

static void trace_init(stele_fault_vfs_t *fv) {
    pthread_mutex_init(&T.mu, NULL);
    T.ft = stele__fault_vfs_table(fv);
    T.table = (stele_vfs_t){.name = "trace",
                            .ctx = &T,
                            .open = t_open,
                            .close = t_close,
                            .pread = t_pread,
                            .pwrite = t_pwrite,
                            .sync = t_sync,
                            .size = t_size,
                            .truncate = t_truncate,
                            .allocate = t_allocate,
                            .lock = t_lock,
                            .rename = t_rename,
                            .unlink = t_unlink,
                            .mkdir = t_mkdir,
                            .sync_dir = t_sync_dir,
                            .list_dir = t_list_dir,
                            .exists = t_exists};
}

/* ---- the test state ------------------------------------------------------------------------- */

typedef enum phase_kind {
    PH_APPEND,
    PH_ROLL,
    PH_CLOSE,
    PH_OPEN,
    PH_REINDEX,
    PH_READS
} phase_kind_t;

typedef struct phase {
    const char *name;
    phase_kind_t kind;
    const char *base; /* which base store */
} phase_t;

/* The fault of one trial. */
typedef struct fault {
    stele_fault_op_t op;
    int error;
    bool short_write;
    uint64_t k;
    const char *path; /* the path the kth call uses (from the counting run) */
} fault_t;

/* Reference answers of the read phase. */
enum { R_ALL, R_STREAM_FWD, R_STREAM_BWD, R_ALL_BWD, R_SUB_ALL, R_SUB_STREAM, R_COUNT };

typedef struct ctx {
    char root[4096];
    char work[4200];
    char small[4200], roll_prep[4200], roll_bare[4200], big[4200], torn[4200];
    char small_acks[4200], roll_prep_acks[4200], roll_bare_acks[4200], big_acks[4200];
    stele_fault_vfs_t *fv;
    stele_store_t *s;
    chk_t *c;
    chk_rng_t rng;
    uint64_t seed;
    uint8_t big_data[BIG];
    tu_events_t ref[R_COUNT];
    /* the trial */
    const phase_t *ph;
    const fault_t *f; /* NULL in the counting run */
    bool poisoned;    /* an append failed on its write/sync path */
    /* figures */
    uint64_t trials, appends, acked, failed_ops, poisonings, tolerated, read_errors, read_retried;
    uint64_t per_phase[8];
    uint64_t read_ends[R_COUNT + 1]; /* read phase: reads made by the end of each reader, and
                                        of verify (counting run) */
    bool reads_copied; /* read phase: the work copy is made once (reads change nothing) */
} ctx_t;

/* ---- helpers --------------------------------------------------------------------------------- */

static void opts_for(stele_options_t *o, const struct stele_vfs *vfs, uint32_t flags) {
    stele_options_init(o);
    o->flags = flags;
    o->segment_size_bytes = SEG;
    o->durability = STELE_DURABILITY_SYNC;
    o->vfs = vfs;
}

/* A version 4 id made from the run's generator alone: the event-id index looks every id up, and a
 * random id could pass its Bloom filter in one run and not in the next, which would add a table
 * read to one run only (the runs must make the same calls). */
static stele_uuid_t new_id(ctx_t *x) {
    stele_uuid_t id;
    uint64_t a = chk_rnd(&x->rng), b = chk_rnd(&x->rng);
    memcpy(id.bytes, &a, 8);
    memcpy(id.bytes + 8, &b, 8);
    id.bytes[6] = (uint8_t)((id.bytes[6] & 0x0f) | 0x40);
    id.bytes[8] = (uint8_t)((id.bytes[8] & 0x3f) | 0x80);
    return id;
}

/* One event: small (checker payload) or a binary blob of size bytes. */
static void make_event(ctx_t *x, chk_event_t *ce, stele_event_in_t *e, size_t size) {
    stele_uuid_t id = new_id(x);
    if (size > SMALL) {
        memset(e, 0, sizeof *e);
        e->type = "blob";
        e->data = x->big_data;
        e->data_len = size;
        e->flags = STELE_EVENT_BINARY;
        e->id = id;
    } else {
        chk_event_make(ce, &id);
        *e = ce->in;
    }
}

/* An unchecked append while a base is built. */
static void base_append(ctx_t *x, stele_store_t *s, chk_t *c, const char *stream, size_t n,
                        size_t size) {
    chk_event_t ce[4];
    stele_event_in_t e[4];
    assert_true(n <= 4);
    for (size_t i = 0; i < n; i++)
        make_event(x, &ce[i], &e[i], size);
    stele_append_part_t p = {
        .stream = stream, .expected_version = STELE_EXPECT_ANY, .events = e, .count = n};
    chk_intent(c, &p, 1, false);
    int rc = stele_commit(s, &p, 1, NULL);
    if (rc != 0)
        fail_msg("base append: %s (%s)", stele_strerror(rc), stele_errdetail());
    assert_int_equal(chk_ack(c, &p, 1), 0);
}

static uint64_t active_end(stele_store_t *s) {
    stele_log_t *log = s->log;
    pthread_rwlock_rdlock(&log->lock);
    uint64_t end = log->segs[log->nsegs - 1]->end_offset;
    pthread_rwlock_unlock(&log->lock);
    return end;
}

static void wait_for_file(const char *dir, const char *rel) {
    char p[4400];
    snprintf(p, sizeof p, "%s/%s", dir, rel);
    for (int i = 0; i < 500 && access(p, F_OK) != 0; i++)
        usleep(10000);
    assert_int_equal(access(p, F_OK), 0);
}

static void remove_file(const char *dir, const char *rel) {
    char p[4400];
    snprintf(p, sizeof p, "%s/%s", dir, rel);
    (void)unlink(p);
}

/* A segment file (not its sparse index, not a prepared file). */
static bool is_log_path(const char *path) { return path && strstr(path, ".seg") != NULL; }

/* ---- the bases ------------------------------------------------------------------------------- */

static stele_store_t *base_open(const char *dir, bool create) {
    stele_options_t o;
    opts_for(&o, chk_nosync_vfs(), create ? STELE_OPEN_CREATE : 0);
    stele_store_t *s = NULL;
    int rc = stele_store_open(dir, &o, &s);
    if (rc < 0)
        fail_msg("base open %s: %s (%s)", dir, stele_strerror(rc), stele_errdetail());
    return s;
}

static void build_small(ctx_t *x) {
    chk_t *c = chk_new(x->small_acks);
    stele_store_t *s = base_open(x->small, true);
    for (int i = 0; i < 30; i++) {
        char name[16];
        snprintf(name, sizeof name, "s-%d", i % 6);
        base_append(x, s, c, name, 1 + (size_t)(i % 3), SMALL);
    }
    wait_for_file(x->small, "log/next.tmp");
    assert_int_equal(stele_store_close(s), 0);
    chk_free(c);
}

static void build_roll(ctx_t *x, const char *dir, const char *acks, bool prepared) {
    chk_t *c = chk_new(acks);
    stele_store_t *s = base_open(dir, true);
    for (int i = 0; i < 10; i++)
        base_append(x, s, c, i % 2 ? "a" : "b", 1, SMALL);
    /* fill the active segment: the next append must roll */
    size_t big_rec = stele__record_size(1, 4, 0, BIG, true);
    while (SEG - active_end(s) > big_rec + 1024)
        base_append(x, s, c, "f", 1, BIG);
    uint64_t room = SEG - active_end(s);
    size_t base = stele__record_size(1, 4, 0, 0, true) - 1;
    base_append(x, s, c, "f", 1, (size_t)(room - 64 - base));
    assert_int_equal(SEG - active_end(s), 64);
    wait_for_file(dir, "log/next.tmp");
    assert_int_equal(stele_store_close(s), 0);
    if (!prepared)
        remove_file(dir, "log/next.tmp");
    chk_free(c);
}

/* 4 segments (3 sealed with their sparse index files), 2 index tables, a catalogue snapshot; the
 * torn copy also misses one .sidx (open scans and saves it) and has a torn record after its last
 * commit (open cuts it). */
static void build_big(ctx_t *x) {
    chk_t *c = chk_new(x->big_acks);
    stele_store_t *s = base_open(x->big, true);
    int i = 0;
    while (stele__log_segment_count(s->log) < 4 || active_end(s) < SEG / 4) {
        char name[16];
        snprintf(name, sizeof name, "b-%d", i % 12);
        if (i % 5 == 4)
            base_append(x, s, c, "blobs", 1, BIG - (size_t)chk_below(&x->rng, 4096));
        else
            base_append(x, s, c, i % 3 == 0 ? "s-big" : name, 1 + (size_t)(i % 3), SMALL);
        i++;
    }
    assert_int_equal(stele_store_close(s), 0);
    s = base_open(x->big, false);
    for (int j = 0; j < 60; j++)
        base_append(x, s, c, j % 2 ? "s-big" : "late", 1 + (size_t)(j % 2), SMALL);
    assert_int_equal(stele_stream_metadata_set(s, "late", "{\"tier\":5}"), 0);
    uint64_t end = active_end(s);
    assert_int_equal(stele_store_close(s), 0);
    chk_free(c);

    assert_int_equal(chk_copytree(x->big, x->torn), 0);
    char seg[4400];
    size_t nsegs = 0;
    assert_int_equal(chk_segment_path(x->torn, 1, seg, sizeof seg, &nsegs), 0);
    assert_int_equal(nsegs, 4);
    char *dot = strrchr(seg, '.');
    snprintf(dot, 6, ".sidx");
    assert_int_equal(unlink(seg), 0);
    /* a torn copy of the segment's first record after its last commit */
    assert_int_equal(chk_segment_path(x->torn, -1, seg, sizeof seg, &nsegs), 0);
    uint8_t *buf = NULL;
    size_t len = 0;
    assert_int_equal(chk_read_file(seg, &buf, &len), 0);
    assert_true(end + 96 <= len);
    int fd = open(seg, O_WRONLY);
    assert_true(fd >= 0);
    assert_int_equal(pwrite(fd, buf + 128, 96, (off_t)end), 96);
    close(fd);
    free(buf);
}

/* ---- reading into lists ---------------------------------------------------------------------- */

static int read_op(stele_store_t *s, int which, tu_events_t *out) {
    stele_reader_t *r = NULL;
    int rc;
    if (which == R_ALL || which == R_ALL_BWD) {
        stele_read_options_t o;
        stele_read_options_init(&o);
        o.filter.include_system = true;
        if (which == R_ALL_BWD) {
            o.direction = STELE_BACKWARD;
            o.limit = 300;
        }
        rc = stele_read_all(s, &o, &r);
    } else if (which == R_STREAM_FWD || which == R_STREAM_BWD) {
        rc = stele_read_stream(s, "s-big", which == R_STREAM_FWD ? 0 : -1,
                               which == R_STREAM_FWD ? STELE_FORWARD : STELE_BACKWARD, 0, &r);
    } else {
        stele_subscribe_options_t o;
        stele_subscribe_options_init(&o);
        if (which == R_SUB_STREAM)
            o.stream = "s-big";
        stele_subscription_t *sub = NULL;
        if ((rc = stele_subscribe(s, &o, &sub)) < 0)
            return rc;
        for (;;) {
            stele_event_t ev;
            rc = stele_subscription_next(sub, &ev, 0);
            if (rc == STELE_SUB_EVENT) {
                tu_events_push(out, &ev);
                continue;
            }
            if (rc == STELE_SUB_CAUGHT_UP || rc == STELE_SUB_TIMEOUT)
                rc = 0;
            break;
        }
        stele_subscription_close(sub);
        return rc;
    }
    if (rc < 0)
        return rc;
    rc = tu_drain(r, out);
    stele_reader_close(r);
    return rc;
}

/* got is ref, or (partial) a prefix of it. */
static bool same_events(const tu_events_t *got, const tu_events_t *ref, bool partial, char *why,
                        size_t whylen) {
    if (got->n > ref->n || (!partial && got->n != ref->n)) {
        snprintf(why, whylen, "%zu events, the reference has %zu", got->n, ref->n);
        return false;
    }
    for (size_t i = 0; i < got->n; i++) {
        const tu_event_t *a = &got->v[i], *b = &ref->v[i];
        if (a->position != b->position || a->version != b->version ||
            memcmp(a->id.bytes, b->id.bytes, 16) != 0 || strcmp(a->stream, b->stream) != 0 ||
            strcmp(a->type, b->type) != 0 || a->data_len != b->data_len ||
            memcmp(a->data, b->data, a->data_len) != 0 || a->metadata_len != b->metadata_len ||
            (a->metadata_len && memcmp(a->metadata, b->metadata, a->metadata_len) != 0)) {
            snprintf(why, whylen, "event %zu (position %" PRIu64 ") differs from the reference", i,
                     a->position);
            return false;
        }
    }
    return true;
}

/* ---- one trial ------------------------------------------------------------------------------- */

static void trial_fail(ctx_t *x, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void trial_fail(ctx_t *x, const char *fmt, ...) {
    char msg[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (x->f)
        fail_msg("%s: %s #%" PRIu64 " (%s%s, path %s): %s (seed %" PRIu64 ")", x->ph->name,
                 op_names[x->f->op], x->f->k, x->f->short_write ? "short, " : "",
                 stele_strerror(x->f->error), x->f->path, msg, x->seed);
    else
        fail_msg("%s (counting run): %s (seed %" PRIu64 ")", x->ph->name, msg, x->seed);
}

static bool tolerated_path(const fault_t *f) {
    /* The sparse index of a sealed segment is a cache: a roll that cannot save it goes on. */
    return f && strstr(f->path, ".sidx") != NULL;
}

/* A checked commit: parts[0..n) with fresh events. */
static void checked_commit(ctx_t *x, const char *const *streams, const int64_t *expected,
                           const size_t *counts, size_t nparts, size_t size) {
    chk_event_t ce[8];
    stele_event_in_t e[8];
    stele_append_part_t p[3];
    size_t k = 0;
    bool retry_ok = true;
    for (size_t i = 0; i < nparts; i++) {
        p[i] = (stele_append_part_t){.stream = streams[i],
                                     .expected_version = expected[i],
                                     .events = &e[k],
                                     .count = counts[i]};
        retry_ok = retry_ok && expected[i] != STELE_EXPECT_ANY;
        for (size_t j = 0; j < counts[i]; j++, k++)
            make_event(x, &ce[k], &e[k], size);
    }
    chk_intent(x->c, p, nparts, retry_ok);
    uint64_t before = stele__fault_injected(x->fv);
    int rc = stele_commit(x->s, p, nparts, NULL);
    uint64_t after = stele__fault_injected(x->fv);
    x->appends++;
    if (rc == 0) {
        if (x->poisoned)
            trial_fail(x, "an append succeeded after the store was poisoned");
        if (after > before) {
            /* a failed read may be retried (a seek's quick look at a record header falls back
             * to a full read): harmless, the checker checks what was acknowledged */
            if (!tolerated_path(x->f) && x->f->op != STELE_FAULT_READ)
                trial_fail(x, "an append was acknowledged although its I/O failed");
            x->tolerated++;
        }
        if (chk_ack(x->c, p, nparts) < 0)
            trial_fail(x, "%s", chk_last_error(x->c));
        x->acked++;
        return;
    }
    x->failed_ops++;
    if (x->poisoned) {
        if (rc != STELE_EPOISONED)
            trial_fail(x, "an append after a failed one returned %s, not STELE_EPOISONED",
                       stele_strerror(rc));
        return;
    }
    if (after == before)
        trial_fail(x, "an append failed without a fault: %s (%s)", stele_strerror(rc),
                   stele_errdetail());
    if (rc != x->f->error)
        trial_fail(x, "the append failed with %s, not the injected error", stele_strerror(rc));
    stele_stats_t st = {.struct_size = sizeof st};
    assert_int_equal(stele_stats(x->s, &st), 0);
    if (x->f->op == STELE_FAULT_READ) {
        /* an idempotency check could not read: nothing was written, nothing is poisoned */
        if (st.poisoned)
            trial_fail(x, "a failed read poisoned the store");
        return;
    }
    if (!st.poisoned)
        trial_fail(x, "a failed log write or sync did not poison the store");
    x->poisoned = true;
    x->poisonings++;
}

static void open_faulty(ctx_t *x) {
    stele_options_t o;
    opts_for(&o, &T.table, 0);
    int rc = stele_store_open(x->work, &o, &x->s);
    if (rc < 0)
        trial_fail(x, "open before the operation: %s (%s)", stele_strerror(rc), stele_errdetail());
}

static void arm(ctx_t *x) {
    stele__fault_reset(x->fv);
    trace_clear();
    pthread_mutex_lock(&T.mu);
    T.on = true;
    last_rename[0] = 0;
    pthread_mutex_unlock(&T.mu);
    if (x->f) {
        stele__fault_set_short_write(x->fv, x->f->short_write);
        stele__fault_arm(x->fv, x->f->op, x->f->k, x->f->error, false);
    }
}

static void disarm(ctx_t *x, uint64_t counts[NOPS]) {
    pthread_mutex_lock(&T.mu);
    T.on = false;
    pthread_mutex_unlock(&T.mu);
    for (int op = 0; op < NOPS; op++) {
        if (counts)
            counts[op] = stele__fault_count(x->fv, (stele_fault_op_t)op);
        stele__fault_arm(x->fv, (stele_fault_op_t)op, 0, 0, false);
        /* the trace and the fault table saw the same calls */
        if (stele__fault_count(x->fv, (stele_fault_op_t)op) != T.n[op])
            trial_fail(x, "%s: the fault table counted %" PRIu64 " calls, the trace %zu",
                       op_names[op], stele__fault_count(x->fv, (stele_fault_op_t)op), T.n[op]);
    }
    uint64_t injected = stele__fault_injected(x->fv);
    if (x->f) {
        if (injected != 1)
            trial_fail(x, "%" PRIu64 " faults injected, not 1: the run is not deterministic",
                       injected);
        if (T.n[x->f->op] < x->f->k || strcmp(T.paths[x->f->op][x->f->k - 1], x->f->path) != 0)
            trial_fail(x, "call #%" PRIu64 " went to another file than in the counting run",
                       x->f->k);
    }
}

/* The operation of each phase, between arm() and disarm(). */
static void run_phase_op(ctx_t *x) {
    static const char *const one_a[] = {"a-1"}, *const one_n[] = {"n-1"},
                             *const two[] = {"a-1", "n-2"}, *const one_blob[] = {"blobs-x"};
    static const int64_t any1[] = {STELE_EXPECT_ANY}, none1[] = {STELE_EXPECT_NO_STREAM},
                         mix2[] = {STELE_EXPECT_ANY, STELE_EXPECT_NO_STREAM};
    static const size_t c1[] = {1}, c3[] = {3}, c12[] = {1, 2};
    switch (x->ph->kind) {
    case PH_APPEND:
        checked_commit(x, one_a, any1, c1, 1, SMALL);
        checked_commit(x, one_n, none1, c3, 1, SMALL);
        checked_commit(x, two, mix2, c12, 2, SMALL);
        checked_commit(x, one_blob, none1, c1, 1, BIG);
        break;
    case PH_ROLL:
        checked_commit(x, one_a, any1, c1, 1, SMALL); /* rolls */
        checked_commit(x, two, mix2, c12, 2, SMALL);
        checked_commit(x, one_n, none1, c1, 1, SMALL);
        break;
    case PH_CLOSE: {
        int rc = stele_store_close(x->s);
        x->s = NULL;
        if (x->f && stele__fault_injected(x->fv) > 0 && rc == 0)
            trial_fail(x, "close hid a failed index or snapshot write (returned 0)");
        if (!x->f && rc != 0)
            trial_fail(x, "close failed: %s", stele_strerror(rc));
        if (rc != 0)
            x->failed_ops++;
        break;
    }
    case PH_OPEN: {
        stele_options_t o;
        opts_for(&o, &T.table, 0);
        int rc = stele_store_open(x->work, &o, &x->s);
        bool hit = stele__fault_injected(x->fv) > 0;
        if (rc < 0) {
            x->failed_ops++;
            x->s = NULL;
            if (!hit)
                trial_fail(x, "open failed without a fault: %s (%s)", stele_strerror(rc),
                           stele_errdetail());
            if (rc == STELE_ECORRUPT && x->f->op == STELE_FAULT_READ)
                trial_fail(x, "a read error was reported as corruption: %s", stele_errdetail());
        } else if (hit) {
            /* a fault on the log itself (a segment, the torn tail's zeroing) or on the marker or
             * lock must fail the open; derived files and caches are rebuilt instead */
            const char *p = x->f->path;
            if (is_log_path(p) || strstr(p, "/STELE") || strstr(p, "/LOCK"))
                trial_fail(x, "open succeeded although a read or write of the log failed");
            x->tolerated++;
        }
        break;
    }
    case PH_REINDEX: {
        int rc = stele_reindex(x->s, NULL, NULL);
        bool hit = stele__fault_injected(x->fv) > 0;
        if (rc == 0 && hit)
            trial_fail(x, "reindex returned 0 although its I/O failed");
        if (rc != 0 && !hit)
            trial_fail(x, "reindex failed without a fault: %s (%s)", stele_strerror(rc),
                       stele_errdetail());
        if (rc != 0) {
            x->failed_ops++;
            if (rc == STELE_ECORRUPT && x->f->op == STELE_FAULT_READ)
                trial_fail(x, "a read error was reported as corruption: %s", stele_errdetail());
        }
        break;
    }
    case PH_READS: {
        for (int w = 0; w < R_COUNT; w++) {
            tu_events_t got = {0};
            uint64_t before = stele__fault_injected(x->fv);
            int rc = read_op(x->s, w, &got);
            uint64_t after = stele__fault_injected(x->fv);
            char why[256];
            /* a read that failed and was retried must have given the whole, right answer
             * (same_events below); one that gave up must say so with the read's error */
            if (after > before && rc >= 0)
                x->read_retried++;
            if (after == before && rc < 0)
                trial_fail(x, "read %d failed without a fault: %s", w, stele_strerror(rc));
            if (rc < 0 && rc != x->f->error)
                trial_fail(x, "read %d failed with %s, not the injected error", w,
                           stele_strerror(rc));
            if (!same_events(&got, &x->ref[w], rc < 0, why, sizeof why))
                trial_fail(x, "read %d: %s", w, why);
            if (rc < 0)
                x->read_errors++;
            tu_events_free(&got);
            if (!x->f)
                x->read_ends[w] = stele__fault_count(x->fv, STELE_FAULT_READ);
        }
        stele_verify_report_t rep = {.struct_size = sizeof rep};
        uint64_t before = stele__fault_injected(x->fv);
        int rc = stele_verify(x->s, NULL, NULL, &rep);
        uint64_t after = stele__fault_injected(x->fv);
        if (after > before && rc != 0 && rc != x->f->error)
            trial_fail(x, "verify with a failed read returned %s (%s), not the read error",
                       stele_strerror(rc), rep.message);
        if (after == before && rc != 0)
            trial_fail(x, "verify failed without a fault: %s", rep.message);
        if (!x->f)
            x->read_ends[R_COUNT] = stele__fault_count(x->fv, STELE_FAULT_READ);
        break;
    }
    }
}

/* After the operation, still on the faulty table (no fault armed any more). */
static void after_op(ctx_t *x) {
    if (!x->s)
        return;
    stele_stats_t st = {.struct_size = sizeof st};
    assert_int_equal(stele_stats(x->s, &st), 0);
    if (x->ph->kind == PH_REINDEX && x->f && stele__fault_injected(x->fv) > 0) {
        /* a failed reindex leaves the index half made: appends are refused until reopen, unless
         * only the snapshot (a cache written last) failed */
        if (!st.poisoned && !strstr(x->f->path, "catalogue.snap"))
            trial_fail(x, "a failed reindex did not poison the store");
        /* reads through the half-made index: the right events, or an error, never fewer */
        for (int w = R_STREAM_FWD; w <= R_STREAM_BWD; w++) {
            tu_events_t got = {0};
            char why[256];
            int rc = read_op(x->s, w, &got);
            if (!same_events(&got, &x->ref[w], rc < 0, why, sizeof why))
                trial_fail(x, "a stream read after a failed reindex (%s): %s", stele_strerror(rc),
                           why);
            tu_events_free(&got);
        }
        if (st.poisoned) {
            stele_event_in_t e = tu_event("T", "{}");
            int rc = stele_append(x->s, "p-1", STELE_EXPECT_ANY, &e, 1, NULL);
            if (rc != STELE_EPOISONED)
                trial_fail(x, "an append after a failed reindex returned %s", stele_strerror(rc));
            x->poisonings++;
        }
    }
    if (x->ph->kind == PH_OPEN) {
        /* opened despite a fault on a derived file: everything must be right already */
        if (chk_verify(x->c, x->s) < 0)
            trial_fail(x, "after an open that succeeded: %s", chk_last_error(x->c));
        if (x->s->log->recovered_cut_bytes == 0)
            trial_fail(x, "the torn tail was not cut");
    }
    int rc = stele_store_close(x->s);
    x->s = NULL;
    if (rc != 0 && !x->poisoned && !(x->ph->kind == PH_REINDEX && x->f))
        trial_fail(x, "close after the operation: %s (%s)", stele_strerror(rc), stele_errdetail());
}

static void reopen_and_check(ctx_t *x) {
    /* The POSIX table without the fault and trace layers. Its syncs are skipped: durability
     * across a crash is not under test here (the kill -9 and power-loss tests do that), and
     * ~10 fdatasyncs per trial would take most of the time. */
    stele_options_t o;
    opts_for(&o, chk_nosync_vfs(), 0);
    int rc = stele_store_open(x->work, &o, &x->s);
    if (rc < 0)
        trial_fail(x, "reopen with the POSIX table: %s (%s)", stele_strerror(rc),
                   stele_errdetail());
    static const char *const one[] = {"after"};
    static const int64_t any1[] = {STELE_EXPECT_ANY};
    static const size_t c1[] = {1};
    const fault_t *f = x->f;
    bool poisoned = x->poisoned;
    x->f = NULL; /* from here on nothing may fail */
    x->poisoned = false;
    checked_commit(x, one, any1, c1, 1, SMALL);
    if (chk_verify(x->c, x->s) < 0) {
        x->f = f;
        trial_fail(x, "after reopen: %s", chk_last_error(x->c));
    }
    x->f = f;
    x->poisoned = poisoned;
    assert_int_equal(stele_store_close(x->s), 0);
    x->s = NULL;
}

static const char *base_dir(ctx_t *x, const char *which, const char **acks) {
    if (strcmp(which, "small") == 0) {
        *acks = x->small_acks;
        return x->small;
    }
    if (strcmp(which, "roll-prep") == 0) {
        *acks = x->roll_prep_acks;
        return x->roll_prep;
    }
    if (strcmp(which, "roll-bare") == 0) {
        *acks = x->roll_bare_acks;
        return x->roll_bare;
    }
    *acks = x->big_acks;
    return strcmp(which, "torn") == 0 ? x->torn : x->big;
}

/* One run of a phase, with fault f (NULL: the counting run, which fills counts). */
static void run_trial(ctx_t *x, const phase_t *ph, const fault_t *f, uint64_t counts[NOPS]) {
    const char *acks = NULL;
    const char *base = base_dir(x, ph->base, &acks);
    x->ph = ph;
    x->f = f;
    x->poisoned = false;
    x->rng.s = x->seed + (uint64_t)ph->kind * 7919u; /* the same events in every trial */
    if (ph->kind != PH_READS || !x->reads_copied) {
        chk_rmtree(x->work);
        assert_int_equal(chk_copytree(base, x->work), 0);
        x->reads_copied = ph->kind == PH_READS;
    }
    x->c = chk_new(NULL);
    assert_int_equal(chk_load(x->c, acks), 0);
    stele__fault_reset(x->fv);
    if (ph->kind == PH_CLOSE) {
        open_faulty(x);
        static const char *const one[] = {"c-1"}, *const two[] = {"c-2", "s-1"};
        static const int64_t any1[] = {STELE_EXPECT_ANY},
                             any2[] = {STELE_EXPECT_ANY, STELE_EXPECT_ANY};
        static const size_t c2[] = {2}, c11[] = {1, 1};
        const fault_t *keep = x->f;
        x->f = NULL;
        checked_commit(x, one, any1, c2, 1, SMALL);
        checked_commit(x, two, any2, c11, 2, SMALL);
        x->f = keep;
    } else if (ph->kind != PH_OPEN) {
        open_faulty(x);
    }
    arm(x);
    run_phase_op(x);
    disarm(x, counts);
    after_op(x);
    if (ph->kind != PH_READS)
        reopen_and_check(x); /* the read phase checks once at its end: reads write nothing */
    chk_free(x->c);
    x->c = NULL;
    x->trials++;
}

/* The faults tried at each call of each kind. */
typedef struct variant {
    stele_fault_op_t op;
    int error;
    bool short_write;
} variant_t;

static const variant_t variants[] = {
    {STELE_FAULT_WRITE, -EIO, false},  {STELE_FAULT_WRITE, -ENOSPC, false},
    {STELE_FAULT_WRITE, -EIO, true},   {STELE_FAULT_SYNC, -EIO, false},
    {STELE_FAULT_READ, -EIO, false},   {STELE_FAULT_OPEN, -EIO, false},
    {STELE_FAULT_RENAME, -EIO, false}, {STELE_FAULT_ALLOCATE, -ENOSPC, false},
};

/* The read phase makes a pread per buffer refill: ~1,300 with 4 KiB stream buffers, most of
 * them alike (the next jump of a stream read). Each reader and verify gets its first 8 and last
 * 4 reads and 24 more spread evenly over the rest. */
static bool read_sampled(const ctx_t *x, uint64_t k) {
    uint64_t lo = 0;
    for (int w = 0; w <= R_COUNT; w++) {
        uint64_t hi = x->read_ends[w];
        if (k > lo && k <= hi) {
            uint64_t i = k - lo - 1, n = hi - lo, step = n / 24;
            return i < 8 || i + 4 >= n || step == 0 || i % step == 0;
        }
        lo = hi;
    }
    return true;
}

static void run_phase(ctx_t *x, const phase_t *ph, int index) {
    uint64_t counts[NOPS] = {0};
    run_trial(x, ph, NULL, counts);
    /* keep the paths of the counting run */
    char **paths[NOPS];
    for (int op = 0; op < NOPS; op++) {
        paths[op] = calloc(counts[op] + 1, sizeof(char *));
        for (uint64_t i = 0; i < counts[op]; i++)
            paths[op][i] = strdup(T.paths[op][i]);
    }
    uint64_t before = x->trials;
    for (size_t v = 0; v < sizeof variants / sizeof variants[0]; v++) {
        const variant_t *va = &variants[v];
        /* a read phase fails only reads; the others everything but (in the writing phases)
         * reads, which only the idempotency checks make */
        if (ph->kind == PH_READS && va->op != STELE_FAULT_READ)
            continue;
        for (uint64_t k = 1; k <= counts[va->op]; k++) {
            fault_t f = {va->op, va->error, va->short_write, k, paths[va->op][k - 1]};
            if (ph->kind == PH_READS && !read_sampled(x, k))
                continue;
            run_trial(x, ph, &f, NULL);
        }
    }
    if (ph->kind == PH_READS) {
        /* the store after all those failed reads, with the POSIX table */
        const char *acks = NULL;
        (void)base_dir(x, ph->base, &acks);
        x->f = NULL;
        x->c = chk_new(NULL);
        assert_int_equal(chk_load(x->c, acks), 0);
        reopen_and_check(x);
        chk_free(x->c);
        x->c = NULL;
        x->reads_copied = false;
    }
    x->per_phase[index] = x->trials - before;
    printf("  %-28s %3" PRIu64 " trials; calls: write %" PRIu64 ", sync %" PRIu64 ", read %" PRIu64
           ", open %" PRIu64 ", rename %" PRIu64 ", allocate %" PRIu64 "\n",
           ph->name, x->trials - before, counts[0], counts[1], counts[2], counts[3], counts[4],
           counts[5]);
    for (int op = 0; op < NOPS; op++) {
        for (uint64_t i = 0; i < counts[op]; i++)
            free(paths[op][i]);
        free(paths[op]);
    }
}

static const phase_t phases[] = {
    {"append (4 commits)", PH_APPEND, "small"},
    {"roll, prepared next.tmp", PH_ROLL, "roll-prep"},
    {"roll, no prepared file", PH_ROLL, "roll-bare"},
    {"index + snapshot at close", PH_CLOSE, "small"},
    {"recovery at open", PH_OPEN, "torn"},
    {"reindex", PH_REINDEX, "big"},
    {"reads + verify", PH_READS, "big"},
};

static void test_fault_sites(void **state) {
    (void)state;
    ctx_t *x = calloc(1, sizeof *x);
    x->seed = chk_seed("fault_sites");
    x->rng.s = x->seed;
    for (size_t i = 0; i < BIG; i++)
        x->big_data[i] = (uint8_t)chk_rnd(&x->rng);
    chk_tmpdir(x->root, sizeof x->root, "fault-sites");
    snprintf(x->work, sizeof x->work, "%s/work", x->root);
    snprintf(x->small, sizeof x->small, "%s/small", x->root);
    snprintf(x->roll_prep, sizeof x->roll_prep, "%s/roll-prep", x->root);
    snprintf(x->roll_bare, sizeof x->roll_bare, "%s/roll-bare", x->root);
    snprintf(x->big, sizeof x->big, "%s/big", x->root);
    snprintf(x->torn, sizeof x->torn, "%s/torn", x->root);
    snprintf(x->small_acks, sizeof x->small_acks, "%s/small.acks", x->root);
    snprintf(x->roll_prep_acks, sizeof x->roll_prep_acks, "%s/roll-prep.acks", x->root);
    snprintf(x->roll_bare_acks, sizeof x->roll_bare_acks, "%s/roll-bare.acks", x->root);
    snprintf(x->big_acks, sizeof x->big_acks, "%s/big.acks", x->root);
    build_small(x);
    build_roll(x, x->roll_prep, x->roll_prep_acks, true);
    build_roll(x, x->roll_bare, x->roll_bare_acks, false);
    build_big(x);
    {
        /* the reference answers of the reads */
        stele_store_t *s = base_open(x->big, false);
        for (int w = 0; w < R_COUNT; w++) {
            assert_int_equal(read_op(s, w, &x->ref[w]), 0);
            assert_true(x->ref[w].n > 0);
        }
        assert_int_equal(stele_store_close(s), 0);
    }
    assert_int_equal(stele__fault_vfs_new(chk_nosync_vfs(), &x->fv), 0);
    trace_init(x->fv);
    size_t n = sizeof phases / sizeof phases[0];
    for (size_t i = 0; i < n; i++)
        run_phase(x, &phases[i], (int)i);
    printf("fault_sites: %zu phases, %" PRIu64 " trials (each a fault at one call), %" PRIu64
           " appends (%" PRIu64 " acknowledged), %" PRIu64
           " operations failed as injected, %" PRIu64 " poisonings, %" PRIu64
           " read errors returned (%" PRIu64 " retried reads), %" PRIu64
           " faults on caches or retried reads tolerated; 0 acknowledged-but-lost\n",
           n, x->trials, x->appends, x->acked, x->failed_ops, x->poisonings, x->read_errors,
           x->read_retried, x->tolerated);
    trace_clear();
    stele__fault_vfs_free(x->fv);
    for (int w = 0; w < R_COUNT; w++)
        tu_events_free(&x->ref[w]);
    chk_rmtree(x->root);
    free(x);
}

int main(void) {
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_fault_sites)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
