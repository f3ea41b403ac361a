/*
 * bench.h -- shared declarations of stele-bench: configuration, figures and the report, statistics,
 * the physical-limits probes and the libstele workloads.
 *
 * stele-bench uses only the public API (stele.h), libc and pthreads.
 */
#ifndef STELE_BENCH_H
#define STELE_BENCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* --- configuration ------------------------------------------------------------------------- */

typedef struct bench_config {
    const char *work_dir;  /* the fresh directory this run works in */
    int runs;              /* runs per figure; the median is reported */
    double seconds;        /* measured duration of each throughput run */
    double warmup;         /* un-measured warm-up before each throughput run */
    uint64_t events;       /* events preloaded (the largest growth checkpoint) */
    uint64_t streams;      /* streams they are spread over */
    uint64_t reads;        /* random one-stream reads per read-latency run */
    uint64_t seqwrite_mib; /* size of the sequential write probe */
    bool full;             /* also 256 clients */
    bool client_ids;       /* durable appends carry fresh client-supplied event ids */
    const char *only;      /* comma-separated workload names, or NULL for all */
    const char *self_exe;  /* this program, for the fresh-process open/read probe */
} bench_config_t;

/* True when workload `name` was selected (always true without --only). */
bool bench_selected(const bench_config_t *cfg, const char *name);

/* --- figures and the report (main.c) ------------------------------------------------------- */

typedef enum target_op {
    TARGET_NONE = 0, /* informational figure */
    TARGET_AT_LEAST, /* met when value >= target */
    TARGET_BELOW,    /* met when value < target */
} target_op_t;

/* Record one figure. value NAN means the workload failed (reported as "error"). ratio NAN means
 * no limit applies; ratio_of names the limit (e.g. "fsync"). note is printed after the table. */
void report_figure(const char *name, double value, const char *unit, target_op_t op, double target,
                   double ratio, const char *ratio_of);

/* What the figures recorded from now on are: the median of `runs` runs at `durability` ("sync",
 * "none"; NULL for the physical limits, which are not appends). Every figure's JSON carries both,
 * so the report can say what each number is. main() sets the run count of the configuration and
 * "sync"; a workload that differs sets its own and restores them with report_scope_reset(). */
void report_scope(int runs, const char *durability);
void report_scope_reset(void);

/* A line of explanation printed under the table (e.g. the durability used for preloading). */
void report_note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* --- statistics and process facts (stats.c) ------------------------------------------------ */

uint64_t now_ns(void);
void sleep_seconds(double s);

/* A growable array of latencies in ns. */
typedef struct lat_vec {
    uint64_t *v;
    size_t n;
    size_t cap;
} lat_vec_t;

void lat_push(lat_vec_t *l, uint64_t ns);
void lat_append(lat_vec_t *dst, const lat_vec_t *src);
void lat_free(lat_vec_t *l);
/* Sorts l in place and returns the nearest-rank percentile p (0..100); 0 when empty. */
uint64_t lat_percentile(lat_vec_t *l, double p);

/* Median of n doubles, or NAN when any of them is NAN: a run that failed makes the figure an
 * error instead of a median of fewer runs than the report says. Sorts a copy. */
double median(const double *v, size_t n);

/* VmRSS and VmHWM of this process in KiB from /proc/self/status (0 when unknown). */
void proc_rss_kib(uint64_t *rss_kib, uint64_t *hwm_kib);

/* "1M", "250k", "10M": a short label for a count. */
void count_label(uint64_t n, char *out, size_t cap);

/* Remove a directory tree (best effort). Returns 0 or -1. */
int remove_tree(const char *path);

/* --- the physical limits of the data directory's filesystem (limits.c) --------------------- */

typedef struct limits {
    double fsync_rate; /* 4 KiB append + fdatasync per second, zero-filled file */
    double fsync_p50_us;
    double fsync_p99_us;
    double seqwrite_mbps; /* MB/s (10^6 bytes), 1 MiB writes + one fdatasync */
    double memcpy_mbps;   /* MB/s copied between large buffers */
} limits_t;

/* Measures and reports the limits (figures limits.*). Fields it could not measure are NAN. */
void limits_run(const bench_config_t *cfg, limits_t *out);

/* --- libstele workloads (workloads.c) ------------------------------------------------------ */

void workloads_run(const bench_config_t *cfg, const limits_t *lim);

/* The fresh-process open + read probe: run as `stele-bench --child-open DIR ...`. Prints one result
 * line on stdout and returns the exit status. */
int workloads_child_open(const char *store_dir, uint64_t streams, uint64_t per_stream,
                         uint64_t reads, uint64_t seed);

/* --- HTTP workloads against steled (http.c) ----------------------------------------------- */

/* Starts the steled next to this program on a fresh store, runs the selected http.* workloads
 * (--only http selects them all) and stops it. */
void http_run(const bench_config_t *cfg, const limits_t *lim);

#endif
