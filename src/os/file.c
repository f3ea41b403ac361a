/*
 * file.c -- whole-file helpers over any file table: exact reads, atomic replacement of small files
 * (manifests, snapshots) and reading a small file whole.
 */
#include "os/alloc.h"
#include "os/vfs.h"
#include "stele.h"
#include "util/path.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>

int stele__file_read_exact(stele_file_t *f, void *buf, size_t len, uint64_t off) {
    size_t nread = 0;
    int rc = stele__file_pread(f, buf, len, off, &nread);
    if (rc != 0)
        return rc;
    return nread == len ? 0 : -ENODATA;
}

int stele__file_write_atomic(const stele_vfs_t *vfs, const char *dir, const char *name,
                             const void *buf, size_t len) {
    char tmp_path[PATH_MAX], path[PATH_MAX];
    stele_file_t *f = NULL;
    int rc = stele__path_join(path, sizeof path, dir, name);
    if (rc != 0)
        return rc;
    int n = snprintf(tmp_path, sizeof tmp_path, "%s.tmp", path);
    if (n < 0 || (size_t)n >= sizeof tmp_path)
        return -ENAMETOOLONG;

    /* A .tmp left by a crash is overwritten: it was never renamed, so nothing depends on it. */
    rc = vfs->open(vfs, tmp_path, STELE_VFS_RDWR | STELE_VFS_CREATE, &f);
    if (rc != 0)
        return rc;
    rc = vfs->truncate(f, 0);
    if (rc == 0)
        rc = stele__file_pwrite(f, buf, len, 0);
    if (rc == 0)
        rc = stele__file_sync(f);
    int close_rc = stele__file_close(f);
    if (rc == 0)
        rc = close_rc;
    if (rc != 0)
        goto fail_unlink_tmp;
    rc = vfs->rename(vfs, tmp_path, path);
    if (rc != 0)
        goto fail_unlink_tmp;
    /* The rename is durable only once the directory is synced (invariant 7). */
    return vfs->sync_dir(vfs, dir);

fail_unlink_tmp:
    vfs->unlink(vfs, tmp_path);
    return rc;
}

int stele__file_read_all(const stele_vfs_t *vfs, const char *path, size_t max_bytes, void **out,
                         size_t *len) {
    stele_file_t *f = NULL;
    char *buf = NULL;
    uint64_t size;
    int rc = vfs->open(vfs, path, STELE_VFS_RDONLY, &f);
    if (rc != 0)
        return rc;
    rc = vfs->size(f, &size);
    if (rc != 0)
        goto fail_close;
    if (size > max_bytes) {
        rc = STELE_ETOOBIG;
        goto fail_close;
    }
    /* One extra byte holds a NUL, so text files can be used as strings directly. */
    buf = stele__malloc((size_t)size + 1);
    if (!buf) {
        rc = STELE_ENOMEM;
        goto fail_close;
    }
    size_t nread;
    rc = stele__file_pread(f, buf, (size_t)size, 0, &nread);
    if (rc != 0)
        goto fail_free;
    buf[nread] = '\0';
    rc = stele__file_close(f);
    if (rc != 0) {
        stele__free(buf);
        return rc;
    }
    *out = buf;
    *len = nread;
    return 0;

fail_free:
    stele__free(buf);
fail_close:
    stele__file_close(f);
    return rc;
}
