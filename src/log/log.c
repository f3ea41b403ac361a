/*
 * log.c -- the set of segments: opening them, the append path (write a commit, roll, sync), the
 * background preparation of zero-filled segments, and cursors that read records back.
 *
 * Why zero-filled segments: on ext4 the first write into a fallocated-only extent costs extra
 * synchronous metadata writes on every fdatasync (DESIGN.md measured 4.7k/s against 9.5k/s), so the
 * next segment is written full of zeros by a background thread before the writer needs it. The
 * zeros also mark the end of the log for recovery.
 *
 * Why segments grow: zero-filling costs the disk space up front, so a new store starts with a
 * small segment (STELE_LOG_FIRST_SEGMENT_BYTES, or a quarter of the maximum when that is smaller)
 * and each new segment doubles the nominal size of the one before, up to the maximum
 * (log->segment_size). A new store holds the first segment and the prepared second one, not two
 * segments of the maximum size. The nominal size of each segment is in its header.
 */
#include "log/log.h"

#include "log/recovery.h"
#include "os/alloc.h"
#include "os/clock.h"
#include "util/error.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define PREP_NAME "next.tmp"
#define PREP_PARTIAL "next.partial"
#define ROLL_NAME "roll.tmp"
/* The background zero-fill writes at most this many bytes per second, leaving the disk to the
 * writer: a segment that is not ready in time is made with reserved space instead. */
#define ZERO_FILL_BYTES_PER_SEC ((uint64_t)96 << 20)
#define ZERO_CHUNK ((size_t)1 << 20)

static int path_join(char *out, size_t size, const char *dir, const char *name) {
    int n = snprintf(out, size, "%s/%s", dir, name);
    return (n < 0 || (size_t)n >= size) ? stele__fail(STELE_EINVAL, "path too long: %s", dir) : 0;
}

/* Nominal size of the next segment: the first one's size for a new log, else twice the size of
 * the active segment, never above the maximum. Writer thread (or open) only. */
static uint64_t next_segment_bytes(const stele_log_t *log) {
    uint64_t max = log->segment_size;
    uint64_t first =
        max / 4 < STELE_LOG_FIRST_SEGMENT_BYTES ? max / 4 : STELE_LOG_FIRST_SEGMENT_BYTES;
    uint64_t n = log->nsegs ? log->segs[log->nsegs - 1]->nominal_bytes : 0;
    n = n > max / 2 ? max : n * 2;
    return n < first ? first : n;
}

/* Write zeros over [0, size) of a new file and sync it; gives up with -ECANCELED when the log is
 * closing. */
static int zero_fill(stele_log_t *log, stele_file_t *f, uint64_t size, bool paced) {
    uint8_t *zeros = stele__calloc(1, ZERO_CHUNK);
    if (!zeros)
        return STELE_ENOMEM;
    int rc = 0;
    for (uint64_t off = 0; off < size && rc == 0;) {
        size_t n = (size - off) < ZERO_CHUNK ? (size_t)(size - off) : ZERO_CHUNK;
        rc = stele__file_pwrite(f, zeros, n, off);
        off += n;
        if (atomic_load_explicit(&log->prep_cancel, memory_order_relaxed))
            rc = -ECANCELED;
        if (paced) {
            /* Pause while the writer is busy: under sustained load the zeros would halve its
             * bandwidth, and a reserved-space segment costs little with large batches. */
            for (int i = 0; i < 100 && rc == 0; i++) {
                uint64_t before = atomic_load(&log->bytes);
                struct timespec ts = {0, (long)(1000000000ull * n / ZERO_FILL_BYTES_PER_SEC)};
                nanosleep(&ts, NULL);
                if (atomic_load(&log->bytes) - before < n / 8)
                    break;
                if (atomic_load_explicit(&log->prep_cancel, memory_order_relaxed))
                    rc = -ECANCELED;
            }
        }
    }
    if (rc == 0)
        rc = stele__file_sync(f);
    stele__free(zeros);
    return rc;
}

/* Make "<dir>/next.tmp": a zero-filled, synced file of size bytes. It is written as next.partial
 * and renamed when complete, so a next.tmp found at open is whole and reusable. */
static int prepare_file(stele_log_t *log, uint64_t size) {
    char partial[4200], path[4200];
    int rc = path_join(partial, sizeof partial, log->dir, PREP_PARTIAL);
    if (rc == 0)
        rc = path_join(path, sizeof path, log->dir, PREP_NAME);
    if (rc < 0)
        return rc;
    stele_file_t *f = NULL;
    rc = log->vfs->open(log->vfs, partial, STELE_VFS_RDWR | STELE_VFS_CREATE, &f);
    if (rc < 0)
        return rc;
    rc = f->vfs->truncate(f, 0);
    if (rc == 0)
        rc = zero_fill(log, f, size, true);
    int crc = stele__file_close(f);
    if (rc == 0)
        rc = crc;
    if (rc == 0)
        rc = log->vfs->rename(log->vfs, partial, path);
    if (rc == 0)
        rc = log->vfs->sync_dir(log->vfs, log->dir);
    else
        (void)log->vfs->unlink(log->vfs, partial); /* a disk full: give its space back */
    return rc;
}

static void *prep_main(void *arg) {
    stele_log_t *log = arg;
    pthread_mutex_lock(&log->prep_mu);
    for (;;) {
        while (!log->prep_stop && !log->prep_wanted)
            pthread_cond_wait(&log->prep_cv, &log->prep_mu);
        if (log->prep_stop)
            break;
        uint64_t size = log->prep_size;
        pthread_mutex_unlock(&log->prep_mu);
        int rc = prepare_file(log, size);
        pthread_mutex_lock(&log->prep_mu);
        log->prep_wanted = false;
        log->prep_ready = rc == 0;
        log->prep_error = rc;
        pthread_cond_broadcast(&log->prep_cv);
    }
    pthread_mutex_unlock(&log->prep_mu);
    return NULL;
}

static void prep_request(stele_log_t *log) {
    if (!log->prep_started)
        return;
    pthread_mutex_lock(&log->prep_mu);
    if (!log->prep_ready && !log->prep_wanted) {
        log->prep_wanted = true;
        log->prep_size = next_segment_bytes(log);
        pthread_cond_signal(&log->prep_cv);
    }
    pthread_mutex_unlock(&log->prep_mu);
}

/* A file for the next segment: the prepared zero-filled one when the background thread has it
 * ready, else (never waiting for it) a new file with the space only reserved. Sets *name, *size
 * (the segment's nominal size, the next one in the growth) and *preallocated (the file has that
 * size from the start: a shorter one later means lost bytes). */
static int prep_take(stele_log_t *log, const char **name, uint64_t *size, bool *preallocated) {
    *size = next_segment_bytes(log);
    *preallocated = true;
    char path[4200];
    int rc;
    if (log->prep_started) {
        pthread_mutex_lock(&log->prep_mu);
        bool ready = log->prep_ready;
        log->prep_ready = false;
        uint64_t ready_size = log->prep_size;
        pthread_mutex_unlock(&log->prep_mu);
        if (ready && ready_size == *size) {
            *name = PREP_NAME;
            return 0;
        }
        /* Made for the segment before, which the writer filled before it was ready: the next
         * preparation makes one of the right size. */
        if (ready && path_join(path, sizeof path, log->dir, PREP_NAME) == 0)
            (void)log->vfs->unlink(log->vfs, path);
    }
    *name = ROLL_NAME;
    if ((rc = path_join(path, sizeof path, log->dir, ROLL_NAME)) < 0)
        return rc;
    stele_file_t *f = NULL;
    if ((rc = log->vfs->open(log->vfs, path, STELE_VFS_RDWR | STELE_VFS_CREATE, &f)) < 0)
        return rc;
    rc = f->vfs->truncate(f, 0);
    if (rc == 0 && log->nsegs == 0)
        rc = zero_fill(log, f, *size, false); /* the first segment of a new store */
    else if (rc == 0 && (rc = f->vfs->allocate(f, 0, *size)) == -EOPNOTSUPP) {
        rc = 0; /* the file grows as it is written */
        *preallocated = false;
    }
    int crc = stele__file_close(f);
    if (rc == 0)
        rc = crc;
    if (rc < 0)
        (void)log->vfs->unlink(log->vfs, path); /* never leave a segment's worth of space taken */
    return rc;
}

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
    snprintf(seg->path, plen, "%s/%s", dir, name);
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
    int rc = prep_take(log, &name, &size, &preallocated);
    if (rc < 0)
        return rc;
    stele_segment_t *seg = segment_new(log->dir, first);
    char tmp[4200];
    bool renamed = false;
    if (!seg) {
        rc = STELE_ENOMEM;
        goto fail_seg;
    }
    if ((rc = path_join(tmp, sizeof tmp, log->dir, name)) < 0)
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
    prep_request(log);
    return 0;
fail_seg:
    stele__segment_free(seg);
    /* A roll.tmp is made for this roll only (a next.tmp stays: it is whole and reused): on a full
     * disk it would keep a segment's worth of space from the user. */
    if (!renamed && strcmp(name, ROLL_NAME) == 0 && path_join(tmp, sizeof tmp, log->dir, name) == 0)
        (void)log->vfs->unlink(log->vfs, tmp);
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
        char tmp[4200];
        if ((rc = path_join(tmp, sizeof tmp, dir, PREP_PARTIAL)) < 0)
            goto fail;
        (void)vfs->unlink(vfs, tmp); /* a half-made one from before a crash */
        if ((rc = path_join(tmp, sizeof tmp, dir, PREP_NAME)) < 0)
            goto fail;
        stele_file_t *f = NULL;
        uint64_t size = 0;
        if (vfs->open(vfs, tmp, STELE_VFS_RDONLY, &f) == 0) {
            log->prep_size = next_segment_bytes(log);
            if (f->vfs->size(f, &size) == 0 && size == log->prep_size)
                log->prep_ready = true; /* whole: it was renamed into place after its sync */
            stele__file_close(f);
        }
        if (!log->prep_ready)
            (void)vfs->unlink(vfs, tmp);
        if (pthread_create(&log->prep_thread, NULL, prep_main, log) == 0)
            log->prep_started = true;
        prep_request(log);
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
    if (log->prep_started) {
        atomic_store(&log->prep_cancel, true);
        pthread_mutex_lock(&log->prep_mu);
        log->prep_stop = true;
        pthread_cond_broadcast(&log->prep_cv);
        pthread_mutex_unlock(&log->prep_mu);
        pthread_join(log->prep_thread, NULL);
    }
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
    return 0;
}

int stele__log_write_commit(stele_log_t *log, const uint8_t *buf, size_t len,
                            uint64_t last_position, const uint8_t hash[32], int64_t last_time_ns) {
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
        uint64_t pos = stele__get_u64(buf + off + 16);
        if (pos % STELE_SPARSE_STRIDE == 1 || pos == seg->first_position) {
            if (!locked) {
                pthread_rwlock_wrlock(&log->lock);
                locked = true;
            }
            if ((rc = stele__segment_sparse_add(seg, pos, seg->end_offset + off)) < 0)
                break;
        }
        off += (stele__get_u32(buf + off + 4) + 7u) & ~7u;
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

/* ---- cursors ------------------------------------------------------------------------------- */

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
