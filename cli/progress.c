/*
 * progress.c -- a progress bar for long work (verify, reindex, import).
 *
 * The bar is drawn on stderr, and only when stderr is a terminal: stdout carries the command's
 * result (JSON) and must stay clean for pipes, and logs of scripted runs must not fill up with
 * carriage returns. Redraws are limited to ten a second so that a fast callback costs nothing.
 */
#include <time.h>
#include <unistd.h>

#include "cli.h"

#define BAR_WIDTH 30
#define REDRAW_NS 100000000LL

static int64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

void cli_progress_init(cli_progress_t *p, const char *label, const char *unit) {
    p->label = label;
    p->unit = unit;
    p->enabled = isatty(STDERR_FILENO) == 1;
    p->drawn = false;
    p->last_ns = 0;
}

/* Print a count of bytes in a readable unit. */
static void print_amount(const cli_progress_t *p, uint64_t n) {
    if (p->unit != NULL && p->unit[0] == 'b') {
        static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
        double v = (double)n;
        int u = 0;
        while (v >= 1024.0 && u < 4) {
            v /= 1024.0;
            u++;
        }
        fprintf(stderr, "%.1f %s", v, units[u]);
    } else {
        fprintf(stderr, "%llu", (unsigned long long)n);
        if (p->unit != NULL) {
            fprintf(stderr, " %s", p->unit);
        }
    }
}

void cli_progress_update(void *arg, uint64_t done, uint64_t total) {
    cli_progress_t *p = arg;
    if (p == NULL || !p->enabled) {
        return;
    }
    int64_t t = now_ns();
    bool finished = total != 0 && done >= total;
    if (p->drawn && !finished && t - p->last_ns < REDRAW_NS) {
        return;
    }
    p->last_ns = t;
    p->drawn = true;
    fprintf(stderr, "\r\033[K%s ", p->label);
    if (total != 0) {
        uint64_t shown = done > total ? total : done;
        int filled = (int)((double)shown / (double)total * BAR_WIDTH);
        fputc('[', stderr);
        for (int i = 0; i < BAR_WIDTH; i++) {
            fputc(i < filled ? '#' : ' ', stderr);
        }
        fprintf(stderr, "] %3d%%  ", (int)((double)shown * 100.0 / (double)total));
        print_amount(p, done);
        fputs(" / ", stderr);
        print_amount(p, total);
    } else {
        print_amount(p, done);
    }
    fflush(stderr);
}

void cli_progress_finish(cli_progress_t *p) {
    if (p->enabled && p->drawn) {
        fputs("\r\033[K", stderr);
        fflush(stderr);
    }
    p->drawn = false;
}
