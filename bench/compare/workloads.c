/*
 * workloads.c -- the workloads of stele-compare, identical for every system and driven through
 * backend_t only (see README.md for the figures they produce).
 *
 * Every event is an `OrderPlaced` with the same 200 bytes of JSON data for every system; streams
 * are named order-<n>. A client appends only to streams it owns and knows their versions, so
 * every append carries the exact expected version, as an event-sourced application's would. The
 * one exception is the conflict workload, where 8 clients race on one stream on purpose.
 *
 * Order on the main store: preload (streams x 10-event streams), readstream and readall (so every
 * system reads exactly the same data), then the appends (each run on fresh streams), commit,
 * conflict and subscribe. Growth runs on a fresh store of its own.
 */
#include "compare.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define EVENT_TYPE "OrderPlaced"
#define DATA_BYTES 200u
#define BATCH_EVENTS 100u     /* events per append in the batch and growth workloads */
#define COMMIT_STREAMS 4u     /* streams per commit in the commit workload */
#define OWN_STREAMS 1024u     /* streams each client of an append workload cycles through */
#define LOAD_CLIENTS 8u       /* clients of the batch, commit, conflict, preload and growth work */
#define PRELOAD_PARTS 10u     /* streams per preload commit (when the system has commits) */
#define GROWTH_CHUNK 1000000u /* growth events between two progress lines */
#define SUB_INTERVAL_NS 1000000u /* the subscription workload appends every ~1 ms */
#define SUB_DRAIN_S 5.0          /* how long the subscriber may take for the last events */

static const unsigned APPEND_CLIENTS[] = {1, 8, 64, 256};
#define NAPPEND_CLIENTS (sizeof APPEND_CLIENTS / sizeof APPEND_CLIENTS[0])

const char *const cmp_workloads[] = {"readstream", "readall",  "append",    "batch",
                                     "commit",     "conflict", "subscribe", "growth"};
const size_t cmp_nworkloads = sizeof cmp_workloads / sizeof cmp_workloads[0];

bool cmp_selected(const cmp_config_t *cfg, const char *name) {
    return !cfg->only || cli_list_has(cfg->only, name);
}

/* --- events ------------------------------------------------------------------------------------
 */

static char event_data[BATCH_EVENTS][DATA_BYTES];
static bevent_t events[BATCH_EVENTS];

/* Fills buf with exactly DATA_BYTES of JSON: an order, padded with a note. */
static void order_json(char *buf, uint64_t i) {
    char head[DATA_BYTES];
    unsigned long long n = (unsigned long long)i;
    int len = snprintf(head, sizeof head,
                       "{\"order_id\":%llu,\"customer\":\"customer-%05llu\",\"total_cents\":%llu,"
                       "\"currency\":\"EUR\",\"lines\":%llu,\"note\":\"",
                       n + 1000, (n * 7919u) % 100000u, (n * 31u) % 90000u + 500u, n % 7u + 1u);
    size_t at = len < 0 ? 0 : (size_t)len;
    memcpy(buf, head, at);
    while (at < DATA_BYTES - 2) {
        buf[at++] = '.';
    }
    buf[at++] = '"';
    buf[at] = '}';
}

int cmp_workloads_init(void) {
    for (size_t i = 0; i < BATCH_EVENTS; i++) {
        order_json(event_data[i], i);
        events[i].type = EVENT_TYPE;
        events[i].data = event_data[i];
        events[i].data_len = DATA_BYTES;
    }
    return 0;
}

static void stream_name(char *buf, size_t cap, uint64_t n) {
    snprintf(buf, cap, "order-%llu", (unsigned long long)n);
}

/* The expected version of the next append to a stream whose last version is `version`. */
static int64_t expect_after(int64_t version) { return version < 0 ? EXPECT_NO_STREAM : version; }

/* --- reporting helpers --------------------------------------------------------------------------
 */

typedef void (*figure_fn)(void *arg, const char *name, const char *unit);

/* Calls fn for every figure of workload w (names and units as in README.md). */
static void each_figure(const cmp_config_t *cfg, const char *w, figure_fn fn, void *arg) {
    char name[64];
    if (strcmp(w, "append") == 0) {
        for (size_t i = 0; i < NAPPEND_CLIENTS; i++) {
            snprintf(name, sizeof name, "append.%uclients.rate", APPEND_CLIENTS[i]);
            fn(arg, name, "events/s");
            snprintf(name, sizeof name, "append.%uclients.p50", APPEND_CLIENTS[i]);
            fn(arg, name, "us");
            snprintf(name, sizeof name, "append.%uclients.p99", APPEND_CLIENTS[i]);
            fn(arg, name, "us");
        }
    } else if (strcmp(w, "batch") == 0) {
        fn(arg, "batch.8x100.rate", "events/s");
        fn(arg, "batch.8x100.bandwidth", "MB/s");
    } else if (strcmp(w, "commit") == 0) {
        fn(arg, "commit.8x4streams.rate", "commits/s");
    } else if (strcmp(w, "conflict") == 0) {
        fn(arg, "conflict.8clients.rate", "appends/s");
        fn(arg, "conflict.8clients.conflict_ratio", "fraction");
    } else if (strcmp(w, "readall") == 0) {
        fn(arg, "readall.rate", "events/s");
        fn(arg, "readall.bandwidth", "MB/s");
    } else if (strcmp(w, "readstream") == 0) {
        fn(arg, "readstream.p50", "us");
        fn(arg, "readstream.p99", "us");
    } else if (strcmp(w, "subscribe") == 0) {
        fn(arg, "subscribe.p50", "us");
        fn(arg, "subscribe.p99", "us");
    } else if (strcmp(w, "growth") == 0) {
        for (size_t i = 0; i < cfg->ncheckpoints; i++) {
            char label[32];
            count_label(cfg->checkpoints[i], label, sizeof label);
            snprintf(name, sizeof name, "growth.%s.rate", label);
            fn(arg, name, "events/s");
            snprintf(name, sizeof name, "growth.%s.readstream_p99", label);
            fn(arg, name, "us");
            snprintf(name, sizeof name, "growth.%s.disk", label);
            fn(arg, name, "MiB");
            snprintf(name, sizeof name, "growth.%s.open_time", label);
            fn(arg, name, "ms");
            snprintf(name, sizeof name, "growth.%s.rss", label);
            fn(arg, name, "MiB");
        }
    }
}

typedef struct status_arg {
    const backend_t *b;
    fig_status_t status;
    const char *message;
} status_arg_t;

static void emit_status(void *arg, const char *name, const char *unit) {
    const status_arg_t *s = arg;
    cmp_report_figure(s->b->name, s->b->durability, name, s->status, NAN, unit, 0, s->message);
}

/* Reports every figure of workload w with status st. */
static void workload_status(const backend_t *b, const cmp_config_t *cfg, const char *w,
                            fig_status_t st, const char *message) {
    status_arg_t s = {.b = b, .status = st, .message = message};
    each_figure(cfg, w, emit_status, &s);
}

void cmp_workloads_fail(const backend_t *b, const cmp_config_t *cfg, bool growth,
                        const char *message) {
    for (size_t i = 0; i < cmp_nworkloads; i++) {
        const char *w = cmp_workloads[i];
        if ((strcmp(w, "growth") == 0) == growth && cmp_selected(cfg, w)) {
            workload_status(b, cfg, w, FIG_ERROR, message);
        }
    }
}

static void report_ok(const cmp_system_t *sys, const char *name, const double *v, int n,
                      const char *unit) {
    cmp_report_figure(sys->b->name, sys->b->durability, name, FIG_OK, median(v, (size_t)n), unit, n,
                      NULL);
}

static void report_error(const cmp_system_t *sys, const char *name, const char *unit,
                         const char *message) {
    cmp_report_figure(sys->b->name, sys->b->durability, name, FIG_ERROR, NAN, unit, 0, message);
}

/* --- preload: `streams` streams of events/streams events each ------------------------------------
 */

typedef struct preload {
    const cmp_system_t *sys;
    uint64_t streams;
    size_t per_stream;
} preload_t;

static int preload_commit(client_t *c, uint64_t k) {
    const preload_t *p = c->ctx;
    char names[PRELOAD_PARTS][32];
    bpart_t parts[PRELOAD_PARTS];
    size_t n = 0;
    for (uint64_t s = k * PRELOAD_PARTS; s < p->streams && n < PRELOAD_PARTS; s++, n++) {
        stream_name(names[n], sizeof names[n], s);
        parts[n] = (bpart_t){.stream = names[n],
                             .expected = EXPECT_NO_STREAM,
                             .events = events,
                             .count = p->per_stream};
    }
    int rc = c->b->commit(c->conn, parts, n, c->err);
    if (rc == BACKEND_CONFLICT) {
        return backend_fail(c->err, "preload commit %llu: unexpected conflict on new streams",
                            (unsigned long long)k);
    }
    return rc;
}

static int preload_append(client_t *c, uint64_t k) {
    const preload_t *p = c->ctx;
    char name[32];
    stream_name(name, sizeof name, k);
    int rc = c->b->append(c->conn, name, EXPECT_NO_STREAM, events, p->per_stream, NULL, c->err);
    if (rc == BACKEND_CONFLICT) {
        return backend_fail(c->err, "preload of %s: unexpected conflict on a new stream", name);
    }
    return rc;
}

/* Returns the number of events preloaded, or 0 after reporting the failure. */
static uint64_t preload(cmp_system_t *sys, size_t *per_stream) {
    const cmp_config_t *cfg = sys->cfg;
    const backend_t *b = sys->b;
    preload_t p = {.sys = sys, .streams = cfg->streams};
    uint64_t per = cfg->streams ? cfg->events / cfg->streams : 0;
    p.per_stream = per < 1 ? 1 : per > BATCH_EVENTS ? BATCH_EVENTS : (size_t)per;
    *per_stream = p.per_stream;
    uint64_t total = p.streams * p.per_stream;
    char err[BACKEND_ERR_CAP] = "";
    if (!b->commit && !b->append) {
        cmp_workloads_fail(b, cfg, false, "the backend can neither append nor commit");
        return 0;
    }
    bool by_commit = b->commit != NULL;
    uint64_t units = by_commit ? (p.streams + PRELOAD_PARTS - 1) / PRELOAD_PARTS : p.streams;
    fprintf(stderr, "[%s] preloading %llu events over %llu streams (%u clients, %s)...\n", b->name,
            (unsigned long long)total, (unsigned long long)p.streams, LOAD_CLIENTS,
            by_commit ? "commits of 10 streams" : "one append per stream");
    double elapsed;
    if (cmp_work_run(b, sys->env, LOAD_CLIENTS, 0, units,
                     by_commit ? preload_commit : preload_append, &p, &elapsed, err) != 0) {
        char msg[BACKEND_ERR_CAP + 16];
        snprintf(msg, sizeof msg, "preload: %s", err);
        fprintf(stderr, "[%s] %s\n", b->name, msg);
        cmp_workloads_fail(b, cfg, false, msg);
        return 0;
    }
    fprintf(stderr, "[%s] preloaded in %.1f s (%.0f events/s)\n", b->name, elapsed,
            (double)total / elapsed);
    sys->next_stream = p.streams;
    return total;
}

/* --- one-stream reads
 * ------------------------------------------------------------------------------ */

typedef struct reads {
    uint64_t streams; /* streams order-0 .. order-(streams-1) exist */
    size_t want;      /* the count every read must return, or 0 for "at least one" */
} reads_t;

static int op_read_stream(client_t *c, uint64_t *units) {
    const reads_t *r = c->ctx;
    char name[32];
    stream_name(name, sizeof name, cmp_rand(&c->rng) % r->streams);
    size_t count = 0;
    if (c->b->read_stream(c->conn, name, &count, c->err) != 0) {
        return -1;
    }
    if (r->want ? count != r->want : count == 0) {
        return backend_fail(c->err, "reading %s returned %zu events, expected %zu", name, count,
                            r->want);
    }
    *units = count;
    return 0;
}

static void workload_readstream(cmp_system_t *sys, size_t per_stream) {
    const cmp_config_t *cfg = sys->cfg;
    if (!sys->b->read_stream) {
        workload_status(sys->b, cfg, "readstream", FIG_UNSUPPORTED, NULL);
        return;
    }
    reads_t r = {.streams = cfg->streams, .want = per_stream};
    double p50[CMP_MAX_RUNS], p99[CMP_MAX_RUNS];
    char err[BACKEND_ERR_CAP] = "";
    for (int run = 0; run < cfg->runs; run++) {
        timed_result_t res;
        if (cmp_timed_run(sys->b, sys->env, 1, cfg->warmup, cfg->seconds, (uint64_t)run + 1,
                          op_read_stream, &r, &res, err) != 0) {
            workload_status(sys->b, cfg, "readstream", FIG_ERROR, err);
            return;
        }
        p50[run] = res.p50_us;
        p99[run] = res.p99_us;
    }
    report_ok(sys, "readstream.p50", p50, cfg->runs, "us");
    report_ok(sys, "readstream.p99", p99, cfg->runs, "us");
}

/* --- reading everything
 * ----------------------------------------------------------------------------- */

static void workload_readall(cmp_system_t *sys, uint64_t preloaded) {
    const cmp_config_t *cfg = sys->cfg;
    const backend_t *b = sys->b;
    if (!b->read_all) {
        workload_status(b, cfg, "readall", FIG_UNSUPPORTED, NULL);
        return;
    }
    char err[BACKEND_ERR_CAP] = "";
    bconn_t *conn = NULL;
    if (b->connect(sys->env, &conn, err) != 0) {
        workload_status(b, cfg, "readall", FIG_ERROR, err);
        return;
    }
    double rate[CMP_MAX_RUNS], mbps[CMP_MAX_RUNS];
    int rc = 0;
    for (int run = 0; run < cfg->runs && rc == 0; run++) {
        uint64_t n = 0, bytes = 0;
        uint64_t t0 = now_ns();
        rc = b->read_all(conn, &n, &bytes, err);
        double s = (double)(now_ns() - t0) / 1e9;
        if (rc == 0 && n != preloaded) {
            rc = backend_fail(err, "read_all returned %llu events, expected the %llu preloaded",
                              (unsigned long long)n, (unsigned long long)preloaded);
        }
        rate[run] = (double)n / s;
        mbps[run] = (double)bytes / s / 1e6;
    }
    b->disconnect(conn);
    if (rc != 0) {
        workload_status(b, cfg, "readall", FIG_ERROR, err);
        return;
    }
    report_ok(sys, "readall.rate", rate, cfg->runs, "events/s");
    report_ok(sys, "readall.bandwidth", mbps, cfg->runs, "MB/s");
}

/* --- appends to a client's own streams
 * -------------------------------------------------------------- */

typedef struct appends {
    uint64_t base; /* client i owns streams base + i * OWN_STREAMS + [0, OWN_STREAMS) */
    size_t batch;  /* events per append */
} appends_t;

static int op_append(client_t *c, uint64_t *units) {
    const appends_t *a = c->ctx;
    uint64_t j = c->k % OWN_STREAMS, round = c->k / OWN_STREAMS;
    char name[32];
    stream_name(name, sizeof name, a->base + (uint64_t)c->id * OWN_STREAMS + j);
    int64_t expected = expect_after((int64_t)(round * a->batch) - 1);
    int rc = c->b->append(c->conn, name, expected, events, a->batch, NULL, c->err);
    if (rc == BACKEND_CONFLICT) {
        return backend_fail(c->err, "unexpected conflict on %s, which only this client writes",
                            name);
    }
    *units = a->batch;
    return rc;
}

static int op_commit(client_t *c, uint64_t *units) {
    const appends_t *a = c->ctx;
    char names[COMMIT_STREAMS][32];
    bpart_t parts[COMMIT_STREAMS];
    for (size_t p = 0; p < COMMIT_STREAMS; p++) {
        uint64_t i = c->k * COMMIT_STREAMS + p;
        stream_name(names[p], sizeof names[p],
                    a->base + (uint64_t)c->id * OWN_STREAMS + i % OWN_STREAMS);
        parts[p] = (bpart_t){.stream = names[p],
                             .expected = expect_after((int64_t)(i / OWN_STREAMS) - 1),
                             .events = &events[p],
                             .count = 1};
    }
    int rc = c->b->commit(c->conn, parts, COMMIT_STREAMS, c->err);
    if (rc == BACKEND_CONFLICT) {
        return backend_fail(c->err, "unexpected conflict in a commit to streams only this "
                                    "client writes");
    }
    *units = 1;
    return rc;
}

/* Runs `runs` timed runs of op with n clients on fresh streams; fills per-run figures. */
static int appends_runs(cmp_system_t *sys, unsigned n, size_t batch, timed_op_fn op,
                        timed_result_t *res, char *err) {
    const cmp_config_t *cfg = sys->cfg;
    for (int run = 0; run < cfg->runs; run++) {
        appends_t a = {.base = sys->next_stream, .batch = batch};
        sys->next_stream += (uint64_t)n * OWN_STREAMS;
        if (cmp_timed_run(sys->b, sys->env, n, cfg->warmup, cfg->seconds, (uint64_t)run + 1, op, &a,
                          &res[run], err) != 0) {
            return -1;
        }
    }
    return 0;
}

static void workload_append(cmp_system_t *sys) {
    const cmp_config_t *cfg = sys->cfg;
    if (!sys->b->append) {
        workload_status(sys->b, cfg, "append", FIG_UNSUPPORTED, NULL);
        return;
    }
    for (size_t i = 0; i < NAPPEND_CLIENTS; i++) {
        unsigned n = APPEND_CLIENTS[i];
        char rate_name[48], p50_name[48], p99_name[48];
        snprintf(rate_name, sizeof rate_name, "append.%uclients.rate", n);
        snprintf(p50_name, sizeof p50_name, "append.%uclients.p50", n);
        snprintf(p99_name, sizeof p99_name, "append.%uclients.p99", n);
        timed_result_t res[CMP_MAX_RUNS];
        char err[BACKEND_ERR_CAP] = "";
        if (appends_runs(sys, n, 1, op_append, res, err) != 0) {
            report_error(sys, rate_name, "events/s", err);
            report_error(sys, p50_name, "us", err);
            report_error(sys, p99_name, "us", err);
            continue;
        }
        double rate[CMP_MAX_RUNS], p50[CMP_MAX_RUNS], p99[CMP_MAX_RUNS];
        for (int r = 0; r < cfg->runs; r++) {
            rate[r] = res[r].units_per_s;
            p50[r] = res[r].p50_us;
            p99[r] = res[r].p99_us;
        }
        report_ok(sys, rate_name, rate, cfg->runs, "events/s");
        report_ok(sys, p50_name, p50, cfg->runs, "us");
        report_ok(sys, p99_name, p99, cfg->runs, "us");
    }
}

static void workload_batch(cmp_system_t *sys) {
    const cmp_config_t *cfg = sys->cfg;
    if (!sys->b->append) {
        workload_status(sys->b, cfg, "batch", FIG_UNSUPPORTED, NULL);
        return;
    }
    timed_result_t res[CMP_MAX_RUNS];
    char err[BACKEND_ERR_CAP] = "";
    if (appends_runs(sys, LOAD_CLIENTS, BATCH_EVENTS, op_append, res, err) != 0) {
        workload_status(sys->b, cfg, "batch", FIG_ERROR, err);
        return;
    }
    double rate[CMP_MAX_RUNS], mbps[CMP_MAX_RUNS];
    for (int r = 0; r < cfg->runs; r++) {
        rate[r] = res[r].units_per_s;
        mbps[r] = res[r].units_per_s * DATA_BYTES / 1e6;
    }
    report_ok(sys, "batch.8x100.rate", rate, cfg->runs, "events/s");
    report_ok(sys, "batch.8x100.bandwidth", mbps, cfg->runs, "MB/s");
}

static void workload_commit(cmp_system_t *sys) {
    const cmp_config_t *cfg = sys->cfg;
    if (!sys->b->commit) {
        workload_status(sys->b, cfg, "commit", FIG_UNSUPPORTED, NULL);
        return;
    }
    timed_result_t res[CMP_MAX_RUNS];
    char err[BACKEND_ERR_CAP] = "";
    if (appends_runs(sys, LOAD_CLIENTS, 1, op_commit, res, err) != 0) {
        workload_status(sys->b, cfg, "commit", FIG_ERROR, err);
        return;
    }
    double rate[CMP_MAX_RUNS];
    for (int r = 0; r < cfg->runs; r++) {
        rate[r] = res[r].ops_per_s;
    }
    report_ok(sys, "commit.8x4streams.rate", rate, cfg->runs, "commits/s");
}

/* --- conflicts: 8 clients, one stream
 * --------------------------------------------------------------- */

/* A value no backend stores as a version: tells whether the backend reported the actual version
 * of the stream with BACKEND_CONFLICT (stele and sqlite do; the others may not). */
#define VERSION_UNKNOWN INT64_MIN

typedef struct contest {
    char stream[32];
} contest_t;

static int op_conflict(client_t *c, uint64_t *units) {
    const contest_t *t = c->ctx;
    int64_t version = VERSION_UNKNOWN;
    int rc =
        c->b->append(c->conn, t->stream, expect_after(c->version), events, 1, &version, c->err);
    if (rc == 0) {
        c->version = version;
        *units = 1;
        return 0;
    }
    if (rc != BACKEND_CONFLICT) {
        return rc;
    }
    if (version == VERSION_UNKNOWN) {
        /* the backend did not say: re-read the stream, as a client without that answer must */
        size_t count = 0;
        if (!c->b->read_stream) {
            return backend_fail(c->err, "a conflict, and no way to learn the stream's version");
        }
        if (c->b->read_stream(c->conn, t->stream, &count, c->err) != 0) {
            return -1;
        }
        version = (int64_t)count - 1;
    }
    c->version = version;
    return BACKEND_CONFLICT;
}

static void workload_conflict(cmp_system_t *sys) {
    const cmp_config_t *cfg = sys->cfg;
    if (!sys->b->append) {
        workload_status(sys->b, cfg, "conflict", FIG_UNSUPPORTED, NULL);
        return;
    }
    double rate[CMP_MAX_RUNS], ratio[CMP_MAX_RUNS];
    char err[BACKEND_ERR_CAP] = "";
    for (int run = 0; run < cfg->runs; run++) {
        contest_t t;
        stream_name(t.stream, sizeof t.stream, sys->next_stream++);
        timed_result_t res;
        if (cmp_timed_run(sys->b, sys->env, LOAD_CLIENTS, cfg->warmup, cfg->seconds,
                          (uint64_t)run + 1, op_conflict, &t, &res, err) != 0) {
            workload_status(sys->b, cfg, "conflict", FIG_ERROR, err);
            return;
        }
        rate[run] = res.ops_per_s;
        ratio[run] = (double)res.conflicts / (double)(res.ops + res.conflicts);
    }
    report_ok(sys, "conflict.8clients.rate", rate, cfg->runs, "appends/s");
    report_ok(sys, "conflict.8clients.conflict_ratio", ratio, cfg->runs, "fraction");
}

/* --- subscription latency
 * ---------------------------------------------------------------------------- */

/* The data of a timed event: {"sent_ns":"<20 digits>","note":"..."} of DATA_BYTES bytes. The time
 * is a string because JSON numbers may not have leading zeros. */
#define SENT_PREFIX "{\"sent_ns\":\""
#define SENT_DIGITS 20u

typedef struct sub_state {
    pthread_mutex_t lock;
    lat_vec_t lat;
    uint64_t delivered;    /* timed events seen */
    uint64_t measure_from; /* events sent before this are the warm-up */
} sub_state_t;

static void timed_json(char *buf, uint64_t sent) {
    char head[DATA_BYTES];
    int len =
        snprintf(head, sizeof head, SENT_PREFIX "%020llu\",\"note\":\"", (unsigned long long)sent);
    size_t at = len < 0 ? 0 : (size_t)len;
    memcpy(buf, head, at);
    while (at < DATA_BYTES - 2) {
        buf[at++] = '.';
    }
    buf[at++] = '"';
    buf[at] = '}';
}

static void on_event(void *arg, uint64_t position, const char *data, size_t len) {
    uint64_t now = now_ns();
    sub_state_t *s = arg;
    (void)position;
    size_t plen = sizeof SENT_PREFIX - 1;
    if (len < plen + SENT_DIGITS || memcmp(data, SENT_PREFIX, plen) != 0) {
        return; /* not one of ours */
    }
    uint64_t sent = 0;
    for (size_t i = 0; i < SENT_DIGITS; i++) {
        char d = data[plen + i];
        if (d < '0' || d > '9') {
            return;
        }
        sent = sent * 10 + (uint64_t)(d - '0');
    }
    pthread_mutex_lock(&s->lock);
    s->delivered++;
    if (sent >= s->measure_from) {
        lat_push(&s->lat, now > sent ? now - sent : 0);
    }
    pthread_mutex_unlock(&s->lock);
}

static uint64_t delivered(sub_state_t *s) {
    pthread_mutex_lock(&s->lock);
    uint64_t n = s->delivered;
    pthread_mutex_unlock(&s->lock);
    return n;
}

static void sleep_until(uint64_t t) {
    uint64_t now = now_ns();
    if (t > now) {
        sleep_seconds((double)(t - now) / 1e9);
    }
}

/* One run: subscribe, append one timed event every ~1 ms for warmup + seconds, wait for the last
 * deliveries. Returns 0 with the percentiles, or -1 with err filled. */
static int subscribe_run(cmp_system_t *sys, double *p50, double *p99, char *err) {
    const cmp_config_t *cfg = sys->cfg;
    const backend_t *b = sys->b;
    sub_state_t s = {0};
    pthread_mutex_init(&s.lock, NULL);
    bconn_t *conn = NULL;
    bsub_t *sub = NULL;
    int rc = b->connect(sys->env, &conn, err);
    if (rc != 0) {
        goto done;
    }
    char stream[32];
    stream_name(stream, sizeof stream, sys->next_stream++);
    uint64_t start = now_ns();
    pthread_mutex_lock(&s.lock);
    s.measure_from = start + (uint64_t)(cfg->warmup * 1e9);
    pthread_mutex_unlock(&s.lock);
    rc = b->subscribe(sys->env, on_event, &s, &sub, err);
    if (rc != 0) {
        goto done;
    }
    uint64_t end = s.measure_from + (uint64_t)(cfg->seconds * 1e9);
    uint64_t appended = 0, next = now_ns();
    int64_t version = -1;
    char data[DATA_BYTES];
    bevent_t ev = {.type = EVENT_TYPE, .data = data, .data_len = DATA_BYTES};
    while (next < end) {
        sleep_until(next);
        timed_json(data, now_ns());
        rc = b->append(conn, stream, expect_after(version), &ev, 1, &version, err);
        if (rc != 0) {
            if (rc == BACKEND_CONFLICT) {
                rc = backend_fail(err, "unexpected conflict on %s, which only this client writes",
                                  stream);
            }
            goto done;
        }
        appended++;
        uint64_t now = now_ns();
        next += SUB_INTERVAL_NS;
        if (next < now) {
            next = now; /* behind: do not burst to catch up */
        }
    }
    uint64_t deadline = now_ns() + (uint64_t)(SUB_DRAIN_S * 1e9);
    while (delivered(&s) < appended && now_ns() < deadline) {
        sleep_seconds(0.001);
    }
    uint64_t got = delivered(&s);
    if (got != appended) {
        rc = backend_fail(err, "the subscriber received %llu of the %llu events appended",
                          (unsigned long long)got, (unsigned long long)appended);
        goto done;
    }
    b->unsubscribe(sub);
    sub = NULL;
    if (s.lat.n == 0) {
        rc = backend_fail(err, "no event was delivered in the measured window");
        goto done;
    }
    *p50 = (double)lat_percentile(&s.lat, 50) / 1e3;
    *p99 = (double)lat_percentile(&s.lat, 99) / 1e3;
done:
    if (sub) {
        b->unsubscribe(sub);
    }
    if (conn) {
        b->disconnect(conn);
    }
    lat_free(&s.lat);
    pthread_mutex_destroy(&s.lock);
    return rc == 0 ? 0 : -1;
}

static void workload_subscribe(cmp_system_t *sys) {
    const cmp_config_t *cfg = sys->cfg;
    if (!sys->b->subscribe || !sys->b->unsubscribe || !sys->b->append) {
        workload_status(sys->b, cfg, "subscribe", FIG_UNSUPPORTED, NULL);
        return;
    }
    double p50[CMP_MAX_RUNS], p99[CMP_MAX_RUNS];
    char err[BACKEND_ERR_CAP] = "";
    for (int run = 0; run < cfg->runs; run++) {
        if (subscribe_run(sys, &p50[run], &p99[run], err) != 0) {
            workload_status(sys->b, cfg, "subscribe", FIG_ERROR, err);
            return;
        }
    }
    report_ok(sys, "subscribe.p50", p50, cfg->runs, "us");
    report_ok(sys, "subscribe.p99", p99, cfg->runs, "us");
}

void cmp_workloads_main(cmp_system_t *sys) {
    const cmp_config_t *cfg = sys->cfg;
    size_t per_stream = 0;
    uint64_t preloaded = preload(sys, &per_stream);
    if (preloaded == 0) {
        return; /* reported */
    }
    static const struct {
        const char *name;
        const char *what;
    } order[] = {
        {"readstream", "random one-stream reads"},
        {"readall", "reading every event"},
        {"append", "appends of 1 event by 1, 8, 64 and 256 clients"},
        {"batch", "appends of 100 events by 8 clients"},
        {"commit", "4-stream commits by 8 clients"},
        {"conflict", "8 clients appending to one stream"},
        {"subscribe", "subscription latency"},
    };
    for (size_t i = 0; i < sizeof order / sizeof order[0]; i++) {
        if (!cmp_selected(cfg, order[i].name)) {
            continue;
        }
        fprintf(stderr, "[%s] %s...\n", sys->b->name, order[i].what);
        switch (i) {
        case 0: workload_readstream(sys, per_stream); break;
        case 1: workload_readall(sys, preloaded); break;
        case 2: workload_append(sys); break;
        case 3: workload_batch(sys); break;
        case 4: workload_commit(sys); break;
        case 5: workload_conflict(sys); break;
        default: workload_subscribe(sys); break;
        }
    }
}

/* --- growth
 * --------------------------------------------------------------------------------------- */

typedef struct growth {
    uint64_t
        streams; /* a multiple of LOAD_CLIENTS, so stream k % streams is owned by client k % 8 */
} growth_t;

static int op_growth(client_t *c, uint64_t k) {
    const growth_t *g = c->ctx;
    char name[32];
    stream_name(name, sizeof name, k % g->streams);
    int64_t expected = expect_after((int64_t)((k / g->streams) * BATCH_EVENTS) - 1);
    int rc = c->b->append(c->conn, name, expected, events, BATCH_EVENTS, NULL, c->err);
    if (rc == BACKEND_CONFLICT) {
        return backend_fail(c->err, "unexpected conflict on %s, which only this client writes",
                            name);
    }
    return rc;
}

/* growth.<label>.open_time and .rss: closes the system and opens it again on the same data
 * (b->reopen), connects and reads one stream of the `streams` written (the first answer), timing
 * all of it; then the system's resident memory. Returns -1 when the system could not be reopened
 * (both figures reported as errors), else 0. */
static int growth_reopen(cmp_system_t *sys, const char *label, uint64_t streams) {
    const backend_t *b = sys->b;
    char open_name[64], rss_name[64], err[BACKEND_ERR_CAP] = "";
    snprintf(open_name, sizeof open_name, "growth.%s.open_time", label);
    snprintf(rss_name, sizeof rss_name, "growth.%s.rss", label);
    if (!b->reopen || !b->read_stream) {
        cmp_report_figure(b->name, b->durability, open_name, FIG_UNSUPPORTED, NAN, "ms", 0, NULL);
        cmp_report_figure(b->name, b->durability, rss_name, FIG_UNSUPPORTED, NAN, "MiB", 0, NULL);
        return 0;
    }
    char stream[32];
    stream_name(stream, sizeof stream, streams > 0 ? streams / 2 : 0);
    bconn_t *conn = NULL;
    size_t count = 0;
    uint64_t t0 = now_ns();
    int rc = b->reopen(sys->env, err);
    if (rc == 0) {
        rc = b->connect(sys->env, &conn, err);
    }
    if (rc == 0) {
        rc = b->read_stream(conn, stream, &count, err);
    }
    uint64_t t1 = now_ns();
    if (conn) {
        b->disconnect(conn);
    }
    if (rc == 0 && count == 0 && streams > 0) {
        rc = backend_fail(err, "after reopening, %s reads as empty", stream);
    }
    if (rc != 0) {
        char msg[BACKEND_ERR_CAP + 32];
        snprintf(msg, sizeof msg, "reopening: %s", err);
        fprintf(stderr, "[%s] growth: %s\n", b->name, msg);
        report_error(sys, open_name, "ms", msg);
        report_error(sys, rss_name, "MiB", msg);
        return -1;
    }
    double ms = (double)(t1 - t0) / 1e6;
    report_ok(sys, open_name, &ms, 1, "ms");
    uint64_t kib = b->rss_kib ? b->rss_kib(sys->env) : 0;
    if (kib == 0) {
        cmp_report_figure(b->name, b->durability, rss_name, FIG_UNSUPPORTED, NAN, "MiB", 0,
                          b->rss_kib ? "the resident memory could not be read" : NULL);
    } else {
        double mib = (double)kib / 1024.0;
        report_ok(sys, rss_name, &mib, 1, "MiB");
    }
    return 0;
}

void cmp_workloads_growth(cmp_system_t *sys) {
    const cmp_config_t *cfg = sys->cfg;
    const backend_t *b = sys->b;
    if (!b->append) {
        workload_status(b, cfg, "growth", FIG_UNSUPPORTED, NULL);
        return;
    }
    growth_t g = {.streams = (cfg->streams + LOAD_CLIENTS - 1) / LOAD_CLIENTS * LOAD_CLIENTS};
    uint64_t done = 0; /* batches appended so far */
    char err[BACKEND_ERR_CAP] = "";
    for (size_t i = 0; i < cfg->ncheckpoints; i++) {
        char label[32], name[64];
        count_label(cfg->checkpoints[i], label, sizeof label);
        uint64_t target = cfg->checkpoints[i] / BATCH_EVENTS;
        uint64_t stage_events = (target - done) * BATCH_EVENTS;
        double stage_s = 0;
        int rc = 0;
        while (done < target && rc == 0) {
            uint64_t to = done + GROWTH_CHUNK / BATCH_EVENTS;
            to = to < target ? to : target;
            double s;
            rc = cmp_work_run(b, sys->env, LOAD_CLIENTS, done, to, op_growth, &g, &s, err);
            if (rc == 0) {
                stage_s += s;
                done = to;
                fprintf(stderr, "[%s] growth: %llu events, %.0f events/s in this stage so far\n",
                        b->name, (unsigned long long)(done * BATCH_EVENTS),
                        (double)(stage_events - (target - done) * BATCH_EVENTS) / stage_s);
            }
        }
        if (rc != 0) {
            /* this checkpoint and the later ones cannot be reached */
            for (size_t j = i; j < cfg->ncheckpoints; j++) {
                count_label(cfg->checkpoints[j], label, sizeof label);
                snprintf(name, sizeof name, "growth.%s.rate", label);
                report_error(sys, name, "events/s", err);
                snprintf(name, sizeof name, "growth.%s.readstream_p99", label);
                report_error(sys, name, "us", err);
                snprintf(name, sizeof name, "growth.%s.disk", label);
                report_error(sys, name, "MiB", err);
                snprintf(name, sizeof name, "growth.%s.open_time", label);
                report_error(sys, name, "ms", err);
                snprintf(name, sizeof name, "growth.%s.rss", label);
                report_error(sys, name, "MiB", err);
            }
            return;
        }
        double rate = stage_s > 0 ? (double)stage_events / stage_s : NAN;
        snprintf(name, sizeof name, "growth.%s.rate", label);
        report_ok(sys, name, &rate, 1, "events/s");

        snprintf(name, sizeof name, "growth.%s.readstream_p99", label);
        if (!b->read_stream) {
            cmp_report_figure(b->name, b->durability, name, FIG_UNSUPPORTED, NAN, "us", 0, NULL);
        } else {
            reads_t r = {.streams = done < g.streams ? done : g.streams, .want = 0};
            timed_result_t res;
            if (cmp_timed_run(b, sys->env, 1, cfg->warmup, cfg->seconds, i + 1, op_read_stream, &r,
                              &res, err) != 0) {
                report_error(sys, name, "us", err);
            } else {
                report_ok(sys, name, &res.p99_us, 1, "us");
            }
        }

        snprintf(name, sizeof name, "growth.%s.disk", label);
        double bytes = cmp_disk_bytes(sys->dir);
        if (bytes < 0) {
            report_error(sys, name, "MiB", "cannot measure the directory's size");
        } else {
            double mib = bytes / (1024.0 * 1024.0);
            report_ok(sys, name, &mib, 1, "MiB");
        }

        if (growth_reopen(sys, label, done < g.streams ? done : g.streams) != 0) {
            /* the store cannot be reached any more: neither can the later checkpoints */
            for (size_t j = i + 1; j < cfg->ncheckpoints; j++) {
                count_label(cfg->checkpoints[j], label, sizeof label);
                status_arg_t st = {.b = b, .status = FIG_ERROR, .message = "the reopen failed"};
                static const char *const suffix[] = {"rate", "readstream_p99", "disk", "open_time",
                                                     "rss"};
                static const char *const unit[] = {"events/s", "us", "MiB", "ms", "MiB"};
                for (size_t f = 0; f < sizeof suffix / sizeof suffix[0]; f++) {
                    snprintf(name, sizeof name, "growth.%s.%s", label, suffix[f]);
                    emit_status(&st, name, unit[f]);
                }
            }
            return;
        }
    }
}
