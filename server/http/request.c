/*
 * request.c -- reading one HTTP/1.1 request from a connection's input: the request line, the
 * headers and the body (Content-Length or chunked), within the configured limits.
 *
 * The parser is fed the connection's input buffer each time bytes arrive and takes from it only
 * what belongs to the request, so pipelined requests stay in the buffer for the next one. It is
 * strict where leniency has caused request smuggling elsewhere: one space between the parts of the
 * request line, no whitespace before a header's colon, no folded header lines, Content-Length as
 * plain digits (repeated only with the same value), never both Content-Length and
 * Transfer-Encoding, and no transfer coding but chunked. A line may end in CRLF or a bare LF.
 *
 * Every refusal names the problem and the status it deserves (srv_req_error_t), so the connection
 * can answer it as JSON before closing.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/buffer.h>

#include "request.h"

/* Header lines per request; more is answered 431. */
#define MAX_HEADERS 64

/* The bytes of a chunk-size line (hex digits, extensions) before it is called malformed. */
#define MAX_CHUNK_LINE 1024

enum body_state {
    BODY_NONE = 0, /* the head is not complete yet */
    BODY_LENGTH,   /* content_length - body_len bytes still to come */
    BODY_CHUNK_SIZE,
    BODY_CHUNK_DATA, /* chunk_left bytes of the current chunk to come */
    BODY_CHUNK_END,  /* the CRLF after a chunk's data */
    BODY_TRAILER,    /* trailer lines up to the empty line */
    BODY_DONE,
};

srv_req_t *srv_req_new(srv_conn_t *conn) {
    srv_req_t *req = calloc(1, sizeof(*req));
    if (req != NULL) {
        req->conn = conn;
        req->minor = 1; /* until the request line says otherwise */
    }
    return req;
}

void srv_req_free(srv_req_t *req) {
    if (req == NULL) {
        return;
    }
    free(req->head);
    free(req->headers);
    free(req->body);
    if (req->out_headers != NULL) {
        evbuffer_free(req->out_headers);
    }
    free(req);
}

srv_method_t srv_req_method(const srv_req_t *req) { return req->method; }

const char *srv_req_header(const srv_req_t *req, const char *name) {
    for (size_t i = 0; i < req->nheaders; i++) {
        if (strcasecmp(req->headers[i].name, name) == 0) {
            return req->headers[i].value;
        }
    }
    return NULL;
}

void srv_req_add_header(srv_req_t *req, const char *name, const char *value) {
    if (req == NULL) {
        return;
    }
    if (req->out_headers == NULL) {
        req->out_headers = evbuffer_new();
        if (req->out_headers == NULL) {
            return;
        }
    }
    evbuffer_add_printf(req->out_headers, "%s: %s\r\n", name, value);
}

static int fail(srv_req_error_t *e, int status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int fail(srv_req_error_t *e, int status, const char *code, const char *fmt, ...) {
    e->status = status;
    e->code = code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->message, sizeof(e->message), fmt, ap);
    va_end(ap);
    return SRV_REQ_ERROR;
}

/* RFC 9110 token characters (method and header names). */
static bool is_tchar(unsigned char c) {
    if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) {
        return true;
    }
    return c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

static srv_method_t method_of(const char *m) {
    static const struct {
        const char *name;
        srv_method_t method;
    } known[] = {{"GET", SRV_GET},     {"HEAD", SRV_HEAD},     {"POST", SRV_POST},
                 {"PUT", SRV_PUT},     {"DELETE", SRV_DELETE}, {"OPTIONS", SRV_OTHER},
                 {"PATCH", SRV_OTHER}, {"TRACE", SRV_OTHER},   {"CONNECT", SRV_OTHER}};
    for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++) {
        if (strcmp(m, known[i].name) == 0) {
            return known[i].method;
        }
    }
    return SRV_UNKNOWN;
}

/* Cut the line starting at *p (ending before `end`) at its LF (and CR before it); returns the
 * line, NUL-terminated in place, and moves *p past it. The head always ends in an empty line, so
 * every line has its LF. */
static char *next_line(char **p) {
    char *line = *p;
    char *lf = strchr(line, '\n');
    *lf = '\0';
    if (lf > line && lf[-1] == '\r') {
        lf[-1] = '\0';
    }
    *p = lf + 1;
    return line;
}

static bool has_ctl(const char *s) {
    for (; *s != '\0'; s++) {
        unsigned char c = (unsigned char)*s;
        if ((c < 0x20 && c != '\t') || c == 0x7f) {
            return true;
        }
    }
    return false;
}

/* Does the comma-separated list `value` hold `token` (case-insensitive)? */
static bool list_has(const char *value, const char *token) {
    size_t tlen = strlen(token);
    const char *p = value;
    while (*p != '\0') {
        while (*p == ' ' || *p == '\t' || *p == ',') {
            p++;
        }
        size_t n = strcspn(p, ", \t");
        if (n == tlen && strncasecmp(p, token, n) == 0) {
            return true;
        }
        p += n;
    }
    return false;
}

/* The request line and headers in req->head (NUL-terminated, ending in an empty line). */
static int parse_head(srv_req_t *req, const srv_config_t *lim, srv_req_error_t *e) {
    char *p = req->head;
    char *line = next_line(&p);
    /* Robustness (RFC 9112 2.2): empty lines before a request line are ignored by the caller. */
    char *sp1 = strchr(line, ' ');
    char *sp2 = sp1 != NULL ? strchr(sp1 + 1, ' ') : NULL;
    if (sp1 == NULL || sp2 == NULL || strchr(sp2 + 1, ' ') != NULL) {
        return fail(e, 400, "bad_request",
                    "the request line must be METHOD SP TARGET SP HTTP-VERSION");
    }
    *sp1 = '\0';
    *sp2 = '\0';
    const char *method = line, *target = sp1 + 1, *version = sp2 + 1;
    if (method[0] == '\0') {
        return fail(e, 400, "bad_request", "the request has no method");
    }
    for (const char *m = method; *m != '\0'; m++) {
        if (!is_tchar((unsigned char)*m)) {
            return fail(e, 400, "bad_request", "the method is not a token");
        }
    }
    if (strncmp(version, "HTTP/", 5) != 0 || version[5] < '0' || version[5] > '9' ||
        version[6] != '.' || version[7] < '0' || version[7] > '9' || version[8] != '\0') {
        return fail(e, 400, "bad_request", "the HTTP version is malformed");
    }
    if (version[5] != '1' || version[7] > '1') {
        return fail(e, 400, "bad_request", "only HTTP/1.0 and HTTP/1.1 are served");
    }
    req->minor = version[7] - '0';
    for (const unsigned char *t = (const unsigned char *)target; *t != '\0'; t++) {
        if (*t <= 0x20 || *t >= 0x7f || *t == '#') {
            return fail(e, 400, "bad_request",
                        "the request target holds a byte that must be percent-encoded");
        }
    }
    if (target[0] != '/') {
        return fail(e, 400, "bad_request", "the request target must be a path");
    }
    req->method = method_of(method);
    req->method_name = method;
    req->path = sp1 + 1;
    char *q = strchr(req->path, '?');
    if (q != NULL) {
        *q = '\0';
        req->query = q + 1;
    }

    size_t cap = 0;
    for (;;) {
        line = next_line(&p);
        if (line[0] == '\0') {
            break;
        }
        if (line[0] == ' ' || line[0] == '\t') {
            return fail(e, 400, "bad_request", "folded header lines are not accepted");
        }
        char *colon = strchr(line, ':');
        if (colon == NULL || colon == line) {
            return fail(e, 400, "bad_request", "a header line has no name and colon");
        }
        *colon = '\0';
        for (const char *c = line; *c != '\0'; c++) {
            if (!is_tchar((unsigned char)*c)) {
                return fail(e, 400, "bad_request", "a header name is not a token");
            }
        }
        char *value = colon + 1;
        while (*value == ' ' || *value == '\t') {
            value++;
        }
        char *vend = value + strlen(value);
        while (vend > value && (vend[-1] == ' ' || vend[-1] == '\t')) {
            *--vend = '\0';
        }
        if (has_ctl(value)) {
            return fail(e, 400, "bad_request", "the value of header %.64s holds a control byte",
                        line);
        }
        if (req->nheaders == MAX_HEADERS) {
            return fail(e, 431, "header_too_large", "more than %d header lines", MAX_HEADERS);
        }
        if (req->nheaders == cap) {
            cap = cap == 0 ? 16 : cap * 2;
            srv_header_t *h = realloc(req->headers, cap * sizeof(*h));
            if (h == NULL) {
                return fail(e, 500, "internal", "out of memory");
            }
            req->headers = h;
        }
        req->headers[req->nheaders].name = line;
        req->headers[req->nheaders].value = value;
        req->nheaders++;
    }

    /* Body framing. */
    const char *te = NULL, *cl = NULL;
    for (size_t i = 0; i < req->nheaders; i++) {
        const srv_header_t *h = &req->headers[i];
        if (strcasecmp(h->name, "Transfer-Encoding") == 0) {
            if (te != NULL) {
                return fail(e, 400, "bad_request", "only one Transfer-Encoding is served");
            }
            te = h->value;
        } else if (strcasecmp(h->name, "Content-Length") == 0) {
            if (cl != NULL && strcmp(cl, h->value) != 0) {
                return fail(e, 400, "bad_request", "Content-Length is given twice, differently");
            }
            cl = h->value;
        }
    }
    if (te != NULL && cl != NULL) {
        return fail(e, 400, "bad_request", "both Content-Length and Transfer-Encoding are given");
    }
    if (te != NULL) {
        if (strcasecmp(te, "chunked") != 0 || req->minor == 0) {
            return fail(e, 400, "bad_request", "the only transfer coding served is chunked");
        }
        req->chunked = true;
        req->body_state = BODY_CHUNK_SIZE;
    } else if (cl != NULL) {
        /* Any number of digits is a number: one too large for 64 bits is still a length over
         * the limit (413), not a malformed header (400). */
        uint64_t n = 0;
        size_t digits = 0;
        bool huge = false;
        for (const char *c = cl; *c != '\0'; c++, digits++) {
            if (*c < '0' || *c > '9') {
                return fail(e, 400, "bad_request", "Content-Length must be a decimal number");
            }
            uint64_t d = (uint64_t)(*c - '0');
            if (n > (UINT64_MAX - d) / 10) {
                huge = true;
            } else {
                n = n * 10 + d;
            }
        }
        if (digits == 0) {
            return fail(e, 400, "bad_request", "Content-Length must be a decimal number");
        }
        if (huge) {
            return fail(e, 413, "payload_too_large",
                        "the body of a %zu-digit Content-Length exceeds %llu bytes", digits,
                        (unsigned long long)lim->max_body_bytes);
        }
        if (n > lim->max_body_bytes) {
            return fail(e, 413, "payload_too_large", "the body of %llu bytes exceeds %llu bytes",
                        (unsigned long long)n, (unsigned long long)lim->max_body_bytes);
        }
        req->content_length = n;
        req->body_state = n > 0 ? BODY_LENGTH : BODY_DONE;
    } else {
        req->body_state = BODY_DONE;
    }

    const char *conn = srv_req_header(req, "Connection");
    if (req->minor == 0) {
        req->keep_alive = conn != NULL && list_has(conn, "keep-alive");
    } else {
        req->keep_alive = conn == NULL || !list_has(conn, "close");
    }
    const char *expect = srv_req_header(req, "Expect");
    if (expect != NULL) {
        if (strcasecmp(expect, "100-continue") != 0) {
            return fail(e, 417, "expectation_failed",
                        "the only expectation served is 100-continue");
        }
        req->want_continue = req->minor == 1 && req->body_state != BODY_DONE;
    }
    return SRV_REQ_OK;
}

static int body_reserve(srv_req_t *req, size_t more, const srv_config_t *lim, srv_req_error_t *e) {
    if (req->body_len + more > lim->max_body_bytes) {
        return fail(e, 413, "payload_too_large", "the body exceeds %llu bytes",
                    (unsigned long long)lim->max_body_bytes);
    }
    if (req->body_len + more + 1 > req->body_cap) {
        size_t cap = req->body_cap == 0 ? 1024 : req->body_cap;
        while (cap < req->body_len + more + 1) {
            cap *= 2;
        }
        /* Memory follows the bytes that arrived, never more than a declared length needs. */
        if (req->body_state == BODY_LENGTH && cap > req->content_length + 1) {
            cap = (size_t)req->content_length + 1;
        }
        char *b = realloc(req->body, cap);
        if (b == NULL) {
            return fail(e, 500, "internal", "out of memory");
        }
        req->body = b;
        req->body_cap = cap;
    }
    return SRV_REQ_OK;
}

/* Take up to `want` body bytes from in. */
static int take_body(srv_req_t *req, struct evbuffer *in, size_t want, const srv_config_t *lim,
                     srv_req_error_t *e) {
    size_t have = evbuffer_get_length(in);
    size_t n = have < want ? have : want;
    if (n == 0) {
        return SRV_REQ_OK;
    }
    if (body_reserve(req, n, lim, e) != SRV_REQ_OK) {
        return SRV_REQ_ERROR;
    }
    evbuffer_remove(in, req->body + req->body_len, n);
    req->body_len += n;
    return SRV_REQ_OK;
}

/* One line (without its LF/CRLF) from in, NUL-terminated into line; 1 when taken, 0 when the line
 * is not complete, -1 when it is longer than cap or holds a NUL byte. */
static int take_line(struct evbuffer *in, char *line, size_t cap) {
    struct evbuffer_ptr lf = evbuffer_search(in, "\n", 1, NULL);
    if (lf.pos < 0) {
        return evbuffer_get_length(in) >= cap ? -1 : 0;
    }
    size_t len = (size_t)lf.pos;
    if (len >= cap) {
        return -1;
    }
    evbuffer_remove(in, line, len);
    evbuffer_drain(in, 1);
    if (len > 0 && line[len - 1] == '\r') {
        len--;
    }
    line[len] = '\0';
    return memchr(line, '\0', len) != NULL ? -1 : 1;
}

static int feed_chunked(srv_req_t *req, struct evbuffer *in, const srv_config_t *lim,
                        srv_req_error_t *e) {
    char line[MAX_CHUNK_LINE];
    for (;;) {
        switch (req->body_state) {
        case BODY_CHUNK_SIZE: {
            int got = take_line(in, line, sizeof(line));
            if (got < 0) {
                return fail(e, 400, "bad_request", "a chunk-size line is too long or holds a NUL");
            }
            if (got == 0) {
                return SRV_REQ_INCOMPLETE;
            }
            uint64_t size = 0;
            size_t digits = 0;
            const char *c = line;
            for (; *c != '\0' && *c != ';' && *c != ' ' && *c != '\t'; c++, digits++) {
                int v = (*c >= '0' && *c <= '9')   ? *c - '0'
                        : (*c >= 'a' && *c <= 'f') ? *c - 'a' + 10
                        : (*c >= 'A' && *c <= 'F') ? *c - 'A' + 10
                                                   : -1;
                if (v < 0) {
                    return fail(e, 400, "bad_request", "a chunk size is not a hex number");
                }
                /* Saturate: a size too large for 64 bits is over the limit (413 below). */
                size =
                    size > (UINT64_MAX - (uint64_t)v) / 16 ? UINT64_MAX : size * 16 + (uint64_t)v;
            }
            while (*c == ' ' || *c == '\t') {
                c++;
            }
            if (digits == 0 || (*c != '\0' && *c != ';')) {
                return fail(e, 400, "bad_request", "a chunk size is not a hex number");
            }
            if (size == 0) {
                req->body_state = BODY_TRAILER;
            } else {
                if (size > lim->max_body_bytes || req->body_len + size > lim->max_body_bytes) {
                    return fail(e, 413, "payload_too_large", "the body exceeds %llu bytes",
                                (unsigned long long)lim->max_body_bytes);
                }
                req->chunk_left = size;
                req->body_state = BODY_CHUNK_DATA;
            }
            break;
        }
        case BODY_CHUNK_DATA: {
            size_t before = req->body_len;
            if (take_body(req, in, (size_t)req->chunk_left, lim, e) != SRV_REQ_OK) {
                return SRV_REQ_ERROR;
            }
            req->chunk_left -= req->body_len - before;
            if (req->chunk_left > 0) {
                return SRV_REQ_INCOMPLETE;
            }
            req->body_state = BODY_CHUNK_END;
            break;
        }
        case BODY_CHUNK_END: {
            int got = take_line(in, line, sizeof(line));
            if (got == 0) {
                return SRV_REQ_INCOMPLETE;
            }
            if (got < 0 || line[0] != '\0') {
                return fail(e, 400, "bad_request", "a chunk's data is not followed by CRLF");
            }
            req->body_state = BODY_CHUNK_SIZE;
            break;
        }
        case BODY_TRAILER: {
            int got = take_line(in, line, sizeof(line));
            if (got < 0) {
                return fail(e, 431, "header_too_large", "a trailer line is too long");
            }
            if (got == 0) {
                return SRV_REQ_INCOMPLETE;
            }
            if (line[0] == '\0') {
                req->body_state = BODY_DONE;
                return SRV_REQ_OK;
            }
            /* Trailers are dropped, but held to the header rules. */
            char *colon = strchr(line, ':');
            if (colon == NULL || colon == line || has_ctl(colon + 1)) {
                return fail(e, 400, "bad_request", "a trailer line is not a header field");
            }
            for (const char *c = line; c < colon; c++) {
                if (!is_tchar((unsigned char)*c)) {
                    return fail(e, 400, "bad_request", "a trailer name is not a token");
                }
            }
            req->trailer_bytes += strlen(line);
            if (req->trailer_bytes > lim->max_header_bytes) {
                return fail(e, 431, "header_too_large", "the trailers exceed %llu bytes",
                            (unsigned long long)lim->max_header_bytes);
            }
            break;
        }
        default: return SRV_REQ_OK;
        }
    }
}

int srv_req_feed(srv_req_t *req, struct evbuffer *in, const srv_config_t *lim, srv_req_error_t *e) {
    if (req->body_state == BODY_NONE) {
        /* Empty lines before the request line are skipped (RFC 9112 2.2). */
        for (;;) {
            unsigned char c[2];
            ev_ssize_t have = evbuffer_copyout(in, c, 2);
            if (have >= 1 && c[0] == '\n') {
                evbuffer_drain(in, 1);
            } else if (have == 2 && c[0] == '\r' && c[1] == '\n') {
                evbuffer_drain(in, 2);
            } else {
                break;
            }
        }
        size_t len = evbuffer_get_length(in);
        if (len == 0) {
            return SRV_REQ_INCOMPLETE;
        }
        size_t scan = len < lim->max_header_bytes + 4 ? len : lim->max_header_bytes + 4;
        const char *buf = (const char *)evbuffer_pullup(in, (ev_ssize_t)scan);
        if (buf == NULL) {
            return fail(e, 500, "internal", "out of memory");
        }
        /* The head ends at the first empty line: LF LF or LF CR LF. The search resumes where the
         * last one stopped (less the 2 bytes an end could straddle), so a head sent a byte at a
         * time costs a linear scan, not a quadratic one. */
        size_t end = 0;
        size_t from = req->head_scanned > 2 ? req->head_scanned - 2 : 0;
        for (const char *lf = memchr(buf + from, '\n', scan - from); lf != NULL;
             lf = memchr(lf + 1, '\n', scan - (size_t)(lf + 1 - buf))) {
            size_t at = (size_t)(lf - buf) + 1;
            if (at < scan && buf[at] == '\n') {
                end = at + 1;
                break;
            }
            if (at + 1 < scan && buf[at] == '\r' && buf[at + 1] == '\n') {
                end = at + 2;
                break;
            }
        }
        if (end == 0) {
            /* Heads of up to max_header_bytes + 4 (the empty line's CRLF CRLF) are accepted
             * however their bytes arrive. */
            if (scan >= lim->max_header_bytes + 4) {
                return fail(e, 431, "header_too_large",
                            "the request line and headers exceed %llu bytes",
                            (unsigned long long)lim->max_header_bytes);
            }
            req->head_scanned = scan;
            return SRV_REQ_INCOMPLETE;
        }
        if (end > lim->max_header_bytes + 4) {
            return fail(e, 431, "header_too_large",
                        "the request line and headers exceed %llu bytes",
                        (unsigned long long)lim->max_header_bytes);
        }
        if (memchr(buf, '\0', end) != NULL) {
            return fail(e, 400, "bad_request", "the request head holds a NUL byte");
        }
        req->head = malloc(end + 1);
        if (req->head == NULL) {
            return fail(e, 500, "internal", "out of memory");
        }
        memcpy(req->head, buf, end);
        req->head[end] = '\0';
        evbuffer_drain(in, end);
        if (parse_head(req, lim, e) != SRV_REQ_OK) {
            req->body_state = BODY_DONE;
            return SRV_REQ_ERROR;
        }
        req->head_done = true;
    }
    if (req->body_state == BODY_LENGTH) {
        if (take_body(req, in, (size_t)(req->content_length - req->body_len), lim, e) !=
            SRV_REQ_OK) {
            return SRV_REQ_ERROR;
        }
        if (req->body_len < req->content_length) {
            return SRV_REQ_INCOMPLETE;
        }
        req->body_state = BODY_DONE;
    } else if (req->body_state != BODY_DONE) {
        int rc = feed_chunked(req, in, lim, e);
        if (rc != SRV_REQ_OK) {
            return rc;
        }
    }
    if (req->body != NULL) {
        req->body[req->body_len] = '\0';
    }
    return SRV_REQ_OK;
}
