/*
 * fuzz_util.c -- scratch directory, file helpers and the failing check shared by the fuzz targets
 * (see fuzz_util.h).
 */
#include "fuzz_util.h"

#include "alloc_hooks.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char scratch[4096];

void fuzz_fail(const char *file, int line, const char *cond, const char *fmt, ...) {
    va_list ap;
    fprintf(stderr, "FUZZ CHECK FAILED at %s:%d: %s: ", file, line, cond);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    abort();
}

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
    (void)st;
    (void)flag;
    if (ftw->level > 0)
        (void)remove(path);
    return 0;
}

void fuzz_scratch_clean(void) {
    if (scratch[0])
        (void)nftw(scratch, remove_one, 16, FTW_DEPTH | FTW_PHYS);
}

static void scratch_remove(void) {
    fuzz_scratch_clean();
    if (scratch[0])
        (void)rmdir(scratch);
}

const char *fuzz_scratch(void) {
    if (!scratch[0]) {
        const char *base = getenv("TMPDIR");
        if (!base || !*base)
            base = "/tmp";
        (void)mkdir(base, 0755); /* ctest's test-tmp may not exist yet */
        int n = snprintf(scratch, sizeof scratch, "%s/stele-fuzz-XXXXXX", base);
        FUZZ_CHECK(n > 0 && (size_t)n < sizeof scratch, "TMPDIR too long");
        FUZZ_CHECK(mkdtemp(scratch) != NULL, "mkdtemp(%s): %s", scratch, strerror(errno));
        atexit(scratch_remove);
    }
    return scratch;
}

void fuzz_path(char *out, size_t size, const char *rel) {
    int n = snprintf(out, size, "%s/%s", fuzz_scratch(), rel);
    FUZZ_CHECK(n > 0 && (size_t)n < size, "path too long: %s", rel);
}

void fuzz_mkdir(const char *rel) {
    char path[4200];
    fuzz_path(path, sizeof path, rel);
    FUZZ_CHECK(mkdir(path, 0755) == 0 || errno == EEXIST, "mkdir(%s): %s", path, strerror(errno));
}

void fuzz_write(const char *rel, const void *data, size_t len) {
    char path[4200];
    fuzz_path(path, sizeof path, rel);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    FUZZ_CHECK(fd >= 0, "open(%s): %s", path, strerror(errno));
    const uint8_t *p = data;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        FUZZ_CHECK(n > 0, "write(%s): %s", path, strerror(errno));
        p += n;
        len -= (size_t)n;
    }
    close(fd);
}

int64_t fuzz_alloc_live(void) { return stele__alloc_live(); }
