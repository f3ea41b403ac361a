/*
 * vfs_posix.c -- the production file table over POSIX (and two Linux calls: fallocate, flock).
 *
 * Every call retries EINTR; reads and writes loop until the whole range is done, because a
 * signal or a full pipe may cut them short. Every descriptor is opened with O_CLOEXEC so that a
 * program embedding the store and spawning children does not leak store files into them.
 */
#include "os/alloc.h"
#include "os/vfs.h"
#include "stele.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct posix_file {
    struct stele_file base;
    int fd;
} posix_file_t;

static const stele_vfs_t posix_vfs;

static int fd_of(stele_file_t *f) { return ((posix_file_t *)f)->fd; }

/* 0 or -errno; errno 0 (never expected) becomes -EIO so a failure is never reported as success. */
static int neg_errno(void) { return errno ? -errno : -EIO; }

static int posix_open(const stele_vfs_t *vfs, const char *path, unsigned flags,
                      stele_file_t **out) {
    (void)vfs;
    int oflags = O_CLOEXEC | ((flags & STELE_VFS_RDWR) ? O_RDWR : O_RDONLY);
    if (flags & STELE_VFS_CREATE)
        oflags |= O_CREAT;
    if (flags & STELE_VFS_EXCL)
        oflags |= O_EXCL;
    int fd;
    do
        fd = open(path, oflags, 0600); /* private: the events are the user's data */
    while (fd < 0 && errno == EINTR);
    if (fd < 0)
        return neg_errno();
    posix_file_t *f = stele__malloc(sizeof *f);
    if (!f) {
        close(fd);
        return STELE_ENOMEM;
    }
    f->base.vfs = &posix_vfs;
    f->fd = fd;
    *out = &f->base;
    return 0;
}

static int posix_close(stele_file_t *f) {
    if (!f)
        return 0;
    int rc = 0;
    /* On Linux the descriptor is released even when close() reports EINTR: never retry. */
    if (close(fd_of(f)) != 0 && errno != EINTR)
        rc = neg_errno();
    stele__free(f);
    return rc;
}

static int posix_pread(stele_file_t *f, void *buf, size_t len, uint64_t off, size_t *nread) {
    size_t done = 0;
    int rc = 0;
    if (off > INT64_MAX - len) {
        rc = -EINVAL;
        goto out;
    }
    while (done < len) {
        ssize_t n = pread(fd_of(f), (char *)buf + done, len - done, (off_t)(off + done));
        if (n < 0) {
            if (errno == EINTR)
                continue;
            rc = neg_errno();
            goto out;
        }
        if (n == 0)
            break; /* end of file */
        done += (size_t)n;
    }
out:
    *nread = done;
    return rc;
}

static int posix_pwrite(stele_file_t *f, const void *buf, size_t len, uint64_t off) {
    if (off > INT64_MAX - len)
        return -EFBIG;
    size_t done = 0;
    while (done < len) {
        ssize_t n = pwrite(fd_of(f), (const char *)buf + done, len - done, (off_t)(off + done));
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return neg_errno();
        }
        if (n == 0)
            return -EIO; /* no progress and no reason given */
        done += (size_t)n;
    }
    return 0;
}

static int posix_sync(stele_file_t *f) {
    int rc;
    do
        rc = fdatasync(fd_of(f));
    while (rc != 0 && errno == EINTR);
    return rc ? neg_errno() : 0;
}

static int posix_size(stele_file_t *f, uint64_t *size_bytes) {
    struct stat st;
    if (fstat(fd_of(f), &st) != 0)
        return neg_errno();
    *size_bytes = (uint64_t)st.st_size;
    return 0;
}

static int posix_truncate(stele_file_t *f, uint64_t size_bytes) {
    if (size_bytes > INT64_MAX)
        return -EFBIG;
    int rc;
    do
        rc = ftruncate(fd_of(f), (off_t)size_bytes);
    while (rc != 0 && errno == EINTR);
    return rc ? neg_errno() : 0;
}

static int posix_allocate(stele_file_t *f, uint64_t off, uint64_t len) {
    if (off > INT64_MAX || len > INT64_MAX - off)
        return -EFBIG;
    int rc;
    /* fallocate(), unlike posix_fallocate(), reports EOPNOTSUPP instead of writing zeros. */
    do
        rc = fallocate(fd_of(f), 0, (off_t)off, (off_t)len);
    while (rc != 0 && errno == EINTR);
    return rc ? neg_errno() : 0;
}

static int posix_lock(stele_file_t *f) {
    int rc;
    do
        rc = flock(fd_of(f), LOCK_EX | LOCK_NB);
    while (rc != 0 && errno == EINTR);
    if (rc != 0)
        return errno == EWOULDBLOCK ? STELE_ELOCKED : neg_errno();
    return 0;
}

static int posix_rename(const stele_vfs_t *vfs, const char *from, const char *to) {
    (void)vfs;
    return rename(from, to) ? neg_errno() : 0;
}

static int posix_unlink(const stele_vfs_t *vfs, const char *path) {
    (void)vfs;
    return unlink(path) ? neg_errno() : 0;
}

static int posix_mkdir(const stele_vfs_t *vfs, const char *path) {
    (void)vfs;
    return mkdir(path, 0700) ? neg_errno() : 0; /* private, like the files */
}

static int open_dir(const char *path) {
    int fd;
    do
        fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    while (fd < 0 && errno == EINTR);
    return fd < 0 ? neg_errno() : fd;
}

static int posix_sync_dir(const stele_vfs_t *vfs, const char *path) {
    (void)vfs;
    int fd = open_dir(path);
    if (fd < 0)
        return fd;
    int rc;
    do
        rc = fsync(fd);
    while (rc != 0 && errno == EINTR);
    rc = rc ? neg_errno() : 0;
    close(fd);
    return rc;
}

static int posix_list_dir(const stele_vfs_t *vfs, const char *path,
                          int (*fn)(void *arg, const char *name), void *arg) {
    (void)vfs;
    int fd = open_dir(path);
    if (fd < 0)
        return fd;
    DIR *dir = fdopendir(fd);
    if (!dir) {
        int rc = neg_errno();
        close(fd);
        return rc;
    }
    int rc = 0;
    for (;;) {
        errno = 0;
        struct dirent *entry = readdir(dir);
        if (!entry) {
            if (errno)
                rc = -errno;
            break;
        }
        const char *name = entry->d_name;
        if (name[0] == '.' && (name[1] == '\0' || (name[1] == '.' && name[2] == '\0')))
            continue;
        rc = fn(arg, name);
        if (rc != 0)
            break;
    }
    closedir(dir); /* also closes fd */
    return rc;
}

static int posix_exists(const stele_vfs_t *vfs, const char *path) {
    (void)vfs;
    return access(path, F_OK) ? neg_errno() : 0;
}

static const stele_vfs_t posix_vfs = {
    .name = "posix",
    .ctx = NULL,
    .open = posix_open,
    .close = posix_close,
    .pread = posix_pread,
    .pwrite = posix_pwrite,
    .sync = posix_sync,
    .size = posix_size,
    .truncate = posix_truncate,
    .allocate = posix_allocate,
    .lock = posix_lock,
    .rename = posix_rename,
    .unlink = posix_unlink,
    .mkdir = posix_mkdir,
    .sync_dir = posix_sync_dir,
    .list_dir = posix_list_dir,
    .exists = posix_exists,
};

const stele_vfs_t *stele__vfs_posix(void) { return &posix_vfs; }
