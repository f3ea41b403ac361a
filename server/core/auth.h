/*
 * auth.h -- bearer tokens with roles and stream-name prefixes, the access rule and subscription
 * tickets (auth.c). The rule returns a decision; the protocol wing answers a refusal its own way
 * (http/access.c).
 */
#ifndef STELE_SERVER_AUTH_H
#define STELE_SERVER_AUTH_H

#include <stdbool.h>

#include "srv.h"

typedef enum srv_role {
    SRV_ROLE_NONE = 0,
    SRV_ROLE_READ,
    SRV_ROLE_WRITE,
    SRV_ROLE_ADMIN
} srv_role_t;

/* The token a request acts for (its role and prefixes); opaque. */
typedef struct srv_identity srv_identity_t;

/* What a request presents: the Authorization value (e.g. "Bearer TOKEN"), a subscription ticket,
 * either NULL when absent. */
typedef struct srv_credentials {
    const char *authorization;
    const char *ticket;
} srv_credentials_t;

/* The decision of the access rule. When refused: the stable error code ("unauthorized",
 * "forbidden", "bad_request", or for tickets "too_many_requests", "internal"), the message
 * naming why, and for "unauthorized" the challenge (an HTTP WWW-Authenticate value). */
typedef struct srv_access {
    bool allowed;
    const srv_identity_t *who; /* the token acted for (NULL without a token file) */
    const char *code;
    const char *challenge;
    char message[1024];
} srv_access_t;

/* Load the token file. Returns 0 or -1 after logging why. */
int srv_auth_load(const char *path, srv_auth_t **out);
void srv_auth_free(srv_auth_t *auth);
/* The access rule, asked by every route once it knows what it will return or change: do the
 * request's credentials (a bearer token, scheme case-insensitive, or a ticket, which is used up)
 * have `role` on every stream whose events, name or metadata that can be? names gives those
 * streams by the name conditions the route passes to the library (stream, stream_prefix,
 * category of a stele_filter_t; the other fields are ignored; NULL or "" is no condition): a
 * filter without any means every stream, and needs a token with prefix `*`. names NULL: the
 * route returns no stream's events, names or metadata (/info, /stats, /metrics), the role
 * decides. Returns out->allowed. Without a token file every request passes. */
bool srv_auth_decide(srv_t *srv, const srv_credentials_t *cred, srv_role_t role,
                     const stele_filter_t *names, srv_access_t *out);

/* A single-use subscription ticket, valid SRV_TICKET_MS, carrying the identity (role and
 * prefixes) of the token that asked for it, that a subscription takes in place of a token
 * (HTTP: GET /subscribe?ticket=): EventSource cannot send headers, and a long-lived token must
 * never be put in a URL. At most SRV_MAX_TICKETS are outstanding (SRV_TICKETS_PER_TOKEN per
 * token). */
#define SRV_TICKET_MS 30000u
#define SRV_MAX_TICKETS 1024u
#define SRV_TICKETS_PER_TOKEN 64u
typedef struct srv_ticket {
    char text[65]; /* 32 random bytes in hex */
} srv_ticket_t;
/* Make a ticket for who (out->who of an allowed decision). Returns true, or false with the
 * refusal in out. */
bool srv_ticket_issue(srv_t *srv, const srv_identity_t *who, srv_ticket_t *ticket,
                      srv_access_t *out);
void srv_tickets_free(srv_t *srv);

#endif /* STELE_SERVER_AUTH_H */
