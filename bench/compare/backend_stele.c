/*
 * backend_stele.c -- Stele in-process for stele-compare: libstele through its public API only
 * (stele.h), durability STELE_DURABILITY_SYNC, one store per environment shared by every client.
 *
 * A connection is only a conversion buffer (bevent_t -> stele_event_in_t): libstele itself is
 * thread-safe, so clients call the store directly, as an application embedding it would.
 */
#include "backend.h"
#include "proc.h"

#include <stele.h>

#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct benv {
    stele_store_t *store;
    char dir[PATH_MAX];
};

struct bconn {
    stele_store_t *store;
    stele_event_in_t *events; /* conversion buffer, grown as needed */
    size_t events_cap;
    stele_append_part_t *parts;
    size_t parts_cap;
};

struct bsub {
    stele_subscription_t *sub;
    bdeliver_fn fn;
    void *arg;
    pthread_t thread;
};

static int stele_error(char *err, const char *what, int rc) {
    return backend_fail(err, "%s: %s (%s)", what, stele_strerror(rc), stele_errdetail());
}

static bool sb_available(char *err) {
    (void)err;
    return true; /* linked in */
}

static int open_store(benv_t *env, char *err) {
    stele_options_t o;
    stele_options_init(&o);
    o.flags = STELE_OPEN_CREATE;
    o.durability = STELE_DURABILITY_SYNC;
    int rc = stele_store_open(env->dir, &o, &env->store);
    if (rc != 0) {
        env->store = NULL;
        return stele_error(err, "opening the store", rc);
    }
    return 0;
}

static int sb_setup(const char *dir, benv_t **out, char *err) {
    benv_t *env = calloc(1, sizeof *env);
    if (!env) {
        return backend_fail(err, "out of memory");
    }
    int n = snprintf(env->dir, sizeof env->dir, "%s", dir);
    if (n < 0 || (size_t)n >= sizeof env->dir) {
        free(env);
        return backend_fail(err, "directory name too long: %s", dir);
    }
    if (open_store(env, err) != 0) {
        free(env);
        return -1;
    }
    *out = env;
    return 0;
}

static void sb_teardown(benv_t *env) {
    if (env) {
        if (env->store) {
            stele_store_close(env->store);
        }
        free(env);
    }
}

static int sb_reopen(benv_t *env, char *err) {
    int rc = stele_store_close(env->store);
    env->store = NULL;
    if (rc != 0) {
        return stele_error(err, "closing the store", rc);
    }
    return open_store(env, err);
}

/* In-process: the benchmark's own resident memory, store included. */
static uint64_t sb_rss_kib(benv_t *env) {
    (void)env;
    return proc_pid_rss_kib(getpid());
}

static int sb_connect(benv_t *env, bconn_t **out, char *err) {
    bconn_t *c = calloc(1, sizeof *c);
    if (!c) {
        return backend_fail(err, "out of memory");
    }
    c->store = env->store;
    *out = c;
    return 0;
}

static void sb_disconnect(bconn_t *c) {
    if (c) {
        free(c->events);
        free(c->parts);
        free(c);
    }
}

static int64_t to_stele_expected(int64_t expected) {
    switch (expected) {
    case EXPECT_ANY: return STELE_EXPECT_ANY;
    case EXPECT_NO_STREAM: return STELE_EXPECT_NO_STREAM;
    default: return expected;
    }
}

/* Makes room for n events in the conversion buffer. */
static int reserve_events(bconn_t *c, size_t n, char *err) {
    if (n <= c->events_cap) {
        return 0;
    }
    stele_event_in_t *grown = realloc(c->events, n * sizeof *grown);
    if (!grown) {
        return backend_fail(err, "out of memory for %zu events", n);
    }
    c->events = grown;
    c->events_cap = n;
    return 0;
}

static void convert(stele_event_in_t *dst, const bevent_t *src, size_t n) {
    memset(dst, 0, n * sizeof *dst);
    for (size_t i = 0; i < n; i++) {
        dst[i].type = src[i].type;
        dst[i].data = src[i].data;
        dst[i].data_len = src[i].data_len;
    }
}

static int sb_append(bconn_t *c, const char *stream, int64_t expected, const bevent_t *events,
                     size_t count, int64_t *last_version, char *err) {
    if (reserve_events(c, count, err) != 0) {
        return -1;
    }
    convert(c->events, events, count);
    stele_append_result_t res;
    int rc = stele_append(c->store, stream, to_stele_expected(expected), c->events, count, &res);
    if (rc == STELE_ECONFLICT) {
        /* beyond backend.h: the stream's actual version, so a racing client need not re-read */
        if (last_version) {
            *last_version = res.actual_version;
        }
        return BACKEND_CONFLICT;
    }
    if (rc != 0) {
        return stele_error(err, "append", rc);
    }
    if (last_version) {
        *last_version = res.last_version;
    }
    return 0;
}

static int sb_commit(bconn_t *c, const bpart_t *parts, size_t nparts, char *err) {
    size_t total = 0;
    for (size_t i = 0; i < nparts; i++) {
        total += parts[i].count;
    }
    if (reserve_events(c, total, err) != 0) {
        return -1;
    }
    if (nparts > c->parts_cap) {
        stele_append_part_t *grown = realloc(c->parts, nparts * sizeof *grown);
        if (!grown) {
            return backend_fail(err, "out of memory for %zu parts", nparts);
        }
        c->parts = grown;
        c->parts_cap = nparts;
    }
    size_t at = 0;
    for (size_t i = 0; i < nparts; i++) {
        convert(c->events + at, parts[i].events, parts[i].count);
        memset(&c->parts[i], 0, sizeof c->parts[i]);
        c->parts[i].stream = parts[i].stream;
        c->parts[i].expected_version = to_stele_expected(parts[i].expected);
        c->parts[i].events = c->events + at;
        c->parts[i].count = parts[i].count;
        at += parts[i].count;
    }
    int rc = stele_commit(c->store, c->parts, nparts, NULL);
    if (rc == STELE_ECONFLICT) {
        return BACKEND_CONFLICT;
    }
    return rc == 0 ? 0 : stele_error(err, "commit", rc);
}

/* Reads r to its end, counting events and data bytes. */
static int drain(stele_reader_t *r, uint64_t *events, uint64_t *bytes, char *err) {
    stele_event_t ev;
    int rc;
    uint64_t n = 0, b = 0;
    while ((rc = stele_reader_next(r, &ev)) == 1) {
        n++;
        b += ev.data_len;
    }
    stele_reader_close(r);
    if (rc != 0) {
        return stele_error(err, "reading", rc);
    }
    *events += n;
    *bytes += b;
    return 0;
}

static int sb_read_all(bconn_t *c, uint64_t *events, uint64_t *bytes, char *err) {
    stele_reader_t *r = NULL;
    int rc = stele_read_all(c->store, NULL, &r);
    if (rc != 0) {
        return stele_error(err, "opening a $all reader", rc);
    }
    return drain(r, events, bytes, err);
}

static int sb_read_stream(bconn_t *c, const char *stream, size_t *count, char *err) {
    stele_reader_t *r = NULL;
    *count = 0;
    int rc = stele_read_stream(c->store, stream, 0, STELE_FORWARD, 0, &r);
    if (rc == STELE_ENOTFOUND) {
        return 0; /* no stream: no events */
    }
    if (rc != 0) {
        return stele_error(err, "opening a stream reader", rc);
    }
    uint64_t n = 0, bytes = 0;
    rc = drain(r, &n, &bytes, err);
    *count = (size_t)n;
    return rc;
}

static void *deliver_main(void *arg) {
    bsub_t *s = arg;
    for (;;) {
        stele_event_t ev;
        int rc = stele_subscription_next(s->sub, &ev, -1);
        if (rc == STELE_SUB_EVENT) {
            s->fn(s->arg, ev.position, ev.data, ev.data_len);
        } else if (rc == STELE_ECLOSED) {
            break;
        } else if (rc < 0) {
            /* the driver sees the missing deliveries; say why here */
            fprintf(stderr, "stele-compare: stele subscription: %s (%s)\n", stele_strerror(rc),
                    stele_errdetail());
            break;
        }
    }
    return NULL;
}

static int sb_subscribe(benv_t *env, bdeliver_fn fn, void *arg, bsub_t **out, char *err) {
    bsub_t *s = calloc(1, sizeof *s);
    if (!s) {
        return backend_fail(err, "out of memory");
    }
    s->fn = fn;
    s->arg = arg;
    stele_subscribe_options_t o;
    stele_subscribe_options_init(&o);
    o.from_end = true;
    int rc = stele_subscribe(env->store, &o, &s->sub);
    if (rc != 0) {
        free(s);
        return stele_error(err, "subscribing", rc);
    }
    int e = pthread_create(&s->thread, NULL, deliver_main, s);
    if (e != 0) {
        stele_subscription_close(s->sub);
        free(s);
        return backend_fail(err, "cannot start the subscriber thread: %s", strerror(e));
    }
    *out = s;
    return 0;
}

static void sb_unsubscribe(bsub_t *s) {
    if (s) {
        stele_subscription_cancel(s->sub);
        pthread_join(s->thread, NULL);
        stele_subscription_close(s->sub);
        free(s);
    }
}

const backend_t backend_stele = {
    .name = "stele",
    .durability = "fdatasync before every acknowledgement (group commit)",
    .available = sb_available,
    .setup = sb_setup,
    .teardown = sb_teardown,
    .connect = sb_connect,
    .disconnect = sb_disconnect,
    .append = sb_append,
    .commit = sb_commit,
    .read_all = sb_read_all,
    .read_stream = sb_read_stream,
    .subscribe = sb_subscribe,
    .unsubscribe = sb_unsubscribe,
    .reopen = sb_reopen,
    .rss_kib = sb_rss_kib,
};
