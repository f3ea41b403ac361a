/*
 * cursor.h -- a cursor reads records of the log in position order, through a private buffer.
 *
 * Any thread may own a cursor (one thread per cursor). It reads only positions at or below the
 * visible position the store publishes; the segment array is read under the log's lock, records
 * without it. Recovery uses cursors to scan, the store to serve reads and subscriptions.
 */
#ifndef STELE_LOG_CURSOR_H
#define STELE_LOG_CURSOR_H

#include "log/log.h"
#include "log/record.h"

#include <stddef.h>
#include <stdint.h>

/* A cursor reads records in position order, through a private buffer. */
typedef struct stele_log_cursor {
    stele_log_t *log;
    size_t seg_index;       /* segment being read */
    uint64_t offset;        /* file offset of the next record */
    uint64_t next_position; /* position expected at offset (0 = unknown) */
    uint8_t *buf;
    size_t buf_cap;
    uint64_t buf_off; /* file offset of buf[0] */
    size_t buf_len;   /* valid bytes in buf */
    size_t buf_seg;   /* segment the buffer holds */
} stele_log_cursor_t;

int stele__cursor_init(stele_log_cursor_t *c, stele_log_t *log, size_t buf_bytes);
void stele__cursor_free(stele_log_cursor_t *c);
/* Place the cursor so that the next record read is the one at position (1..head). */
int stele__cursor_seek(stele_log_cursor_t *c, uint64_t position);
/* Read the next record (checked) into *rec, whose pointers borrow the cursor's buffer until the
 * next call. Returns 1, 0 when the log ends (no more records written), or an error. The caller
 * stops at the visible position. bytes (may be NULL) receives the record's encoded bytes. */
int stele__cursor_next(stele_log_cursor_t *c, stele_record_t *rec, const uint8_t **bytes);

/* Time of the record at position (for binary searches on time). */
int stele__log_time_at(stele_log_cursor_t *c, uint64_t position, int64_t *time_ns);

#endif
