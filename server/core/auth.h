/*
 * auth.h -- bearer tokens with roles and stream-name prefixes, the access rule, subscription
 * tickets (auth.c).
 */
#ifndef STELE_SERVER_AUTH_H
#define STELE_SERVER_AUTH_H

#include <stdbool.h>

#include "srv.h"

typedef struct srv_req srv_req_t;
typedef struct srv_args srv_args_t;

typedef enum srv_role {
    SRV_ROLE_NONE = 0,
    SRV_ROLE_READ,
    SRV_ROLE_WRITE,
    SRV_ROLE_ADMIN
} srv_role_t;

/* Load the token file. Returns 0 or -1 after logging why. */
int srv_auth_load(const char *path, srv_auth_t **out);
void srv_auth_free(srv_auth_t *auth);
/* The access rule, asked by every route once it knows what it will return or change: does the
 * request's bearer token (scheme case-insensitive) have `role` on every stream whose events, name
 * or metadata that can be? names gives those streams by the name conditions the route passes to
 * the library (stream, stream_prefix, category of a stele_filter_t; the other fields are ignored;
 * NULL or "" is no condition): a filter without any means every stream, and needs a token with
 * prefix `*`. names NULL: the route returns no stream's events, names or metadata (/info,
 * /stats, /metrics), the role decides. Returns true, or false after replying 401 or 403. Without
 * a token file every request passes. */
bool srv_access_check(srv_t *srv, srv_req_t *req, srv_role_t role, const stele_filter_t *names);
/* srv_access_check() for exactly one stream. */
bool srv_access_stream(srv_t *srv, srv_req_t *req, srv_role_t role, const char *stream);
/* POST /subscribe/ticket: a single-use ticket, valid SRV_TICKET_MS, carrying the identity (role
 * and prefixes) of the request's token, that GET /subscribe takes as ?ticket= (req->ticket) in
 * place of a token: EventSource cannot send headers, and a long-lived token must never be put in
 * a URL. At most SRV_MAX_TICKETS are outstanding (SRV_TICKETS_PER_TOKEN per token). */
#define SRV_TICKET_MS 30000u
#define SRV_MAX_TICKETS 1024u
#define SRV_TICKETS_PER_TOKEN 64u
void srv_route_ticket(srv_t *srv, srv_req_t *req, const srv_args_t *a);
void srv_tickets_free(srv_t *srv);

#endif /* STELE_SERVER_AUTH_H */
