/*
 * auth.c -- API tokens: `Authorization: Bearer TOKEN`, each token with a role and the stream-name
 * prefixes it may touch.
 *
 * The token file holds one token per line, `TOKEN ROLE PREFIX[,PREFIX...]`, role read, write or
 * admin (each includes the ones before it), prefix `*` meaning every stream; blank lines and lines
 * starting with '#' are ignored. A request on one stream needs a prefix of its name; a request on
 * a set of streams named by a prefix (stream lists, filtered $all reads) needs a token prefix that
 * is a prefix of it; a request on every stream ($all, subscriptions without a stream, admin calls)
 * needs `*`. Tokens are compared in constant time.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "server.h"

#define MAX_TOKENS 1024
#define MAX_PREFIXES 64

typedef struct token {
    char *token;
    size_t token_len;
    srv_role_t role;
    char *prefixes[MAX_PREFIXES];
    size_t prefix_count;
    bool all;
} token_t;

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

int srv_auth_load(const char *path, srv_auth_t **out) {
    *out = NULL;
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        srv_log(SRV_LOG_ERROR, "cannot read the token file",
                json_pack("{s:s, s:s}", "file", path, "error", strerror(errno)));
        return -1;
    }
    srv_auth_t *auth = calloc(1, sizeof(*auth));
    if (auth != NULL) {
        auth->tokens = calloc(MAX_TOKENS, sizeof(*auth->tokens));
    }
    int rc = auth != NULL && auth->tokens != NULL ? 0 : -1;
    char line[8192];
    unsigned line_no = 0;
    while (rc == 0 && fgets(line, sizeof(line), f) != NULL) {
        rc = parse_line(auth, line, path, ++line_no);
    }
    fclose(f);
    OPENSSL_cleanse(line, sizeof(line));
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

/* May t touch stream (NULL: every stream; "": none in particular)? A prefix request (stream
 * lists) is treated like a name: some token prefix must be a prefix of it. */
static bool covers(const token_t *t, const char *stream) {
    if (t->all || (stream != NULL && stream[0] == '\0')) {
        return true;
    }
    if (stream == NULL) {
        return false;
    }
    for (size_t i = 0; i < t->prefix_count; i++) {
        if (strncmp(stream, t->prefixes[i], strlen(t->prefixes[i])) == 0) {
            return true;
        }
    }
    return false;
}

bool srv_auth_check(srv_t *srv, srv_req_t *req, srv_role_t role, const char *stream) {
    if (srv->auth == NULL) {
        return true;
    }
    const char *h = srv_req_header(req, "Authorization");
    if (h == NULL || strncmp(h, "Bearer ", 7) != 0 || h[7] == '\0') {
        srv_req_add_header(req, "WWW-Authenticate", "Bearer realm=\"stele\"");
        srv_reply_error(srv, req, "unauthorized", NULL, "an Authorization: Bearer token is needed");
        return false;
    }
    const token_t *t = find_token(srv->auth, h + 7);
    if (t == NULL) {
        srv_req_add_header(req, "WWW-Authenticate",
                           "Bearer realm=\"stele\", error=\"invalid_token\"");
        srv_reply_error(srv, req, "unauthorized", NULL, "the token is not valid");
        return false;
    }
    if (t->role < role) {
        srv_reply_error(srv, req, "forbidden", NULL, "the token's role does not allow this");
        return false;
    }
    if (!covers(t, stream)) {
        srv_reply_error(srv, req, "forbidden", NULL,
                        stream == NULL ? "this needs a token for every stream (prefix *)"
                                       : "the token does not cover this stream");
        return false;
    }
    return true;
}
