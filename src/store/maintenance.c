/*
 * maintenance.c -- verify (recompute every checksum and the hash chain, check the stream index and
 * the event-id index against the log) and reindex (rebuild both indexes and the catalogue from the
 * log: invariant 1).
 */
#include "store/append.h"

#include "index/idindex.h"
#include "os/alloc.h"
#include "util/error.h"
#include "util/struct_size.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

static void report_bad(stele_verify_report_t *rep, stele_log_t *log, const stele_log_cursor_t *c,
                       uint64_t position, uint64_t offset, const char *msg) {
    rep->error = STELE_ECORRUPT;
    rep->bad_position = position;
    pthread_rwlock_rdlock(&log->lock);
    rep->bad_segment = c->seg_index < log->nsegs ? log->segs[c->seg_index]->first_position : 0;
    pthread_rwlock_unlock(&log->lock);
    rep->bad_offset = offset;
    snprintf(rep->message, sizeof rep->message, "%s", msg);
}

/* The log: checksums, positions, times, commit counts, the chain hash, segment links. */
static int verify_log(stele_store_t *s, uint64_t head, stele_progress_fn progress, void *arg,
                      stele_verify_report_t *rep) {
    stele_log_t *log = s->log;
    stele_log_cursor_t c;
    int rc = stele__cursor_init(&c, log, (size_t)1 << 20);
    if (rc < 0)
        return rc;
    c.seg_index = 0;
    c.offset = STELE_SEGMENT_HEADER_BYTES;
    c.next_position = 1;
    pthread_rwlock_rdlock(&log->lock);
    uint64_t first0 = log->segs[0]->first_position;
    pthread_rwlock_unlock(&log->lock);
    c.next_position = first0;
    uint8_t hash[32] = {0};
    int64_t last_time = 0;
    uint64_t commit_first = first0;
    size_t seg_seen = SIZE_MAX;
    stele_sha256_t sha;
    stele__sha256_init(&sha);
    stele__sha256_update(&sha, hash, 32);
    char msg[256];
    while (c.next_position <= head) {
        uint64_t pos = c.next_position, at = c.offset;
        size_t seg_before = c.seg_index;
        stele_record_t rec;
        const uint8_t *bytes = NULL;
        rc = stele__cursor_next(&c, &rec, &bytes);
        if (rc < 0 && rc != STELE_ECORRUPT)
            goto out; /* a failed read or no memory: the check could not run, no damage seen */
        if (rc <= 0) {
            snprintf(msg, sizeof msg, "%s",
                     rc == 0 ? "the log ends before its head" : stele_errdetail());
            report_bad(rep, log, &c, pos, at, msg);
            goto out;
        }
        if (c.seg_index != seg_seen) {
            if (c.seg_index != seg_before)
                at = STELE_SEGMENT_HEADER_BYTES;
            pthread_rwlock_rdlock(&log->lock);
            stele_segment_t *seg = log->segs[c.seg_index];
            bool linked = memcmp(seg->prev_hash, hash, 32) == 0 &&
                          (seg_seen == SIZE_MAX || seg->prev_time_ns == last_time);
            pthread_rwlock_unlock(&log->lock);
            seg_seen = c.seg_index;
            rep->segments++;
            if (!linked && !(seg_seen == 0 && first0 != 1)) {
                report_bad(rep, log, &c, pos, 0,
                           "segment header does not carry the chain hash of the commit before it");
                goto out;
            }
            if (seg_seen == 0 && first0 != 1) {
                memcpy(hash, seg->prev_hash, 32);
                stele__sha256_init(&sha);
                stele__sha256_update(&sha, hash, 32);
            }
        }
        if (rec.time_ns < last_time) {
            report_bad(rep, log, &c, pos, at, "time goes backwards");
            goto out;
        }
        last_time = rec.time_ns;
        rep->events++;
        rep->bytes += rec.padded_length;
        stele__record_hash_update(&sha, bytes, &rec);
        if (rec.flags & STELE_RECORD_COMMIT) {
            uint8_t computed[32];
            stele__sha256_final(&sha, computed);
            if (rec.commit_events != rec.position - commit_first + 1) {
                report_bad(rep, log, &c, pos, at,
                           "commit record counts the wrong number of events");
                goto out;
            }
            if (memcmp(computed, rec.hash, 32) != 0) {
                report_bad(rep, log, &c, pos, at, "commit chain hash mismatch");
                goto out;
            }
            memcpy(hash, computed, 32);
            commit_first = rec.position + 1;
            rep->commits++;
            stele__sha256_init(&sha);
            stele__sha256_update(&sha, hash, 32);
        }
        if (progress && (rep->events % 65536 == 0))
            progress(arg, rep->events, head);
    }
    if (commit_first != head + 1 && head > 0)
        report_bad(rep, log, &c, head, c.offset, "the head is not at the end of a commit");
out:
    stele__cursor_free(&c);
    return rc < 0 && rep->error == 0 ? rc : 0;
}

typedef struct index_check {
    stele_store_t *s;
    stele_log_cursor_t c;
    uint64_t head;
    uint64_t seen;
    stele_verify_report_t *rep;
} index_check_t;

static int check_entry(void *arg, const stele_index_entry_t *e) {
    index_check_t *ic = arg;
    if (e->position > ic->head)
        return 0; /* appended after verify started */
    ic->seen++;
    stele_record_t rec;
    int rc = stele__cursor_seek(&ic->c, e->position);
    if (rc == 0)
        rc = stele__cursor_next(&ic->c, &rec, NULL);
    if (rc < 0 && rc != STELE_ECORRUPT)
        return rc; /* the log could not be read: stops the scan with that error */
    if (rc <= 0 || stele__index_hash(rec.stream, rec.stream_len) != e->hash ||
        rec.version != e->version) {
        char msg[256];
        snprintf(msg, sizeof msg,
                 "index entry (version %" PRIu64 " -> position %" PRIu64 ") does not match the log",
                 e->version, e->position);
        report_bad(ic->rep, ic->s->log, &ic->c, e->position, 0, msg);
        return 1;
    }
    return 0;
}

/* An event-id index entry must be the key of the id of the event at its position. */
static int check_id_entry(void *arg, const stele_index_entry_t *e) {
    index_check_t *ic = arg;
    if (e->position > ic->head)
        return 0;
    ic->seen++;
    stele_record_t rec;
    stele_index_entry_t want;
    int rc = stele__cursor_seek(&ic->c, e->position);
    if (rc == 0)
        rc = stele__cursor_next(&ic->c, &rec, NULL);
    if (rc < 0 && rc != STELE_ECORRUPT)
        return rc;
    if (rc > 0)
        stele__idindex_entry(&rec.id, rec.position, &want);
    if (rc <= 0 || want.hash != e->hash || want.version != e->version) {
        char msg[256];
        snprintf(msg, sizeof msg,
                 "event-id index entry (position %" PRIu64 ") does not match the log", e->position);
        report_bad(ic->rep, ic->s->log, &ic->c, e->position, 0, msg);
        return 1;
    }
    return 0;
}

static int verify(stele_store_t *s, stele_progress_fn progress, void *arg,
                  stele_verify_report_t *rep) {
    memset(rep, 0, sizeof(*rep));
    uint64_t head = atomic_load_explicit(&s->visible, memory_order_acquire);
    int rc = verify_log(s, head, progress, arg, rep);
    if (rc < 0)
        return rc;
    stele_log_t *log = s->log;
    if (rep->error == 0 && log->damage) {
        /* found by a STELE_OPEN_VERIFY open: the log ends before it (the index is not checked:
         * it may well be ahead of what is left) */
        rep->error = log->damage;
        rep->bad_position = log->damage_position;
        rep->bad_segment = log->damage_segment;
        rep->bad_offset = log->damage_offset;
        size_t n = strnlen(log->damage_msg, sizeof rep->message - 1);
        memcpy(rep->message, log->damage_msg, n); /* the facts come first; the advice may go */
        rep->message[n] = '\0';
    }
    if (rep->error == 0) {
        index_check_t ic = {.s = s, .head = head, .rep = rep};
        if ((rc = stele__cursor_init(&ic.c, s->log, 16384)) < 0)
            return rc;
        rc = stele__index_scan(s->index, check_entry, &ic);
        uint64_t seen = ic.seen;
        const char *which = "index";
        if (rc == 0 && rep->error == 0 && seen == head) {
            ic.seen = 0;
            rc = stele__index_scan(s->ids, check_id_entry, &ic);
            seen = ic.seen;
            which = "event-id index";
        }
        stele__cursor_free(&ic.c);
        if (rc < 0 && rc != STELE_ECORRUPT && rep->error == 0)
            return stele__fail(rc, "verify could not read the index or the log: %s",
                               stele_strerror(rc));
        if (rc < 0 && rep->error == 0) {
            rep->error = STELE_ECORRUPT;
            snprintf(rep->message, sizeof rep->message, "%s: %s", which, stele_errdetail());
        } else if (rep->error == 0 && seen != head) {
            rep->error = STELE_ECORRUPT;
            snprintf(rep->message, sizeof rep->message,
                     "%s holds %" PRIu64 " entries for %" PRIu64 " events (run reindex)", which,
                     seen, head);
        }
    }
    if (progress)
        progress(arg, head, head);
    if (rep->error)
        return stele__fail(STELE_ECORRUPT, "%s", rep->message);
    return 0;
}

int stele_verify(stele_store_t *s, stele_progress_fn progress, void *arg,
                 stele_verify_report_t *rep) {
    stele__error_clear();
    if (!s || !rep)
        return stele__fail(STELE_EINVAL, "store or report is NULL");
    size_t copy;
    int rc =
        stele__struct_size_check(rep->struct_size, STELE__SIZE_V1(stele_verify_report_t, message),
                                 sizeof(stele_verify_report_t), "stele_verify_report_t", &copy);
    if (rc < 0)
        return rc;
    stele_verify_report_t full;
    rc = verify(s, progress, arg, &full);
    full.struct_size = sizeof full;
    stele__struct_size_copy(rep, &full, copy);
    return rc;
}

typedef struct reindex_args {
    stele_progress_fn progress;
    void *arg;
} reindex_args_t;

static int reindex_on_writer(stele_store_t *s, stele_store_req_t *r) {
    reindex_args_t *a = r->control_arg;
    int rc = stele__index_reset(s->index);
    if (rc == 0)
        rc = stele__index_reset(s->ids);
    if (rc == 0) {
        pthread_rwlock_wrlock(&s->cat.lock);
        stele__catalogue_clear(&s->cat);
        pthread_rwlock_unlock(&s->cat.lock);
        rc = stele__store_replay(s, 1, a->progress, a->arg);
    }
    if (rc == 0)
        rc = stele__index_flush(s->index);
    if (rc == 0)
        rc = stele__index_flush(s->ids);
    /* Rebuilt from the log: an earlier failure to update the derived state is repaired. A rebuild
     * cut short leaves it half made: refuse appends until reopen, as after a failed publish. */
    atomic_store(&s->derived_error, rc);
    if (rc == 0) {
        stele__catsnap_idle(&s->snap); /* one writer of catalogue.snap at a time */
        rc = stele__catalogue_save(&s->cat, s->vfs, s->dir);
        s->snap.position = s->log->head_position;
    }
    if (rc < 0)
        snprintf(r->detail, sizeof r->detail, "reindex failed: %s", stele_errdetail());
    return rc;
}

int stele_reindex(stele_store_t *s, stele_progress_fn progress, void *arg) {
    stele__error_clear();
    if (!s)
        return stele__fail(STELE_EINVAL, "store is NULL");
    reindex_args_t a = {progress, arg};
    return stele__store_control(s, reindex_on_writer, &a);
}
