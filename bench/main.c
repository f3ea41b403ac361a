/*
 * main.c -- stele-bench: flags and the report (a table on stdout and,
 * with --json FILE, one JSON line per figure).
 *
 * See bench/README.md for what each figure means.
 */
#include "bench.h"
#include "cli_args.h"
#include "machine.h"

#include <stele.h>

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static const char *const WORKLOADS[] = {"limits",   "append",      "clients",    "batch",
                                        "commit",   "readall",     "readstream", "growth",
                                        "http",     "http.append", "http.batch", "http.readall",
                                        "http.sse", "http.idle",   "http.scan"};
#define NWORKLOADS (sizeof WORKLOADS / sizeof WORKLOADS[0])

/* --- the report ---------------------------------------------------------------------------- */

#define MAX_FIGURES 256
#define MAX_NOTES 32

typedef struct figure {
    char name[64];
    double value;
    char unit[16];
    target_op_t op;
    double target;
    double ratio;
    char ratio_of[24];
    int runs;           /* the number of runs the value is the median of */
    char durability[8]; /* "sync", "none", or "" for the physical limits */
} figure_t;

static figure_t figures[MAX_FIGURES];
static size_t nfigures;
static char *notes[MAX_NOTES];
static size_t nnotes;
static int default_runs = 1, scope_runs = 1;
static const char *scope_durability = "sync";

void report_scope(int runs, const char *durability) {
    scope_runs = runs;
    scope_durability = durability;
}

void report_scope_reset(void) { report_scope(default_runs, "sync"); }

static const char *verdict(const figure_t *f) {
    if (isnan(f->value)) {
        return "error";
    }
    if (f->op == TARGET_NONE) {
        return "";
    }
    if (isnan(f->target)) {
        return "n/a";
    }
    bool met = f->op == TARGET_AT_LEAST ? f->value >= f->target : f->value < f->target;
    return met ? "met" : "missed";
}

static void format_number(double v, char *out, size_t cap) {
    double a = fabs(v);
    if (isnan(v)) {
        snprintf(out, cap, "-");
    } else if (a >= 1000) {
        snprintf(out, cap, "%.0f", v);
    } else if (a >= 100) {
        snprintf(out, cap, "%.1f", v);
    } else {
        snprintf(out, cap, "%.2f", v);
    }
}

static void format_target(const figure_t *f, char *out, size_t cap) {
    char num[32];
    if (f->op == TARGET_NONE) {
        snprintf(out, cap, "-");
        return;
    }
    if (isnan(f->target)) {
        snprintf(out, cap, "needs limits"); /* a target relative to a limit not measured */
        return;
    }
    format_number(f->target, num, sizeof num);
    snprintf(out, cap, "%s %s", f->op == TARGET_AT_LEAST ? ">=" : "<", num);
}

static void format_ratio(const figure_t *f, char *out, size_t cap) {
    if (isnan(f->ratio)) {
        snprintf(out, cap, "-");
    } else {
        snprintf(out, cap, "%.2fx %s", f->ratio, f->ratio_of);
    }
}

static void print_row(FILE *out, const figure_t *f) {
    char value[32], target[40], ratio[48], row[256];
    format_number(f->value, value, sizeof value);
    format_target(f, target, sizeof target);
    format_ratio(f, ratio, sizeof ratio);
    snprintf(row, sizeof row, "%-36s %14s %-9s %-14s %-18s %s", f->name, value, f->unit, target,
             ratio, verdict(f));
    size_t len = strlen(row);
    while (len > 0 && row[len - 1] == ' ') {
        row[--len] = '\0';
    }
    fprintf(out, "%s\n", row);
}

void report_figure(const char *name, double value, const char *unit, target_op_t op, double target,
                   double ratio, const char *ratio_of) {
    if (nfigures == MAX_FIGURES) {
        return;
    }
    figure_t *f = &figures[nfigures++];
    snprintf(f->name, sizeof f->name, "%s", name);
    f->value = value;
    snprintf(f->unit, sizeof f->unit, "%s", unit);
    f->op = op;
    f->target = target;
    f->ratio = ratio;
    snprintf(f->ratio_of, sizeof f->ratio_of, "%s", ratio_of ? ratio_of : "");
    f->runs = scope_runs;
    snprintf(f->durability, sizeof f->durability, "%s", scope_durability ? scope_durability : "");
    /* progress on stderr while the run goes on */
    fprintf(stderr, "  ");
    print_row(stderr, f);
}

void report_note(const char *fmt, ...) {
    if (nnotes == MAX_NOTES) {
        return;
    }
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    for (size_t i = 0; i < nnotes; i++) {
        if (strcmp(notes[i], buf) == 0) {
            return;
        }
    }
    notes[nnotes] = strdup(buf);
    if (notes[nnotes]) {
        nnotes++;
    }
}

static int write_json(const char *path, const machine_t *m) {
    FILE *f = fopen(path, "w");
    if (!f) {
        fprintf(stderr, "stele-bench: %s: %s\n", path, strerror(errno));
        return -1;
    }
    for (size_t i = 0; i < nfigures; i++) {
        const figure_t *g = &figures[i];
        fputs("{\"name\":", f);
        json_write_string(f, g->name);
        fputs(",\"value\":", f);
        json_write_number(f, g->value);
        fputs(",\"unit\":", f);
        json_write_string(f, g->unit);
        fputs(",\"target\":", f);
        json_write_number(f, g->op == TARGET_NONE ? NAN : g->target);
        fputs(",\"target_op\":", f);
        if (g->op == TARGET_NONE) {
            fputs("null", f);
        } else {
            json_write_string(f, g->op == TARGET_AT_LEAST ? ">=" : "<");
        }
        fputs(",\"ratio\":", f);
        json_write_number(f, g->ratio);
        fputs(",\"ratio_to\":", f);
        if (isnan(g->ratio)) {
            fputs("null", f);
        } else {
            json_write_string(f, g->ratio_of);
        }
        fputs(",\"verdict\":", f);
        json_write_string(f, verdict(g)[0] ? verdict(g) : "none");
        fprintf(f, ",\"runs\":%d,\"durability\":", g->runs);
        if (g->durability[0]) {
            json_write_string(f, g->durability);
        } else {
            fputs("null", f);
        }
        fputs(",", f);
        machine_write_json(f, m);
        fputs("}\n", f);
    }
    if (fclose(f) != 0) {
        fprintf(stderr, "stele-bench: %s: %s\n", path, strerror(errno));
        return -1;
    }
    return 0;
}

/* --- flags ----------------------------------------------------------------------------------- */

static const char *only_list;

bool bench_selected(const bench_config_t *cfg, const char *name) {
    return !cfg->only || cli_list_has(cfg->only, name);
}

static void usage(FILE *out) {
    fprintf(out,
            "usage: stele-bench [options]\n"
            "Measures the physical limits of the data directory's filesystem and libstele's\n"
            "durable append and read figures in one run; prints a table, optionally JSON lines.\n"
            "\n"
            "  --dir DIR          work in a fresh directory under DIR (default: ./bench-data)\n"
            "  --keep             keep the data directory at the end\n"
            "  --quick            small sizes, 1 run of 1 s each (about a minute)\n"
            "  --full             also 256 clients\n"
            "  --runs N           runs per figure, median reported (default 3)\n"
            "  --seconds S        measured seconds per throughput run (default 2)\n"
            "  --warmup S         warm-up seconds before each throughput run (default 0.5)\n"
            "  --events N         events to preload (default 10000000; --quick 1000000)\n"
            "  --streams N        streams they are spread over (default events / 10)\n"
            "  --reads N          random one-stream reads per probe (default 100000)\n"
            "  --seqwrite-mib N   size of the sequential write probe (default 256)\n"
            "  --only LIST        comma-separated workloads: limits, append, clients, batch,\n"
            "                     commit, readall, readstream, growth; http (all of:\n"
            "                     http.append, http.batch, http.readall, http.sse, http.idle,\n"
            "                     http.scan)\n"
            "  --json FILE        also write every figure as a JSON line to FILE\n"
            "  --client-ids       durable appends carry client-supplied event ids (fresh ones:\n"
            "                     the store looks each up in its event-id index)\n"
            "  --help             this text\n");
}

enum {
    OPT_DIR = 256,
    OPT_KEEP,
    OPT_QUICK,
    OPT_FULL,
    OPT_RUNS,
    OPT_SECONDS,
    OPT_WARMUP,
    OPT_EVENTS,
    OPT_STREAMS,
    OPT_READS,
    OPT_SEQWRITE,
    OPT_ONLY,
    OPT_JSON,
    OPT_CLIENT_IDS,
    OPT_HELP,
    OPT_CHILD_OPEN,
    OPT_PER_STREAM,
    OPT_SEED,
};

static const struct option long_options[] = {
    {"dir", required_argument, NULL, OPT_DIR},
    {"keep", no_argument, NULL, OPT_KEEP},
    {"quick", no_argument, NULL, OPT_QUICK},
    {"full", no_argument, NULL, OPT_FULL},
    {"runs", required_argument, NULL, OPT_RUNS},
    {"seconds", required_argument, NULL, OPT_SECONDS},
    {"warmup", required_argument, NULL, OPT_WARMUP},
    {"events", required_argument, NULL, OPT_EVENTS},
    {"streams", required_argument, NULL, OPT_STREAMS},
    {"reads", required_argument, NULL, OPT_READS},
    {"seqwrite-mib", required_argument, NULL, OPT_SEQWRITE},
    {"only", required_argument, NULL, OPT_ONLY},
    {"json", required_argument, NULL, OPT_JSON},
    {"client-ids", no_argument, NULL, OPT_CLIENT_IDS},
    {"help", no_argument, NULL, OPT_HELP},
    /* internal: the fresh-process open + read probe */
    {"child-open", required_argument, NULL, OPT_CHILD_OPEN},
    {"per-stream", required_argument, NULL, OPT_PER_STREAM},
    {"seed", required_argument, NULL, OPT_SEED},
    {NULL, 0, NULL, 0},
};

int main(int argc, char **argv) {
    const char *base = "bench-data", *json = NULL, *child_dir = NULL;
    bool keep = false, quick = false, full = false, client_ids = false, base_is_default = true;
    uint64_t runs = 0, events = 0, streams = 0, reads = 0, seqwrite = 0, per_stream = 10, seed = 1;
    double seconds = -1, warmup = -1;
    int c;
    while ((c = getopt_long(argc, argv, "h", long_options, NULL)) != -1) {
        bool ok = true;
        switch (c) {
        case OPT_DIR:
            base = optarg;
            base_is_default = false;
            break;
        case OPT_KEEP: keep = true; break;
        case OPT_QUICK: quick = true; break;
        case OPT_FULL: full = true; break;
        case OPT_RUNS: ok = cli_u64(optarg, &runs) && runs >= 1 && runs <= 1000; break;
        case OPT_SECONDS: ok = cli_seconds(optarg, &seconds) && seconds > 0; break;
        case OPT_WARMUP: ok = cli_seconds(optarg, &warmup); break;
        case OPT_EVENTS: ok = cli_u64(optarg, &events) && events >= 1; break;
        case OPT_STREAMS: ok = cli_u64(optarg, &streams) && streams >= 1; break;
        case OPT_READS: ok = cli_u64(optarg, &reads) && reads >= 1; break;
        case OPT_SEQWRITE: ok = cli_u64(optarg, &seqwrite) && seqwrite >= 1; break;
        case OPT_ONLY:
            only_list = optarg;
            ok = cli_list_valid("stele-bench", "--only", optarg, WORKLOADS, NWORKLOADS);
            break;
        case OPT_JSON: json = optarg; break;
        case OPT_CLIENT_IDS: client_ids = true; break;
        case OPT_CHILD_OPEN: child_dir = optarg; break;
        case OPT_PER_STREAM: ok = cli_u64(optarg, &per_stream); break;
        case OPT_SEED: ok = cli_u64(optarg, &seed); break;
        case 'h':
        case OPT_HELP: usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
        if (!ok) {
            fprintf(stderr, "stele-bench: invalid value for --%s: %s\n",
                    long_options[c - OPT_DIR].name, optarg);
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "stele-bench: unexpected argument '%s'\n", argv[optind]);
        usage(stderr);
        return 2;
    }
    if (child_dir) {
        return workloads_child_open(child_dir, streams, per_stream, reads, seed);
    }

    bench_config_t cfg = {
        .runs = quick ? 1 : 3,
        .seconds = quick ? 1.0 : 2.0,
        .warmup = quick ? 0.2 : 0.5,
        .events = quick ? 1000000u : 10000000u, /* the targets' size (workloads.c) */
        .reads = quick ? 20000u : 100000u,
        .seqwrite_mib = quick ? 64u : 256u,
        .full = full,
        .client_ids = client_ids,
        .only = only_list,
        .self_exe = "/proc/self/exe",
    };
    if (runs) {
        cfg.runs = (int)runs;
    }
    default_runs = cfg.runs;
    report_scope_reset();
    if (seconds > 0) {
        cfg.seconds = seconds;
    }
    if (warmup >= 0) {
        cfg.warmup = warmup;
    }
    if (events) {
        cfg.events = events;
    }
    cfg.streams = streams ? streams : (cfg.events >= 10 ? cfg.events / 10 : 1);
    if (cfg.streams > cfg.events) {
        cfg.streams = cfg.events;
    }
    if (reads) {
        cfg.reads = reads;
    }
    if (seqwrite) {
        cfg.seqwrite_mib = seqwrite;
    }

    /* a fresh work directory on the filesystem of --dir */
    char work[PATH_MAX];
    time_t now = time(NULL);
    struct tm tm;
    char stamp[32];
    localtime_r(&now, &tm);
    strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", &tm);
    snprintf(work, sizeof work, "%s/stele-bench-%s-%ld", base, stamp, (long)getpid());
    if (cli_make_dirs(work, false) != 0) {
        fprintf(stderr, "stele-bench: cannot create %s: %s\n", work, strerror(errno));
        return 1;
    }
    cfg.work_dir = work;

    machine_t m;
    machine_describe(work, &m);
    printf("stele-bench (libstele %s)\n", STELE_VERSION_STRING);
    machine_print(stdout, &m);
    printf("data directory: %s%s\n", work, keep ? " (kept)" : " (removed at the end)");
    printf("settings: %d run(s), %.1f s per throughput run after %.1f s warm-up, %llu events over "
           "%llu streams, %llu reads%s%s%s\n\n",
           cfg.runs, cfg.seconds, cfg.warmup, (unsigned long long)cfg.events,
           (unsigned long long)cfg.streams, (unsigned long long)cfg.reads,
           full ? ", 256 clients" : "", cfg.only ? ", only " : "", cfg.only ? cfg.only : "");
    fflush(stdout);

    limits_t lim = {NAN, NAN, NAN, NAN, NAN};
    if (bench_selected(&cfg, "limits")) {
        fprintf(stderr, "measuring the physical limits...\n");
        limits_run(&cfg, &lim);
    }
    fprintf(stderr, "running the libstele workloads...\n");
    workloads_run(&cfg, &lim);
    http_run(&cfg, &lim);

    printf("%-36s %14s %-9s %-14s %-18s %s\n", "figure", "value", "unit", "target",
           "ratio to limit", "verdict");
    for (size_t i = 0; i < nfigures; i++) {
        print_row(stdout, &figures[i]);
    }
    if (nnotes) {
        printf("\n");
    }
    for (size_t i = 0; i < nnotes; i++) {
        printf("- %s\n", notes[i]);
        free(notes[i]);
    }
    int status = 0;
    if (json && write_json(json, &m) != 0) {
        status = 1;
    }
    if (!keep) {
        if (remove_tree(work) != 0) {
            fprintf(stderr, "stele-bench: could not remove %s\n", work);
        }
        if (base_is_default) {
            rmdir(base); /* only when empty */
        }
    }
    for (size_t i = 0; i < nfigures; i++) {
        if (isnan(figures[i].value)) {
            status = 1;
        }
    }
    return status;
}
