/*
 * sse.c -- GET /subscribe: Server-Sent Events, the HTTP framing of a subscription feed
 * (core/feed.c, which paces it and applies the slow-consumer rules).
 *
 * HEAD /subscribe checks the request as GET does and answers the headers alone.
 *
 * Wire format: `id: <position>` and `data: <event JSON>` per event; `event: caught-up` once the
 * history is delivered; `: heartbeat` comment lines every --heartbeat-ms while idle; a dropped
 * subscriber gets `event: dropped` with the reason and position before the stream ends.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "access.h"
#include "../core/feed.h"
#include "../core/log.h"
#include "../core/metrics.h"
#include "json_io.h"
#include "session.h"
#include "sse.h"

/* ---- the SSE framing of a feed (core/feed.c) -------------------------------------------- */

static void sse_event(struct evbuffer *chunk, const stele_event_t *ev) {
    evbuffer_add_printf(chunk, "id: %" PRIu64 "\ndata: ", ev->position);
    srv_event_json(chunk, ev);
    evbuffer_add(chunk, "\n\n", 2);
}

static void sse_caught_up(struct evbuffer *chunk, uint64_t position) {
    evbuffer_add_printf(chunk, "event: caught-up\ndata: {\"position\":%" PRIu64 "}\n\n", position);
}

static void sse_heartbeat(struct evbuffer *chunk) { evbuffer_add(chunk, ": heartbeat\n\n", 13); }

static void sse_write(void *ctx, struct evbuffer *chunk) { srv_http_stream_write(ctx, chunk); }

static void sse_end(void *ctx, const char *event, const char *reason, uint64_t position) {
    srv_req_t *req = ctx;
    if (event != NULL) {
        struct evbuffer *chunk = evbuffer_new();
        if (chunk != NULL) {
            evbuffer_add_printf(chunk, "event: %s\ndata: ", event);
            evbuffer_add(chunk, "{\"reason\":", 10);
            srv_json_string(chunk, reason, strlen(reason));
            evbuffer_add_printf(chunk, ",\"position\":%" PRIu64 "}\n\n", position);
            srv_http_stream_write(req, chunk);
            evbuffer_free(chunk);
        }
    }
    srv_http_stream_end(req);
    if (req->conn != NULL) {
        srv_http_set_feed(req->conn, NULL);
    }
}

static const srv_feed_sink_t sse_sink = {
    .event = sse_event,
    .caught_up = sse_caught_up,
    .heartbeat = sse_heartbeat,
    .write = sse_write,
    .end = sse_end,
};

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
    if (srv_feed_full(srv)) {
        srv_reply_error(srv, req, "too_many_requests", NULL, "too many subscribers (limit %llu)",
                        (unsigned long long)srv->cfg->max_subscribers);
        return;
    }
    srv_conn_t *conn = req->conn;
    if (conn == NULL) {
        srv_reply_error(srv, req, "internal", NULL, "out of memory");
        return;
    }
    srv_feed_t *feed = NULL;
    int rc = srv_feed_open(srv, conn, &opts, &sse_sink, req, &feed);
    if (rc == SRV_FEED_NOMEM) {
        srv_reply_error(srv, req, "internal", NULL, "out of memory");
        return;
    }
    if (rc != 0) {
        srv_reply_stele_error(srv, req, rc, NULL, NULL);
        return;
    }
    srv_http_set_feed(conn, feed);
    srv_req_add_header(req, "Cache-Control", "no-cache");
    srv_req_add_header(req, "X-Accel-Buffering", "no");
    srv_metrics_request(srv, 200);
    srv_http_stream_start(srv, req, "text/event-stream");
    srv_feed_start(srv, feed);
}
