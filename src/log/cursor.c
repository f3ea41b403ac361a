/*
 * cursor.c -- reading records back from the log in position order (see cursor.h): seeking through
 * the segments' sparse indexes, a private read buffer, and the checks that tell a record still
 * being written from a corrupt one.
 */
#include "log/cursor.h"

#include "os/alloc.h"
#include "util/assert.h"
#include "util/bytes.h"
#include "util/error.h"

#include <inttypes.h>
#include <stdint.h>
#include <string.h>

int stele__cursor_init(stele_log_cursor_t *c, stele_log_t *log, size_t buf_bytes) {
    memset(c, 0, sizeof(*c));
    c->log = log;
    c->buf_cap = buf_bytes < 4096 ? 4096 : buf_bytes;
    c->buf = stele__malloc(c->buf_cap);
    c->buf_seg = SIZE_MAX;
    return c->buf ? 0 : STELE_ENOMEM;
}

void stele__cursor_free(stele_log_cursor_t *c) {
    stele__free(c->buf);
    c->buf = NULL;
}

/* Segment i with its sealed state and end, read under the lock (the writer seals under it). */
static stele_segment_t *cursor_segment(stele_log_cursor_t *c, size_t i, size_t *nsegs, bool *sealed,
                                       uint64_t *end_offset) {
    pthread_rwlock_rdlock(&c->log->lock);
    *nsegs = c->log->nsegs;
    stele_segment_t *seg = i < c->log->nsegs ? c->log->segs[i] : NULL;
    if (seg) {
        *sealed = seg->sealed;
        *end_offset = seg->sealed ? seg->end_offset : UINT64_MAX;
    }
    pthread_rwlock_unlock(&c->log->lock);
    return seg;
}

static int cursor_fill(stele_log_cursor_t *c, stele_segment_t *seg, uint64_t off, size_t need,
                       size_t *avail, bool *did_read);

/* Step over the record at the cursor reading only its header, when it plainly is the record
 * expected there (magic, length in range, position). Seeks pass over up to STELE_SPARSE_STRIDE - 1
 * records this way; the record a seek lands on is still fully checked by stele__cursor_next, and
 * so is anything the quick look does not like. Returns true when it stepped. */
static bool cursor_skip(stele_log_cursor_t *c) {
    size_t nsegs = 0, avail = 0;
    bool sealed = false, fresh = false;
    uint64_t end = 0;
    stele_segment_t *seg = cursor_segment(c, c->seg_index, &nsegs, &sealed, &end);
    if (!seg || c->offset + STELE_RECORD_HEADER_BYTES > end ||
        cursor_fill(c, seg, c->offset, STELE_RECORD_HEADER_BYTES, &avail, &fresh) < 0 ||
        avail < STELE_RECORD_HEADER_BYTES)
        return false;
    const uint8_t *p = c->buf + (c->offset - c->buf_off);
    uint32_t length = stele__get_u32(p + 4);
    if (stele__get_u32(p) != STELE_RECORD_MAGIC || length < STELE_RECORD_HEADER_BYTES + 4 ||
        length > STELE_RECORD_MAX_BYTES || stele__get_u64(p + 16) != c->next_position)
        return false;
    c->offset += (length + 7u) & ~7u;
    c->next_position++;
    return true;
}

int stele__cursor_seek(stele_log_cursor_t *c, uint64_t position) {
    stele_log_t *log = c->log;
    pthread_rwlock_rdlock(&log->lock);
    STELE_ASSERT(log->nsegs >= 1); /* under the lock: the writer's roll grows the array */
    size_t lo = 0, hi = log->nsegs;
    while (hi - lo > 1) { /* last segment whose first position <= position */
        size_t mid = (lo + hi) / 2;
        if (log->segs[mid]->first_position <= position)
            lo = mid;
        else
            hi = mid;
    }
    stele_segment_t *seg = log->segs[lo];
    uint64_t off = STELE_SEGMENT_HEADER_BYTES, at = seg->first_position;
    size_t a = 0, b = seg->sparse_count;
    while (a < b) { /* first sparse entry with position > target */
        size_t mid = (a + b) / 2;
        if (seg->sparse[mid].position <= position)
            a = mid + 1;
        else
            b = mid;
    }
    if (a > 0) {
        off = seg->sparse[a - 1].offset;
        at = seg->sparse[a - 1].position;
    }
    pthread_rwlock_unlock(&log->lock);
    if (!(c->seg_index == lo && c->next_position >= at && c->next_position <= position)) {
        c->seg_index = lo; /* else: already on the way there, from a nearer place */
        c->offset = off;
        c->next_position = at;
    }
    while (c->next_position < position) {
        if (cursor_skip(c))
            continue;
        stele_record_t rec;
        int rc = stele__cursor_next(c, &rec, NULL);
        if (rc <= 0)
            return rc < 0 ? rc
                          : stele__fail(STELE_ECORRUPT, "position %" PRIu64 " not found in the log",
                                        position);
    }
    /* never before the position asked for (after it only when the log starts later) */
    STELE_ASSERT(c->next_position >= position);
    return 0;
}

/* Make [off, off + need) of segment seg available in the buffer. Returns the bytes available from
 * off (less than need only at the end of the file). */
static int cursor_fill(stele_log_cursor_t *c, stele_segment_t *seg, uint64_t off, size_t need,
                       size_t *avail, bool *did_read) {
    if (c->buf_seg == c->seg_index && off >= c->buf_off && off + need <= c->buf_off + c->buf_len) {
        *avail = (size_t)(c->buf_off + c->buf_len - off);
        return 0;
    }
    if (need > c->buf_cap) {
        size_t cap = need + 4096;
        uint8_t *n = stele__realloc(c->buf, cap);
        if (!n)
            return STELE_ENOMEM;
        c->buf = n;
        c->buf_cap = cap;
    }
    size_t got = 0;
    int rc = stele__file_pread(seg->file, c->buf, c->buf_cap, off, &got);
    if (rc < 0) {
        c->buf_seg = SIZE_MAX;
        return rc;
    }
    c->buf_seg = c->seg_index;
    c->buf_off = off;
    c->buf_len = got;
    *avail = got;
    *did_read = true;
    return 0;
}

int stele__cursor_next(stele_log_cursor_t *c, stele_record_t *rec, const uint8_t **bytes) {
    for (;;) {
        size_t nsegs = 0;
        bool sealed = false, fresh = false;
        uint64_t end_offset = 0;
        stele_segment_t *seg = cursor_segment(c, c->seg_index, &nsegs, &sealed, &end_offset);
        if (!seg)
            return 0;
        bool at_end = c->offset >= end_offset;
        size_t need = STELE_RECORD_HEADER_BYTES, avail = 0;
        int rc = 0;
        while (!at_end) {
            if ((rc = cursor_fill(c, seg, c->offset, need, &avail, &fresh)) < 0)
                return rc;
            if (avail < 8) {
                at_end = true;
                break;
            }
            const uint8_t *p = c->buf + (c->offset - c->buf_off);
            rc = stele__record_decode(p, avail, rec, &need);
            if (rc == STELE_RECORD_NEED_MORE) {
                if (avail >= need) /* cannot happen: decode asked for what it had */
                    return stele__fail(STELE_ECORRUPT, "record decoder stalled");
                c->buf_seg = SIZE_MAX; /* force a re-read from this offset */
                if ((rc = cursor_fill(c, seg, c->offset, need, &avail, &fresh)) < 0)
                    return rc;
                if (avail < need)
                    return stele__fail(STELE_ECORRUPT,
                                       "%s: record at offset %" PRIu64
                                       " runs past the end of the file",
                                       seg->path, c->offset);
                continue;
            }
            if (rc == STELE_RECORD_ZERO) {
                if (!fresh) {
                    /* The buffer may predate records written since into the segment: while it
                     * was active (it may have been sealed since, by a roll), or before the
                     * cursor last read it. Zeros count as the end only when just read. */
                    c->buf_seg = SIZE_MAX;
                    fresh = true;
                    continue;
                }
                at_end = true;
                break;
            }
            if ((rc < 0 || (c->next_position && rec->position != c->next_position)) && !fresh) {
                /* A buffer filled earlier may hold a commit the writer was still writing then
                 * (it became visible since): bytes only just read can be called corrupt. */
                c->buf_seg = SIZE_MAX;
                fresh = true;
                continue;
            }
            if (rc < 0)
                return stele__fail(STELE_ECORRUPT, "%s offset %" PRIu64 ": %s", seg->path,
                                   c->offset, stele_errdetail());
            if (c->next_position && rec->position != c->next_position)
                return stele__fail(STELE_ECORRUPT,
                                   "%s offset %" PRIu64 ": expected position %" PRIu64
                                   ", found %" PRIu64,
                                   seg->path, c->offset, c->next_position, rec->position);
            if (bytes)
                *bytes = p;
            STELE_ASSERT(rec->padded_length % STELE_RECORD_ALIGN == 0 && rec->position >= 1);
            c->offset += rec->padded_length;
            c->next_position = rec->position + 1;
            return 1;
        }
        /* End of this segment's records: go on in the next one, if any. */
        if (c->seg_index + 1 >= nsegs)
            return 0;
        c->seg_index++;
        c->offset = STELE_SEGMENT_HEADER_BYTES;
    }
}

int stele__log_time_at(stele_log_cursor_t *c, uint64_t position, int64_t *time_ns) {
    int rc = stele__cursor_seek(c, position);
    if (rc < 0)
        return rc;
    stele_record_t rec;
    rc = stele__cursor_next(c, &rec, NULL);
    if (rc <= 0)
        return rc < 0 ? rc : stele__fail(STELE_ECORRUPT, "position %" PRIu64 " missing", position);
    *time_ns = rec.time_ns;
    return 0;
}
