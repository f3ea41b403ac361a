/*
 * wakeup.c -- how work finished on other threads gets back to the event loop.
 *
 * The store's writer thread completes asynchronous appends and runs the commit hook; worker
 * threads run the blocking store calls (metadata, delete, verify, reindex). None of them may touch
 * libevent's HTTP objects. They push a completion onto one mutex-protected list and activate one
 * event (libevent is set up for threads, so event_active() is safe from any thread); the loop then
 * takes the whole list and answers every completed request at once, so a batch of appends that
 * shared one fdatasync costs the loop one wake-up, not one per append.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server.h"

static void on_done(evutil_socket_t fd, short what, void *arg) {
    (void)fd;
    (void)what;
    srv_t *srv = arg;
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
    (void)fd;
    (void)what;
    srv_sse_pump_all(arg);
}

/* The store's commit hook, on the writer thread. */
static void commit_hook(void *arg, uint64_t head) {
    (void)head;
    srv_t *srv = arg;
    event_active(srv->commit_ev, EV_READ, 0);
}

void srv_complete(srv_t *srv, srv_completion_t *c) {
    pthread_mutex_lock(&srv->done_mu);
    bool was_empty = srv->done_head == NULL;
    c->next = srv->done_head;
    srv->done_head = c;
    pthread_mutex_unlock(&srv->done_mu);
    if (was_empty) {
        event_active(srv->done_ev, EV_READ, 0);
    }
}

int srv_wakeup_init(srv_t *srv) {
    if (pthread_mutex_init(&srv->done_mu, NULL) != 0) {
        return -1;
    }
    srv->done_ev = event_new(srv->base, -1, 0, on_done, srv);
    srv->commit_ev = event_new(srv->base, -1, 0, on_commit_event, srv);
    return srv->done_ev != NULL && srv->commit_ev != NULL ? 0 : -1;
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
    if (srv->base != NULL) {
        pthread_mutex_destroy(&srv->done_mu);
    }
}

/* ---- worker jobs ---------------------------------------------------------------------------- */

static void job_finish(srv_t *srv, srv_completion_t *c) {
    srv_job_t *job = (srv_job_t *)c;
    srv->in_flight--;
    srv->jobs_running--;
    struct evhttp_request *req = srv_pending_detach(&job->pending);
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

void srv_job_start(srv_t *srv, struct evhttp_request *req, srv_job_t *job) {
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
    srv_pending_attach(srv, &job->pending, req);
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
