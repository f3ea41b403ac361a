/*
 * cli_args.c -- the flag parsing stele-bench and stele-compare share (see cli_args.h).
 */
#include "cli_args.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

bool cli_u64(const char *s, uint64_t *out) {
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || s[0] == '-') {
        return false;
    }
    *out = v;
    return true;
}

bool cli_seconds(const char *s, double *out) {
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno != 0 || end == s || *end != '\0' || !(v >= 0) || v > CLI_MAX_SECONDS) {
        return false;
    }
    *out = v;
    return true;
}

/* Calls fn on each name of the comma-separated list until it returns true; returns that. */
static bool list_any(const char *list, bool (*fn)(const char *name, size_t len, const void *arg),
                     const void *arg) {
    for (const char *p = list; *p;) {
        size_t len = strcspn(p, ",");
        if (fn(p, len, arg)) {
            return true;
        }
        p += len;
        if (*p == ',') {
            p++;
        }
    }
    return false;
}

static bool is_name(const char *name, size_t len, const void *arg) {
    const char *want = arg;
    return strlen(want) == len && strncmp(name, want, len) == 0;
}

bool cli_list_has(const char *list, const char *name) { return list_any(list, is_name, name); }

typedef struct known {
    const char *prog, *flag;
    const char *const *names;
    size_t n;
} known_t;

/* True (and says so) when name is not one of k->names. */
static bool is_unknown(const char *name, size_t len, const void *arg) {
    const known_t *k = arg;
    for (size_t i = 0; i < k->n; i++) {
        if (strlen(k->names[i]) == len && strncmp(name, k->names[i], len) == 0) {
            return false;
        }
    }
    fprintf(stderr, "%s: %s: unknown name '%.*s'\n", k->prog, k->flag, (int)len, name);
    return true;
}

bool cli_list_valid(const char *prog, const char *flag, const char *list, const char *const *names,
                    size_t n) {
    if (!list[0]) {
        fprintf(stderr, "%s: %s: empty list\n", prog, flag);
        return false;
    }
    known_t k = {prog, flag, names, n};
    return !list_any(list, is_unknown, &k);
}

int cli_make_dirs(const char *path, bool fresh) {
    char buf[PATH_MAX];
    int n = snprintf(buf, sizeof buf, "%s", path);
    if (n < 0 || (size_t)n >= sizeof buf) {
        errno = ENAMETOOLONG;
        return -1;
    }
    for (char *p = buf + 1; *p; p++) {
        if (*p == '/') {
            *p = '\0';
            if (mkdir(buf, 0755) != 0 && errno != EEXIST) {
                return -1;
            }
            *p = '/';
        }
    }
    if (mkdir(buf, 0755) != 0 && (fresh || errno != EEXIST)) {
        return -1;
    }
    return 0;
}
