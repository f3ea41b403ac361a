/*
 * wakeup.h -- work finished on other threads handed back to the loop (wakeup.c): completions,
 * requests waiting for them, the store's commit hook, and worker jobs for blocking store calls.
 */
#ifndef STELE_SERVER_WAKEUP_H
#define STELE_SERVER_WAKEUP_H

#include <stdint.h>

#include "srv.h"

/* A completion handed from another thread to the loop. */
struct srv_completion {
    struct srv_completion *next;
    void (*run)(srv_t *srv, struct srv_completion *c); /* on the loop thread */
};

/* A request waiting for another thread (an append, a worker job). The connection may close before
 * the answer: then req and conn are cleared (conn.c) and the answer is dropped. */
typedef struct srv_pending {
    void *req; /* the protocol's request */
    srv_conn_t *conn;
    uint64_t start_ns; /* monotonic, for the latency histogram */
} srv_pending_t;

/* Attach a pending operation for req (the protocol's request) to its connection conn (NULL: none)
 * (see srv_pending_t). */
void srv_pending_attach(srv_t *srv, srv_pending_t *p, srv_conn_t *conn, void *req);
/* Detach it when its answer is ready; returns the request to answer, or NULL if the client left. */
void *srv_pending_detach(srv_pending_t *p);

int srv_wakeup_init(srv_t *srv);
void srv_wakeup_free(srv_t *srv);
/* Install the store's commit hook (before any append). */
void srv_wakeup_hook(srv_t *srv);
/* From any thread: queue c and wake the loop. */
void srv_complete(srv_t *srv, srv_completion_t *c);

/* A blocking store call run on a worker thread; done() answers on the loop. */
typedef struct srv_job srv_job_t;
struct srv_job {
    srv_completion_t c;
    srv_pending_t pending;
    int (*work)(srv_t *srv, srv_job_t *job); /* worker thread; returns 0 or a stele code */
    void (*done)(srv_t *srv, srv_job_t *job, void *req); /* loop; req NULL: the client left */
    srv_t *srv;
    int status;
    char detail[256];
    void *arg; /* the route's state, freed by done() */
};
/* Start job (heap-allocated; freed after done()). Replies 429 itself when too many run. */
void srv_job_start(srv_t *srv, srv_conn_t *conn, void *req, srv_job_t *job);

#endif /* STELE_SERVER_WAKEUP_H */
