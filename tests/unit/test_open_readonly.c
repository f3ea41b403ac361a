/*
 * test_open_readonly.c -- STELE_OPEN_READONLY on a store that a writer holds (a running steled):
 * the open takes no lock and writes, creates, renames, truncates and removes nothing (every call
 * it makes goes through a file table that refuses and counts anything but reading); it sees a
 * prefix of what the writer appended, byte for byte, with every event acknowledged before the
 * open began; and the writer's work in progress (a half-written commit, a roll, a merge of index
 * tables, the catalogue snapshot it writes at close) is never taken for damage or loss.
 *
 * The random test prints its seed; STELE_TEST_SEED=<n> replays one.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "index/index.h"
#include "os/vfs.h"
#include "test_util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* ---- a file table that only reads ---------------------------------------------------------- */

typedef struct ro_file {
    stele_file_t base;
    stele_file_t *inner;
    unsigned preads;
    char path[4096];
} ro_file_t;

/* Hooks a test sets: called on an open (before it happens) and after each pread. */
static struct {
    atomic_uint refused;
    char first[4200];
    void (*on_open)(const char *path);
    int (*on_open_result)(const char *path); /* non-zero: fail the open with it */
    void (*on_pread)(ro_file_t *f, uint8_t *buf, size_t got, uint64_t off);
} RO;

static const stele_vfs_t *posix(void) { return stele__vfs_posix(); }

static int refuse(const char *what, const char *path) {
    if (atomic_fetch_add(&RO.refused, 1) == 0)
        snprintf(RO.first, sizeof RO.first, "%s %s", what, path ? path : "(a file)");
    return -EPERM;
}

static int ro_open(const stele_vfs_t *vfs, const char *path, unsigned flags, stele_file_t **out) {
    if (flags != STELE_VFS_RDONLY)
        return refuse("open for writing", path);
    if (RO.on_open)
        RO.on_open(path);
    if (RO.on_open_result) {
        int rc = RO.on_open_result(path);
        if (rc)
            return rc;
    }
    ro_file_t *f = calloc(1, sizeof *f);
    assert_non_null(f);
    int rc = posix()->open(posix(), path, flags, &f->inner);
    if (rc < 0) {
        free(f);
        return rc;
    }
    f->base.vfs = vfs;
    snprintf(f->path, sizeof f->path, "%s", path);
    *out = &f->base;
    return 0;
}

static int ro_close(stele_file_t *f) {
    ro_file_t *rf = (ro_file_t *)f;
    int rc = stele__file_close(rf->inner);
    free(rf);
    return rc;
}

static int ro_pread(stele_file_t *f, void *buf, size_t len, uint64_t off, size_t *nread) {
    ro_file_t *rf = (ro_file_t *)f;
    int rc = stele__file_pread(rf->inner, buf, len, off, nread);
    rf->preads++;
    if (rc == 0 && RO.on_pread)
        RO.on_pread(rf, buf, *nread, off);
    return rc;
}

static int ro_pwrite(stele_file_t *f, const void *b, size_t l, uint64_t o) {
    (void)b, (void)l, (void)o;
    return refuse("pwrite", ((ro_file_t *)f)->path);
}
static int ro_sync(stele_file_t *f) { return refuse("sync", ((ro_file_t *)f)->path); }
static int ro_size(stele_file_t *f, uint64_t *size) {
    ro_file_t *rf = (ro_file_t *)f;
    return rf->inner->vfs->size(rf->inner, size);
}
static int ro_truncate(stele_file_t *f, uint64_t s) {
    (void)s;
    return refuse("truncate", ((ro_file_t *)f)->path);
}
static int ro_allocate(stele_file_t *f, uint64_t o, uint64_t l) {
    (void)o, (void)l;
    return refuse("allocate", ((ro_file_t *)f)->path);
}
static int ro_lock(stele_file_t *f) { return refuse("lock", ((ro_file_t *)f)->path); }
static int ro_rename(const stele_vfs_t *v, const char *from, const char *to) {
    (void)v, (void)to;
    return refuse("rename", from);
}
static int ro_unlink(const stele_vfs_t *v, const char *path) {
    (void)v;
    return refuse("unlink", path);
}
static int ro_mkdir(const stele_vfs_t *v, const char *path) {
    (void)v;
    return refuse("mkdir", path);
}
static int ro_sync_dir(const stele_vfs_t *v, const char *path) {
    (void)v;
    return refuse("sync_dir", path);
}
static int ro_list_dir(const stele_vfs_t *v, const char *path, int (*fn)(void *, const char *),
                       void *arg) {
    (void)v;
    return posix()->list_dir(posix(), path, fn, arg);
}
static int ro_exists(const stele_vfs_t *v, const char *path) {
    (void)v;
    return posix()->exists(posix(), path);
}

static const stele_vfs_t RO_VFS = {"readonly-check", NULL,      ro_open,   ro_close,    ro_pread,
                                   ro_pwrite,        ro_sync,   ro_size,   ro_truncate, ro_allocate,
                                   ro_lock,          ro_rename, ro_unlink, ro_mkdir,    ro_sync_dir,
                                   ro_list_dir,      ro_exists};

static void ro_reset(void) {
    atomic_store(&RO.refused, 0);
    RO.first[0] = '\0';
    RO.on_open = NULL;
    RO.on_open_result = NULL;
    RO.on_pread = NULL;
}

static void assert_nothing_written(const char *when) {
    if (atomic_load(&RO.refused) != 0)
        fail_msg("%s: the read-only open tried to change the store %u times, first: %s", when,
                 atomic_load(&RO.refused), RO.first);
}

static int open_ro(const char *dir, stele_store_t **out) {
    stele_options_t o;
    stele_options_init(&o);
    o.flags = STELE_OPEN_READONLY;
    o.segment_size_bytes = TU_SEGMENT_BYTES;
    o.vfs = &RO_VFS;
    *out = NULL;
    return stele_store_open(dir, &o, out);
}

static stele_store_t *open_ro_ok(const char *dir, const char *when) {
    stele_store_t *s = NULL;
    int rc = open_ro(dir, &s);
    if (rc != 0)
        fail_msg("%s: read-only open: %s (%s)", when, stele_strerror(rc), stele_errdetail());
    assert_nothing_written(when);
    return s;
}

/* ---- the expected log: every event is a function of its position ------------------------- */

#define MAX_POSITIONS 20000u
#define STREAMS 13u

typedef struct expect {
    char stream[16];
    char type[8];
    char data[640];
    int64_t version;
    stele_uuid_t id;
} expect_t;

static expect_t *X; /* X[p] for positions 1..planned */
static uint64_t seed_of_run;

static void make_id(uint64_t p, stele_uuid_t *id) {
    uint64_t a = seed_of_run ^ 0x5deece66dull;
    memcpy(id->bytes, &a, 8);
    id->bytes[6] = (uint8_t)((id->bytes[6] & 0x0f) | 0x40);
    id->bytes[8] = 0x80;
    id->bytes[9] = 0;
    for (int i = 0; i < 6; i++)
        id->bytes[10 + i] = (uint8_t)(p >> (8 * i));
}

static void plan(uint64_t p, unsigned stream, int64_t version) {
    expect_t *e = &X[p];
    snprintf(e->stream, sizeof e->stream, "ro-%u", stream);
    snprintf(e->type, sizeof e->type, "T%u", (unsigned)(p % 3));
    size_t pad = (size_t)((p * 7919u) % 560u);
    char padding[600];
    memset(padding, 'a' + (int)(p % 26), pad);
    padding[pad] = '\0';
    snprintf(e->data, sizeof e->data, "{\"p\":%" PRIu64 ",\"pad\":\"%s\"}", p, padding);
    e->version = version;
    make_id(p, &e->id);
}

/* Check events 1..n of a $all read against the plan, byte for byte. */
static void check_prefix(const tu_events_t *ev, uint64_t head, const char *when) {
    if (ev->n != head)
        fail_msg("%s: $all holds %zu events, the head is %" PRIu64, when, ev->n, head);
    for (size_t i = 0; i < ev->n; i++) {
        const tu_event_t *e = &ev->v[i];
        const expect_t *x = &X[i + 1];
        if (e->position != i + 1 || strcmp(e->stream, x->stream) != 0 ||
            strcmp(e->type, x->type) != 0 || e->data_len != strlen(x->data) ||
            memcmp(e->data, x->data, e->data_len) != 0 || e->version != x->version ||
            memcmp(&e->id, &x->id, sizeof e->id) != 0 || e->metadata != NULL)
            fail_msg("%s: position %zu differs from what was appended (%s v%" PRId64 " %s)", when,
                     i + 1, e->stream, e->version, e->type);
    }
}

/* ---- the writer --------------------------------------------------------------------------- */

typedef struct writer {
    char dir[4096];
    stele_store_t *s;
    uint64_t commits;
    uint64_t reopen_every; /* close and reopen (index tables, catalogue snapshot): 0 = never */
    tu_rng_t rng;
    int64_t versions[STREAMS];
    uint64_t next;            /* next position */
    _Atomic uint64_t planned; /* X[1..planned] is written */
    _Atomic uint64_t acked;   /* positions 1..acked are acknowledged */
    _Atomic bool done;
    int error;
} writer_t;

static stele_options_t writer_options(void) {
    stele_options_t o;
    tu_options(&o);
    o.durability = STELE_DURABILITY_SYNC;
    return o;
}

/* Append one commit of 1..4 events to one stream (the calling thread is the only appender). */
static int writer_commit(writer_t *w) {
    unsigned stream = (unsigned)tu_rnd_below(&w->rng, STREAMS);
    size_t n = 1 + (size_t)tu_rnd_below(&w->rng, 4);
    if (w->next + n > MAX_POSITIONS)
        return 1;
    stele_event_in_t in[4];
    for (size_t k = 0; k < n; k++) {
        uint64_t p = w->next + k;
        plan(p, stream, w->versions[stream] + 1 + (int64_t)k);
        in[k] = tu_event(X[p].type, X[p].data);
        in[k].id = X[p].id;
    }
    atomic_store(&w->planned, w->next + n - 1);
    char name[16];
    snprintf(name, sizeof name, "ro-%u", stream);
    stele_append_result_t res;
    int rc = stele_append(w->s, name, STELE_EXPECT_ANY, in, n, &res);
    if (rc != 0)
        return rc;
    if (res.first_position != w->next || res.last_version != w->versions[stream] + (int64_t)n)
        return STELE_ECORRUPT;
    w->versions[stream] += (int64_t)n;
    w->next += n;
    atomic_store(&w->acked, w->next - 1);
    return 0;
}

static void *writer_main(void *arg) {
    writer_t *w = arg;
    for (uint64_t c = 0; c < w->commits && w->error == 0; c++) {
        int rc = writer_commit(w);
        if (rc == 1)
            break;
        if (rc != 0) {
            fprintf(stderr, "writer: %s (%s)\n", stele_strerror(rc), stele_errdetail());
            w->error = rc;
        }
        if (w->reopen_every && (c + 1) % w->reopen_every == 0 && w->error == 0) {
            stele_options_t o = writer_options();
            if ((rc = stele_store_close(w->s)) == 0)
                rc = stele_store_open(w->dir, &o, &w->s);
            if (rc != 0) {
                fprintf(stderr, "writer reopen: %s (%s)\n", stele_strerror(rc), stele_errdetail());
                w->error = rc;
                w->s = NULL;
            }
        }
    }
    atomic_store(&w->done, true);
    return NULL;
}

static void writer_init(writer_t *w, const char *tag) {
    memset(w, 0, sizeof *w);
    tu_tmpdir(w->dir, sizeof w->dir, tag);
    for (unsigned i = 0; i < STREAMS; i++)
        w->versions[i] = -1;
    w->next = 1;
    stele_options_t o = writer_options();
    int rc = stele_store_open(w->dir, &o, &w->s);
    if (rc != 0)
        fail_msg("writer open: %s (%s)", stele_strerror(rc), stele_errdetail());
}

static void writer_append(writer_t *w, uint64_t commits) {
    for (uint64_t c = 0; c < commits; c++)
        assert_int_equal(writer_commit(w), 0);
}

static void writer_free(writer_t *w) {
    if (w->s)
        assert_int_equal(stele_store_close(w->s), 0);
    w->s = NULL;
    tu_rmtree(w->dir);
}

static uint64_t ro_head(stele_store_t *s) {
    uint64_t head = 0;
    uint8_t hash[32];
    assert_int_equal(stele_head_digest(s, &head, hash), 0);
    return head;
}

/* Everything a reader does: $all byte for byte, one stream through the index, one id. */
static void check_view(stele_store_t *s, uint64_t head, tu_rng_t *rng, const char *when) {
    tu_events_t all = {0};
    int rc = tu_read_all(s, NULL, &all);
    if (rc != 0)
        fail_msg("%s: read $all: %s (%s)", when, stele_strerror(rc), stele_errdetail());
    check_prefix(&all, head, when);
    tu_events_free(&all);
    if (head == 0)
        return;
    uint64_t p = 1 + tu_rnd_below(rng, head);
    tu_events_t one = {0};
    rc = tu_read_stream(s, X[p].stream, 0, STELE_FORWARD, 0, &one);
    if (rc != 0)
        fail_msg("%s: read %s: %s (%s)", when, X[p].stream, stele_strerror(rc), stele_errdetail());
    size_t k = 0;
    for (uint64_t q = 1; q <= head; q++) {
        if (strcmp(X[q].stream, X[p].stream) != 0)
            continue;
        if (k >= one.n || one.v[k].position != q || one.v[k].version != X[q].version)
            fail_msg("%s: stream %s: event %zu is not position %" PRIu64, when, X[p].stream, k, q);
        k++;
    }
    if (k != one.n)
        fail_msg("%s: stream %s has %zu events, want %zu", when, X[p].stream, one.n, k);
    tu_events_free(&one);
    stele_reader_t *r = NULL;
    rc = stele_event_by_id(s, &X[p].id, &r);
    if (rc != 0)
        fail_msg("%s: event by id (position %" PRIu64 "): %s (%s)", when, p, stele_strerror(rc),
                 stele_errdetail());
    stele_event_t ev;
    assert_int_equal(stele_reader_next(r, &ev), 1);
    assert_int_equal(ev.position, p);
    stele_reader_close(r);
}

/* ---- tests -------------------------------------------------------------------------------- */

/* A writer appends (and now and then closes and reopens: index tables are written and merged,
 * the catalogue snapshot saved) while read-only opens follow one another. */
static void test_live_writer(void **state) {
    (void)state;
    seed_of_run = tu_seed("test_live_writer");
    tu_rng_t rng;
    tu_rng_init(&rng, seed_of_run + 1);
    writer_t w;
    writer_init(&w, "ro-live");
    tu_rng_init(&w.rng, seed_of_run);
    w.commits = 2500;
    w.reopen_every = 150;
    ro_reset();
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, writer_main, &w), 0);
    unsigned opens = 0;
    uint64_t last_head = 0;
    while (!atomic_load(&w.done)) {
        uint64_t acked = atomic_load(&w.acked);
        stele_store_t *s = NULL;
        int rc = open_ro(w.dir, &s);
        if (rc != 0)
            fail_msg("read-only open %u (acknowledged: %" PRIu64 "): %s (%s)", opens, acked,
                     stele_strerror(rc), stele_errdetail());
        assert_nothing_written("live writer");
        uint64_t head = ro_head(s);
        uint64_t planned = atomic_load(&w.planned);
        char when[64];
        snprintf(when, sizeof when, "open %u (head %" PRIu64 ")", opens, head);
        if (head < acked || head > planned)
            fail_msg("%s: head %" PRIu64 " outside [acknowledged %" PRIu64 ", written %" PRIu64 "]",
                     when, head, acked, planned);
        check_view(s, head, &rng, when);
        stele_event_in_t ev = tu_event("T", "{}");
        assert_int_equal(stele_append(s, "ro-0", STELE_EXPECT_ANY, &ev, 1, NULL), STELE_EREADONLY);
        assert_int_equal(stele_store_close(s), 0);
        assert_nothing_written("live writer, close");
        opens++;
        last_head = head;
    }
    pthread_join(t, NULL);
    assert_int_equal(w.error, 0);
    printf("test_live_writer: %u read-only opens, last head %" PRIu64 " of %" PRIu64 "\n", opens,
           last_head, atomic_load(&w.acked));
    assert_true(opens > 0);
    writer_free(&w);
}

typedef struct file_state {
    char name[512];
    off_t size;
    struct timespec mtime, ctime;
    uint32_t sum;
} file_state_t;

typedef struct tree {
    file_state_t v[256];
    size_t n;
} tree_t;

static uint32_t file_sum(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f)
        return 0;
    uint32_t h = 2166136261u;
    int c;
    while ((c = fgetc(f)) != EOF)
        h = (h ^ (uint32_t)c) * 16777619u;
    fclose(f);
    return h;
}

static void tree_walk(tree_t *t, const char *root, const char *rel) {
    char path[4096];
    snprintf(path, sizeof path, "%s%s%s", root, rel[0] ? "/" : "", rel);
    DIR *d = opendir(path);
    assert_non_null(d);
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        char sub[512], full[4608];
        snprintf(sub, sizeof sub, "%s%s%s", rel, rel[0] ? "/" : "", de->d_name);
        snprintf(full, sizeof full, "%s/%s", root, sub);
        struct stat st;
        assert_int_equal(lstat(full, &st), 0);
        assert_true(t->n < sizeof t->v / sizeof t->v[0]);
        file_state_t *f = &t->v[t->n++];
        snprintf(f->name, sizeof f->name, "%s", sub);
        f->size = st.st_size;
        f->mtime = st.st_mtim;
        f->ctime = st.st_ctim;
        f->sum = S_ISREG(st.st_mode) ? file_sum(full) : 0;
        if (S_ISDIR(st.st_mode))
            tree_walk(t, root, sub);
    }
    closedir(d);
}

static int cmp_state(const void *a, const void *b) {
    return strcmp(((const file_state_t *)a)->name, ((const file_state_t *)b)->name);
}

static void tree_take(tree_t *t, const char *root) {
    t->n = 0;
    tree_walk(t, root, "");
    qsort(t->v, t->n, sizeof t->v[0], cmp_state);
}

static void tree_same(const tree_t *a, const tree_t *b) {
    for (size_t i = 0; i < a->n || i < b->n; i++) {
        if (i >= a->n || i >= b->n)
            fail_msg("the store now has %zu entries, it had %zu", b->n, a->n);
        const file_state_t *x = &a->v[i], *y = &b->v[i];
        if (strcmp(x->name, y->name) != 0)
            fail_msg("entry %s became %s", x->name, y->name);
        if (x->size != y->size || x->sum != y->sum || x->mtime.tv_sec != y->mtime.tv_sec ||
            x->mtime.tv_nsec != y->mtime.tv_nsec || x->ctime.tv_sec != y->ctime.tv_sec ||
            x->ctime.tv_nsec != y->ctime.tv_nsec)
            fail_msg("%s changed (size %lld -> %lld)", x->name, (long long)x->size,
                     (long long)y->size);
    }
}

static void put_file(const char *dir, const char *rel, const void *bytes, size_t len, off_t at) {
    char path[4600];
    int n = snprintf(path, sizeof path, "%s/%s", dir, rel);
    assert_true(n > 0 && (size_t)n < sizeof path);
    int fd = open(path, O_WRONLY | O_CREAT, 0600);
    assert_true(fd >= 0);
    assert_int_equal(pwrite(fd, bytes, len, at), (ssize_t)len);
    close(fd);
}

static uint64_t store_stat(stele_store_t *s, int which) {
    stele_stats_t st = {.struct_size = sizeof st};
    assert_int_equal(stele_stats(s, &st), 0);
    return which == 0 ? st.segments : which == 1 ? st.log_bytes : st.index_tables;
}

/* The writer holds the store (its lock, its threads), idle; the store has index tables, a
 * catalogue snapshot, a torn tail after the last commit and the files a writer has in progress.
 * A read-only open, reads and close leave every file and directory as it was. */
static void test_changes_nothing(void **state) {
    (void)state;
    seed_of_run = 7;
    tu_rng_t rng;
    tu_rng_init(&rng, 3);
    writer_t w;
    writer_init(&w, "ro-nochange");
    tu_rng_init(&w.rng, 11);
    writer_append(&w, 80);
    stele_options_t o = writer_options();
    assert_int_equal(stele_store_close(w.s), 0); /* index tables and catalogue.snap */
    assert_int_equal(stele_store_open(w.dir, &o, &w.s), 0);
    writer_append(&w, 20);
    /* The next segment the writer prepares in the background: wait for it, so that only the
     * reader could change anything from now on. */
    char next[4200];
    tu_join(next, sizeof next, w.dir, "log/next.tmp");
    for (int i = 0; i < 2000 && !tu_exists(next); i++)
        usleep(5000);
    assert_true(tu_exists(next));
    /* Junk after the last commit of the active segment (a torn commit), and files a writer may
     * have in progress: a half-made segment, a table being written, a manifest being replaced. */
    uint64_t end = 128 + store_stat(w.s, 1);
    char **segs = NULL;
    size_t nseg = 0;
    char logdir[4200];
    tu_join(logdir, sizeof logdir, w.dir, "log");
    segs = tu_list(logdir, ".seg", &nseg);
    assert_int_equal(nseg, 1);
    char rel[600];
    snprintf(rel, sizeof rel, "log/%s", segs[0]);
    tu_names_free(segs, nseg);
    uint8_t junk[300];
    for (size_t i = 0; i < sizeof junk; i++)
        junk[i] = (uint8_t)(i * 37 + 1);
    memcpy(junk, "\x53\x54\x45\x4c", 4);
    put_file(w.dir, rel, junk, sizeof junk, (off_t)end);
    put_file(w.dir, "log/next.partial", junk, 100, 0);
    put_file(w.dir, "index/table-00000000000000ff.sti", junk, 200, 0);
    put_file(w.dir, "index/MANIFEST.tmp", junk, 50, 0);
    put_file(w.dir, "catalogue.snap.tmp", junk, 10, 0);

    tree_t before, after;
    tree_take(&before, w.dir);
    usleep(20000); /* a change would show in the times */
    ro_reset();
    stele_store_t *s = open_ro_ok(w.dir, "idle writer");
    uint64_t head = ro_head(s);
    assert_int_equal(head, atomic_load(&w.acked));
    check_view(s, head, &rng, "idle writer");
    check_view(s, head, &rng, "idle writer, again");
    stele_stream_info_t info = {.struct_size = sizeof info};
    assert_int_equal(stele_stream_info(s, "ro-1", &info), 0);
    /* Appends and maintenance are refused, and change nothing either. */
    stele_event_in_t ev = tu_event("T", "{}");
    assert_int_equal(stele_append(s, "ro-1", STELE_EXPECT_ANY, &ev, 1, NULL), STELE_EREADONLY);
    assert_int_equal(stele_stream_metadata_set(s, "ro-1", "{}"), STELE_EREADONLY);
    assert_int_equal(stele_stream_delete(s, "ro-1", STELE_EXPECT_ANY, false), STELE_EREADONLY);
    assert_int_equal(stele_reindex(s, NULL, NULL), STELE_EREADONLY);
    assert_true(strstr(stele_errdetail(), "read-only") != NULL);
    assert_int_equal(stele_store_close(s), 0);
    assert_nothing_written("idle writer");
    tree_take(&after, w.dir);
    tree_same(&before, &after);
    writer_free(&w);
}

/* ---- the writer moves on in the middle of a read-only open -------------------------------- */

static writer_t *HW; /* the writer the hooks drive */
static bool hook_fired;

static bool is_seg(const char *path) {
    size_t n = strlen(path);
    return n > 4 && strcmp(path + n - 4, ".seg") == 0;
}

/* After the segments are listed, before the last one is opened: the writer fills it and rolls
 * to the next, so the last segment the open knows has its sealed offset index by the time it is
 * read, and no later segment in the listing. */
static void roll_on_open(const char *path) {
    if (hook_fired || !is_seg(path))
        return;
    hook_fired = true;
    uint64_t segs = store_stat(HW->s, 0);
    while (store_stat(HW->s, 0) == segs)
        assert_int_equal(writer_commit(HW), 0);
    writer_append(HW, 3);
}

static void test_roll_during_open(void **state) {
    (void)state;
    seed_of_run = 21;
    tu_rng_t rng;
    tu_rng_init(&rng, 5);
    writer_t w;
    writer_init(&w, "ro-roll");
    tu_rng_init(&w.rng, 13);
    writer_append(&w, 20);
    uint64_t acked = atomic_load(&w.acked);
    ro_reset();
    HW = &w;
    hook_fired = false;
    RO.on_open = roll_on_open;
    stele_store_t *s = open_ro_ok(w.dir, "roll during open");
    assert_true(hook_fired);
    uint64_t head = ro_head(s);
    assert_true(head >= acked && head <= atomic_load(&w.planned));
    check_view(s, head, &rng, "roll during open");
    assert_int_equal(stele_store_close(s), 0);
    writer_free(&w);
}

/* The scan of the last segment meets the last commit half-written (the hook zeroes its end in the
 * bytes read, as a read racing the writer's pwrite can see), and by the time the open looks
 * further the writer has finished it and written another after it: an intact commit after damage,
 * which in a quiet log would be corruption in the middle. Then the writer closes, saving a
 * catalogue snapshot that proves its whole log durable: read before the log, it proves less. */
static uint64_t torn_head; /* the head when the hook tears the last commit */
static uint64_t tear_at;   /* file offset of the 40 bytes zeroed */
static int tears_left;     /* the scan's read, and its cursor's fresh re-read of the record */

static void tear_on_read(ro_file_t *f, uint8_t *buf, size_t got, uint64_t off) {
    if (!is_seg(f->path) || got < 64)
        return;
    if (!hook_fired && off == 128) {
        hook_fired = true;
        size_t last = got;
        while (last > 0 && buf[last - 1] == 0)
            last--;
        assert_true(last > 64);
        tear_at = off + last - 40;
        tears_left = 2;
        torn_head = atomic_load(&HW->acked);
        writer_append(HW, 2);
        assert_int_equal(stele_store_close(HW->s), 0);
        HW->s = NULL;
    }
    if (tears_left > 0 && off <= tear_at && off + got >= tear_at + 40) {
        tears_left--;
        memset(buf + (tear_at - off), 0, 40);
    }
}

static void test_commit_finished_during_open(void **state) {
    (void)state;
    seed_of_run = 33;
    tu_rng_t rng;
    tu_rng_init(&rng, 9);
    writer_t w;
    writer_init(&w, "ro-torn");
    tu_rng_init(&w.rng, 17);
    writer_append(&w, 30);
    ro_reset();
    HW = &w;
    hook_fired = false;
    RO.on_pread = tear_on_read;
    stele_store_t *s = open_ro_ok(w.dir, "commit finished during open");
    assert_true(hook_fired);
    uint64_t head = ro_head(s);
    /* The torn commit and what followed are not in the view; everything before is. */
    assert_true(head < torn_head);
    assert_true(head + 4 >= torn_head);
    check_view(s, head, &rng, "commit finished during open");
    assert_int_equal(stele_store_close(s), 0);
    /* And the store is whole: the writer's next open keeps every commit. */
    ro_reset();
    s = open_ro_ok(w.dir, "after the writer closed");
    assert_int_equal(ro_head(s), atomic_load(&w.acked));
    check_view(s, atomic_load(&w.acked), &rng, "after the writer closed");
    assert_int_equal(stele_store_close(s), 0);
    writer_free(&w);
}

/* A table the manifest names is gone when the open gets to it (the writer merged it away): the
 * index reads its manifest again and uses the tables, rather than giving up on them. */
static int vanish_once(const char *path) {
    if (hook_fired || !strstr(path, "/index/table-"))
        return 0;
    hook_fired = true;
    return -ENOENT;
}

static void test_table_vanishes(void **state) {
    (void)state;
    seed_of_run = 45;
    tu_rng_t rng;
    tu_rng_init(&rng, 1);
    writer_t w;
    writer_init(&w, "ro-vanish");
    tu_rng_init(&w.rng, 19);
    writer_append(&w, 50);
    assert_int_equal(stele_store_close(w.s), 0);
    w.s = NULL;
    ro_reset();
    hook_fired = false;
    RO.on_open_result = vanish_once;
    stele_store_t *s = open_ro_ok(w.dir, "table vanishes");
    assert_true(hook_fired);
    assert_true(store_stat(s, 2) > 0);
    check_view(s, atomic_load(&w.acked), &rng, "table vanishes");
    assert_int_equal(stele_store_close(s), 0);
    writer_free(&w);
}

/* The index on its own: a read-only index keeps a tail far larger than its memtable in memory
 * (the memtable grows instead of being written), answers from tables and memory together, forgets
 * them in memory on reset, and touches no file, also when its directory does not exist. */
static void add_entries(stele_index_t *idx, uint64_t from, uint64_t to, int64_t *versions) {
    for (uint64_t p = from; p <= to; p++) {
        stele_index_entry_t e = {
            .hash = 1000 + p % 5, .version = (uint64_t)++versions[p % 5], .position = p};
        assert_int_equal(stele__index_add(idx, &e, 1), 0);
    }
}

static void expect_versions(stele_index_t *idx, uint64_t hash, size_t want) {
    stele_index_entry_t out[2000];
    size_t n = 0;
    assert_int_equal(stele__index_lookup(idx, hash, 0, false, out, 2000, &n), 0);
    assert_int_equal(n, want);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(out[i].version, i);
}

static void test_index_readonly(void **state) {
    (void)state;
    char dir[4096], missing[4200];
    tu_tmpdir(dir, sizeof dir, "ro-index");
    int64_t versions[5] = {-1, -1, -1, -1, -1};
    stele_index_options_t wo = {.memtable_entries = 64, .merge_fanout = 2};
    stele_index_t *idx = NULL;
    assert_int_equal(stele__index_open(NULL, dir, &wo, &idx), 0);
    add_entries(idx, 1, 1000, versions);
    assert_int_equal(stele__index_close(idx), 0);

    tree_t before, after;
    tree_take(&before, dir);
    ro_reset();
    stele_index_options_t ro = {.memtable_entries = 16, .readonly = true};
    assert_int_equal(stele__index_open(&RO_VFS, dir, &ro, &idx), 0);
    assert_int_equal(stele__index_checkpoint(idx), 1000);
    add_entries(idx, 1001, 3000, versions); /* 2000 entries through a 16-entry memtable */
    for (uint64_t h = 1000; h < 1005; h++)
        expect_versions(idx, h, 600);
    stele_index_stats_t st;
    stele__index_stats(idx, &st);
    assert_int_equal(st.entries, 3000);
    assert_int_equal(stele__index_flush(idx), STELE_EREADONLY);
    assert_int_equal(stele__index_reset(idx), 0);
    assert_int_equal(stele__index_checkpoint(idx), 0);
    expect_versions(idx, 1000, 0);
    assert_int_equal(stele__index_close(idx), 0);
    assert_nothing_written("read-only index");
    tree_take(&after, dir);
    tree_same(&before, &after);

    tu_join(missing, sizeof missing, dir, "none");
    assert_int_equal(stele__index_open(&RO_VFS, missing, &ro, &idx), 0);
    assert_int_equal(stele__index_checkpoint(idx), 0);
    assert_int_equal(stele__index_close(idx), 0);
    assert_nothing_written("read-only index of a missing directory");
    assert_false(tu_exists(missing));
    tu_rmtree(dir);
}

int main(void) {
    X = calloc(MAX_POSITIONS + 1, sizeof *X);
    assert_non_null(X);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_changes_nothing),
        cmocka_unit_test(test_roll_during_open),
        cmocka_unit_test(test_commit_finished_during_open),
        cmocka_unit_test(test_table_vanishes),
        cmocka_unit_test(test_index_readonly),
        cmocka_unit_test(test_live_writer),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    free(X);
    return rc;
}
