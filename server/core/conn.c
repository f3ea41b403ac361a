/*
 * conn.c -- the connections of steled: accepting, reading and writing without blocking (plain or
 * TLS), limits, idle sweeps and closing. A connection knows bytes in, output drained and closed;
 * what the bytes mean belongs to the protocol that owns it (srv_proto_t: http/session.c for
 * HTTP/1.1), which this file never names.
 *
 * A connection has one read event that stays armed for its whole life and a write event armed only
 * while output waits for the socket, so a keep-alive request costs one read and one write call and
 * no re-arming: an answer is written to the socket the moment it is ready, on the loop thread, and
 * only what the socket does not take waits for the write event.
 *
 * Input beyond MAX_BUFFERED_INPUT pauses reading until the protocol takes some of it (pipelined
 * requests waiting behind an answer); a request waiting for another thread keeps its connection's
 * reading going, which is how a client that leaves is noticed.
 *
 * Accepting never spins: beyond --max-connections a connection is refused (the protocol answers
 * its first request, or its refusal is sent at once), and when the process runs out of
 * descriptors the waiting connections are refused with a descriptor kept in reserve and accepting
 * pauses briefly (the listening socket would stay readable).
 *
 * A connection is freed only from its own event callbacks or the sweep (never under a protocol's
 * feet): code that finds a connection broken or finished while answering marks it and pokes it
 * (srv_conn_poke), and its read callback then closes it.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/listener.h>

#include "conn.h"
#include "log.h"
#include "tls.h"
#include "wakeup.h"

/* Input buffered beyond the current request before reading pauses. */
#define MAX_BUFFERED_INPUT (1024 * 1024)
/* Bytes read per recv. */
#define READ_CHUNK 16384
/* How often idle and stuck connections are looked for. */
#define SWEEP_MS 1000

static void on_io(evutil_socket_t fd, short what, void *arg);
static void conn_free(srv_conn_t *c);

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
    if (c->proto_state != NULL) {
        c->proto->closed(c);
        c->proto_state = NULL;
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

void srv_conn_flush(srv_conn_t *c) {
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
    if (!output && c->eof && !c->proto->busy(c)) {
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
        srv_conn_flush(c);
    }
    if ((what & EV_READ) || (c->tls_read_wants_write && (what & EV_WRITE))) {
        conn_read(c);
    }
    c->busy = true;
    c->proto->input(c);
    c->busy = false;
    if (!c->broken && had_output && evbuffer_get_length(c->out) == 0) {
        c->proto->drained(c); /* a stream pulls more at the client's pace */
    }
    conn_settle(c);
}

void srv_conn_poke(srv_conn_t *c) {
    if (!c->busy) {
        event_active(c->rev, EV_READ, 0);
    }
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
        uint64_t in = evbuffer_get_length(c->in) + c->proto->held_bytes(c);
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
/* Connections beyond --max-connections are taken and marked (over_limit) so that their protocol
 * refuses their first request (closing at once, with the request unread, could reset the
 * connection before the client reads the answer); at most this many at a time. Beyond that they
 * are refused and closed at once. */
#define MAX_OVER_LIMIT 64

/* Answer a connection steled does not take with the protocol's refusal and close it at once,
 * without a srv_conn_t (so it holds its descriptor for no time). What the client has sent is read
 * and dropped first, so that the close sends FIN rather than RST in the usual case of a request
 * that arrived with the connection. A TLS client is closed without an answer (no handshake is
 * done). */
static void refuse(const srv_t *srv, int fd, const char *code, const char *message) {
    if (srv->ssl_ctx == NULL) {
        char drop[4096];
        for (int i = 0; i < 16 && recv(fd, drop, sizeof(drop), MSG_DONTWAIT) > 0; i++) {
        }
        char resp[512];
        size_t n = srv->proto->refusal(resp, sizeof(resp), code, message);
        if (n > 0) {
            (void)send(fd, resp, n, MSG_DONTWAIT | MSG_NOSIGNAL);
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
            refuse(srv, fd, "unavailable",
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
        refuse(srv, fd, "too_many_requests", message);
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
    c->proto = srv->proto;
    conn_link(srv, c);
    if (c->proto->open(c) != 0) {
        srv_log(SRV_LOG_WARN, "cannot take a connection: out of memory", NULL);
        conn_free(c);
    }
}

/* Once a second: the protocol of each connection applies its timeouts (and may answer). */
static void on_sweep(evutil_socket_t fd, short what, void *arg) {
    (void)fd;
    (void)what;
    srv_t *srv = arg;
    uint64_t now = srv_now_ns();
    srv_conn_t *next;
    for (srv_conn_t *c = srv->conns; c != NULL; c = next) {
        next = c->next;
        if (!c->proto->sweep(c, now)) {
            conn_free(c);
        }
    }
}

int srv_conn_listen(srv_t *srv, const struct sockaddr *sa, int salen, const srv_proto_t *proto) {
    srv->proto = proto;
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

int srv_conn_listen_at(srv_t *srv, const char *host, uint16_t port, const srv_proto_t *proto,
                       uint16_t *bound_port) {
    char service[8];
    snprintf(service, sizeof(service), "%u", (unsigned)port);
    struct addrinfo hints, *ai = NULL;
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    int gai = getaddrinfo(host, service, &hints, &ai);
    if (gai != 0) {
        srv_log(SRV_LOG_ERROR, "cannot resolve the listen address",
                json_pack("{s:s, s:s}", "host", host, "error", gai_strerror(gai)));
        return -1;
    }
    int rc = srv_conn_listen(srv, ai->ai_addr, (int)ai->ai_addrlen, proto);
    freeaddrinfo(ai);
    if (rc != 0) {
        srv_log(SRV_LOG_ERROR, "cannot listen",
                json_pack("{s:s, s:i, s:s}", "host", host, "port", (int)port, "error",
                          strerror(errno)));
        return -1;
    }
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    *bound_port = port;
    if (getsockname(srv_conn_listen_fd(srv), (struct sockaddr *)&ss, &sl) == 0) {
        if (ss.ss_family == AF_INET) {
            *bound_port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
        } else if (ss.ss_family == AF_INET6) {
            *bound_port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
        }
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
        srv_conn_flush(c); /* best effort: the last answers */
        conn_free(c);
    }
    if (srv->sweep_ev != NULL) {
        event_free(srv->sweep_ev);
        srv->sweep_ev = NULL;
    }
}

void srv_conn_want_write(srv_conn_t *c) {
    if (evbuffer_get_length(c->out) > 0 && !c->write_armed) {
        c->write_armed = true;
        event_add(c->wev, NULL);
    }
}
