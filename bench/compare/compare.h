/*
 * compare.h -- the parts of stele-compare shared between its files: the configuration, the
 * registry of compiled-in backends, the client-thread harnesses (driver.c), the workloads
 * (workloads.c) and the report (report.c).
 *
 * Statistics and clocks come from stele-bench's stats.c (bench.h): now_ns, lat_vec_t, median.
 */
#ifndef STELE_COMPARE_H
#define STELE_COMPARE_H

#include "backend.h"
#include "bench.h"
#include "cli_args.h"
#include "machine.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* --- configuration ------------------------------------------------------------------------- */

#define CMP_MAX_CHECKPOINTS 8
#define CMP_MAX_RUNS 100

typedef struct cmp_config {
    const char *work_dir; /* the fresh directory of this run; one subdirectory per system */
    int runs;             /* runs per figure (1..CMP_MAX_RUNS); the median is reported */
    double seconds;       /* measured duration of each timed run */
    double warmup;        /* un-measured warm-up before each timed run */
    uint64_t events;      /* events preloaded before the non-growth workloads */
    uint64_t streams;     /* streams they are spread over (events / streams events each) */
    uint64_t checkpoints[CMP_MAX_CHECKPOINTS]; /* growth checkpoints, increasing */
    size_t ncheckpoints;
    const char *only; /* comma-separated workload names, or NULL for all */
    bool keep;        /* keep the data directories */
} cmp_config_t;

/* The workload names --only accepts, in the order they run. */
extern const char *const cmp_workloads[];
extern const size_t cmp_nworkloads;

/* True when workload `name` was selected (always without --only). */
bool cmp_selected(const cmp_config_t *cfg, const char *name);

/* --- the backends compiled in (driver.c) --------------------------------------------------- */

/* Every system stele-compare knows, compiled in or not, in report order. */
extern const char *const cmp_system_names[];
extern const size_t cmp_nsystem_names;

/* The compiled-in backend named `name`, or NULL. */
const backend_t *cmp_backend(const char *name);

/* Runs the selected workloads against one system: availability, a fresh directory, setup,
 * workloads, teardown, removal. Every outcome is reported (ok, unsupported, skipped, error). */
void cmp_run_system(const cmp_config_t *cfg, const char *name);

/* --- client threads (driver.c) -------------------------------------------------------------- */

/* One client thread with its own connection. */
typedef struct client {
    const backend_t *b;
    bconn_t *conn;
    void *ctx;                  /* the workload's shared context */
    unsigned id;                /* 0 .. nclients-1 */
    unsigned nclients;          /* how many clients this run has */
    uint64_t k;                 /* operations this client started so far (timed runs) */
    uint64_t rng;               /* this client's random state (xorshift64), never 0 */
    int64_t version;            /* a version the workload tracks (the conflict workload's view) */
    atomic_uint_fast64_t units; /* events (or commits) done */
    atomic_uint_fast64_t ops;   /* successful operations */
    atomic_uint_fast64_t conflicts; /* operations refused with BACKEND_CONFLICT */
    lat_vec_t lat;                  /* latency of each successful measured operation, ns */
    char err[BACKEND_ERR_CAP];
    int failed;
} client_t;

/* One timed operation of a client: returns 0 with *units done, BACKEND_CONFLICT (counted, not
 * timed) or -1 with c->err filled. */
typedef int (*timed_op_fn)(client_t *c, uint64_t *units);

typedef struct timed_result {
    double units_per_s; /* units done per second of the measured window */
    double ops_per_s;
    double conflicts_per_s;
    uint64_t ops;       /* successful operations in the window */
    uint64_t conflicts; /* refused operations in the window */
    double p50_us;      /* latency of successful operations */
    double p99_us;
} timed_result_t;

/* Connects n clients, runs op in each for warmup + seconds, measures the last `seconds`. seed
 * seeds the clients' random states. Returns 0, or -1 with err filled (the first failure). */
int cmp_timed_run(const backend_t *b, benv_t *env, unsigned n, double warmup, double seconds,
                  uint64_t seed, timed_op_fn op, void *ctx, timed_result_t *out, char *err);

/* One unit of fixed work: 0 or -1 with c->err filled. */
typedef int (*work_fn)(client_t *c, uint64_t k);

/* Connects n clients and does every unit k in [k0, k1): client i does the units with k % n == i,
 * in increasing order (so a client owns whatever the units map to by k % n). Stores the seconds
 * the work took in *elapsed_s. Returns 0 or -1 with err filled. */
int cmp_work_run(const backend_t *b, benv_t *env, unsigned n, uint64_t k0, uint64_t k1, work_fn fn,
                 void *ctx, double *elapsed_s, char *err);

/* Bytes the files under dir occupy on disk (allocated blocks), or -1 when it cannot be walked. */
double cmp_disk_bytes(const char *dir);

/* Next value of a xorshift64 state. */
uint64_t cmp_rand(uint64_t *state);

/* --- workloads (workloads.c) ---------------------------------------------------------------- */

/* One system under test, as the workloads see it. */
typedef struct cmp_system {
    const backend_t *b;
    const cmp_config_t *cfg;
    benv_t *env;
    const char *dir;      /* the directory the system's store lives in */
    uint64_t next_stream; /* first stream number not used yet */
} cmp_system_t;

/* Builds the shared events (call once, before any workload). Returns 0 or -1. */
int cmp_workloads_init(void);

/* The workloads that share one preloaded store: preload, then every selected one of readstream,
 * readall, append, batch, commit, conflict, subscribe. */
void cmp_workloads_main(cmp_system_t *sys);

/* The growth workload, on a fresh store of its own. */
void cmp_workloads_growth(cmp_system_t *sys);

/* Reports every figure of the selected workloads (main ones, or growth) as failed with message. */
void cmp_workloads_fail(const backend_t *b, const cmp_config_t *cfg, bool growth,
                        const char *message);

/* --- the report (report.c) ------------------------------------------------------------------- */

typedef enum fig_status {
    FIG_OK = 0,
    FIG_UNSUPPORTED, /* the system has no such operation */
    FIG_SKIPPED,     /* the system is not installed */
    FIG_ERROR,       /* the workload failed */
} fig_status_t;

/* Starts the report: JSON lines are appended to json_path (may be NULL). Returns 0 or -1. */
int cmp_report_open(const char *json_path, const machine_t *m);

/* Records one figure (value is ignored unless status is FIG_OK) and writes its JSON line. */
void cmp_report_figure(const char *system, const char *durability, const char *name,
                       fig_status_t st, double value, const char *unit, int runs,
                       const char *message);

/* Prints the table of every figure to out. */
void cmp_report_print(FILE *out);

/* Closes the JSON file; returns -1 when writing it failed. */
int cmp_report_close(void);

/* True when some figure has status FIG_ERROR. */
bool cmp_report_had_errors(void);

#endif
