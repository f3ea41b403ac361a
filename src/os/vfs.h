/*
 * vfs.h -- the file table: every file operation of libstele goes through one of these.
 *
 * Invariant 6 of the design: every write, sync, rename and directory sync goes through this table
 * so that tests can inject crashes, torn writes, EIO and ENOSPC anywhere. Two implementations
 * exist: the POSIX one (os/vfs_posix.c) used in production, and a fault-injecting wrapper
 * (tests/support/vfs_fault.c, in the test-support library, never in libstele) used by tests. All
 * functions return 0 or a negative code (-errno, STELE_E*).
 */
#ifndef STELE_OS_VFS_H
#define STELE_OS_VFS_H

#include <stddef.h>
#include <stdint.h>

typedef struct stele_vfs stele_vfs_t;
typedef struct stele_file stele_file_t; /* each implementation defines its own */

#define STELE_VFS_RDONLY 0x0u
#define STELE_VFS_RDWR 0x1u
#define STELE_VFS_CREATE 0x2u /* create if missing (mode 0600) */
#define STELE_VFS_EXCL 0x4u   /* with CREATE: fail with -EEXIST if it exists */

struct stele_vfs {
    const char *name;
    void *ctx; /* the implementation's state */

    int (*open)(const stele_vfs_t *vfs, const char *path, unsigned flags, stele_file_t **out);
    /* Closes and frees f (NULL is a no-op). */
    int (*close)(stele_file_t *f);
    /* Reads up to len bytes at off; *nread < len only at end of file. Retries EINTR. */
    int (*pread)(stele_file_t *f, void *buf, size_t len, uint64_t off, size_t *nread);
    /* Writes all len bytes at off, or fails: a short write is an error (-EIO if errno has none). */
    int (*pwrite)(stele_file_t *f, const void *buf, size_t len, uint64_t off);
    /* fdatasync. */
    int (*sync)(stele_file_t *f);
    int (*size)(stele_file_t *f, uint64_t *size_bytes);
    int (*truncate)(stele_file_t *f, uint64_t size_bytes);
    /* Reserve [off, off+len) (fallocate mode 0); -EOPNOTSUPP where the filesystem cannot. */
    int (*allocate)(stele_file_t *f, uint64_t off, uint64_t len);
    /* Exclusive advisory lock, not waiting: STELE_ELOCKED if another holder has it. */
    int (*lock)(stele_file_t *f);

    int (*rename)(const stele_vfs_t *vfs, const char *from, const char *to);
    int (*unlink)(const stele_vfs_t *vfs, const char *path);
    /* mkdir mode 0700; -EEXIST if it exists. Stores are private to their owner: other local
     * users get no access to events (the umask can only take bits away). */
    int (*mkdir)(const stele_vfs_t *vfs, const char *path);
    /* fsync of a directory, so that creations and renames in it are durable. */
    int (*sync_dir)(const stele_vfs_t *vfs, const char *path);
    /* Calls fn for each entry of the directory except "." and ".."; stops with fn's non-zero
     * return value and returns it. */
    int (*list_dir)(const stele_vfs_t *vfs, const char *path,
                    int (*fn)(void *arg, const char *name), void *arg);
    /* 0 if path exists, -ENOENT if not, another -errno on error. */
    int (*exists)(const stele_vfs_t *vfs, const char *path);
};

/* The POSIX file table (static storage; thread-safe). */
const stele_vfs_t *stele__vfs_posix(void);

/* Shorthands: call through the table a file was opened with. Every stele_file_t starts with a
 * pointer to its table, so these need only the file. */
struct stele_file {
    const stele_vfs_t *vfs;
};

static inline int stele__file_pread(stele_file_t *f, void *buf, size_t len, uint64_t off,
                                    size_t *nread) {
    return f->vfs->pread(f, buf, len, off, nread);
}
static inline int stele__file_pwrite(stele_file_t *f, const void *buf, size_t len, uint64_t off) {
    return f->vfs->pwrite(f, buf, len, off);
}
static inline int stele__file_sync(stele_file_t *f) { return f->vfs->sync(f); }
static inline int stele__file_close(stele_file_t *f) { return f ? f->vfs->close(f) : 0; }

/* Reads exactly len bytes at off: 0, -ENODATA when the file ends first, or the read error. */
int stele__file_read_exact(stele_file_t *f, void *buf, size_t len, uint64_t off);

/* Writes a whole small file durably: write to path.tmp, sync, rename over path, sync the
 * directory dir. Used for manifests and snapshots. */
int stele__file_write_atomic(const stele_vfs_t *vfs, const char *dir, const char *name,
                             const void *buf, size_t len);

/* Reads a whole file into a buffer from stele__malloc (caller frees with stele__free); at most
 * max_bytes, else STELE_ETOOBIG. -ENOENT if missing. */
int stele__file_read_all(const stele_vfs_t *vfs, const char *path, size_t max_bytes, void **out,
                         size_t *len);

#endif
