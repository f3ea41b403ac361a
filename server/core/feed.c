/*
 * feed.c -- one paced feed of a subscription to a client, for any protocol: the history first,
 * then live events, at the client's pace, with the slow-consumer rules. The protocol (SSE in
 * http/sse.c, later gRPC streams) gives the framing of events, the caught-up mark and
 * heartbeats, and writes and ends its stream (srv_feed_sink_t).
 *
 * Each feed owns a stele_subscription (history first, then live events, no gap and no duplicate
 * at the switch: the library reads both from the log through one cursor). There is no thread per
 * subscriber: the store's commit hook wakes the loop (wakeup.c), which puts every feed on a work
 * queue; the queue is served in turns of the loop, pulling from each with
 * stele_subscription_poll() and writing into its stream while the connection's output buffer is
 * below --subscriber-buffer-bytes. When the buffer drains, the connection's protocol calls back
 * (srv_feed_drained) and the feed is queued again, so history streams at the client's pace.
 *
 * The work of a turn is bounded in log records examined, not in events sent: a filter that
 * matches nothing on a large log would otherwise scan it all in one callback, and a thousand such
 * subscribers would hold every other client (appends, /health) for seconds. Each feed gets at
 * most SLICE_RECORDS per visit and a turn at most TURN_RECORDS; a feed with records left goes to
 * the back of the queue, and what is left of the queue runs on the next turn, after the loop has
 * polled its sockets.
 *
 * A client that stops reading keeps its output above the bound; after --slow-subscriber-ms of
 * that it is dropped with a final notice ("dropped") naming the reason, so the server never
 * buffers more than about the bound (plus one event) per subscriber, and writers never wait.
 * Heartbeats go out every --heartbeat-ms while idle.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "feed.h"
#include "log.h"

/* Log records a subscriber may examine per visit, and all subscribers per turn of the loop: a
 * turn scans for about 0.2 ms (some 40 ns a record from the page cache), so the loop answers its
 * other clients at least that often; the cost of a turn itself (one more epoll_wait) is small
 * beside it. */
#define SLICE_RECORDS 512
#define TURN_RECORDS 4096

struct srv_feed {
    srv_feed_t *prev, *next;   /* every feed */
    srv_feed_t *wprev, *wnext; /* the work queue, while queued */
    bool queued;
    bool caught_up; /* its history is delivered */
    srv_conn_t *conn;
    const srv_feed_sink_t *sink;
    void *ctx; /* the sink's (the protocol's request or stream) */
    stele_subscription_t *sub;
    uint64_t last_write_ns;
    uint64_t behind_since_ns; /* output stayed above the bound since then (0 = not behind) */
};

static void dequeue(srv_t *srv, srv_feed_t *s) {
    if (!s->queued) {
        return;
    }
    if (s->wprev != NULL) {
        s->wprev->wnext = s->wnext;
    } else {
        srv->feed_work_head = s->wnext;
    }
    if (s->wnext != NULL) {
        s->wnext->wprev = s->wprev;
    } else {
        srv->feed_work_tail = s->wprev;
    }
    s->wprev = s->wnext = NULL;
    s->queued = false;
}

/* Put s at the back of the work queue (if not on it) and make sure a turn will serve it. */
static void schedule(srv_t *srv, srv_feed_t *s) {
    if (!s->queued) {
        s->queued = true;
        s->wnext = NULL;
        s->wprev = srv->feed_work_tail;
        if (srv->feed_work_tail != NULL) {
            srv->feed_work_tail->wnext = s;
        } else {
            srv->feed_work_head = s;
        }
        srv->feed_work_tail = s;
    }
    if (srv->feed_work_ev != NULL && !event_pending(srv->feed_work_ev, EV_TIMEOUT, NULL)) {
        /* A zero timeout runs after the loop's next poll of the sockets, not before it. */
        struct timeval zero = {0, 0};
        event_add(srv->feed_work_ev, &zero);
    }
}

static void unlink_feed(srv_t *srv, srv_feed_t *s) {
    dequeue(srv, s);
    if (s->prev != NULL) {
        s->prev->next = s->next;
    } else {
        srv->feeds = s->next;
    }
    if (s->next != NULL) {
        s->next->prev = s->prev;
    }
    srv->sub_count--;
    srv->sub_catching_up -= !s->caught_up;
    stele_subscription_close(s->sub);
    free(s);
}

/* End the stream: an optional final notice (event, reason), then the end of the response. */
static void end_stream(srv_t *srv, srv_feed_t *s, const char *event, const char *reason) {
    s->sink->end(s->ctx, event, reason, stele_subscription_position(s->sub));
    if (event != NULL) {
        srv_log(SRV_LOG_WARN, "subscriber ended",
                json_pack("{s:s, s:s, s:I}", "event", event, "reason", reason, "position",
                          (json_int_t)stele_subscription_position(s->sub)));
    }
    unlink_feed(srv, s);
}

static void send_chunk(srv_t *srv, srv_feed_t *s, struct evbuffer *chunk) {
    (void)srv;
    s->sink->write(s->ctx, chunk);
    s->last_write_ns = srv_now_ns();
}

static size_t output_length(const srv_feed_t *s) {
    return s->conn != NULL ? srv_conn_output_length(s->conn) : 0;
}

enum { PUMP_IDLE, PUMP_MORE, PUMP_ENDED };

/* Pull what is available into the response while the output is below the bound, examining at most
 * *budget log records (decreased by those examined). Returns PUMP_MORE when the budget ran out
 * with records left, PUMP_ENDED when the subscriber was ended (freed), else PUMP_IDLE. */
static int pump(srv_t *srv, srv_feed_t *s, uint64_t *budget) {
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
            s->sink->event(chunk, &ev);
        } else if (rc == STELE_SUB_CAUGHT_UP) {
            s->caught_up = true;
            srv->sub_catching_up--;
            s->sink->caught_up(chunk, stele_subscription_position(s->sub));
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
    while (srv->feed_work_head != NULL && turn > 0) {
        srv_feed_t *s = srv->feed_work_head;
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
    if (srv->feed_work_head != NULL) {
        schedule(srv, srv->feed_work_head); /* already queued: only re-arms the turn */
    }
}

void srv_feed_drained(srv_t *srv, srv_feed_t *feed) { schedule(srv, feed); }

void srv_feed_wake_all(srv_t *srv) {
    for (srv_feed_t *s = srv->feeds; s != NULL; s = s->next) {
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
    srv_feed_t *next = NULL;
    for (srv_feed_t *s = srv->feeds; s != NULL; s = next) {
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
                s->sink->heartbeat(chunk);
                send_chunk(srv, s, chunk);
                evbuffer_free(chunk);
            }
        }
    }
}

int srv_feed_init(srv_t *srv) {
    srv->feed_timer = event_new(srv->base, -1, EV_PERSIST, on_timer, srv);
    uint64_t ms = srv->cfg->heartbeat_ms < 1000 ? srv->cfg->heartbeat_ms : 1000;
    if (srv->cfg->slow_subscriber_ms < ms) {
        ms = srv->cfg->slow_subscriber_ms > 10 ? srv->cfg->slow_subscriber_ms : 10;
    }
    struct timeval tv = {(time_t)(ms / 1000), (suseconds_t)(ms % 1000 * 1000)};
    srv->feed_work_ev = event_new(srv->base, -1, 0, on_work, srv);
    return srv->feed_timer != NULL && srv->feed_work_ev != NULL &&
                   event_add(srv->feed_timer, &tv) == 0
               ? 0
               : -1;
}

void srv_feed_conn_closed(srv_t *srv, srv_feed_t *feed) {
    feed->ctx = NULL; /* freed with its connection */
    feed->conn = NULL;
    unlink_feed(srv, feed);
}

void srv_feed_close_all(srv_t *srv) {
    while (srv->feeds != NULL) {
        end_stream(srv, srv->feeds, NULL, NULL);
    }
}

bool srv_feed_full(const srv_t *srv) { return srv->sub_count >= srv->cfg->max_subscribers; }

int srv_feed_open(srv_t *srv, srv_conn_t *conn, const stele_subscribe_options_t *opts,
                  const srv_feed_sink_t *sink, void *ctx, srv_feed_t **out) {
    *out = NULL;
    srv_feed_t *s = calloc(1, sizeof(*s));
    if (s == NULL) {
        return SRV_FEED_NOMEM;
    }
    int rc = stele_subscribe(srv->store, opts, &s->sub);
    if (rc != 0) {
        free(s);
        return rc;
    }
    s->conn = conn;
    s->sink = sink;
    s->ctx = ctx;
    s->next = srv->feeds;
    if (srv->feeds != NULL) {
        srv->feeds->prev = s;
    }
    srv->feeds = s;
    srv->sub_count++;
    srv->sub_catching_up++;
    *out = s;
    return 0;
}

void srv_feed_start(srv_t *srv, srv_feed_t *feed) {
    feed->last_write_ns = srv_now_ns();
    schedule(srv, feed);
}

void srv_feed_free(srv_t *srv) {
    if (srv->feed_timer != NULL) {
        event_free(srv->feed_timer);
        srv->feed_timer = NULL;
    }
    if (srv->feed_work_ev != NULL) {
        event_free(srv->feed_work_ev);
        srv->feed_work_ev = NULL;
    }
}
