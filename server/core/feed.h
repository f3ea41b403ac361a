/*
 * feed.h -- one paced feed of a subscription to a client, for any protocol (feed.c): history,
 * then live events, at the client's pace; slow consumers dropped, heartbeats while idle.
 */
#ifndef STELE_SERVER_FEED_H
#define STELE_SERVER_FEED_H

#include <stdbool.h>
#include <stdint.h>

#include <event2/buffer.h>

#include "conn.h"
#include "srv.h"

typedef struct srv_feed srv_feed_t;

enum { SRV_FEED_NOMEM = 1 };

/* How a protocol frames and writes a feed (all on the loop thread). ctx is what the protocol gave
 * srv_feed_open(). */
typedef struct srv_feed_sink {
    /* Add one event, the caught-up mark (the history is delivered, up to position) or a
     * heartbeat to chunk, in the protocol's framing. */
    void (*event)(struct evbuffer *chunk, const stele_event_t *ev);
    void (*caught_up)(struct evbuffer *chunk, uint64_t position);
    void (*heartbeat)(struct evbuffer *chunk);
    /* Send chunk (drained from it) on the stream. */
    void (*write)(void *ctx, struct evbuffer *chunk);
    /* End the stream, after a final notice when event is not NULL ("dropped" with the reason and
     * the position reached). The feed is freed right after: the protocol forgets it here. */
    void (*end)(void *ctx, const char *event, const char *reason, uint64_t position);
} srv_feed_sink_t;

int srv_feed_init(srv_t *srv);
void srv_feed_free(srv_t *srv);
/* As many feeds as --max-subscribers are open. */
bool srv_feed_full(const srv_t *srv);
/* Subscribe with opts for a stream on conn, written through sink with ctx. Returns 0 with *out,
 * SRV_FEED_NOMEM (no memory for the feed) or a libstele error (nothing open). Call srv_feed_start()
 * once the stream's headers are out. */
int srv_feed_open(srv_t *srv, srv_conn_t *conn, const stele_subscribe_options_t *opts,
                  const srv_feed_sink_t *sink, void *ctx, srv_feed_t **out);
void srv_feed_start(srv_t *srv, srv_feed_t *feed);
/* The store's commit hook woke the loop: every feed pulls. */
void srv_feed_wake_all(srv_t *srv);
/* The connection of feed wrote out all its output: pull more. */
void srv_feed_drained(srv_t *srv, srv_feed_t *feed);
/* The connection of feed closed: free it (the sink is not called). */
void srv_feed_conn_closed(srv_t *srv, srv_feed_t *feed);
/* End every stream quietly (shutdown) and free the feeds. */
void srv_feed_close_all(srv_t *srv);

#endif /* STELE_SERVER_FEED_H */
