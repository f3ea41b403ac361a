/*
 * test_catalogue.c -- the stream catalogue on its own (src/store/catalogue.h): many streams found
 * by name (also when their hashes collide), its snapshot file saved and loaded field for field
 * with the durability flag, and a snapshot that is damaged, or tampered with a checksum that
 * matches, loaded as an empty catalogue at position 0 (the store then rebuilds it from the log),
 * never half loaded.
 *
 * Random names come from a seed that is printed; STELE_TEST_SEED=<n> replays it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "index/index.h"
#include "os/alloc.h"
#include "os/vfs.h"
#include "store/catalogue.h"
#include "test_util.h"
#include "util/crc32c.h"

#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static stele_stream_t *get(stele_catalogue_t *cat, const char *name) {
    stele_stream_t *s = NULL;
    size_t len = strlen(name);
    assert_int_equal(stele__catalogue_get(cat, name, len, stele__index_hash(name, len), false, &s),
                     0);
    assert_non_null(s);
    return s;
}

static stele_stream_t *find(stele_catalogue_t *cat, const char *name) {
    size_t len = strlen(name);
    return stele__catalogue_find(cat, name, len, stele__index_hash(name, len));
}

static void test_many_streams(void **state) {
    (void)state;
    uint64_t seed = tu_seed("catalogue");
    tu_rng_t rng;
    tu_rng_init(&rng, seed);
    stele_catalogue_t cat;
    assert_int_equal(stele__catalogue_init(&cat), 0);
    enum { N = 20000 };
    char name[64];
    for (int i = 0; i < N; i++) {
        snprintf(name, sizeof name, "s-%d-%" PRIu64, i, tu_rnd(&rng) % 1000);
        stele_stream_t *s = get(&cat, name);
        assert_int_equal(s->last_version, -1);
        s->last_version = i;
        /* asking again finds the same entry, not a second one */
        assert_ptr_equal(get(&cat, name), s);
    }
    assert_int_equal(cat.count, N);
    tu_rng_init(&rng, seed);
    for (int i = 0; i < N; i++) {
        snprintf(name, sizeof name, "s-%d-%" PRIu64, i, tu_rnd(&rng) % 1000);
        stele_stream_t *s = find(&cat, name);
        assert_non_null(s);
        assert_int_equal(s->last_version, i);
        assert_string_equal(s->name, name);
    }
    assert_null(find(&cat, "s-absent"));
    stele__catalogue_free(&cat);
}

/* Two names given the same hash are two streams: the name decides, the hash only places. */
static void test_hash_collision(void **state) {
    (void)state;
    stele_catalogue_t cat;
    assert_int_equal(stele__catalogue_init(&cat), 0);
    stele_stream_t *a = NULL, *b = NULL;
    assert_int_equal(stele__catalogue_get(&cat, "alpha", 5, 42, false, &a), 0);
    assert_int_equal(stele__catalogue_get(&cat, "beta", 4, 42, false, &b), 0);
    assert_ptr_not_equal(a, b);
    assert_ptr_equal(stele__catalogue_find(&cat, "alpha", 5, 42), a);
    assert_ptr_equal(stele__catalogue_find(&cat, "beta", 4, 42), b);
    assert_null(stele__catalogue_find(&cat, "alph", 4, 42));
    assert_int_equal(cat.count, 2);
    stele__catalogue_free(&cat);
}

/* The path of the one snapshot file save wrote into dir. */
static void snapshot_path(const char *dir, char *out, size_t size) {
    size_t n = 0;
    char **names = tu_list(dir, ".snap", &n);
    assert_int_equal(n, 1);
    snprintf(out, size, "%s/%s", dir, names[0]);
    tu_names_free(names, n);
}

/* A catalogue of three streams in each state, one with metadata, at position 9. */
static void fill_sample(stele_catalogue_t *cat) {
    stele_stream_t *s = get(cat, "order-1");
    s->last_version = s->pending_version = 4;
    s->first_version = s->pending_first = 2;
    s->last_position = 7;
    s->metadata = stele__strdup("{\"max_count\":3}");
    assert_non_null(s->metadata);
    s = get(cat, "order-2");
    s->last_version = s->pending_version = 0;
    s->first_version = s->pending_first = 1;
    s->last_position = 8;
    s->state = s->pending_state = STELE_STREAM_DELETED;
    s = get(cat, "closed");
    s->last_version = s->pending_version = 1;
    s->last_position = 9;
    s->state = s->pending_state = STELE_STREAM_TOMBSTONED;
    cat->position = 9;
}

static void test_snapshot_round_trip(void **state) {
    (void)state;
    char dir[256];
    tu_tmpdir(dir, sizeof dir, "catalogue");
    const stele_vfs_t *vfs = stele__vfs_posix();
    _Atomic uint64_t synced = 9;
    for (int durable = 1; durable >= 0; durable--) {
        stele_catalogue_t cat, back;
        assert_int_equal(stele__catalogue_init(&cat), 0);
        fill_sample(&cat);
        atomic_store(&synced, durable ? 9 : 8);
        cat.synced_position = &synced;
        assert_int_equal(stele__catalogue_save(&cat, vfs, dir), 0);
        assert_int_equal(stele__catalogue_init(&back), 0);
        assert_int_equal(stele__catalogue_load(&back, vfs, dir), 0);
        assert_int_equal(back.count, 3);
        assert_int_equal(back.position, 9);
        assert_int_equal(back.loaded_durable, durable == 1);
        stele_stream_t *s = find(&back, "order-1");
        assert_non_null(s);
        assert_int_equal(s->last_version, 4);
        assert_int_equal(s->first_version, 2);
        assert_int_equal(s->pending_version, 4);
        assert_int_equal(s->last_position, 7);
        assert_int_equal(s->state, STELE_STREAM_ACTIVE);
        assert_string_equal(s->metadata, "{\"max_count\":3}");
        assert_int_equal(s->retention.max_count, 3); /* metadata applied as it loads */
        s = find(&back, "order-2");
        assert_non_null(s);
        assert_int_equal(s->state, STELE_STREAM_DELETED);
        assert_int_equal(s->first_version, 1);
        assert_null(s->metadata);
        s = find(&back, "closed");
        assert_non_null(s);
        assert_int_equal(s->state, STELE_STREAM_TOMBSTONED);
        stele__catalogue_free(&back);
        stele__catalogue_free(&cat);
    }
    /* no snapshot at all: an empty catalogue, not an error */
    char empty[256];
    tu_tmpdir(empty, sizeof empty, "catalogue-none");
    stele_catalogue_t none;
    assert_int_equal(stele__catalogue_init(&none), 0);
    assert_int_equal(stele__catalogue_load(&none, vfs, empty), 0);
    assert_int_equal(none.count, 0);
    assert_int_equal(none.position, 0);
    stele__catalogue_free(&none);
    tu_rmtree(empty);
    tu_rmtree(dir);
}

static void expect_empty_load(const char *dir, const char *what) {
    stele_catalogue_t back;
    assert_int_equal(stele__catalogue_init(&back), 0);
    assert_int_equal(stele__catalogue_load(&back, stele__vfs_posix(), dir), 0);
    if (back.count != 0 || back.position != 0 || back.loaded_durable)
        fail_msg("%s: loaded %zu streams at position %" PRIu64, what, back.count, back.position);
    stele__catalogue_free(&back);
}

static void test_snapshot_every_flip(void **state) {
    (void)state;
    char dir[256], path[512];
    tu_tmpdir(dir, sizeof dir, "catalogue");
    stele_catalogue_t cat;
    assert_int_equal(stele__catalogue_init(&cat), 0);
    fill_sample(&cat);
    assert_int_equal(stele__catalogue_save(&cat, stele__vfs_posix(), dir), 0);
    stele__catalogue_free(&cat);
    snapshot_path(dir, path, sizeof path);
    size_t len = 0;
    uint8_t *good = tu_read_file(path, &len);
    uint8_t *buf = malloc(len);
    assert_non_null(buf);
    char what[64];
    for (size_t byte = 0; byte < len; byte++) {
        for (unsigned bit = 0; bit < 8; bit++) {
            memcpy(buf, good, len);
            buf[byte] ^= (uint8_t)(1u << bit);
            tu_write_file(path, buf, len);
            snprintf(what, sizeof what, "flip of byte %zu bit %u", byte, bit);
            expect_empty_load(dir, what);
        }
    }
    for (size_t cut = 0; cut < len; cut += 3) {
        tu_write_file(path, good, cut);
        snprintf(what, sizeof what, "cut at %zu", cut);
        expect_empty_load(dir, what);
    }
    free(buf);
    free(good);
    tu_rmtree(dir);
}

/* Little-endian writes of the test's own. */
static void le32(uint8_t *p, uint32_t v) {
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}
static void le64(uint8_t *p, uint64_t v) {
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

/* A snapshot of one stream "s" (field values given), checksum matching. */
static size_t one_stream(uint8_t *buf, uint64_t position, uint8_t st, int64_t last, int64_t first,
                         uint64_t last_position) {
    memset(buf, 0, 128);
    memcpy(buf, "STELECAT", 8);
    le32(buf + 8, 1);
    le64(buf + 16, position);
    le64(buf + 24, 1);
    uint8_t *p = buf + 32;
    p[0] = 1; /* name length 1 */
    p[1] = 0;
    p[2] = 's';
    p[3] = st;
    le64(p + 4, (uint64_t)last);
    le64(p + 12, (uint64_t)first);
    le64(p + 20, last_position);
    le32(p + 28, 0);
    p += 32;
    le32(p, stele__crc32c(0, buf, (size_t)(p - buf)));
    return (size_t)(p - buf) + 4;
}

/* Values no store writes, in a file whose checksum matches: refused as a whole, as damage is. */
static void test_snapshot_tampered(void **state) {
    (void)state;
    char dir[256], path[512];
    tu_tmpdir(dir, sizeof dir, "catalogue");
    stele_catalogue_t cat;
    assert_int_equal(stele__catalogue_init(&cat), 0);
    get(&cat, "s");
    assert_int_equal(stele__catalogue_save(&cat, stele__vfs_posix(), dir), 0);
    stele__catalogue_free(&cat);
    snapshot_path(dir, path, sizeof path);
    uint8_t buf[128];
    /* the hand-made file is read as the store's own when its values are sound */
    tu_write_file(path, buf, one_stream(buf, 10, STELE_STREAM_ACTIVE, 3, 0, 10));
    stele_catalogue_t back;
    assert_int_equal(stele__catalogue_init(&back), 0);
    assert_int_equal(stele__catalogue_load(&back, stele__vfs_posix(), dir), 0);
    assert_int_equal(back.count, 1);
    assert_int_equal(find(&back, "s")->last_version, 3);
    stele__catalogue_free(&back);
    struct {
        const char *what;
        uint8_t state;
        int64_t last, first;
        uint64_t last_position;
    } bad[] = {
        {"an unknown state", 3, 3, 0, 10},
        {"a version below -1", STELE_STREAM_ACTIVE, -2, 0, 10},
        {"a negative first version", STELE_STREAM_ACTIVE, 3, -1, 10},
        {"a first version beyond the last + 1", STELE_STREAM_ACTIVE, 3, 5, 10},
        {"a last position beyond the snapshot's", STELE_STREAM_ACTIVE, 3, 0, 11},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        tu_write_file(
            path, buf,
            one_stream(buf, 10, bad[i].state, bad[i].last, bad[i].first, bad[i].last_position));
        expect_empty_load(dir, bad[i].what);
    }
    tu_rmtree(dir);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_many_streams),        cmocka_unit_test(test_hash_collision),
        cmocka_unit_test(test_snapshot_round_trip), cmocka_unit_test(test_snapshot_every_flip),
        cmocka_unit_test(test_snapshot_tampered),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
