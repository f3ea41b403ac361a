/*
 * recovery.c -- the end of the log after a crash (rules in recovery.h and
 * docs/design/recovery.md).
 */
#include "log/recovery.h"

#include "log/cursor.h"
#include "os/alloc.h"
#include "util/bytes.h"
#include "util/error.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define SCAN_CHUNK ((size_t)4 << 20)

void stele__log_set_floor(stele_log_t *log, uint64_t position, const char *source) {
    if (position <= log->durable_floor)
        return;
    log->durable_floor = position;
    snprintf(log->floor_source, sizeof log->floor_source, "%s", source);
}

int stele__log_problem(stele_log_t *log, uint64_t position, uint64_t segment_first, uint64_t offset,
                       const char *fmt, ...) {
    char msg[sizeof log->damage_msg];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (!log->tolerant)
        return stele__fail(STELE_ECORRUPT, "%s", msg);
    if (log->damage == 0) {
        log->damage = STELE_ECORRUPT;
        log->damage_position = position;
        log->damage_segment = segment_first;
        log->damage_offset = offset;
        memcpy(log->damage_msg, msg, sizeof msg);
    }
    return 0;
}

int stele__log_scan_sealed(stele_log_t *log, size_t i) {
    stele_segment_t *seg = log->segs[i];
    stele_log_cursor_t c;
    int rc = stele__cursor_init(&c, log, (size_t)1 << 20);
    if (rc < 0)
        return rc;
    seg->sealed = false; /* let the cursor run to the zeros */
    seg->sparse_count = 0;
    /* and no further: whether the next segment follows on is the caller's check (this runs at
     * open, before any other thread can look at the segment array) */
    size_t nsegs = log->nsegs;
    log->nsegs = i + 1;
    c.seg_index = i;
    c.offset = STELE_SEGMENT_HEADER_BYTES;
    c.next_position = seg->first_position;
    uint64_t last = seg->first_position - 1, end = STELE_SEGMENT_HEADER_BYTES;
    for (;;) {
        uint64_t at = c.offset;
        stele_record_t rec;
        rc = stele__cursor_next(&c, &rec, NULL);
        if (rc <= 0 || c.seg_index != i)
            break;
        if ((rec.position % STELE_SPARSE_STRIDE == 1 || rec.position == seg->first_position) &&
            (rc = stele__segment_sparse_add(seg, rec.position, at)) < 0)
            break;
        last = rec.position;
        end = c.offset;
    }
    stele__cursor_free(&c);
    log->nsegs = nsegs;
    seg->sealed = true;
    if (rc < 0)
        return stele__fail(rc, "sealed segment %s: %s", seg->path, stele_errdetail());
    seg->last_position = last;
    seg->end_offset = end;
    return 0;
}

/* Is any byte of [from, to) of the file non-zero? *last_nonzero_end gets the end of the last
 * non-zero 8-byte word seen (or from). */
static int find_nonzero(stele_file_t *f, uint64_t from, uint64_t to, bool *found,
                        uint64_t *last_nonzero_end) {
    uint8_t *buf = stele__malloc(SCAN_CHUNK);
    if (!buf)
        return STELE_ENOMEM;
    int rc = 0;
    *found = false;
    *last_nonzero_end = from;
    for (uint64_t off = from; off < to;) {
        size_t want = (to - off) < SCAN_CHUNK ? (size_t)(to - off) : SCAN_CHUNK, got = 0;
        if ((rc = stele__file_pread(f, buf, want, off, &got)) < 0 || got == 0)
            break;
        for (size_t j = 0; j < got; j++) {
            if (buf[j]) {
                *found = true;
                *last_nonzero_end = (off + j + 8) & ~(uint64_t)7;
            }
        }
        off += got;
    }
    stele__free(buf);
    return rc;
}

/* Read and decode the record at off (into *buf, grown as needed). 0 = valid record. */
static int decode_at(stele_file_t *f, uint64_t off, uint8_t **buf, size_t *cap,
                     stele_record_t *rec) {
    size_t need = STELE_RECORD_HEADER_BYTES, got = 0;
    for (int round = 0; round < 2; round++) {
        if (need > *cap) {
            uint8_t *n = stele__realloc(*buf, need);
            if (!n)
                return STELE_ENOMEM;
            *buf = n;
            *cap = need;
        }
        int rc = stele__file_pread(f, *buf, need, off, &got);
        if (rc < 0)
            return rc;
        rc = stele__record_decode(*buf, got, rec, &need);
        if (rc != STELE_RECORD_NEED_MORE)
            return rc == 0 ? 0 : STELE_ECORRUPT;
        if (got < need && round == 1)
            break;
    }
    return STELE_ECORRUPT;
}

/* Look for an intact commit (a run of valid, contiguous records ending in a commit record that
 * counts exactly that run) at or after from, with positions after last_good. */
static int find_intact_commit(stele_file_t *f, uint64_t from, uint64_t to, uint64_t last_good,
                              bool *found, uint64_t *found_at) {
    uint8_t *buf = NULL, *chunk = stele__malloc(SCAN_CHUNK);
    size_t cap = 0;
    int rc = chunk ? 0 : STELE_ENOMEM;
    *found = false;
    for (uint64_t base = from; rc == 0 && !*found && base < to;) {
        size_t want = (to - base) < SCAN_CHUNK ? (size_t)(to - base) : SCAN_CHUNK, got = 0;
        if ((rc = stele__file_pread(f, chunk, want, base, &got)) < 0 || got < 8)
            break;
        for (size_t j = 0; j + 4 <= got && !*found && rc == 0; j += 8) {
            if (stele__get_u32(chunk + j) != STELE_RECORD_MAGIC)
                continue;
            uint64_t off = base + j, expect = 0;
            uint32_t run = 0;
            stele_record_t rec;
            int d = 0;
            while (off < to && (d = decode_at(f, off, &buf, &cap, &rec)) == 0) {
                if (rec.position <= last_good || (run && rec.position != expect))
                    break;
                run++;
                expect = rec.position + 1;
                if (rec.flags & STELE_RECORD_COMMIT) {
                    if (rec.commit_events == run) {
                        *found = true;
                        *found_at = off;
                    }
                    break;
                }
                off += rec.padded_length;
            }
            if (d < 0 && d != STELE_ECORRUPT)
                rc = d; /* a failed read: whether an intact commit follows is unknown */
        }
        base += got & ~(size_t)7;
    }
    stele__free(buf);
    stele__free(chunk);
    return rc;
}

/* Does a whole commit that continues the chain start at off: positions from last + 1, a commit
 * record counting them, and the chain hash from prev_hash? 1 yes, 0 no, or a read error. */
static int chained_commit_at(stele_file_t *f, uint64_t off, uint64_t last,
                             const uint8_t prev_hash[32]) {
    uint8_t *buf = NULL;
    size_t cap = 0;
    stele_sha256_t sha;
    stele__sha256_init(&sha);
    stele__sha256_update(&sha, prev_hash, 32);
    int rc = 0, d;
    stele_record_t rec;
    for (uint32_t run = 1; (d = decode_at(f, off, &buf, &cap, &rec)) == 0; run++) {
        if (rec.position != last + run)
            break;
        stele__record_hash_update(&sha, buf, &rec);
        if (rec.flags & STELE_RECORD_COMMIT) {
            uint8_t computed[32];
            stele__sha256_final(&sha, computed);
            rc = rec.commit_events == run && memcmp(computed, rec.hash, 32) == 0;
            break;
        }
        off += rec.padded_length;
    }
    if (d < 0 && d != STELE_ECORRUPT)
        rc = d;
    stele__free(buf);
    return rc;
}

/* list_dir callback: is there a segment file after *(uint64_t *)arg? */
static int later_segment(void *arg, const char *name) {
    uint64_t first = 0;
    if (strlen(name) != 24 || strcmp(name + 20, ".seg") != 0)
        return 0;
    for (int i = 0; i < 20; i++) {
        if (name[i] < '0' || name[i] > '9')
            return 0;
        first = first * 10 + (uint64_t)(name[i] - '0');
    }
    return first > *(const uint64_t *)arg ? 1 : 0;
}

/* A live log (another process is writing it, log.h): are findings of recover_tail explained by
 * the writer moving on while it was read? Two can be. Damage right after the last good commit
 * where a whole commit continuing the chain now stands: the scan met that commit half-written and
 * the writer has finished it since (and may have written more after it, which would otherwise
 * look like an intact commit after damage in the middle of the log). And a sealed last segment:
 * the writer rolled after the segments were listed, so the next segment exists now. Either way
 * the view of this open ends at the last good commit, which holds every commit acknowledged
 * before the open began; real damage stays damage when read again, and is reported. */
static int live_recheck(stele_log_t *log, const stele_segment_t *seg, bool dirty, uint64_t good_end,
                        uint64_t good_last, const uint8_t hash[32], bool was_sealed,
                        bool *commit_finished, bool *rolled) {
    *commit_finished = *rolled = false;
    if (!log->live)
        return 0;
    int rc = dirty ? chained_commit_at(seg->file, good_end, good_last, hash) : 0;
    if (rc < 0)
        return rc;
    *commit_finished = rc > 0;
    if (was_sealed) {
        uint64_t first = seg->first_position;
        if ((rc = log->vfs->list_dir(log->vfs, log->dir, later_segment, &first)) < 0)
            return rc;
        *rolled = rc > 0;
    }
    return 0;
}

int stele__log_recover_tail(stele_log_t *log) {
    size_t li = log->nsegs - 1;
    stele_segment_t *seg = log->segs[li];
    stele_log_cursor_t c;
    int rc = stele__cursor_init(&c, log, (size_t)1 << 20);
    if (rc < 0)
        return rc;
    seg->sealed = false;
    seg->sparse_count = 0;
    c.seg_index = li;
    c.offset = STELE_SEGMENT_HEADER_BYTES;
    c.next_position = seg->first_position;
    /* A sparse index of the last segment means it was sealed: a later segment was made (and
     * synced) after every record the index counts, so those records were durable. */
    char src[160];
    bool was_sealed = false;
    if (!log->view_cut && stele__segment_sparse_load(log->vfs, log->dir, seg) == 0) {
        snprintf(src, sizeof src,
                 "its sealed offset index (%020" PRIu64 ".sidx: the segment was sealed, so a later "
                 "segment, now missing, was made)",
                 seg->first_position);
        stele__log_set_floor(log, seg->last_position, src);
        was_sealed = true;
    }
    seg->sparse_count = 0;

    uint8_t hash[32];
    memcpy(hash, seg->prev_hash, 32);
    int64_t last_time = seg->prev_time_ns;
    uint64_t good_end = STELE_SEGMENT_HEADER_BYTES, good_last = seg->first_position - 1;
    uint64_t commit_first = seg->first_position;
    size_t good_sparse = 0;
    stele_sha256_t sha;
    stele__sha256_init(&sha);
    stele__sha256_update(&sha, hash, 32);
    char why[300] = "";

    for (;;) {
        uint64_t at = c.offset;
        stele_record_t rec;
        const uint8_t *bytes = NULL;
        rc = stele__cursor_next(&c, &rec, &bytes);
        if (rc == 0)
            break;
        if (rc < 0) {
            if (rc != STELE_ECORRUPT)
                goto out; /* a failed read (or no memory) is not damage: never cut for it */
            snprintf(why, sizeof why, "%s", stele_errdetail());
            rc = 0;
            break;
        }
        if (rec.time_ns < last_time) {
            snprintf(why, sizeof why, "%s offset %" PRIu64 ": time goes backwards", seg->path, at);
            break;
        }
        last_time = rec.time_ns;
        stele__record_hash_update(&sha, bytes, &rec);
        if ((rec.position % STELE_SPARSE_STRIDE == 1 || rec.position == seg->first_position) &&
            (rc = stele__segment_sparse_add(seg, rec.position, at)) < 0)
            goto out;
        if (!(rec.flags & STELE_RECORD_COMMIT))
            continue;
        uint8_t computed[32];
        stele__sha256_final(&sha, computed);
        if (rec.commit_events != rec.position - commit_first + 1 ||
            memcmp(computed, rec.hash, 32) != 0) {
            snprintf(why, sizeof why,
                     "%s offset %" PRIu64 ": commit ending at position %" PRIu64 " fails its %s",
                     seg->path, at, rec.position,
                     rec.commit_events != rec.position - commit_first + 1 ? "record count"
                                                                          : "chain hash");
            break;
        }
        memcpy(hash, computed, 32);
        good_end = c.offset;
        good_last = rec.position;
        good_sparse = seg->sparse_count;
        commit_first = rec.position + 1;
        log->head_time_ns = rec.time_ns;
        stele__sha256_init(&sha);
        stele__sha256_update(&sha, hash, 32);
    }
    if (c.seg_index != li) {
        rc = stele__fail(STELE_ECORRUPT, "last segment scan left its segment");
        goto out;
    }
    seg->sparse_count = good_sparse;

    /* Is there anything after the last good commit? Only the last commit(s) can be torn, so look
     * a bounded distance; a longer look follows only when damage is found. */
    uint64_t file_size = 0;
    if ((rc = seg->file->vfs->size(seg->file, &file_size)) < 0)
        goto out;
    uint64_t window_end = good_end + 2 * (uint64_t)STELE_LOG_MAX_COMMIT_BYTES;
    if (window_end > file_size)
        window_end = file_size;
    bool dirty = false;
    uint64_t dirty_end = good_end;
    if ((rc = find_nonzero(seg->file, good_end, window_end, &dirty, &dirty_end)) < 0)
        goto out;
    bool intact = false;
    uint64_t intact_at = 0;
    if (dirty && (rc = find_intact_commit(seg->file, good_end, file_size, good_last, &intact,
                                          &intact_at)) < 0)
        goto out;
    bool commit_finished = false, rolled = false;
    if ((rc = live_recheck(log, seg, dirty, good_end, good_last, hash, was_sealed, &commit_finished,
                           &rolled)) < 0)
        goto out;
    if (intact && !commit_finished &&
        (rc = stele__log_problem(
             log, good_last + 1, seg->first_position, good_end,
             "corruption in the middle of the log at position %" PRIu64 ": %s; an intact "
             "commit follows at offset %" PRIu64 " of %s, so nothing was cut (run stele verify)",
             good_last + 1, why[0] ? why : "damaged record", intact_at, seg->path)) < 0)
        goto out;
    /* Proofs that more than the last commit was durable: then this is no torn tail, and nothing
     * is cut (docs/design/recovery.md, "Lost or torn?"). */
    const char *base = strrchr(seg->path, '/') ? strrchr(seg->path, '/') + 1 : seg->path;
    if (log->durable_floor > good_last &&
        (rc = stele__log_problem(
             log, good_last + 1, seg->first_position, good_end,
             "%" PRIu64 " acknowledged events are missing: the log ends at position %" PRIu64
             " (offset %" PRIu64 " of log/%s) but %s records position %" PRIu64
             ", synced before it was written; the log was truncated or lost, not torn (only the "
             "last commit can be). Restore the log from a backup",
             log->durable_floor - good_last, good_last, good_end, base, log->floor_source,
             log->durable_floor)) < 0)
        goto out;
    if ((seg->flags & STELE_SEGMENT_PREALLOCATED) && file_size < seg->nominal_bytes &&
        (rc = stele__log_problem(
             log, good_last + 1, seg->first_position, good_end,
             "segment log/%s was truncated: it is %" PRIu64 " bytes but was made with %" PRIu64
             " and never shrinks; the log now ends at position %" PRIu64 " (offset %" PRIu64
             ") and what followed is lost. Restore the segment from a backup",
             base, file_size, seg->nominal_bytes, good_last, good_end)) < 0)
        goto out;
    if (was_sealed && !rolled && log->durable_floor <= good_last &&
        (rc = stele__log_problem(log, good_last + 1, seg->first_position, good_end,
                                 "segment log/%s was sealed (its offset index log/%020" PRIu64
                                 ".sidx exists), so a later segment was made, but there is none: "
                                 "it was lost, with whatever events after position %" PRIu64
                                 " it held. Restore it from a backup",
                                 base, seg->first_position, good_last)) < 0)
        goto out;
    /* Damage in a segment that later ones follow (view_cut) is never a torn tail either. */
    if (dirty && log->view_cut &&
        (rc = stele__log_problem(log, good_last + 1, seg->first_position, good_end,
                                 "sealed segment %s: %s", seg->path,
                                 why[0] ? why : "damaged record")) < 0)
        goto out;
    if (dirty) {
        bool more = false;
        uint64_t far_end = dirty_end;
        if ((rc = find_nonzero(seg->file, window_end, file_size, &more, &far_end)) < 0)
            goto out;
        if (more)
            dirty_end = far_end;
        if (!log->readonly && !log->view_cut && log->damage == 0) {
            uint8_t *zeros = stele__calloc(1, SCAN_CHUNK);
            if (!zeros) {
                rc = STELE_ENOMEM;
                goto out;
            }
            for (uint64_t off = good_end; off < dirty_end && rc == 0;) {
                size_t n = (dirty_end - off) < SCAN_CHUNK ? (size_t)(dirty_end - off) : SCAN_CHUNK;
                rc = stele__file_pwrite(seg->file, zeros, n, off);
                off += n;
            }
            stele__free(zeros);
            if (rc == 0)
                rc = stele__file_sync(seg->file);
            if (rc < 0)
                goto out;
        }
        log->recovered_cut_bytes = dirty_end - good_end;
    }
    seg->end_offset = good_end;
    seg->last_position = good_last;
    log->head_position = good_last;
    memcpy(log->head_hash, hash, 32);
    if (good_last < seg->first_position)
        log->head_time_ns = seg->prev_time_ns;
    rc = 0;
out:
    stele__cursor_free(&c);
    return rc;
}
