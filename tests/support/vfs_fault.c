/*
 * vfs_fault.c -- a file table that forwards to another one and fails chosen calls, so tests can
 * check that every write, sync, read, open, rename and allocation failure is handled (invariant 6).
 *
 * Each operation kind has a countdown: arming op with n makes the nth counted call fail with the
 * armed error, and with sticky every call after it too. A path filter restricts both counting and
 * failing to files whose path contains a substring (e.g. only segment files). Counters are C11
 * atomics, so the writer thread can go through the table while a test thread arms it; the filter
 * string is guarded by a mutex because it is replaced as a whole.
 */
#include "vfs_fault.h"

#include "os/alloc.h"
#include "stele.h"

#include <pthread.h>
#include <stdlib.h>
#include <stdatomic.h>
#include <string.h>

typedef struct op_state {
    _Atomic uint64_t calls;     /* counted calls so far */
    _Atomic uint64_t countdown; /* counted calls left until the armed one; 0 = disarmed */
    atomic_int error;           /* the error to inject */
    atomic_bool sticky;         /* keep failing after the armed call */
    atomic_bool tripped;        /* a sticky failure has started */
} op_state_t;

struct stele_fault_vfs {
    stele_vfs_t table; /* ctx points back here */
    const stele_vfs_t *inner;
    op_state_t ops[STELE_FAULT_OP_COUNT];
    _Atomic uint64_t injected;
    atomic_bool short_write;
    pthread_mutex_t filter_lock; /* guards filter */
    char *filter;                /* NULL = every path */
};

/* A file opened through the fault table: the inner file plus its path for the filter. */
typedef struct fault_file {
    struct stele_file base; /* base.vfs is the fault table */
    stele_file_t *inner;
    char path[];
} fault_file_t;

static stele_fault_vfs_t *fv_of_vfs(const stele_vfs_t *vfs) { return vfs->ctx; }
static fault_file_t *ff_of(stele_file_t *f) { return (fault_file_t *)f; }
static stele_fault_vfs_t *fv_of_file(stele_file_t *f) { return fv_of_vfs(f->vfs); }

static bool path_matches(stele_fault_vfs_t *fv, const char *path) {
    pthread_mutex_lock(&fv->filter_lock);
    bool match = !fv->filter || (path && strstr(path, fv->filter) != NULL);
    pthread_mutex_unlock(&fv->filter_lock);
    return match;
}

/* Counts a call of op on path and returns the error to inject, or 0 to let it through. */
static int check(stele_fault_vfs_t *fv, stele_fault_op_t op, const char *path) {
    if (!path_matches(fv, path))
        return 0;
    op_state_t *s = &fv->ops[op];
    atomic_fetch_add(&s->calls, 1);
    bool fail = atomic_load(&s->tripped);
    uint64_t left = atomic_load(&s->countdown);
    while (!fail && left != 0) {
        if (atomic_compare_exchange_weak(&s->countdown, &left, left - 1)) {
            if (left == 1) {
                fail = true;
                if (atomic_load(&s->sticky))
                    atomic_store(&s->tripped, true);
            }
            break;
        }
    }
    if (!fail)
        return 0;
    atomic_fetch_add(&fv->injected, 1);
    return atomic_load(&s->error);
}

static int fault_open(const stele_vfs_t *vfs, const char *path, unsigned flags,
                      stele_file_t **out) {
    stele_fault_vfs_t *fv = fv_of_vfs(vfs);
    int rc = check(fv, STELE_FAULT_OPEN, path);
    if (rc != 0)
        return rc;
    size_t path_len = strlen(path);
    fault_file_t *f = stele__malloc(sizeof *f + path_len + 1);
    if (!f)
        return STELE_ENOMEM;
    rc = fv->inner->open(fv->inner, path, flags, &f->inner);
    if (rc != 0) {
        stele__free(f);
        return rc;
    }
    f->base.vfs = vfs;
    memcpy(f->path, path, path_len + 1);
    *out = &f->base;
    return 0;
}

static int fault_close(stele_file_t *f) {
    if (!f)
        return 0;
    int rc = stele__file_close(ff_of(f)->inner);
    stele__free(f);
    return rc;
}

static int fault_pread(stele_file_t *f, void *buf, size_t len, uint64_t off, size_t *nread) {
    int rc = check(fv_of_file(f), STELE_FAULT_READ, ff_of(f)->path);
    if (rc != 0) {
        *nread = 0;
        return rc;
    }
    return stele__file_pread(ff_of(f)->inner, buf, len, off, nread);
}

static int fault_pwrite(stele_file_t *f, const void *buf, size_t len, uint64_t off) {
    stele_fault_vfs_t *fv = fv_of_file(f);
    int rc = check(fv, STELE_FAULT_WRITE, ff_of(f)->path);
    if (rc == 0)
        return stele__file_pwrite(ff_of(f)->inner, buf, len, off);
    /* A torn write: the first half reaches the file, then the call fails. */
    if (atomic_load(&fv->short_write) && len / 2 > 0)
        (void)stele__file_pwrite(ff_of(f)->inner, buf, len / 2, off);
    return rc;
}

static int fault_sync(stele_file_t *f) {
    int rc = check(fv_of_file(f), STELE_FAULT_SYNC, ff_of(f)->path);
    return rc ? rc : stele__file_sync(ff_of(f)->inner);
}

static int fault_size(stele_file_t *f, uint64_t *size_bytes) {
    stele_file_t *inner = ff_of(f)->inner;
    return inner->vfs->size(inner, size_bytes);
}

static int fault_truncate(stele_file_t *f, uint64_t size_bytes) {
    int rc = check(fv_of_file(f), STELE_FAULT_ALLOCATE, ff_of(f)->path);
    stele_file_t *inner = ff_of(f)->inner;
    return rc ? rc : inner->vfs->truncate(inner, size_bytes);
}

static int fault_allocate(stele_file_t *f, uint64_t off, uint64_t len) {
    int rc = check(fv_of_file(f), STELE_FAULT_ALLOCATE, ff_of(f)->path);
    stele_file_t *inner = ff_of(f)->inner;
    return rc ? rc : inner->vfs->allocate(inner, off, len);
}

static int fault_lock(stele_file_t *f) {
    stele_file_t *inner = ff_of(f)->inner;
    return inner->vfs->lock(inner);
}

static int fault_rename(const stele_vfs_t *vfs, const char *from, const char *to) {
    stele_fault_vfs_t *fv = fv_of_vfs(vfs);
    /* The filter is applied to the destination, the name that matters once the rename is done. */
    int rc = check(fv, STELE_FAULT_RENAME, to);
    return rc ? rc : fv->inner->rename(fv->inner, from, to);
}

static int fault_unlink(const stele_vfs_t *vfs, const char *path) {
    stele_fault_vfs_t *fv = fv_of_vfs(vfs);
    return fv->inner->unlink(fv->inner, path);
}

static int fault_mkdir(const stele_vfs_t *vfs, const char *path) {
    stele_fault_vfs_t *fv = fv_of_vfs(vfs);
    return fv->inner->mkdir(fv->inner, path);
}

static int fault_sync_dir(const stele_vfs_t *vfs, const char *path) {
    stele_fault_vfs_t *fv = fv_of_vfs(vfs);
    int rc = check(fv, STELE_FAULT_SYNC, path);
    return rc ? rc : fv->inner->sync_dir(fv->inner, path);
}

static int fault_list_dir(const stele_vfs_t *vfs, const char *path,
                          int (*fn)(void *arg, const char *name), void *arg) {
    stele_fault_vfs_t *fv = fv_of_vfs(vfs);
    return fv->inner->list_dir(fv->inner, path, fn, arg);
}

static int fault_exists(const stele_vfs_t *vfs, const char *path) {
    stele_fault_vfs_t *fv = fv_of_vfs(vfs);
    return fv->inner->exists(fv->inner, path);
}

int stele__fault_vfs_new(const stele_vfs_t *base, stele_fault_vfs_t **out) {
    stele_fault_vfs_t *fv = stele__calloc(1, sizeof *fv);
    if (!fv)
        return STELE_ENOMEM;
    fv->inner = base ? base : stele__vfs_posix();
    fv->table = (stele_vfs_t){
        .name = "fault",
        .ctx = fv,
        .open = fault_open,
        .close = fault_close,
        .pread = fault_pread,
        .pwrite = fault_pwrite,
        .sync = fault_sync,
        .size = fault_size,
        .truncate = fault_truncate,
        .allocate = fault_allocate,
        .lock = fault_lock,
        .rename = fault_rename,
        .unlink = fault_unlink,
        .mkdir = fault_mkdir,
        .sync_dir = fault_sync_dir,
        .list_dir = fault_list_dir,
        .exists = fault_exists,
    };
    for (int op = 0; op < STELE_FAULT_OP_COUNT; op++) {
        atomic_init(&fv->ops[op].calls, 0);
        atomic_init(&fv->ops[op].countdown, 0);
        atomic_init(&fv->ops[op].error, 0);
        atomic_init(&fv->ops[op].sticky, false);
        atomic_init(&fv->ops[op].tripped, false);
    }
    atomic_init(&fv->injected, 0);
    atomic_init(&fv->short_write, false);
    pthread_mutex_init(&fv->filter_lock, NULL);
    *out = fv;
    return 0;
}

void stele__fault_vfs_free(stele_fault_vfs_t *fv) {
    if (!fv)
        return;
    pthread_mutex_destroy(&fv->filter_lock);
    stele__free(fv->filter);
    stele__free(fv);
}

const stele_vfs_t *stele__fault_vfs_table(stele_fault_vfs_t *fv) { return &fv->table; }

void stele__fault_arm(stele_fault_vfs_t *fv, stele_fault_op_t op, uint64_t nth, int error,
                      bool sticky) {
    op_state_t *s = &fv->ops[op];
    /* Disarm first, so a concurrent call never sees the new countdown with the old error. */
    atomic_store(&s->countdown, 0);
    atomic_store(&s->tripped, false);
    atomic_store(&s->error, error);
    atomic_store(&s->sticky, sticky);
    atomic_store(&s->countdown, nth);
}

void stele__fault_set_path_filter(stele_fault_vfs_t *fv, const char *substring) {
    /* A test hook: if the copy cannot be made, failing loudly beats filtering nothing. */
    char *copy = substring ? stele__strdup(substring) : NULL;
    if (substring && !copy)
        abort();
    pthread_mutex_lock(&fv->filter_lock);
    char *old = fv->filter;
    fv->filter = copy;
    pthread_mutex_unlock(&fv->filter_lock);
    stele__free(old);
}

void stele__fault_set_short_write(stele_fault_vfs_t *fv, bool on) {
    atomic_store(&fv->short_write, on);
}

uint64_t stele__fault_count(const stele_fault_vfs_t *fv, stele_fault_op_t op) {
    return atomic_load(&((stele_fault_vfs_t *)fv)->ops[op].calls);
}

uint64_t stele__fault_injected(const stele_fault_vfs_t *fv) {
    return atomic_load(&((stele_fault_vfs_t *)fv)->injected);
}

void stele__fault_reset(stele_fault_vfs_t *fv) {
    for (int op = 0; op < STELE_FAULT_OP_COUNT; op++) {
        stele__fault_arm(fv, (stele_fault_op_t)op, 0, 0, false);
        atomic_store(&fv->ops[op].calls, 0);
    }
    atomic_store(&fv->injected, 0);
    atomic_store(&fv->short_write, false);
    stele__fault_set_path_filter(fv, NULL);
}
