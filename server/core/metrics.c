/*
 * metrics.c -- counters and histograms kept on the loop thread, and GET /metrics in the
 * Prometheus text format (version 0.0.4).
 *
 * Errors are counted by their stable error code (errors.h), whatever protocol answered them.
 * The text is served by a protocol wing (http.c: GET /metrics), which asks the access rule first.
 *
 * Everything is updated on the loop (completions are answered there), so no locks. The store's
 * own counters (commits, syncs, head position, the fdatasync duration histogram) come from
 * stele_stats() at scrape time. The append latency histogram measures what a client sees: from
 * the request entering the loop to the append's completion reaching it.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "conn.h"
#include "errors.h"
#include "metrics.h"
#include "stele_errors.h"

#define LATENCY_BUCKETS 14
static const double latency_bounds[LATENCY_BUCKETS] = {
    0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10};

#define SIZE_BUCKETS 9
static const double size_bounds[SIZE_BUCKETS] = {1, 2, 5, 10, 50, 100, 500, 1000, 10000};

typedef struct histogram {
    uint64_t counts[LATENCY_BUCKETS + 1]; /* the last one is +Inf */
    double sum;
    uint64_t count;
} histogram_t;

/* Errors are counted by the index of their code in the one error table (stele_errors.h); the
 * build refuses a table that outgrows the counters. */
#define MAX_ERROR_CODES 32
#define SRV_COUNT_CODE(code, status, words, exit, grpc) +1
_Static_assert(0 STELE_HTTP_ERROR_LIST(SRV_COUNT_CODE) <= MAX_ERROR_CODES,
               "more error codes than the metrics count: raise MAX_ERROR_CODES");
#undef SRV_COUNT_CODE

struct srv_metrics {
    uint64_t requests[600]; /* by status code */
    uint64_t errors[MAX_ERROR_CODES];
    uint64_t appends, appends_failed, events, bytes;
    histogram_t latency;      /* seconds */
    histogram_t batch_events; /* events per append request */
    histogram_t completions;  /* completions answered per loop wake-up */
};

int srv_metrics_init(srv_t *srv) {
    srv->metrics = calloc(1, sizeof(*srv->metrics));
    return srv->metrics != NULL ? 0 : -1;
}

void srv_metrics_free(srv_t *srv) {
    free(srv->metrics);
    srv->metrics = NULL;
}

static void observe(histogram_t *h, const double *bounds, size_t n, double v) {
    size_t i = 0;
    while (i < n && v > bounds[i]) {
        i++;
    }
    h->counts[i]++;
    h->sum += v;
    h->count++;
}

void srv_metrics_request(srv_t *srv, int status) {
    if (srv->metrics != NULL && status >= 100 && status < 600) {
        srv->metrics->requests[status]++;
    }
}

void srv_metrics_error(srv_t *srv, const char *code) {
    size_t n = srv_error_code_count();
    for (size_t i = 0; srv->metrics != NULL && i < n && i < MAX_ERROR_CODES; i++) {
        if (strcmp(srv_error_code_name(i), code) == 0) {
            srv->metrics->errors[i]++;
            return;
        }
    }
}

void srv_metrics_append(srv_t *srv, size_t events, uint64_t bytes, uint64_t latency_ns, bool ok) {
    srv_metrics_t *m = srv->metrics;
    if (!ok) {
        m->appends_failed++;
        return;
    }
    m->appends++;
    m->events += events;
    m->bytes += bytes;
    observe(&m->latency, latency_bounds, LATENCY_BUCKETS, (double)latency_ns / 1e9);
    observe(&m->batch_events, size_bounds, SIZE_BUCKETS, (double)events);
}

void srv_metrics_completion_batch(srv_t *srv, size_t count) {
    observe(&srv->metrics->completions, size_bounds, SIZE_BUCKETS, (double)count);
}

static void write_histogram(struct evbuffer *out, const char *name, const char *help,
                            const histogram_t *h, const double *bounds, size_t n) {
    evbuffer_add_printf(out, "# HELP %s %s\n# TYPE %s histogram\n", name, help, name);
    uint64_t cumulative = 0;
    for (size_t i = 0; i < n; i++) {
        cumulative += h->counts[i];
        evbuffer_add_printf(out, "%s_bucket{le=\"%g\"} %" PRIu64 "\n", name, bounds[i], cumulative);
    }
    cumulative += h->counts[n];
    evbuffer_add_printf(out, "%s_bucket{le=\"+Inf\"} %" PRIu64 "\n", name, cumulative);
    evbuffer_add_printf(out, "%s_sum %.9g\n%s_count %" PRIu64 "\n", name, h->sum, name, h->count);
}

/* The store's fdatasync durations (stele_stats: buckets doubling from 64 us). */
static void write_sync_histogram(struct evbuffer *out, const stele_stats_t *s) {
    const char *name = "stele_sync_seconds";
    evbuffer_add_printf(
        out, "# HELP %s fdatasync duration of each log commit\n# TYPE %s histogram\n", name, name);
    uint64_t cumulative = 0;
    double bound = STELE_SYNC_BUCKET_MIN_US / 1e6;
    for (size_t i = 0; i + 1 < STELE_SYNC_BUCKETS; i++, bound *= 2) {
        cumulative += s->sync_latency[i];
        evbuffer_add_printf(out, "%s_bucket{le=\"%g\"} %" PRIu64 "\n", name, bound, cumulative);
    }
    cumulative += s->sync_latency[STELE_SYNC_BUCKETS - 1];
    evbuffer_add_printf(out, "%s_bucket{le=\"+Inf\"} %" PRIu64 "\n", name, cumulative);
    evbuffer_add_printf(out, "%s_sum %.9g\n%s_count %" PRIu64 "\n", name, (double)s->sync_ns / 1e9,
                        name, cumulative);
}

static void write_counter(struct evbuffer *out, const char *name, const char *type,
                          const char *help, uint64_t v) {
    evbuffer_add_printf(out, "# HELP %s %s\n# TYPE %s %s\n%s %" PRIu64 "\n", name, help, name, type,
                        name, v);
}

void srv_metrics_write(srv_t *srv, struct evbuffer *out) {
    srv_metrics_t *m = srv->metrics;
    stele_stats_t s = {.struct_size = sizeof s};
    stele_stats(srv->store, &s);
    write_counter(out, "stele_appends_total", "counter", "appends acknowledged over HTTP",
                  m->appends);
    write_counter(out, "stele_appends_failed_total", "counter", "appends that failed",
                  m->appends_failed);
    write_counter(out, "stele_events_appended_total", "counter", "events acknowledged over HTTP",
                  m->events);
    write_counter(out, "stele_bytes_appended_total", "counter",
                  "data and metadata bytes acknowledged over HTTP", m->bytes);
    write_counter(out, "stele_commits_total", "counter",
                  "log commits (writer batches, each one sync) since the store opened", s.commits);
    write_counter(out, "stele_syncs_total", "counter", "fdatasync calls since the store opened",
                  s.syncs);
    write_counter(out, "stele_head_position", "gauge", "last visible position", s.head_position);
    write_counter(out, "stele_log_bytes", "gauge", "bytes of records in the log", s.log_bytes);
    write_counter(out, "stele_poisoned", "gauge", "1 when a write or sync failed", s.poisoned);
    write_counter(out, "stele_subscribers", "gauge", "open SSE streams", srv->sub_count);
    write_counter(out, "stele_subscribers_catching_up", "gauge",
                  "SSE streams still reading their history (no caught-up sent yet)",
                  srv->sub_catching_up);
    write_counter(out, "stele_connections", "gauge", "open HTTP connections", srv->conn_count);
    write_counter(out, "stele_in_flight", "gauge", "appends and admin calls being processed",
                  srv->in_flight);
    evbuffer_add_printf(out,
                        "# HELP stele_connections_refused_total connections answered at once and "
                        "closed: over --max-connections (429) or out of descriptors (503)\n"
                        "# TYPE stele_connections_refused_total counter\n"
                        "stele_connections_refused_total{reason=\"limit\"} %" PRIu64 "\n"
                        "stele_connections_refused_total{reason=\"descriptors\"} %" PRIu64 "\n",
                        srv->refused_limit, srv->refused_descriptors);
    srv_conn_memory_t mem;
    srv_conn_memory(srv, &mem);
    write_counter(out, "stele_connection_output_bytes", "gauge",
                  "unsent response bytes held for all connections", mem.output_bytes);
    write_counter(out, "stele_connection_output_max_bytes", "gauge",
                  "unsent response bytes held for the connection holding most",
                  mem.output_max_bytes);
    write_counter(
        out, "stele_connection_input_bytes", "gauge",
        "request bytes read and not yet handled (with bodies being read), all connections",
        mem.input_bytes);
    write_counter(out, "stele_connection_input_max_bytes", "gauge",
                  "request bytes held for the connection holding most", mem.input_max_bytes);
    write_counter(out, "stele_connections_output_paused", "gauge",
                  "connections whose next request waits for their unsent output to drain",
                  mem.output_paused);
    write_sync_histogram(out, &s);
    write_histogram(out, "stele_append_latency_seconds",
                    "time from request to durable acknowledgement", &m->latency, latency_bounds,
                    LATENCY_BUCKETS);
    write_histogram(out, "stele_batch_events", "events per append request", &m->batch_events,
                    size_bounds, SIZE_BUCKETS);
    write_histogram(out, "stele_completion_batch",
                    "completions answered per event-loop wake-up (group commit seen by the server)",
                    &m->completions, size_bounds, SIZE_BUCKETS);
    evbuffer_add_printf(out, "# HELP stele_http_requests_total HTTP responses by status\n"
                             "# TYPE stele_http_requests_total counter\n");
    for (int code = 100; code < 600; code++) {
        if (m->requests[code] != 0) {
            evbuffer_add_printf(out, "stele_http_requests_total{code=\"%d\"} %" PRIu64 "\n", code,
                                m->requests[code]);
        }
    }
    evbuffer_add_printf(out, "# HELP stele_errors_total error responses by error code\n"
                             "# TYPE stele_errors_total counter\n");
    for (size_t i = 0; i < srv_error_code_count() && i < MAX_ERROR_CODES; i++) {
        evbuffer_add_printf(out, "stele_errors_total{code=\"%s\"} %" PRIu64 "\n",
                            srv_error_code_name(i), m->errors[i]);
    }
}
