/*
 * machine.h -- the description of the machine a benchmark ran on (cores, memory, filesystem of the
 * data directory, kernel, CPU, date) and the JSON helpers that write it.
 *
 * Shared by the benchmark programs (stele-bench and stele-compare) so that every JSON line they
 * write names the machine in the same way.
 */
#ifndef STELE_BENCH_MACHINE_H
#define STELE_BENCH_MACHINE_H

#include <stdio.h>

typedef struct machine {
    long cores;
    unsigned long long mem_bytes;
    char fs[64];      /* filesystem type of the data directory, e.g. "ext4" */
    char kernel[256]; /* "Linux 6.1.0 x86_64" */
    char cpu[128];    /* model name, "" when unknown */
    char date[32];    /* UTC, ISO 8601, when the description was taken */
} machine_t;

/* Describes this machine, with the filesystem that holds dir (an existing directory). */
void machine_describe(const char *dir, machine_t *m);

/* Prints the description for people: "machine: ...", "cpu: ..." (when known) and "date: ..." lines.
 */
void machine_print(FILE *f, const machine_t *m);

/* Writes `"machine":{...},"date":"..."` (no surrounding braces, no leading comma) to f. */
void machine_write_json(FILE *f, const machine_t *m);

/* Writes s as a JSON string (quoted, escaped). */
void json_write_string(FILE *f, const char *s);

/* Writes v as a JSON number, or null when it is NAN or infinite. */
void json_write_number(FILE *f, double v);

#endif
