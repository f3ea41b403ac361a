/*
 * cli_args.h -- the flag parsing stele-bench and stele-compare share: numbers, seconds,
 * comma-separated name lists, and the work directory.
 */
#ifndef STELE_BENCH_CLI_ARGS_H
#define STELE_BENCH_CLI_ARGS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The longest a timed run may be, in seconds (--seconds, --warmup). */
#define CLI_MAX_SECONDS 3600.0

/* A decimal number without sign, the whole of s. */
bool cli_u64(const char *s, uint64_t *out);

/* Seconds, 0..CLI_MAX_SECONDS, the whole of s. */
bool cli_seconds(const char *s, double *out);

/* Whether the comma-separated list names name. */
bool cli_list_has(const char *list, const char *name);

/* Whether every name of the comma-separated list is one of names[n]; if not, says on stderr which
 * is not ("prog: flag: unknown name 'x'"), or that the list is empty. */
bool cli_list_valid(const char *prog, const char *flag, const char *list, const char *const *names,
                    size_t n);

/* Creates path and its missing parents (mkdir -p). With fresh, path itself must not exist yet.
 * Returns 0, or -1 with errno set. */
int cli_make_dirs(const char *path, bool fresh);

#endif
