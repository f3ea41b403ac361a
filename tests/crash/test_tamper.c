/*
 * test_tamper.c -- the hash chain under test (README and SPEC: the log is tamper-evident).
 *
 * A CRC only detects accidents: someone with write access to the files can change an event and
 * recompute its CRC. What must catch that is the chain hash each commit record carries. This test
 * plays that attacker on a copy of a reference store (1 MiB segments, so several are sealed):
 *   - rewrites a byte of an event's data inside a sealed segment, and inside the active one, then
 *     recomputes the record's CRC;
 *   - swaps two whole records (two single-event commits of the same size), once as they are (their
 *     positions then run backwards) and once with their positions and CRCs rewritten so that every
 *     record still decodes.
 * Each time the store must not pass as good:
 *   - in a sealed segment (not rescanned at open), stele_verify() returns STELE_ECORRUPT and names
 *     the first bad commit: report.bad_position is the position of that commit's commit record;
 *   - in the active segment, open refuses the store with STELE_ECORRUPT naming that commit, cuts
 *     nothing (the file is unchanged), also when the damaged commit is the last one (a torn write
 *     cannot leave whole records that pass their CRCs but break the chain, so recovery must not
 *     treat it as a torn tail and silently drop it).
 * The untouched copy opens and verifies, so the test can pass. Not random: no seed.
 */
#include "checker.h"

#include "log/record.h"
#include "util/bytes.h"
#include "log/segment.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAXSEG 16
#define MAXREC 8192
#define DATA_BYTES 500

typedef struct rec_at {
    uint64_t start, len, position;
    bool commit;
} rec_at_t;

typedef struct seg {
    char path[4400]; /* in the work copy */
    uint8_t *bytes;  /* reference bytes */
    size_t len;
    rec_at_t *recs;
    size_t nrecs;
} seg_t;

typedef struct ref {
    char root[4096], dir[4200], work[4200];
    seg_t segs[MAXSEG];
    size_t nsegs;
} ref_t;

static ref_t R;

static int build(void **state) {
    (void)state;
    ref_t *r = &R;
    chk_tmpdir(r->root, sizeof r->root, "tamper");
    int n1 = snprintf(r->dir, sizeof r->dir, "%s/ref", r->root);
    int n2 = snprintf(r->work, sizeof r->work, "%s/work", r->root);
    assert_true(n1 > 0 && (size_t)n1 < sizeof r->dir && n2 > 0 && (size_t)n2 < sizeof r->work);
    stele_options_t o;
    stele_options_init(&o);
    o.flags = STELE_OPEN_CREATE;
    o.segment_size_bytes = (uint64_t)1 << 20;
    o.vfs = chk_nosync_vfs();
    stele_store_t *s = NULL;
    assert_int_equal(stele_store_open(r->dir, &o, &s), 0);
    /* Every record has the same size (same stream name length, type and data length), so two
     * single-event commits can trade places byte for byte. Every fourth append is a commit of
     * three events. */
    static uint8_t data[3][DATA_BYTES];
    for (int i = 0; i < 5200; i++) {
        stele_event_in_t ev[3];
        size_t n = i % 4 == 0 ? 3 : 1;
        for (size_t k = 0; k < n; k++) {
            memset(data[k], 'a' + (i + (int)k) % 26, DATA_BYTES);
            memcpy(data[k], &i, sizeof i);
            memset(&ev[k], 0, sizeof ev[k]);
            ev[k].type = "E";
            ev[k].data = data[k];
            ev[k].data_len = DATA_BYTES;
            ev[k].flags = STELE_EVENT_BINARY;
        }
        char stream[8];
        snprintf(stream, sizeof stream, "s%d", i % 10);
        assert_int_equal(stele_append(s, stream, STELE_EXPECT_ANY, ev, n, NULL), 0);
    }
    assert_int_equal(stele_store_close(s), 0);

    size_t count = 0;
    char path[4400];
    assert_int_equal(chk_segment_path(r->dir, 0, path, sizeof path, &count), 0);
    assert_true(count >= 3 && count <= MAXSEG);
    r->nsegs = count;
    for (size_t i = 0; i < count; i++) {
        seg_t *g = &r->segs[i];
        assert_int_equal(chk_segment_path(r->dir, (int)i, path, sizeof path, NULL), 0);
        int n = snprintf(g->path, sizeof g->path, "%s/log/%s", r->work, strrchr(path, '/') + 1);
        assert_true(n > 0 && (size_t)n < sizeof g->path);
        assert_int_equal(chk_read_file(path, &g->bytes, &g->len), 0);
        g->recs = calloc(MAXREC, sizeof *g->recs);
        assert_non_null(g->recs);
        uint64_t off = STELE_SEGMENT_HEADER_BYTES;
        while (off < g->len && g->nrecs < MAXREC) {
            stele_record_t rec;
            size_t need = 0;
            int rc = stele__record_decode(g->bytes + off, g->len - off, &rec, &need);
            if (rc == STELE_RECORD_ZERO)
                break;
            assert_int_equal(rc, 0);
            g->recs[g->nrecs++] = (rec_at_t){off, rec.padded_length, rec.position,
                                             (rec.flags & STELE_RECORD_COMMIT) != 0};
            off += rec.padded_length;
        }
    }
    /* the active segment holds enough commits to damage one in its middle */
    assert_true(r->segs[count - 1].nrecs > 100);
    return 0;
}

static int teardown(void **state) {
    (void)state;
    for (size_t i = 0; i < R.nsegs; i++) {
        free(R.segs[i].bytes);
        free(R.segs[i].recs);
    }
    chk_rmtree(R.root);
    return 0;
}

/* A fresh copy of the reference store in R.work. */
static void fresh_copy(void) {
    chk_rmtree(R.work);
    assert_int_equal(chk_copytree(R.dir, R.work), 0);
}

static void write_at(const seg_t *g, uint64_t off, const uint8_t *bytes, size_t len) {
    int fd = open(g->path, O_WRONLY);
    assert_true(fd >= 0);
    assert_int_equal(pwrite(fd, bytes, len, (off_t)off), (ssize_t)len);
    close(fd);
}

/* Index of the k-th record (from 0) that is the middle event of a three-event commit. */
static size_t middle_of_commit(const seg_t *g, size_t k) {
    for (size_t i = 1; i + 1 < g->nrecs; i++)
        if (!g->recs[i].commit && !g->recs[i - 1].commit && g->recs[i + 1].commit && k-- == 0)
            return i;
    fail_msg("no three-event commit");
    return 0;
}

/* Index of the k-th record i such that records i and i+1 are both single-event commits. */
static size_t single_pair(const seg_t *g, size_t k) {
    for (size_t i = 1; i + 1 < g->nrecs; i++)
        if (g->recs[i - 1].commit && g->recs[i].commit && g->recs[i + 1].commit && k-- == 0)
            return i;
    fail_msg("no two single-event commits in a row");
    return 0;
}

/* The attacker: change one data byte of record i and recompute its CRC. */
static void rewrite_event(const seg_t *g, size_t i) {
    const rec_at_t *a = &g->recs[i];
    uint8_t *buf = malloc(a->len);
    assert_non_null(buf);
    memcpy(buf, g->bytes + a->start, a->len);
    stele_record_t rec;
    size_t need = 0;
    assert_int_equal(stele__record_decode(buf, a->len, &rec, &need), 0);
    size_t at = (size_t)(rec.data - buf) + DATA_BYTES / 2;
    buf[at] ^= 0x01;
    stele__record_seal(buf);
    assert_int_equal(stele__record_decode(buf, a->len, &rec, &need), 0); /* CRC passes */
    write_at(g, a->start, buf, a->len);
    free(buf);
}

/* The attacker: swap records i and i+1 (same size). With fix_positions, each keeps the position
 * of the place it moves to and gets a new CRC, so that both decode. */
static void swap_records(const seg_t *g, size_t i, bool fix_positions) {
    const rec_at_t *a = &g->recs[i], *b = &g->recs[i + 1];
    assert_int_equal(a->len, b->len);
    assert_int_equal(b->start, a->start + a->len);
    uint8_t *buf = malloc(a->len + b->len);
    assert_non_null(buf);
    memcpy(buf, g->bytes + b->start, b->len);
    memcpy(buf + b->len, g->bytes + a->start, a->len);
    if (fix_positions) {
        stele__put_u64(buf + 16, a->position);
        stele__put_u64(buf + b->len + 16, b->position);
        stele__record_seal(buf);
        stele__record_seal(buf + b->len);
        stele_record_t rec;
        size_t need = 0;
        assert_int_equal(stele__record_decode(buf, b->len, &rec, &need), 0);
        assert_int_equal(stele__record_decode(buf + b->len, a->len, &rec, &need), 0);
    }
    write_at(g, a->start, buf, a->len + b->len);
    free(buf);
}

/* Position of the commit record of the commit that holds record i. */
static uint64_t commit_of(const seg_t *g, size_t i) {
    while (!g->recs[i].commit)
        i++;
    return g->recs[i].position;
}

static stele_options_t opts(uint32_t flags) {
    stele_options_t o;
    stele_options_init(&o);
    o.flags = flags;
    o.segment_size_bytes = (uint64_t)1 << 20;
    o.vfs = chk_nosync_vfs();
    return o;
}

/* A sealed segment: open does not rescan it; verify must name the commit. */
static void expect_verify_names(const char *what, uint64_t bad_commit, const char *words) {
    stele_options_t o = opts(STELE_OPEN_READONLY);
    stele_store_t *s = NULL;
    int rc = stele_store_open(R.work, &o, &s);
    if (rc < 0)
        fail_msg("%s: open failed (%s: %s); only verify can see this damage", what,
                 stele_strerror(rc), stele_errdetail());
    stele_verify_report_t rep = {.struct_size = sizeof rep};
    rc = stele_verify(s, NULL, NULL, &rep);
    assert_int_equal(stele_store_close(s), 0);
    if (rc != STELE_ECORRUPT)
        fail_msg("%s: verify returned %s: the broken hash chain went undetected", what,
                 stele_strerror(rc));
    if (rep.bad_position != bad_commit || !strstr(rep.message, words))
        fail_msg("%s: verify named position %" PRIu64 " (\"%s\"), want the commit at %" PRIu64
                 " and \"%s\"",
                 what, rep.bad_position, rep.message, bad_commit, words);
    printf("tamper: %s: verify names position %" PRIu64 ": %s\n", what, rep.bad_position,
           rep.message);
}

/* The active segment: open (read-only and writable) must refuse, naming the commit, and leave the
 * segment file as the attacker left it (nothing cut). */
static void expect_open_refuses(const char *what, const seg_t *g, uint64_t bad_commit) {
    uint8_t *before = NULL, *after = NULL;
    size_t before_len = 0, after_len = 0;
    assert_int_equal(chk_read_file(g->path, &before, &before_len), 0);
    char want[64];
    snprintf(want, sizeof want, "position %" PRIu64, bad_commit);
    for (int writable = 0; writable < 2; writable++) {
        stele_options_t o = opts(writable ? 0 : STELE_OPEN_READONLY);
        stele_store_t *s = NULL;
        int rc = stele_store_open(R.work, &o, &s);
        if (rc == 0) {
            uint64_t head = 0;
            uint8_t hash[32];
            stele_head_digest(s, &head, hash);
            stele_store_close(s);
            fail_msg("%s: %s open accepted a broken hash chain in the active segment (head %" PRIu64
                     ")",
                     what, writable ? "writable" : "read-only", head);
        }
        if (rc != STELE_ECORRUPT || !strstr(stele_errdetail(), want) ||
            !strstr(stele_errdetail(), "chain hash"))
            fail_msg("%s: open returned %s (%s), want STELE_ECORRUPT naming the chain hash at %s",
                     what, stele_strerror(rc), stele_errdetail(), want);
        if (writable)
            printf("tamper: %s: open refuses: %s\n", what, stele_errdetail());
    }
    assert_int_equal(chk_read_file(g->path, &after, &after_len), 0);
    if (after_len != before_len || memcmp(before, after, before_len) != 0)
        fail_msg("%s: open changed the active segment (something was cut)", what);
    free(before);
    free(after);
}

static void test_untouched_copy_passes(void **state) {
    (void)state;
    fresh_copy();
    stele_options_t o = opts(0);
    stele_store_t *s = NULL;
    assert_int_equal(stele_store_open(R.work, &o, &s), 0);
    stele_verify_report_t rep = {.struct_size = sizeof rep};
    assert_int_equal(stele_verify(s, NULL, NULL, &rep), 0);
    assert_int_equal(stele_store_close(s), 0);
}

static void test_rewrite_sealed(void **state) {
    (void)state;
    for (size_t seg = 0; seg + 1 < R.nsegs; seg++) {
        const seg_t *g = &R.segs[seg];
        /* an event in the middle of a three-event commit, and the segment's last record */
        size_t picks[2] = {middle_of_commit(g, 7 + seg), g->nrecs - 1};
        for (int p = 0; p < 2; p++) {
            fresh_copy();
            rewrite_event(g, picks[p]);
            char what[96];
            snprintf(what, sizeof what, "sealed segment %zu, event %" PRIu64 " rewritten", seg,
                     g->recs[picks[p]].position);
            expect_verify_names(what, commit_of(g, picks[p]), "chain hash");
        }
    }
}

static void test_reorder_sealed(void **state) {
    (void)state;
    const seg_t *g = &R.segs[1];
    size_t i = single_pair(g, 20);
    fresh_copy();
    swap_records(g, i, true);
    expect_verify_names("sealed segment, two commits swapped (positions rewritten)",
                        g->recs[i].position, "chain hash");
    fresh_copy();
    swap_records(g, i, false);
    expect_verify_names("sealed segment, two commits swapped", g->recs[i].position, "");
}

static void test_rewrite_active(void **state) {
    (void)state;
    const seg_t *g = &R.segs[R.nsegs - 1];
    /* in the middle of the segment, and the last record of the log (the last commit) */
    size_t picks[3] = {middle_of_commit(g, 3), middle_of_commit(g, 30), g->nrecs - 1};
    for (int p = 0; p < 3; p++) {
        fresh_copy();
        rewrite_event(g, picks[p]);
        char what[96];
        snprintf(what, sizeof what, "active segment, event %" PRIu64 " rewritten%s",
                 g->recs[picks[p]].position, p == 2 ? " (the last commit)" : "");
        expect_open_refuses(what, g, commit_of(g, picks[p]));
    }
}

static void test_reorder_active(void **state) {
    (void)state;
    const seg_t *g = &R.segs[R.nsegs - 1];
    size_t pairs[2] = {single_pair(g, 10), g->nrecs - 2};
    assert_true(g->recs[pairs[1]].commit && g->recs[pairs[1] - 1].commit);
    for (int p = 0; p < 2; p++) {
        fresh_copy();
        swap_records(g, pairs[p], true);
        char what[96];
        snprintf(what, sizeof what, "active segment, commits %" PRIu64 " and %" PRIu64 " swapped",
                 g->recs[pairs[p]].position, g->recs[pairs[p] + 1].position);
        expect_open_refuses(what, g, g->recs[pairs[p]].position);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_untouched_copy_passes), cmocka_unit_test(test_rewrite_sealed),
        cmocka_unit_test(test_reorder_sealed),        cmocka_unit_test(test_rewrite_active),
        cmocka_unit_test(test_reorder_active),
    };
    return cmocka_run_group_tests(tests, build, teardown);
}
