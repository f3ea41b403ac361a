/*
 * access.c -- the HTTP side of the access rule: the credentials of a request (its Authorization
 * header, or a subscription ticket in the query) handed to core/auth.c, and its refusals answered
 * as JSON errors (401 with WWW-Authenticate, 403, 400); POST /subscribe/ticket.
 */
#include <string.h>
#include <time.h>

#include "access.h"

static bool refuse(srv_t *srv, srv_req_t *req, const srv_access_t *d) {
    if (d->challenge != NULL) {
        srv_req_add_header(req, "WWW-Authenticate", d->challenge);
    }
    srv_reply_error(srv, req, d->code, NULL, "%s", d->message);
    return false;
}

static bool decide(srv_t *srv, srv_req_t *req, srv_role_t role, const stele_filter_t *names,
                   srv_access_t *d) {
    srv_credentials_t cred = {srv_req_header(req, "Authorization"), req->ticket};
    return srv_auth_decide(srv, &cred, role, names, d) || refuse(srv, req, d);
}

bool srv_access_check(srv_t *srv, srv_req_t *req, srv_role_t role, const stele_filter_t *names) {
    srv_access_t d;
    return decide(srv, req, role, names, &d);
}

bool srv_access_stream(srv_t *srv, srv_req_t *req, srv_role_t role, const char *stream) {
    stele_filter_t names;
    memset(&names, 0, sizeof(names));
    names.stream = stream;
    return srv_access_check(srv, req, role, &names);
}

void srv_route_ticket(srv_t *srv, srv_req_t *req, const srv_args_t *a) {
    (void)a;
    srv_access_t d;
    if (!decide(srv, req, SRV_ROLE_READ, NULL, &d)) {
        return;
    }
    srv_ticket_t t;
    if (!srv_ticket_issue(srv, d.who, &t, &d)) {
        refuse(srv, req, &d);
        return;
    }
    struct timespec wall;
    clock_gettime(CLOCK_REALTIME, &wall);
    char expires[36];
    stele_time_format(((int64_t)wall.tv_sec + SRV_TICKET_MS / 1000) * 1000000000 + wall.tv_nsec,
                      expires);
    srv_reply_json(srv, req, 201,
                   json_pack("{s:s, s:s, s:i}", "ticket", t.text, "expires", expires,
                             "expires_in_ms", (int)SRV_TICKET_MS));
}
