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

/* The next name of a comma-separated list at *p, its length in *len; *p moves past it and its
 * comma. NULL at the end of the list. */
static const char *next_name(const char **p, size_t *len) {
    const char *name = *p;
    if (!*name) {
        return NULL;
    }
    *len = strcspn(name, ",");
    *p = name + *len + (name[*len] == ',');
    return name;
}

static bool same(const char *name, size_t len, const char *want) {
    return strlen(want) == len && strncmp(name, want, len) == 0;
}

bool cli_list_has(const char *list, const char *name) {
    size_t len;
    for (const char *p = list, *s; (s = next_name(&p, &len)) != NULL;) {
        if (same(s, len, name)) {
            return true;
        }
    }
    return false;
}

bool cli_list_valid(const char *prog, const char *flag, const char *list, const char *const *names,
                    size_t n) {
    if (!list[0]) {
        fprintf(stderr, "%s: %s: empty list\n", prog, flag);
        return false;
    }
    size_t len;
    for (const char *p = list, *s; (s = next_name(&p, &len)) != NULL;) {
        size_t i = 0;
        while (i < n && !same(s, len, names[i])) {
            i++;
        }
        if (i == n) {
            fprintf(stderr, "%s: %s: unknown name '%.*s'\n", prog, flag, (int)len, s);
            return false;
        }
    }
    return true;
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
