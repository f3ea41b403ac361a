/*
 * path.c -- joining a directory and a file name (see path.h).
 */
#include "util/path.h"

#include "util/error.h"

#include <errno.h>
#include <stdio.h>

int stele__path_join(char *out, size_t size, const char *dir, const char *name) {
    int n = snprintf(out, size, "%s/%s", dir, name);
    if (n < 0 || (size_t)n >= size)
        return stele__fail(-ENAMETOOLONG, "path too long: %s/%s", dir, name);
    return 0;
}
