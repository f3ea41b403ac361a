/*
 * vfs_fault.h -- a fault-injecting file table for tests.
 *
 * Wraps another table (normally POSIX) and fails chosen operations: the Nth write or sync, every
 * write after a byte budget (ENOSPC), short writes, reads. Counters are atomic so the table can be
 * used by the writer thread while a test thread arms it.
 */
#ifndef STELE_TEST_VFS_FAULT_H
#define STELE_TEST_VFS_FAULT_H

#include "os/vfs.h"

#include <stdbool.h>
#include <stdint.h>

typedef enum stele_fault_op {
    STELE_FAULT_WRITE = 0, /* pwrite */
    STELE_FAULT_SYNC,      /* sync and sync_dir */
    STELE_FAULT_READ,      /* pread */
    STELE_FAULT_OPEN,      /* open */
    STELE_FAULT_RENAME,    /* rename */
    STELE_FAULT_ALLOCATE,  /* allocate and truncate */
    STELE_FAULT_OP_COUNT,
} stele_fault_op_t;

typedef struct stele_fault_vfs stele_fault_vfs_t;

/* Make a fault table over base (NULL = POSIX). Free with stele__fault_vfs_free() after every store
 * using it is closed. */
int stele__fault_vfs_new(const stele_vfs_t *base, stele_fault_vfs_t **out);
void stele__fault_vfs_free(stele_fault_vfs_t *fv);
/* The table to pass in stele_options_t.vfs. */
const stele_vfs_t *stele__fault_vfs_table(stele_fault_vfs_t *fv);

/* Fail the nth call (1 = the next one) of op from now with error (e.g. -EIO, -ENOSPC); with
 * sticky, every later call fails too. n = 0 disarms op. */
void stele__fault_arm(stele_fault_vfs_t *fv, stele_fault_op_t op, uint64_t nth, int error,
                      bool sticky);
/* Only calls on paths containing this substring count and fail (NULL = every path). */
void stele__fault_set_path_filter(stele_fault_vfs_t *fv, const char *substring);
/* The failing write writes only its first half before failing (a torn, short write). */
void stele__fault_set_short_write(stele_fault_vfs_t *fv, bool on);
/* Calls of op made so far (counted whether or not they failed). */
uint64_t stele__fault_count(const stele_fault_vfs_t *fv, stele_fault_op_t op);
/* Faults injected so far. */
uint64_t stele__fault_injected(const stele_fault_vfs_t *fv);
/* Disarm everything and zero the counters. */
void stele__fault_reset(stele_fault_vfs_t *fv);

#endif
