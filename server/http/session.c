/*
 * session.c -- HTTP/1.1 over a connection of the core (conn.c): the protocol object that reads
 * the requests waiting in a connection's input, hands each to the router (http.c), and writes
 * the answers and the streamed (SSE) responses back.
 *
 * One request is served at a time per connection. Pipelined requests wait in the input buffer
 * (the core pauses reading beyond its bound); answers the client does not read pause the
 * connection too: no new request is read while its unsent output is over --output-buffer-bytes.
 * Beyond --max-connections a connection's first request is answered 429; a request that does not
 * arrive whole within --request-timeout-ms is answered 408.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "../core/errors.h"
#include "json_out.h"
#include "reply.h"
#include "session.h"
#include "../core/feed.h"

/* A connection beyond --max-connections (the core marks it over_limit) has this long to send its
 * first request, which gets 429; then it is answered 429 without one. */
#define OVER_LIMIT_WAIT_MS 1000

/* What HTTP keeps per connection. */
typedef struct http_conn {
    srv_req_t *req;   /* the request being read or answered */
    srv_feed_t *feed; /* the subscription feed (SSE) this connection carries, or NULL */
} http_conn_t;

static http_conn_t *HC(const srv_conn_t *c) { return c->proto_state; }

/* ---- requests ------------------------------------------------------------------------------- */

static bool in_flight(const srv_conn_t *c) {
    return HC(c)->req != NULL && HC(c)->req->dispatched && !HC(c)->req->streaming;
}

/* Answer a request that could not be read, then close. */
static void answer_unreadable(srv_conn_t *c, const srv_req_error_t *e) {
    srv_req_t *req = HC(c)->req;
    req->keep_alive = false;
    req->dispatched = true;
    srv_reply_error(c->srv, req, e->code, NULL, "%s", e->message);
}

/* Read and dispatch the requests waiting in the input, in order, while each is answered at once. */
static void http_input(srv_conn_t *c) {
    srv_t *srv = c->srv;
    while (!c->broken && !c->close_after_write) {
        if (HC(c)->req != NULL && HC(c)->req->streaming) {
            evbuffer_drain(c->in, evbuffer_get_length(c->in)); /* nothing more is read */
            return;
        }
        if (in_flight(c) || evbuffer_get_length(c->in) == 0) {
            return;
        }
        if (HC(c)->req == NULL && evbuffer_get_length(c->out) > srv->cfg->output_buffer_bytes) {
            /* A client that pipelines requests and does not read the answers would make the
             * output grow without limit: the next request waits until the socket takes what
             * is there. Its input then fills and reading pauses too (conn_settle). */
            srv_conn_flush(c);
            c->output_paused = evbuffer_get_length(c->out) > srv->cfg->output_buffer_bytes;
            if (c->output_paused) {
                return;
            }
        }
        c->output_paused = false;
        if (HC(c)->req == NULL) {
            HC(c)->req = srv_req_new(c);
            if (HC(c)->req == NULL) {
                c->broken = true;
                return;
            }
            HC(c)->req->start_ns = srv_now_ns();
        }
        srv_req_error_t e;
        int rc = srv_req_feed(HC(c)->req, c->in, srv->cfg, &e);
        if (rc == SRV_REQ_ERROR) {
            answer_unreadable(c, &e);
            return;
        }
        if (rc == SRV_REQ_INCOMPLETE) {
            if (HC(c)->req->want_continue && !HC(c)->req->continue_sent) {
                HC(c)->req->continue_sent = true;
                evbuffer_add(c->out, "HTTP/1.1 100 Continue\r\n\r\n", 25);
                srv_conn_flush(c);
            }
            return;
        }
        HC(c)->req->dispatched = true;
        if (c->over_limit) {
            HC(c)->req->keep_alive = false;
            srv_reply_error(srv, HC(c)->req, "too_many_requests", NULL,
                            "too many connections (limit %llu)",
                            (unsigned long long)srv->cfg->max_connections);
            return;
        }
        srv_http_dispatch(srv, HC(c)->req);
    }
}

/* ---- answers -------------------------------------------------------------------------------- */

void srv_http_respond(srv_t *srv, srv_req_t *req, int status, const char *reason,
                      const char *content_type, struct evbuffer *body) {
    srv_conn_t *c = req->conn;
    if (c == NULL || c->broken) {
        if (c != NULL) {
            HC(c)->req = NULL;
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
    HC(c)->req = NULL;
    srv_req_free(req);
    if (c->busy) {
        return; /* http_input goes on with the next request; the core writes after it */
    }
    srv_conn_flush(c);
    if (c->broken || c->close_after_write || c->eof || c->read_paused ||
        evbuffer_get_length(c->in) > 0) {
        srv_conn_poke(c);
    } else {
        srv_conn_want_write(c);
    }
}

int srv_http_stream_start(srv_t *srv, srv_req_t *req, const char *content_type) {
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
    srv_http_stream_write(req, NULL);
    return 0;
}

void srv_http_stream_write(srv_req_t *req, struct evbuffer *chunk) {
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
    srv_conn_flush(c);
    if (c->broken) {
        srv_conn_poke(c);
    } else {
        srv_conn_want_write(c);
    }
}

void srv_http_stream_end(srv_req_t *req) {
    srv_conn_t *c = req != NULL ? req->conn : NULL;
    if (c == NULL) {
        return;
    }
    if (req->minor == 1) {
        evbuffer_add(c->out, "0\r\n\r\n", 5);
    }
    c->close_after_write = true;
    srv_conn_flush(c);
    srv_conn_poke(c);
}

/* The timeouts: a request must arrive whole within --request-timeout-ms (else 408), a
 * connection idle that long closes, one beyond --max-connections gets a moment to send its
 * request before its 429. */
static bool http_sweep(srv_conn_t *c, uint64_t now) {
    srv_t *srv = c->srv;
    uint64_t limit = srv->cfg->request_timeout_ms * 1000000u;
    if (c->over_limit && evbuffer_get_length(c->out) == 0 &&
        now - c->accepted_ns > OVER_LIMIT_WAIT_MS * 1000000u &&
        (HC(c)->req == NULL || !HC(c)->req->dispatched)) {
        /* Beyond the limit a client gets a moment to send its request, not the timeout. */
        if (HC(c)->req == NULL && (HC(c)->req = srv_req_new(c)) == NULL) {
            return false;
        }
        srv_req_error_t e = {429, "too_many_requests", ""};
        snprintf(e.message, sizeof(e.message), "too many connections (limit %llu)",
                 (unsigned long long)srv->cfg->max_connections);
        answer_unreadable(c, &e);
        c->last_active_ns = now;
        return true;
    }
    /* A request must arrive whole within the timeout, however it trickles in: a client
     * sending a byte now and then cannot hold a connection for ever. */
    bool reading = HC(c)->req != NULL && !HC(c)->req->dispatched;
    bool late = reading && now - HC(c)->req->start_ns > limit;
    if (!late &&
        (now - c->last_active_ns <= limit || in_flight(c) ||
         (HC(c)->req != NULL && HC(c)->req->streaming && evbuffer_get_length(c->out) == 0))) {
        return true;
    }
    if (reading && evbuffer_get_length(c->out) == 0) {
        srv_req_error_t e = {408, "request_timeout", ""};
        snprintf(e.message, sizeof(e.message), "the request did not arrive within %llu ms",
                 (unsigned long long)srv->cfg->request_timeout_ms);
        answer_unreadable(c, &e);
        if (!c->broken && evbuffer_get_length(c->out) > 0) {
            c->last_active_ns = now; /* one more period to take the answer */
            return true;
        }
    }
    return false;
}

static int http_open(srv_conn_t *c) {
    c->proto_state = calloc(1, sizeof(http_conn_t));
    return c->proto_state != NULL ? 0 : -1;
}

static void http_drained(srv_conn_t *c) {
    if (HC(c)->feed != NULL) {
        srv_feed_drained(c->srv, HC(c)->feed); /* pulls more history at the client's pace */
    }
}

static void http_closed(srv_conn_t *c) {
    http_conn_t *h = HC(c);
    if (h->feed != NULL) {
        srv_feed_conn_closed(c->srv, h->feed);
        h->feed = NULL;
    }
    if (h->req != NULL) {
        srv_req_free(h->req);
    }
    free(h);
}

static uint64_t http_held_bytes(const srv_conn_t *c) {
    return HC(c)->req != NULL ? HC(c)->req->body_cap : 0;
}

/* A JSON error answer with Connection: close, for a connection refused before it is taken. */
static size_t http_refusal(char *resp, size_t cap, const char *code, const char *message) {
    int status = srv_error_status(code);
    const char *reason = status == 429 ? "Too Many Requests" : "Service Unavailable";
    char body[256];
    int bl = snprintf(body, sizeof(body), "{\"error\":\"%s\",\"message\":\"%s\"}\n", code, message);
    int n = snprintf(resp, cap,
                     "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nContent-Length: "
                     "%d\r\nRetry-After: 1\r\nConnection: close\r\n\r\n%s",
                     status, reason, bl, body);
    if (bl > 0 && (size_t)bl < sizeof(body) && n > 0 && (size_t)n < cap) {
        return (size_t)n;
    }
    return 0;
}

void srv_http_set_feed(srv_conn_t *c, srv_feed_t *feed) { HC(c)->feed = feed; }

const srv_proto_t srv_http_proto = {
    .name = "http",
    .open = http_open,
    .input = http_input,
    .drained = http_drained,
    .closed = http_closed,
    .busy = in_flight,
    .sweep = http_sweep,
    .held_bytes = http_held_bytes,
    .refusal = http_refusal,
};
