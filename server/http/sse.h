/*
 * sse.h -- GET /subscribe: Server-Sent Events fed by subscription cursors (sse.c).
 */
#ifndef STELE_SERVER_HTTP_SSE_H
#define STELE_SERVER_HTTP_SSE_H

#include "routes.h"

int srv_sse_init(srv_t *srv);
void srv_route_subscribe(srv_t *srv, srv_req_t *req, const srv_args_t *a);
/* The store's commit hook woke the loop: feed every subscriber. */
void srv_sse_pump_all(srv_t *srv);
/* The connection of sub closed. */
void srv_sse_conn_closed(srv_t *srv, srv_sub_t *sub);
/* The connection of sub wrote out all its output: pull more. */
void srv_sse_drained(srv_t *srv, srv_sub_t *sub);
/* End every stream (shutdown) and free the subscribers. */
void srv_sse_close_all(srv_t *srv);

#endif /* STELE_SERVER_HTTP_SSE_H */
