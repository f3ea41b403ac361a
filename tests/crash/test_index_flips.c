/*
 * test_index_flips.c -- bit rot in the derived files: random single-bit flips and 4 KiB overwrites
 * in the index table files, the index manifest and the catalogue snapshot (catalogue.snap)
 * (TESTING.md, "index behind or damaged" and "bit rot"; test_bitflip.c does the segments,
 * test_index_rebuild.c deletes, truncates and swaps whole files).
 *
 * A reference store is built in three sessions (three index tables, a manifest, a snapshot) and
 * every answer is recorded: $all, every stream read forward and backward, stream info, metadata.
 * Each trial restores the pristine derived files, damages one of them -- 1,000 single-bit flips
 * (STELE_INDEX_FLIP_TRIALS) and 64 overwrites of a 4 KiB block with zeros or junk -- and opens
 * the store. Three in four trials damage the files before the open; the others damage a table
 * file after it (the open has loaded and verified it; lookups read its blocks later). Checked:
 *   - the open succeeds (derived state can always be rebuilt from the log); damage before the open
 *     is either found (the index or the catalogue rebuilt from the log) or changes nothing;
 *   - every read is the reference's, or (damage after the open) fails with STELE_ECORRUPT: never a
 *     wrong, missing or extra event; stream info and metadata are the reference's;
 *   - stele_verify passes, or returns STELE_ECORRUPT -- and it does whenever a read did;
 *   - 1 in 8 trials also reopens the store the damage left behind and runs the checker on it.
 */
#include "checker.h"
#include "test_util.h"

#include "store/store.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define NSTREAMS 48

typedef struct dfile {
    char name[300]; /* relative to the store: "index/..." or "catalogue.snap" */
    uint8_t *bytes;
    size_t len;
    bool table;
} dfile_t;

typedef struct env {
    char root[4096], ref_dir[4200], work[4200], acks[4200];
    uint64_t seed;
    chk_rng_t rng;
    dfile_t files[64];
    size_t nfiles;
    char names[NSTREAMS + 1][24];
    tu_events_t all, fwd[NSTREAMS + 1], bwd[NSTREAMS + 1];
    stele_stream_info_t info[NSTREAMS + 1];
    /* figures */
    uint64_t trials, flips, overwrites, after_open, rebuilt_index, read_corrupt, verify_corrupt,
        unchanged, checked;
} env_t;

static void opts(stele_options_t *o, uint32_t flags) {
    stele_options_init(o);
    o->flags = flags;
    o->segment_size_bytes = (uint64_t)1 << 20;
    o->durability = STELE_DURABILITY_NONE;
    o->vfs = chk_nosync_vfs();
}

static stele_store_t *open_dir(const char *dir, uint32_t flags) {
    stele_options_t o;
    opts(&o, flags);
    stele_store_t *s = NULL;
    int rc = stele_store_open(dir, &o, &s);
    if (rc < 0)
        fail_msg("open %s: %s (%s)", dir, stele_strerror(rc), stele_errdetail());
    return s;
}

static void build(env_t *e) {
    chk_t *c = chk_new(e->acks);
    for (int i = 0; i < NSTREAMS; i++)
        snprintf(e->names[i], sizeof e->names[i], "%s-%d", i % 3 ? "acct" : "order", i);
    snprintf(e->names[NSTREAMS], sizeof e->names[NSTREAMS], "$$acct-1");
    for (int session = 0; session < 3; session++) {
        stele_store_t *s = open_dir(e->ref_dir, session == 0 ? STELE_OPEN_CREATE : 0);
        for (int i = 0; i < 500; i++) {
            chk_event_t ce[3];
            stele_event_in_t in[3];
            size_t n = 1 + chk_below(&e->rng, 3);
            for (size_t k = 0; k < n; k++) {
                stele_uuid_t id;
                stele_uuid_generate(&id);
                uint64_t r = chk_rnd(&e->rng);
                memcpy(id.bytes + 10, &r, 6);
                chk_event_make(&ce[k], &id);
                in[k] = ce[k].in;
            }
            stele_append_part_t p = {.stream = e->names[chk_below(&e->rng, NSTREAMS)],
                                     .expected_version = STELE_EXPECT_ANY,
                                     .events = in,
                                     .count = n};
            chk_intent(c, &p, 1, false);
            assert_int_equal(stele_commit(s, &p, 1, NULL), 0);
            assert_int_equal(chk_ack(c, &p, 1), 0);
        }
        if (session == 1)
            assert_int_equal(stele_stream_metadata_set(s, "acct-1", "{\"tier\":60}"), 0);
        assert_int_equal(stele_store_close(s), 0);
    }
    chk_free(c);
}

static int read_stream(stele_store_t *s, const char *name, bool backward, tu_events_t *out) {
    return tu_read_stream(s, name, backward ? -1 : 0, backward ? STELE_BACKWARD : STELE_FORWARD, 0,
                          out);
}

static void record_reference(env_t *e) {
    stele_store_t *s = open_dir(e->ref_dir, 0);
    stele_read_options_t o;
    stele_read_options_init(&o);
    o.filter.include_system = true;
    assert_int_equal(tu_read_all(s, &o, &e->all), 0);
    for (int i = 0; i <= NSTREAMS; i++) {
        assert_int_equal(read_stream(s, e->names[i], false, &e->fwd[i]), 0);
        assert_int_equal(read_stream(s, e->names[i], true, &e->bwd[i]), 0);
        e->info[i].struct_size = sizeof e->info[i];
        assert_int_equal(stele_stream_info(s, e->names[i], &e->info[i]), 0);
    }
    stele_stats_t st = {.struct_size = sizeof st};
    assert_int_equal(stele_stats(s, &st), 0);
    assert_true(st.index_tables >= 2);
    assert_int_equal(stele_store_close(s), 0);
}

static void load_derived(env_t *e) {
    char dir[4400];
    snprintf(dir, sizeof dir, "%s/index", e->ref_dir);
    DIR *d = opendir(dir);
    assert_non_null(d);
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.')
            continue;
        assert_true(e->nfiles < 63);
        dfile_t *f = &e->files[e->nfiles++];
        snprintf(f->name, sizeof f->name, "index/%s", de->d_name);
        f->table = strncmp(de->d_name, "table-", 6) == 0;
    }
    closedir(d);
    snprintf(e->files[e->nfiles++].name, sizeof e->files[0].name, "catalogue.snap");
    size_t tables = 0;
    for (size_t i = 0; i < e->nfiles; i++) {
        char p[4500];
        snprintf(p, sizeof p, "%s/%s", e->ref_dir, e->files[i].name);
        assert_int_equal(chk_read_file(p, &e->files[i].bytes, &e->files[i].len), 0);
        tables += e->files[i].table;
    }
    assert_true(tables >= 2);
}

/* The work store: the reference's log, shared read-only by hard copy once; derived files put back
 * before each trial. */
static void restore(env_t *e) {
    char p[4500];
    snprintf(p, sizeof p, "%s/index", e->work);
    chk_rmtree(p);
    assert_int_equal(mkdir(p, 0755), 0);
    for (size_t i = 0; i < e->nfiles; i++) {
        snprintf(p, sizeof p, "%s/%s", e->work, e->files[i].name);
        int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        assert_true(fd >= 0);
        assert_int_equal(write(fd, e->files[i].bytes, e->files[i].len), (ssize_t)e->files[i].len);
        close(fd);
    }
}

/* Damage one derived file (a table only when after_open). Returns its index. */
static size_t damage(env_t *e, bool after_open, bool overwrite, char *what, size_t whatlen) {
    size_t i;
    do
        i = (size_t)chk_below(&e->rng, e->nfiles);
    while (after_open && !e->files[i].table);
    dfile_t *f = &e->files[i];
    char p[4500];
    snprintf(p, sizeof p, "%s/%s", e->work, f->name);
    int fd = open(p, O_RDWR);
    assert_true(fd >= 0);
    uint64_t off = chk_below(&e->rng, f->len);
    if (overwrite) {
        uint8_t block[4096];
        bool zeros = chk_below(&e->rng, 2) == 0;
        for (size_t k = 0; k < sizeof block; k++)
            block[k] = zeros ? 0 : (uint8_t)chk_rnd(&e->rng);
        off &= ~(uint64_t)4095;
        size_t n = f->len - off < sizeof block ? (size_t)(f->len - off) : sizeof block;
        assert_int_equal(pwrite(fd, block, n, (off_t)off), (ssize_t)n);
        snprintf(what, whatlen, "%s: 4 KiB of %s at %" PRIu64 "%s", f->name,
                 zeros ? "zeros" : "junk", off, after_open ? " (after open)" : "");
    } else {
        unsigned bit = (unsigned)chk_below(&e->rng, 8);
        uint8_t b = f->bytes[off] ^ (uint8_t)(1u << bit);
        assert_int_equal(pwrite(fd, &b, 1, (off_t)off), 1);
        snprintf(what, whatlen, "%s: bit %u of byte %" PRIu64 " of %zu%s", f->name, bit, off,
                 f->len, after_open ? " (after open)" : "");
    }
    close(fd);
    return i;
}

static bool same(const tu_events_t *a, const tu_events_t *b) {
    if (a->n != b->n)
        return false;
    for (size_t i = 0; i < a->n; i++) {
        const tu_event_t *x = &a->v[i], *y = &b->v[i];
        if (x->position != y->position || x->version != y->version ||
            memcmp(x->id.bytes, y->id.bytes, 16) != 0 || strcmp(x->stream, y->stream) != 0 ||
            x->data_len != y->data_len || memcmp(x->data, y->data, x->data_len) != 0)
            return false;
    }
    return true;
}

static void trial(env_t *e, bool overwrite, bool check_after) {
    restore(e);
    bool after_open = chk_below(&e->rng, 4) == 0;
    char what[256] = "";
    stele_store_t *s = NULL;
    if (!after_open)
        damage(e, false, overwrite, what, sizeof what);
    {
        stele_options_t o;
        opts(&o, 0);
        int rc = stele_store_open(e->work, &o, &s);
        if (rc < 0)
            fail_msg("%s: open failed: %s (%s) (seed %" PRIu64 ")", what, stele_strerror(rc),
                     stele_errdetail(), e->seed);
    }
    stele_stats_t st = {.struct_size = sizeof st};
    assert_int_equal(stele_stats(s, &st), 0);
    bool rebuilt = st.index_tables == 0;
    if (after_open) {
        damage(e, true, overwrite, what, sizeof what);
        e->after_open++;
    }
    /* every read: the reference's, or STELE_ECORRUPT (damage met after the open) */
    bool corrupt_read = false;
    tu_events_t got = {0};
    stele_read_options_t ro;
    stele_read_options_init(&ro);
    ro.filter.include_system = true;
    int rc = tu_read_all(s, &ro, &got);
    if (rc != 0 || !same(&got, &e->all))
        fail_msg("%s: $all differs (%s) (seed %" PRIu64 ")", what, stele_strerror(rc), e->seed);
    tu_events_free(&got);
    for (int i = 0; i <= NSTREAMS; i++) {
        for (int dir = 0; dir < 2; dir++) {
            rc = read_stream(s, e->names[i], dir == 1, &got);
            if (rc == STELE_ECORRUPT && after_open) {
                corrupt_read = true;
            } else if (rc != 0 || !same(&got, dir ? &e->bwd[i] : &e->fwd[i])) {
                fail_msg("%s: stream %s (%s) gave %zu events (%s), the reference %zu (seed %" PRIu64
                         ")",
                         what, e->names[i], dir ? "backward" : "forward", got.n, stele_strerror(rc),
                         (dir ? &e->bwd[i] : &e->fwd[i])->n, e->seed);
            }
            tu_events_free(&got);
        }
        stele_stream_info_t info = {.struct_size = sizeof info};
        rc = stele_stream_info(s, e->names[i], &info);
        const stele_stream_info_t *ri = &e->info[i];
        if (rc != 0 || info.state != ri->state || info.first_version != ri->first_version ||
            info.last_version != ri->last_version || info.last_position != ri->last_position ||
            info.event_count != ri->event_count)
            fail_msg("%s: stream info of %s differs (%s) (seed %" PRIu64 ")", what, e->names[i],
                     stele_strerror(rc), e->seed);
    }
    char *meta = NULL;
    if (stele_stream_metadata_get(s, "acct-1", &meta) != 0 || strcmp(meta, "{\"tier\":60}") != 0)
        fail_msg("%s: the metadata of acct-1 differs (seed %" PRIu64 ")", what, e->seed);
    stele_free(meta);
    stele_verify_report_t rep = {.struct_size = sizeof rep};
    rc = stele_verify(s, NULL, NULL, &rep);
    if (rc != 0 && rc != STELE_ECORRUPT)
        fail_msg("%s: verify returned %s (seed %" PRIu64 ")", what, stele_strerror(rc), e->seed);
    if (corrupt_read && rc == 0)
        fail_msg("%s: a read met damage, verify passed (seed %" PRIu64 ")", what, e->seed);
    if (rc == STELE_ECORRUPT && !after_open)
        fail_msg("%s: verify after an open that should have rebuilt: %s (seed %" PRIu64 ")", what,
                 rep.message, e->seed);
    e->verify_corrupt += rc == STELE_ECORRUPT;
    e->read_corrupt += corrupt_read;
    e->rebuilt_index += rebuilt && !after_open;
    e->unchanged += !rebuilt && !after_open && !strstr(what, "catalogue.snap");
    (void)stele_store_close(s); /* may report the damaged table */
    if (check_after) {
        /* the store the damage left behind opens, takes an append and holds everything */
        chk_t *c = chk_new(NULL);
        assert_int_equal(chk_load(c, e->acks), 0);
        s = open_dir(e->work, 0);
        if (chk_verify(c, s) < 0)
            fail_msg("%s: after reopen: %s (seed %" PRIu64 ")", what, chk_last_error(c), e->seed);
        assert_int_equal(stele_store_close(s), 0);
        chk_free(c);
        e->checked++;
    }
    e->trials++;
}

static void test_index_flips(void **state) {
    (void)state;
    env_t *e = calloc(1, sizeof *e);
    e->seed = chk_seed("index_flips");
    e->rng.s = e->seed;
    chk_tmpdir(e->root, sizeof e->root, "index-flips");
    snprintf(e->ref_dir, sizeof e->ref_dir, "%s/ref", e->root);
    snprintf(e->work, sizeof e->work, "%s/work", e->root);
    snprintf(e->acks, sizeof e->acks, "%s/acks", e->root);
    build(e);
    record_reference(e);
    load_derived(e);
    assert_int_equal(chk_copytree(e->ref_dir, e->work), 0);
    uint64_t flips = chk_env_u64("STELE_INDEX_FLIP_TRIALS", 1000);
    if (flips < 1000)
        flips = 1000;
    for (uint64_t t = 0; t < flips + 64; t++) {
        bool overwrite = t >= flips;
        trial(e, overwrite, t % 8 == 7);
        e->flips += !overwrite;
        e->overwrites += overwrite;
    }
    size_t tables = 0;
    for (size_t i = 0; i < e->nfiles; i++)
        tables += e->files[i].table;
    printf("index_flips: %" PRIu64 " trials (%" PRIu64 " bit flips, %" PRIu64
           " 4 KiB overwrites; %" PRIu64 " after the open) over %zu table files, the manifest and "
           "catalogue.snap: index rebuilt at open %" PRIu64 ", unchanged answers %" PRIu64
           ", reads refused with STELE_ECORRUPT in %" PRIu64 ", verify reported damage in %" PRIu64
           ", %" PRIu64 " reopened and checked; 0 wrong answers\n",
           e->trials, e->flips, e->overwrites, e->after_open, tables, e->rebuilt_index,
           e->unchanged, e->read_corrupt, e->verify_corrupt, e->checked);
    tu_events_free(&e->all);
    for (int i = 0; i <= NSTREAMS; i++) {
        tu_events_free(&e->fwd[i]);
        tu_events_free(&e->bwd[i]);
    }
    for (size_t i = 0; i < e->nfiles; i++)
        free(e->files[i].bytes);
    chk_rmtree(e->root);
    free(e);
}

int main(void) {
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_index_flips)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
