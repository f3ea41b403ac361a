/*
 * limits.c -- the physical limits of the data directory's filesystem and of memory, measured in the
 * same run as the libstele figures so that those can be stated as ratios:
 *
 *   - 4 KiB append + fdatasync into a zero-filled, synced file (what a log writer that prepares its
 *     segments ahead can reach with one sync per append), and the same into a file that was only
 *     fallocated (informational: the cost of unwritten extents);
 *   - sequential write bandwidth: 1 MiB writes then one fdatasync, timed together;
 *   - memcpy bandwidth between buffers much larger than the caches.
 */
#include "bench.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define BLOCK 4096u
#define MIB (1024u * 1024u)

static int write_all(int fd, const void *buf, size_t len) {
    const char *p = buf;
    while (len > 0) {
        ssize_t w = write(fd, p, len);
        if (w < 0) {
            if (errno == EINTR) {
                continue;
            }
            return -errno;
        }
        p += w;
        len -= (size_t)w;
    }
    return 0;
}

static int pwrite_all(int fd, const void *buf, size_t len, off_t off) {
    const char *p = buf;
    while (len > 0) {
        ssize_t w = pwrite(fd, p, len, off);
        if (w < 0) {
            if (errno == EINTR) {
                continue;
            }
            return -errno;
        }
        p += w;
        off += w;
        len -= (size_t)w;
    }
    return 0;
}

/* Prepare `path` of `size` bytes: zero-filled and synced (zero_fill) or only fallocated. */
static int prepare_file(const char *path, uint64_t size, bool zero_fill) {
    int fd = open(path, O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC, 0644);
    if (fd < 0) {
        return -errno;
    }
    int rc = 0;
    if (zero_fill) {
        char *zeros = calloc(1, MIB);
        if (!zeros) {
            close(fd);
            return -ENOMEM;
        }
        for (uint64_t done = 0; done < size && rc == 0; done += MIB) {
            rc = write_all(fd, zeros, MIB);
        }
        free(zeros);
    } else {
        rc = -posix_fallocate(fd, 0, (off_t)size);
    }
    if (rc == 0 && fsync(fd) != 0) {
        rc = -errno;
    }
    close(fd);
    if (rc == 0) {
        /* make the new file's directory entry durable too, as a log writer would */
        char dir[4096];
        snprintf(dir, sizeof dir, "%s", path);
        char *slash = strrchr(dir, '/');
        if (slash) {
            *slash = '\0';
            int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
            if (dfd >= 0) {
                (void)fsync(dfd);
                close(dfd);
            }
        }
    }
    return rc;
}

typedef struct fsync_run {
    double rate;
    double p50_us;
    double p99_us;
} fsync_run_t;

/* Overwrite `path` (of `size` bytes) sequentially, 4 KiB + fdatasync each, for warm-up + seconds
 * (wrapping around at the end when zero-filled; stopping at the end otherwise). */
static int fsync_probe(const char *path, uint64_t size, bool wrap, double warmup, double seconds,
                       fsync_run_t *out) {
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0) {
        return -errno;
    }
    char *block = aligned_alloc(BLOCK, BLOCK);
    if (!block) {
        close(fd);
        return -ENOMEM;
    }
    memset(block, 'x', BLOCK);
    lat_vec_t lat = {0};
    uint64_t off = 0, t_start = now_ns();
    uint64_t t_measure = t_start + (uint64_t)(warmup * 1e9);
    uint64_t t_end = t_measure + (uint64_t)(seconds * 1e9);
    uint64_t measured = 0, t_first = 0, t_last = 0;
    int rc = 0;
    for (;;) {
        if (off + BLOCK > size) {
            if (!wrap) {
                break;
            }
            off = 0;
        }
        uint64_t t0 = now_ns();
        if (t0 >= t_end) {
            break;
        }
        rc = pwrite_all(fd, block, BLOCK, (off_t)off);
        if (rc == 0 && fdatasync(fd) != 0) {
            rc = -errno;
        }
        if (rc != 0) {
            break;
        }
        uint64_t t1 = now_ns();
        off += BLOCK;
        if (t0 >= t_measure) {
            if (measured == 0) {
                t_first = t0;
            }
            measured++;
            t_last = t1;
            lat_push(&lat, t1 - t0);
        }
    }
    if (rc == 0 && measured > 0) {
        out->rate = (double)measured / ((double)(t_last - t_first) / 1e9);
        out->p50_us = (double)lat_percentile(&lat, 50) / 1e3;
        out->p99_us = (double)lat_percentile(&lat, 99) / 1e3;
    } else if (rc == 0) {
        rc = -EIO;
    }
    lat_free(&lat);
    free(block);
    close(fd);
    return rc;
}

/* Write `mib` MiB into a new file in 1 MiB writes, then one fdatasync; returns MB/s or NAN. */
static double seqwrite_probe(const char *path, uint64_t mib) {
    char *buf = aligned_alloc(BLOCK, MIB);
    if (!buf) {
        return NAN;
    }
    for (size_t i = 0; i < MIB; i++) {
        buf[i] = (char)('a' + i % 26);
    }
    int fd = open(path, O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC, 0644);
    if (fd < 0) {
        free(buf);
        return NAN;
    }
    uint64_t t0 = now_ns();
    int rc = 0;
    for (uint64_t i = 0; i < mib && rc == 0; i++) {
        rc = write_all(fd, buf, MIB);
    }
    if (rc == 0 && fdatasync(fd) != 0) {
        rc = -errno;
    }
    uint64_t t1 = now_ns();
    close(fd);
    unlink(path);
    free(buf);
    if (rc != 0) {
        fprintf(stderr, "stele-bench: sequential write probe: %s\n", strerror(-rc));
        return NAN;
    }
    return (double)(mib * MIB) / ((double)(t1 - t0) / 1e9) / 1e6;
}

/* memcpy between two 256 MiB buffers (each copy 64 MiB) for about `seconds`; returns MB/s. */
static double memcpy_probe(double seconds) {
    const size_t total = 256u * MIB, chunk = 64u * MIB;
    char *a = malloc(total), *b = malloc(total);
    if (!a || !b) {
        free(a);
        free(b);
        return NAN;
    }
    memset(a, 1, total); /* fault every page in before timing */
    memset(b, 2, total);
    uint64_t copied = 0, t0 = now_ns(), t_end = t0 + (uint64_t)(seconds * 1e9), t1;
    size_t off = 0;
    do {
        memcpy(b + off, a + (total - chunk - off), chunk);
        copied += chunk;
        off = (off + chunk) % total;
        t1 = now_ns();
    } while (t1 < t_end);
    volatile char sink = b[copied % total];
    (void)sink;
    free(a);
    free(b);
    return (double)copied / ((double)(t1 - t0) / 1e9) / 1e6;
}

void limits_run(const bench_config_t *cfg, limits_t *out) {
    out->fsync_rate = out->fsync_p50_us = out->fsync_p99_us = NAN;
    out->seqwrite_mbps = out->memcpy_mbps = NAN;

    char dir[4096], zpath[4200], fpath[4200], spath[4200];
    snprintf(dir, sizeof dir, "%s/limits", cfg->work_dir);
    if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
        fprintf(stderr, "stele-bench: mkdir %s: %s\n", dir, strerror(errno));
        return;
    }
    snprintf(zpath, sizeof zpath, "%s/zero-filled", dir);
    snprintf(fpath, sizeof fpath, "%s/fallocated", dir);
    snprintf(spath, sizeof spath, "%s/sequential", dir);

    int runs = cfg->runs;
    double *rate = calloc((size_t)runs, sizeof *rate), *p50 = calloc((size_t)runs, sizeof *p50);
    double *p99 = calloc((size_t)runs, sizeof *p99), *frate = calloc((size_t)runs, sizeof *frate);
    double *seq = calloc((size_t)runs, sizeof *seq), *mem = calloc((size_t)runs, sizeof *mem);
    if (!rate || !p50 || !p99 || !frate || !seq || !mem) {
        goto done;
    }

    /* zero-filled file: 64 MiB is plenty, the probe wraps around */
    const uint64_t zsize = 64u * MIB;
    int rc = prepare_file(zpath, zsize, true);
    if (rc != 0) {
        fprintf(stderr, "stele-bench: preparing %s: %s\n", zpath, strerror(-rc));
    }
    for (int r = 0; r < runs; r++) {
        fsync_run_t fr;
        rate[r] = p50[r] = p99[r] = NAN;
        if (rc == 0 && fsync_probe(zpath, zsize, true, cfg->warmup, cfg->seconds, &fr) == 0) {
            rate[r] = fr.rate;
            p50[r] = fr.p50_us;
            p99[r] = fr.p99_us;
        }
        /* fallocated-only file: a fresh one per run, large enough never to wrap */
        frate[r] = NAN;
        uint64_t fsize = 512u * MIB;
        if (prepare_file(fpath, fsize, false) == 0 &&
            fsync_probe(fpath, fsize, false, cfg->warmup, cfg->seconds, &fr) == 0) {
            frate[r] = fr.rate;
        }
        unlink(fpath);
        seq[r] = seqwrite_probe(spath, cfg->seqwrite_mib);
        mem[r] = memcpy_probe(cfg->seconds < 1 ? cfg->seconds : 1);
    }
    unlink(zpath);

    out->fsync_rate = median(rate, (size_t)runs);
    out->fsync_p50_us = median(p50, (size_t)runs);
    out->fsync_p99_us = median(p99, (size_t)runs);
    out->seqwrite_mbps = median(seq, (size_t)runs);
    out->memcpy_mbps = median(mem, (size_t)runs);

    report_scope(runs, NULL); /* raw file probes, not appends: no durability mode */
    report_figure("limits.fsync4k.rate", out->fsync_rate, "ops/s", TARGET_NONE, NAN, NAN, NULL);
    report_figure("limits.fsync4k.p50", out->fsync_p50_us, "us", TARGET_NONE, NAN, NAN, NULL);
    report_figure("limits.fsync4k.p99", out->fsync_p99_us, "us", TARGET_NONE, NAN, NAN, NULL);
    report_figure("limits.fsync4k_fallocated.rate", median(frate, (size_t)runs), "ops/s",
                  TARGET_NONE, NAN, NAN, NULL);
    report_figure("limits.seqwrite", out->seqwrite_mbps, "MB/s", TARGET_NONE, NAN, NAN, NULL);
    report_figure("limits.memcpy", out->memcpy_mbps, "MB/s", TARGET_NONE, NAN, NAN, NULL);
    report_scope_reset();
    report_note("limits: 4 KiB pwrite + fdatasync into a zero-filled synced file (and into a "
                "fallocated-only one); %llu MiB in 1 MiB writes + one fdatasync; memcpy of 64 MiB "
                "blocks",
                (unsigned long long)cfg->seqwrite_mib);
done:
    free(rate);
    free(p50);
    free(p99);
    free(frate);
    free(seq);
    free(mem);
    rmdir(dir);
}
