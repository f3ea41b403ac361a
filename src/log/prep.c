/*
 * prep.c -- the files that become new segments (see prep.h).
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
 *
 * Lock order: log->prep_mu only, never held while writing.
 */
#include "log/prep.h"

#include "os/alloc.h"
#include "util/error.h"
#include "util/path.h"

#include <errno.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>

#define PREP_NAME "next.tmp"
#define PREP_PARTIAL "next.partial"
#define ROLL_NAME "roll.tmp"
/* The background zero-fill writes at most this many bytes per second, leaving the disk to the
 * writer: a segment that is not ready in time is made with reserved space instead. */
#define ZERO_FILL_BYTES_PER_SEC ((uint64_t)96 << 20)
#define ZERO_CHUNK ((size_t)1 << 20)

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
    int rc = stele__path_join(partial, sizeof partial, log->dir, PREP_PARTIAL);
    if (rc == 0)
        rc = stele__path_join(path, sizeof path, log->dir, PREP_NAME);
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

void stele__prep_request(stele_log_t *log) {
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
int stele__prep_take(stele_log_t *log, const char **name, uint64_t *size, bool *preallocated) {
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
        if (ready && stele__path_join(path, sizeof path, log->dir, PREP_NAME) == 0)
            (void)log->vfs->unlink(log->vfs, path);
    }
    *name = ROLL_NAME;
    if ((rc = stele__path_join(path, sizeof path, log->dir, ROLL_NAME)) < 0)
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

int stele__prep_start(stele_log_t *log) {
    int rc;
    char tmp[4200];
    if ((rc = stele__path_join(tmp, sizeof tmp, log->dir, PREP_PARTIAL)) < 0)
        return rc;
    (void)log->vfs->unlink(log->vfs, tmp); /* a half-made one from before a crash */
    if ((rc = stele__path_join(tmp, sizeof tmp, log->dir, PREP_NAME)) < 0)
        return rc;
    stele_file_t *f = NULL;
    uint64_t size = 0;
    if (log->vfs->open(log->vfs, tmp, STELE_VFS_RDONLY, &f) == 0) {
        log->prep_size = next_segment_bytes(log);
        if (f->vfs->size(f, &size) == 0 && size == log->prep_size)
            log->prep_ready = true; /* whole: it was renamed into place after its sync */
        stele__file_close(f);
    }
    if (!log->prep_ready)
        (void)log->vfs->unlink(log->vfs, tmp);
    if (pthread_create(&log->prep_thread, NULL, prep_main, log) == 0)
        log->prep_started = true;
    stele__prep_request(log);
    return 0;
}

void stele__prep_abandon(stele_log_t *log, const char *name) {
    /* A roll.tmp is made for this roll only (a next.tmp stays: it is whole and reused): on a full
     * disk it would keep a segment's worth of space from the user. */
    char tmp[4200];
    if (strcmp(name, ROLL_NAME) == 0 && stele__path_join(tmp, sizeof tmp, log->dir, name) == 0)
        (void)log->vfs->unlink(log->vfs, tmp);
}

void stele__prep_stop(stele_log_t *log) {
    if (log->prep_started) {
        atomic_store(&log->prep_cancel, true);
        pthread_mutex_lock(&log->prep_mu);
        log->prep_stop = true;
        pthread_cond_broadcast(&log->prep_cv);
        pthread_mutex_unlock(&log->prep_mu);
        pthread_join(log->prep_thread, NULL);
    }
}
