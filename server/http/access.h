/*
 * access.h -- the access rule (core/auth.c) asked for an HTTP request, and its refusals answered
 * as HTTP (access.c); POST /subscribe/ticket.
 */
#ifndef STELE_SERVER_HTTP_ACCESS_H
#define STELE_SERVER_HTTP_ACCESS_H

#include <stdbool.h>

#include "../core/auth.h"
#include "routes.h"

/* The access rule of core/auth.h for req (its Authorization header, or req->ticket): true, or
 * false after replying 401 (with WWW-Authenticate), 403 or 400. */
bool srv_access_check(srv_t *srv, srv_req_t *req, srv_role_t role, const stele_filter_t *names);
/* srv_access_check() for exactly one stream. */
bool srv_access_stream(srv_t *srv, srv_req_t *req, srv_role_t role, const char *stream);
/* POST /subscribe/ticket: {"ticket", "expires", "expires_in_ms"} (201). */
void srv_route_ticket(srv_t *srv, srv_req_t *req, const srv_args_t *a);

#endif /* STELE_SERVER_HTTP_ACCESS_H */
