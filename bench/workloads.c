/*
 * workloads.c -- the libstele workloads of stele-bench, through the public API only.
 *
 * Order of one run (each part only when selected):
 *   1. preload (durability NONE, multi-stream commits of 100 events, several threads) in growth
 *      stages 1M, 10M, 100M ... up to --events; after each stage the store is closed and a fresh
 *      process (this program with --child-open) opens it with durability SYNC and measures the open
 *      time, VmRSS/VmHWM after the open, random one-stream reads, and VmRSS/VmHWM after the reads;
 *   2. the store is reopened in this process with durability SYNC for the durable appends: 1
 * client, 8/64/256 clients x 1 event, 8 clients x 100 events, 8 clients x 4-stream commits;
 *   3. $all is read from the start: the preload plus everything the appends wrote.
 */
#include "bench.h"

#include <stele.h>

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define EVENT_TYPE "OrderPlaced"
#define DATA_BYTES 200u
#define BATCH_EVENTS 100u
#define COMMIT_STREAMS 4u
#define PRELOAD_PARTS 100u /* streams per preload commit (one event each) */
#define PRELOAD_THREADS 4
#define GROWTH_STAGES 8
/* The size the open-time, RSS and read-latency targets are stated for (bench/README.md). */
#define TARGET_EVENTS 10000000u
#define TARGET_STREAMS 1000000u

/* --- events -------------------------------------------------------------------------------- */

/* Write a ~200-byte JSON order into buf (cap >= DATA_BYTES + 1); returns its length. */
static size_t make_data(char *buf, size_t cap, uint64_t order, uint64_t seq) {
    unsigned long long o = (unsigned long long)order, s = (unsigned long long)seq;
    int n = snprintf(buf, cap,
                     "{\"order\":\"order-%llu\",\"customer\":\"customer-%llu\",\"seq\":%llu,"
                     "\"items\":[{\"sku\":\"SKU-%05llu\",\"qty\":%llu,\"price\":%llu}],"
                     "\"currency\":\"EUR\",\"note\":\"",
                     o, o * 7919u % 100000u, s, (o + s) % 100000u, s % 5u + 1u,
                     (o * 31u + s) % 10000u + 100u);
    size_t len = n < 0 ? 0 : (size_t)n;
    if (len > DATA_BYTES - 2) {
        len = DATA_BYTES - 2; /* never happens with these widths; keeps the JSON bounded */
    }
    while (len < DATA_BYTES - 2) {
        buf[len++] = 'x';
    }
    buf[len++] = '"';
    buf[len++] = '}';
    buf[len] = '\0';
    return len;
}

/* count events with distinct data, in one allocation; free with free(). */
static stele_event_in_t *make_events(size_t count, uint64_t seed) {
    size_t each = DATA_BYTES + 1;
    stele_event_in_t *ev = calloc(1, count * (sizeof *ev + each));
    if (!ev) {
        return NULL;
    }
    char *data = (char *)(ev + count);
    for (size_t i = 0; i < count; i++) {
        char *d = data + i * each;
        ev[i].type = EVENT_TYPE;
        ev[i].data = d;
        ev[i].data_len = make_data(d, each, seed + i, i);
    }
    return ev;
}

static void print_error(const char *what, int rc) {
    fprintf(stderr, "stele-bench: %s: %s (%s)\n", what, stele_strerror(rc), stele_errdetail());
}

static stele_store_t *open_store(const char *dir, stele_durability_t durability) {
    stele_options_t o;
    stele_options_init(&o);
    o.flags = STELE_OPEN_CREATE;
    o.durability = durability;
    stele_store_t *store = NULL;
    int rc = stele_store_open(dir, &o, &store);
    if (rc != 0) {
        print_error("opening the store", rc);
        return NULL;
    }
    return store;
}

/* Bytes per event record in the log (from stele_stats), or an estimate when unknown. */
static double record_bytes(stele_store_t *store) {
    stele_stats_t st = {.struct_size = sizeof st};
    if (stele_stats(store, &st) == 0 && st.head_position > 0 && st.log_bytes > 0) {
        return (double)st.log_bytes / (double)st.head_position;
    }
    return 64.0 + 12.0 + sizeof EVENT_TYPE + DATA_BYTES;
}

/* --- throughput driver: N client threads appending for a fixed duration ------------------- */

enum { PHASE_WARMUP = 0, PHASE_MEASURE = 1, PHASE_STOP = 2 };

typedef enum op_kind {
    OP_APPEND, /* stele_append of `batch` events to one stream */
    OP_COMMIT, /* stele_commit of `batch` streams x 1 event */
} op_kind_t;

typedef struct driver {
    stele_store_t *store;
    op_kind_t kind;
    size_t batch;
    const char *tag; /* part of the stream names, one per workload */
    const stele_event_in_t *events;
    bool client_ids; /* each append carries fresh event ids of the client's own */
    uint64_t nonce;  /* makes this run's ids differ from every other run's */
    atomic_int phase;
} driver_t;

typedef struct worker {
    pthread_t thread;
    driver_t *d;
    unsigned id;
    atomic_uint_fast64_t ops;
    atomic_uint_fast64_t events;
    lat_vec_t lat;
    int err;
    char detail[256];
} worker_t;

/* splitmix64: distinct, random-looking ids from a counter. */
static uint64_t splitmix(uint64_t x) {
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

/* Fresh version-4 ids for the batch events of append k of worker w. */
static void fresh_ids(stele_event_in_t *ev, size_t n, uint64_t nonce, unsigned w, uint64_t k) {
    for (size_t i = 0; i < n; i++) {
        uint64_t hi = splitmix(nonce ^ ((uint64_t)w << 40) ^ (k * 4096u + i));
        uint64_t lo = splitmix(hi);
        for (int b = 0; b < 8; b++) {
            ev[i].id.bytes[b] = (uint8_t)(hi >> (56 - 8 * b));
            ev[i].id.bytes[8 + b] = (uint8_t)(lo >> (56 - 8 * b));
        }
        ev[i].id.bytes[6] = (uint8_t)((ev[i].id.bytes[6] & 0x0f) | 0x40);
        ev[i].id.bytes[8] = (uint8_t)((ev[i].id.bytes[8] & 0x3f) | 0x80);
    }
}

static void *worker_main(void *arg) {
    worker_t *w = arg;
    driver_t *d = w->d;
    char names[COMMIT_STREAMS][64];
    stele_append_part_t parts[COMMIT_STREAMS];
    const stele_event_in_t *events = d->events;
    stele_event_in_t *own = NULL;
    if (d->client_ids) {
        own = malloc(d->batch * sizeof *own);
        if (!own) {
            w->err = STELE_ENOMEM;
            return NULL;
        }
        memcpy(own, d->events, d->batch * sizeof *own);
        events = own;
    }
    for (uint64_t k = 0;; k++) {
        int phase = atomic_load_explicit(&d->phase, memory_order_acquire);
        if (phase == PHASE_STOP) {
            break;
        }
        int rc;
        if (own) {
            fresh_ids(own, d->batch, d->nonce, w->id, k);
        }
        uint64_t t0 = now_ns();
        if (d->kind == OP_APPEND) {
            snprintf(names[0], sizeof names[0], "order-%s%u-%llu", d->tag, w->id,
                     (unsigned long long)(k % 1024u));
            rc = stele_append(d->store, names[0], STELE_EXPECT_ANY, events, d->batch, NULL);
        } else {
            for (size_t p = 0; p < d->batch; p++) {
                snprintf(names[p], sizeof names[p], "order-%s%u-%llu", d->tag, w->id,
                         (unsigned long long)((k * d->batch + p) % 4096u));
                parts[p].stream = names[p];
                parts[p].expected_version = STELE_EXPECT_ANY;
                parts[p].events = &events[p];
                parts[p].count = 1;
            }
            rc = stele_commit(d->store, parts, d->batch, NULL);
        }
        uint64_t t1 = now_ns();
        if (rc != 0) {
            w->err = rc;
            snprintf(w->detail, sizeof w->detail, "%s", stele_errdetail());
            break;
        }
        atomic_fetch_add_explicit(&w->ops, 1, memory_order_relaxed);
        atomic_fetch_add_explicit(&w->events, d->batch, memory_order_relaxed);
        if (phase == PHASE_MEASURE) {
            lat_push(&w->lat, t1 - t0);
        }
    }
    free(own);
    return NULL;
}

typedef struct tp_result {
    double events_per_s;
    double ops_per_s;
    double p50_us;
    double p99_us;
    double cpu_us; /* CPU time of the whole process (clients, writer, index threads) per event */
} tp_result_t;

/* User + system CPU time of this process, in µs. */
static double process_cpu_us(void) {
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0) {
        return NAN;
    }
    return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e6 +
           (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
}

static void sum_counts(worker_t *w, unsigned n, uint64_t *ops, uint64_t *events) {
    *ops = *events = 0;
    for (unsigned i = 0; i < n; i++) {
        *ops += atomic_load_explicit(&w[i].ops, memory_order_relaxed);
        *events += atomic_load_explicit(&w[i].events, memory_order_relaxed);
    }
}

/* One run: `clients` threads, warm-up, then cfg->seconds measured. Returns 0 or an error code. */
static int throughput_run(const bench_config_t *cfg, stele_store_t *store, op_kind_t kind,
                          unsigned clients, size_t batch, const char *tag,
                          const stele_event_in_t *events, tp_result_t *out) {
    static uint64_t runs_started;
    driver_t d = {.store = store,
                  .kind = kind,
                  .batch = batch,
                  .tag = tag,
                  .events = events,
                  .client_ids = cfg->client_ids,
                  .nonce = splitmix(now_ns() ^ ++runs_started)};
    atomic_init(&d.phase, PHASE_WARMUP);
    worker_t *w = calloc(clients, sizeof *w);
    if (!w) {
        return STELE_ENOMEM;
    }
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, 1024u * 1024u);
    unsigned started = 0;
    for (unsigned i = 0; i < clients; i++) {
        w[i].d = &d;
        w[i].id = i;
        atomic_init(&w[i].ops, 0);
        atomic_init(&w[i].events, 0);
        if (pthread_create(&w[i].thread, &attr, worker_main, &w[i]) != 0) {
            break;
        }
        started++;
    }
    pthread_attr_destroy(&attr);

    int rc = started == clients ? 0 : -EAGAIN;
    uint64_t ops0 = 0, ev0 = 0, ops1 = 0, ev1 = 0, t0 = 0, t1 = 0;
    double cpu0 = 0, cpu1 = 0;
    if (rc == 0) {
        sleep_seconds(cfg->warmup);
        sum_counts(w, clients, &ops0, &ev0);
        cpu0 = process_cpu_us();
        t0 = now_ns();
        atomic_store_explicit(&d.phase, PHASE_MEASURE, memory_order_release);
        sleep_seconds(cfg->seconds);
        sum_counts(w, clients, &ops1, &ev1);
        cpu1 = process_cpu_us();
        t1 = now_ns();
    }
    atomic_store_explicit(&d.phase, PHASE_STOP, memory_order_release);
    lat_vec_t all = {0};
    for (unsigned i = 0; i < started; i++) {
        pthread_join(w[i].thread, NULL);
        if (w[i].err != 0 && rc == 0) {
            rc = w[i].err;
            fprintf(stderr, "stele-bench: client %u: %s (%s)\n", i, stele_strerror(w[i].err),
                    w[i].detail);
        }
        lat_append(&all, &w[i].lat);
        lat_free(&w[i].lat);
    }
    free(w);
    if (rc == 0) {
        double secs = (double)(t1 - t0) / 1e9;
        out->events_per_s = (double)(ev1 - ev0) / secs;
        out->ops_per_s = (double)(ops1 - ops0) / secs;
        out->p50_us = (double)lat_percentile(&all, 50) / 1e3;
        out->p99_us = (double)lat_percentile(&all, 99) / 1e3;
        out->cpu_us = ev1 > ev0 ? (cpu1 - cpu0) / (double)(ev1 - ev0) : NAN;
    }
    lat_free(&all);
    return rc;
}

/* cfg->runs runs; the median of each figure. Returns 0 when at least one run succeeded. */
static int throughput(const bench_config_t *cfg, stele_store_t *store, op_kind_t kind,
                      unsigned clients, size_t batch, const char *tag, tp_result_t *out) {
    stele_event_in_t *events = make_events(batch, clients * 1000u);
    if (!events) {
        return STELE_ENOMEM;
    }
    size_t runs = (size_t)cfg->runs;
    double *v = calloc(runs * 5, sizeof *v);
    if (!v) {
        free(events);
        return STELE_ENOMEM;
    }
    int ok = 0, rc = 0;
    for (size_t r = 0; r < runs; r++) {
        tp_result_t t = {0};
        int e = throughput_run(cfg, store, kind, clients, batch, tag, events, &t);
        if (e != 0) {
            rc = e;
            v[r] = v[runs + r] = v[2 * runs + r] = v[3 * runs + r] = v[4 * runs + r] = NAN;
            if (e == STELE_EPOISONED || e == STELE_ECLOSED) {
                break;
            }
            continue;
        }
        ok++;
        v[r] = t.events_per_s;
        v[runs + r] = t.ops_per_s;
        v[2 * runs + r] = t.p50_us;
        v[3 * runs + r] = t.p99_us;
        v[4 * runs + r] = t.cpu_us;
    }
    out->events_per_s = median(v, runs);
    out->ops_per_s = median(v + runs, runs);
    out->p50_us = median(v + 2 * runs, runs);
    out->p99_us = median(v + 3 * runs, runs);
    out->cpu_us = median(v + 4 * runs, runs);
    free(v);
    free(events);
    return ok > 0 ? 0 : (rc != 0 ? rc : -EIO);
}

static double ratio(double value, double limit) {
    return (isnan(value) || isnan(limit) || limit <= 0) ? NAN : value / limit;
}

static void durable_appends(const bench_config_t *cfg, const limits_t *lim, stele_store_t *store) {
    tp_result_t t = {0};
    char name[96];
    report_note("durable appends: durability SYNC (acknowledged after fdatasync), in-process, "
                "%d run(s) of %.1f s after %.1f s warm-up, median reported%s",
                cfg->runs, cfg->seconds, cfg->warmup,
                cfg->client_ids ? "; every event carries a fresh client-supplied id" : "");

    if (bench_selected(cfg, "append")) {
        int rc = throughput(cfg, store, OP_APPEND, 1, 1, "a", &t);
        double r = rc == 0 ? t.events_per_s : NAN;
        report_figure("append.1client.rate", r, "events/s", TARGET_AT_LEAST, 0.8 * lim->fsync_rate,
                      ratio(r, lim->fsync_rate), "fsync");
        report_figure("append.1client.p50", rc == 0 ? t.p50_us : NAN, "us", TARGET_NONE, NAN,
                      ratio(rc == 0 ? t.p50_us : NAN, lim->fsync_p50_us), "fsync p50");
        report_figure("append.1client.p99", rc == 0 ? t.p99_us : NAN, "us", TARGET_NONE, NAN,
                      ratio(rc == 0 ? t.p99_us : NAN, lim->fsync_p99_us), "fsync p99");
        report_figure("append.1client.cpu", rc == 0 ? t.cpu_us : NAN, "us/event", TARGET_NONE, NAN,
                      NAN, NULL);
    }
    if (bench_selected(cfg, "clients")) {
        unsigned counts[3] = {8, 64, 256};
        for (int i = 0; i < (cfg->full ? 3 : 2); i++) {
            char tag[16];
            snprintf(tag, sizeof tag, "c%u-", counts[i]);
            int rc = throughput(cfg, store, OP_APPEND, counts[i], 1, tag, &t);
            double r = rc == 0 ? t.events_per_s : NAN;
            snprintf(name, sizeof name, "append.%uclients.rate", counts[i]);
            report_figure(name, r, "events/s", counts[i] == 64 ? TARGET_AT_LEAST : TARGET_NONE,
                          counts[i] == 64 ? 100000.0 : NAN, ratio(r, lim->fsync_rate), "fsync");
            snprintf(name, sizeof name, "append.%uclients.p99", counts[i]);
            report_figure(name, rc == 0 ? t.p99_us : NAN, "us", TARGET_NONE, NAN, NAN, NULL);
            snprintf(name, sizeof name, "append.%uclients.cpu", counts[i]);
            report_figure(name, rc == 0 ? t.cpu_us : NAN, "us/event", TARGET_NONE, NAN, NAN, NULL);
        }
    }
    if (bench_selected(cfg, "batch")) {
        int rc = throughput(cfg, store, OP_APPEND, 8, BATCH_EVENTS, "b", &t);
        double r = rc == 0 ? t.events_per_s : NAN;
        double mbps = r * record_bytes(store) / 1e6;
        report_figure("batch.8x100.rate", r, "events/s", TARGET_AT_LEAST, 1e6, NAN, NULL);
        report_figure("batch.8x100.bandwidth", mbps, "MB/s", TARGET_NONE, NAN,
                      ratio(mbps, lim->seqwrite_mbps), "seq write");
        report_figure("batch.8x100.p99", rc == 0 ? t.p99_us : NAN, "us", TARGET_NONE, NAN, NAN,
                      NULL);
        report_figure("batch.8x100.cpu", rc == 0 ? t.cpu_us : NAN, "us/event", TARGET_NONE, NAN,
                      NAN, NULL);
    }
    if (bench_selected(cfg, "commit")) {
        int rc = throughput(cfg, store, OP_COMMIT, 8, COMMIT_STREAMS, "m", &t);
        report_figure("commit.8x4streams.rate", rc == 0 ? t.ops_per_s : NAN, "commits/s",
                      TARGET_NONE, NAN, ratio(rc == 0 ? t.ops_per_s : NAN, lim->fsync_rate),
                      "fsync");
        report_figure("commit.8x4streams.p99", rc == 0 ? t.p99_us : NAN, "us", TARGET_NONE, NAN,
                      NAN, NULL);
    }
}

/* --- $all read --------------------------------------------------------------------------- */

/* Read $all forward from the start (at most limit events, 0 = all); returns events or < 0. */
static int64_t read_all_once(stele_store_t *store, uint64_t limit, uint64_t *payload_bytes) {
    stele_read_options_t o;
    stele_read_options_init(&o);
    o.limit = limit;
    stele_reader_t *r = NULL;
    int rc = stele_read_all(store, &o, &r);
    if (rc != 0) {
        print_error("stele_read_all", rc);
        return rc;
    }
    int64_t n = 0;
    uint64_t bytes = 0;
    stele_event_t ev;
    while ((rc = stele_reader_next(r, &ev)) == 1) {
        n++;
        bytes += ev.data_len + ev.stream_len + ev.type_len + ev.metadata_len;
    }
    stele_reader_close(r);
    if (rc < 0) {
        print_error("stele_reader_next", rc);
        return rc;
    }
    *payload_bytes = bytes;
    return n;
}

static void read_all(const bench_config_t *cfg, const limits_t *lim, stele_store_t *store) {
    uint64_t payload;
    if (read_all_once(store, 1000000, &payload) < 0) { /* warm-up */
        report_figure("readall.rate", NAN, "events/s", TARGET_AT_LEAST, 5e6, NAN, NULL);
        return;
    }
    size_t runs = (size_t)cfg->runs;
    double *rate = calloc(runs, sizeof *rate);
    if (!rate) {
        return;
    }
    int64_t n = 0;
    for (size_t r = 0; r < runs; r++) {
        uint64_t t0 = now_ns();
        n = read_all_once(store, 0, &payload);
        uint64_t t1 = now_ns();
        rate[r] = n > 0 ? (double)n / ((double)(t1 - t0) / 1e9) : NAN;
    }
    double ev_s = median(rate, runs);
    double mbps = ev_s * record_bytes(store) / 1e6;
    free(rate);
    report_figure("readall.rate", ev_s, "events/s", TARGET_AT_LEAST, 5e6, NAN, NULL);
    report_figure("readall.bandwidth", mbps, "MB/s", TARGET_NONE, NAN,
                  ratio(mbps, lim->memcpy_mbps), "memcpy");
    report_note("readall: stele_read_all + stele_reader_next over all %lld events (preload plus "
                "the appends above), page cache warm; MB/s counts log record bytes "
                "(%.0f B/event)",
                (long long)n, record_bytes(store));
}

/* --- preload ------------------------------------------------------------------------------ */

typedef struct preload_job {
    stele_store_t *store;
    uint64_t lo, hi;     /* streams order-<lo> .. order-<hi - 1> */
    uint64_t per_stream; /* events per stream */
    unsigned thread, threads;
    int err;
} preload_job_t;

/* Rounds over the job's streams, one event per stream per round, so each stream's events are spread
 * through the stage's part of the log as they would be in a store of long-lived aggregates. */
static void *preload_main(void *arg) {
    preload_job_t *j = arg;
    char(*names)[32] = calloc(PRELOAD_PARTS, sizeof *names);
    char(*data)[DATA_BYTES + 1] = calloc(PRELOAD_PARTS, sizeof *data);
    stele_event_in_t *ev = calloc(PRELOAD_PARTS, sizeof *ev);
    stele_append_part_t *parts = calloc(PRELOAD_PARTS, sizeof *parts);
    if (!names || !data || !ev || !parts) {
        j->err = STELE_ENOMEM;
        goto out;
    }
    for (uint64_t round = 0; round < j->per_stream && j->err == 0; round++) {
        uint64_t block = j->lo + (uint64_t)j->thread * PRELOAD_PARTS;
        for (; block < j->hi; block += (uint64_t)j->threads * PRELOAD_PARTS) {
            size_t n = 0;
            for (uint64_t s = block; s < j->hi && n < PRELOAD_PARTS; s++, n++) {
                snprintf(names[n], sizeof names[n], "order-%llu", (unsigned long long)s);
                ev[n].type = EVENT_TYPE;
                ev[n].data = data[n];
                ev[n].data_len = make_data(data[n], sizeof data[n], s, round);
                parts[n].stream = names[n];
                parts[n].expected_version = STELE_EXPECT_ANY;
                parts[n].events = &ev[n];
                parts[n].count = 1;
            }
            int rc = stele_commit(j->store, parts, n, NULL);
            if (rc != 0) {
                j->err = rc;
                print_error("preload commit", rc);
                break;
            }
        }
    }
out:
    free(names);
    free(data);
    free(ev);
    free(parts);
    return NULL;
}

/* Preload streams [lo, hi) with per_stream events each. Returns events/s or NAN. */
static double preload(stele_store_t *store, uint64_t lo, uint64_t hi, uint64_t per_stream) {
    preload_job_t jobs[PRELOAD_THREADS];
    pthread_t th[PRELOAD_THREADS];
    int started = 0;
    uint64_t t0 = now_ns();
    for (unsigned i = 0; i < PRELOAD_THREADS; i++) {
        jobs[i] = (preload_job_t){.store = store,
                                  .lo = lo,
                                  .hi = hi,
                                  .per_stream = per_stream,
                                  .thread = i,
                                  .threads = PRELOAD_THREADS};
        if (pthread_create(&th[i], NULL, preload_main, &jobs[i]) != 0) {
            jobs[i].err = -EAGAIN;
            break;
        }
        started++;
    }
    int err = started == PRELOAD_THREADS ? 0 : -EAGAIN;
    for (int i = 0; i < started; i++) {
        pthread_join(th[i], NULL);
        if (jobs[i].err != 0) {
            err = jobs[i].err;
        }
    }
    uint64_t t1 = now_ns();
    if (err != 0) {
        return NAN;
    }
    return (double)((hi - lo) * per_stream) / ((double)(t1 - t0) / 1e9);
}

/* --- the fresh-process open + read probe ---------------------------------------------------- */

typedef struct child_result {
    double open_ms;
    double rss_open_mib, hwm_open_mib, rss_read_mib, hwm_read_mib;
    double read_p50_us, read_p99_us;
} child_result_t;

static uint64_t xorshift(uint64_t *s) {
    uint64_t x = *s;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return *s = x;
}

int workloads_child_open(const char *store_dir, uint64_t streams, uint64_t per_stream,
                         uint64_t reads, uint64_t seed) {
    stele_options_t o;
    stele_options_init(&o);
    o.durability = STELE_DURABILITY_SYNC;
    stele_store_t *store = NULL;
    uint64_t t0 = now_ns();
    int rc = stele_store_open(store_dir, &o, &store);
    uint64_t t1 = now_ns();
    if (rc != 0) {
        printf("error open %d\n", rc);
        print_error("child: opening the store", rc);
        return 1;
    }
    uint64_t rss_open, hwm_open, rss_read, hwm_read;
    proc_rss_kib(&rss_open, &hwm_open);

    lat_vec_t lat = {0};
    uint64_t warm = reads / 10, bad = 0, state = seed * 2654435761u + 88172645463325252u;
    char name[32];
    for (uint64_t i = 0; i < warm + reads && streams > 0; i++) {
        uint64_t s = xorshift(&state) % streams;
        snprintf(name, sizeof name, "order-%llu", (unsigned long long)s);
        stele_reader_t *r = NULL;
        stele_event_t ev;
        uint64_t a = now_ns(), got = 0;
        rc = stele_read_stream(store, name, 0, STELE_FORWARD, per_stream, &r);
        if (rc == 0) {
            while ((rc = stele_reader_next(r, &ev)) == 1) {
                if (ev.version != (int64_t)got) {
                    bad++;
                }
                got++;
            }
            stele_reader_close(r);
        }
        uint64_t b = now_ns();
        if (rc < 0) {
            print_error("child: reading a stream", rc);
            break;
        }
        if (got != per_stream) {
            bad++;
        }
        if (i >= warm) {
            lat_push(&lat, b - a);
        }
    }
    proc_rss_kib(&rss_read, &hwm_read);
    uint64_t p50 = lat_percentile(&lat, 50), p99 = lat_percentile(&lat, 99);
    lat_free(&lat);
    int crc = stele_store_close(store);
    if (rc < 0 || bad > 0 || crc != 0) {
        printf("error read %d bad %llu close %d\n", rc, (unsigned long long)bad, crc);
        if (bad > 0) {
            fprintf(stderr, "stele-bench: child: %llu stream reads did not return %llu events\n",
                    (unsigned long long)bad, (unsigned long long)per_stream);
        }
        return 1;
    }
    printf("ok %llu %llu %llu %llu %llu %llu %llu\n", (unsigned long long)(t1 - t0),
           (unsigned long long)rss_open, (unsigned long long)hwm_open, (unsigned long long)rss_read,
           (unsigned long long)hwm_read, (unsigned long long)p50, (unsigned long long)p99);
    return 0;
}

/* Run this program as `--child-open` in a fresh process and parse its result line. */
static int child_probe(const bench_config_t *cfg, const char *store_dir, uint64_t streams,
                       uint64_t per_stream, uint64_t seed, child_result_t *out) {
    int fds[2];
    if (pipe(fds) != 0) {
        return -errno;
    }
    char a_streams[24], a_per[24], a_reads[24], a_seed[24];
    snprintf(a_streams, sizeof a_streams, "%llu", (unsigned long long)streams);
    snprintf(a_per, sizeof a_per, "%llu", (unsigned long long)per_stream);
    snprintf(a_reads, sizeof a_reads, "%llu", (unsigned long long)cfg->reads);
    snprintf(a_seed, sizeof a_seed, "%llu", (unsigned long long)seed);
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0) {
        int e = errno;
        close(fds[0]);
        close(fds[1]);
        return -e;
    }
    if (pid == 0) {
        dup2(fds[1], STDOUT_FILENO);
        close(fds[0]);
        close(fds[1]);
        char *argv[] = {(char *)"stele-bench",
                        (char *)"--child-open",
                        (char *)store_dir,
                        (char *)"--streams",
                        a_streams,
                        (char *)"--per-stream",
                        a_per,
                        (char *)"--reads",
                        a_reads,
                        (char *)"--seed",
                        a_seed,
                        NULL};
        execv(cfg->self_exe, argv);
        _exit(127);
    }
    close(fds[1]);
    FILE *f = fdopen(fds[0], "r");
    char line[512] = "";
    if (f) {
        if (!fgets(line, sizeof line, f)) {
            line[0] = '\0';
        }
        fclose(f);
    } else {
        close(fds[0]);
    }
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    unsigned long long v[7];
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 ||
        sscanf(line, "ok %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3], &v[4],
               &v[5], &v[6]) != 7) {
        fprintf(stderr, "stele-bench: open/read probe failed: %s", line[0] ? line : "no output\n");
        return -EIO;
    }
    out->open_ms = (double)v[0] / 1e6;
    out->rss_open_mib = (double)v[1] / 1024.0;
    out->hwm_open_mib = (double)v[2] / 1024.0;
    out->rss_read_mib = (double)v[3] / 1024.0;
    out->hwm_read_mib = (double)v[4] / 1024.0;
    out->read_p50_us = (double)v[5] / 1e3;
    out->read_p99_us = (double)v[6] / 1e3;
    return 0;
}

static void open_and_read(const bench_config_t *cfg, const char *store_dir, uint64_t events,
                          uint64_t streams, uint64_t per_stream) {
    size_t runs = (size_t)cfg->runs;
    double *v = calloc(runs * 7, sizeof *v);
    if (!v) {
        return;
    }
    for (size_t r = 0; r < runs; r++) {
        child_result_t c = {0};
        if (child_probe(cfg, store_dir, streams, per_stream, r + 1, &c) != 0) {
            for (size_t k = 0; k < 7; k++) {
                v[k * runs + r] = NAN;
            }
            continue;
        }
        double vals[7] = {c.open_ms,      c.rss_open_mib, c.hwm_open_mib, c.rss_read_mib,
                          c.hwm_read_mib, c.read_p50_us,  c.read_p99_us};
        for (size_t k = 0; k < 7; k++) {
            v[k * runs + r] = vals[k];
        }
    }
    char label[24], name[96];
    count_label(events, label, sizeof label);
    /* The targets are stated for one size: a verdict at another size would say nothing. */
    bool at_size = events == TARGET_EVENTS && streams == TARGET_STREAMS;
    if (bench_selected(cfg, "growth")) {
        static const char *const what[5] = {"open_time", "rss_after_open", "hwm_after_open",
                                            "rss_after_reads", "hwm_after_reads"};
        for (size_t k = 0; k < 5; k++) {
            snprintf(name, sizeof name, "growth.%s@%s", what[k], label);
            report_figure(name, median(v + k * runs, runs), k == 0 ? "ms" : "MiB",
                          at_size ? TARGET_BELOW : TARGET_NONE, k == 0 ? 1000.0 : 256.0, NAN, NULL);
        }
    }
    if (bench_selected(cfg, "readstream")) {
        snprintf(name, sizeof name, "readstream.p50@%s", label);
        report_figure(name, median(v + 5 * runs, runs), "us", TARGET_NONE, NAN, NAN, NULL);
        snprintf(name, sizeof name, "readstream.p99@%s", label);
        report_figure(name, median(v + 6 * runs, runs), "us", at_size ? TARGET_BELOW : TARGET_NONE,
                      50.0, NAN, NULL);
    }
    if (!at_size) {
        report_note("@%s: open time, RSS and read p99 have targets at 10M events over 1M streams "
                    "only; no verdict at this size",
                    label);
    }
    char slabel[24];
    count_label(streams, slabel, sizeof slabel);
    report_note("@%s: %s streams x %llu events; open (durability SYNC) and %llu random "
                "stele_read_stream(limit %llu) after %llu warm-up reads, in a fresh process",
                label, slabel, (unsigned long long)per_stream, (unsigned long long)cfg->reads,
                (unsigned long long)per_stream, (unsigned long long)(cfg->reads / 10));
    free(v);
}

/* --- the whole sequence -------------------------------------------------------------------- */

void workloads_run(const bench_config_t *cfg, const limits_t *lim) {
    char store_dir[4200];
    snprintf(store_dir, sizeof store_dir, "%s/store", cfg->work_dir);
    bool want_child = bench_selected(cfg, "growth") || bench_selected(cfg, "readstream");
    bool want_append = bench_selected(cfg, "append") || bench_selected(cfg, "clients") ||
                       bench_selected(cfg, "batch") || bench_selected(cfg, "commit");
    bool want_readall = bench_selected(cfg, "readall");
    if (!want_child && !want_append && !want_readall) {
        return;
    }

    if (want_child || want_readall) {
        uint64_t per_stream = cfg->streams ? cfg->events / cfg->streams : 1;
        if (per_stream == 0) {
            per_stream = 1;
        }
        /* growth stages: 1M, 10M, 100M ... below the total, then the total */
        uint64_t stages[GROWTH_STAGES];
        size_t nstages = 0;
        for (uint64_t c = 1000000; c < cfg->events && nstages < GROWTH_STAGES - 1; c *= 10) {
            stages[nstages++] = c;
        }
        stages[nstages++] = cfg->events;
        report_note("preload: durability NONE (no syncs), multi-stream commits of %u streams x 1 "
                    "event from %d threads, stream names order-<n>; measured parts reopen with "
                    "durability SYNC",
                    PRELOAD_PARTS, PRELOAD_THREADS);
        uint64_t done_streams = 0;
        for (size_t i = 0; i < nstages; i++) {
            uint64_t target_streams = stages[i] / per_stream;
            if (target_streams <= done_streams) {
                continue;
            }
            stele_store_t *store = open_store(store_dir, STELE_DURABILITY_NONE);
            if (!store) {
                return;
            }
            double rate = preload(store, done_streams, target_streams, per_stream);
            int rc = stele_store_close(store);
            if (rc != 0) {
                print_error("closing the store after the preload", rc);
            }
            char label[24], name[64];
            count_label(target_streams * per_stream, label, sizeof label);
            snprintf(name, sizeof name, "growth.preload_rate@%s", label);
            report_scope(1, "none"); /* one preload, without syncs */
            report_figure(name, rate, "events/s", TARGET_NONE, NAN, NAN, NULL);
            report_scope_reset();
            if (isnan(rate)) {
                return;
            }
            done_streams = target_streams;
            if (want_child) {
                open_and_read(cfg, store_dir, done_streams * per_stream, done_streams, per_stream);
            }
        }
    }

    if (!want_append && !want_readall) {
        return;
    }
    stele_store_t *store = open_store(store_dir, STELE_DURABILITY_SYNC);
    if (!store) {
        return;
    }
    if (want_append) {
        durable_appends(cfg, lim, store);
    }
    if (want_readall) {
        read_all(cfg, lim, store);
    }
    int rc = stele_store_close(store);
    if (rc != 0) {
        print_error("closing the store", rc);
    }
}
