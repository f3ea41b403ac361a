/*
 * test_util.h -- helpers shared by the unit tests of the store: scratch directories, opening a
 * store with small segments and no syncs, seeded random numbers, appending one JSON event, and
 * reading whole readers into owned copies so that tests can compare what they got.
 *
 * Scratch directories live under $STELE_TEST_TMP (ctest sets it to <build>/test-tmp) or /tmp.
 * Random tests call tu_seed(), which prints the seed; STELE_TEST_SEED=<n> replays it.
 * Helpers allocate with malloc, never with the project allocator, so that allocation-failure tests
 * can compare stele__alloc_live() before and after.
 */
#ifndef STELE_TEST_UTIL_H
#define STELE_TEST_UTIL_H

#include "stele.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TU_SEGMENT_BYTES ((uint64_t)1 << 20)

/* ---- seed and random numbers ------------------------------------------------------------- */

/* The seed of this run: STELE_TEST_SEED if set, else from the clock. Printed with the name. */
uint64_t tu_seed(const char *test_name);

typedef struct tu_rng {
    uint64_t state;
} tu_rng_t;

void tu_rng_init(tu_rng_t *r, uint64_t seed);
uint64_t tu_rnd(tu_rng_t *r);
/* Uniform in [0, n); 0 when n is 0. */
uint64_t tu_rnd_below(tu_rng_t *r, uint64_t n);

/* ---- files and directories ---------------------------------------------------------------- */

/* Make a new empty directory named after tag; out receives its path. Asserts on failure. */
void tu_tmpdir(char *out, size_t size, const char *tag);
/* Remove a directory tree (or a file). Missing is fine. */
void tu_rmtree(const char *path);
/* out = dir + "/" + rel. Asserts the path fits. */
void tu_join(char *out, size_t size, const char *dir, const char *rel);
bool tu_exists(const char *path);
/* The whole file (malloc'd, the caller frees; asserts it exists and is not empty). */
uint8_t *tu_read_file(const char *path, size_t *len);
/* Replace the file with len bytes of buf (created if missing); asserts success. */
void tu_write_file(const char *path, const void *buf, size_t len);
/* Flip one bit of a file in place. Returns 0 or -errno. */
int tu_flip_bit(const char *path, uint64_t offset, unsigned bit);
/* The file names in dir ending with suffix, sorted; *count receives how many. Free with
 * tu_names_free(). */
char **tu_list(const char *dir, const char *suffix, size_t *count);
void tu_names_free(char **names, size_t count);

/* ---- stores ------------------------------------------------------------------------------- */

/* Options for tests: CREATE, DURABILITY_NONE, 1 MiB segments. */
void tu_options(stele_options_t *o);
/* Open (creating) with tu_options(); asserts success. */
stele_store_t *tu_open(const char *dir);

/* A cmocka fixture: a fresh temporary directory with a store opened by tu_open(). */
typedef struct tu_fixture {
    char dir[4096];
    stele_store_t *s;
} tu_fixture_t;
int tu_store_setup(void **state);
int tu_store_teardown(void **state);
/* Close (asserting success) and open again with tu_options(). */
stele_store_t *tu_reopen(stele_store_t *s, const char *dir);

/* An event with JSON data (may be NULL for "{}") and no metadata. */
stele_event_in_t tu_event(const char *type, const char *json);
/* Append one JSON event. */
int tu_append1(stele_store_t *s, const char *stream, int64_t expected, const char *type,
               const char *json, stele_append_result_t *res);
/* The visible head position. */
uint64_t tu_head(stele_store_t *s);
/* Assert that the last call left a non-empty stele_errdetail(). */
void tu_assert_detail(void);

/* ---- reading into owned copies ------------------------------------------------------------ */

typedef struct tu_event {
    uint64_t position;
    int64_t version;
    int64_t time_ns;
    stele_uuid_t id;
    uint32_t flags;
    char *stream;
    char *type;
    char *data; /* NUL-terminated copy (data_len bytes before the NUL) */
    size_t data_len;
    char *metadata; /* NULL when none */
    size_t metadata_len;
} tu_event_t;

typedef struct tu_events {
    tu_event_t *v;
    size_t n;
    size_t cap;
} tu_events_t;

/* Append a copy of ev to out. */
void tu_events_push(tu_events_t *out, const stele_event_t *ev);
/* Read the rest of a reader into out. Returns 0 or the reader's error. */
int tu_drain(stele_reader_t *r, tu_events_t *out);
/* Open a stream reader, drain it, close it. Returns the open or read error, or 0. */
int tu_read_stream(stele_store_t *s, const char *stream, int64_t from, stele_direction_t dir,
                   uint64_t limit, tu_events_t *out);
/* Same for $all (o may be NULL). */
int tu_read_all(stele_store_t *s, const stele_read_options_t *o, tu_events_t *out);
void tu_events_free(tu_events_t *e);
/* Field-by-field comparison of two lists; prints the first difference. */
bool tu_events_equal(const tu_events_t *a, const tu_events_t *b);

#endif
