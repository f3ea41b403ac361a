/*
 * driver.c -- the backends compiled into stele-compare, the life of one system under test (its
 * directories, setup and teardown), and the client-thread harnesses every workload runs on.
 *
 * A backend file is compiled in only when its client library was found and the file exists; CMake
 * then defines STELE_COMPARE_HAVE_<NAME>, so a missing backend is simply absent from the registry
 * (and reported as skipped when asked for by name).
 */
#include "compare.h"

#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* --- the registry ------------------------------------------------------------------------------
 */

const char *const cmp_system_names[] = {"stele", "stele-http", "sqlite", "postgres", "nats"};
const size_t cmp_nsystem_names = sizeof cmp_system_names / sizeof cmp_system_names[0];

static const backend_t *const backends[] = {
#ifdef STELE_COMPARE_HAVE_STELE
    &backend_stele,
#endif
#ifdef STELE_COMPARE_HAVE_STELE_HTTP
    &backend_stele_http,
#endif
#ifdef STELE_COMPARE_HAVE_SQLITE
    &backend_sqlite,
#endif
#ifdef STELE_COMPARE_HAVE_POSTGRES
    &backend_postgres,
#endif
#ifdef STELE_COMPARE_HAVE_NATS
    &backend_nats,
#endif
    NULL, /* keeps the array non-empty whatever is compiled in */
};

const backend_t *cmp_backend(const char *name) {
    for (size_t i = 0; backends[i]; i++) {
        if (strcmp(backends[i]->name, name) == 0) {
            return backends[i];
        }
    }
    return NULL;
}

/* --- small helpers -----------------------------------------------------------------------------
 */

uint64_t cmp_rand(uint64_t *state) {
    uint64_t x = *state;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    *state = x;
    return x;
}

static double disk_total;

static int add_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
    (void)path;
    (void)flag;
    (void)ftw;
    disk_total += (double)st->st_blocks * 512.0;
    return 0;
}

double cmp_disk_bytes(const char *dir) {
    disk_total = 0;
    if (nftw(dir, add_entry, 32, FTW_PHYS) != 0) {
        return -1;
    }
    return disk_total;
}

/* Creates dir (and its missing parents) as an empty directory. */
static int make_empty_dir(const char *dir, char *err) {
    if (cli_make_dirs(dir, true) != 0) {
        return backend_fail(err, "cannot create %s: %s", dir, strerror(errno));
    }
    return 0;
}

/* --- client threads --------------------------------------------------------------------------- */

enum { PHASE_WARMUP = 0, PHASE_MEASURE = 1, PHASE_STOP = 2 };

typedef struct timed_run {
    timed_op_fn op;
    atomic_int phase;
    atomic_int failures;
} timed_run_t;

typedef struct timed_client {
    client_t c;
    timed_run_t *run;
    pthread_t thread;
} timed_client_t;

static void *timed_main(void *arg) {
    timed_client_t *tc = arg;
    client_t *c = &tc->c;
    timed_run_t *run = tc->run;
    for (;;) {
        int phase = atomic_load_explicit(&run->phase, memory_order_acquire);
        if (phase == PHASE_STOP) {
            break;
        }
        uint64_t units = 0;
        uint64_t t0 = now_ns();
        int rc = run->op(c, &units);
        uint64_t t1 = now_ns();
        c->k++;
        if (rc == 0) {
            atomic_fetch_add_explicit(&c->units, units, memory_order_relaxed);
            atomic_fetch_add_explicit(&c->ops, 1, memory_order_relaxed);
            if (phase == PHASE_MEASURE) {
                lat_push(&c->lat, t1 - t0);
            }
        } else if (rc == BACKEND_CONFLICT) {
            atomic_fetch_add_explicit(&c->conflicts, 1, memory_order_relaxed);
        } else {
            if (!c->err[0]) {
                snprintf(c->err, sizeof c->err, "operation failed without a reason");
            }
            c->failed = 1;
            atomic_fetch_add_explicit(&run->failures, 1, memory_order_release);
            break;
        }
    }
    return NULL;
}

static void sum_counts(timed_client_t *tc, unsigned n, uint64_t *units, uint64_t *ops,
                       uint64_t *conflicts) {
    *units = *ops = *conflicts = 0;
    for (unsigned i = 0; i < n; i++) {
        *units += atomic_load_explicit(&tc[i].c.units, memory_order_relaxed);
        *ops += atomic_load_explicit(&tc[i].c.ops, memory_order_relaxed);
        *conflicts += atomic_load_explicit(&tc[i].c.conflicts, memory_order_relaxed);
    }
}

/* Sleeps s seconds in short slices; returns early when a client failed. */
static void sleep_unless_failed(timed_run_t *run, double s) {
    uint64_t end = now_ns() + (uint64_t)(s * 1e9);
    while (atomic_load_explicit(&run->failures, memory_order_acquire) == 0) {
        uint64_t now = now_ns();
        if (now >= end) {
            break;
        }
        double left = (double)(end - now) / 1e9;
        sleep_seconds(left < 0.05 ? left : 0.05);
    }
}

/* Connects n clients; on failure disconnects those already connected. */
static int connect_all(const backend_t *b, benv_t *env, client_t **clients, unsigned n, char *err) {
    for (unsigned i = 0; i < n; i++) {
        if (b->connect(env, &clients[i]->conn, err) != 0) {
            for (unsigned j = 0; j < i; j++) {
                b->disconnect(clients[j]->conn);
                clients[j]->conn = NULL;
            }
            char why[BACKEND_ERR_CAP];
            snprintf(why, sizeof why, "%s", err);
            return backend_fail(err, "connecting client %u of %u: %s", i + 1, n, why);
        }
    }
    return 0;
}

static void init_client(client_t *c, const backend_t *b, void *ctx, unsigned id, unsigned n,
                        uint64_t seed) {
    c->b = b;
    c->ctx = ctx;
    c->id = id;
    c->nclients = n;
    c->rng = (seed * 0x9E3779B97F4A7C15ULL) ^ ((uint64_t)id + 1) * 0xBF58476D1CE4E5B9ULL;
    if (c->rng == 0) {
        c->rng = 1;
    }
    c->version = -1;
    atomic_init(&c->units, 0);
    atomic_init(&c->ops, 0);
    atomic_init(&c->conflicts, 0);
}

int cmp_timed_run(const backend_t *b, benv_t *env, unsigned n, double warmup, double seconds,
                  uint64_t seed, timed_op_fn op, void *ctx, timed_result_t *out, char *err) {
    memset(out, 0, sizeof *out);
    timed_client_t *tc = calloc(n, sizeof *tc);
    client_t **cs = calloc(n, sizeof *cs);
    if (!tc || !cs) {
        free(tc);
        free(cs);
        return backend_fail(err, "out of memory for %u clients", n);
    }
    timed_run_t run = {.op = op};
    atomic_init(&run.phase, PHASE_WARMUP);
    atomic_init(&run.failures, 0);
    for (unsigned i = 0; i < n; i++) {
        init_client(&tc[i].c, b, ctx, i, n, seed);
        tc[i].run = &run;
        cs[i] = &tc[i].c;
    }
    int rc = connect_all(b, env, cs, n, err);
    if (rc != 0) {
        goto free_clients;
    }

    unsigned started = 0;
    for (; started < n; started++) {
        int e = pthread_create(&tc[started].thread, NULL, timed_main, &tc[started]);
        if (e != 0) {
            rc = backend_fail(err, "cannot start client thread %u of %u: %s", started + 1, n,
                              strerror(e));
            break;
        }
    }
    uint64_t u0 = 0, o0 = 0, c0 = 0, u1 = 0, o1 = 0, c1 = 0, t0 = 0, t1 = 0;
    if (rc == 0) {
        sleep_unless_failed(&run, warmup);
        atomic_store_explicit(&run.phase, PHASE_MEASURE, memory_order_release);
        t0 = now_ns();
        sum_counts(tc, n, &u0, &o0, &c0);
        sleep_unless_failed(&run, seconds);
        sum_counts(tc, n, &u1, &o1, &c1);
        t1 = now_ns();
    }
    atomic_store_explicit(&run.phase, PHASE_STOP, memory_order_release);
    for (unsigned i = 0; i < started; i++) {
        pthread_join(tc[i].thread, NULL);
    }
    for (unsigned i = 0; i < n && rc == 0; i++) {
        if (tc[i].c.failed) {
            rc = backend_fail(err, "client %u: %s", i + 1, tc[i].c.err);
        }
    }
    if (rc == 0) {
        double s = (double)(t1 - t0) / 1e9;
        lat_vec_t all = {0};
        for (unsigned i = 0; i < n; i++) {
            lat_append(&all, &tc[i].c.lat);
        }
        out->ops = o1 - o0;
        out->conflicts = c1 - c0;
        out->units_per_s = (double)(u1 - u0) / s;
        out->ops_per_s = (double)out->ops / s;
        out->conflicts_per_s = (double)out->conflicts / s;
        out->p50_us = (double)lat_percentile(&all, 50) / 1e3;
        out->p99_us = (double)lat_percentile(&all, 99) / 1e3;
        lat_free(&all);
        if (out->ops == 0) {
            rc = backend_fail(err, "no operation completed in the %.1f s measured", s);
        }
    }
    for (unsigned i = 0; i < n; i++) {
        if (tc[i].c.conn) {
            b->disconnect(tc[i].c.conn);
        }
    }
free_clients:
    for (unsigned i = 0; i < n; i++) {
        lat_free(&tc[i].c.lat);
    }
    free(tc);
    free(cs);
    return rc;
}

typedef struct work_client {
    client_t c;
    work_fn fn;
    uint64_t k0, k1;
    pthread_barrier_t *start;
    atomic_int *failures; /* shared: the others stop early when one client fails */
    pthread_t thread;
} work_client_t;

static void *work_main(void *arg) {
    work_client_t *wc = arg;
    client_t *c = &wc->c;
    pthread_barrier_wait(wc->start);
    /* the first k >= k0 with k % n == id */
    uint64_t k = wc->k0 + (c->id + c->nclients - wc->k0 % c->nclients) % c->nclients;
    for (; k < wc->k1; k += c->nclients) {
        if (atomic_load_explicit(wc->failures, memory_order_relaxed) != 0) {
            break;
        }
        if (wc->fn(c, k) != 0) {
            if (!c->err[0]) {
                snprintf(c->err, sizeof c->err, "operation failed without a reason");
            }
            c->failed = 1;
            atomic_fetch_add_explicit(wc->failures, 1, memory_order_relaxed);
            break;
        }
    }
    return NULL;
}

int cmp_work_run(const backend_t *b, benv_t *env, unsigned n, uint64_t k0, uint64_t k1, work_fn fn,
                 void *ctx, double *elapsed_s, char *err) {
    *elapsed_s = 0;
    work_client_t *wc = calloc(n, sizeof *wc);
    client_t **cs = calloc(n, sizeof *cs);
    if (!wc || !cs) {
        free(wc);
        free(cs);
        return backend_fail(err, "out of memory for %u clients", n);
    }
    pthread_barrier_t start;
    pthread_barrier_init(&start, NULL, n + 1);
    atomic_int failures;
    atomic_init(&failures, 0);
    for (unsigned i = 0; i < n; i++) {
        init_client(&wc[i].c, b, ctx, i, n, k0 + 1);
        wc[i].fn = fn;
        wc[i].k0 = k0;
        wc[i].k1 = k1;
        wc[i].start = &start;
        wc[i].failures = &failures;
        cs[i] = &wc[i].c;
    }
    int rc = connect_all(b, env, cs, n, err);
    if (rc != 0) {
        goto free_clients;
    }
    for (unsigned i = 0; i < n; i++) {
        int e = pthread_create(&wc[i].thread, NULL, work_main, &wc[i]);
        if (e != 0) {
            /* the barrier needs every thread: without one, the run cannot start */
            fprintf(stderr, "stele-compare: cannot start a client thread: %s\n", strerror(e));
            abort();
        }
    }
    pthread_barrier_wait(&start);
    uint64_t t0 = now_ns();
    for (unsigned i = 0; i < n; i++) {
        pthread_join(wc[i].thread, NULL);
    }
    *elapsed_s = (double)(now_ns() - t0) / 1e9;
    for (unsigned i = 0; i < n && rc == 0; i++) {
        if (wc[i].c.failed) {
            rc = backend_fail(err, "client %u: %s", i + 1, wc[i].c.err);
        }
    }
    for (unsigned i = 0; i < n; i++) {
        b->disconnect(wc[i].c.conn);
    }
free_clients:
    pthread_barrier_destroy(&start);
    free(wc);
    free(cs);
    return rc;
}

/* --- one system under test -------------------------------------------------------------------- */

static bool any_main_workload(const cmp_config_t *cfg) {
    for (size_t i = 0; i < cmp_nworkloads; i++) {
        if (strcmp(cmp_workloads[i], "growth") != 0 && cmp_selected(cfg, cmp_workloads[i])) {
            return true;
        }
    }
    return false;
}

/* Sets up the system on a fresh directory `sub` of its own, runs `body`, tears it down and removes
 * the directory unless --keep. */
static void with_fresh_store(const cmp_config_t *cfg, const backend_t *b, const char *sub,
                             bool growth, void (*body)(cmp_system_t *sys)) {
    char dir[PATH_MAX], err[BACKEND_ERR_CAP] = "";
    int n = snprintf(dir, sizeof dir, "%s/%s/%s", cfg->work_dir, b->name, sub);
    if (n < 0 || (size_t)n >= sizeof dir) {
        cmp_workloads_fail(b, cfg, growth, "the work directory's name is too long");
        return;
    }
    if (make_empty_dir(dir, err) != 0) {
        cmp_workloads_fail(b, cfg, growth, err);
        return;
    }
    fprintf(stderr, "[%s] starting on a fresh store in %s\n", b->name, dir);
    benv_t *env = NULL;
    if (b->setup(dir, &env, err) != 0) {
        char msg[BACKEND_ERR_CAP + 32];
        snprintf(msg, sizeof msg, "setup failed: %s", err);
        fprintf(stderr, "[%s] %s\n", b->name, msg);
        cmp_workloads_fail(b, cfg, growth, msg);
    } else {
        cmp_system_t sys = {.b = b, .cfg = cfg, .env = env, .dir = dir};
        body(&sys);
        b->teardown(env);
    }
    if (!cfg->keep && remove_tree(dir) != 0) {
        fprintf(stderr, "stele-compare: could not remove %s\n", dir);
    }
}

void cmp_run_system(const cmp_config_t *cfg, const char *name) {
    const backend_t *b = cmp_backend(name);
    if (!b) {
        fprintf(stderr, "[%s] skipped: not compiled into this stele-compare\n", name);
        cmp_report_figure(name, "", "system", FIG_SKIPPED, 0, "", 0,
                          "not compiled in: its client library or backend file was missing at "
                          "build time");
        return;
    }
    char err[BACKEND_ERR_CAP] = "";
    if (!b->available(err)) {
        fprintf(stderr, "[%s] skipped: %s\n", name, err);
        cmp_report_figure(name, b->durability, "system", FIG_SKIPPED, 0, "", 0,
                          err[0] ? err : "not available on this machine");
        return;
    }
    if (any_main_workload(cfg)) {
        with_fresh_store(cfg, b, "main", false, cmp_workloads_main);
    }
    if (cmp_selected(cfg, "growth")) {
        with_fresh_store(cfg, b, "growth", true, cmp_workloads_growth);
    }
    if (!cfg->keep) {
        char dir[PATH_MAX];
        snprintf(dir, sizeof dir, "%s/%s", cfg->work_dir, b->name);
        rmdir(dir); /* only when empty */
    }
}
