/*
 * writer.c -- the writer thread: queue, group commit, poisoning, completion (see writer.h).
 *
 * Lock order: w->mu only; never held while writing, syncing or calling the hooks.
 */
#include "log/writer.h"

#include "os/alloc.h"
#include "os/clock.h"
#include "util/assert.h"
#include "util/error.h"

#include <errno.h>
#include <sched.h>
#include <linux/futex.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define MAX_BATCH_REQUESTS 4096u
/* Waking a thread that sleeps on the other core costs ~25 us here (DESIGN.md), as much as a
 * fifth of an fdatasync. So one caller at a time spins for its completion instead of sleeping, and
 * the writer spins briefly for the next request before it sleeps. More spinners would take the
 * writer's core on a 2-core machine. */
#define CALLER_SPIN_NS 400000
#define WRITER_SPIN_NS 60000

struct stele_writer {
    stele_log_t *log;
    stele_durability_t durability;
    int64_t sync_interval_ns;
    uint32_t capacity;
    stele_writer_hooks_t hooks;

    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t work_cv;  /* the writer waits for requests */
    pthread_cond_t space_cv; /* callers wait for queue space */
    stele_wreq_t *head, *tail;
    uint32_t queued;
    bool stopping;

    _Atomic int poison;
    stele_commit_buf_t cb;
    stele_wreq_t **batch;

    /* ASYNC mode */
    uint64_t unsynced_bytes;
    int64_t last_sync_ns;

    _Atomic uint64_t commits, syncs, requests;
    _Atomic uint64_t sync_ns;                       /* time in fdatasync, summed */
    _Atomic uint64_t sync_hist[STELE_SYNC_BUCKETS]; /* fdatasync calls by duration */
    _Atomic uint32_t submitted; /* requests queued: lets the writer spin without the lock */
    _Atomic int spinners;

    /* wakes of sleeping callers, handed to the waker thread */
    _Atomic uint32_t **wake; /* collected by the writer during one batch */
    size_t nwake;
    pthread_t waker;
    bool waker_started;
    pthread_mutex_t waker_mu;
    pthread_cond_t waker_cv;
    _Atomic uint32_t **waker_list; /* handed over, under waker_mu */
    _Atomic uint32_t **waker_mine; /* the waker's own copy */
    size_t waker_count;
    bool waker_stop;
};

static inline void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

static void futex_wait(_Atomic uint32_t *addr, uint32_t expect) {
    syscall(SYS_futex, (uint32_t *)addr, FUTEX_WAIT_PRIVATE, expect, NULL, NULL, 0);
}
static void futex_wake(_Atomic uint32_t *addr) {
    syscall(SYS_futex, (uint32_t *)addr, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}

/* done: 0 pending, 2 the caller sleeps on it, 1 completed. Only a sleeping caller costs a wake,
 * and the wake itself is left to the waker thread: each costs a system call (~3 us), and with 64
 * callers per batch the writer would spend longer waking them than syncing. The waker gets the
 * futex addresses, never the requests: a caller may see done = 1 and return (its request gone)
 * before its wake, and a wake on a stale address is harmless since every wait re-checks. */
static void complete(stele_writer_t *w, stele_wreq_t *r, int status) {
    r->status = status;
    if (r->on_done) {
        r->on_done(r);
        return;
    }
    if (atomic_exchange_explicit(&r->done, 1, memory_order_acq_rel) == 2) {
        if (w->nwake < MAX_BATCH_REQUESTS)
            w->wake[w->nwake++] = &r->done;
        else
            futex_wake(&r->done);
    }
}

/* Hand the collected wakes to the waker thread. */
static void flush_wakes(stele_writer_t *w) {
    if (w->nwake == 0)
        return;
    pthread_mutex_lock(&w->waker_mu);
    size_t room = MAX_BATCH_REQUESTS * 2 - w->waker_count;
    size_t n = w->nwake < room ? w->nwake : room;
    memcpy(w->waker_list + w->waker_count, w->wake, n * sizeof(*w->wake));
    w->waker_count += n;
    pthread_cond_signal(&w->waker_cv);
    pthread_mutex_unlock(&w->waker_mu);
    for (size_t i = n; i < w->nwake; i++) /* the waker is behind: wake these ourselves */
        futex_wake(w->wake[i]);
    w->nwake = 0;
}

static void *waker_main(void *arg) {
    stele_writer_t *w = arg;
    _Atomic uint32_t **mine = w->waker_mine;
    pthread_mutex_lock(&w->waker_mu);
    for (;;) {
        while (w->waker_count == 0 && !w->waker_stop)
            pthread_cond_wait(&w->waker_cv, &w->waker_mu);
        if (w->waker_count == 0 && w->waker_stop)
            break;
        size_t n = w->waker_count;
        memcpy(mine, w->waker_list, n * sizeof(*mine));
        w->waker_count = 0;
        pthread_mutex_unlock(&w->waker_mu);
        for (size_t i = 0; i < n; i++)
            futex_wake(mine[i]);
        pthread_mutex_lock(&w->waker_mu);
    }
    pthread_mutex_unlock(&w->waker_mu);
    return NULL;
}

/* The histogram bucket of a sync that took ns: bucket i holds durations up to
 * STELE_SYNC_BUCKET_MIN_US << i microseconds, the last one everything longer. */
static size_t sync_bucket(int64_t ns) {
    size_t i = 0;
    int64_t bound = (int64_t)STELE_SYNC_BUCKET_MIN_US * 1000;
    while (i + 1 < STELE_SYNC_BUCKETS && ns > bound) {
        bound *= 2;
        i++;
    }
    return i;
}

static int do_sync(stele_writer_t *w) {
    int64_t start = stele__clock_monotonic_ns();
    int rc = stele__log_sync(w->log);
    int64_t end = stele__clock_monotonic_ns();
    int64_t took = end > start ? end - start : 0;
    atomic_fetch_add(&w->syncs, 1);
    atomic_fetch_add_explicit(&w->sync_ns, (uint64_t)took, memory_order_relaxed);
    atomic_fetch_add_explicit(&w->sync_hist[sync_bucket(took)], 1, memory_order_relaxed);
    w->unsynced_bytes = 0;
    w->last_sync_ns = end;
    return rc;
}

/* Write and sync one batch; complete its requests. */
static void run_batch(stele_writer_t *w, stele_wreq_t **reqs, size_t n) {
    stele_commit_buf_t *cb = &w->cb;
    stele_log_t *log = w->log;
    STELE_ASSERT(n >= 1 && n <= MAX_BATCH_REQUESTS);
    int64_t now = stele__clock_realtime_ns();
    /* times never decrease */
    stele__commit_begin(cb, log->head_position + 1,
                        now > log->head_time_ns ? now : log->head_time_ns);
    int poison = atomic_load(&w->poison);
    if (poison) {
        for (size_t i = 0; i < n; i++)
            complete(w, reqs[i], STELE_EPOISONED);
        flush_wakes(w);
        return;
    }
    w->hooks.encode(w->hooks.ctx, reqs, n, cb);
    /* encoding numbers records from the head on, and a commit holds at least one */
    STELE_ASSERT(cb->first_position == log->head_position + 1);
    STELE_ASSERT(cb->len == 0 ? cb->next_position == cb->first_position
                              : cb->next_position > cb->first_position);
    int err = 0;
    if (cb->len > 0) {
        uint8_t hash[32];
        stele__commit_seal(cb, log->head_hash, hash);
        uint64_t last_pos = cb->next_position - 1;
        err = stele__log_write_commit(log, cb->buf, cb->len, last_pos, hash, cb->time_ns);
        STELE_ASSERT(err != 0 || log->head_position == last_pos);
        atomic_fetch_add(&w->commits, 1);
        if (err == 0) {
            w->unsynced_bytes += cb->len;
            if (w->durability == STELE_DURABILITY_SYNC ||
                (w->durability == STELE_DURABILITY_ASYNC &&
                 w->unsynced_bytes >= STELE_LOG_MAX_COMMIT_BYTES))
                err = do_sync(w);
        }
        if (err) {
            atomic_store(&w->poison, err);
            stele__fail(err, "log write or sync failed: the store is poisoned until reopened");
        }
        w->hooks.publish(w->hooks.ctx, reqs, n, cb, err);
    }
    for (size_t i = 0; i < n; i++) {
        int st = reqs[i]->status;
        if (err && st == 0)
            st = err;
        complete(w, reqs[i], st);
    }
    flush_wakes(w);
    atomic_fetch_add(&w->requests, n);
    if (w->hooks.after && cb->len > 0 && !err)
        w->hooks.after(w->hooks.ctx);
}

static void *writer_main(void *arg) {
    stele_writer_t *w = arg;
    pthread_mutex_lock(&w->mu);
    for (;;) {
        while (!w->head && !w->stopping) {
            if (w->durability == STELE_DURABILITY_ASYNC && w->unsynced_bytes > 0) {
                int64_t due = w->last_sync_ns + w->sync_interval_ns - stele__clock_monotonic_ns();
                if (due <= 0) {
                    pthread_mutex_unlock(&w->mu);
                    if (!atomic_load(&w->poison)) {
                        int rc = do_sync(w);
                        if (rc)
                            atomic_store(&w->poison, rc);
                    }
                    pthread_mutex_lock(&w->mu);
                    continue;
                }
                struct timespec ts;
                clock_gettime(CLOCK_REALTIME, &ts);
                int64_t t = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec + due;
                ts.tv_sec = t / 1000000000;
                ts.tv_nsec = t % 1000000000;
                pthread_cond_timedwait(&w->work_cv, &w->mu, &ts);
            } else {
                pthread_mutex_unlock(&w->mu);
                int64_t until = stele__clock_monotonic_ns() + WRITER_SPIN_NS;
                while (atomic_load_explicit(&w->submitted, memory_order_acquire) == 0 &&
                       stele__clock_monotonic_ns() < until)
                    cpu_relax();
                pthread_mutex_lock(&w->mu);
                if (!w->head && !w->stopping)
                    pthread_cond_wait(&w->work_cv, &w->mu);
            }
        }
        if (!w->head && w->stopping)
            break;
        size_t n = 0, bytes = 0;
        while (w->head && n < MAX_BATCH_REQUESTS) {
            stele_wreq_t *r = w->head;
            if (n > 0 && (r->exclusive || w->batch[0]->exclusive ||
                          bytes + r->encoded_bytes > STELE_MAX_APPEND_BYTES))
                break;
            bytes += r->encoded_bytes;
            w->head = r->next;
            if (!w->head)
                w->tail = NULL;
            w->batch[n++] = r;
        }
        STELE_ASSERT(n >= 1 && n <= w->queued);
        w->queued -= (uint32_t)n;
        atomic_fetch_sub_explicit(&w->submitted, (uint32_t)n, memory_order_relaxed);
        pthread_cond_broadcast(&w->space_cv);
        pthread_mutex_unlock(&w->mu);
        run_batch(w, w->batch, n);
        pthread_mutex_lock(&w->mu);
    }
    pthread_mutex_unlock(&w->mu);
    if (w->durability != STELE_DURABILITY_NONE && w->unsynced_bytes > 0 &&
        !atomic_load(&w->poison)) {
        int rc = do_sync(w);
        if (rc)
            atomic_store(&w->poison, rc);
    }
    return NULL;
}

int stele__writer_start(stele_log_t *log, stele_durability_t durability, uint32_t sync_interval_ms,
                        uint32_t queue_capacity, const stele_writer_hooks_t *hooks,
                        stele_writer_t **out) {
    stele_writer_t *w = stele__calloc(1, sizeof(*w));
    if (!w)
        return STELE_ENOMEM;
    w->log = log;
    w->durability = durability;
    w->sync_interval_ns = (int64_t)(sync_interval_ms ? sync_interval_ms : 100) * 1000000;
    w->capacity = queue_capacity ? queue_capacity : 4096;
    w->hooks = *hooks;
    int cb_rc = stele__commit_init(&w->cb);
    w->batch = stele__calloc(MAX_BATCH_REQUESTS, sizeof(*w->batch));
    w->last_sync_ns = stele__clock_monotonic_ns();
    w->wake = stele__calloc(MAX_BATCH_REQUESTS, sizeof(*w->wake));
    w->waker_list = stele__calloc(MAX_BATCH_REQUESTS * 2, sizeof(*w->waker_list));
    w->waker_mine = stele__calloc(MAX_BATCH_REQUESTS * 2, sizeof(*w->waker_mine));
    if (cb_rc != 0 || !w->batch || !w->wake || !w->waker_list || !w->waker_mine)
        goto fail;
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->work_cv, NULL);
    pthread_cond_init(&w->space_cv, NULL);
    pthread_mutex_init(&w->waker_mu, NULL);
    pthread_cond_init(&w->waker_cv, NULL);
    if (pthread_create(&w->waker, NULL, waker_main, w) != 0)
        goto fail_sync;
    w->waker_started = true;
    if (pthread_create(&w->thread, NULL, writer_main, w) != 0)
        goto fail_sync;
    *out = w;
    return 0;
fail_sync:
    if (w->waker_started) {
        pthread_mutex_lock(&w->waker_mu);
        w->waker_stop = true;
        pthread_cond_signal(&w->waker_cv);
        pthread_mutex_unlock(&w->waker_mu);
        pthread_join(w->waker, NULL);
    }
    pthread_mutex_destroy(&w->mu);
    pthread_cond_destroy(&w->work_cv);
    pthread_cond_destroy(&w->space_cv);
    pthread_mutex_destroy(&w->waker_mu);
    pthread_cond_destroy(&w->waker_cv);
fail:
    stele__commit_free(&w->cb);
    stele__free(w->batch);
    stele__free(w->wake);
    stele__free(w->waker_list);
    stele__free(w->waker_mine);
    stele__free(w);
    return STELE_ENOMEM;
}

int stele__writer_stop(stele_writer_t *w) {
    if (!w)
        return 0;
    pthread_mutex_lock(&w->mu);
    w->stopping = true;
    pthread_cond_broadcast(&w->work_cv);
    pthread_cond_broadcast(&w->space_cv);
    pthread_mutex_unlock(&w->mu);
    pthread_join(w->thread, NULL);
    pthread_mutex_lock(&w->waker_mu);
    w->waker_stop = true;
    pthread_cond_signal(&w->waker_cv);
    pthread_mutex_unlock(&w->waker_mu);
    pthread_join(w->waker, NULL);
    int rc = atomic_load(&w->poison);
    pthread_mutex_destroy(&w->mu);
    pthread_cond_destroy(&w->work_cv);
    pthread_cond_destroy(&w->space_cv);
    pthread_mutex_destroy(&w->waker_mu);
    pthread_cond_destroy(&w->waker_cv);
    stele__commit_free(&w->cb);
    stele__free(w->batch);
    stele__free(w->wake);
    stele__free(w->waker_list);
    stele__free(w->waker_mine);
    stele__free(w);
    return rc;
}

int stele__writer_submit(stele_writer_t *w, stele_wreq_t *req) {
    int poison = atomic_load(&w->poison);
    if (poison)
        return stele__fail(STELE_EPOISONED,
                           "an earlier write or sync failed (%s): reopen the store",
                           stele_strerror(poison));
    req->next = NULL;
    req->status = 0;
    atomic_store_explicit(&req->done, 0, memory_order_relaxed);
    pthread_mutex_lock(&w->mu);
    while (w->queued >= w->capacity && !w->stopping)
        pthread_cond_wait(&w->space_cv, &w->mu);
    if (w->stopping) {
        pthread_mutex_unlock(&w->mu);
        return stele__fail(STELE_ECLOSED, "the store is closing");
    }
    if (w->tail)
        w->tail->next = req;
    else
        w->head = req;
    w->tail = req;
    w->queued++;
    STELE_ASSERT(w->queued <= w->capacity); /* the queue is bounded */
    bool alone = w->queued == 1; /* nobody else waits: spinning buys latency, costs no one */
    atomic_fetch_add_explicit(&w->submitted, 1, memory_order_release);
    pthread_cond_signal(&w->work_cv);
    pthread_mutex_unlock(&w->mu);

    if (atomic_fetch_add(&w->spinners, 1) == 0 && alone) {
        int64_t until = stele__clock_monotonic_ns() + CALLER_SPIN_NS;
        /* sched_yield: if the writer shares this core, it runs instead of waiting for us */
        while (!atomic_load_explicit(&req->done, memory_order_acquire) &&
               stele__clock_monotonic_ns() < until)
            sched_yield();
    }
    atomic_fetch_sub(&w->spinners, 1);
    uint32_t expect = 0;
    if (atomic_compare_exchange_strong(&req->done, &expect, 2)) {
        while (atomic_load_explicit(&req->done, memory_order_acquire) != 1)
            futex_wait(&req->done, 2);
    }
    return req->status;
}

int stele__writer_submit_async(stele_writer_t *w, stele_wreq_t *req) {
    int poison = atomic_load(&w->poison);
    if (poison)
        return stele__fail(STELE_EPOISONED,
                           "an earlier write or sync failed (%s): reopen the store",
                           stele_strerror(poison));
    req->next = NULL;
    req->status = 0;
    pthread_mutex_lock(&w->mu);
    int rc = 0;
    if (w->stopping)
        rc = stele__fail(STELE_ECLOSED, "the store is closing");
    else if (w->queued >= w->capacity)
        rc = stele__fail(STELE_EBUSY, "the append queue is full (%u waiting)", w->queued);
    if (rc == 0) {
        if (w->tail)
            w->tail->next = req;
        else
            w->head = req;
        w->tail = req;
        w->queued++;
        STELE_ASSERT(w->queued <= w->capacity);
        atomic_fetch_add_explicit(&w->submitted, 1, memory_order_release);
        pthread_cond_signal(&w->work_cv);
    }
    pthread_mutex_unlock(&w->mu);
    return rc;
}

int stele__writer_poison(stele_writer_t *w) { return atomic_load(&w->poison); }

void stele__writer_stats(stele_writer_t *w, stele_writer_stats_t *out) {
    out->commits = atomic_load(&w->commits);
    out->syncs = atomic_load(&w->syncs);
    out->requests = atomic_load(&w->requests);
    out->sync_ns = atomic_load(&w->sync_ns);
    for (size_t i = 0; i < STELE_SYNC_BUCKETS; i++) {
        out->sync_hist[i] = atomic_load(&w->sync_hist[i]);
    }
}
