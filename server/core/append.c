/*
 * append.c -- the append operation, the same for every protocol: the parts a wing has parsed go
 * to stele_commit_async(); its completion, on the writer thread, only records the outcome and
 * hands the operation to the loop (wakeup.c); there the wait ends, the metrics count it, and the
 * wing's callback answers. A batch of appends that shared one fdatasync is answered in one
 * wake-up of the loop.
 */
#include <stdio.h>

#include "append.h"
#include "metrics.h"

/* On the loop: the append completed. */
static void finish(srv_t *srv, srv_completion_t *c) {
    srv_append_t *a = (srv_append_t *)c;
    srv->in_flight--;
    uint64_t latency = srv_now_ns() - a->pending.start_ns;
    void *req = srv_pending_detach(&a->pending);
    srv_metrics_append(srv, a->event_count, a->bytes, latency, a->status == 0);
    a->done(srv, a, req);
}

/* On the writer thread: record the outcome and wake the loop. Nothing else. */
static void on_done(void *arg, int status, const char *detail, stele_append_part_t *parts,
                    size_t count, size_t failed_part) {
    (void)parts;
    (void)count;
    srv_append_t *a = arg;
    a->status = status;
    a->failed_part = failed_part;
    snprintf(a->detail, sizeof(a->detail), "%s", detail != NULL ? detail : "");
    a->c.run = finish;
    srv_complete(a->srv, &a->c);
}

int srv_append_submit(srv_t *srv, srv_append_t *a, srv_conn_t *conn, void *req,
                      size_t *failed_part) {
    a->srv = srv;
    srv_pending_attach(srv, &a->pending, conn, req);
    *failed_part = a->nparts;
    int rc = stele_commit_async(srv->store, a->parts, a->nparts, on_done, a, failed_part);
    if (rc != 0) {
        srv->in_flight--;
        srv_pending_detach(&a->pending);
        srv_metrics_append(srv, a->event_count, 0, 0, false);
    }
    return rc;
}
