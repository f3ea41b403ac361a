/*
 * http_conn.c -- a small blocking HTTP/1.1 client for the benchmarks (see http_conn.h).
 *
 * A request is written with one sendmsg (head and body as two pieces, so a large body is not
 * copied), then the response is read into `in` until it is complete. A Content-Length body is left
 * where it arrived and handed out in place; a chunked body is decoded into `decoded`. What belongs
 * to a response is consumed at the start of the next call, so the body stays valid until then.
 */

#include "http_conn.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#define READ_CHUNK_BYTES 65536u
#define MAX_CHUNK_LINE_BYTES 1024u

static void set_err(char *err, size_t cap, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void set_err(char *err, size_t cap, const char *fmt, ...) {
    if (err == NULL || cap == 0) {
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, cap, fmt, ap);
    va_end(ap);
}

/* --- growable buffers ------------------------------------------------------------------------ */

int http_buf_reserve(http_buf_t *b, size_t extra) {
    if (extra > SIZE_MAX / 4 - b->len) {
        return -1;
    }
    if (b->len + extra + 1 <= b->cap) {
        return 0;
    }
    size_t cap = b->cap ? b->cap : 1024;
    while (cap < b->len + extra + 1) {
        cap *= 2;
    }
    char *p = realloc(b->p, cap);
    if (p == NULL) {
        return -1;
    }
    p[b->len] = '\0'; /* a new buffer is an empty string at once */
    b->p = p;
    b->cap = cap;
    return 0;
}

int http_buf_add(http_buf_t *b, const void *data, size_t n) {
    if (http_buf_reserve(b, n) != 0) {
        return -1;
    }
    if (n > 0) {
        memcpy(b->p + b->len, data, n);
    }
    b->len += n;
    b->p[b->len] = '\0';
    return 0;
}

int http_buf_adds(http_buf_t *b, const char *s) { return http_buf_add(b, s, strlen(s)); }

int http_buf_addf(http_buf_t *b, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || http_buf_reserve(b, (size_t)n) != 0) {
        return -1;
    }
    va_start(ap, fmt);
    vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return 0;
}

void http_buf_consume(http_buf_t *b, size_t n) {
    if (n >= b->len) {
        b->len = 0;
    } else if (n > 0) {
        memmove(b->p, b->p + n, b->len - n);
        b->len -= n;
    }
    if (b->p != NULL) {
        b->p[b->len] = '\0';
    }
}

void http_buf_clear(http_buf_t *b) { http_buf_consume(b, b->len); }

void http_buf_free(http_buf_t *b) {
    free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
}

/* --- response heads -------------------------------------------------------------------------- */

/* Does the comma-separated header value v[0..n) hold `token` (case-insensitive)? */
static bool value_has_token(const char *v, size_t n, const char *token) {
    size_t tlen = strlen(token);
    size_t i = 0;
    while (i < n) {
        while (i < n && (v[i] == ' ' || v[i] == '\t' || v[i] == ',')) {
            i++;
        }
        size_t start = i;
        while (i < n && v[i] != ',') {
            i++;
        }
        size_t end = i;
        while (end > start && (v[end - 1] == ' ' || v[end - 1] == '\t')) {
            end--;
        }
        if (end - start == tlen && strncasecmp(v + start, token, tlen) == 0) {
            return true;
        }
    }
    return false;
}

const char *http_head_find(const char *p, size_t head_bytes, const char *name, size_t *len) {
    size_t nlen = strlen(name);
    const char *end = p + head_bytes;
    const char *line = memchr(p, '\n', head_bytes); /* skip the status line */
    while (line != NULL && line + 1 < end) {
        line++;
        const char *eol = memchr(line, '\n', (size_t)(end - line));
        if (eol == NULL) {
            break;
        }
        if ((size_t)(eol - line) > nlen && line[nlen] == ':' &&
            strncasecmp(line, name, nlen) == 0) {
            const char *v = line + nlen + 1, *ve = eol;
            while (v < ve && (*v == ' ' || *v == '\t')) {
                v++;
            }
            while (ve > v && (ve[-1] == '\r' || ve[-1] == ' ' || ve[-1] == '\t')) {
                ve--;
            }
            *len = (size_t)(ve - v);
            return v;
        }
        line = eol;
    }
    return NULL;
}

int http_head_parse(const char *p, size_t len, http_head_t *head) {
    size_t scan = len < HTTP_MAX_HEAD_BYTES ? len : HTTP_MAX_HEAD_BYTES;
    if (strncmp(p, "HTTP/", len < 5 ? len : 5) != 0) {
        return -1;
    }
    const char *blank = memmem(p, scan, "\r\n\r\n", 4);
    size_t blank_len = 4;
    const char *lf = memmem(p, scan, "\n\n", 2); /* tolerate bare LF line ends */
    if (lf != NULL && (blank == NULL || lf < blank)) {
        blank = lf;
        blank_len = 2;
    }
    if (blank == NULL) {
        return len >= HTTP_MAX_HEAD_BYTES ? -1 : 0;
    }
    size_t hb = (size_t)(blank - p) + blank_len;
    /* "HTTP/1.x SSS reason" */
    if (hb < 13 || strncmp(p, "HTTP/1.", 7) != 0 || p[8] != ' ' || p[9] < '1' || p[9] > '9' ||
        p[10] < '0' || p[10] > '9' || p[11] < '0' || p[11] > '9') {
        return -1;
    }
    memset(head, 0, sizeof *head);
    head->status = (p[9] - '0') * 100 + (p[10] - '0') * 10 + (p[11] - '0');
    head->head_bytes = hb;
    head->content_length = -1;
    size_t vlen = 0;
    const char *v = http_head_find(p, hb, "Content-Length", &vlen);
    if (v != NULL) {
        int64_t n = 0;
        if (vlen == 0 || vlen > 18) {
            return -1;
        }
        for (size_t i = 0; i < vlen; i++) {
            if (v[i] < '0' || v[i] > '9') {
                return -1;
            }
            n = n * 10 + (v[i] - '0');
        }
        head->content_length = n;
    }
    v = http_head_find(p, hb, "Transfer-Encoding", &vlen);
    head->chunked = v != NULL && value_has_token(v, vlen, "chunked");
    v = http_head_find(p, hb, "Connection", &vlen);
    if (p[7] == '0') { /* HTTP/1.0 keeps the connection only when asked to */
        head->close = v == NULL || !value_has_token(v, vlen, "keep-alive");
    } else {
        head->close = v != NULL && value_has_token(v, vlen, "close");
    }
    return 1;
}

/* --- chunked transfer coding ----------------------------------------------------------------- */

enum { CH_SIZE = 0, CH_DATA, CH_DATA_END, CH_TRAILER, CH_DONE };

int http_chunked_decode(http_chunked_t *d, const char *in, size_t len, size_t *used,
                        http_buf_t *out) {
    size_t pos = 0;
    int rc = 0;
    while (pos < len && d->state != CH_DONE) {
        if (d->state == CH_DATA) {
            size_t take = len - pos;
            if (take > d->left) {
                take = (size_t)d->left;
            }
            if (http_buf_add(out, in + pos, take) != 0) {
                rc = -1;
                break;
            }
            pos += take;
            d->left -= take;
            if (d->left == 0) {
                d->state = CH_DATA_END;
            }
            continue;
        }
        const char *nl = memchr(in + pos, '\n', len - pos);
        if (nl == NULL) {
            if (len - pos > MAX_CHUNK_LINE_BYTES) {
                rc = -1;
            }
            break;
        }
        const char *line = in + pos;
        size_t line_len = (size_t)(nl - line);
        if (line_len > 0 && line[line_len - 1] == '\r') {
            line_len--;
        }
        pos = (size_t)(nl - in) + 1;
        if (d->state == CH_DATA_END) {
            if (line_len != 0) { /* only the CRLF may follow a chunk's data */
                rc = -1;
                break;
            }
            d->state = CH_SIZE;
        } else if (d->state == CH_SIZE) {
            uint64_t size = 0;
            size_t i = 0;
            for (; i < line_len && i < 16; i++) {
                char ch = line[i];
                int digit = ch >= '0' && ch <= '9'   ? ch - '0'
                            : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10
                            : ch >= 'A' && ch <= 'F' ? ch - 'A' + 10
                                                     : -1;
                if (digit < 0) {
                    break;
                }
                size = size * 16 + (uint64_t)digit;
            }
            /* after the digits only blanks or a ";extension" may follow */
            if (i == 0 || (i < line_len && line[i] != ';' && line[i] != ' ' && line[i] != '\t')) {
                rc = -1;
                break;
            }
            d->left = size;
            d->state = size == 0 ? CH_TRAILER : CH_DATA;
        } else if (line_len == 0) { /* CH_TRAILER: fields before the blank line are ignored */
            d->state = CH_DONE;
        }
    }
    *used = pos;
    if (rc == 0 && d->state == CH_DONE) {
        rc = 1;
    }
    return rc;
}

/* --- Server-Sent Events ---------------------------------------------------------------------- */

int http_sse_feed(http_sse_t *s, const char *text, size_t len) {
    return http_buf_add(&s->text, text, len);
}

/* One non-blank line of an event block. */
static int sse_field(http_sse_t *s, const char *line, size_t len) {
    if (line[0] == ':') {
        s->comments++;
        return 0;
    }
    const char *colon = memchr(line, ':', len);
    size_t name_len = colon != NULL ? (size_t)(colon - line) : len;
    const char *value = colon != NULL ? colon + 1 : line + len;
    size_t value_len = (size_t)(line + len - value);
    if (value_len > 0 && value[0] == ' ') {
        value++;
        value_len--;
    }
    if (name_len == 4 && memcmp(line, "data", 4) == 0) {
        if (s->has_data && http_buf_add(&s->data, "\n", 1) != 0) {
            return -1;
        }
        s->has_data = true;
        return http_buf_add(&s->data, value, value_len);
    }
    if (name_len == 5 && memcmp(line, "event", 5) == 0) {
        http_buf_clear(&s->event);
        return http_buf_add(&s->event, value, value_len);
    }
    if (name_len == 2 && memcmp(line, "id", 2) == 0 && memchr(value, '\0', value_len) == NULL) {
        http_buf_clear(&s->id);
        return http_buf_add(&s->id, value, value_len);
    }
    return 0; /* "retry" and unknown fields */
}

int http_sse_next(http_sse_t *s, http_sse_event_t *ev) {
    if (s->pos > 0) {
        http_buf_consume(&s->text, s->pos);
        s->pos = 0;
    }
    if (!s->has_data && s->data.len > 0) { /* the previous call dispatched an event */
        http_buf_clear(&s->data);
        http_buf_clear(&s->event);
        http_buf_clear(&s->id);
    }
    for (;;) {
        const char *start = s->text.p + s->pos;
        const char *nl = s->text.len > s->pos ? memchr(start, '\n', s->text.len - s->pos) : NULL;
        if (nl == NULL) {
            return s->text.len - s->pos > HTTP_MAX_SSE_LINE_BYTES ? -1 : 0;
        }
        size_t len = (size_t)(nl - start);
        s->pos += len + 1;
        if (len > 0 && start[len - 1] == '\r') {
            len--;
        }
        if (len > 0) {
            if (sse_field(s, start, len) != 0) {
                return -1;
            }
            continue;
        }
        /* a blank line dispatches the event; without data there is nothing to dispatch */
        if (!s->has_data) {
            http_buf_clear(&s->event);
            http_buf_clear(&s->id);
            continue;
        }
        if (http_buf_reserve(&s->data, 0) != 0 || http_buf_reserve(&s->event, 0) != 0 ||
            http_buf_reserve(&s->id, 0) != 0) {
            return -1; /* so that every field below is a NUL-terminated string */
        }
        ev->event = s->event.p;
        ev->event_len = s->event.len;
        ev->id = s->id.p;
        ev->id_len = s->id.len;
        ev->data = s->data.p;
        ev->data_len = s->data.len;
        s->has_data = false;
        if (s->data.len == 0) { /* "data:" with nothing: clear the others now */
            http_buf_clear(&s->event);
            http_buf_clear(&s->id);
            ev->event_len = ev->id_len = 0;
        }
        return 1;
    }
}

void http_sse_free(http_sse_t *s) {
    http_buf_free(&s->text);
    http_buf_free(&s->data);
    http_buf_free(&s->event);
    http_buf_free(&s->id);
    memset(s, 0, sizeof *s);
}

/* --- the blocking connection ----------------------------------------------------------------- */

static int64_t now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int tcp_connect(const char *host, uint16_t port, char *err, size_t err_cap) {
    struct addrinfo hints, *ai = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;
    char service[8];
    snprintf(service, sizeof service, "%u", (unsigned)port);
    int gai = getaddrinfo(host, service, &hints, &ai);
    if (gai != 0) {
        set_err(err, err_cap, "bad server address '%s': %s", host, gai_strerror(gai));
        return -1;
    }
    int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        set_err(err, err_cap, "socket for %s port %u: %s", host, (unsigned)port, strerror(errno));
        freeaddrinfo(ai);
        return -1;
    }
    int one = 1;
    int rc = setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (rc != 0) {
        set_err(err, err_cap, "setting TCP_NODELAY: %s", strerror(errno));
        goto fail;
    }
    while ((rc = connect(fd, ai->ai_addr, ai->ai_addrlen)) != 0 && errno == EINTR) {
    }
    if (rc != 0) {
        set_err(err, err_cap, "connecting to %s port %u: %s", host, (unsigned)port,
                strerror(errno));
        goto fail;
    }
    freeaddrinfo(ai);
    return fd;
fail:
    close(fd);
    freeaddrinfo(ai);
    return -1;
}

/* Forgets the TCP connection (the next request opens a new one). */
static void drop_socket(http_conn_t *c) {
    if (c->fd >= 0) {
        close(c->fd);
        c->fd = -1;
    }
    c->responses = 0;
    c->streaming = false;
    http_buf_clear(&c->in);
    c->in_used = 0;
}

int http_conn_open(http_conn_t *c, const char *host, uint16_t port, int timeout_ms, char *err,
                   size_t err_cap) {
    memset(c, 0, sizeof *c);
    c->fd = -1;
    if (strlen(host) >= sizeof c->host) {
        set_err(err, err_cap, "server address '%s' is too long", host);
        return -1;
    }
    strcpy(c->host, host);
    c->port = port;
    c->timeout_ms = timeout_ms;
    c->fd = tcp_connect(host, port, err, err_cap);
    return c->fd >= 0 ? 0 : -1;
}

void http_conn_close(http_conn_t *c) {
    drop_socket(c);
    http_buf_free(&c->out);
    http_buf_free(&c->in);
    http_buf_free(&c->decoded);
    http_sse_free(&c->sse);
    c->body = NULL;
    c->body_len = 0;
}

void http_conn_shutdown(http_conn_t *c) {
    int fd = c->fd;
    if (fd >= 0) {
        shutdown(fd, SHUT_RDWR);
    }
}

/* Writes the pieces fully. Returns 0, or -1 with errno set. */
static int send_all(int fd, struct iovec *iov, int n) {
    while (n > 0) {
        struct msghdr msg;
        memset(&msg, 0, sizeof msg);
        msg.msg_iov = iov;
        msg.msg_iovlen = (size_t)n;
        ssize_t w = sendmsg(fd, &msg, MSG_NOSIGNAL);
        if (w < 0) {
            if (errno == EINTR) {
                continue;
            }
            return -1;
        }
        size_t left = (size_t)w;
        while (n > 0 && left >= iov->iov_len) {
            left -= iov->iov_len;
            iov++;
            n--;
        }
        if (n > 0) {
            iov->iov_base = (char *)iov->iov_base + left;
            iov->iov_len -= left;
        }
    }
    return 0;
}

/* Waits up to timeout_ms (-1: no limit) and reads what is there into c->in. Returns the bytes
 * read, 0 at end of stream, -1 with errno set (ETIMEDOUT when the time ran out). */
static ssize_t read_some(http_conn_t *c, int timeout_ms) {
    struct pollfd pfd = {.fd = c->fd, .events = POLLIN};
    int64_t deadline = timeout_ms >= 0 ? now_ms() + timeout_ms : 0;
    for (;;) {
        int wait = -1;
        if (timeout_ms >= 0) {
            int64_t left = deadline - now_ms();
            wait = left > 0 ? (int)left : 0;
        }
        int pr = poll(&pfd, 1, wait);
        if (pr < 0 && errno == EINTR) {
            continue;
        }
        if (pr < 0) {
            return -1;
        }
        if (pr == 0) {
            errno = ETIMEDOUT;
            return -1;
        }
        break;
    }
    if (http_buf_reserve(&c->in, READ_CHUNK_BYTES) != 0) {
        errno = ENOMEM;
        return -1;
    }
    ssize_t r;
    while ((r = recv(c->fd, c->in.p + c->in.len, c->in.cap - c->in.len - 1, 0)) < 0 &&
           errno == EINTR) {
    }
    if (r > 0) {
        c->in.len += (size_t)r;
        c->in.p[c->in.len] = '\0';
    }
    return r;
}

static void read_error(const http_conn_t *c, ssize_t r, const char *what, char *err,
                       size_t err_cap) {
    if (r == 0) {
        set_err(err, err_cap, "the server closed the connection %s", what);
    } else if (errno == ETIMEDOUT) {
        set_err(err, err_cap, "no answer from the server within %d ms %s", c->timeout_ms, what);
    } else {
        set_err(err, err_cap, "reading from the server %s: %s", what, strerror(errno));
    }
}

/* Reads the rest of the response whose head is c->head (at the start of c->in) and sets c->body.
 * Returns 0, or -1 with err set. */
static int read_body(http_conn_t *c, bool no_body, char *err, size_t err_cap) {
    size_t hb = c->head.head_bytes;
    ssize_t r;
    if (no_body) {
        c->in_used = hb;
        c->body = "";
        c->body_len = 0;
        return 0;
    }
    if (c->head.chunked) {
        http_chunked_t dec = {0};
        size_t pos = hb;
        http_buf_clear(&c->decoded);
        for (;;) {
            size_t used = 0;
            int dr = http_chunked_decode(&dec, c->in.p + pos, c->in.len - pos, &used, &c->decoded);
            pos += used;
            if (dr < 0) {
                set_err(err, err_cap, "bad chunked framing in the response body");
                return -1;
            }
            if (c->decoded.len > HTTP_MAX_BODY_BYTES) {
                set_err(err, err_cap, "response body exceeds %u bytes", HTTP_MAX_BODY_BYTES);
                return -1;
            }
            if (dr == 1) {
                break;
            }
            if ((r = read_some(c, c->timeout_ms)) <= 0) {
                read_error(c, r, "in the middle of a chunked body", err, err_cap);
                return -1;
            }
        }
        c->in_used = pos;
        if (http_buf_reserve(&c->decoded, 0) != 0) {
            set_err(err, err_cap, "out of memory for the response body");
            return -1;
        }
        c->body = c->decoded.p;
        c->body_len = c->decoded.len;
        return 0;
    }
    if (c->head.content_length >= 0) {
        if ((uint64_t)c->head.content_length > HTTP_MAX_BODY_BYTES) {
            set_err(err, err_cap, "response body of %lld bytes exceeds %u",
                    (long long)c->head.content_length, HTTP_MAX_BODY_BYTES);
            return -1;
        }
        size_t need = hb + (size_t)c->head.content_length;
        while (c->in.len < need) {
            if ((r = read_some(c, c->timeout_ms)) <= 0) {
                read_error(c, r, "in the middle of a response body", err, err_cap);
                return -1;
            }
        }
        c->in_used = need;
    } else { /* the body ends when the server closes */
        for (;;) {
            if (c->in.len - hb > HTTP_MAX_BODY_BYTES) {
                set_err(err, err_cap, "response body exceeds %u bytes", HTTP_MAX_BODY_BYTES);
                return -1;
            }
            r = read_some(c, c->timeout_ms);
            if (r == 0) {
                break;
            }
            if (r < 0) {
                read_error(c, r, "in the middle of a response body", err, err_cap);
                return -1;
            }
        }
        c->head.close = true;
        c->in_used = c->in.len;
    }
    c->body_len = c->in_used - hb;
    if (c->in_used == c->in.len) {
        c->body = c->in.p + hb; /* followed by the buffer's NUL */
    } else {                    /* bytes beyond the response: copy so the body ends in a NUL */
        http_buf_clear(&c->decoded);
        if (http_buf_add(&c->decoded, c->in.p + hb, c->body_len) != 0) {
            set_err(err, err_cap, "out of memory for the response body");
            return -1;
        }
        c->body = c->decoded.p;
    }
    return 0;
}

/* Reads a response head into c->head, skipping 1xx answers. *got_bytes tells whether anything of
 * the answer arrived. Returns 0, or -1 with err set. */
static int read_head(http_conn_t *c, bool *got_bytes, char *err, size_t err_cap) {
    for (;;) {
        int pr = c->in.len > 0 ? http_head_parse(c->in.p, c->in.len, &c->head) : 0;
        if (pr < 0) {
            set_err(err, err_cap, "malformed response head: \"%.40s\"", c->in.p);
            return -1;
        }
        if (pr == 1 && c->head.status >= 200) {
            return 0;
        }
        if (pr == 1) { /* 100 Continue and the like: the real answer follows */
            http_buf_consume(&c->in, c->head.head_bytes);
            continue;
        }
        ssize_t r = read_some(c, c->timeout_ms);
        if (r <= 0) {
            read_error(c, r, "before its answer was complete", err, err_cap);
            return -1;
        }
        *got_bytes = true;
    }
}

/* Drops what the previous response left in c->in, and reconnects when it closed the socket. */
static int prepare(http_conn_t *c, char *err, size_t err_cap) {
    if (c->streaming) {
        set_err(err, err_cap, "the connection carries an event stream; use another one");
        return -1;
    }
    http_buf_consume(&c->in, c->in_used);
    c->in_used = 0;
    c->body = NULL;
    c->body_len = 0;
    if (c->fd < 0) {
        http_buf_clear(&c->in);
        c->responses = 0;
        c->fd = tcp_connect(c->host, c->port, err, err_cap);
        if (c->fd < 0) {
            return -1;
        }
    }
    return 0;
}

/* Sends the request and reads the head of its answer (once more on a fresh connection when a
 * reused one was found closed and the request may be repeated). Returns 0, or -1 with err set. */
static int exchange(http_conn_t *c, const char *method, const char *target, const char *headers,
                    const char *content_type, const void *body, size_t body_len, const char *accept,
                    char *err, size_t err_cap) {
    http_buf_t *h = &c->out;
    http_buf_clear(h);
    int rc = http_buf_addf(h, "%s %s HTTP/1.1\r\nHost: %s:%u\r\n", method, target, c->host,
                           (unsigned)c->port);
    if (rc == 0 && accept != NULL) {
        rc = http_buf_adds(h, accept);
    }
    if (rc == 0 && content_type != NULL) {
        rc = http_buf_addf(h, "Content-Type: %s\r\n", content_type);
    }
    if (rc == 0 && headers != NULL) {
        rc = http_buf_adds(h, headers);
    }
    if (rc == 0 && (body_len > 0 || content_type != NULL)) {
        rc = http_buf_addf(h, "Content-Length: %zu\r\n", body_len);
    }
    if (rc != 0 || http_buf_add(h, "\r\n", 2) != 0) {
        set_err(err, err_cap, "out of memory for the request head of %s %.80s", method, target);
        return -1;
    }
    bool repeatable = strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;
    for (int attempt = 0;; attempt++) {
        if (prepare(c, err, err_cap) != 0) {
            return -1;
        }
        bool reused = c->responses > 0;
        struct iovec iov[2] = {{h->p, h->len}, {(void *)(uintptr_t)body, body_len}};
        bool got_bytes = false;
        if (send_all(c->fd, iov, body_len > 0 ? 2 : 1) != 0) {
            int send_errno = errno;
            /* A server refusing a request (413 for a large body) may answer and close before
             * reading all of it: its answer says more than the broken pipe does. */
            if ((send_errno == EPIPE || send_errno == ECONNRESET) &&
                read_head(c, &got_bytes, NULL, 0) == 0) {
                c->head.close = true;
                return 0;
            }
            set_err(err, err_cap, "sending %s %.80s: %s", method, target, strerror(send_errno));
            rc = -1;
        } else {
            rc = read_head(c, &got_bytes, err, err_cap);
        }
        if (rc == 0) {
            return 0;
        }
        drop_socket(c);
        if (!(reused && repeatable && !got_bytes && attempt == 0)) {
            return -1;
        }
    }
}

/* After a complete response: count it, and close the socket when the server will. */
static void finish_response(http_conn_t *c) {
    c->responses++;
    if (c->head.close) {
        /* the response stays in `in` for the caller; the next request reconnects */
        close(c->fd);
        c->fd = -1;
    }
}

int http_conn_request(http_conn_t *c, const char *method, const char *target, const char *headers,
                      const char *content_type, const void *body, size_t body_len, char *err,
                      size_t err_cap) {
    if (exchange(c, method, target, headers, content_type, body, body_len, NULL, err, err_cap) !=
        0) {
        return -1;
    }
    bool no_body = strcmp(method, "HEAD") == 0 || c->head.status == 204 || c->head.status == 304;
    if (read_body(c, no_body, err, err_cap) != 0) {
        drop_socket(c);
        return -1;
    }
    finish_response(c);
    return c->head.status;
}

const char *http_conn_header(const http_conn_t *c, const char *name, size_t *len) {
    if (c->in.p == NULL || c->head.head_bytes == 0 || c->head.head_bytes > c->in.len ||
        c->streaming) {
        return NULL;
    }
    return http_head_find(c->in.p, c->head.head_bytes, name, len);
}

int http_conn_sse_open(http_conn_t *c, const char *target, const char *headers, char *err,
                       size_t err_cap) {
    if (exchange(c, "GET", target, headers, NULL, NULL, 0, "Accept: text/event-stream\r\n", err,
                 err_cap) != 0) {
        return -1;
    }
    if (c->head.status != 200) {
        if (read_body(c, false, err, err_cap) != 0) {
            drop_socket(c);
            return -1;
        }
        finish_response(c);
        return c->head.status;
    }
    if (!c->head.chunked && c->head.content_length >= 0) {
        set_err(err, err_cap, "GET %.80s answered 200 with a fixed-length body, not a stream",
                target);
        drop_socket(c);
        return -1;
    }
    http_sse_free(&c->sse);
    memset(&c->chunked, 0, sizeof c->chunked);
    c->stream_chunked = c->head.chunked;
    c->stream_ended = false;
    c->streaming = true;
    c->body = NULL;
    c->body_len = 0;
    http_buf_consume(&c->in, c->head.head_bytes);
    c->in_used = 0;
    return 200;
}

int http_conn_sse_next(http_conn_t *c, http_sse_event_t *ev, int timeout_ms, char *err,
                       size_t err_cap) {
    if (!c->streaming) {
        set_err(err, err_cap, "no event stream is open on this connection");
        return -1;
    }
    int64_t deadline = timeout_ms >= 0 ? now_ms() + timeout_ms : 0;
    for (;;) {
        int sr = http_sse_next(&c->sse, ev);
        if (sr != 0) {
            if (sr < 0) {
                set_err(err, err_cap, "event stream line longer than %u bytes (or no memory)",
                        HTTP_MAX_SSE_LINE_BYTES);
            }
            return sr;
        }
        if (c->stream_ended) {
            set_err(err, err_cap, "the server ended the event stream");
            return -1;
        }
        /* decode what has arrived; when that adds no text, wait for more */
        size_t before = c->sse.text.len;
        if (c->in.len > 0) {
            if (c->stream_chunked) {
                size_t used = 0;
                int dr = http_chunked_decode(&c->chunked, c->in.p, c->in.len, &used, &c->sse.text);
                http_buf_consume(&c->in, used);
                if (dr < 0) {
                    set_err(err, err_cap, "bad chunked framing in the event stream");
                    return -1;
                }
                c->stream_ended = dr == 1;
            } else {
                if (http_sse_feed(&c->sse, c->in.p, c->in.len) != 0) {
                    set_err(err, err_cap, "out of memory for the event stream");
                    return -1;
                }
                http_buf_clear(&c->in);
            }
            if (c->sse.text.len > before || c->stream_ended) {
                continue; /* parse again (also what the server sent before it ended) */
            }
        }
        int wait = -1;
        if (timeout_ms >= 0) {
            int64_t left = deadline - now_ms();
            if (left <= 0) {
                return 0;
            }
            wait = (int)left;
        }
        ssize_t r = read_some(c, wait);
        if (r < 0 && errno == ETIMEDOUT) {
            return 0;
        }
        if (r <= 0) {
            if (r == 0) {
                set_err(err, err_cap, "the event stream was closed");
            } else {
                set_err(err, err_cap, "reading the event stream: %s", strerror(errno));
            }
            return -1;
        }
    }
}
