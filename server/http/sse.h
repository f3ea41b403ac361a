/*
 * sse.h -- GET /subscribe: Server-Sent Events, the HTTP framing of a subscription feed (sse.c).
 */
#ifndef STELE_SERVER_HTTP_SSE_H
#define STELE_SERVER_HTTP_SSE_H

#include "routes.h"

void srv_route_subscribe(srv_t *srv, srv_req_t *req, const srv_args_t *a);

#endif /* STELE_SERVER_HTTP_SSE_H */
