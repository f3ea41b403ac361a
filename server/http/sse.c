/*
 * sse.c -- GET /subscribe: Server-Sent Events fed by subscription cursors on the event loop.
 *
 * Each subscriber owns a stele_subscription (history first, then live events, no gap and no
 * duplicate at the switch: the library reads both from the log through one cursor). There is no
 * thread per subscriber: the store's commit hook wakes the loop (wakeup.c), which puts every
 * subscriber on a work queue; the queue is served in turns of the loop, pulling from each with
 * stele_subscription_poll() and writing into its chunked response while the connection's output
 * buffer is below --subscriber-buffer-bytes. When the buffer drains, the connection calls back and
 * the subscriber is queued again, so history streams at the client's pace.
 *
 * The work of a turn is bounded in log records examined, not in events sent: a filter that
 * matches nothing on a large log would otherwise scan it all in one callback, and a thousand such
 * subscribers would hold every other client (appends, /health) for seconds. Each subscriber gets
 * at most SLICE_RECORDS per visit and a turn at most TURN_RECORDS; a subscriber with records left
 * goes to the back of the queue, and what is left of the queue runs on the next turn, after the
 * loop has polled its sockets.
 *
 * A client that stops reading keeps its output above the bound; after --slow-subscriber-ms of
 * that it is dropped with a final `event: dropped` naming the reason, so the server never buffers
 * more than about the bound (plus one event) per subscriber, and writers never wait.
 *
 * HEAD /subscribe checks the request as GET does and answers the headers alone.
 *
 * Wire format: `id: <position>` and `data: <event JSON>` per event; `event: caught-up` once the
 * history is delivered; `: heartbeat` comment lines every --heartbeat-ms while idle.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "../core/auth.h"
#include "../core/log.h"
#include "../core/metrics.h"
#include "json_io.h"
#include "session.h"
#include "sse.h"

/* Log records a subscriber may examine per visit, and all subscribers per turn of the loop: a
 * turn scans for about 0.2 ms (some 40 ns a record from the page cache), so the loop answers its
 * other clients at least that often; the cost of a turn itself (one more epoll_wait) is small
 * beside it. */
#define SLICE_RECORDS 512
#define TURN_RECORDS 4096

struct srv_sub {
    srv_sub_t *prev, *next;   /* every subscriber */
    srv_sub_t *wprev, *wnext; /* the work queue, while queued */
    bool queued;
    bool caught_up; /* its history is delivered */
    srv_conn_t *conn;
    srv_req_t *req;
    stele_subscription_t *sub;
    uint64_t last_write_ns;
    uint64_t behind_since_ns; /* output stayed above the bound since then (0 = not behind) */
};

static void dequeue(srv_t *srv, srv_sub_t *s) {
    if (!s->queued) {
        return;
    }
    if (s->wprev != NULL) {
        s->wprev->wnext = s->wnext;
    } else {
        srv->sse_work_head = s->wnext;
    }
    if (s->wnext != NULL) {
        s->wnext->wprev = s->wprev;
    } else {
        srv->sse_work_tail = s->wprev;
    }
    s->wprev = s->wnext = NULL;
    s->queued = false;
}

/* Put s at the back of the work queue (if not on it) and make sure a turn will serve it. */
static void schedule(srv_t *srv, srv_sub_t *s) {
    if (!s->queued) {
        s->queued = true;
        s->wnext = NULL;
        s->wprev = srv->sse_work_tail;
        if (srv->sse_work_tail != NULL) {
            srv->sse_work_tail->wnext = s;
        } else {
            srv->sse_work_head = s;
        }
        srv->sse_work_tail = s;
    }
    if (srv->sse_work_ev != NULL && !event_pending(srv->sse_work_ev, EV_TIMEOUT, NULL)) {
        /* A zero timeout runs after the loop's next poll of the sockets, not before it. */
        struct timeval zero = {0, 0};
        event_add(srv->sse_work_ev, &zero);
    }
}

static void unlink_sub(srv_t *srv, srv_sub_t *s) {
    dequeue(srv, s);
    if (s->prev != NULL) {
        s->prev->next = s->next;
    } else {
        srv->subs = s->next;
    }
    if (s->next != NULL) {
        s->next->prev = s->prev;
    }
    srv->sub_count--;
    srv->sub_catching_up -= !s->caught_up;
    if (s->conn != NULL) {
        srv_http_set_sub(s->conn, NULL);
    }
    stele_subscription_close(s->sub);
    free(s);
}

/* End the stream: an optional final event, then the last chunk. */
static void end_stream(srv_t *srv, srv_sub_t *s, const char *event, const char *reason) {
    if (event != NULL) {
        struct evbuffer *chunk = evbuffer_new();
        if (chunk != NULL) {
            evbuffer_add_printf(chunk, "event: %s\ndata: ", event);
            evbuffer_add(chunk, "{\"reason\":", 10);
            srv_json_string(chunk, reason, strlen(reason));
            evbuffer_add_printf(chunk, ",\"position\":%" PRIu64 "}\n\n",
                                stele_subscription_position(s->sub));
            srv_http_stream_write(s->req, chunk);
            evbuffer_free(chunk);
        }
        srv_log(SRV_LOG_WARN, "subscriber ended",
                json_pack("{s:s, s:s, s:I}", "event", event, "reason", reason, "position",
                          (json_int_t)stele_subscription_position(s->sub)));
    }
    srv_http_stream_end(s->req);
    unlink_sub(srv, s);
}

static void send_chunk(srv_t *srv, srv_sub_t *s, struct evbuffer *chunk) {
    (void)srv;
    srv_http_stream_write(s->req, chunk);
    s->last_write_ns = srv_now_ns();
}

static size_t output_length(const srv_sub_t *s) {
    return s->conn != NULL ? srv_conn_output_length(s->conn) : 0;
}

enum { PUMP_IDLE, PUMP_MORE, PUMP_ENDED };

/* Pull what is available into the response while the output is below the bound, examining at most
 * *budget log records (decreased by those examined). Returns PUMP_MORE when the budget ran out
 * with records left, PUMP_ENDED when the subscriber was ended (freed), else PUMP_IDLE. */
static int pump(srv_t *srv, srv_sub_t *s, uint64_t *budget) {
    size_t bound = (size_t)srv->cfg->subscriber_buffer_bytes;
    struct evbuffer *chunk = evbuffer_new();
    if (chunk == NULL) {
        return PUMP_IDLE;
    }
    size_t base = output_length(s);
    bool blocked = false;
    int rc = 0;
    for (;;) {
        if (base + evbuffer_get_length(chunk) >= bound) {
            blocked = true;
            break;
        }
        stele_event_t ev;
        rc = stele_subscription_poll(s->sub, &ev, budget);
        if (rc == STELE_SUB_EVENT) {
            evbuffer_add_printf(chunk, "id: %" PRIu64 "\ndata: ", ev.position);
            srv_event_json(chunk, &ev);
            evbuffer_add(chunk, "\n\n", 2);
        } else if (rc == STELE_SUB_CAUGHT_UP) {
            s->caught_up = true;
            srv->sub_catching_up--;
            evbuffer_add_printf(chunk, "event: caught-up\ndata: {\"position\":%" PRIu64 "}\n\n",
                                stele_subscription_position(s->sub));
        } else {
            break;
        }
    }
    if (evbuffer_get_length(chunk) > 0) {
        send_chunk(srv, s, chunk);
    }
    evbuffer_free(chunk);
    if (rc < 0) {
        end_stream(srv, s, rc == STELE_ECLOSED ? NULL : "dropped", stele_strerror(rc));
        return PUMP_ENDED;
    }
    if (blocked && s->conn != NULL && output_length(s) == 0) {
        /* The socket took all of it at once: go on in a later turn. */
        schedule(srv, s);
    }
    if (!blocked) {
        s->behind_since_ns = 0;
    } else if (s->behind_since_ns == 0) {
        s->behind_since_ns = srv_now_ns();
    }
    return !blocked && rc == STELE_SUB_MORE ? PUMP_MORE : PUMP_IDLE;
}

/* One turn of the work queue: at most TURN_RECORDS records examined (and at most that many
 * visits), SLICE_RECORDS per visit; a subscriber with more to examine goes to the back. */
static void on_work(evutil_socket_t fd, short what, void *arg) {
    (void)fd;
    (void)what;
    srv_t *srv = arg;
    uint64_t turn = TURN_RECORDS;
    while (srv->sse_work_head != NULL && turn > 0) {
        srv_sub_t *s = srv->sse_work_head;
        dequeue(srv, s);
        uint64_t slice = turn < SLICE_RECORDS ? turn : SLICE_RECORDS;
        uint64_t budget = slice;
        int r = pump(srv, s, &budget);
        uint64_t used = slice - budget;
        turn -= used > 0 ? used : 1;
        if (r == PUMP_MORE) {
            schedule(srv, s);
        }
    }
    if (srv->sse_work_head != NULL) {
        schedule(srv, srv->sse_work_head); /* already queued: only re-arms the turn */
    }
}

/* The connection wrote out everything we gave it: pull more. */
void srv_sse_drained(srv_t *srv, srv_sub_t *sub) { schedule(srv, sub); }

void srv_sse_pump_all(srv_t *srv) {
    for (srv_sub_t *s = srv->subs; s != NULL; s = s->next) {
        schedule(srv, s);
    }
}

/* Once a second: drop subscribers that stayed behind too long, send heartbeats. */
static void on_timer(evutil_socket_t fd, short what, void *arg) {
    (void)fd;
    (void)what;
    srv_t *srv = arg;
    uint64_t now = srv_now_ns();
    uint64_t slow_ns = srv->cfg->slow_subscriber_ms * 1000000u;
    uint64_t beat_ns = srv->cfg->heartbeat_ms * 1000000u;
    size_t bound = (size_t)srv->cfg->subscriber_buffer_bytes;
    srv_sub_t *next = NULL;
    for (srv_sub_t *s = srv->subs; s != NULL; s = next) {
        next = s->next;
        /* Output that went below the bound without draining to empty calls nobody back: the
         * next turn pulls more for it. */
        if (output_length(s) < bound) {
            s->behind_since_ns = 0;
            schedule(srv, s);
        } else if (s->behind_since_ns == 0) {
            s->behind_since_ns = now;
        }
        if (s->behind_since_ns != 0 && now - s->behind_since_ns >= slow_ns) {
            char reason[160];
            snprintf(reason, sizeof(reason),
                     "slow consumer: output stayed above %llu bytes for %llu ms",
                     (unsigned long long)srv->cfg->subscriber_buffer_bytes,
                     (unsigned long long)srv->cfg->slow_subscriber_ms);
            end_stream(srv, s, "dropped", reason);
            continue;
        }
        if (now - s->last_write_ns >= beat_ns &&
            output_length(s) < srv->cfg->subscriber_buffer_bytes) {
            struct evbuffer *chunk = evbuffer_new();
            if (chunk != NULL) {
                evbuffer_add(chunk, ": heartbeat\n\n", 13);
                send_chunk(srv, s, chunk);
                evbuffer_free(chunk);
            }
        }
    }
}

int srv_sse_init(srv_t *srv) {
    srv->sse_timer = event_new(srv->base, -1, EV_PERSIST, on_timer, srv);
    uint64_t ms = srv->cfg->heartbeat_ms < 1000 ? srv->cfg->heartbeat_ms : 1000;
    if (srv->cfg->slow_subscriber_ms < ms) {
        ms = srv->cfg->slow_subscriber_ms > 10 ? srv->cfg->slow_subscriber_ms : 10;
    }
    struct timeval tv = {(time_t)(ms / 1000), (suseconds_t)(ms % 1000 * 1000)};
    srv->sse_work_ev = event_new(srv->base, -1, 0, on_work, srv);
    return srv->sse_timer != NULL && srv->sse_work_ev != NULL && event_add(srv->sse_timer, &tv) == 0
               ? 0
               : -1;
}

void srv_sse_conn_closed(srv_t *srv, srv_sub_t *sub) {
    sub->req = NULL; /* freed with its connection */
    sub->conn = NULL;
    unlink_sub(srv, sub);
}

void srv_sse_close_all(srv_t *srv) {
    while (srv->subs != NULL) {
        end_stream(srv, srv->subs, NULL, NULL);
    }
}

/* ---- GET /subscribe ------------------------------------------------------------------------- */

static int parse_position(const char *text, uint64_t *out) {
    uint64_t v = 0;
    size_t n = 0;
    for (; text[n] >= '0' && text[n] <= '9' && n < 19; n++) {
        v = v * 10 + (uint64_t)(text[n] - '0');
    }
    if (n == 0 || text[n] != '\0') {
        return -1;
    }
    *out = v;
    return 0;
}

void srv_route_subscribe(srv_t *srv, srv_req_t *req, const srv_args_t *a) {
    const srv_query_t *q = a->q;
    /* A ticket (auth.c) stands for the token that asked for it: the access rule redeems it. */
    req->ticket = srv_query_get(q, "ticket");
    stele_subscribe_options_t opts;
    stele_subscribe_options_init(&opts);
    const char *stream = srv_query_get(q, "stream");
    /* The filter names what the subscription can deliver (filter.stream is the stream). */
    if (srv_filter_from_query(srv, req, q, &opts.filter) != 0 ||
        !srv_access_check(srv, req, SRV_ROLE_READ, &opts.filter)) {
        return;
    }
    req->ticket = NULL; /* it points into the query, which the request outlives */
    if (stream != NULL) {
        stele_filter_t none;
        memset(&none, 0, sizeof(none));
        none.stream = opts.filter.stream;
        if (memcmp(&none, &opts.filter, sizeof(none)) != 0) {
            srv_reply_error(srv, req, "bad_request", NULL,
                            "filters apply to $all subscriptions: give stream or filters");
            return;
        }
        memset(&opts.filter, 0, sizeof(opts.filter));
        opts.stream = stream;
    }
    const char *last_id = srv_req_header(req, "Last-Event-ID");
    const char *from = srv_query_get(q, "from");
    uint64_t pos = 0;
    if (last_id != NULL) {
        if (parse_position(last_id, &pos) != 0) {
            srv_reply_error(srv, req, "invalid_argument", NULL, "Last-Event-ID must be a position");
            return;
        }
        opts.after_position = pos;
    } else if (from != NULL && strcmp(from, "end") == 0) {
        opts.from_end = true;
    } else if (from != NULL) {
        if (parse_position(from, &pos) != 0) {
            srv_reply_error(srv, req, "invalid_argument", json_pack("{s:s}", "parameter", "from"),
                            "from must be a position or \"end\"");
            return;
        }
        opts.after_position = pos > 0 ? pos - 1 : 0;
    }
    /* A start beyond the head is a client's mistake (or a store that lost what it had told the
     * client): refuse it naming the head, rather than wait silently for positions that may never
     * mean what the client thinks. from = head + 1 is the next event, like from=end. */
    if (last_id != NULL || (from != NULL && !opts.from_end)) {
        uint64_t head = 0;
        uint8_t hash[32];
        stele_head_digest(srv->store, &head, hash);
        if (opts.after_position > head) {
            json_t *extra =
                json_pack("{s:s, s:I}", "parameter", last_id != NULL ? "Last-Event-ID" : "from",
                          "head_position", (json_int_t)head);
            if (last_id != NULL) {
                srv_reply_error(srv, req, "invalid_argument", extra,
                                "Last-Event-ID %llu is beyond the head position %llu",
                                (unsigned long long)pos, (unsigned long long)head);
            } else {
                srv_reply_error(srv, req, "invalid_argument", extra,
                                "from %llu is beyond the next position %llu (head position %llu)",
                                (unsigned long long)pos, (unsigned long long)head + 1,
                                (unsigned long long)head);
            }
            return;
        }
    }
    if (req->method == SRV_HEAD) {
        /* The headers a GET would start its stream with; no body, no subscription. */
        srv_req_add_header(req, "Cache-Control", "no-cache");
        srv_req_add_header(req, "X-Accel-Buffering", "no");
        srv_reply_buffer(srv, req, 200, NULL, "text/event-stream");
        return;
    }
    if (srv->sub_count >= srv->cfg->max_subscribers) {
        srv_reply_error(srv, req, "too_many_requests", NULL, "too many subscribers (limit %llu)",
                        (unsigned long long)srv->cfg->max_subscribers);
        return;
    }
    srv_conn_t *conn = req->conn;
    srv_sub_t *s = calloc(1, sizeof(*s));
    if (conn == NULL || s == NULL) {
        free(s);
        srv_reply_error(srv, req, "internal", NULL, "out of memory");
        return;
    }
    int rc = stele_subscribe(srv->store, &opts, &s->sub);
    if (rc != 0) {
        free(s);
        srv_reply_stele_error(srv, req, rc, NULL, NULL);
        return;
    }
    s->conn = conn;
    s->req = req;
    srv_http_set_sub(conn, s);
    s->next = srv->subs;
    if (srv->subs != NULL) {
        srv->subs->prev = s;
    }
    srv->subs = s;
    srv->sub_count++;
    srv->sub_catching_up++;
    srv_req_add_header(req, "Cache-Control", "no-cache");
    srv_req_add_header(req, "X-Accel-Buffering", "no");
    srv_metrics_request(srv, 200);
    srv_http_stream_start(srv, req, "text/event-stream");
    s->last_write_ns = srv_now_ns();
    schedule(srv, s);
}
