/*
 * report.c -- stele-compare's figures: a progress line on stderr as each one is measured, one JSON
 * line each in the --json file (appended as they come, so a long run that is interrupted keeps
 * what it measured), and the table on stdout at the end.
 *
 * The JSON keys are stele-bench's (name, value, unit, target, target_op, ratio, ratio_to, verdict,
 * machine, date) plus system, durability, runs, status and message (see README.md).
 */
#include "compare.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct figure {
    char system[24];
    const char *durability; /* the backend's static string */
    char name[64];
    fig_status_t status;
    double value;
    char unit[16];
    int runs;
    char *message; /* owned, or NULL */
} figure_t;

static figure_t *figures;
static size_t nfigures, capfigures;
static FILE *json_file;
static const char *json_path;
static const machine_t *machine;
static bool json_failed;

static const char *status_name(fig_status_t st) {
    switch (st) {
    case FIG_OK: return "ok";
    case FIG_UNSUPPORTED: return "unsupported";
    case FIG_SKIPPED: return "skipped";
    case FIG_ERROR: return "error";
    }
    return "error";
}

static void format_value(const figure_t *f, char *out, size_t cap) {
    double a = fabs(f->value);
    if (f->status != FIG_OK) {
        snprintf(out, cap, "%s", status_name(f->status));
    } else if (isnan(f->value)) {
        snprintf(out, cap, "-");
    } else if (a >= 1000) {
        snprintf(out, cap, "%.0f", f->value);
    } else if (a >= 100) {
        snprintf(out, cap, "%.1f", f->value);
    } else if (a >= 1) {
        snprintf(out, cap, "%.2f", f->value);
    } else {
        snprintf(out, cap, "%.4f", f->value);
    }
}

static void print_row(FILE *out, const char *system, const char *durability, const char *name,
                      const char *value, const char *unit) {
    fprintf(out, "%-11s %-34s %14s  %-10s %s\n", system, name, value, unit, durability);
}

static void write_json_line(const figure_t *f) {
    FILE *j = json_file;
    fputs("{\"name\":", j);
    json_write_string(j, f->name);
    fputs(",\"value\":", j);
    json_write_number(j, f->status == FIG_OK ? f->value : NAN);
    fputs(",\"unit\":", j);
    json_write_string(j, f->unit);
    fputs(",\"target\":null,\"target_op\":null,\"ratio\":null,\"ratio_to\":null,\"verdict\":", j);
    json_write_string(j, f->status == FIG_ERROR ? "error" : "none");
    fputc(',', j);
    machine_write_json(j, machine);
    fputs(",\"system\":", j);
    json_write_string(j, f->system);
    fputs(",\"durability\":", j);
    json_write_string(j, f->durability);
    fprintf(j, ",\"runs\":%d,\"status\":", f->runs);
    json_write_string(j, status_name(f->status));
    fputs(",\"message\":", j);
    if (f->message) {
        json_write_string(j, f->message);
    } else {
        fputs("null", j);
    }
    fputs("}\n", j);
    if (fflush(j) != 0 && !json_failed) {
        fprintf(stderr, "stele-compare: writing %s: %s\n", json_path, strerror(errno));
        json_failed = true;
    }
}

int cmp_report_open(const char *path, const machine_t *m) {
    machine = m;
    if (!path) {
        return 0;
    }
    json_file = fopen(path, "a");
    if (!json_file) {
        fprintf(stderr, "stele-compare: cannot open the JSON file %s: %s\n", path, strerror(errno));
        return -1;
    }
    json_path = path;
    return 0;
}

void cmp_report_figure(const char *system, const char *durability, const char *name,
                       fig_status_t st, double value, const char *unit, int runs,
                       const char *message) {
    if (nfigures == capfigures) {
        size_t cap = capfigures ? capfigures * 2 : 128;
        figure_t *grown = realloc(figures, cap * sizeof *grown);
        if (!grown) {
            fprintf(stderr, "stele-compare: out of memory recording figure %s\n", name);
            return;
        }
        figures = grown;
        capfigures = cap;
    }
    figure_t *f = &figures[nfigures++];
    memset(f, 0, sizeof *f);
    snprintf(f->system, sizeof f->system, "%s", system);
    f->durability = durability ? durability : "";
    snprintf(f->name, sizeof f->name, "%s", name);
    f->status = st;
    f->value = st == FIG_OK ? value : NAN;
    snprintf(f->unit, sizeof f->unit, "%s", unit ? unit : "");
    f->runs = st == FIG_OK ? runs : 0;
    f->message = message && message[0] ? strdup(message) : NULL;

    char v[32];
    format_value(f, v, sizeof v);
    fprintf(stderr, "  %-11s %-34s %14s  %s%s%s\n", f->system, f->name, v, f->unit,
            f->message ? "  " : "", f->message ? f->message : "");
    if (json_file) {
        write_json_line(f);
    }
}

void cmp_report_print(FILE *out) {
    print_row(out, "system", "durability", "figure", "value", "unit");
    for (size_t i = 0; i < nfigures; i++) {
        const figure_t *f = &figures[i];
        char v[32];
        format_value(f, v, sizeof v);
        print_row(out, f->system, f->durability, f->name, v, f->unit);
    }
    bool header = false;
    for (size_t i = 0; i < nfigures; i++) {
        const figure_t *f = &figures[i];
        if (f->status == FIG_OK || !f->message) {
            continue;
        }
        if (!header) {
            fprintf(out, "\n");
            header = true;
        }
        fprintf(out, "- %s %s: %s: %s\n", f->system, f->name, status_name(f->status), f->message);
    }
}

int cmp_report_close(void) {
    int rc = json_failed ? -1 : 0;
    if (json_file && fclose(json_file) != 0) {
        fprintf(stderr, "stele-compare: closing %s: %s\n", json_path, strerror(errno));
        rc = -1;
    }
    json_file = NULL;
    for (size_t i = 0; i < nfigures; i++) {
        free(figures[i].message);
    }
    free(figures);
    figures = NULL;
    nfigures = capfigures = 0;
    return rc;
}

bool cmp_report_had_errors(void) {
    for (size_t i = 0; i < nfigures; i++) {
        if (figures[i].status == FIG_ERROR) {
            return true;
        }
    }
    return false;
}
