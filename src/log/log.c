/*
 * log.c -- the set of segments: opening them and the append path (write a commit, roll, sync).
 * The files that become new segments are prepared in prep.c; cursors that read records back are in
 * cursor.c.
 */
#include "log/log.h"

#include "log/prep.h"
#include "log/recovery.h"
#include "os/alloc.h"
#include "os/clock.h"
#include "util/assert.h"
#include "util/bytes.h"
#include "util/error.h"
#include "util/path.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int segs_push(stele_log_t *log, stele_segment_t *seg) {
    if (log->nsegs == log->segs_cap) {
        size_t cap = log->segs_cap ? log->segs_cap * 2 : 16;
        stele_segment_t **n = stele__realloc(log->segs, cap * sizeof(*n));
        if (!n)
            return STELE_ENOMEM;
        log->segs = n;
        log->segs_cap = cap;
    }
    log->segs[log->nsegs++] = seg;
    return 0;
}

static stele_segment_t *segment_new(const char *dir, uint64_t first) {
    char name[64];
    stele__segment_name(first, "seg", name, sizeof name);
    size_t plen = strlen(dir) + 1 + strlen(name) + 1;
    stele_segment_t *seg = stele__calloc(1, sizeof(*seg) + plen);
    if (!seg)
        return NULL;
    stele__path_join(seg->path, plen, dir, name); /* plen fits exactly */
    seg->first_position = first;
    seg->last_position = first - 1;
    seg->end_offset = STELE_SEGMENT_HEADER_BYTES;
    return seg;
}

/* Turn the prepared file into the segment starting at first, and make it the active one. */
static int segment_create(stele_log_t *log, uint64_t first) {
    const char *name = NULL;
    bool preallocated = false;
    uint64_t size = 0;
    int rc = stele__prep_take(log, &name, &size, &preallocated);
    if (rc < 0)
        return rc;
    stele_segment_t *seg = segment_new(log->dir, first);
    char tmp[4200];
    bool renamed = false;
    if (!seg) {
        rc = STELE_ENOMEM;
        goto fail_seg;
    }
    if ((rc = stele__path_join(tmp, sizeof tmp, log->dir, name)) < 0)
        goto fail_seg;
    if ((rc = log->vfs->open(log->vfs, tmp, STELE_VFS_RDWR, &seg->file)) < 0)
        goto fail_seg;
    uint8_t hdr[STELE_SEGMENT_HEADER_BYTES];
    memcpy(seg->prev_hash, log->head_hash, 32);
    seg->prev_time_ns = log->head_time_ns;
    seg->nominal_bytes = size;
    seg->flags = preallocated ? STELE_SEGMENT_PREALLOCATED : 0;
    stele__segment_header_encode(hdr, first, size, stele__clock_realtime_ns(), log->head_hash,
                                 log->head_time_ns, seg->flags);
    if ((rc = stele__file_pwrite(seg->file, hdr, sizeof hdr, 0)) < 0)
        goto fail_seg;
    if ((rc = stele__file_sync(seg->file)) < 0)
        goto fail_seg;
    if ((rc = log->vfs->rename(log->vfs, tmp, seg->path)) < 0)
        goto fail_seg;
    renamed = true;
    if ((rc = log->vfs->sync_dir(log->vfs, log->dir)) < 0)
        goto fail_seg;
    seg->size_bytes = size;
    seg->nominal_bytes = size;
    pthread_rwlock_wrlock(&log->lock);
    rc = segs_push(log, seg);
    pthread_rwlock_unlock(&log->lock);
    if (rc < 0)
        goto fail_seg;
    stele__prep_request(log);
    return 0;
fail_seg:
    stele__segment_free(seg);
    if (!renamed)
        stele__prep_abandon(log, name);
    return rc;
}

static int name_cmp(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

typedef struct listing {
    uint64_t *firsts;
    size_t n, cap;
    int err;
} listing_t;

static int list_fn(void *arg, const char *name) {
    listing_t *l = arg;
    size_t len = strlen(name);
    if (len != 24 || strcmp(name + 20, ".seg") != 0)
        return 0;
    uint64_t first = 0;
    for (int i = 0; i < 20; i++) {
        if (name[i] < '0' || name[i] > '9')
            return 0;
        first = first * 10 + (uint64_t)(name[i] - '0');
    }
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 16;
        uint64_t *n = stele__realloc(l->firsts, cap * sizeof(*n));
        if (!n) {
            l->err = STELE_ENOMEM;
            return 1;
        }
        l->firsts = n;
        l->cap = cap;
    }
    l->firsts[l->n++] = first;
    return 0;
}

/* Open an existing segment file and read its header. */
static int segment_open(stele_log_t *log, uint64_t first, stele_segment_t **out) {
    stele_segment_t *seg = segment_new(log->dir, first);
    if (!seg)
        return STELE_ENOMEM;
    unsigned flags = log->readonly ? STELE_VFS_RDONLY : STELE_VFS_RDWR;
    int rc = log->vfs->open(log->vfs, seg->path, flags, &seg->file);
    if (rc < 0)
        goto fail;
    uint8_t hdr[STELE_SEGMENT_HEADER_BYTES];
    rc = stele__file_read_exact(seg->file, hdr, sizeof hdr, 0);
    if (rc < 0) {
        /* a file too short for its header is damage; a failed read is the read's error */
        rc = stele__fail(rc == -ENODATA ? STELE_ECORRUPT : rc, "segment %s: header unreadable (%s)",
                         seg->path, stele_strerror(rc));
        goto fail;
    }
    uint64_t hdr_first = 0;
    rc = stele__segment_header_decode(hdr, &hdr_first, &seg->nominal_bytes, seg->prev_hash,
                                      &seg->prev_time_ns, &seg->flags);
    if (rc == STELE_ENOTSTORE) /* the store has its marker: a segment without magic is damage */
        rc = stele__fail(STELE_ECORRUPT, "segment %s: header has no segment magic", seg->path);
    if (rc < 0)
        goto fail;
    if (hdr_first != first) {
        rc = stele__fail(STELE_ECORRUPT, "segment %s: header names position %" PRIu64, seg->path,
                         hdr_first);
        goto fail;
    }
    if ((rc = seg->file->vfs->size(seg->file, &seg->size_bytes)) < 0)
        goto fail;
    *out = seg;
    return 0;
fail:
    stele__segment_free(seg);
    return rc;
}

/* Forget segments after i (a tolerant open that found damage there, or one about to refuse): the
 * log then ends in segment i, whose end tail recovery finds without cutting anything. */
static void drop_after(stele_log_t *log, size_t i) {
    for (size_t j = i + 1; j < log->nsegs; j++)
        stele__segment_free(log->segs[j]);
    log->nsegs = i + 1;
    log->view_cut = true;
}

int stele__log_open(const stele_vfs_t *vfs, const char *dir, uint64_t segment_size, bool create,
                    bool readonly, stele_log_t **out) {
    stele_log_open_opts_t o = {
        .segment_size = segment_size, .create = create, .readonly = readonly};
    return stele__log_open_ex(vfs, dir, &o, out);
}

int stele__log_open_ex(const stele_vfs_t *vfs, const char *dir, const stele_log_open_opts_t *opts,
                       stele_log_t **out) {
    uint64_t segment_size = opts->segment_size;
    bool create = opts->create, readonly = opts->readonly;
    stele_log_t *log = stele__calloc(1, sizeof(*log));
    if (!log)
        return STELE_ENOMEM;
    listing_t l = {0};
    int rc;
    log->vfs = vfs;
    log->segment_size = segment_size;
    log->readonly = readonly;
    log->tolerant = opts->tolerant && readonly;
    log->live = opts->live && readonly;
    stele__log_set_floor(log, opts->durable_floor,
                         opts->floor_source ? opts->floor_source : "a derived file");
    pthread_rwlock_init(&log->lock, NULL);
    pthread_mutex_init(&log->prep_mu, NULL);
    pthread_cond_init(&log->prep_cv, NULL);
    if (!(log->dir = stele__strdup(dir))) {
        rc = STELE_ENOMEM;
        goto fail;
    }
    rc = vfs->list_dir(vfs, dir, list_fn, &l);
    if (rc == -ENOENT && create && !readonly) {
        if ((rc = vfs->mkdir(vfs, dir)) < 0)
            goto fail;
        rc = vfs->list_dir(vfs, dir, list_fn, &l);
    }
    if (l.err)
        rc = l.err;
    if (rc < 0)
        goto fail;
    if (l.n > 1) /* qsort's array may not be NULL, even for 0 elements */
        qsort(l.firsts, l.n, sizeof(uint64_t), name_cmp);

    if (l.n == 0) {
        if (!create || readonly) {
            rc = stele__fail(STELE_ECORRUPT, "%s holds no segment file", dir);
            goto fail;
        }
        if ((rc = segment_create(log, 1)) < 0)
            goto fail;
    }
    for (size_t i = 0; i < l.n; i++) {
        stele_segment_t *seg = NULL;
        if ((rc = segment_open(log, l.firsts[i], &seg)) < 0) {
            if (rc == STELE_ECORRUPT && log->tolerant && i > 0) {
                char msg[400];
                snprintf(msg, sizeof msg, "%s", stele_errdetail());
                rc = stele__log_problem(log, l.firsts[i], l.firsts[i], 0, "%s", msg);
                log->view_cut = true;
                break;
            }
            goto fail;
        }
        if ((rc = segs_push(log, seg)) < 0) {
            stele__segment_free(seg);
            goto fail;
        }
    }
    /* Sealed segments: their sparse index file, or a scan when it is missing or bad. */
    for (size_t i = 0; i + 1 < log->nsegs; i++) {
        stele_segment_t *seg = log->segs[i];
        seg->sealed = true;
        bool loaded = stele__segment_sparse_load(vfs, dir, seg) == 0;
        if (loaded && seg->end_offset > seg->size_bytes) {
            /* Its records up to end_offset were synced before the next segment was made: the
             * file lost some. Let tail recovery find where this segment now ends and report. */
            char src[96];
            snprintf(src, sizeof src, "its sealed offset index (%020" PRIu64 ".sidx)",
                     seg->first_position);
            stele__log_set_floor(log, seg->last_position, src);
            drop_after(log, i);
            break;
        }
        if (loaded && seg->last_position + 1 == log->segs[i + 1]->first_position)
            continue;
        if ((rc = stele__log_scan_sealed(log, i)) < 0) {
            if (rc == STELE_ECORRUPT && log->tolerant) {
                drop_after(log, i); /* tail recovery reports the damage in segment i */
                break;
            }
            goto fail;
        }
        if (!readonly)
            (void)stele__segment_sparse_save(vfs, dir, seg); /* only a cache */
    }
    for (size_t i = 0; i + 1 < log->nsegs; i++) {
        if (log->segs[i]->last_position + 1 != log->segs[i + 1]->first_position) {
            stele_segment_t *a = log->segs[i], *b = log->segs[i + 1];
            if (a->last_position + 1 < b->first_position) {
                /* A sealed segment is synced before the next is made: the positions between
                 * were durable, so this is a loss, whatever the durability mode. */
                char src[96];
                snprintf(src, sizeof src, "the next segment (%020" PRIu64 ".seg)",
                         b->first_position);
                stele__log_set_floor(log, b->first_position - 1, src);
            } else if ((rc = stele__log_problem(log, b->first_position, b->first_position, 0,
                                                "segment %s ends at position %" PRIu64
                                                " but the next begins at %" PRIu64,
                                                a->path, a->last_position, b->first_position)) <
                       0) {
                goto fail;
            }
            drop_after(log, i);
            break;
        }
    }
    for (size_t i = 0; i + 1 < log->nsegs; i++)
        log->bytes += log->segs[i]->end_offset - STELE_SEGMENT_HEADER_BYTES;
    if ((rc = stele__log_recover_tail(log)) < 0)
        goto fail;
    stele_segment_t *last = log->segs[log->nsegs - 1];
    /* Segments were left out: never silently (recovery reports why in all expected cases). */
    if (log->view_cut && log->damage == 0 &&
        (rc =
             stele__log_problem(log, log->head_position + 1, last->first_position, last->end_offset,
                                "the log breaks after position %" PRIu64
                                " (segment %s): the segments after it do not follow on",
                                log->head_position, last->path)) < 0)
        goto fail;
    log->bytes += last->end_offset - STELE_SEGMENT_HEADER_BYTES;
    /* What was read may be only in the page cache (the process before was killed, not the
     * machine): make it durable before anything claims it is. */
    if (!readonly && (rc = stele__file_sync(last->file)) < 0)
        goto fail;
    atomic_store(&log->synced_position, log->head_position);

    if (!readonly) {
        if ((rc = stele__prep_start(log)) < 0)
            goto fail;
    }
    stele__free(l.firsts);
    *out = log;
    return 0;
fail:
    stele__free(l.firsts);
    stele__log_close(log);
    return rc;
}

void stele__log_close(stele_log_t *log) {
    if (!log)
        return;
    stele__prep_stop(log);
    for (size_t i = 0; i < log->nsegs; i++)
        stele__segment_free(log->segs[i]);
    stele__free(log->segs);
    stele__free(log->dir);
    pthread_rwlock_destroy(&log->lock);
    pthread_mutex_destroy(&log->prep_mu);
    pthread_cond_destroy(&log->prep_cv);
    stele__free(log);
}

/* Seal the active segment and start a new one at first. */
static int roll(stele_log_t *log, uint64_t first) {
    STELE_ASSERT(!log->readonly && log->nsegs >= 1);
    STELE_ASSERT(first == log->head_position + 1); /* a segment starts right after the head */
    stele_segment_t *old = log->segs[log->nsegs - 1];
    int rc = stele__file_sync(old->file);
    if (rc < 0)
        return rc;
    atomic_store(&log->synced_position, log->head_position);
    if ((rc = segment_create(log, first)) < 0)
        return rc;
    pthread_rwlock_wrlock(&log->lock);
    old->sealed = true;
    pthread_rwlock_unlock(&log->lock);
    (void)stele__segment_sparse_save(log->vfs, log->dir, old); /* a cache: rebuilt if lost */
    STELE_ASSERT(log->segs[log->nsegs - 1]->first_position == first);
    return 0;
}

int stele__log_write_commit(stele_log_t *log, const uint8_t *buf, size_t len,
                            uint64_t last_position, const uint8_t hash[32], int64_t last_time_ns) {
    /* A whole commit of whole 8-aligned records, after the head, not earlier in time. */
    STELE_ASSERT(!log->readonly && log->nsegs >= 1);
    STELE_ASSERT(len >= STELE_RECORD_HEADER_BYTES && len % STELE_RECORD_ALIGN == 0);
    STELE_ASSERT(len <= STELE_LOG_MAX_COMMIT_BYTES);
    STELE_ASSERT(last_position > log->head_position);
    STELE_ASSERT(stele__get_u64(buf + STELE_REC_OFF_POSITION) == log->head_position + 1);
    STELE_ASSERT(last_time_ns >= log->head_time_ns);
    stele_segment_t *seg = log->segs[log->nsegs - 1];
    uint64_t limit =
        seg->nominal_bytes < log->segment_size ? seg->nominal_bytes : log->segment_size;
    int rc;
    if (seg->end_offset + len > limit && seg->end_offset > STELE_SEGMENT_HEADER_BYTES) {
        if ((rc = roll(log, log->head_position + 1)) < 0)
            return rc;
        seg = log->segs[log->nsegs - 1];
    }
    if ((rc = stele__file_pwrite(seg->file, buf, len, seg->end_offset)) < 0)
        return rc;

    /* Sparse entries for the records of this commit. */
    bool locked = false;
    for (size_t off = 0; off < len;) {
        uint64_t pos = stele__get_u64(buf + off + STELE_REC_OFF_POSITION);
        if (pos % STELE_SPARSE_STRIDE == 1 || pos == seg->first_position) {
            if (!locked) {
                pthread_rwlock_wrlock(&log->lock);
                locked = true;
            }
            if ((rc = stele__segment_sparse_add(seg, pos, seg->end_offset + off)) < 0)
                break;
        }
        off += (stele__get_u32(buf + off + STELE_REC_OFF_LENGTH) + 7u) & ~7u;
    }
    if (locked)
        pthread_rwlock_unlock(&log->lock);
    if (rc < 0)
        return rc;
    seg->end_offset += len;
    if (seg->end_offset > seg->size_bytes)
        seg->size_bytes = seg->end_offset;
    seg->last_position = last_position;
    log->head_position = last_position;
    memcpy(log->head_hash, hash, 32);
    log->head_time_ns = last_time_ns;
    log->bytes += len;
    STELE_ASSERT(log->head_position == seg->last_position && seg->end_offset <= seg->size_bytes);
    return 0;
}

int stele__log_sync(stele_log_t *log) {
    int rc = stele__file_sync(log->segs[log->nsegs - 1]->file);
    if (rc == 0)
        atomic_store(&log->synced_position, log->head_position);
    return rc;
}

size_t stele__log_segment_count(stele_log_t *log) {
    pthread_rwlock_rdlock(&log->lock);
    size_t n = log->nsegs;
    pthread_rwlock_unlock(&log->lock);
    return n;
}
