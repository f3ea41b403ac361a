/*
 * test_alloc_sites.c -- allocation failure at every N along the operations of a store that has
 * history: several segments, index tables, a catalogue snapshot (TESTING.md, "allocation
 * failure"; tests/unit/test_alloc_failure.c covers a new store and one-segment stores).
 *
 * For N = 1, 2, ... the Nth allocation fails (stele__alloc_fail_at), once sticky (every allocation
 * from the Nth on fails, in every thread) and once alone (only the Nth), around:
 *   - opening the existing store (until an open succeeds without meeting the failure);
 *   - an append of a 3-stream commit (a new stream, an existing one, client ids);
 *   - a read of $all and of one stream, both directions;
 *   - subscriptions to $all and to one stream, until caught up;
 *   - stele_verify;
 *   - stele_reindex.
 * Each failure must be a clean error (STELE_ENOMEM; STELE_EPOISONED for an append when an earlier
 * failure poisoned the store), never a crash, another error (a read error or STELE_ECORRUPT) or a
 * wrong answer: a read that fails has returned only a prefix of the right events. After close
 * stele__alloc_live() is back where it was before the open (no leak), and a reopen finds every
 * acknowledged event, byte for byte (the checker, stele_verify included). A failed append may
 * have written its commit only when it poisoned the store (the index could not follow).
 */
#include "checker.h"
#include "test_util.h"

#include "alloc_hooks.h"
#include "store/store.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SEG ((uint64_t)1 << 20)
#define BLOB (32u * 1024u)
#define MAX_N 100000u

typedef struct env {
    char root[4096], dir[4200], acks[4200];
    chk_t *c;
    chk_rng_t rng;
    uint64_t seed;
    uint8_t blob[BLOB];
    tu_events_t ref_all, ref_stream, ref_stream_bwd, ref_sub_all, ref_sub_stream;
    /* figures */
    uint64_t rounds, failures, poisoned, written_unacked;
} env_t;

static env_t *E;

static void disarm(void) { stele__alloc_fail_at(0, 0); }

static void opts(stele_options_t *o, uint32_t flags) {
    stele_options_init(o);
    o->flags = flags;
    o->segment_size_bytes = SEG;
    o->durability = STELE_DURABILITY_NONE;
    o->vfs = chk_nosync_vfs();
}

static stele_store_t *open_plain(void) {
    stele_options_t o;
    opts(&o, 0);
    stele_store_t *s = NULL;
    int rc = stele_store_open(E->dir, &o, &s);
    if (rc < 0)
        fail_msg("open: %s (%s)", stele_strerror(rc), stele_errdetail());
    return s;
}

static void check_store(const char *what, uint64_t n) {
    stele_store_t *s = open_plain();
    if (chk_verify(E->c, s) < 0)
        fail_msg("%s, N=%" PRIu64 ": %s (seed %" PRIu64 ")", what, n, chk_last_error(E->c),
                 E->seed);
    assert_int_equal(stele_store_close(s), 0);
}

static void expect_live(int64_t base, const char *what, uint64_t n) {
    int64_t live = stele__alloc_live();
    if (live != base)
        fail_msg("%s, N=%" PRIu64 ": %" PRId64 " allocations live after close, %" PRId64
                 " before the open (a leak)",
                 what, n, live, base);
}

static stele_uuid_t new_id(void) {
    stele_uuid_t id;
    stele_uuid_generate(&id);
    uint64_t r = chk_rnd(&E->rng);
    memcpy(id.bytes + 10, &r, 6);
    return id;
}

/* Build the parts of a commit into storage owned by the caller. */
typedef struct commit {
    chk_event_t ce[8];
    stele_event_in_t e[8];
    stele_append_part_t p[3];
    size_t nparts;
} commit_t;

static void commit_make(commit_t *cm, const char *const *streams, const int64_t *expected,
                        const size_t *counts, size_t nparts, bool blob) {
    size_t k = 0;
    for (size_t i = 0; i < nparts; i++) {
        cm->p[i] = (stele_append_part_t){.stream = streams[i],
                                         .expected_version = expected[i],
                                         .events = &cm->e[k],
                                         .count = counts[i]};
        for (size_t j = 0; j < counts[i]; j++, k++) {
            stele_uuid_t id = new_id();
            if (blob && j == 0) {
                memset(&cm->e[k], 0, sizeof cm->e[k]);
                cm->e[k].type = "blob";
                cm->e[k].data = E->blob;
                cm->e[k].data_len = BLOB - (size_t)chk_below(&E->rng, 2048);
                cm->e[k].flags = STELE_EVENT_BINARY;
                cm->e[k].id = id;
            } else {
                chk_event_make(&cm->ce[k], &id);
                cm->e[k] = cm->ce[k].in;
            }
        }
    }
    cm->nparts = nparts;
}

static void build_base(void) {
    stele_options_t o;
    opts(&o, STELE_OPEN_CREATE);
    E->c = chk_new(E->acks);
    for (int round = 0; round < 2; round++) {
        stele_store_t *s = NULL;
        assert_int_equal(stele_store_open(E->dir, &o, &s), 0);
        o.flags = 0;
        size_t target = round == 0 ? 3 : 4;
        for (int i = 0; stele__log_segment_count(s->log) < target || i < 40; i++) {
            char name[16];
            snprintf(name, sizeof name, "st-%d", i % 16);
            const char *streams[1] = {i % 4 == 0 ? "hot" : name};
            int64_t any[1] = {STELE_EXPECT_ANY};
            size_t counts[1] = {1 + (size_t)(i % 3)};
            commit_t cm;
            commit_make(&cm, streams, any, counts, 1, i % 3 == 2);
            chk_intent(E->c, cm.p, 1, false);
            assert_int_equal(stele_commit(s, cm.p, 1, NULL), 0);
            assert_int_equal(chk_ack(E->c, cm.p, 1), 0);
        }
        if (round == 0) {
            assert_int_equal(stele_stream_metadata_set(s, "st-1", "{\"tier\":3}"), 0);
        }
        /* a prepared next segment: no background zero-filling during the opens below */
        char p[4400];
        snprintf(p, sizeof p, "%s/log/next.tmp", E->dir);
        for (int i = 0; i < 500 && access(p, F_OK) != 0; i++)
            usleep(10000);
        assert_int_equal(stele_store_close(s), 0);
    }
}

/* ---- reads into lists ------------------------------------------------------------------------ */

enum { RD_ALL, RD_STREAM, RD_STREAM_BWD, RD_SUB_ALL, RD_SUB_STREAM };

static int read_into(stele_store_t *s, int which, tu_events_t *out) {
    int rc;
    if (which == RD_SUB_ALL || which == RD_SUB_STREAM) {
        stele_subscribe_options_t o;
        stele_subscribe_options_init(&o);
        if (which == RD_SUB_STREAM)
            o.stream = "hot";
        stele_subscription_t *sub = NULL;
        if ((rc = stele_subscribe(s, &o, &sub)) < 0)
            return rc;
        for (;;) {
            stele_event_t ev;
            rc = stele_subscription_next(sub, &ev, 0);
            if (rc == STELE_SUB_EVENT) {
                tu_events_push(out, &ev);
                continue;
            }
            if (rc == STELE_SUB_CAUGHT_UP || rc == STELE_SUB_TIMEOUT)
                rc = 0;
            break;
        }
        stele_subscription_close(sub);
        return rc;
    }
    stele_reader_t *r = NULL;
    if (which == RD_ALL) {
        stele_read_options_t o;
        stele_read_options_init(&o);
        o.filter.include_system = true;
        rc = stele_read_all(s, &o, &r);
    } else {
        rc = stele_read_stream(s, "hot", which == RD_STREAM ? 0 : -1,
                               which == RD_STREAM ? STELE_FORWARD : STELE_BACKWARD, 0, &r);
    }
    if (rc < 0)
        return rc;
    rc = tu_drain(r, out);
    stele_reader_close(r);
    return rc;
}

static bool prefix_of(const tu_events_t *got, const tu_events_t *ref, bool whole) {
    if (got->n > ref->n || (whole && got->n != ref->n))
        return false;
    for (size_t i = 0; i < got->n; i++) {
        const tu_event_t *a = &got->v[i], *b = &ref->v[i];
        if (a->position != b->position || a->version != b->version ||
            memcmp(a->id.bytes, b->id.bytes, 16) != 0 || strcmp(a->stream, b->stream) != 0 ||
            a->data_len != b->data_len || memcmp(a->data, b->data, a->data_len) != 0 ||
            a->metadata_len != b->metadata_len ||
            (a->metadata_len && memcmp(a->metadata, b->metadata, a->metadata_len) != 0))
            return false;
    }
    return true;
}

static tu_events_t *ref_of(int which) {
    switch (which) {
    case RD_ALL: return &E->ref_all;
    case RD_STREAM: return &E->ref_stream;
    case RD_STREAM_BWD: return &E->ref_stream_bwd;
    case RD_SUB_ALL: return &E->ref_sub_all;
    default: return &E->ref_sub_stream;
    }
}

static void take_refs(void) {
    for (int w = RD_ALL; w <= RD_SUB_STREAM; w++)
        tu_events_free(ref_of(w));
    stele_store_t *s = open_plain();
    for (int w = RD_ALL; w <= RD_SUB_STREAM; w++)
        assert_int_equal(read_into(s, w, ref_of(w)), 0);
    assert_true(E->ref_stream.n > 10);
    assert_int_equal(stele_store_close(s), 0);
}

/* ---- the sweeps ------------------------------------------------------------------------------ */

/* The kinds of operation, each swept over N. */
typedef enum opkind { OP_OPEN, OP_APPEND, OP_READ, OP_SUBSCRIBE, OP_VERIFY, OP_REINDEX } opkind_t;
static const char *const op_name[] = {"open", "append", "read", "subscribe", "verify", "reindex"};

static bool clean_error(int rc) { return rc == STELE_ENOMEM; }

/* One round: N fails (sticky or alone) during the operation. Returns true when the operation
 * succeeded without meeting the failure (the sweep is over). */
static bool round_n(opkind_t op, uint64_t n, bool sticky) {
    int64_t base = stele__alloc_live();
    stele_options_t o;
    opts(&o, 0);
    stele_store_t *s = NULL;
    char what[64];
    snprintf(what, sizeof what, "%s (%s)", op_name[op], sticky ? "sticky" : "once");
    E->rounds++;
    bool done = false, wrote = false;
    if (op == OP_OPEN) {
        uint64_t before = stele__alloc_count();
        stele__alloc_fail_at(n, sticky);
        int rc = stele_store_open(E->dir, &o, &s);
        disarm();
        bool hit = stele__alloc_count() - before >= n;
        if (rc < 0) {
            E->failures++;
            if (!clean_error(rc))
                fail_msg("%s, N=%" PRIu64 ": open failed with %s (%s), not STELE_ENOMEM", what, n,
                         stele_strerror(rc), stele_errdetail());
            if (s)
                fail_msg("%s, N=%" PRIu64 ": a failed open returned a store", what, n);
        } else {
            /* an open that met the failure and still succeeded (a derived file rebuilt) must
             * hold everything */
            if (hit && chk_verify(E->c, s) < 0)
                fail_msg("%s, N=%" PRIu64 ": %s", what, n, chk_last_error(E->c));
            int crc = stele_store_close(s);
            if (crc != 0)
                fail_msg("%s, N=%" PRIu64 ": close: %s", what, n, stele_strerror(crc));
            done = !hit;
        }
        expect_live(base, what, n);
        check_store(what, n);
        return done;
    }
    s = open_plain();
    uint64_t before = stele__alloc_count();
    int rc = 0;
    switch (op) {
    case OP_APPEND: {
        char fresh[32];
        snprintf(fresh, sizeof fresh, "new-%" PRIu64 "-%d", n, sticky);
        const char *streams[3] = {fresh, "hot", "st-5"};
        int64_t exp[3] = {STELE_EXPECT_NO_STREAM, STELE_EXPECT_ANY, STELE_EXPECT_ANY};
        size_t counts[3] = {2, 1, 2};
        commit_t cm;
        commit_make(&cm, streams, exp, counts, 3, false);
        chk_intent(E->c, cm.p, 3, false);
        stele__alloc_fail_at(n, sticky);
        rc = stele_commit(s, cm.p, 3, NULL);
        disarm();
        if (rc == 0) {
            if (chk_ack(E->c, cm.p, 3) < 0)
                fail_msg("%s, N=%" PRIu64 ": %s", what, n, chk_last_error(E->c));
            wrote = true;
        } else {
            stele_stats_t st = {.struct_size = sizeof st};
            assert_int_equal(stele_stats(s, &st), 0);
            if (!clean_error(rc))
                fail_msg("%s, N=%" PRIu64 ": the commit failed with %s (%s)", what, n,
                         stele_strerror(rc), stele_errdetail());
            if (st.poisoned) {
                E->poisoned++;
                /* the derived state is not trusted: no stream answer from it */
                tu_events_t got = {0};
                int r2 = read_into(s, RD_STREAM, &got);
                tu_events_free(&got);
                if (r2 != STELE_EPOISONED)
                    fail_msg("%s, N=%" PRIu64 ": a stream read on a poisoned store returned %s",
                             what, n, stele_strerror(r2));
            }
            /* the commit is in the log only if the index could not follow it (poisoned) */
            stele_stream_info_t info = {.struct_size = sizeof info};
            assert_int_equal(stele_store_close(s), 0);
            s = open_plain();
            int irc = stele_stream_info(s, fresh, &info);
            if (irc == 0) {
                if (!st.poisoned)
                    fail_msg("%s, N=%" PRIu64 ": a failed commit was written without poisoning "
                             "the store",
                             what, n);
                E->written_unacked++;
            } else if (irc != STELE_ENOTFOUND) {
                fail_msg("%s, N=%" PRIu64 ": stream info: %s", what, n, stele_strerror(irc));
            }
        }
        break;
    }
    case OP_READ:
    case OP_SUBSCRIBE: {
        int first = op == OP_READ ? RD_ALL : RD_SUB_ALL;
        int last = op == OP_READ ? RD_STREAM_BWD : RD_SUB_STREAM;
        stele__alloc_fail_at(n, sticky);
        for (int w = first; w <= last; w++) {
            tu_events_t got = {0};
            int r = read_into(s, w, &got);
            if (r < 0 && !clean_error(r)) {
                disarm();
                fail_msg("%s, N=%" PRIu64 ": read %d failed with %s (%s)", what, n, w,
                         stele_strerror(r), stele_errdetail());
            }
            if (!prefix_of(&got, ref_of(w), r == 0)) {
                disarm();
                fail_msg("%s, N=%" PRIu64 ": read %d returned %zu events (%s), not the right ones",
                         what, n, w, got.n, stele_strerror(r));
            }
            tu_events_free(&got);
            if (r < 0 && rc == 0)
                rc = r;
        }
        disarm();
        break;
    }
    case OP_VERIFY: {
        stele_verify_report_t rep = {.struct_size = sizeof rep};
        stele__alloc_fail_at(n, sticky);
        rc = stele_verify(s, NULL, NULL, &rep);
        disarm();
        if (rc < 0 && !clean_error(rc))
            fail_msg("%s, N=%" PRIu64 ": verify returned %s (%s), not STELE_ENOMEM", what, n,
                     stele_strerror(rc), rep.message);
        break;
    }
    case OP_REINDEX: {
        stele__alloc_fail_at(n, sticky);
        rc = stele_reindex(s, NULL, NULL);
        disarm();
        if (rc < 0) {
            if (!clean_error(rc))
                fail_msg("%s, N=%" PRIu64 ": reindex returned %s (%s), not STELE_ENOMEM", what, n,
                         stele_strerror(rc), stele_errdetail());
            stele_stats_t st = {.struct_size = sizeof st};
            assert_int_equal(stele_stats(s, &st), 0);
            if (st.poisoned)
                E->poisoned++;
        }
        wrote = true; /* the index and the snapshot were rewritten (or dropped at close) */
        break;
    }
    default: break;
    }
    bool hit = stele__alloc_count() - before >= n;
    if (rc < 0)
        E->failures++;
    (void)stele_store_close(s); /* after a failed reindex close reports the index's error */
    expect_live(base, what, n);
    if (wrote || rc < 0)
        check_store(what, n);
    return rc == 0 && !hit;
}

static void sweep(opkind_t op) {
    uint64_t last[2] = {0, 0};
    for (int sticky = 1; sticky >= 0; sticky--) {
        uint64_t n;
        for (n = 1; n < MAX_N; n++)
            if (round_n(op, n, sticky != 0))
                break;
        assert_true(n < MAX_N);
        last[sticky] = n;
    }
    printf("  %-9s N = 1..%" PRIu64 " sticky, 1..%" PRIu64 " once\n", op_name[op], last[1],
           last[0]);
}

static int setup(void **state) {
    (void)state;
    E = calloc(1, sizeof *E);
    E->seed = chk_seed("alloc_sites");
    E->rng.s = E->seed;
    for (size_t i = 0; i < BLOB; i++)
        E->blob[i] = (uint8_t)chk_rnd(&E->rng);
    chk_tmpdir(E->root, sizeof E->root, "alloc-sites");
    snprintf(E->dir, sizeof E->dir, "%s/store", E->root);
    snprintf(E->acks, sizeof E->acks, "%s/acks", E->root);
    build_base();
    take_refs();
    return 0;
}

static int teardown(void **state) {
    (void)state;
    printf("alloc_sites: %" PRIu64 " rounds, %" PRIu64 " failed cleanly, %" PRIu64
           " poisoned the store, %" PRIu64
           " commits written but not acknowledged (all poisoned); 0 leaks, 0 lost\n",
           E->rounds, E->failures, E->poisoned, E->written_unacked);
    for (int w = RD_ALL; w <= RD_SUB_STREAM; w++)
        tu_events_free(ref_of(w));
    chk_free(E->c);
    chk_rmtree(E->root);
    free(E);
    return 0;
}

static void test_open(void **state) {
    (void)state;
    sweep(OP_OPEN);
}
static void test_reads(void **state) {
    (void)state;
    sweep(OP_READ);
    sweep(OP_SUBSCRIBE);
}
static void test_verify(void **state) {
    (void)state;
    sweep(OP_VERIFY);
}
static void test_append(void **state) {
    (void)state;
    sweep(OP_APPEND);
}
static void test_reindex(void **state) {
    (void)state;
    sweep(OP_REINDEX);
    take_refs();
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_open),    cmocka_unit_test(test_reads),
        cmocka_unit_test(test_verify),  cmocka_unit_test(test_append),
        cmocka_unit_test(test_reindex),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
