/*
 * wakeup.c -- how work finished on other threads gets back to the event loop.
 *
 * The store's writer thread completes asynchronous appends and runs the commit hook; worker
 * threads run the blocking store calls (metadata, delete, verify, reindex). None of them may touch
 * the loop's objects. They push a completion onto one mutex-protected list and, when the list was
 * empty, write to an eventfd the loop reads; the loop then takes the whole list and answers every
 * completed request at once, so a batch of appends that shared one fdatasync costs the loop one
 * wake-up, not one per append. The commit hook wakes the loop through a second eventfd. libevent
 * itself is never called from another thread, so it runs without its locks.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sys/eventfd.h>

#include "conn.h"
#include "metrics.h"
#include "wakeup.h"
#include "feed.h"

/* Reset an eventfd; what it counted does not matter. */
static void drain_eventfd(int fd) {
    uint64_t count;
    ssize_t n = read(fd, &count, sizeof(count));
    (void)n; /* EAGAIN: already reset */
}

static void signal_eventfd(int fd) {
    uint64_t one = 1;
    ssize_t n = write(fd, &one, sizeof(one));
    (void)n; /* EAGAIN only at a count of 2^64-2: the loop is awake anyway */
}

static void on_done(evutil_socket_t fd, short what, void *arg) {
    (void)what;
    srv_t *srv = arg;
    drain_eventfd(fd); /* before taking the list: a completion pushed after it wakes us again */
    pthread_mutex_lock(&srv->done_mu);
    srv_completion_t *list = srv->done_head;
    srv->done_head = NULL;
    pthread_mutex_unlock(&srv->done_mu);
    /* The list is newest first: reverse it to answer in completion order. */
    srv_completion_t *fifo = NULL;
    size_t count = 0;
    while (list != NULL) {
        srv_completion_t *next = list->next;
        list->next = fifo;
        fifo = list;
        list = next;
        count++;
    }
    if (count > 0) {
        srv_metrics_completion_batch(srv, count);
    }
    while (fifo != NULL) {
        srv_completion_t *next = fifo->next;
        fifo->run(srv, fifo);
        fifo = next;
    }
}

static void on_commit_event(evutil_socket_t fd, short what, void *arg) {
    (void)what;
    drain_eventfd(fd);
    srv_feed_wake_all(arg);
}

/* The store's commit hook, on the writer thread. */
static void commit_hook(void *arg, uint64_t head) {
    (void)head;
    srv_t *srv = arg;
    signal_eventfd(srv->commit_fd);
}

void srv_complete(srv_t *srv, srv_completion_t *c) {
    pthread_mutex_lock(&srv->done_mu);
    bool was_empty = srv->done_head == NULL;
    c->next = srv->done_head;
    srv->done_head = c;
    pthread_mutex_unlock(&srv->done_mu);
    if (was_empty) {
        signal_eventfd(srv->done_fd);
    }
}

int srv_wakeup_init(srv_t *srv) {
    srv->done_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    srv->commit_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (srv->done_fd < 0 || srv->commit_fd < 0 || pthread_mutex_init(&srv->done_mu, NULL) != 0) {
        return -1;
    }
    srv->done_ev = event_new(srv->base, srv->done_fd, EV_READ | EV_PERSIST, on_done, srv);
    srv->commit_ev =
        event_new(srv->base, srv->commit_fd, EV_READ | EV_PERSIST, on_commit_event, srv);
    if (srv->done_ev == NULL || srv->commit_ev == NULL || event_add(srv->done_ev, NULL) != 0 ||
        event_add(srv->commit_ev, NULL) != 0) {
        return -1;
    }
    return 0;
}

/* Called once the store is open (the hook is set before any append). */
void srv_wakeup_hook(srv_t *srv) { stele_store_on_commit(srv->store, commit_hook, srv); }

void srv_wakeup_free(srv_t *srv) {
    if (srv->done_ev != NULL) {
        event_free(srv->done_ev);
        srv->done_ev = NULL;
    }
    if (srv->commit_ev != NULL) {
        event_free(srv->commit_ev);
        srv->commit_ev = NULL;
    }
    if (srv->done_fd >= 0) {
        close(srv->done_fd);
        srv->done_fd = -1;
        pthread_mutex_destroy(&srv->done_mu);
    }
    if (srv->commit_fd >= 0) {
        close(srv->commit_fd);
        srv->commit_fd = -1;
    }
}

/* ---- requests waiting for another thread --------------------------------------------------- */

void srv_pending_attach(srv_t *srv, srv_pending_t *p, srv_conn_t *conn, void *req) {
    p->req = req;
    p->conn = conn;
    p->start_ns = srv_now_ns();
    if (p->conn != NULL) {
        p->conn->pending = p;
    }
    srv->in_flight++;
}

void *srv_pending_detach(srv_pending_t *p) {
    if (p->conn != NULL) {
        p->conn->pending = NULL;
        p->conn = NULL;
    }
    void *req = p->req;
    p->req = NULL;
    return req;
}

/* ---- worker jobs ---------------------------------------------------------------------------- */

static void job_finish(srv_t *srv, srv_completion_t *c) {
    srv_job_t *job = (srv_job_t *)c;
    srv->in_flight--;
    srv->jobs_running--;
    void *req = srv_pending_detach(&job->pending);
    job->done(srv, job, req);
    free(job);
}

static void *job_thread(void *arg) {
    srv_job_t *job = arg;
    job->status = job->work(job->srv, job);
    if (job->status != 0) {
        /* stele_errdetail() is per thread: take it here. */
        snprintf(job->detail, sizeof(job->detail), "%s", stele_errdetail());
    }
    job->c.run = job_finish;
    srv_complete(job->srv, &job->c);
    return NULL;
}

void srv_job_start(srv_t *srv, srv_conn_t *conn, void *req, srv_job_t *job) {
    job->srv = srv;
    if (srv->jobs_running >= srv->cfg->max_jobs) {
        job->status = STELE_EBUSY;
        snprintf(job->detail, sizeof(job->detail), "too many administrative calls at once");
        job->done(srv, job, req);
        free(job);
        return;
    }
    pthread_attr_t attr;
    pthread_t tid;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    srv_pending_attach(srv, &job->pending, conn, req);
    srv->jobs_running++;
    if (pthread_create(&tid, &attr, job_thread, job) != 0) {
        srv->jobs_running--;
        srv->in_flight--;
        srv_pending_detach(&job->pending);
        job->status = STELE_ENOMEM;
        snprintf(job->detail, sizeof(job->detail), "cannot start a worker thread");
        job->done(srv, job, req);
        free(job);
    }
    pthread_attr_destroy(&attr);
}
