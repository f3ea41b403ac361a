/*
 * backend.h -- what stele-compare asks of each system it measures.
 *
 * stele-compare runs the same workloads, with the same events and data sizes, against every system
 * that is installed: Stele in-process, Stele over HTTP, a plain SQLite event table, a plain
 * PostgreSQL event table and NATS JetStream. Each system is a backend: one file (backend_<name>.c)
 * that fills in a backend_t. The driver (driver.c, workloads.c) owns the threads, the timing, the
 * statistics and the JSON lines; a backend only moves events.
 *
 * Threading: the driver calls env-level functions (setup, teardown) from its main thread, and
 * gives each client thread its own connection (connect .. disconnect); a connection is used by one
 * thread at a time. Every function returns 0 on success, BACKEND_CONFLICT where stated, and -1 on
 * any other failure after writing a one-line reason into the `err` buffer it was given.
 */
#ifndef STELE_COMPARE_BACKEND_H
#define STELE_COMPARE_BACKEND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define BACKEND_CONFLICT 1 /* the expected version did not match; nothing was written */
#define BACKEND_ERR_CAP 256

/* Expected versions, as in Stele: versions count from 0 within a stream. */
#define EXPECT_ANY (-1)       /* no check */
#define EXPECT_NO_STREAM (-2) /* the stream must not exist */

typedef struct bevent {
    const char *type; /* e.g. "OrderPlaced" */
    const char *data; /* JSON text, data_len bytes, no NUL needed */
    size_t data_len;
} bevent_t;

/* One stream's part of a multi-stream atomic commit. */
typedef struct bpart {
    const char *stream;
    int64_t expected; /* a version >= 0, EXPECT_ANY or EXPECT_NO_STREAM */
    const bevent_t *events;
    size_t count;
} bpart_t;

/* Called by a subscription for every event it delivers, on the backend's own thread or on the
 * thread that called `subscribe_poll`. `position` is the backend's global order (1-based). */
typedef void (*bdeliver_fn)(void *arg, uint64_t position, const char *data, size_t data_len);

typedef struct benv benv_t;   /* a running system with a fresh, empty store (backend-defined) */
typedef struct bconn bconn_t; /* one client's connection (backend-defined) */
typedef struct bsub bsub_t;   /* one live subscription (backend-defined) */

typedef struct backend {
    const char *name;       /* "stele", "stele-http", "sqlite", "postgres", "nats" */
    const char *durability; /* printed beside every figure, e.g. "fdatasync per commit" */

    /* Is the system usable on this machine (libraries and programs present)? When false, `err`
     * says what is missing and the driver reports the system as skipped. */
    bool (*available)(char *err);

    /* Starts the system on a fresh, empty store under `dir` (a directory that exists and is
     * empty; servers are started by the backend on a free loopback port and stopped in teardown)
     * and creates what it needs (schema, stream). */
    int (*setup)(const char *dir, benv_t **out, char *err);
    void (*teardown)(benv_t *env);

    int (*connect)(benv_t *env, bconn_t **out, char *err);
    void (*disconnect)(bconn_t *conn);

    /* Appends `count` events to `stream` atomically if its current version matches `expected`.
     * On success stores the stream version of the last event in *last_version (may be NULL).
     * On BACKEND_CONFLICT stores the stream's actual version there (-1: no stream) when the
     * system reports it, else leaves it unchanged (the driver then reads the stream).
     * Returns BACKEND_CONFLICT when the expectation fails (nothing written). Durable by the
     * backend's stated durability when it returns. */
    int (*append)(bconn_t *conn, const char *stream, int64_t expected, const bevent_t *events,
                  size_t count, int64_t *last_version, char *err);

    /* Atomic append to several streams (all or nothing). NULL when the system has no such thing
     * (the driver reports "unsupported"). */
    int (*commit)(bconn_t *conn, const bpart_t *parts, size_t nparts, char *err);

    /* Reads every event in global order from the start; adds the count and the data bytes read to
     * *events and *bytes. */
    int (*read_all)(bconn_t *conn, uint64_t *events, uint64_t *bytes, char *err);

    /* Reads one whole stream forward; stores its event count in *count. */
    int (*read_stream)(bconn_t *conn, const char *stream, size_t *count, char *err);

    /* Starts a subscription to every event appended after this call (live only). Events are
     * handed to `fn` as they arrive. */
    int (*subscribe)(benv_t *env, bdeliver_fn fn, void *arg, bsub_t **out, char *err);
    void (*unsubscribe)(bsub_t *sub);

    /* Closes the system and opens it again on the same data, as a restart would (a server is
     * stopped as teardown stops it and started again on the same data directory, possibly on
     * another port). Called from the driver's main thread with no connection or subscription
     * open; the driver connects anew afterwards. Returns once the system accepts connections. On
     * failure the environment may only be torn down. NULL when the backend cannot (the driver
     * reports the open time and RSS figures as "unsupported"). */
    int (*reopen)(benv_t *env, char *err);

    /* The resident memory of the system, KiB: of a server's whole process tree, or of this
     * process for an in-process system (which then includes the benchmark itself). 0: unknown.
     * NULL: not reported. */
    uint64_t (*rss_kib)(benv_t *env);
} backend_t;

/* The backends compiled in (backend_<name>.c each define one). A backend whose client library was
 * not found at build time is absent from this list; one whose program is missing at run time says
 * so through `available`. */
extern const backend_t backend_stele;
extern const backend_t backend_stele_http;
extern const backend_t backend_sqlite;
extern const backend_t backend_postgres;
extern const backend_t backend_nats;

/* Writes a formatted reason into err (BACKEND_ERR_CAP bytes) and returns -1. */
int backend_fail(char *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
