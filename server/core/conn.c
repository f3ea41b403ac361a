/*
 * conn.c -- the connections of steled: accepting, reading and writing without blocking (plain or
 * TLS), keep-alive, the request read from each (request.c) handed to the router, the answer
 * written back, limits, timeouts and closing.
 *
 * A connection has one read event that stays armed for its whole life and a write event armed only
 * while output waits for the socket, so a keep-alive request costs one read and one write call and
 * no re-arming: an answer is written to the socket the moment it is ready, on the loop thread, and
 * only what the socket does not take waits for the write event.
 *
 * One request is served at a time per connection. Pipelined requests wait in the input buffer; a
 * request waiting for another thread (an append) keeps its connection's reading going, which is how
 * a client that leaves is noticed, but input beyond a bound pauses reading until the answer.
 * Answers the client does not read pause the connection too: no new request is read while its
 * unsent output is over --output-buffer-bytes.
 *
 * Accepting never spins: beyond --max-connections a connection is answered 429, and when the
 * process runs out of descriptors the waiting connections are answered 503 with a descriptor kept
 * in reserve and accepting pauses briefly (the listening socket would stay readable).
 *
 * A connection is freed only from its own event callbacks or the sweep (never under a route's
 * feet): code that finds a connection broken or finished while answering marks it and activates
 * its read event, whose callback then closes it.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/listener.h>

#include "json_out.h"
#include "conn.h"
#include "log.h"
#include "tls.h"
#include "wakeup.h"
#include "../http/reply.h"
#include "../http/sse.h"

/* Input buffered beyond the current request before reading pauses. */
#define MAX_BUFFERED_INPUT (1024 * 1024)
/* Bytes read per recv. */
#define READ_CHUNK 16384
/* How often idle and stuck connections are looked for. */
#define SWEEP_MS 1000

static void on_io(evutil_socket_t fd, short what, void *arg);

/* ---- the list of connections ---------------------------------------------------------------- */

static void conn_link(srv_t *srv, srv_conn_t *c) {
    c->next = srv->conns;
    if (srv->conns != NULL) {
        srv->conns->prev = c;
    }
    srv->conns = c;
    srv->conn_count++;
}

static void conn_unlink(srv_t *srv, srv_conn_t *c) {
    if (c->prev != NULL) {
        c->prev->next = c->next;
    } else {
        srv->conns = c->next;
    }
    if (c->next != NULL) {
        c->next->prev = c->prev;
    }
    srv->conn_count--;
}

static void conn_free(srv_conn_t *c) {
    srv_t *srv = c->srv;
    if (c->over_limit) {
        srv->over_limit_count--;
    }
    if (c->pending != NULL) {
        /* The answer will find no request: srv_pending_detach() returns NULL. */
        c->pending->req = NULL;
        c->pending->conn = NULL;
        c->pending = NULL;
    }
    if (c->sub != NULL) {
        srv_sse_conn_closed(srv, c->sub);
        c->sub = NULL;
    }
    if (c->req != NULL) {
        srv_req_free(c->req);
    }
    event_free(c->rev);
    event_free(c->wev);
    if (c->tls != NULL) {
        srv_tls_session_free(c->tls, !c->broken);
    }
    evbuffer_free(c->in);
    evbuffer_free(c->out);
    close(c->fd);
    conn_unlink(srv, c);
    free(c);
}

/* ---- socket I/O ----------------------------------------------------------------------------- */

/* Read what the socket has (up to the bound). Sets eof or broken. */
static void conn_read(srv_conn_t *c) {
    while (!c->eof && !c->broken && evbuffer_get_length(c->in) < MAX_BUFFERED_INPUT) {
        struct evbuffer_iovec v;
        if (evbuffer_reserve_space(c->in, READ_CHUNK, &v, 1) < 1) {
            c->broken = true;
            return;
        }
        ssize_t n;
        if (c->tls != NULL) {
            int want = 0;
            n = srv_tls_read(c->tls, v.iov_base, v.iov_len, &want);
            c->tls_read_wants_write = n == SRV_IO_AGAIN && want == EV_WRITE;
        } else {
            n = recv(c->fd, v.iov_base, v.iov_len, 0);
            if (n < 0) {
                n = errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ? SRV_IO_AGAIN
                                                                              : SRV_IO_ERROR;
            }
        }
        if (n > 0) {
            v.iov_len = (size_t)n;
            evbuffer_commit_space(c->in, &v, 1);
            c->last_active_ns = srv_now_ns();
            if ((size_t)n < READ_CHUNK && c->tls == NULL) {
                return; /* the socket is drained: spare the recv that would say EAGAIN */
            }
            continue;
        }
        evbuffer_commit_space(c->in, &v, 0);
        if (n == 0) {
            c->eof = true;
        } else if (n == SRV_IO_ERROR) {
            c->broken = true;
        }
        return;
    }
}

/* Write what the socket takes. Sets broken on an error. */
static void conn_flush(srv_conn_t *c) {
    while (!c->broken && evbuffer_get_length(c->out) > 0) {
        ssize_t n;
        if (c->tls != NULL) {
            struct evbuffer_iovec v;
            if (evbuffer_peek(c->out, -1, NULL, &v, 1) < 1) {
                return;
            }
            int want = 0;
            n = srv_tls_write(c->tls, v.iov_base, v.iov_len, &want);
            c->tls_write_wants_read = n == SRV_IO_AGAIN && want == EV_READ;
            if (n > 0) {
                evbuffer_drain(c->out, (size_t)n);
            }
        } else {
            n = evbuffer_write(c->out, c->fd);
            if (n < 0) {
                n = errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ? SRV_IO_AGAIN
                                                                              : SRV_IO_ERROR;
            }
        }
        if (n > 0) {
            c->last_active_ns = srv_now_ns();
            continue;
        }
        if (n != SRV_IO_AGAIN) {
            c->broken = true;
        }
        return;
    }
}

/* ---- requests ------------------------------------------------------------------------------- */

static bool in_flight(const srv_conn_t *c) {
    return c->req != NULL && c->req->dispatched && !c->req->streaming;
}

/* Answer a request that could not be read, then close. */
static void answer_unreadable(srv_conn_t *c, const srv_req_error_t *e) {
    srv_req_t *req = c->req;
    req->keep_alive = false;
    req->dispatched = true;
    srv_reply_error(c->srv, req, e->code, NULL, "%s", e->message);
}

/* Read and dispatch the requests waiting in the input, in order, while each is answered at once. */
static void conn_process(srv_conn_t *c) {
    srv_t *srv = c->srv;
    while (!c->broken && !c->close_after_write) {
        if (c->req != NULL && c->req->streaming) {
            evbuffer_drain(c->in, evbuffer_get_length(c->in)); /* nothing more is read */
            return;
        }
        if (in_flight(c) || evbuffer_get_length(c->in) == 0) {
            return;
        }
        if (c->req == NULL && evbuffer_get_length(c->out) > srv->cfg->output_buffer_bytes) {
            /* A client that pipelines requests and does not read the answers would make the
             * output grow without limit: the next request waits until the socket takes what
             * is there. Its input then fills and reading pauses too (conn_settle). */
            conn_flush(c);
            c->output_paused = evbuffer_get_length(c->out) > srv->cfg->output_buffer_bytes;
            if (c->output_paused) {
                return;
            }
        }
        c->output_paused = false;
        if (c->req == NULL) {
            c->req = srv_req_new(c);
            if (c->req == NULL) {
                c->broken = true;
                return;
            }
            c->req->start_ns = srv_now_ns();
        }
        srv_req_error_t e;
        int rc = srv_req_feed(c->req, c->in, srv->cfg, &e);
        if (rc == SRV_REQ_ERROR) {
            answer_unreadable(c, &e);
            return;
        }
        if (rc == SRV_REQ_INCOMPLETE) {
            if (c->req->want_continue && !c->req->continue_sent) {
                c->req->continue_sent = true;
                evbuffer_add(c->out, "HTTP/1.1 100 Continue\r\n\r\n", 25);
                conn_flush(c);
            }
            return;
        }
        c->req->dispatched = true;
        if (c->over_limit) {
            c->req->keep_alive = false;
            srv_reply_error(srv, c->req, "too_many_requests", NULL,
                            "too many connections (limit %llu)",
                            (unsigned long long)srv->cfg->max_connections);
            return;
        }
        srv_http_dispatch(srv, c->req);
    }
}

/* After the callbacks' work: close, or wait for the socket to take the output. Reading pauses
 * while the input holds MAX_BUFFERED_INPUT (requests wait behind an answer or behind unsent
 * output) and after the end of the stream, which would otherwise stay readable and call back at
 * once on every turn of the loop. */
static void conn_settle(srv_conn_t *c) {
    if (c->broken) {
        conn_free(c);
        return;
    }
    bool output = evbuffer_get_length(c->out) > 0;
    if (!output && c->close_after_write) {
        conn_free(c);
        return;
    }
    /* The client closed its side: finish the request it is waiting for, if any, then close. */
    if (!output && c->eof && !in_flight(c)) {
        conn_free(c);
        return;
    }
    bool want_read = !c->eof && (evbuffer_get_length(c->in) < MAX_BUFFERED_INPUT ||
                                 (c->tls != NULL && c->tls_write_wants_read));
    if (want_read && c->read_paused) {
        c->read_paused = false;
        event_add(c->rev, NULL);
    } else if (!want_read && !c->read_paused) {
        c->read_paused = true;
        event_del(c->rev);
    }
    if (output && !c->write_armed) {
        c->write_armed = true;
        event_add(c->wev, NULL);
    }
}

static void on_io(evutil_socket_t fd, short what, void *arg) {
    (void)fd;
    srv_conn_t *c = arg;
    if (what & EV_WRITE) {
        c->write_armed = false;
    }
    bool had_output = evbuffer_get_length(c->out) > 0;
    if ((what & EV_WRITE) || (c->tls_write_wants_read && (what & EV_READ))) {
        conn_flush(c);
    }
    if ((what & EV_READ) || (c->tls_read_wants_write && (what & EV_WRITE))) {
        conn_read(c);
    }
    c->busy = true;
    conn_process(c);
    c->busy = false;
    if (!c->broken && had_output && evbuffer_get_length(c->out) == 0 && c->sub != NULL) {
        srv_sse_drained(c->srv, c->sub); /* pulls more history at the client's pace */
    }
    conn_settle(c);
}

/* Something outside the callbacks (an answer, an SSE write) changed c: settle it from its read
 * callback, where freeing it is safe. */
static void conn_poke(srv_conn_t *c) {
    if (!c->busy) {
        event_active(c->rev, EV_READ, 0);
    }
}

/* ---- answers -------------------------------------------------------------------------------- */

void srv_conn_respond(srv_t *srv, srv_req_t *req, int status, const char *reason,
                      const char *content_type, struct evbuffer *body) {
    srv_conn_t *c = req->conn;
    if (c == NULL || c->broken) {
        if (c != NULL) {
            c->req = NULL;
        }
        srv_req_free(req);
        return;
    }
    size_t len = body != NULL ? evbuffer_get_length(body) : 0;
    bool keep = req->keep_alive && !srv->closing && !c->eof;
    /* The head is put together by hand: printf was a fifth of the loop's instructions for a
     * 1-event append. */
    char head[512];
    size_t n = 0;
    char digits[20];
    /* Reasons and content types are the server's own short constants; the bounds only keep the
     * head within its array. */
    size_t reason_len = strnlen(reason, 64);
    size_t ctype_len = content_type != NULL ? strnlen(content_type, 128) : 0;
    memcpy(head, "HTTP/1.", 7);
    head[7] = (char)('0' + req->minor);
    head[8] = ' ';
    n = 9 + jout_u64_text(head + 9, (uint64_t)status);
    head[n++] = ' ';
    memcpy(head + n, reason, reason_len);
    n += reason_len;
    memcpy(head + n, "\r\n", 2);
    n += 2;
    if (content_type != NULL) {
        memcpy(head + n, "Content-Type: ", 14);
        n += 14;
        memcpy(head + n, content_type, ctype_len);
        n += ctype_len;
        memcpy(head + n, "\r\n", 2);
        n += 2;
    }
    evbuffer_add(c->out, head, n);
    if (req->out_headers != NULL) {
        evbuffer_add_buffer(c->out, req->out_headers);
    }
    n = 0;
    /* A HEAD answer without a body stands for a streamed one (SSE): no length to state. */
    if (status != 204 && status != 304 && !(req->method == SRV_HEAD && body == NULL)) {
        memcpy(head, "Content-Length: ", 16);
        n = 16 + jout_u64_text(digits, len);
        memcpy(head + 16, digits, n - 16);
        memcpy(head + n, "\r\n", 2);
        n += 2;
    }
    static const char close_hdr[] = "Connection: close\r\n\r\n";
    static const char keep_hdr[] = "Connection: keep-alive\r\n\r\n";
    if (!keep) {
        memcpy(head + n, close_hdr, sizeof(close_hdr) - 1);
        n += sizeof(close_hdr) - 1;
        c->close_after_write = true;
    } else if (req->minor == 0) {
        memcpy(head + n, keep_hdr, sizeof(keep_hdr) - 1);
        n += sizeof(keep_hdr) - 1;
    } else {
        memcpy(head + n, "\r\n", 2);
        n += 2;
    }
    evbuffer_add(c->out, head, n);
    if (body != NULL && req->method != SRV_HEAD) {
        evbuffer_add_buffer(c->out, body);
    }
    c->req = NULL;
    srv_req_free(req);
    if (c->busy) {
        return; /* conn_process goes on with the next request, conn_settle writes */
    }
    conn_flush(c);
    if (c->broken || c->close_after_write || c->eof || c->read_paused ||
        evbuffer_get_length(c->in) > 0) {
        conn_poke(c);
    } else if (evbuffer_get_length(c->out) > 0 && !c->write_armed) {
        c->write_armed = true;
        event_add(c->wev, NULL);
    }
}

int srv_conn_stream_start(srv_t *srv, srv_req_t *req, const char *content_type) {
    srv_conn_t *c = req->conn;
    (void)srv;
    if (c == NULL) {
        return -1;
    }
    req->streaming = true;
    evbuffer_add_printf(c->out, "HTTP/1.%d 200 OK\r\nContent-Type: %s\r\n", req->minor,
                        content_type);
    if (req->out_headers != NULL) {
        evbuffer_add_buffer(c->out, req->out_headers);
    }
    /* HTTP/1.1 frames the stream in chunks; HTTP/1.0 ends it by closing. */
    evbuffer_add_printf(c->out, "%s\r\n",
                        req->minor == 1 ? "Transfer-Encoding: chunked\r\n"
                                        : "Connection: close\r\n");
    srv_conn_stream_write(req, NULL);
    return 0;
}

void srv_conn_stream_write(srv_req_t *req, struct evbuffer *chunk) {
    srv_conn_t *c = req != NULL ? req->conn : NULL;
    if (c == NULL) {
        return;
    }
    size_t len = chunk != NULL ? evbuffer_get_length(chunk) : 0;
    if (len > 0) {
        if (req->minor == 1) {
            evbuffer_add_printf(c->out, "%zx\r\n", len);
            evbuffer_add_buffer(c->out, chunk);
            evbuffer_add(c->out, "\r\n", 2);
        } else {
            evbuffer_add_buffer(c->out, chunk);
        }
    }
    if (c->busy) {
        return;
    }
    conn_flush(c);
    if (c->broken) {
        conn_poke(c);
    } else if (evbuffer_get_length(c->out) > 0 && !c->write_armed) {
        c->write_armed = true;
        event_add(c->wev, NULL);
    }
}

void srv_conn_stream_end(srv_req_t *req) {
    srv_conn_t *c = req != NULL ? req->conn : NULL;
    if (c == NULL) {
        return;
    }
    if (req->minor == 1) {
        evbuffer_add(c->out, "0\r\n\r\n", 5);
    }
    c->close_after_write = true;
    conn_flush(c);
    conn_poke(c);
}

size_t srv_conn_output_length(const srv_conn_t *c) { return evbuffer_get_length(c->out); }

bool srv_conn_all_flushed(const srv_t *srv) {
    for (const srv_conn_t *c = srv->conns; c != NULL; c = c->next) {
        if (!c->broken && evbuffer_get_length(c->out) > 0) {
            return false;
        }
    }
    return true;
}

void srv_conn_memory(const srv_t *srv, srv_conn_memory_t *m) {
    memset(m, 0, sizeof(*m));
    for (const srv_conn_t *c = srv->conns; c != NULL; c = c->next) {
        uint64_t out = evbuffer_get_length(c->out);
        uint64_t in = evbuffer_get_length(c->in) + (c->req != NULL ? c->req->body_cap : 0);
        m->output_bytes += out;
        m->input_bytes += in;
        m->output_max_bytes = out > m->output_max_bytes ? out : m->output_max_bytes;
        m->input_max_bytes = in > m->input_max_bytes ? in : m->input_max_bytes;
        m->output_paused += c->output_paused;
    }
}

/* ---- accepting ------------------------------------------------------------------------------ */

/* How long accepting pauses when the process is out of descriptors (or memory): the loop must not
 * spin on a listening socket that stays readable while accept() keeps failing. */
#define ACCEPT_PAUSE_MS 100
/* Pending connections refused at once with the reserve descriptor, per failure. */
#define REFUSE_BATCH 64
/* Connections beyond --max-connections are read for their first request, which gets 429 (closing
 * at once, with the request unread, could reset the connection before the client reads the
 * answer); at most this many at a time, each for at most OVER_LIMIT_WAIT_MS. Beyond that they are
 * answered and closed at once. */
#define MAX_OVER_LIMIT 64
#define OVER_LIMIT_WAIT_MS 1000

/* Answer a connection steled does not take with a JSON error and close it at once, without a
 * srv_conn_t (so it holds its descriptor for no time). What the client has sent is read and
 * dropped first, so that the close sends FIN rather than RST in the usual case of a request that
 * arrived with the connection. A TLS client is closed without an answer (no handshake is done). */
static void refuse(const srv_t *srv, int fd, int status, const char *reason, const char *code,
                   const char *message) {
    if (srv->ssl_ctx == NULL) {
        char drop[4096];
        for (int i = 0; i < 16 && recv(fd, drop, sizeof(drop), MSG_DONTWAIT) > 0; i++) {
        }
        char body[256];
        char resp[512];
        int bl =
            snprintf(body, sizeof(body), "{\"error\":\"%s\",\"message\":\"%s\"}\n", code, message);
        int n = snprintf(resp, sizeof(resp),
                         "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nContent-Length: "
                         "%d\r\nRetry-After: 1\r\nConnection: close\r\n\r\n%s",
                         status, reason, bl, body);
        if (bl > 0 && (size_t)bl < sizeof(body) && n > 0 && (size_t)n < sizeof(resp)) {
            (void)send(fd, resp, (size_t)n, MSG_DONTWAIT | MSG_NOSIGNAL);
        }
        shutdown(fd, SHUT_WR);
    }
    close(fd);
}

static void on_accept_resume(evutil_socket_t fd, short what, void *arg) {
    (void)fd;
    (void)what;
    srv_t *srv = arg;
    if (srv->reserve_fd < 0) {
        srv->reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    }
    if (srv->listener != NULL) {
        evconnlistener_enable(srv->listener);
    }
}

/* accept() failed with something other than EAGAIN/EINTR/ECONNABORTED (libevent calls this with
 * the error in errno). Out of descriptors (EMFILE, ENFILE): free the reserve descriptor, take the
 * waiting connections with it one at a time and refuse each with 503, take the reserve back. In
 * every case pause accepting for ACCEPT_PAUSE_MS, and log once per episode, not per failure. */
static void on_accept_error(struct evconnlistener *listener, void *arg) {
    srv_t *srv = arg;
    int err = EVUTIL_SOCKET_ERROR();
    uint64_t refused = 0;
    if ((err == EMFILE || err == ENFILE) && srv->reserve_fd >= 0) {
        close(srv->reserve_fd);
        srv->reserve_fd = -1;
        int lfd = evconnlistener_get_fd(listener);
        for (int i = 0; i < REFUSE_BATCH; i++) {
            int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
            if (fd < 0) {
                break;
            }
            refuse(srv, fd, 503, "Service Unavailable", "unavailable",
                   "the server has no file descriptor left for a connection; retry later");
            refused++;
        }
        srv->reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
        srv->refused_descriptors += refused;
    }
    evconnlistener_disable(listener);
    struct timeval tv = {0, ACCEPT_PAUSE_MS * 1000};
    event_add(srv->accept_timer, &tv);
    if (!srv->accept_paused) {
        srv->accept_paused = true;
        srv_log(SRV_LOG_WARN, "cannot accept connections: pausing",
                json_pack("{s:s, s:I, s:i, s:I}", "error", strerror(err), "connections",
                          (json_int_t)srv->conn_count, "retry_ms", ACCEPT_PAUSE_MS, "refused",
                          (json_int_t)refused));
    }
}

static void on_accept(struct evconnlistener *listener, evutil_socket_t fd, struct sockaddr *sa,
                      int socklen, void *arg) {
    (void)listener;
    (void)sa;
    (void)socklen;
    srv_t *srv = arg;
    if (srv->accept_paused) {
        srv->accept_paused = false;
        srv_log(SRV_LOG_INFO, "accepting connections again",
                json_pack("{s:I, s:I}", "connections", (json_int_t)srv->conn_count,
                          "refused_for_descriptors", (json_int_t)srv->refused_descriptors));
    }
    bool over_limit = srv->conn_count >= srv->cfg->max_connections;
    if (over_limit) {
        srv->refused_limit++;
    }
    if (over_limit && srv->over_limit_count >= MAX_OVER_LIMIT) {
        char message[96];
        snprintf(message, sizeof(message), "too many connections (limit %llu)",
                 (unsigned long long)srv->cfg->max_connections);
        refuse(srv, fd, 429, "Too Many Requests", "too_many_requests", message);
        return;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    srv_conn_t *c = calloc(1, sizeof(*c));
    if (c == NULL) {
        close(fd);
        return;
    }
    c->srv = srv;
    c->fd = fd;
    c->in = evbuffer_new();
    c->out = evbuffer_new();
    c->rev = event_new(srv->base, fd, EV_READ | EV_PERSIST, on_io, c);
    c->wev = event_new(srv->base, fd, EV_WRITE, on_io, c);
    if (srv->ssl_ctx != NULL) {
        c->tls = srv_tls_session_new(srv, fd);
    }
    if (c->in == NULL || c->out == NULL || c->rev == NULL || c->wev == NULL ||
        (srv->ssl_ctx != NULL && c->tls == NULL) || event_add(c->rev, NULL) != 0) {
        if (c->in != NULL) {
            evbuffer_free(c->in);
        }
        if (c->out != NULL) {
            evbuffer_free(c->out);
        }
        if (c->rev != NULL) {
            event_free(c->rev);
        }
        if (c->wev != NULL) {
            event_free(c->wev);
        }
        srv_tls_session_free(c->tls, false);
        free(c);
        close(fd);
        srv_log(SRV_LOG_WARN, "cannot take a connection: out of memory", NULL);
        return;
    }
    c->over_limit = over_limit;
    srv->over_limit_count += over_limit;
    c->last_active_ns = c->accepted_ns = srv_now_ns();
    conn_link(srv, c);
}

/* Close connections idle beyond the timeout; answer 408 to a request that stopped arriving. */
static void on_sweep(evutil_socket_t fd, short what, void *arg) {
    (void)fd;
    (void)what;
    srv_t *srv = arg;
    uint64_t now = srv_now_ns();
    uint64_t limit = srv->cfg->request_timeout_ms * 1000000u;
    srv_conn_t *next;
    for (srv_conn_t *c = srv->conns; c != NULL; c = next) {
        next = c->next;
        if (c->over_limit && evbuffer_get_length(c->out) == 0 &&
            now - c->accepted_ns > OVER_LIMIT_WAIT_MS * 1000000u &&
            (c->req == NULL || !c->req->dispatched)) {
            /* Beyond the limit a client gets a moment to send its request, not the timeout. */
            if (c->req == NULL && (c->req = srv_req_new(c)) == NULL) {
                conn_free(c);
                continue;
            }
            srv_req_error_t e = {429, "too_many_requests", ""};
            snprintf(e.message, sizeof(e.message), "too many connections (limit %llu)",
                     (unsigned long long)srv->cfg->max_connections);
            answer_unreadable(c, &e);
            c->last_active_ns = now;
            continue;
        }
        /* A request must arrive whole within the timeout, however it trickles in: a client
         * sending a byte now and then cannot hold a connection for ever. */
        bool reading = c->req != NULL && !c->req->dispatched;
        bool late = reading && now - c->req->start_ns > limit;
        if (!late && (now - c->last_active_ns <= limit || in_flight(c) ||
                      (c->req != NULL && c->req->streaming && evbuffer_get_length(c->out) == 0))) {
            continue;
        }
        if (reading && evbuffer_get_length(c->out) == 0) {
            srv_req_error_t e = {408, "request_timeout", ""};
            snprintf(e.message, sizeof(e.message), "the request did not arrive within %llu ms",
                     (unsigned long long)srv->cfg->request_timeout_ms);
            answer_unreadable(c, &e);
            if (!c->broken && evbuffer_get_length(c->out) > 0) {
                c->last_active_ns = now; /* one more period to take the answer */
                continue;
            }
        }
        conn_free(c);
    }
}

int srv_conn_listen(srv_t *srv, const struct sockaddr *sa, int salen) {
    srv->listener = evconnlistener_new_bind(
        srv->base, on_accept, srv,
        LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC | LEV_OPT_REUSEABLE, 512, sa, salen);
    if (srv->listener == NULL) {
        return -1;
    }
    evconnlistener_set_error_cb(srv->listener, on_accept_error);
    srv->reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    srv->accept_timer = evtimer_new(srv->base, on_accept_resume, srv);
    if (srv->accept_timer == NULL) {
        return -1;
    }
    srv->sweep_ev = event_new(srv->base, -1, EV_PERSIST, on_sweep, srv);
    struct timeval tv = {SWEEP_MS / 1000, SWEEP_MS % 1000 * 1000};
    if (srv->sweep_ev == NULL || event_add(srv->sweep_ev, &tv) != 0) {
        return -1;
    }
    return 0;
}

int srv_conn_listen_fd(const srv_t *srv) {
    return srv->listener != NULL ? evconnlistener_get_fd(srv->listener) : -1;
}

void srv_conn_stop_accepting(srv_t *srv) {
    if (srv->listener != NULL) {
        evconnlistener_free(srv->listener);
        srv->listener = NULL;
    }
    if (srv->accept_timer != NULL) {
        event_free(srv->accept_timer);
        srv->accept_timer = NULL;
    }
    if (srv->reserve_fd >= 0) {
        close(srv->reserve_fd);
        srv->reserve_fd = -1;
    }
}

void srv_conn_close_all(srv_t *srv) {
    srv_conn_stop_accepting(srv);
    while (srv->conns != NULL) {
        srv_conn_t *c = srv->conns;
        conn_flush(c); /* best effort: the last answers */
        conn_free(c);
    }
    if (srv->sweep_ev != NULL) {
        event_free(srv->sweep_ev);
        srv->sweep_ev = NULL;
    }
}
