/*
 * srv.h -- the server object of steled: one libevent loop over one store, and what the core's
 * modules keep in it. The protocol wings (http/, later grpc/) reach the loop, the store and the
 * settings through it; each module's own state is declared by that module's header.
 *
 * Everything that touches connections, requests or subscribers runs on the loop thread; the
 * store's writer thread (append completions, the commit hook) and worker threads only push
 * completions onto a mutex-protected list and wake the loop (wakeup.c).
 */
#ifndef STELE_SERVER_SRV_H
#define STELE_SERVER_SRV_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include <event2/event.h>

#include "config.h"
#include "stele.h"

typedef struct srv srv_t;
typedef struct srv_conn srv_conn_t;
typedef struct srv_completion srv_completion_t;
typedef struct srv_metrics srv_metrics_t;
typedef struct srv_auth srv_auth_t;
typedef struct srv_feed srv_feed_t;

struct srv {
    srv_config_t *cfg;
    stele_store_t *store;
    struct event_base *base;
    struct evconnlistener *listener;
    struct event *sweep_ev; /* idle and stuck connections */
    void *ssl_ctx;          /* SSL_CTX *, NULL without TLS */
    srv_auth_t *auth;
    struct srv_tickets *tickets; /* subscription tickets (auth.c), made on first use */
    srv_metrics_t *metrics;
    bool closing; /* shutdown started: no new work */

    /* open connections (conn.c) */
    const struct srv_proto *proto; /* what the listener's connections speak */
    srv_conn_t *conns;
    uint64_t conn_count;
    /* accepting (conn.c): a descriptor kept in reserve to refuse connections with when the
     * process has none left, and the timer that resumes accepting after a pause */
    int reserve_fd;
    struct event *accept_timer;
    bool accept_paused;
    uint64_t over_limit_count;    /* open connections beyond --max-connections, being refused */
    uint64_t refused_limit;       /* connections refused over --max-connections */
    uint64_t refused_descriptors; /* connections refused for want of descriptors */

    /* completions (wakeup.c) */
    pthread_mutex_t done_mu;
    srv_completion_t *done_head; /* newest first; guarded by done_mu */
    int done_fd, commit_fd;      /* eventfds written by other threads (-1 = none) */
    struct event *done_ev;       /* reads done_fd */
    struct event *commit_ev;     /* reads commit_fd: the store's commit hook ran */
    uint64_t in_flight;          /* appends + jobs not yet completed (loop thread) */
    uint64_t jobs_running;

    /* subscription feeds (feed.c) */
    srv_feed_t *feeds;
    uint64_t sub_count;
    uint64_t sub_catching_up; /* feeds still reading their history */
    struct event *feed_timer;
    srv_feed_t *feed_work_head, *feed_work_tail; /* feeds to pull from, in turn */
    struct event *feed_work_ev;                  /* serves one turn of that queue */
};

/* The monotonic clock in nanoseconds. */
static inline uint64_t srv_now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

#endif /* STELE_SERVER_SRV_H */
