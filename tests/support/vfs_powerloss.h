/*
 * vfs_powerloss.h -- a file table that simulates a power loss, for tests.
 *
 * It wraps another table over real files (normally POSIX) and keeps the books of what a real disk
 * would not yet hold:
 *   - every write not yet made durable by a sync of its file: for each 512-byte sector it touches,
 *     a copy of the sector as it was at the file's last sync (taken at the first unsynced write to
 *     that sector), and the file size at that sync;
 *   - every file creation, rename, unlink and mkdir not yet made durable by a sync of its
 *     directory, in order per directory. A file replaced by a rename or removed by an unlink is
 *     kept under a hidden hard link (".plbak-N", never listed) until the operation is durable, so
 *     that it can come back.
 * Syncs are not forwarded: the books are the simulated disk, and tests run fast.
 *
 * At a chosen moment -- the nth operation of chosen kinds on paths containing a substring (e.g.
 * the nth sync), or on demand -- the power is lost: the operation at hand is seeded to happen or
 * not, and from then on every call fails with -EIO (close still releases the file), so the store
 * under test stops. stele__powerloss_restore() then rewrites the real files to a state a real disk
 * could have had after the power failed: per directory, a seeded prefix of the unsynced entry
 * operations is kept and the rest undone (in reverse order); per file, the size is the one at the
 * last sync or the current one; per unsynced sector, the current bytes are kept, the bytes of the
 * last sync are put back, or random bytes are written where unsynced writes changed it. Every
 * choice comes from the 64-bit seed, in a fixed order, so a run that makes the same calls is
 * restored the same way.
 *
 * Memory: the books hold only what is not yet durable (a sector copy per unsynced sector that lay
 * inside the file); a sync of a file or directory frees its part.
 *
 * Thread-safe: one mutex guards the books and is held across each write, so sector copies and
 * writes are taken in one order. Reads do not take it.
 */
#ifndef STELE_TEST_VFS_POWERLOSS_H
#define STELE_TEST_VFS_POWERLOSS_H

#include "os/vfs.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define STELE_PL_SECTOR 512u

/* Operation kinds, for arming and counting. */
#define STELE_PL_WRITE 0x01u    /* pwrite */
#define STELE_PL_SYNC 0x02u     /* sync of a file */
#define STELE_PL_SYNC_DIR 0x04u /* sync of a directory */
#define STELE_PL_CREATE 0x08u   /* open that creates a file; mkdir */
#define STELE_PL_RENAME 0x10u
#define STELE_PL_UNLINK 0x20u
#define STELE_PL_RESIZE 0x40u /* truncate, allocate */
#define STELE_PL_SYNCS (STELE_PL_SYNC | STELE_PL_SYNC_DIR)
#define STELE_PL_ALL 0x7fu

typedef struct stele_powerloss_vfs stele_powerloss_vfs_t;

/* A power-loss table over base (NULL = POSIX; it must act on real files, since the restore uses
 * POSIX calls on the same paths). Free with stele__powerloss_vfs_free() after every store using it
 * is closed. */
int stele__powerloss_vfs_new(const stele_vfs_t *base, uint64_t seed, stele_powerloss_vfs_t **out);
/* Frees the books and removes any hidden backup link still left (without restoring). */
void stele__powerloss_vfs_free(stele_powerloss_vfs_t *pv);
/* The table to pass in stele_options_t.vfs. */
const stele_vfs_t *stele__powerloss_vfs_table(stele_powerloss_vfs_t *pv);

/* Lose power at the nth operation (1 = the next) from now among the kinds in ops whose path
 * contains substring (NULL = any path; for a directory sync the path is the directory). 0
 * disarms. Whether the operation itself took effect is chosen from the seed. */
void stele__powerloss_arm(stele_powerloss_vfs_t *pv, unsigned ops, const char *substring,
                          uint64_t nth);
/* Lose power now (waits for an operation under way to finish). No-op once lost. */
void stele__powerloss_cut(stele_powerloss_vfs_t *pv);
bool stele__powerloss_lost(const stele_powerloss_vfs_t *pv);
/* Operations of the kinds in ops seen so far (any path, before the loss). */
uint64_t stele__powerloss_count(const stele_powerloss_vfs_t *pv, unsigned ops);

typedef struct stele_powerloss_stats {
    uint64_t files;          /* files whose unsynced state was decided */
    uint64_t sectors_kept;   /* unsynced sectors left with their new bytes */
    uint64_t sectors_old;    /* unsynced sectors given back their synced bytes */
    uint64_t sectors_junk;   /* unsynced sectors filled with random bytes */
    uint64_t sizes_reverted; /* files cut back (or grown back) to their synced size */
    uint64_t ops_kept;       /* unsynced creations/renames/unlinks/mkdirs kept */
    uint64_t ops_undone;     /* ... undone */
} stele_powerloss_stats_t;

/* Rewrite the real files to a state the disk could have had (see above). Call once, after the
 * power was lost (it is cut first if not) and after the store was closed. Returns 0 or -errno;
 * st may be NULL. */
int stele__powerloss_restore(stele_powerloss_vfs_t *pv, stele_powerloss_stats_t *st);

/* The restore keeps nothing that was not durable: every unsynced directory operation undone,
 * every unsynced sector given back its synced bytes, every size its synced one. The worst case,
 * and deterministic: for regression cases. */
void stele__powerloss_set_lose_all(stele_powerloss_vfs_t *pv, bool on);

/* The kind (STELE_PL_*) of the operation the power was lost at, with its path copied into path
 * (size bytes; may be NULL); 0 when the power was cut on demand or is not lost. */
unsigned stele__powerloss_lost_at(const stele_powerloss_vfs_t *pv, char *path, size_t size);

/* Junk sectors get random bytes in the whole sector, not only where unsynced writes went. By
 * default the disk is taken to be "powersafe" (SQLite's term): a write that the power cuts may
 * garble the bytes it was writing, never other bytes of the same sector that were durable. Stele
 * appends commits that share a sector with earlier, synced ones, so it relies on that (like most
 * logs); this switch shows what a disk without it would do. */
void stele__powerloss_set_whole_sector_junk(stele_powerloss_vfs_t *pv, bool on);

/* A short text saying where the power was lost and what the restore chose (for failure reports).
 * Valid until the table is freed. */
const char *stele__powerloss_describe(const stele_powerloss_vfs_t *pv);

#endif
