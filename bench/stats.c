/*
 * stats.c -- clocks, latency vectors, percentiles, medians, RSS and small helpers of stele-bench.
 */
#include "bench.h"

#include <errno.h>
#include <ftw.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void sleep_seconds(double s) {
    if (!(s > 0)) {
        return;
    }
    struct timespec ts;
    ts.tv_sec = (time_t)s;
    ts.tv_nsec = (long)((s - (double)ts.tv_sec) * 1e9);
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

void lat_push(lat_vec_t *l, uint64_t ns) {
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 4096;
        uint64_t *v = realloc(l->v, cap * sizeof *v);
        if (!v) {
            return; /* drop the sample rather than fail the run */
        }
        l->v = v;
        l->cap = cap;
    }
    l->v[l->n++] = ns;
}

void lat_append(lat_vec_t *dst, const lat_vec_t *src) {
    for (size_t i = 0; i < src->n; i++) {
        lat_push(dst, src->v[i]);
    }
}

void lat_free(lat_vec_t *l) {
    free(l->v);
    l->v = NULL;
    l->n = l->cap = 0;
}

static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

uint64_t lat_percentile(lat_vec_t *l, double p) {
    if (l->n == 0) {
        return 0;
    }
    qsort(l->v, l->n, sizeof *l->v, cmp_u64);
    double rank = ceil(p / 100.0 * (double)l->n);
    size_t i = rank < 1 ? 0 : (size_t)rank - 1;
    if (i >= l->n) {
        i = l->n - 1;
    }
    return l->v[i];
}

double median(const double *v, size_t n) {
    size_t failed = 0;
    for (size_t i = 0; i < n; i++) {
        failed += isnan(v[i]) ? 1 : 0;
    }
    if (n == 0 || failed > 0) {
        if (failed > 0) {
            fprintf(stderr,
                    "stele-bench: %zu of %zu runs failed: the figure is reported as an "
                    "error\n",
                    failed, n);
        }
        return NAN;
    }
    double *c = malloc(n * sizeof *c);
    if (!c) {
        return NAN;
    }
    memcpy(c, v, n * sizeof *c);
    qsort(c, n, sizeof *c, cmp_double);
    double r = (n % 2) ? c[n / 2] : (c[n / 2 - 1] + c[n / 2]) / 2;
    free(c);
    return r;
}

void proc_rss_kib(uint64_t *rss_kib, uint64_t *hwm_kib) {
    *rss_kib = 0;
    *hwm_kib = 0;
    FILE *f = fopen("/proc/self/status", "r");
    if (!f) {
        return;
    }
    char line[256];
    while (fgets(line, sizeof line, f)) {
        unsigned long long kib;
        if (sscanf(line, "VmRSS: %llu kB", &kib) == 1) {
            *rss_kib = kib;
        } else if (sscanf(line, "VmHWM: %llu kB", &kib) == 1) {
            *hwm_kib = kib;
        }
    }
    fclose(f);
}

void count_label(uint64_t n, char *out, size_t cap) {
    if (n >= 1000000 && n % 1000000 == 0) {
        snprintf(out, cap, "%lluM", (unsigned long long)(n / 1000000));
    } else if (n >= 1000 && n % 1000 == 0) {
        snprintf(out, cap, "%lluk", (unsigned long long)(n / 1000));
    } else {
        snprintf(out, cap, "%llu", (unsigned long long)n);
    }
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path) == 0 || errno == ENOENT ? 0 : -1;
}

int remove_tree(const char *path) { return nftw(path, remove_entry, 32, FTW_DEPTH | FTW_PHYS); }
