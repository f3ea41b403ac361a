/*
 * append.h -- the append operation of steled (append.c): parts handed to the store's writer,
 * finished on the loop through the protocol's callback, for any protocol.
 */
#ifndef STELE_SERVER_APPEND_H
#define STELE_SERVER_APPEND_H

#include <stddef.h>
#include <stdint.h>

#include "conn.h"
#include "wakeup.h"

typedef struct srv_append srv_append_t;

/* On the loop, once the append completed: a->status (0 or a libstele error), a->failed_part,
 * a->detail and a->parts[i].result hold the outcome. req is what was given to submit, NULL when
 * the client has left. a belongs to the callback from here (it frees it). */
typedef void srv_append_done_fn(srv_t *srv, srv_append_t *a, void *req);

/* One append or atomic commit. The protocol fills parts (and the totals) and done, usually in a
 * struct of its own that starts with this one. */
struct srv_append {
    srv_completion_t c; /* first: the completion is the append */
    srv_pending_t pending;
    srv_t *srv;
    stele_append_part_t *parts; /* nparts, owned by the protocol */
    size_t nparts;
    size_t event_count; /* over all parts (the metrics) */
    uint64_t bytes;     /* data and metadata bytes over all parts (the metrics) */
    srv_append_done_fn *done;
    int status;
    size_t failed_part;
    char detail[512];
};

/* Hand a to the store's writer (stele_commit_async) for the request req on conn. Returns 0: done
 * runs later on the loop; or a libstele error with *failed_part (the part at fault, or nparts):
 * nothing was submitted, the failure is counted, the caller answers and frees a. */
int srv_append_submit(srv_t *srv, srv_append_t *a, srv_conn_t *conn, void *req,
                      size_t *failed_part);

#endif /* STELE_SERVER_APPEND_H */
