/*
 * main.c -- stele-compare: flags, the work directory, the machine description, and the loop over
 * the systems under test. See README.md for the workloads and figures, backend.h for what a
 * system must provide.
 */
#include "compare.h"

#include <stele.h>

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static void usage(FILE *out) {
    fprintf(out,
            "usage: stele-compare [options]\n"
            "Runs the same workloads against Stele and the systems a user would otherwise pick\n"
            "(those compiled in and installed), on one machine in one run; prints a table and\n"
            "optionally appends one JSON line per figure to a file.\n"
            "\n"
            "  --systems LIST   comma-separated: stele, stele-http, sqlite, postgres, nats\n"
            "                   (default: every system compiled in)\n"
            "  --only LIST      comma-separated workloads: append, batch, commit, conflict,\n"
            "                   readall, readstream, subscribe, growth (default: all)\n"
            "  --quick          1 run of 1 s each, 100k events over 10k streams, growth to 1M\n"
            "  --large          growth checkpoints 1M, 10M and 100M\n"
            "  --smoke          a check that every workload runs on every system, not a\n"
            "                   measurement: 1 run of 0.2 s, 2,000 events over 200 streams,\n"
            "                   growth to 20,000 (the test suite runs this)\n"
            "  --runs N         runs per figure, median reported (default 3)\n"
            "  --seconds S      measured seconds per timed run (default 2)\n"
            "  --warmup S       un-measured seconds before each timed run (default 0.5)\n"
            "  --dir DIR        work in a fresh directory under DIR (default: ./bench-data)\n"
            "  --keep           keep the data directories at the end\n"
            "  --json FILE      append every figure as a JSON line to FILE\n"
            "  --help           this text\n"
            "\n"
            "Default: 3 runs of 2 s, 1M events preloaded over 100k streams, growth checkpoints\n"
            "1M and 10M.\n");
}

enum {
    OPT_SYSTEMS = 256,
    OPT_ONLY,
    OPT_QUICK,
    OPT_LARGE,
    OPT_SMOKE,
    OPT_RUNS,
    OPT_SECONDS,
    OPT_WARMUP,
    OPT_DIR,
    OPT_KEEP,
    OPT_JSON,
    OPT_HELP,
};

static const struct option long_options[] = {
    {"systems", required_argument, NULL, OPT_SYSTEMS},
    {"only", required_argument, NULL, OPT_ONLY},
    {"quick", no_argument, NULL, OPT_QUICK},
    {"large", no_argument, NULL, OPT_LARGE},
    {"smoke", no_argument, NULL, OPT_SMOKE},
    {"runs", required_argument, NULL, OPT_RUNS},
    {"seconds", required_argument, NULL, OPT_SECONDS},
    {"warmup", required_argument, NULL, OPT_WARMUP},
    {"dir", required_argument, NULL, OPT_DIR},
    {"keep", no_argument, NULL, OPT_KEEP},
    {"json", required_argument, NULL, OPT_JSON},
    {"help", no_argument, NULL, OPT_HELP},
    {NULL, 0, NULL, 0},
};

int main(int argc, char **argv) {
    const char *base = "bench-data", *json = NULL, *systems = NULL, *only = NULL;
    bool quick = false, large = false, smoke = false, keep = false, base_is_default = true;
    uint64_t runs = 0;
    double seconds = -1, warmup = -1;
    int c;
    while ((c = getopt_long(argc, argv, "h", long_options, NULL)) != -1) {
        bool ok = true;
        switch (c) {
        case OPT_SYSTEMS:
            systems = optarg;
            ok = cli_list_valid("stele-compare", "--systems", optarg, cmp_system_names,
                                cmp_nsystem_names);
            break;
        case OPT_ONLY:
            only = optarg;
            ok = cli_list_valid("stele-compare", "--only", optarg, cmp_workloads, cmp_nworkloads);
            break;
        case OPT_QUICK: quick = true; break;
        case OPT_LARGE: large = true; break;
        case OPT_SMOKE: smoke = true; break;
        case OPT_RUNS: ok = cli_u64(optarg, &runs) && runs >= 1 && runs <= CMP_MAX_RUNS; break;
        case OPT_SECONDS: ok = cli_seconds(optarg, &seconds) && seconds > 0; break;
        case OPT_WARMUP: ok = cli_seconds(optarg, &warmup); break;
        case OPT_DIR:
            base = optarg;
            base_is_default = false;
            break;
        case OPT_KEEP: keep = true; break;
        case OPT_JSON: json = optarg; break;
        case 'h':
        case OPT_HELP: usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
        if (!ok) {
            if (c != OPT_SYSTEMS && c != OPT_ONLY) {
                fprintf(stderr, "stele-compare: invalid value for --%s: %s\n",
                        long_options[c - OPT_SYSTEMS].name, optarg);
            }
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "stele-compare: unexpected argument '%s'\n", argv[optind]);
        usage(stderr);
        return 2;
    }

    cmp_config_t cfg = {
        .runs = quick ? 1 : 3,
        .seconds = quick ? 1.0 : 2.0,
        .warmup = quick ? 0.2 : 0.5,
        .events = quick ? 100000u : 1000000u,
        .streams = quick ? 10000u : 100000u,
        .only = only,
        .keep = keep,
    };
    cfg.checkpoints[cfg.ncheckpoints++] = 1000000u;
    if (!quick || large) {
        cfg.checkpoints[cfg.ncheckpoints++] = 10000000u;
    }
    if (large) {
        cfg.checkpoints[cfg.ncheckpoints++] = 100000000u;
    }
    if (smoke) {
        cfg.runs = 1;
        cfg.seconds = 0.2;
        cfg.warmup = 0.05;
        cfg.events = 2000;
        cfg.streams = 200;
        cfg.checkpoints[0] = 20000;
        cfg.ncheckpoints = 1;
    }
    if (runs) {
        cfg.runs = (int)runs;
    }
    if (seconds > 0) {
        cfg.seconds = seconds;
    }
    if (warmup >= 0) {
        cfg.warmup = warmup;
    }

    char work[PATH_MAX];
    time_t now = time(NULL);
    struct tm tm;
    char stamp[32];
    localtime_r(&now, &tm);
    strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", &tm);
    snprintf(work, sizeof work, "%s/stele-compare-%s-%ld", base, stamp, (long)getpid());
    if (cli_make_dirs(work, false) != 0) {
        fprintf(stderr, "stele-compare: cannot create the work directory %s: %s\n", work,
                strerror(errno));
        return 1;
    }
    cfg.work_dir = work;
    if (cmp_workloads_init() != 0) {
        fprintf(stderr, "stele-compare: cannot build the events\n");
        return 1;
    }

    machine_t m;
    machine_describe(work, &m);
    printf("stele-compare (libstele %s)\n", STELE_VERSION_STRING);
    machine_print(stdout, &m);
    printf("data directory: %s%s\n", work, keep ? " (kept)" : " (removed at the end)");
    printf("settings: %d run(s), %.1f s per timed run after %.1f s warm-up, %llu events preloaded "
           "over %llu streams, growth to %llu events%s%s\n",
           cfg.runs, cfg.seconds, cfg.warmup, (unsigned long long)cfg.events,
           (unsigned long long)cfg.streams,
           (unsigned long long)cfg.checkpoints[cfg.ncheckpoints - 1], only ? ", only " : "",
           only ? only : "");
    printf("systems:");
    for (size_t i = 0; i < cmp_nsystem_names; i++) {
        const char *name = cmp_system_names[i];
        if (!systems || cli_list_has(systems, name)) {
            printf(" %s%s", name, cmp_backend(name) ? "" : " (not compiled in)");
        }
    }
    printf("\n\n");
    fflush(stdout);

    if (cmp_report_open(json, &m) != 0) {
        return 1;
    }
    for (size_t i = 0; i < cmp_nsystem_names; i++) {
        const char *name = cmp_system_names[i];
        if (systems ? cli_list_has(systems, name) : cmp_backend(name) != NULL) {
            cmp_run_system(&cfg, name);
        }
    }

    cmp_report_print(stdout);
    int status = cmp_report_had_errors() ? 1 : 0;
    if (cmp_report_close() != 0) {
        status = 1;
    }
    if (!keep) {
        if (remove_tree(work) != 0) {
            fprintf(stderr, "stele-compare: could not remove %s\n", work);
        }
        if (base_is_default) {
            rmdir(base); /* only when empty */
        }
    }
    return status;
}
