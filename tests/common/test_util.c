/*
 * test_util.c -- helpers shared by the store's unit tests (see test_util.h).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* nftw's FTW_DEPTH | FTW_PHYS */
#endif
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "test_util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* ---- seed and random numbers ------------------------------------------------------------- */

uint64_t tu_seed(const char *test_name) {
    const char *env = getenv("STELE_TEST_SEED");
    uint64_t seed;
    if (env && *env) {
        seed = strtoull(env, NULL, 0);
    } else {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        seed =
            ((uint64_t)ts.tv_sec * 1000000007u) ^ (uint64_t)ts.tv_nsec ^ ((uint64_t)getpid() << 32);
    }
    printf("[ seed     ] %s: STELE_TEST_SEED=%" PRIu64 "\n", test_name, seed);
    fflush(stdout);
    return seed;
}

void tu_rng_init(tu_rng_t *r, uint64_t seed) { r->state = seed; }

uint64_t tu_rnd(tu_rng_t *r) { /* splitmix64 */
    uint64_t z = (r->state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

uint64_t tu_rnd_below(tu_rng_t *r, uint64_t n) { return n ? tu_rnd(r) % n : 0; }

/* ---- files and directories ---------------------------------------------------------------- */

void tu_tmpdir(char *out, size_t size, const char *tag) {
    const char *base = getenv("STELE_TEST_TMP");
    if (!base || !*base)
        base = "/tmp";
    if (mkdir(base, 0777) < 0 && errno != EEXIST) {
        fprintf(stderr, "cannot make %s: %s\n", base, strerror(errno));
        fail();
    }
    int n = snprintf(out, size, "%s/stele-%s-XXXXXX", base, tag);
    assert_true(n > 0 && (size_t)n < size);
    if (!mkdtemp(out)) {
        fprintf(stderr, "mkdtemp %s: %s\n", out, strerror(errno));
        fail();
    }
}

static int remove_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw) {
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path) == 0 || errno == ENOENT ? 0 : -1;
}

void tu_rmtree(const char *path) { (void)nftw(path, remove_one, 16, FTW_DEPTH | FTW_PHYS); }

void tu_join(char *out, size_t size, const char *dir, const char *rel) {
    int n = snprintf(out, size, "%s/%s", dir, rel);
    assert_true(n > 0 && (size_t)n < size);
}

bool tu_exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0;
}

uint8_t *tu_read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    assert_int_equal(fseek(f, 0, SEEK_END), 0);
    long size = ftell(f);
    assert_true(size > 0);
    rewind(f);
    uint8_t *buf = malloc((size_t)size);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)size, f), (size_t)size);
    fclose(f);
    *len = (size_t)size;
    return buf;
}

void tu_write_file(const char *path, const void *buf, size_t len) {
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(buf, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
}

int tu_flip_bit(const char *path, uint64_t offset, unsigned bit) {
    int fd = open(path, O_RDWR);
    if (fd < 0)
        return -errno;
    uint8_t b = 0;
    int rc = 0;
    if (pread(fd, &b, 1, (off_t)offset) != 1)
        rc = -EIO;
    b = (uint8_t)(b ^ (1u << (bit & 7u)));
    if (rc == 0 && pwrite(fd, &b, 1, (off_t)offset) != 1)
        rc = -EIO;
    close(fd);
    return rc;
}

static int name_cmp(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

char **tu_list(const char *dir, const char *suffix, size_t *count) {
    *count = 0;
    DIR *d = opendir(dir);
    if (!d)
        return NULL;
    char **names = NULL;
    size_t n = 0, cap = 0, slen = strlen(suffix);
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        size_t len = strlen(e->d_name);
        if (len < slen || strcmp(e->d_name + len - slen, suffix) != 0)
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            names = realloc(names, cap * sizeof(*names));
            assert_non_null(names);
        }
        names[n] = strdup(e->d_name);
        assert_non_null(names[n]);
        n++;
    }
    closedir(d);
    if (n)
        qsort(names, n, sizeof(*names), name_cmp);
    *count = n;
    return names;
}

void tu_names_free(char **names, size_t count) {
    for (size_t i = 0; i < count; i++)
        free(names[i]);
    free(names);
}

/* ---- stores ------------------------------------------------------------------------------- */

void tu_options(stele_options_t *o) {
    stele_options_init(o);
    o->flags = STELE_OPEN_CREATE;
    o->durability = STELE_DURABILITY_NONE;
    o->segment_size_bytes = TU_SEGMENT_BYTES;
}

stele_store_t *tu_open(const char *dir) {
    stele_options_t o;
    tu_options(&o);
    stele_store_t *s = NULL;
    int rc = stele_store_open(dir, &o, &s);
    if (rc != 0)
        fprintf(stderr, "open %s: %s (%s)\n", dir, stele_strerror(rc), stele_errdetail());
    assert_int_equal(rc, 0);
    assert_non_null(s);
    return s;
}

stele_store_t *tu_reopen(stele_store_t *s, const char *dir) {
    int rc = stele_store_close(s);
    if (rc != 0)
        fprintf(stderr, "close %s: %s (%s)\n", dir, stele_strerror(rc), stele_errdetail());
    assert_int_equal(rc, 0);
    return tu_open(dir);
}

stele_event_in_t tu_event(const char *type, const char *json) {
    stele_event_in_t e;
    memset(&e, 0, sizeof e);
    e.type = type;
    e.data = json ? json : "{}";
    e.data_len = strlen(json ? json : "{}");
    return e;
}

int tu_append1(stele_store_t *s, const char *stream, int64_t expected, const char *type,
               const char *json, stele_append_result_t *res) {
    stele_event_in_t e = tu_event(type, json);
    return stele_append(s, stream, expected, &e, 1, res);
}

uint64_t tu_head(stele_store_t *s) {
    uint64_t pos = 0;
    uint8_t hash[32];
    assert_int_equal(stele_head_digest(s, &pos, hash), 0);
    return pos;
}

void tu_assert_detail(void) {
    const char *d = stele_errdetail();
    assert_non_null(d);
    if (!d[0])
        fprintf(stderr, "stele_errdetail() is empty after a failure\n");
    assert_true(d[0] != '\0');
}

/* ---- reading into owned copies ------------------------------------------------------------ */

static char *copy_bytes(const void *p, size_t n) {
    char *c = malloc(n + 1);
    assert_non_null(c);
    if (n)
        memcpy(c, p, n);
    c[n] = 0;
    return c;
}

void tu_events_push(tu_events_t *out, const stele_event_t *ev) {
    if (out->n == out->cap) {
        out->cap = out->cap ? out->cap * 2 : 64;
        out->v = realloc(out->v, out->cap * sizeof(*out->v));
        assert_non_null(out->v);
    }
    tu_event_t *e = &out->v[out->n++];
    e->position = ev->position;
    e->version = ev->version;
    e->time_ns = ev->time_ns;
    e->id = ev->id;
    e->flags = ev->flags;
    assert_int_equal(strlen(ev->stream), ev->stream_len);
    assert_int_equal(strlen(ev->type), ev->type_len);
    e->stream = copy_bytes(ev->stream, ev->stream_len);
    e->type = copy_bytes(ev->type, ev->type_len);
    e->data = copy_bytes(ev->data, ev->data_len);
    e->data_len = ev->data_len;
    e->metadata = ev->metadata ? copy_bytes(ev->metadata, ev->metadata_len) : NULL;
    e->metadata_len = ev->metadata ? ev->metadata_len : 0;
}

int tu_drain(stele_reader_t *r, tu_events_t *out) {
    for (;;) {
        stele_event_t ev;
        int rc = stele_reader_next(r, &ev);
        if (rc <= 0)
            return rc;
        tu_events_push(out, &ev);
    }
}

int tu_read_stream(stele_store_t *s, const char *stream, int64_t from, stele_direction_t dir,
                   uint64_t limit, tu_events_t *out) {
    stele_reader_t *r = NULL;
    int rc = stele_read_stream(s, stream, from, dir, limit, &r);
    if (rc < 0)
        return rc;
    rc = tu_drain(r, out);
    stele_reader_close(r);
    return rc;
}

int tu_read_all(stele_store_t *s, const stele_read_options_t *o, tu_events_t *out) {
    stele_reader_t *r = NULL;
    int rc = stele_read_all(s, o, &r);
    if (rc < 0)
        return rc;
    rc = tu_drain(r, out);
    stele_reader_close(r);
    return rc;
}

void tu_events_free(tu_events_t *e) {
    for (size_t i = 0; i < e->n; i++) {
        free(e->v[i].stream);
        free(e->v[i].type);
        free(e->v[i].data);
        free(e->v[i].metadata);
    }
    free(e->v);
    memset(e, 0, sizeof(*e));
}

bool tu_events_equal(const tu_events_t *a, const tu_events_t *b) {
    if (a->n != b->n) {
        fprintf(stderr, "event lists differ in length: %zu vs %zu\n", a->n, b->n);
        return false;
    }
    for (size_t i = 0; i < a->n; i++) {
        const tu_event_t *x = &a->v[i], *y = &b->v[i];
        bool same = x->position == y->position && x->version == y->version &&
                    x->time_ns == y->time_ns && memcmp(x->id.bytes, y->id.bytes, 16) == 0 &&
                    x->flags == y->flags && strcmp(x->stream, y->stream) == 0 &&
                    strcmp(x->type, y->type) == 0 && x->data_len == y->data_len &&
                    memcmp(x->data, y->data, x->data_len) == 0 &&
                    x->metadata_len == y->metadata_len && !x->metadata == !y->metadata &&
                    (!x->metadata || memcmp(x->metadata, y->metadata, x->metadata_len) == 0);
        if (!same) {
            fprintf(stderr,
                    "event %zu differs: position %" PRIu64 "/%" PRIu64
                    " stream %s/%s version %" PRId64 "/%" PRId64 "\n",
                    i, x->position, y->position, x->stream, y->stream, x->version, y->version);
            return false;
        }
    }
    return true;
}

int tu_store_setup(void **state) {
    tu_fixture_t *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    tu_tmpdir(f->dir, sizeof f->dir, "store");
    f->s = tu_open(f->dir);
    *state = f;
    return 0;
}

int tu_store_teardown(void **state) {
    tu_fixture_t *f = *state;
    if (f->s)
        assert_int_equal(stele_store_close(f->s), 0);
    tu_rmtree(f->dir);
    free(f);
    return 0;
}
