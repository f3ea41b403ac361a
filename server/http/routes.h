/*
 * routes.h -- the handlers of the routing table (http.c) and what the read routes share
 * (routes_streams.c, routes_all.c).
 */
#ifndef STELE_SERVER_HTTP_ROUTES_H
#define STELE_SERVER_HTTP_ROUTES_H

#include "reply.h"

/* segs: the decoded path segments (segs[0] is "streams"). */
/* Shared by the read routes: direction=forward|backward; limit=1..10000 (default 1000); send
 * {"events":[...]} from reader (which is closed). Each returns 0 or -1 after replying. */
int srv_read_direction(srv_t *srv, srv_req_t *req, const srv_query_t *q, stele_direction_t *dir);
int srv_read_limit(srv_t *srv, srv_req_t *req, const srv_query_t *q, uint64_t *limit);
void srv_reply_events(srv_t *srv, srv_req_t *req, stele_reader_t *reader);
/* The $all filter from type, type_prefix, category, prefix, stream, since, until, system. The
 * strings point into q. Returns 0 or -1 after replying. */
int srv_filter_from_query(srv_t *srv, srv_req_t *req, const srv_query_t *q, stele_filter_t *f);

/* What the dispatcher (http.c) hands a route: the parsed query, holding only the parameters the
 * route declares in the routing table, each at most once (anything else was answered 400 before
 * the handler ran), and the decoded path segments. Borrowed until the handler returns. */
typedef struct srv_args {
    const srv_query_t *q;
    const char *stream; /* the {s} segment of /streams/{s}..., never empty; NULL elsewhere */
    const char *last;   /* the last path segment (admin: "verify" or "reindex") */
} srv_args_t;

/* The handlers of the routing table (http.c). GET handlers also answer HEAD. */
void srv_route_stream_list(srv_t *srv, srv_req_t *req, const srv_args_t *a);
void srv_route_stream_read(srv_t *srv, srv_req_t *req, const srv_args_t *a);
void srv_route_stream_append(srv_t *srv, srv_req_t *req, const srv_args_t *a);
void srv_route_stream_delete(srv_t *srv, srv_req_t *req, const srv_args_t *a);
void srv_route_stream_info(srv_t *srv, srv_req_t *req, const srv_args_t *a);
void srv_route_metadata_get(srv_t *srv, srv_req_t *req, const srv_args_t *a);
void srv_route_metadata_put(srv_t *srv, srv_req_t *req, const srv_args_t *a);
void srv_route_commits(srv_t *srv, srv_req_t *req, const srv_args_t *a);
void srv_route_all(srv_t *srv, srv_req_t *req, const srv_args_t *a);
/* GET /events/{id}: one event by its id (a->last). */
void srv_route_event(srv_t *srv, srv_req_t *req, const srv_args_t *a);
void srv_route_health(srv_t *srv, srv_req_t *req, const srv_args_t *a);
void srv_route_info(srv_t *srv, srv_req_t *req, const srv_args_t *a);
void srv_route_stats(srv_t *srv, srv_req_t *req, const srv_args_t *a);
void srv_route_admin(srv_t *srv, srv_req_t *req, const srv_args_t *a);

#endif /* STELE_SERVER_HTTP_ROUTES_H */
