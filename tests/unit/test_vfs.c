/*
 * test_vfs.c -- the POSIX file table (reads, writes, sizes, truncation, renames, listings, the
 * exclusive lock), the whole-file helpers, and the fault-injecting table (nth failure, sticky
 * failures, torn writes, the path filter, counters, use from several threads).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "alloc_hooks.h"
#include "os/vfs.h"
#include "vfs_fault.h"
#include "stele.h"
#include "test_util.h"

#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct fixture {
    char dir[1024];
    const stele_vfs_t *vfs;
    stele_fault_vfs_t *fv; /* for the fault tests */
} fixture_t;

static int remove_entry(void *arg, const char *name) {
    char path[PATH_MAX];
    int n = snprintf(path, sizeof path, "%s/%s", (const char *)arg, name);
    if (n < 0 || n >= (int)sizeof path)
        return -ENAMETOOLONG;
    return unlink(path) == 0 ? 0 : -errno;
}

static int setup(void **state) {
    fixture_t *fx = calloc(1, sizeof *fx);
    if (!fx)
        return -1;
    const char *base = getenv("STELE_TEST_TMP");
    if (!base || !*base)
        base = "/tmp";
    mkdir(base, 0755); /* ctest names the directory but may not have made it yet */
    snprintf(fx->dir, sizeof fx->dir, "%s/test_vfs.XXXXXX", base);
    if (!mkdtemp(fx->dir))
        return -1;
    fx->vfs = stele__vfs_posix();
    if (stele__fault_vfs_new(NULL, &fx->fv) != 0)
        return -1;
    *state = fx;
    return 0;
}

static int teardown(void **state) {
    fixture_t *fx = *state;
    int rc = fx->vfs->list_dir(fx->vfs, fx->dir, remove_entry, fx->dir);
    if (rc == 0)
        rc = rmdir(fx->dir);
    stele__fault_vfs_free(fx->fv);
    free(fx);
    return rc;
}

static void path_in(const fixture_t *fx, const char *name, char out[PATH_MAX]) {
    int n = snprintf(out, PATH_MAX, "%s/%s", fx->dir, name);
    assert_true(n > 0 && n < PATH_MAX);
}

static void test_write_read_size_truncate(void **state) {
    fixture_t *fx = *state;
    const stele_vfs_t *vfs = fx->vfs;
    char path[PATH_MAX];
    path_in(fx, "data", path);
    stele_file_t *f = NULL;
    assert_int_equal(vfs->open(vfs, path, STELE_VFS_RDONLY, &f), -ENOENT);
    assert_int_equal(vfs->open(vfs, path, STELE_VFS_RDWR | STELE_VFS_CREATE, &f), 0);
    assert_ptr_equal(f->vfs, vfs);

    assert_int_equal(stele__file_pwrite(f, "hello world", 11, 0), 0);
    assert_int_equal(stele__file_pwrite(f, "tail", 4, 100), 0);
    assert_int_equal(stele__file_sync(f), 0);
    uint64_t size = 0;
    assert_int_equal(vfs->size(f, &size), 0);
    assert_int_equal(size, 104);

    char buf[200];
    size_t nread = 0;
    assert_int_equal(stele__file_pread(f, buf, 5, 6, &nread), 0);
    assert_int_equal(nread, 5);
    assert_memory_equal(buf, "world", 5);
    /* The hole reads as zeros; the read stops at the end of the file. */
    assert_int_equal(stele__file_pread(f, buf, sizeof buf, 0, &nread), 0);
    assert_int_equal(nread, 104);
    assert_int_equal(buf[50], 0);
    assert_memory_equal(buf + 100, "tail", 4);
    assert_int_equal(stele__file_read_exact(f, buf, 4, 100), 0);
    assert_int_equal(stele__file_read_exact(f, buf, 5, 100), -ENODATA);

    assert_int_equal(vfs->truncate(f, 5), 0);
    assert_int_equal(vfs->size(f, &size), 0);
    assert_int_equal(size, 5);
    assert_int_equal(stele__file_pread(f, buf, sizeof buf, 0, &nread), 0);
    assert_int_equal(nread, 5);
    assert_memory_equal(buf, "hello", 5);

    int rc = vfs->allocate(f, 0, 65536);
    assert_true(rc == 0 || rc == -EOPNOTSUPP);
    if (rc == 0) {
        assert_int_equal(vfs->size(f, &size), 0);
        assert_int_equal(size, 65536);
    }
    assert_int_equal(stele__file_close(f), 0);
    assert_int_equal(stele__file_close(NULL), 0);

    /* EXCL refuses an existing file; read-only files refuse writes. */
    assert_int_equal(vfs->open(vfs, path, STELE_VFS_RDWR | STELE_VFS_CREATE | STELE_VFS_EXCL, &f),
                     -EEXIST);
    assert_int_equal(vfs->open(vfs, path, STELE_VFS_RDONLY, &f), 0);
    assert_int_equal(stele__file_pwrite(f, "x", 1, 0), -EBADF);
    assert_int_equal(stele__file_close(f), 0);
}

static int collect(void *arg, const char *name) {
    char *names = arg;
    strcat(names, name);
    strcat(names, ";");
    return 0;
}

static int stop_at_b(void *arg, const char *name) {
    (void)arg;
    return strcmp(name, "b") == 0 ? 42 : 0;
}

static void touch(const fixture_t *fx, const char *name) {
    char path[PATH_MAX];
    stele_file_t *f;
    path_in(fx, name, path);
    assert_int_equal(fx->vfs->open(fx->vfs, path, STELE_VFS_RDWR | STELE_VFS_CREATE, &f), 0);
    assert_int_equal(stele__file_close(f), 0);
}

static void test_dir_operations(void **state) {
    fixture_t *fx = *state;
    const stele_vfs_t *vfs = fx->vfs;
    char a[PATH_MAX], b[PATH_MAX], sub[PATH_MAX];
    path_in(fx, "a", a);
    path_in(fx, "b", b);
    path_in(fx, "sub", sub);

    touch(fx, "a");
    assert_int_equal(vfs->exists(vfs, a), 0);
    assert_int_equal(vfs->exists(vfs, b), -ENOENT);
    assert_int_equal(vfs->rename(vfs, a, b), 0);
    assert_int_equal(vfs->exists(vfs, a), -ENOENT);
    assert_int_equal(vfs->exists(vfs, b), 0);
    assert_int_equal(vfs->rename(vfs, a, b), -ENOENT);
    assert_int_equal(vfs->sync_dir(vfs, fx->dir), 0);
    assert_int_equal(vfs->sync_dir(vfs, sub), -ENOENT);

    assert_int_equal(vfs->mkdir(vfs, sub), 0);
    assert_int_equal(vfs->mkdir(vfs, sub), -EEXIST);
    assert_int_equal(vfs->sync_dir(vfs, sub), 0);
    char nested[PATH_MAX];
    path_in(fx, "c/sub", nested); /* under a file, not a directory */
    touch(fx, "c");

    char names[256] = "";
    assert_int_equal(vfs->list_dir(vfs, fx->dir, collect, names), 0);
    /* Order is the filesystem's: check membership, not order. */
    assert_non_null(strstr(names, "b;"));
    assert_non_null(strstr(names, "c;"));
    assert_non_null(strstr(names, "sub;"));
    assert_null(strstr(names, "a;"));
    assert_int_equal(strlen(names), strlen("b;c;sub;"));
    assert_int_equal(vfs->list_dir(vfs, fx->dir, stop_at_b, NULL), 42);
    assert_int_equal(vfs->list_dir(vfs, nested, collect, names), -ENOTDIR);
    path_in(fx, "missing", nested);
    assert_int_equal(vfs->list_dir(vfs, nested, collect, names), -ENOENT);

    assert_int_equal(rmdir(sub), 0);
    assert_int_equal(vfs->unlink(vfs, b), 0);
    assert_int_equal(vfs->unlink(vfs, b), -ENOENT);
}

static void test_lock(void **state) {
    fixture_t *fx = *state;
    const stele_vfs_t *vfs = fx->vfs;
    char path[PATH_MAX];
    path_in(fx, "LOCK", path);
    stele_file_t *first, *second;
    assert_int_equal(vfs->open(vfs, path, STELE_VFS_RDWR | STELE_VFS_CREATE, &first), 0);
    assert_int_equal(vfs->open(vfs, path, STELE_VFS_RDWR, &second), 0);
    assert_int_equal(vfs->lock(first), 0);
    assert_int_equal(vfs->lock(second), STELE_ELOCKED);
    assert_int_equal(stele__file_close(first), 0);
    /* Closing the holder releases the lock. */
    assert_int_equal(vfs->lock(second), 0);
    assert_int_equal(stele__file_close(second), 0);
}

static void test_write_atomic_and_read_all(void **state) {
    fixture_t *fx = *state;
    const stele_vfs_t *vfs = fx->vfs;
    char path[PATH_MAX], tmp[PATH_MAX];
    path_in(fx, "MANIFEST", path);
    path_in(fx, "MANIFEST.tmp", tmp);
    int64_t live = stele__alloc_live();

    assert_int_equal(stele__file_write_atomic(vfs, fx->dir, "MANIFEST", "first version", 13), 0);
    assert_int_equal(vfs->exists(vfs, tmp), -ENOENT);
    assert_int_equal(stele__file_write_atomic(vfs, fx->dir, "MANIFEST", "second", 6), 0);

    void *buf = NULL;
    size_t len = 0;
    assert_int_equal(stele__file_read_all(vfs, path, 1024, &buf, &len), 0);
    assert_int_equal(len, 6);
    assert_string_equal(buf, "second"); /* shorter than before: the old bytes are gone */
    stele__free(buf);

    assert_int_equal(stele__file_read_all(vfs, path, 5, &buf, &len), STELE_ETOOBIG);
    assert_int_equal(stele__file_read_all(vfs, tmp, 1024, &buf, &len), -ENOENT);
    assert_int_equal(stele__file_write_atomic(vfs, fx->dir, "EMPTY", "", 0), 0);
    path_in(fx, "EMPTY", path);
    assert_int_equal(stele__file_read_all(vfs, path, 1024, &buf, &len), 0);
    assert_int_equal(len, 0);
    stele__free(buf);
    assert_int_equal(stele__alloc_live(), live);
}

/* --- the fault table ------------------------------------------------------------------------ */

static stele_file_t *open_fault(fixture_t *fx, const char *name) {
    const stele_vfs_t *vfs = stele__fault_vfs_table(fx->fv);
    char path[PATH_MAX];
    path_in(fx, name, path);
    stele_file_t *f = NULL;
    assert_int_equal(vfs->open(vfs, path, STELE_VFS_RDWR | STELE_VFS_CREATE, &f), 0);
    assert_ptr_equal(f->vfs, vfs);
    return f;
}

static void test_fault_nth_write(void **state) {
    fixture_t *fx = *state;
    stele_file_t *f = open_fault(fx, "seg");
    stele__fault_arm(fx->fv, STELE_FAULT_WRITE, 2, -EIO, false);
    assert_int_equal(stele__file_pwrite(f, "aaaa", 4, 0), 0);
    assert_int_equal(stele__file_pwrite(f, "bbbb", 4, 4), -EIO);
    assert_int_equal(stele__file_pwrite(f, "cccc", 4, 8), 0);
    assert_int_equal(stele__fault_count(fx->fv, STELE_FAULT_WRITE), 3);
    assert_int_equal(stele__fault_injected(fx->fv), 1);

    char buf[12];
    assert_int_equal(stele__file_read_exact(f, buf, sizeof buf, 0), 0);
    assert_memory_equal(buf, "aaaa\0\0\0\0cccc", 12);
    assert_int_equal(stele__fault_count(fx->fv, STELE_FAULT_READ), 1);

    /* Sticky: the armed call and every later one fail until disarmed. */
    stele__fault_arm(fx->fv, STELE_FAULT_SYNC, 1, -EIO, true);
    assert_int_equal(stele__file_sync(f), -EIO);
    assert_int_equal(stele__file_sync(f), -EIO);
    assert_int_equal(stele__file_sync(f), -EIO);
    assert_int_equal(stele__fault_injected(fx->fv), 4);
    stele__fault_arm(fx->fv, STELE_FAULT_SYNC, 0, 0, false);
    assert_int_equal(stele__file_sync(f), 0);

    stele__fault_reset(fx->fv);
    assert_int_equal(stele__fault_count(fx->fv, STELE_FAULT_WRITE), 0);
    assert_int_equal(stele__fault_count(fx->fv, STELE_FAULT_SYNC), 0);
    assert_int_equal(stele__fault_injected(fx->fv), 0);
    assert_int_equal(stele__file_close(f), 0);
}

static void test_fault_short_write(void **state) {
    fixture_t *fx = *state;
    stele_file_t *f = open_fault(fx, "torn");
    stele__fault_set_short_write(fx->fv, true);
    stele__fault_arm(fx->fv, STELE_FAULT_WRITE, 1, -ENOSPC, false);
    assert_int_equal(stele__file_pwrite(f, "0123456789", 10, 0), -ENOSPC);
    uint64_t size = 0;
    assert_int_equal(f->vfs->size(f, &size), 0);
    assert_int_equal(size, 5);
    char buf[5];
    assert_int_equal(stele__file_read_exact(f, buf, 5, 0), 0);
    assert_memory_equal(buf, "01234", 5);
    assert_int_equal(stele__file_close(f), 0);
}

static void test_fault_path_filter(void **state) {
    fixture_t *fx = *state;
    stele_file_t *other = open_fault(fx, "index-1");
    stele_file_t *seg = open_fault(fx, "segment-1");
    stele__fault_set_path_filter(fx->fv, "segment");
    stele__fault_arm(fx->fv, STELE_FAULT_WRITE, 1, -EIO, true);
    assert_int_equal(stele__file_pwrite(other, "x", 1, 0), 0);
    assert_int_equal(stele__file_pwrite(other, "x", 1, 1), 0);
    assert_int_equal(stele__fault_count(fx->fv, STELE_FAULT_WRITE), 0);
    assert_int_equal(stele__file_pwrite(seg, "x", 1, 0), -EIO);
    assert_int_equal(stele__file_pwrite(other, "x", 1, 2), 0);
    assert_int_equal(stele__file_pwrite(seg, "x", 1, 0), -EIO);
    assert_int_equal(stele__fault_count(fx->fv, STELE_FAULT_WRITE), 2);
    stele__fault_set_path_filter(fx->fv, NULL);
    assert_int_equal(stele__file_pwrite(other, "x", 1, 3), -EIO); /* now every path counts */
    assert_int_equal(stele__file_close(other), 0);
    assert_int_equal(stele__file_close(seg), 0);
    stele__fault_reset(fx->fv);
}

static void test_fault_open_rename_allocate(void **state) {
    fixture_t *fx = *state;
    const stele_vfs_t *vfs = stele__fault_vfs_table(fx->fv);
    char path[PATH_MAX];
    path_in(fx, "f", path);
    stele_file_t *f = NULL;
    stele__fault_arm(fx->fv, STELE_FAULT_OPEN, 1, -EMFILE, false);
    assert_int_equal(vfs->open(vfs, path, STELE_VFS_RDWR | STELE_VFS_CREATE, &f), -EMFILE);
    assert_int_equal(vfs->exists(vfs, path), -ENOENT);
    f = open_fault(fx, "f");
    stele__fault_arm(fx->fv, STELE_FAULT_ALLOCATE, 1, -ENOSPC, false);
    assert_int_equal(vfs->truncate(f, 10), -ENOSPC);
    assert_int_equal(vfs->truncate(f, 10), 0);
    assert_int_equal(stele__file_close(f), 0);

    /* A failed sync inside write_atomic leaves the old file and no temporary. */
    assert_int_equal(stele__file_write_atomic(vfs, fx->dir, "M", "old", 3), 0);
    stele__fault_arm(fx->fv, STELE_FAULT_SYNC, 1, -EIO, false);
    assert_int_equal(stele__file_write_atomic(vfs, fx->dir, "M", "new!", 4), -EIO);
    stele__fault_arm(fx->fv, STELE_FAULT_RENAME, 1, -EXDEV, false);
    assert_int_equal(stele__file_write_atomic(vfs, fx->dir, "M", "new!", 4), -EXDEV);
    char m[PATH_MAX], tmp[PATH_MAX];
    path_in(fx, "M", m);
    path_in(fx, "M.tmp", tmp);
    assert_int_equal(vfs->exists(vfs, tmp), -ENOENT);
    void *buf;
    size_t len;
    assert_int_equal(stele__file_read_all(vfs, m, 100, &buf, &len), 0);
    assert_int_equal(len, 3);
    assert_memory_equal(buf, "old", 3);
    stele__free(buf);
    stele__fault_reset(fx->fv);
}

typedef struct writer_arg {
    stele_file_t *f;
    uint64_t off;
    int failures;
} writer_arg_t;

static void *write_many(void *p) {
    writer_arg_t *w = p;
    for (int i = 0; i < 2000; i++)
        if (stele__file_pwrite(w->f, "z", 1, w->off + (uint64_t)i) != 0)
            w->failures++;
    return NULL;
}

static void test_fault_threads(void **state) {
    fixture_t *fx = *state;
    stele_file_t *f = open_fault(fx, "shared");
    writer_arg_t args[2] = {{f, 0, 0}, {f, 2000, 0}};
    pthread_t t[2];
    stele__fault_arm(fx->fv, STELE_FAULT_WRITE, 3000, -EIO, false);
    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_create(&t[i], NULL, write_many, &args[i]), 0);
    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_join(t[i], NULL), 0);
    assert_int_equal(args[0].failures + args[1].failures, 1);
    assert_int_equal(stele__fault_count(fx->fv, STELE_FAULT_WRITE), 4000);
    assert_int_equal(stele__fault_injected(fx->fv), 1);
    assert_int_equal(stele__file_close(f), 0);
    stele__fault_reset(fx->fv);
}

/* Every file and directory of a new store is private to its owner (issue 9, item 7): with the
 * usual umask 022, files used to be created 0644 and directories 0755, readable by any local
 * user. */
static int private_bad; /* entries with group or other bits, counted by check_private */
static int private_seen;
static int check_private(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
    (void)flag;
    (void)ftw;
    private_seen++;
    if ((st->st_mode & 077) != 0) {
        fprintf(stderr, "%s has mode %04o\n", path, (unsigned)(st->st_mode & 07777));
        private_bad++;
    }
    return 0;
}

static void test_store_files_private(void **state) {
    fixture_t *fx = *state;
    char dir[PATH_MAX];
    path_in(fx, "store", dir);
    mode_t old = umask(022);
    stele_options_t o;
    stele_options_init(&o);
    o.flags = STELE_OPEN_CREATE;
    o.segment_size_bytes = (uint64_t)1 << 20;
    stele_store_t *s = NULL;
    assert_int_equal(stele_store_open(dir, &o, &s), 0);
    /* enough data to roll a segment (a sealed segment and its sparse index), then close: the
     * index tables, the manifest and the catalogue snapshot are written too */
    static char data[200 * 1024];
    memset(data, 'x', sizeof data);
    data[0] = '"';
    data[sizeof data - 1] = '"';
    stele_event_in_t e = {.type = "t", .data = data, .data_len = sizeof data};
    for (int i = 0; i < 8; i++)
        assert_int_equal(stele_append(s, "s-1", STELE_EXPECT_ANY, &e, 1, NULL), 0);
    assert_int_equal(stele_store_close(s), 0);
    umask(old);
    private_bad = private_seen = 0;
    assert_int_equal(nftw(dir, check_private, 16, FTW_PHYS), 0);
    assert_true(private_seen >= 8); /* the store, log/, index/, segments, marker, lock, ... */
    assert_int_equal(private_bad, 0);
    tu_rmtree(dir);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_write_read_size_truncate, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dir_operations, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lock, setup, teardown),
        cmocka_unit_test_setup_teardown(test_write_atomic_and_read_all, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fault_nth_write, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fault_short_write, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fault_path_filter, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fault_open_rename_allocate, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fault_threads, setup, teardown),
        cmocka_unit_test_setup_teardown(test_store_files_private, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
