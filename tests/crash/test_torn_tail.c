/*
 * test_torn_tail.c -- a torn tail at every byte of the last 3 commits (TESTING.md, "torn tail").
 *
 * A reference store gets a dozen small commits (single events, multi-event appends, multi-stream
 * commits, some with metadata); after each, its head position and chained hash are recorded. Then
 * for every byte offset k from the first byte of the third-last commit to the end of the written
 * data, and for three kinds of damage, on a fresh copy of the store:
 *   zero   every byte from k to the end of the written data is zeroed (segments are zero-filled
 *          ahead of use, so this is what a write cut at k leaves);
 *   junk   bytes from k to 64 bytes past the end are random junk;
 *   trunc  the segment file itself is truncated to k bytes;
 *   proved zeros as in "zero", but the catalogue snapshot the store wrote when it closed (synced
 *          after the log) is there: it proves every commit was durable;
 * for zero and junk (the damage a crash leaves; the derived files are those of a store killed
 * before it wrote any), opening must give exactly the longest whole-commit prefix: the head
 * position and hash it had when that commit was made, $all equal to the reference up to there; a
 * second open changes nothing (not one byte of the segment, nor the head); and on some trials the
 * recovered store accepts an append, and verify passes. A segment is zero-filled to its full size
 * before use, so a torn write never makes it shorter: "trunc" is a truncated log, not a torn tail,
 * and so is "proved" whenever it loses a commit (issue 9; these two at every 5th byte): open must
 * refuse with STELE_ECORRUPT
 * naming the loss, change nothing, and a STELE_OPEN_VERIFY open must give the same prefix and
 * stele_verify() report the first missing position. A commit counts as whole when its bytes up to
 * the end of its last record are there (zero variant: padding zeros need no writing) or up to its
 * padded end (junk in the padding, or a file that ends inside it, fails the record's check; junk
 * that happens to be zero there, 1 in 256 per byte, leaves it whole).
 */
#include "checker.h"

#include "log/record.h"
#include "log/segment.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_COMMITS 32

typedef struct commit_info {
    uint64_t start;    /* file offset of its first record */
    uint64_t unpadded; /* end of its last record, without padding */
    uint64_t end;      /* padded end */
    uint64_t head;     /* head position after it */
    uint8_t hash[32];  /* head hash after it */
} commit_info_t;

typedef struct ref {
    char dir[4200];
    char seg_rel[128]; /* "log/<name>.seg" */
    commit_info_t commits[MAX_COMMITS];
    size_t ncommits;
    stele_uuid_t ids[256]; /* ids by position - 1 */
    uint64_t nids;
    uint8_t *snap; /* the catalogue.snap written at close (durable: synced after the log) */
    size_t snap_len;
} ref_t;

static void opts(stele_options_t *o) {
    stele_options_init(o);
    o->flags = STELE_OPEN_CREATE;
    o->segment_size_bytes = (uint64_t)1 << 20;
    o->vfs = chk_nosync_vfs();
}

static void append_ok(stele_store_t *s, stele_append_part_t *parts, size_t n) {
    int rc = stele_commit(s, parts, n, NULL);
    if (rc < 0)
        fail_msg("append: %s (%s)", stele_strerror(rc), stele_errdetail());
}

static void build_ref(ref_t *r, const char *root) {
    snprintf(r->dir, sizeof r->dir, "%s/ref", root);
    stele_options_t o;
    opts(&o);
    stele_store_t *s = NULL;
    assert_int_equal(stele_store_open(r->dir, &o, &s), 0);
    stele_event_in_t e1 = {.type = "t", .data = "1", .data_len = 1};
    stele_event_in_t e2 = {
        .type = "u", .data = "[2]", .data_len = 3, .metadata = "{}", .metadata_len = 2};
    stele_event_in_t two[2] = {e1, e2};
    stele_event_in_t three[3] = {e2, e1, e1};
    /* 12 commits, ending with: one event, a 2-event append, a 3-stream commit */
    for (int i = 0; i < 12; i++) {
        stele_append_part_t p[3] = {
            {.stream = "a", .expected_version = STELE_EXPECT_ANY, .events = &e1, .count = 1},
            {.stream = "b", .expected_version = STELE_EXPECT_ANY, .events = two, .count = 2},
            {.stream = "c", .expected_version = STELE_EXPECT_ANY, .events = three, .count = 1},
        };
        switch (i % 3) {
        case 0: append_ok(s, p, 1); break;
        case 1: append_ok(s, &p[1], 1); break;
        default:
            p[2].count = 3;
            append_ok(s, p, 3);
            break;
        }
        commit_info_t *c = &r->commits[r->ncommits++];
        assert_int_equal(stele_head_digest(s, &c->head, c->hash), 0);
    }
    stele_reader_t *rd = NULL;
    assert_int_equal(stele_read_all(s, NULL, &rd), 0);
    stele_event_t ev;
    while (stele_reader_next(rd, &ev) == 1)
        r->ids[r->nids++] = ev.id;
    stele_reader_close(rd);
    assert_int_equal(stele_store_close(s), 0);
    /* Keep the snapshot aside; the reference itself is left as a store killed after its last
     * commit would be: without the derived files that close writes. */
    char p[4400];
    snprintf(p, sizeof p, "%s/catalogue.snap", r->dir);
    assert_int_equal(chk_read_file(p, &r->snap, &r->snap_len), 0);
    assert_int_equal(unlink(p), 0);
    snprintf(p, sizeof p, "%s/index", r->dir);
    chk_rmtree(p);

    /* Where each commit lies in the (only) segment. */
    char seg[4300];
    size_t nseg = 0;
    assert_int_equal(chk_segment_path(r->dir, -1, seg, sizeof seg, &nseg), 0);
    assert_int_equal(nseg, 1);
    snprintf(r->seg_rel, sizeof r->seg_rel, "log/%s", strrchr(seg, '/') + 1);
    uint8_t *buf = NULL;
    size_t len = 0;
    assert_int_equal(chk_read_file(seg, &buf, &len), 0);
    uint64_t off = STELE_SEGMENT_HEADER_BYTES, start = off;
    size_t ci = 0;
    while (off < len) {
        stele_record_t rec;
        size_t need = 0;
        int rc = stele__record_decode(buf + off, len - off, &rec, &need);
        if (rc == STELE_RECORD_ZERO)
            break;
        assert_int_equal(rc, 0);
        if (rec.flags & STELE_RECORD_COMMIT) {
            assert_true(ci < r->ncommits);
            r->commits[ci].start = start;
            r->commits[ci].unpadded = off + rec.length;
            r->commits[ci].end = off + rec.padded_length;
            assert_int_equal(r->commits[ci].head, rec.position);
            ci++;
            start = off + rec.padded_length;
        }
        off += rec.padded_length;
    }
    assert_int_equal(ci, r->ncommits);
    free(buf);
}

enum { V_ZERO, V_JUNK, V_TRUNC, V_PROVED, V_COUNT };
static const char *const vnames[V_COUNT] = {"zero", "junk", "trunc", "proved"};

/* The commit count a damaged tail must recover to. junk is the bytes the junk variant wrote from
 * offset k (NULL for the others). */
static size_t expected_commits(const ref_t *r, int variant, uint64_t k, const uint8_t *junk) {
    size_t n = 0;
    for (size_t i = 0; i < r->ncommits; i++) {
        const commit_info_t *c = &r->commits[i];
        bool whole = variant == V_ZERO || variant == V_PROVED ? c->unpadded <= k : c->end <= k;
        if (!whole && variant == V_JUNK && c->unpadded <= k) {
            /* Junk that starts in the padding: the record stands if it wrote zeros there. */
            whole = true;
            for (uint64_t at = k; at < c->end; at++)
                whole = whole && junk[at - k] == 0;
        }
        if (whole)
            n = i + 1;
    }
    return n;
}

/* Damage the segment from offset k; buf (4096 bytes) receives what was written. */
static void damage(const ref_t *r, const char *work, const char *seg, int variant, uint64_t k,
                   uint64_t data_end, chk_rng_t *rng, uint8_t *buf) {
    if (variant == V_PROVED) {
        char p[4400];
        snprintf(p, sizeof p, "%s/catalogue.snap", work);
        FILE *f = fopen(p, "wb");
        assert_non_null(f);
        assert_int_equal(fwrite(r->snap, 1, r->snap_len, f), r->snap_len);
        assert_int_equal(fclose(f), 0);
    }
    int fd = open(seg, O_RDWR);
    assert_true(fd >= 0);
    if (variant == V_TRUNC) {
        assert_int_equal(ftruncate(fd, (off_t)k), 0);
    } else {
        uint64_t end = variant == V_JUNK ? data_end + 64 : data_end;
        assert_true(end - k <= 4096);
        for (uint64_t i = 0; i < end - k; i++)
            buf[i] = variant == V_JUNK ? (uint8_t)chk_rnd(rng) : 0;
        if (end > k)
            assert_int_equal(pwrite(fd, buf, (size_t)(end - k), (off_t)k), (ssize_t)(end - k));
    }
    close(fd);
}

/* Bring work back to the reference: the damaged range of the segment, its length, the derived
 * files (much faster than copying the zero-filled segment and next.tmp each time). */
static void restore(const ref_t *r, const char *work, const uint8_t *refseg, size_t refseg_len,
                    uint64_t from, uint64_t to) {
    char a[4400], b[4400];
    snprintf(b, sizeof b, "%s/%s", work, r->seg_rel);
    int fd = open(b, O_RDWR);
    assert_true(fd >= 0);
    assert_int_equal(ftruncate(fd, (off_t)refseg_len), 0);
    assert_int_equal(pwrite(fd, refseg + from, (size_t)(to - from), (off_t)from),
                     (ssize_t)(to - from));
    close(fd);
    static const char *const derived[] = {"index", "ids", "catalogue.snap"};
    for (size_t i = 0; i < 3; i++) {
        snprintf(a, sizeof a, "%s/%s", r->dir, derived[i]);
        snprintf(b, sizeof b, "%s/%s", work, derived[i]);
        chk_rmtree(b);
        if (access(a, F_OK) == 0)
            assert_int_equal(chk_copytree(a, b), 0);
    }
}

/* The open must refuse (a loss, not a torn tail), naming it, without changing the segment; a
 * verifying open gives the prefix before the loss, and verify reports the first missing
 * position. */
static void check_refused(const ref_t *r, const char *dir, const char *seg, size_t want,
                          const char *needle, const char *what) {
    uint8_t *before = NULL, *after = NULL;
    size_t before_len = 0, after_len = 0;
    assert_int_equal(chk_read_file(seg, &before, &before_len), 0);
    stele_options_t o;
    opts(&o);
    o.flags = 0;
    stele_store_t *s = NULL;
    int rc = stele_store_open(dir, &o, &s);
    if (rc != STELE_ECORRUPT || !strstr(stele_errdetail(), needle))
        fail_msg("%s: open gave %s (%s), not a refusal naming \"%s\"", what, stele_strerror(rc),
                 rc == 0 ? "opened" : stele_errdetail(), needle);
    assert_int_equal(chk_read_file(seg, &after, &after_len), 0);
    if (before_len != after_len || memcmp(before, after, before_len) != 0)
        fail_msg("%s: the refused open changed the segment", what);
    free(before);
    free(after);
    o.flags = STELE_OPEN_VERIFY;
    if ((rc = stele_store_open(dir, &o, &s)) != 0)
        fail_msg("%s: verify open: %s (%s)", what, stele_strerror(rc), stele_errdetail());
    uint64_t head = 0, want_head = want ? r->commits[want - 1].head : 0;
    uint8_t hash[32];
    assert_int_equal(stele_head_digest(s, &head, hash), 0);
    assert_int_equal(head, want_head);
    stele_verify_report_t rep = {.struct_size = sizeof rep};
    rc = stele_verify(s, NULL, NULL, &rep);
    if (rc != STELE_ECORRUPT || rep.bad_position != want_head + 1 || !strstr(rep.message, needle))
        fail_msg("%s: verify gave %s at position %" PRIu64 " (%s), want the loss at %" PRIu64, what,
                 stele_strerror(rc), rep.bad_position, rep.message, want_head + 1);
    assert_int_equal(stele_store_close(s), 0);
}

static void check_open(const ref_t *r, const char *dir, size_t want, const char *what) {
    stele_options_t o;
    opts(&o);
    o.flags = 0;
    stele_store_t *s = NULL;
    int rc = stele_store_open(dir, &o, &s);
    if (rc < 0)
        fail_msg("%s: open failed: %s (%s)", what, stele_strerror(rc), stele_errdetail());
    uint64_t head = 0;
    uint8_t hash[32], zero[32] = {0};
    assert_int_equal(stele_head_digest(s, &head, hash), 0);
    uint64_t want_head = want ? r->commits[want - 1].head : 0;
    const uint8_t *want_hash = want ? r->commits[want - 1].hash : zero;
    if (head != want_head || memcmp(hash, want_hash, 32) != 0)
        fail_msg("%s: head %" PRIu64 " (hash %s), want %" PRIu64 " (%zu whole commits)", what, head,
                 memcmp(hash, want_hash, 32) ? "differs" : "equal", want_head, want);
    stele_reader_t *rd = NULL;
    assert_int_equal(stele_read_all(s, NULL, &rd), 0);
    stele_event_t ev;
    uint64_t n = 0;
    while ((rc = stele_reader_next(rd, &ev)) == 1) {
        if (n >= want_head || memcmp(ev.id.bytes, r->ids[n].bytes, 16) != 0)
            fail_msg("%s: $all differs from the reference at position %" PRIu64, what, n + 1);
        n++;
    }
    stele_reader_close(rd);
    if (rc < 0 || n != want_head)
        fail_msg("%s: $all gives %" PRIu64 " events (rc %d), want %" PRIu64, what, n, rc,
                 want_head);
    assert_int_equal(stele_store_close(s), 0);
}

static void test_torn_tail(void **state) {
    (void)state;
    uint64_t seed = chk_seed("torn_tail");
    chk_rng_t rng = {seed};
    char root[4096];
    chk_tmpdir(root, sizeof root, "torn");
    ref_t *r = calloc(1, sizeof *r);
    build_ref(r, root);
    const commit_info_t *c3 = &r->commits[r->ncommits - 3];
    uint64_t from = c3->start, data_end = r->commits[r->ncommits - 1].end;
    char work[4200], seg[4400];
    snprintf(work, sizeof work, "%s/work", root);
    snprintf(seg, sizeof seg, "%s/%s", work, r->seg_rel);
    uint64_t trials = 0, appended = 0, refused = 0;
    uint8_t *refseg = NULL;
    size_t refseg_len = 0;
    char refpath[4400];
    snprintf(refpath, sizeof refpath, "%s/%s", r->dir, r->seg_rel);
    assert_int_equal(chk_read_file(refpath, &refseg, &refseg_len), 0);
    assert_true(data_end + 4096 < refseg_len);
    assert_int_equal(chk_copytree(r->dir, work), 0);
    for (int v = 0; v < V_COUNT; v++) {
        for (uint64_t k = from; k <= data_end; k++) {
            /* the losses (not torn tails) at every 5th byte and the end of the data */
            if ((v == V_TRUNC || v == V_PROVED) && (k - from) % 5 != 0 && k != data_end)
                continue;
            char what[128];
            snprintf(what, sizeof what, "%s at byte %" PRIu64 " (seed %" PRIu64 ")", vnames[v], k,
                     seed);
            uint8_t junk[4096];
            damage(r, work, seg, v, k, data_end, &rng, junk);
            size_t want = expected_commits(r, v, k, v == V_JUNK ? junk : NULL);
            if (v == V_TRUNC || (v == V_PROVED && want < r->ncommits)) {
                check_refused(r, work, seg, want,
                              v == V_TRUNC ? "was truncated" : "acknowledged events are missing",
                              what);
                refused++;
                trials++;
                restore(r, work, refseg, refseg_len, from, data_end + 4096);
                continue;
            }
            check_open(r, work, want, what);
            uint8_t *once = NULL, *twice = NULL;
            size_t once_len = 0, twice_len = 0;
            assert_int_equal(chk_read_file(seg, &once, &once_len), 0);
            check_open(r, work, want, what); /* recovering twice changes nothing */
            assert_int_equal(chk_read_file(seg, &twice, &twice_len), 0);
            if (once_len != twice_len || memcmp(once, twice, once_len) != 0)
                fail_msg("%s: the second open changed the segment", what);
            free(once);
            free(twice);
            trials++;
            bool appending = chk_below(&rng, 16) == 0;
            if (appending) {
                /* the recovered store takes new appends after the cut, and verifies */
                stele_options_t o;
                opts(&o);
                stele_store_t *s = NULL;
                assert_int_equal(stele_store_open(work, &o, &s), 0);
                stele_event_in_t e = {.type = "after", .data = "{}", .data_len = 2};
                stele_append_result_t res;
                assert_int_equal(stele_append(s, "z", STELE_EXPECT_ANY, &e, 1, &res), 0);
                uint64_t want_head = want ? r->commits[want - 1].head : 0;
                assert_int_equal(res.first_position, want_head + 1);
                stele_verify_report_t rep = {.struct_size = sizeof rep};
                if (stele_verify(s, NULL, NULL, &rep) != 0)
                    fail_msg("%s: verify after an append: %s", what, rep.message);
                assert_int_equal(stele_store_close(s), 0);
                appended++;
            }
            restore(r, work, refseg, refseg_len, from, data_end + 4096);
        }
    }
    free(refseg);
    printf("torn_tail: %" PRIu64 " trials (%" PRIu64 " byte offsets x %d kinds of damage) over the "
           "last 3 commits, %" PRIu64 " followed by an append, %" PRIu64 " refused as a loss\n",
           trials, data_end - from + 1, (int)V_COUNT, appended, refused);
    free(r->snap);
    free(r);
    chk_rmtree(root);
}

int main(void) {
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_torn_tail)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
