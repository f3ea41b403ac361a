/*
 * test_index_rebuild.c -- the index and the stream catalogue are derived: deleted, behind, ahead
 * or damaged, the store must rebuild them from the log (TESTING.md, "index behind or damaged";
 * invariant 1). A crash between the log sync and the index update is the kill -9 test's job.
 *
 * A reference store is built in two phases (copies of index/ and catalogue.snap are kept after the
 * first). Each scenario works on a fresh copy of the final store, changes the derived files, opens
 * it, and runs the checker (every acknowledged event at its stream version and position, $all
 * gap-free, every stream read through the index equal to the log, stele_verify passes); then
 * closes, opens again and checks again (the rebuilt files are right on disk too).
 *
 * Derived files ahead of the log are legitimate only when the log lost data that was never synced:
 * the second phase runs in durability "none", so its index and snapshot claim nothing. A snapshot
 * written after the log was synced (a later open and close in SYNC mode) ahead of the log proves a
 * loss: the open must refuse, and a verifying open report it (issue 9).
 */
#include "checker.h"

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
#include <unistd.h>

typedef struct env {
    char root[4096];
    char final[4200], phase1[4200], old_index[4200], old_snap[4200], new_index[4200],
        new_snap[4200], durable_snap[4200], work[4200];
    chk_t *c1, *c2; /* acks of phase 1; of both phases */
    uint64_t seed;
} env_t;

static void opts(stele_options_t *o, uint32_t flags) {
    stele_options_init(o);
    o->flags = flags;
    o->segment_size_bytes = (uint64_t)1 << 20;
    o->vfs = chk_nosync_vfs();
}

static void appends(env_t *e, stele_store_t *s, chk_rng_t *rng, int n, bool both) {
    for (int i = 0; i < n; i++) {
        chk_event_t ev[3];
        stele_event_in_t in[3];
        size_t cnt = 1 + chk_below(rng, 3);
        for (size_t k = 0; k < cnt; k++) {
            stele_uuid_t id;
            stele_uuid_generate(&id);
            uint64_t x = chk_rnd(rng);
            memcpy(id.bytes + 12, &x, 4);
            chk_event_make(&ev[k], &id);
            in[k] = ev[k].in;
        }
        char name[16];
        snprintf(name, sizeof name, "st-%d", (int)chk_below(rng, 40));
        stele_append_part_t p = {
            .stream = name, .expected_version = STELE_EXPECT_ANY, .events = in, .count = cnt};
        assert_int_equal(stele_commit(s, &p, 1, NULL), 0);
        if (both)
            assert_int_equal(chk_ack(e->c1, &p, 1), 0);
        assert_int_equal(chk_ack(e->c2, &p, 1), 0);
    }
}

static void cp(const char *from, const char *to) {
    chk_rmtree(to);
    if (access(from, F_OK) == 0)
        assert_int_equal(chk_copytree(from, to), 0);
}

static void setup_env(env_t *e) {
    e->seed = chk_seed("index_rebuild");
    chk_rng_t rng = {e->seed};
    chk_tmpdir(e->root, sizeof e->root, "index");
    snprintf(e->final, sizeof e->final, "%s/final", e->root);
    snprintf(e->phase1, sizeof e->phase1, "%s/phase1", e->root);
    snprintf(e->old_index, sizeof e->old_index, "%s/old-index", e->root);
    snprintf(e->old_snap, sizeof e->old_snap, "%s/old-snap", e->root);
    snprintf(e->new_index, sizeof e->new_index, "%s/final/index", e->root);
    snprintf(e->new_snap, sizeof e->new_snap, "%s/final/catalogue.snap", e->root);
    snprintf(e->work, sizeof e->work, "%s/work", e->root);
    e->c1 = chk_new(NULL);
    e->c2 = chk_new(NULL);
    stele_options_t o;
    opts(&o, STELE_OPEN_CREATE);
    stele_store_t *s = NULL;
    assert_int_equal(stele_store_open(e->final, &o, &s), 0);
    appends(e, s, &rng, 1500, true);
    assert_int_equal(stele_store_close(s), 0);
    char p[4300];
    assert_int_equal(chk_copytree(e->final, e->phase1), 0);
    snprintf(p, sizeof p, "%s/index", e->final);
    cp(p, e->old_index);
    snprintf(p, sizeof p, "%s/catalogue.snap", e->final);
    cp(p, e->old_snap);
    opts(&o, 0);
    o.durability = STELE_DURABILITY_NONE;
    assert_int_equal(stele_store_open(e->final, &o, &s), 0);
    appends(e, s, &rng, 1500, false);
    assert_int_equal(stele_store_close(s), 0);
    /* a SYNC open and close of a copy: its snapshot claims the log was synced through the head */
    char p2[4400];
    snprintf(p, sizeof p, "%s/durable", e->root);
    assert_int_equal(chk_copytree(e->final, p), 0);
    opts(&o, 0);
    assert_int_equal(stele_store_open(p, &o, &s), 0);
    assert_int_equal(stele_store_close(s), 0);
    snprintf(p2, sizeof p2, "%s/catalogue.snap", p);
    snprintf(e->durable_snap, sizeof e->durable_snap, "%s/durable-snap", e->root);
    cp(p2, e->durable_snap);
}

static void check_twice(env_t *e, chk_t *c, const char *what) {
    for (int round = 0; round < 2; round++) {
        stele_options_t o;
        opts(&o, 0);
        stele_store_t *s = NULL;
        int rc = stele_store_open(e->work, &o, &s);
        if (rc < 0)
            fail_msg("%s: open %d failed: %s (%s)", what, round + 1, stele_strerror(rc),
                     stele_errdetail());
        if (chk_verify(c, s) < 0)
            fail_msg("%s (open %d): %s (seed %" PRIu64 ")", what, round + 1, chk_last_error(c),
                     e->seed);
        assert_int_equal(stele_store_close(s), 0);
    }
}

static void work_from(env_t *e, const char *store) {
    chk_rmtree(e->work);
    assert_int_equal(chk_copytree(store, e->work), 0);
}

static void derived(env_t *e, const char *index_from, const char *snap_from) {
    char p[4300];
    snprintf(p, sizeof p, "%s/index", e->work);
    chk_rmtree(p);
    if (index_from)
        cp(index_from, p);
    snprintf(p, sizeof p, "%s/catalogue.snap", e->work);
    chk_rmtree(p);
    if (snap_from)
        cp(snap_from, p);
}

/* Flip a byte in the middle of every file of dir whose name contains part. */
static int damage_files(const char *dir, const char *part, bool truncate_instead) {
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (!strstr(de->d_name, part))
            continue;
        char p[8192];
        snprintf(p, sizeof p, "%s/%s", dir, de->d_name);
        int fd = open(p, O_RDWR);
        if (fd < 0)
            continue;
        off_t size = lseek(fd, 0, SEEK_END);
        if (truncate_instead) {
            assert_int_equal(ftruncate(fd, size / 2), 0);
        } else if (size > 0) {
            uint8_t b = 0;
            assert_int_equal(pread(fd, &b, 1, size / 2), 1);
            b ^= 0x10;
            assert_int_equal(pwrite(fd, &b, 1, size / 2), 1);
        }
        close(fd);
        n++;
    }
    closedir(d);
    return n;
}

static void test_index_rebuild(void **state) {
    (void)state;
    env_t *e = calloc(1, sizeof *e);
    setup_env(e);
    int n = 0;

    work_from(e, e->final);
    check_twice(e, e->c2, "untouched");
    n++;
    work_from(e, e->final);
    derived(e, NULL, e->new_snap);
    check_twice(e, e->c2, "index/ deleted");
    n++;
    work_from(e, e->final);
    derived(e, e->new_index, NULL);
    check_twice(e, e->c2, "catalogue.snap deleted");
    n++;
    work_from(e, e->final);
    derived(e, NULL, NULL);
    check_twice(e, e->c2, "index/ and catalogue.snap deleted");
    n++;
    work_from(e, e->final);
    derived(e, e->old_index, e->new_snap);
    check_twice(e, e->c2, "index/ behind the log");
    n++;
    work_from(e, e->final);
    derived(e, e->new_index, e->old_snap);
    check_twice(e, e->c2, "catalogue.snap behind the log");
    n++;
    work_from(e, e->final);
    derived(e, e->old_index, e->old_snap);
    check_twice(e, e->c2, "index/ and catalogue.snap behind the log");
    n++;
    work_from(e, e->phase1);
    derived(e, e->new_index, e->new_snap);
    check_twice(e, e->c1, "index/ and catalogue.snap ahead of the log");
    n++;
    work_from(e, e->phase1);
    derived(e, e->old_index, e->new_snap);
    check_twice(e, e->c1, "catalogue.snap ahead of the log");
    n++;

    /* A durable snapshot ahead of the log: events that were synced are gone. */
    work_from(e, e->phase1);
    derived(e, e->old_index, e->durable_snap);
    {
        stele_options_t o;
        opts(&o, 0);
        stele_store_t *s = NULL;
        int rc = stele_store_open(e->work, &o, &s);
        if (rc != STELE_ECORRUPT || !strstr(stele_errdetail(), "acknowledged events are missing"))
            fail_msg("durable snapshot ahead of the log: open gave %s (%s)", stele_strerror(rc),
                     rc ? stele_errdetail() : "opened");
        o.flags = STELE_OPEN_VERIFY;
        assert_int_equal(stele_store_open(e->work, &o, &s), 0);
        stele_verify_report_t rep = {.struct_size = sizeof rep};
        uint64_t head = 0;
        uint8_t hash[32];
        assert_int_equal(stele_head_digest(s, &head, hash), 0);
        assert_int_equal(stele_verify(s, NULL, NULL, &rep), STELE_ECORRUPT);
        assert_int_equal(rep.bad_position, head + 1);
        assert_non_null(strstr(rep.message, "catalogue.snap"));
        assert_int_equal(stele_store_close(s), 0);
        n++;
    }

    char idx[4300], snap[4300];
    snprintf(idx, sizeof idx, "%s/index", e->work);
    snprintf(snap, sizeof snap, "%s", e->work);
    static const struct {
        const char *part;
        bool trunc;
        bool in_index;
        const char *what;
    } dmg[] = {
        {"table-", false, true, "a byte flipped in every index table"},
        {"table-", true, true, "every index table truncated"},
        {"MANIFEST", false, true, "a byte flipped in the index manifest"},
        {"MANIFEST", true, true, "the index manifest truncated"},
        {"catalogue.snap", false, false, "a byte flipped in catalogue.snap"},
        {"catalogue.snap", true, false, "catalogue.snap truncated"},
    };
    for (size_t i = 0; i < sizeof dmg / sizeof dmg[0]; i++) {
        work_from(e, e->final);
        int hit = damage_files(dmg[i].in_index ? idx : snap, dmg[i].part, dmg[i].trunc);
        if (hit == 0)
            continue; /* no such file in this layout */
        check_twice(e, e->c2, dmg[i].what);
        n++;
    }

    /* reindex rebuilds both from the log */
    work_from(e, e->final);
    {
        stele_options_t o;
        opts(&o, 0);
        stele_store_t *s = NULL;
        assert_int_equal(stele_store_open(e->work, &o, &s), 0);
        assert_int_equal(stele_reindex(s, NULL, NULL), 0);
        if (chk_verify(e->c2, s) < 0)
            fail_msg("after reindex: %s", chk_last_error(e->c2));
        assert_int_equal(stele_store_close(s), 0);
        check_twice(e, e->c2, "after reindex");
        n++;
    }
    chk_stats_t st;
    chk_get_stats(e->c2, &st);
    printf("index_rebuild: %d scenarios, each opened twice and checked: %" PRIu64
           " acknowledged events, %" PRIu64 " streams read through the index\n",
           n, st.acked, st.streams);
    chk_free(e->c1);
    chk_free(e->c2);
    chk_rmtree(e->root);
    free(e);
}

int main(void) {
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_index_rebuild)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
