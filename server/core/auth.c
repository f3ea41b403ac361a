/*
 * auth.c -- API tokens (`Authorization: Bearer TOKEN`, each token with a role and the stream-name
 * prefixes it may touch) and the one access rule every route asks.
 *
 * The token file holds one token per line, `TOKEN ROLE PREFIX[,PREFIX...]`, role read, write or
 * admin (each includes the ones before it), prefix `*` meaning every stream; blank lines and lines
 * starting with '#' are ignored. Lines are read whole, at most MAX_LINE_BYTES each: a longer line
 * or one holding a NUL byte is refused with its number (reading in pieces once made the tail of a
 * long comment a working token). Tokens are compared in constant time.
 *
 * The access rule (srv_auth_decide) is decided from what the route will return or change, never
 * from how the request spelled it: the route hands over the same stream name, name prefix and
 * category it gives the library, and the rule asks whether every stream they can match starts
 * with one of the token's prefixes. An absent or empty condition (`prefix=`, `prefix=%00`) matches
 * every stream, so a prefix-limited token is refused (403) rather than served more than it may
 * read; it is never silently narrowed, so an answer is always what a `*` token would get.
 *
 * Subscription tickets (POST /subscribe/ticket) let a browser's EventSource, which cannot send
 * headers, open GET /subscribe?ticket=... without the long-lived token in a URL (URLs end up in
 * logs and histories). A ticket is 32 random bytes, good for one subscription within
 * SRV_TICKET_MS, and carries its token's identity: the access rule treats the request as if the
 * token had sent it. Tickets live in a bounded table; expired ones are dropped whenever it is
 * touched.
 *
 * Nothing here answers a request: the rule returns a decision (allowed, or the error code, message
 * and challenge to refuse with), which each protocol wing turns into its own answer
 * (http/access.c for HTTP).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "auth.h"
#include "log.h"

#define MAX_TOKENS 1024
#define MAX_PREFIXES 64
#define MAX_LINE_BYTES 65536u /* one line of the token file, without its newline */

struct srv_identity {
    char *token;
    size_t token_len;
    srv_role_t role;
    char *prefixes[MAX_PREFIXES];
    size_t prefix_count;
    bool all;
};
typedef struct srv_identity token_t;

struct srv_auth {
    token_t *tokens;
    size_t count;
};

void srv_auth_free(srv_auth_t *auth) {
    if (auth == NULL) {
        return;
    }
    for (size_t i = 0; i < auth->count; i++) {
        OPENSSL_cleanse(auth->tokens[i].token, auth->tokens[i].token_len);
        free(auth->tokens[i].token);
        for (size_t k = 0; k < auth->tokens[i].prefix_count; k++) {
            free(auth->tokens[i].prefixes[k]);
        }
    }
    free(auth->tokens);
    free(auth);
}

static srv_role_t role_of(const char *name) {
    if (strcmp(name, "read") == 0) {
        return SRV_ROLE_READ;
    }
    if (strcmp(name, "write") == 0) {
        return SRV_ROLE_WRITE;
    }
    if (strcmp(name, "admin") == 0) {
        return SRV_ROLE_ADMIN;
    }
    return SRV_ROLE_NONE;
}

static int bad_line(const char *path, unsigned line_no, const char *why) {
    srv_log(SRV_LOG_ERROR, "bad token file",
            json_pack("{s:s, s:i, s:s}", "file", path, "line", (int)line_no, "problem", why));
    return -1;
}

static int parse_line(srv_auth_t *auth, char *line, const char *path, unsigned line_no) {
    char *save = NULL;
    char *tok = strtok_r(line, " \t\r\n", &save);
    if (tok == NULL || tok[0] == '#') {
        return 0;
    }
    char *role = strtok_r(NULL, " \t\r\n", &save);
    char *prefixes = strtok_r(NULL, " \t\r\n", &save);
    if (role == NULL || prefixes == NULL || strtok_r(NULL, " \t\r\n", &save) != NULL) {
        return bad_line(path, line_no, "expected 'TOKEN ROLE PREFIX[,PREFIX...]'");
    }
    if (auth->count == MAX_TOKENS) {
        return bad_line(path, line_no, "too many tokens");
    }
    token_t *t = &auth->tokens[auth->count];
    memset(t, 0, sizeof(*t));
    t->role = role_of(role);
    if (t->role == SRV_ROLE_NONE) {
        return bad_line(path, line_no, "role must be read, write or admin");
    }
    t->token = strdup(tok);
    t->token_len = strlen(tok);
    if (t->token == NULL) {
        return bad_line(path, line_no, "out of memory");
    }
    auth->count++; /* owned from here: freed with auth */
    char *psave = NULL;
    for (char *p = strtok_r(prefixes, ",", &psave); p != NULL; p = strtok_r(NULL, ",", &psave)) {
        if (strcmp(p, "*") == 0) {
            t->all = true;
            continue;
        }
        if (t->prefix_count == MAX_PREFIXES) {
            return bad_line(path, line_no, "too many prefixes");
        }
        if ((t->prefixes[t->prefix_count++] = strdup(p)) == NULL) {
            return bad_line(path, line_no, "out of memory");
        }
    }
    return 0;
}

/* Read one line of f into buf (at most MAX_LINE_BYTES, NUL-terminated, without its '\n').
 * Returns 1 for a line, 0 at the end of the file, -1 after logging a line that is too long or
 * holds a NUL byte. */
static int read_line(FILE *f, char *buf, const char *path, unsigned line_no) {
    size_t n = 0;
    int ch;
    while ((ch = getc(f)) != EOF && ch != '\n') {
        if (ch == '\0') {
            return bad_line(path, line_no, "a NUL byte in the line");
        }
        if (n == MAX_LINE_BYTES) {
            char why[96];
            snprintf(why, sizeof(why), "the line is longer than %u bytes", MAX_LINE_BYTES);
            return bad_line(path, line_no, why);
        }
        buf[n++] = (char)ch;
    }
    buf[n] = '\0';
    if (ch == EOF && n == 0) {
        return ferror(f) ? bad_line(path, line_no, strerror(errno)) : 0;
    }
    return 1;
}

int srv_auth_load(const char *path, srv_auth_t **out) {
    *out = NULL;
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        srv_log(SRV_LOG_ERROR, "cannot read the token file",
                json_pack("{s:s, s:s}", "file", path, "error", strerror(errno)));
        return -1;
    }
    srv_auth_t *auth = calloc(1, sizeof(*auth));
    char *line = malloc(MAX_LINE_BYTES + 1);
    if (auth != NULL) {
        auth->tokens = calloc(MAX_TOKENS, sizeof(*auth->tokens));
    }
    int rc = auth != NULL && auth->tokens != NULL && line != NULL ? 0 : -1;
    if (rc != 0) {
        srv_log(SRV_LOG_ERROR, "out of memory reading the token file", NULL);
    }
    unsigned line_no = 0;
    while (rc == 0) {
        int got = read_line(f, line, path, ++line_no);
        if (got <= 0) {
            line_no -= got == 0 ? 1u : 0u; /* the end of the file is no line */
            rc = got;
            break;
        }
        rc = parse_line(auth, line, path, line_no);
    }
    fclose(f);
    if (line != NULL) {
        OPENSSL_cleanse(line, MAX_LINE_BYTES + 1);
        free(line);
    }
    if (rc == 0 && auth->count == 0) {
        rc = bad_line(path, line_no, "no tokens");
    }
    if (rc != 0) {
        srv_auth_free(auth);
        return -1;
    }
    *out = auth;
    return 0;
}

static const token_t *find_token(const srv_auth_t *auth, const char *given) {
    size_t len = strlen(given);
    const token_t *found = NULL;
    for (size_t i = 0; i < auth->count; i++) {
        const token_t *t = &auth->tokens[i];
        /* Compare every token in full (no early exit on a match) so timing reveals nothing. */
        if (t->token_len == len && CRYPTO_memcmp(t->token, given, len) == 0) {
            found = t;
        }
    }
    return found;
}

/* ---- the access rule ------------------------------------------------------------------------ */

static bool has_prefix(const char *s, const char *prefix) {
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* Does every stream that names can match start with one of t's prefixes? The streams are those
 * meeting all of names' conditions: exactly `stream`; starting with `stream_prefix`; of category
 * `category` (the name itself, or it followed by '-' and more). One condition confined to a token
 * prefix confines them all (the streams meet every condition): the token prefix must be a prefix
 * of the stream, of the name prefix or of the category. An absent or empty condition confines
 * nothing (an empty name prefix is every stream), so without any only `*` covers them. */
static bool covers(const token_t *t, const stele_filter_t *names) {
    if (t->all) {
        return true;
    }
    const char *conditions[3] = {names->stream, names->stream_prefix, names->category};
    for (size_t c = 0; c < 3; c++) {
        if (conditions[c] == NULL || conditions[c][0] == '\0') {
            continue;
        }
        for (size_t i = 0; i < t->prefix_count; i++) {
            if (has_prefix(conditions[c], t->prefixes[i])) {
                return true;
            }
        }
    }
    return false;
}

/* Refuse: the error code, the message and, for a 401, the challenge to send. Returns false. */
static bool deny(srv_access_t *out, const char *code, const char *challenge, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static bool deny(srv_access_t *out, const char *code, const char *challenge, const char *fmt, ...) {
    out->allowed = false;
    out->code = code;
    out->challenge = challenge;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(out->message, sizeof(out->message), fmt, ap);
    va_end(ap);
    return false;
}

/* The bearer token of the request (h: its Authorization header), or NULL after refusing with
 * 401. The scheme is case-insensitive and followed by one or more spaces (RFC 7235). */
static const token_t *request_token(srv_t *srv, const char *h, srv_access_t *out) {
    const char *given = NULL;
    if (h != NULL && strncasecmp(h, "Bearer", 6) == 0 && h[6] == ' ') {
        given = h + 7;
        while (*given == ' ') {
            given++;
        }
    }
    if (given == NULL || given[0] == '\0') {
        deny(out, "unauthorized", "Bearer realm=\"stele\"",
             "an Authorization: Bearer token is needed");
        return NULL;
    }
    const token_t *t = find_token(srv->auth, given);
    if (t == NULL) {
        deny(out, "unauthorized", "Bearer realm=\"stele\", error=\"invalid_token\"",
             "the token is not valid");
    }
    return t;
}

/* 403 naming the token's prefixes (its holder may know them) and what the request needs. */
static bool refuse_names(srv_access_t *out, const token_t *t, const stele_filter_t *names) {
    char list[512];
    size_t used = 0;
    list[0] = '\0';
    for (size_t i = 0; i < t->prefix_count && used < sizeof(list); i++) {
        int n =
            snprintf(list + used, sizeof(list) - used, "%s%s", i > 0 ? ", " : "", t->prefixes[i]);
        used += n > 0 ? (size_t)n : 0;
    }
    if (t->prefix_count == 0) {
        snprintf(list, sizeof(list), "(none)");
    }
    bool one_stream = names->stream != NULL && names->stream[0] != '\0' &&
                      names->stream_prefix == NULL && names->category == NULL;
    return deny(out, "forbidden", NULL,
                one_stream ? "the token does not cover this stream (its prefixes: %s)"
                           : "the token is limited to streams starting with %s, and this "
                             "request can reach other streams",
                list);
}

static bool ticket_redeem(srv_t *srv, const char *given, const token_t **t, srv_access_t *out);

bool srv_auth_decide(srv_t *srv, const srv_credentials_t *cred, srv_role_t role,
                     const stele_filter_t *names, srv_access_t *out) {
    const token_t *t = NULL;
    out->allowed = true;
    out->who = NULL;
    out->code = NULL;
    out->challenge = NULL;
    out->message[0] = '\0';
    if (cred->ticket != NULL) {
        if (cred->authorization != NULL) {
            return deny(out, "bad_request", NULL,
                        "give a ticket or an Authorization token, not both");
        }
        if (!ticket_redeem(srv, cred->ticket, &t, out)) {
            return false;
        }
    } else if (srv->auth != NULL && (t = request_token(srv, cred->authorization, out)) == NULL) {
        return false;
    }
    if (srv->auth == NULL) {
        return true;
    }
    out->who = t;
    if (t->role < role) {
        return deny(out, "forbidden", NULL, "the token's role does not allow this");
    }
    if (names != NULL && !covers(t, names)) {
        return refuse_names(out, t, names);
    }
    return true;
}

/* ---- subscription tickets ------------------------------------------------------------------- */

#define TICKET_BYTES 32

typedef struct ticket {
    char text[2 * TICKET_BYTES + 1]; /* hex */
    uint64_t expires_ns;             /* monotonic */
    const token_t *token;            /* its identity (NULL without a token file) */
} ticket_t;

struct srv_tickets {
    ticket_t items[SRV_MAX_TICKETS];
    size_t count;
};

void srv_tickets_free(srv_t *srv) {
    if (srv->tickets != NULL) {
        OPENSSL_cleanse(srv->tickets, sizeof(*srv->tickets));
        free(srv->tickets);
        srv->tickets = NULL;
    }
}

static void ticket_remove(struct srv_tickets *tk, size_t i) {
    tk->items[i] = tk->items[tk->count - 1];
    OPENSSL_cleanse(&tk->items[tk->count - 1], sizeof(ticket_t));
    tk->count--;
}

static void tickets_sweep(struct srv_tickets *tk, uint64_t now) {
    for (size_t i = 0; i < tk->count;) {
        if (tk->items[i].expires_ns <= now) {
            ticket_remove(tk, i);
        } else {
            i++;
        }
    }
}

/* Take the ticket given (single use): true with *t its token, or false after refusing with
 * 401. */
static bool ticket_redeem(srv_t *srv, const char *given, const token_t **t, srv_access_t *out) {
    struct srv_tickets *tk = srv->tickets;
    size_t len = strlen(given);
    size_t found = SIZE_MAX;
    if (tk != NULL) {
        tickets_sweep(tk, srv_now_ns());
        /* Compare with every ticket in full so timing reveals nothing. */
        for (size_t i = 0; i < tk->count; i++) {
            if (len == 2 * TICKET_BYTES &&
                CRYPTO_memcmp(tk->items[i].text, given, 2 * TICKET_BYTES) == 0) {
                found = i;
            }
        }
    }
    if (found == SIZE_MAX) {
        return deny(out, "unauthorized", "Bearer realm=\"stele\", error=\"invalid_token\"",
                    "the ticket is not valid: unknown, already used, or older than %u ms; "
                    "get a new one from POST /subscribe/ticket",
                    SRV_TICKET_MS);
    }
    *t = tk->items[found].token;
    ticket_remove(tk, found);
    return true;
}

bool srv_ticket_issue(srv_t *srv, const srv_identity_t *who, srv_ticket_t *ticket,
                      srv_access_t *out) {
    if (srv->tickets == NULL && (srv->tickets = calloc(1, sizeof(*srv->tickets))) == NULL) {
        return deny(out, "internal", NULL, "out of memory");
    }
    struct srv_tickets *tk = srv->tickets;
    uint64_t now = srv_now_ns();
    tickets_sweep(tk, now);
    size_t mine = 0;
    for (size_t i = 0; i < tk->count; i++) {
        mine += tk->items[i].token == who;
    }
    if (tk->count == SRV_MAX_TICKETS || mine == SRV_TICKETS_PER_TOKEN) {
        return deny(out, "too_many_requests", NULL,
                    "%u subscription tickets are outstanding%s (each expires %u ms after it "
                    "was made)",
                    mine == SRV_TICKETS_PER_TOKEN ? SRV_TICKETS_PER_TOKEN : SRV_MAX_TICKETS,
                    mine == SRV_TICKETS_PER_TOKEN ? " for this token" : "", SRV_TICKET_MS);
    }
    unsigned char raw[TICKET_BYTES];
    if (RAND_bytes(raw, sizeof(raw)) != 1) {
        return deny(out, "internal", NULL, "no random bytes for a ticket");
    }
    ticket_t *t = &tk->items[tk->count];
    for (size_t i = 0; i < TICKET_BYTES; i++) {
        snprintf(t->text + 2 * i, 3, "%02x", raw[i]);
    }
    OPENSSL_cleanse(raw, sizeof(raw));
    t->expires_ns = now + (uint64_t)SRV_TICKET_MS * 1000000u;
    t->token = who;
    tk->count++;
    memcpy(ticket->text, t->text, sizeof(ticket->text));
    return true;
}
