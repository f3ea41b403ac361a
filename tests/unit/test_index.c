/*
 * test_index.c -- the per-event stream index: lookups against a simple model through many flushes
 * and merges, reopening, hash collisions, damaged manifests and tables (on open and after open),
 * injected write and sync failures, reset, and one writer racing two readers.
 *
 * Random tests print their seed; STELE_TEST_SEED=<n> replays one. STELE_INDEX_BENCH=<entries>
 * runs a small benchmark of add and lookup rates instead of being skipped.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "index/index.h"
#include "os/alloc.h"
#include "os/vfs.h"
#include "vfs_fault.h"
#include "stele.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* ---------------------------------------------------------------------------------------------
 * Helpers: seed, random numbers, a scratch directory
 * ------------------------------------------------------------------------------------------- */

static uint64_t seed;

static uint64_t rnd_state;
static uint64_t rnd(void) { /* splitmix64 */
    uint64_t z = (rnd_state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}
static uint64_t rnd_below(uint64_t n) { return n ? rnd() % n : 0; }

typedef struct fixture {
    char dir[PATH_MAX];
} fixture_t;

static int remove_entry(void *arg, const char *name) {
    char path[PATH_MAX];
    int n = snprintf(path, sizeof path, "%s/%s", (const char *)arg, name);
    if (n < 0 || n >= PATH_MAX)
        return -ENAMETOOLONG;
    return unlink(path) == 0 ? 0 : -errno;
}

static void clear_dir(const char *dir) {
    const stele_vfs_t *vfs = stele__vfs_posix();
    if (vfs->exists(vfs, dir) == 0)
        vfs->list_dir(vfs, dir, remove_entry, (void *)dir);
}

static int setup(void **state) {
    fixture_t *fx = calloc(1, sizeof *fx);
    if (!fx)
        return -1;
    const char *base = getenv("STELE_TEST_TMP");
    if (!base || !*base)
        base = "/tmp";
    mkdir(base, 0755);
    char parent[PATH_MAX - 16];
    int n = snprintf(parent, sizeof parent, "%s/test_index.XXXXXX", base);
    if (n < 0 || (size_t)n >= sizeof parent || !mkdtemp(parent))
        return -1;
    snprintf(fx->dir, sizeof fx->dir, "%s/index", parent);
    rnd_state = seed;
    *state = fx;
    return 0;
}

static int teardown(void **state) {
    fixture_t *fx = *state;
    clear_dir(fx->dir);
    rmdir(fx->dir);
    char *slash = strrchr(fx->dir, '/');
    *slash = '\0';
    rmdir(fx->dir);
    free(fx);
    return 0;
}

/* ---------------------------------------------------------------------------------------------
 * The model: every entry added, per hash, sorted by (version, position)
 * ------------------------------------------------------------------------------------------- */

typedef struct elist {
    stele_index_entry_t *v;
    size_t n, cap;
} elist_t;

typedef struct model {
    size_t nstreams;
    uint64_t *stream_hash;
    uint64_t *stream_version; /* next version of each stream */
    size_t *stream_hid;       /* index into hashes */
    size_t nhashes;
    uint64_t *hashes;
    elist_t *lists;
    uint64_t next_position;
} model_t;

/* nstreams streams; every collide-th stream shares the hash of the stream before it. */
static void model_init(model_t *m, size_t nstreams, size_t collide) {
    memset(m, 0, sizeof *m);
    m->nstreams = nstreams;
    m->stream_hash = calloc(nstreams, sizeof *m->stream_hash);
    m->stream_version = calloc(nstreams, sizeof *m->stream_version);
    m->stream_hid = calloc(nstreams, sizeof *m->stream_hid);
    m->hashes = calloc(nstreams, sizeof *m->hashes);
    m->lists = calloc(nstreams, sizeof *m->lists);
    assert_non_null(m->lists);
    for (size_t s = 0; s < nstreams; s++) {
        if (collide && s > 0 && s % collide == collide - 1) {
            m->stream_hash[s] = m->stream_hash[s - 1];
            m->stream_hid[s] = m->stream_hid[s - 1];
            continue;
        }
        char name[64];
        int len = snprintf(name, sizeof name, "stream-%zu", s);
        m->stream_hash[s] = stele__index_hash(name, (size_t)len);
        m->stream_hid[s] = m->nhashes;
        m->hashes[m->nhashes++] = m->stream_hash[s];
    }
    m->next_position = 1;
}

static void model_free(model_t *m) {
    for (size_t i = 0; i < m->nhashes; i++)
        free(m->lists[i].v);
    free(m->lists);
    free(m->hashes);
    free(m->stream_hash);
    free(m->stream_version);
    free(m->stream_hid);
}

static int cmp_vp(const stele_index_entry_t *a, const stele_index_entry_t *b) {
    if (a->version != b->version)
        return a->version < b->version ? -1 : 1;
    return a->position < b->position ? -1 : a->position > b->position;
}

static void model_add(model_t *m, size_t hid, const stele_index_entry_t *e) {
    elist_t *l = &m->lists[hid];
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 8;
        l->v = realloc(l->v, sizeof *l->v * l->cap);
        assert_non_null(l->v);
    }
    size_t i = l->n;
    while (i > 0 && cmp_vp(&l->v[i - 1], e) > 0) {
        l->v[i] = l->v[i - 1];
        i--;
    }
    l->v[i] = *e;
    l->n++;
}

/* Fills out with the expected answer, counting only entries at or below max_position. */
static size_t model_lookup(const model_t *m, size_t hid, uint64_t from, bool backward, size_t max,
                           uint64_t max_position, stele_index_entry_t *out) {
    const elist_t *l = &m->lists[hid];
    size_t n = 0;
    if (!backward) {
        for (size_t i = 0; i < l->n && n < max; i++)
            if (l->v[i].version >= from && l->v[i].position <= max_position)
                out[n++] = l->v[i];
    } else {
        for (size_t i = l->n; i-- > 0 && n < max;)
            if (l->v[i].version <= from && l->v[i].position <= max_position)
                out[n++] = l->v[i];
    }
    return n;
}

/* Makes a batch of n entries of random streams; they enter the model with model_commit. */
static void make_batch(model_t *m, stele_index_entry_t *batch, size_t *hids, size_t n) {
    for (size_t i = 0; i < n; i++) {
        size_t s = (size_t)rnd_below(m->nstreams);
        batch[i] =
            (stele_index_entry_t){m->stream_hash[s], m->stream_version[s]++, m->next_position++};
        hids[i] = m->stream_hid[s];
    }
}

static void model_commit(model_t *m, const stele_index_entry_t *batch, const size_t *hids,
                         size_t n) {
    for (size_t i = 0; i < n; i++)
        model_add(m, hids[i], &batch[i]);
}

/* Adds n random entries in random batches. */
static void add_random(stele_index_t *idx, model_t *m, size_t n) {
    stele_index_entry_t batch[128];
    size_t hids[128];
    while (n > 0) {
        size_t k = 1 + (size_t)rnd_below(128);
        if (k > n)
            k = n;
        make_batch(m, batch, hids, k);
        assert_int_equal(stele__index_add(idx, batch, k), 0);
        model_commit(m, batch, hids, k);
        n -= k;
    }
}

#define BIG 4096

static void check_one(stele_index_t *idx, const model_t *m, size_t hid, uint64_t from,
                      bool backward, size_t max, uint64_t max_position) {
    static stele_index_entry_t got[BIG], want[BIG];
    size_t ngot = 0;
    size_t nwant = model_lookup(m, hid, from, backward, max, max_position, want);
    int rc = stele__index_lookup(idx, m->hashes[hid], from, backward, got, max, &ngot);
    if (rc != 0 || ngot != nwant || memcmp(got, want, sizeof *got * nwant) != 0)
        fail_msg("seed %" PRIu64 ": hash %zu from %" PRIu64 " %s max %zu: rc %d, %zu entries, "
                 "expected %zu",
                 seed, hid, from, backward ? "backward" : "forward", max, rc, ngot, nwant);
}

static void check_random(stele_index_t *idx, const model_t *m, size_t n, uint64_t max_position) {
    static const size_t maxes[] = {1, 2, 3, 10, 64, 65, 200, BIG};
    for (size_t i = 0; i < n; i++) {
        size_t hid = (size_t)rnd_below(m->nhashes);
        uint64_t top = m->lists[hid].n + 2;
        bool backward = rnd() & 1;
        uint64_t from = backward && rnd_below(4) == 0 ? UINT64_MAX : rnd_below(top);
        check_one(idx, m, hid, from, backward, maxes[rnd_below(8)], max_position);
    }
}

static void check_all(stele_index_t *idx, const model_t *m, uint64_t max_position) {
    for (size_t hid = 0; hid < m->nhashes; hid++) {
        check_one(idx, m, hid, 0, false, BIG, max_position);
        check_one(idx, m, hid, UINT64_MAX, true, BIG, max_position);
        check_one(idx, m, hid, m->lists[hid].n / 2, false, 5, max_position);
        check_one(idx, m, hid, m->lists[hid].n / 2, true, 5, max_position);
    }
}

static int count_table_file(void *arg, const char *name) {
    if (strncmp(name, "table-", 6) == 0)
        (*(int *)arg)++;
    return 0;
}

/* Table files in dir. */
static int count_tables(const char *dir) {
    int n = 0;
    const stele_vfs_t *vfs = stele__vfs_posix();
    assert_int_equal(vfs->list_dir(vfs, dir, count_table_file, &n), 0);
    return n;
}

/* The second run of every test uses lazy memtables (the event-id index's unique_keys). */
static bool unique_keys;

static stele_index_t *open_index(const char *dir, const stele_vfs_t *vfs, uint64_t memtable,
                                 uint32_t fanout) {
    stele_index_options_t o = {
        .memtable_entries = memtable, .merge_fanout = fanout, .unique_keys = unique_keys};
    stele_index_t *idx = NULL;
    int rc = stele__index_open(vfs, dir, &o, &idx);
    if (rc != 0)
        fail_msg("open: %s (%s)", stele_strerror(rc), stele_errdetail());
    return idx;
}

/* Waits until the background has merged down to at most max_tables tables. */
static void wait_tables(stele_index_t *idx, uint64_t max_tables) {
    for (int i = 0; i < 5000; i++) {
        stele_index_stats_t st;
        stele__index_stats(idx, &st);
        if (st.tables <= max_tables)
            return;
        usleep(1000);
    }
    fail_msg("merges did not finish");
}

/* ---------------------------------------------------------------------------------------------
 * Tests
 * ------------------------------------------------------------------------------------------- */

/* stele__index_filter, which the writer asks before looking up a batch of client ids, never says
 * "surely absent" for a hash the index holds, through many flushes and merges, with look-ups
 * interleaved (with lazy memtables those bring the memtable's Bloom filter and hash table up to
 * date at different moments), and after a reopen; and it does answer "absent" for most fresh
 * hashes (else it would save nothing), each consistent with a look-up. */
static void test_filter(void **state) {
    fixture_t *fx = *state;
    enum { TOTAL = 20000, FRESH = 500 };
    stele_index_entry_t *all = calloc(TOTAL, sizeof *all);
    uint64_t hashes[FRESH];
    uint8_t maybe[FRESH];
    assert_non_null(all);
    stele_index_t *idx = open_index(fx->dir, stele__vfs_posix(), 1000, 4);
    size_t n = 0;
    uint64_t pos = 1;
    for (int round = 0; n < TOTAL; round++) {
        size_t b = 1 + rnd_below(300);
        if (b > TOTAL - n)
            b = TOTAL - n;
        for (size_t i = 0; i < b; i++)
            all[n + i] = (stele_index_entry_t){rnd(), rnd(), pos++};
        assert_int_equal(stele__index_add(idx, all + n, b), 0);
        n += b;
        /* Held hashes: the newest ones and a random sample of the older ones. */
        size_t k = 0;
        for (; k < FRESH / 2 && k < n; k++)
            hashes[k] = all[n - 1 - k].hash;
        for (; k < FRESH; k++)
            hashes[k] = all[rnd_below(n)].hash;
        stele__index_filter(idx, hashes, FRESH, maybe);
        for (size_t i = 0; i < FRESH; i++)
            if (!maybe[i])
                fail_msg("seed %" PRIu64 " round %d: filter says hash %016" PRIx64
                         " (held) is absent",
                         seed, round, hashes[i]);
        if (round % 3 == 0) {
            /* A single look-up, which may build the lazy memtable's hash table. */
            stele_index_entry_t got;
            size_t cnt = 0;
            const stele_index_entry_t *e = &all[rnd_below(n)];
            assert_int_equal(stele__index_lookup(idx, e->hash, e->version, false, &got, 1, &cnt),
                             0);
            assert_int_equal(cnt, 1);
            assert_int_equal(got.position, e->position);
        }
    }
    for (int pass = 0; pass < 2; pass++) {
        if (pass == 1) {
            assert_int_equal(stele__index_close(idx), 0);
            idx = open_index(fx->dir, stele__vfs_posix(), 1000, 4);
        }
        for (size_t i = 0; i < FRESH; i++)
            hashes[i] = all[rnd_below(n)].hash;
        stele__index_filter(idx, hashes, FRESH, maybe);
        for (size_t i = 0; i < FRESH; i++)
            if (!maybe[i])
                fail_msg("seed %" PRIu64 " pass %d: a held hash is said absent", seed, pass);
        for (size_t i = 0; i < FRESH; i++)
            hashes[i] = rnd();
        stele__index_filter(idx, hashes, FRESH, maybe);
        size_t absent = 0;
        for (size_t i = 0; i < FRESH; i++) {
            stele_index_entry_t got;
            size_t cnt = 0;
            assert_int_equal(stele__index_lookup(idx, hashes[i], 0, false, &got, 1, &cnt), 0);
            if (!maybe[i] && cnt != 0)
                fail_msg("seed %" PRIu64 ": filter says absent, look-up finds it", seed);
            absent += !maybe[i];
        }
        /* About 1% false positives per table and memtable; at most half is a broken filter. */
        if (absent < FRESH / 2)
            fail_msg("seed %" PRIu64 " pass %d: only %zu of %d fresh hashes said absent", seed,
                     pass, absent, FRESH);
    }
    assert_int_equal(stele__index_close(idx), 0);
    free(all);
}

/* The hash is on disk: these values must never change. */
static void test_hash_is_stable(void **state) {
    (void)state;
    assert_true(stele__index_hash("", 0) == UINT64_C(0xefd01f60ba992926));
    assert_true(stele__index_hash("order-42", 8) == UINT64_C(0x8e47543c313c6386));
    assert_true(stele__index_hash("order-43", 8) != stele__index_hash("order-42", 8));
    /* Every output bit flips for about half of one-byte input changes. */
    int flips[64] = {0};
    for (unsigned i = 0; i < 4096; i++) {
        char a[16], b[16];
        int len = snprintf(a, sizeof a, "s-%u", i);
        memcpy(b, a, sizeof a);
        b[len - 1] ^= 1;
        uint64_t d = stele__index_hash(a, (size_t)len) ^ stele__index_hash(b, (size_t)len);
        for (int bit = 0; bit < 64; bit++)
            flips[bit] += (int)((d >> bit) & 1);
    }
    for (int bit = 0; bit < 64; bit++)
        assert_in_range(flips[bit], 1700, 2400);
}

static void test_empty(void **state) {
    fixture_t *fx = *state;
    stele_index_t *idx = open_index(fx->dir, NULL, 0, 0);
    stele_index_entry_t out[4];
    size_t n = 99;
    assert_int_equal(stele__index_lookup(idx, 1, 0, false, out, 4, &n), 0);
    assert_int_equal(n, 0);
    assert_int_equal(stele__index_checkpoint(idx), 0);
    assert_int_equal(stele__index_flush(idx), 0);
    assert_int_equal(stele__index_close(idx), 0);
    assert_int_equal(stele__index_close(NULL), 0);
}

static void test_add_rejects_old_positions(void **state) {
    fixture_t *fx = *state;
    stele_index_t *idx = open_index(fx->dir, NULL, 16, 4);
    stele_index_entry_t e[2] = {{1, 0, 5}, {1, 1, 6}};
    assert_int_equal(stele__index_add(idx, e, 2), 0);
    assert_int_equal(stele__index_add(idx, e, 1), STELE_EINVAL);
    stele_index_entry_t same[2] = {{2, 0, 7}, {2, 1, 7}};
    assert_int_equal(stele__index_add(idx, same, 2), STELE_EINVAL);
    stele_index_stats_t st;
    stele__index_stats(idx, &st);
    assert_int_equal(st.entries, 2);
    assert_int_equal(st.last_position, 6);
    assert_int_equal(stele__index_close(idx), 0);
}

static void test_random_against_model(void **state) {
    fixture_t *fx = *state;
    model_t m;
    model_init(&m, 5000, 500);
    stele_index_t *idx = open_index(fx->dir, NULL, 2000, 4);
    for (int round = 0; round < 100; round++) {
        add_random(idx, &m, 2000);
        check_random(idx, &m, 200, UINT64_MAX);
    }
    check_all(idx, &m, UINT64_MAX);
    stele_index_stats_t st;
    stele__index_stats(idx, &st);
    assert_int_equal(st.entries, 200000);
    assert_int_equal(st.last_position, 200000);
    assert_true(st.checkpoint <= 200000);

    /* Closing writes the memtables: the next open needs no catch-up. */
    assert_int_equal(stele__index_close(idx), 0);
    idx = open_index(fx->dir, NULL, 2000, 4);
    assert_int_equal(stele__index_checkpoint(idx), 200000);
    check_all(idx, &m, UINT64_MAX);
    check_random(idx, &m, 5000, UINT64_MAX);
    wait_tables(idx, 3 * 4);
    stele__index_stats(idx, &st);
    assert_int_equal(st.entries, 200000);
    check_all(idx, &m, UINT64_MAX);

    /* And it goes on from there. */
    add_random(idx, &m, 10000);
    check_all(idx, &m, UINT64_MAX);
    assert_int_equal(stele__index_close(idx), 0);
    model_free(&m);
}

/* Two streams with the same hash and the same versions: all entries, ties by position. */
static void test_collisions(void **state) {
    fixture_t *fx = *state;
    model_t m;
    model_init(&m, 2, 2); /* stream 1 shares stream 0's hash */
    stele_index_t *idx = open_index(fx->dir, NULL, 7, 2);
    for (int i = 0; i < 300; i++) {
        add_random(idx, &m, 1);
        if (i % 37 == 0)
            check_all(idx, &m, UINT64_MAX);
    }
    check_all(idx, &m, UINT64_MAX);
    for (uint64_t v = 0; v < 160; v += 7)
        for (size_t max = 1; max < 9; max++) {
            check_one(idx, &m, 0, v, false, max, UINT64_MAX);
            check_one(idx, &m, 0, v, true, max, UINT64_MAX);
        }
    assert_int_equal(stele__index_close(idx), 0);
    idx = open_index(fx->dir, NULL, 7, 2);
    check_all(idx, &m, UINT64_MAX);
    assert_int_equal(stele__index_close(idx), 0);
    model_free(&m);
}

/* One long stream spread over memtables and many tables. */
static void test_long_stream(void **state) {
    fixture_t *fx = *state;
    model_t m;
    model_init(&m, 1, 0);
    stele_index_t *idx = open_index(fx->dir, NULL, 100, 3);
    add_random(idx, &m, 3000);
    for (uint64_t v = 0; v < 3010; v += 97) {
        check_one(idx, &m, 0, v, false, 1 + rnd_below(300), UINT64_MAX);
        check_one(idx, &m, 0, v, true, 1 + rnd_below(300), UINT64_MAX);
    }
    check_all(idx, &m, UINT64_MAX);
    assert_int_equal(stele__index_close(idx), 0);
    model_free(&m);
}

/* ---------------------------------------------------------------------------------------------
 * Damage
 * ------------------------------------------------------------------------------------------- */

typedef struct saved_file {
    char name[64];
    unsigned char *bytes;
    size_t len;
} saved_file_t;

typedef struct saved {
    saved_file_t f[64];
    size_t n;
} saved_t;

static int save_one(void *arg, const char *name) {
    saved_t *s = arg;
    assert_true(s->n < 64);
    saved_file_t *f = &s->f[s->n++];
    snprintf(f->name, sizeof f->name, "%s", name);
    return 0;
}

static void path_of(char *out, const char *dir, const char *name) {
    int n = snprintf(out, PATH_MAX, "%s/%s", dir, name);
    assert_true(n > 0 && n < PATH_MAX);
}

static void save_dir(const char *dir, saved_t *s) {
    const stele_vfs_t *vfs = stele__vfs_posix();
    s->n = 0;
    assert_int_equal(vfs->list_dir(vfs, dir, save_one, s), 0);
    for (size_t i = 0; i < s->n; i++) {
        char path[PATH_MAX];
        path_of(path, dir, s->f[i].name);
        void *buf;
        assert_int_equal(stele__file_read_all(vfs, path, 1u << 30, &buf, &s->f[i].len), 0);
        s->f[i].bytes = malloc(s->f[i].len + 1);
        memcpy(s->f[i].bytes, buf, s->f[i].len);
        stele__free(buf);
    }
}

static void restore_dir(const char *dir, const saved_t *s) {
    clear_dir(dir);
    for (size_t i = 0; i < s->n; i++) {
        char path[PATH_MAX];
        path_of(path, dir, s->f[i].name);
        FILE *fp = fopen(path, "wb");
        assert_non_null(fp);
        assert_int_equal(fwrite(s->f[i].bytes, 1, s->f[i].len, fp), s->f[i].len);
        fclose(fp);
    }
}

static void free_saved(saved_t *s) {
    for (size_t i = 0; i < s->n; i++)
        free(s->f[i].bytes);
}

static void flip_bit(const char *path, uint64_t bit) {
    int fd = open(path, O_RDWR);
    assert_true(fd >= 0);
    unsigned char b;
    assert_int_equal(pread(fd, &b, 1, (off_t)(bit / 8)), 1);
    b ^= (unsigned char)(1u << (bit % 8));
    assert_int_equal(pwrite(fd, &b, 1, (off_t)(bit / 8)), 1);
    close(fd);
}

/* After damage the index must open empty: checkpoint 0, nothing found, no table files left. */
static void expect_empty(const char *dir, const model_t *m, const char *what) {
    stele_index_t *idx = open_index(dir, NULL, 500, 4);
    if (stele__index_checkpoint(idx) != 0)
        fail_msg("seed %" PRIu64 ": %s: checkpoint %" PRIu64 " after damage", seed, what,
                 stele__index_checkpoint(idx));
    check_all(idx, m, 0);
    assert_int_equal(count_tables(dir), 0);
    assert_int_equal(stele__index_close(idx), 0);
}

static void test_damage_on_open(void **state) {
    fixture_t *fx = *state;
    model_t m;
    model_init(&m, 300, 0);
    stele_index_t *idx = open_index(fx->dir, NULL, 500, 4);
    add_random(idx, &m, 3000);
    assert_int_equal(stele__index_close(idx), 0);
    saved_t s;
    save_dir(fx->dir, &s);
    assert_true(s.n >= 3);

    /* Sanity: the saved files reopen intact. */
    restore_dir(fx->dir, &s);
    idx = open_index(fx->dir, NULL, 500, 4);
    assert_int_equal(stele__index_checkpoint(idx), 3000);
    check_all(idx, &m, UINT64_MAX);
    assert_int_equal(stele__index_close(idx), 0);

    char path[PATH_MAX];
    for (size_t i = 0; i < s.n; i++) {
        path_of(path, fx->dir, s.f[i].name);
        /* Missing. */
        restore_dir(fx->dir, &s);
        unlink(path);
        expect_empty(fx->dir, &m, "missing file");
        /* Truncated, at the end and in the middle. */
        restore_dir(fx->dir, &s);
        assert_int_equal(truncate(path, (off_t)s.f[i].len - 1), 0);
        expect_empty(fx->dir, &m, "truncated by one byte");
        restore_dir(fx->dir, &s);
        assert_int_equal(truncate(path, (off_t)s.f[i].len / 2), 0);
        expect_empty(fx->dir, &m, "truncated to half");
        /* Extended. */
        restore_dir(fx->dir, &s);
        assert_int_equal(truncate(path, (off_t)s.f[i].len + 8), 0);
        expect_empty(fx->dir, &m, "extended");
    }
    /* Single bit flips anywhere in any file. */
    for (int trial = 0; trial < 300; trial++) {
        restore_dir(fx->dir, &s);
        size_t i = (size_t)rnd_below(s.n);
        path_of(path, fx->dir, s.f[i].name);
        uint64_t bit = rnd_below(s.f[i].len * 8);
        flip_bit(path, bit);
        char what[128];
        snprintf(what, sizeof what, "bit %" PRIu64 " of %s flipped", bit, s.f[i].name);
        expect_empty(fx->dir, &m, what);
    }
    /* An orphan table (interrupted write) is removed and does not count. */
    restore_dir(fx->dir, &s);
    path_of(path, fx->dir, "table-00000000000fffff.sti");
    FILE *fp = fopen(path, "wb");
    fputs("partial", fp);
    fclose(fp);
    idx = open_index(fx->dir, NULL, 500, 4);
    assert_int_equal(stele__index_checkpoint(idx), 3000);
    check_all(idx, &m, UINT64_MAX);
    assert_int_equal(access(path, F_OK), -1);
    assert_int_equal(stele__index_close(idx), 0);
    free_saved(&s);
    model_free(&m);
}

static int count_entry(void *arg, const stele_index_entry_t *e) {
    (void)e;
    if (arg)
        (*(uint64_t *)arg)++;
    return 0;
}

/* A table damaged while open: lookups that read the damaged block fail with STELE_ECORRUPT and
 * never return wrong entries; scan reports it. */
static void test_damage_after_open(void **state) {
    fixture_t *fx = *state;
    model_t m;
    model_init(&m, 200, 0);
    stele_index_t *idx = open_index(fx->dir, NULL, 4000, 4);
    add_random(idx, &m, 4000);
    assert_int_equal(stele__index_flush(idx), 0);
    saved_t s;
    save_dir(fx->dir, &s);
    const saved_file_t *table = NULL;
    for (size_t i = 0; i < s.n; i++)
        if (strncmp(s.f[i].name, "table-", 6) == 0)
            table = &s.f[i];
    assert_non_null(table);
    char path[PATH_MAX];
    path_of(path, fx->dir, table->name);
    int corrupt = 0;
    for (int trial = 0; trial < 200; trial++) {
        /* Flip a bit of a random entry, look its hash up, then put the bit back. */
        uint64_t entry = rnd_below(4000);
        uint64_t bit = (64 + entry * 24) * 8 + rnd_below(24 * 8);
        unsigned char *e = table->bytes + 64 + entry * 24;
        uint64_t hash = 0;
        for (int b = 7; b >= 0; b--)
            hash = hash << 8 | e[b];
        size_t hid = 0;
        while (m.hashes[hid] != hash)
            hid++;
        flip_bit(path, bit);
        stele_index_entry_t got[BIG], want[BIG];
        size_t ngot = 0;
        bool backward = rnd() & 1;
        int rc =
            stele__index_lookup(idx, hash, backward ? UINT64_MAX : 0, backward, got, BIG, &ngot);
        size_t nwant =
            model_lookup(&m, hid, backward ? UINT64_MAX : 0, backward, BIG, UINT64_MAX, want);
        if (rc == STELE_ECORRUPT) {
            assert_int_equal(ngot, 0);
            corrupt++;
        } else {
            assert_int_equal(rc, 0);
            assert_int_equal(ngot, nwant);
            assert_memory_equal(got, want, sizeof *got * nwant);
        }
        flip_bit(path, bit);
    }
    /* Every flip lands in a block the lookup of its own entry reads. */
    assert_int_equal(corrupt, 200);
    flip_bit(path, (64 + 24 * 10) * 8 + 3);
    assert_int_equal(stele__index_scan(idx, count_entry, NULL), STELE_ECORRUPT);
    flip_bit(path, (64 + 24 * 10) * 8 + 3);
    uint64_t n = 0;
    assert_int_equal(stele__index_scan(idx, count_entry, &n), 0);
    assert_int_equal(n, 4000);
    assert_int_equal(stele__index_close(idx), 0);
    free_saved(&s);
    model_free(&m);
}

/* ---------------------------------------------------------------------------------------------
 * Injected faults
 * ------------------------------------------------------------------------------------------- */

/* Every entry ever made, in position order: the "log" the store would re-add from. */
typedef struct log {
    stele_index_entry_t *v;
    size_t n, cap;
} log_t;

static void log_push(log_t *l, const stele_index_entry_t *e, size_t n) {
    if (l->n + n > l->cap) {
        l->cap = (l->n + n) * 2;
        l->v = realloc(l->v, sizeof *l->v * l->cap);
        assert_non_null(l->v);
    }
    memcpy(l->v + l->n, e, sizeof *e * n);
    l->n += n;
}

static void fault_trial(const char *dir, stele_fault_op_t op, uint64_t nth, bool short_write,
                        int *with_tables) {
    clear_dir(dir);
    stele_fault_vfs_t *fv = NULL;
    assert_int_equal(stele__fault_vfs_new(NULL, &fv), 0);
    model_t m;
    model_init(&m, 200, 50);
    log_t lg = {NULL, 0, 0};
    stele_index_t *idx = open_index(dir, stele__fault_vfs_table(fv), 300, 3);
    stele__fault_set_short_write(fv, short_write);
    stele__fault_arm(fv, op, nth, op == STELE_FAULT_WRITE ? -ENOSPC : -EIO, false);

    /* The log has each batch before the index sees it, as in the store. */
    int rc = 0;
    stele_index_entry_t batch[64];
    size_t hids[64];
    for (int i = 0; i < 100 && rc == 0; i++) {
        size_t k = 1 + (size_t)rnd_below(64);
        make_batch(&m, batch, hids, k);
        model_commit(&m, batch, hids, k);
        log_push(&lg, batch, k);
        rc = stele__index_add(idx, batch, k);
        /* Lookups answer from memory and the good tables while nothing failed (an injected
         * read failure may hit a lookup: that one reports it). */
        if (i % 10 == 0 && rc == 0 && op != STELE_FAULT_READ)
            check_random(idx, &m, 20, UINT64_MAX);
    }
    if (rc == 0)
        rc = stele__index_flush(idx);
    uint64_t cp = stele__index_checkpoint(idx);
    int close_rc = stele__index_close(idx);
    if (rc == 0)
        rc = close_rc;
    if (stele__fault_injected(fv) > 0 && rc == 0 && op != STELE_FAULT_RENAME)
        fail_msg("seed %" PRIu64 ": op %d nth %" PRIu64 ": a fault went unreported", seed, (int)op,
                 nth);
    stele__fault_vfs_free(fv);

    /* Reopen without faults: the manifest names only good tables (a bad one would make the
     * index start over from checkpoint 0), and the log catches it up. */
    idx = open_index(dir, NULL, 300, 3);
    uint64_t cp2 = stele__index_checkpoint(idx);
    if (cp2 < cp || (cp > 0 && cp2 == 0))
        fail_msg("seed %" PRIu64 ": op %d nth %" PRIu64 ": checkpoint %" PRIu64 " before, %" PRIu64
                 " after reopening",
                 seed, (int)op, nth, cp, cp2);
    if (cp2 > 0)
        (*with_tables)++;
    check_all(idx, &m, cp2);
    size_t from = 0;
    while (from < lg.n && lg.v[from].position <= cp2)
        from++;
    assert_int_equal(stele__index_add(idx, lg.v + from, lg.n - from), 0);
    check_all(idx, &m, UINT64_MAX);
    assert_int_equal(stele__index_close(idx), 0);
    free(lg.v);
    model_free(&m);
}

static void test_faults(void **state) {
    fixture_t *fx = *state;
    static const stele_fault_op_t ops[] = {STELE_FAULT_WRITE, STELE_FAULT_SYNC, STELE_FAULT_READ,
                                           STELE_FAULT_OPEN, STELE_FAULT_RENAME};
    int with_tables = 0, trials = 0;
    for (size_t o = 0; o < sizeof ops / sizeof ops[0]; o++)
        for (uint64_t nth = 1; nth <= 40; nth += 1 + nth / 4) {
            fault_trial(fx->dir, ops[o], nth, false, &with_tables);
            trials++;
            if (ops[o] == STELE_FAULT_WRITE) {
                fault_trial(fx->dir, ops[o], nth, true, &with_tables);
                trials++;
            }
        }
    /* Most trials fail after some tables were written, so the reopen check had teeth. */
    assert_true(with_tables > trials / 2);
}

static void test_reset(void **state) {
    fixture_t *fx = *state;
    model_t m;
    model_init(&m, 100, 0);
    stele_index_t *idx = open_index(fx->dir, NULL, 200, 2);
    add_random(idx, &m, 5000);
    assert_true(count_tables(fx->dir) > 0);
    assert_int_equal(stele__index_reset(idx), 0);
    assert_int_equal(count_tables(fx->dir), 0);
    stele_index_stats_t st;
    stele__index_stats(idx, &st);
    assert_int_equal(st.entries, 0);
    assert_int_equal(st.tables, 0);
    assert_int_equal(st.checkpoint, 0);
    assert_int_equal(st.last_position, 0);
    model_t m2;
    model_init(&m2, 100, 0);
    check_all(idx, &m2, UINT64_MAX);
    add_random(idx, &m2, 3000);
    check_all(idx, &m2, UINT64_MAX);
    assert_int_equal(stele__index_close(idx), 0);
    idx = open_index(fx->dir, NULL, 200, 2);
    assert_int_equal(stele__index_checkpoint(idx), 3000);
    check_all(idx, &m2, UINT64_MAX);
    assert_int_equal(stele__index_close(idx), 0);
    model_free(&m);
    model_free(&m2);
}

/* ---------------------------------------------------------------------------------------------
 * One writer, two readers
 * ------------------------------------------------------------------------------------------- */

#define RACE_STREAMS 500u

typedef struct race {
    stele_index_t *idx;
    uint64_t hashes[RACE_STREAMS];
    _Atomic uint64_t published[RACE_STREAMS]; /* versions of each stream whose add returned */
    atomic_bool done;
    atomic_int failures;
    uint64_t seed;
} race_t;

static void *race_reader(void *arg) {
    race_t *r = arg;
    uint64_t seen[RACE_STREAMS] = {0}, x = r->seed;
    stele_index_entry_t out[64];
    while (!atomic_load(&r->done)) {
        x = x * 6364136223846793005ull + 1442695040888963407ull;
        size_t s = (size_t)(x >> 33) % RACE_STREAMS;
        uint64_t p = atomic_load(&r->published[s]);
        size_t n = 0;
        if (stele__index_lookup(r->idx, r->hashes[s], UINT64_MAX, true, out, 1, &n) != 0) {
            atomic_fetch_add(&r->failures, 1);
            continue;
        }
        uint64_t latest = n ? out[0].version + 1 : 0;
        /* What add has returned is visible, and nothing seen is ever taken back. */
        if (latest < p || latest < seen[s])
            atomic_fetch_add(&r->failures, 1);
        seen[s] = latest;
        if ((x >> 20) % 8 == 0) {
            uint64_t from = latest > 10 ? latest - 10 : 0;
            if (stele__index_lookup(r->idx, r->hashes[s], from, false, out, 64, &n) != 0 ||
                n < latest - from) {
                atomic_fetch_add(&r->failures, 1);
                continue;
            }
            for (size_t i = 0; i < n; i++)
                if (out[i].version != from + i)
                    atomic_fetch_add(&r->failures, 1);
        }
    }
    return NULL;
}

static void test_one_writer_two_readers(void **state) {
    fixture_t *fx = *state;
    race_t *r = calloc(1, sizeof *r);
    assert_non_null(r);
    for (size_t s = 0; s < RACE_STREAMS; s++)
        r->hashes[s] = rnd();
    r->seed = seed;
    r->idx = open_index(fx->dir, NULL, 1000, 3);
    pthread_t readers[2];
    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_create(&readers[i], NULL, race_reader, r), 0);
    uint64_t version[RACE_STREAMS] = {0}, position = 1;
    stele_index_entry_t batch[64];
    size_t streams[64];
    for (int i = 0; i < 4000; i++) {
        size_t k = 1 + (size_t)rnd_below(64);
        for (size_t j = 0; j < k; j++) {
            streams[j] = (size_t)rnd_below(RACE_STREAMS);
            batch[j] =
                (stele_index_entry_t){r->hashes[streams[j]], version[streams[j]]++, position++};
        }
        assert_int_equal(stele__index_add(r->idx, batch, k), 0);
        for (size_t j = 0; j < k; j++)
            atomic_store(&r->published[streams[j]], batch[j].version + 1);
    }
    atomic_store(&r->done, true);
    for (int i = 0; i < 2; i++)
        pthread_join(readers[i], NULL);
    assert_int_equal(atomic_load(&r->failures), 0);
    assert_int_equal(stele__index_close(r->idx), 0);
    free(r);
}

/* ---------------------------------------------------------------------------------------------
 * Benchmark (only with STELE_INDEX_BENCH=<entries>)
 * ------------------------------------------------------------------------------------------- */

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static long rss_kib(void) {
    FILE *fp = fopen("/proc/self/status", "r");
    char line[256];
    long kib = -1;
    while (fp && fgets(line, sizeof line, fp))
        if (strncmp(line, "VmRSS:", 6) == 0)
            kib = strtol(line + 6, NULL, 10);
    if (fp)
        fclose(fp);
    return kib;
}

static double cpu_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The event-id index on the writer's path: over total preloaded unique keys, parts of 100 fresh
 * keys, each checked and then added, as the writer does. Checked one look-up per key (how the
 * writer did it before the filter), or filtered per part first (looking up only the keys some
 * filter accepts). CPU time of this thread (the background threads' flushes are the same in
 * both), on a fresh index each. */
static void bench_fresh_ids(const char *dir, uint64_t total) {
    enum { PART = 100 };
    const uint64_t checks = 1000000;
    for (int filtered = 0; filtered < 2; filtered++) {
        clear_dir(dir);
        stele_index_t *idx = open_index(dir, NULL, 0, 0);
        stele_index_entry_t batch[PART], out;
        uint64_t hashes[PART], pos = 1, looked = 0;
        uint8_t maybe[PART];
        for (; pos <= total; pos += PART) {
            for (size_t k = 0; k < PART; k++)
                batch[k] = (stele_index_entry_t){rnd(), rnd(), pos + k};
            assert_int_equal(stele__index_add(idx, batch, PART), 0);
        }
        double t0 = cpu_s();
        for (uint64_t i = 0; i < checks; i += PART, pos += PART) {
            for (size_t k = 0; k < PART; k++) {
                batch[k] = (stele_index_entry_t){rnd(), rnd(), pos + k};
                hashes[k] = batch[k].hash;
            }
            if (filtered)
                stele__index_filter(idx, hashes, PART, maybe);
            for (size_t k = 0; k < PART; k++) {
                size_t n = 0;
                if (filtered && !maybe[k])
                    continue;
                looked++;
                stele__index_lookup(idx, batch[k].hash, batch[k].version, false, &out, 1, &n);
            }
            assert_int_equal(stele__index_add(idx, batch, PART), 0);
        }
        double t1 = cpu_s();
        stele_index_stats_t st;
        stele__index_stats(idx, &st);
        printf("bench: fresh keys over %" PRIu64 " (%" PRIu64 " tables), %s: %.0f ns of CPU "
               "per key checked and added (%.1f%% looked up)\n",
               total, st.tables, filtered ? "filtered per part" : "one look-up each",
               (t1 - t0) / (double)checks * 1e9, 100.0 * (double)looked / (double)checks);
        assert_int_equal(stele__index_close(idx), 0);
    }
}

static void test_bench(void **state) {
    fixture_t *fx = *state;
    const char *env = getenv("STELE_INDEX_BENCH");
    if (!env) {
        skip();
        return;
    }
    uint64_t total = strtoull(env, NULL, 10), nstreams = total / 10 ? total / 10 : 1;
    uint64_t *version = calloc(nstreams, sizeof *version);
    stele_index_t *idx = open_index(fx->dir, NULL, 0, 0);
    stele_index_entry_t batch[100];
    double t0 = now_s();
    for (uint64_t pos = 1; pos <= total;) {
        size_t k = 0;
        for (; k < 100 && pos <= total; k++, pos++) {
            uint64_t s = rnd_below(nstreams);
            batch[k] = (stele_index_entry_t){stele__index_hash((const char *)&s, sizeof s),
                                             version[s]++, pos};
        }
        assert_int_equal(stele__index_add(idx, batch, k), 0);
    }
    double t1 = now_s();
    assert_int_equal(stele__index_flush(idx), 0);
    double t2 = now_s();
    stele_index_stats_t st;
    stele__index_stats(idx, &st);
    printf("bench: %" PRIu64 " entries over %" PRIu64 " streams: add %.2fM entries/s (%.2fM/s "
           "with the final flush), %" PRIu64 " tables, RSS %ld MiB\n",
           total, nstreams, (double)total / (t1 - t0) / 1e6, (double)total / (t2 - t0) / 1e6,
           st.tables, rss_kib() / 1024);
    stele_index_entry_t out[10];
    for (int dir = 0; dir < 2; dir++) {
        const uint64_t lookups = 1000000;
        uint64_t found = 0;
        double t3 = now_s();
        for (uint64_t i = 0; i < lookups; i++) {
            uint64_t s = rnd_below(nstreams);
            size_t n;
            stele__index_lookup(idx, stele__index_hash((const char *)&s, sizeof s),
                                dir ? UINT64_MAX : 0, dir == 1, out, 10, &n);
            found += n;
        }
        double t4 = now_s();
        printf("bench: %s lookups of up to 10 entries: %.0f ns each (%.1f entries found each), "
               "RSS %ld MiB\n",
               dir ? "backward" : "forward", (t4 - t3) / (double)lookups * 1e9,
               (double)found / (double)lookups, rss_kib() / 1024);
    }
    assert_int_equal(stele__index_close(idx), 0);
    free(version);
    if (unique_keys)
        bench_fresh_ids(fx->dir, total);
}

int main(void) {
    const char *env = getenv("STELE_TEST_SEED");
    seed = env ? (uint64_t)strtoull(env, NULL, 10) : (uint64_t)time(NULL) ^ (uint64_t)getpid();
    fprintf(stderr, "test_index: seed %" PRIu64 " (replay with STELE_TEST_SEED=%" PRIu64 ")\n",
            seed, seed);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_hash_is_stable, setup, teardown),
        cmocka_unit_test_setup_teardown(test_empty, setup, teardown),
        cmocka_unit_test_setup_teardown(test_add_rejects_old_positions, setup, teardown),
        cmocka_unit_test_setup_teardown(test_random_against_model, setup, teardown),
        cmocka_unit_test_setup_teardown(test_collisions, setup, teardown),
        cmocka_unit_test_setup_teardown(test_long_stream, setup, teardown),
        cmocka_unit_test_setup_teardown(test_damage_on_open, setup, teardown),
        cmocka_unit_test_setup_teardown(test_damage_after_open, setup, teardown),
        cmocka_unit_test_setup_teardown(test_faults, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reset, setup, teardown),
        cmocka_unit_test_setup_teardown(test_one_writer_two_readers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_filter, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bench, setup, teardown),
    };
    /* The benchmark (last) runs only when asked for: left out, not reported as a skip, which
     * ctest counts as a check that did not run (tests/CMakeLists.txt). */
    size_t n = sizeof tests / sizeof tests[0] - (getenv("STELE_INDEX_BENCH") ? 0 : 1);
    int failed = _cmocka_run_group_tests("index", tests, n, NULL, NULL);
    /* Again with lazy memtables: every look-up then enters the entries appended since the last
     * one, and flushes sort the entries directly; the same answers are due. */
    unique_keys = true;
    failed += _cmocka_run_group_tests("index with unique_keys", tests, n, NULL, NULL);
    return failed;
}
