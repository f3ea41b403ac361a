/*
 * test_bitflip.c -- bit rot in the log (TESTING.md, "bit rot in a sealed segment").
 *
 * A reference store of a few MiB (1 MiB segments, so several are sealed) is copied once; each
 * trial damages the copy, checks, and puts the original bytes back:
 *   - >= 1000 single-bit flips at random bytes of sealed segments (header included, up to the end
 *     of their records), and 64 overwrites of a 4 KiB block with zeros or junk;
 *   - every one must be detected: either open refuses the store with STELE_ECORRUPT, or it opens
 *     with the head unchanged (the middle of the log is never cut) and stele_verify() returns
 *     STELE_ECORRUPT; a forward $all scan returns only events equal to the reference and then an
 *     error; reading the damaged record by position, and through its stream, returns an error,
 *     never the event;
 *   - some trials also remove the segment's sparse index (open then scans the sealed segment and
 *     must refuse it), and some open the store writable (the head must not move);
 *   - 100 flips in the last (active) segment before its last commit: corruption in the middle,
 *     which open must refuse with STELE_ECORRUPT without cutting anything (the file unchanged).
 * STELE_BITFLIP_TRIALS sets the single-bit flip count (default 1000, the minimum).
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

typedef struct refev {
    stele_uuid_t id;
    int64_t version;
    char stream[8];
    uint8_t digest[32];
} refev_t;

typedef struct segrec {
    uint64_t start, end, position;
} segrec_t;

typedef struct refseg {
    char rel[64]; /* "log/<name>" */
    uint8_t *bytes;
    size_t len;
    uint64_t end; /* end of records */
    segrec_t *recs;
    size_t nrecs;
    uint64_t last_commit_start; /* last segment: where its last commit begins */
} refseg_t;

typedef struct ref {
    char dir[4200], work[4200];
    refev_t *ev;
    uint64_t head;
    uint8_t hash[32];
    refseg_t segs[MAXSEG];
    size_t nsegs;
} ref_t;

static void build(ref_t *r, chk_rng_t *rng) {
    stele_options_t o;
    stele_options_init(&o);
    o.flags = STELE_OPEN_CREATE;
    o.segment_size_bytes = (uint64_t)1 << 20;
    o.vfs = chk_nosync_vfs();
    stele_store_t *s = NULL;
    assert_int_equal(stele_store_open(r->dir, &o, &s), 0);
    static uint8_t data[1200];
    for (size_t i = 0; i < sizeof data; i++)
        data[i] = (uint8_t)chk_rnd(rng);
    for (int i = 0; i < 1500; i++) {
        stele_event_in_t ev[4];
        size_t n = 1 + chk_below(rng, 4);
        for (size_t k = 0; k < n; k++) {
            memset(&ev[k], 0, sizeof ev[k]);
            ev[k].type = k % 2 ? "odd" : "even";
            ev[k].data = data + chk_below(rng, 200);
            ev[k].data_len = 400 + chk_below(rng, 600);
            ev[k].flags = STELE_EVENT_BINARY;
            if (k == 1) {
                ev[k].metadata = "{\"m\":1}";
                ev[k].metadata_len = 7;
            }
        }
        char stream[8];
        snprintf(stream, sizeof stream, "s%d", (int)chk_below(rng, 10));
        assert_int_equal(stele_append(s, stream, STELE_EXPECT_ANY, ev, n, NULL), 0);
    }
    assert_int_equal(stele_head_digest(s, &r->head, r->hash), 0);
    r->ev = calloc(r->head, sizeof *r->ev);
    stele_reader_t *rd = NULL;
    assert_int_equal(stele_read_all(s, NULL, &rd), 0);
    stele_event_t e;
    uint64_t n = 0;
    while (stele_reader_next(rd, &e) == 1) {
        refev_t *p = &r->ev[n++];
        p->id = e.id;
        p->version = e.version;
        snprintf(p->stream, sizeof p->stream, "%s", e.stream);
        chk_digest(e.type, e.type_len, e.data, e.data_len, e.metadata, e.metadata_len, p->digest);
    }
    stele_reader_close(rd);
    assert_int_equal(n, r->head);
    assert_int_equal(stele_store_close(s), 0);

    size_t count = 0;
    char path[4400];
    assert_int_equal(chk_segment_path(r->dir, 0, path, sizeof path, &count), 0);
    assert_true(count >= 3 && count <= MAXSEG);
    r->nsegs = count;
    for (size_t i = 0; i < count; i++) {
        refseg_t *g = &r->segs[i];
        assert_int_equal(chk_segment_path(r->dir, (int)i, path, sizeof path, NULL), 0);
        snprintf(g->rel, sizeof g->rel, "log/%s", strrchr(path, '/') + 1);
        assert_int_equal(chk_read_file(path, &g->bytes, &g->len), 0);
        g->recs = calloc(4096, sizeof *g->recs);
        uint64_t off = STELE_SEGMENT_HEADER_BYTES;
        while (off < g->len && g->nrecs < 4096) {
            stele_record_t rec;
            size_t need = 0;
            int rc = stele__record_decode(g->bytes + off, g->len - off, &rec, &need);
            if (rc == STELE_RECORD_ZERO)
                break;
            assert_int_equal(rc, 0);
            g->recs[g->nrecs++] = (segrec_t){off, off + rec.padded_length, rec.position};
            off += rec.padded_length;
        }
        g->end = off;
    }
    /* the last segment's last commit */
    refseg_t *last = &r->segs[count - 1];
    assert_true(last->nrecs > 20);
    size_t k = last->nrecs - 1;
    while (k > 0) {
        const uint8_t *p = last->bytes + last->recs[k - 1].start;
        if (stele__get_u16(p + 12) & STELE_RECORD_COMMIT)
            break;
        k--;
    }
    last->last_commit_start = last->recs[k].start;
}

static void put_back(const ref_t *r, size_t seg, uint64_t off, size_t len) {
    char path[4400];
    snprintf(path, sizeof path, "%s/%s", r->work, r->segs[seg].rel);
    int fd = open(path, O_WRONLY);
    assert_true(fd >= 0);
    assert_int_equal(pwrite(fd, r->segs[seg].bytes + off, len, (off_t)off), (ssize_t)len);
    close(fd);
}

static void damage(const ref_t *r, size_t seg, uint64_t off, const uint8_t *bytes, size_t len) {
    char path[4400];
    snprintf(path, sizeof path, "%s/%s", r->work, r->segs[seg].rel);
    int fd = open(path, O_WRONLY);
    assert_true(fd >= 0);
    assert_int_equal(pwrite(fd, bytes, len, (off_t)off), (ssize_t)len);
    close(fd);
}

/* Position of the first record touched by [off, off + len) in segment seg, or 0 (the header). */
static uint64_t damaged_position(const ref_t *r, size_t seg, uint64_t off, size_t len) {
    const refseg_t *g = &r->segs[seg];
    for (size_t i = 0; i < g->nrecs; i++)
        if (g->recs[i].end > off && g->recs[i].start < off + len)
            return g->recs[i].position;
    return 0;
}

typedef struct tally {
    uint64_t trials, open_refused, verify_caught, scans, targeted, verify_opened;
} tally_t;

/* A store that open refuses is opened by verify all the same (STELE_OPEN_VERIFY, issue 9): the
 * log ends before the damage, every event of it is the reference's, and verify reports the
 * damage at or before the damaged record. Only a first segment whose header is damaged cannot
 * be opened at all. */
static void check_verify_open(const ref_t *r, size_t seg, uint64_t off, size_t len,
                              const char *what, tally_t *t) {
    stele_options_t o;
    stele_options_init(&o);
    o.segment_size_bytes = (uint64_t)1 << 20;
    o.vfs = chk_nosync_vfs();
    o.flags = STELE_OPEN_VERIFY;
    stele_store_t *s = NULL;
    int rc = stele_store_open(r->work, &o, &s);
    if (rc < 0) {
        if (rc == STELE_ECORRUPT && seg == 0 && off < STELE_SEGMENT_HEADER_BYTES)
            return;
        fail_msg("%s: the verify open failed: %s (%s)", what, stele_strerror(rc),
                 stele_errdetail());
    }
    uint64_t head = 0;
    uint8_t hash[32];
    assert_int_equal(stele_head_digest(s, &head, hash), 0);
    stele_verify_report_t rep = {.struct_size = sizeof rep};
    rc = stele_verify(s, NULL, NULL, &rep);
    uint64_t pos = damaged_position(r, seg, off, len);
    if (rc != STELE_ECORRUPT || head >= r->head || (pos && rep.bad_position > pos))
        fail_msg("%s: verify open: head %" PRIu64 ", verify %s at %" PRIu64
                 " (damaged record %" PRIu64 "): %s",
                 what, head, stele_strerror(rc), rep.bad_position, pos, rep.message);
    stele_read_options_t ro;
    stele_read_options_init(&ro);
    ro.filter.include_system = true;
    stele_reader_t *rd = NULL;
    assert_int_equal(stele_read_all(s, &ro, &rd), 0);
    stele_event_t e;
    uint64_t n = 0;
    while ((rc = stele_reader_next(rd, &e)) == 1) {
        if (e.position != n + 1 || memcmp(e.id.bytes, r->ev[n].id.bytes, 16) != 0)
            fail_msg("%s: verify open: $all differs at position %" PRIu64, what, e.position);
        n++;
    }
    stele_reader_close(rd);
    if (rc != 0 || n != head)
        fail_msg("%s: verify open: $all gave %" PRIu64 " events (rc %d), head %" PRIu64, what, n,
                 rc, head);
    stele_store_close(s);
    t->verify_opened++;
}

static void check_trial(const ref_t *r, size_t seg, uint64_t off, size_t len, bool writable,
                        const char *what, tally_t *t) {
    stele_options_t o;
    stele_options_init(&o);
    o.segment_size_bytes = (uint64_t)1 << 20;
    o.vfs = chk_nosync_vfs();
    o.flags = writable ? 0 : STELE_OPEN_READONLY;
    stele_store_t *s = NULL;
    int rc = stele_store_open(r->work, &o, &s);
    t->trials++;
    if (rc < 0) {
        if (rc != STELE_ECORRUPT)
            fail_msg("%s: open failed with %s, not STELE_ECORRUPT (%s)", what, stele_strerror(rc),
                     stele_errdetail());
        t->open_refused++;
        check_verify_open(r, seg, off, len, what, t);
        return;
    }
    uint64_t head = 0;
    uint8_t hash[32];
    assert_int_equal(stele_head_digest(s, &head, hash), 0);
    if (head != r->head || memcmp(hash, r->hash, 32) != 0)
        fail_msg("%s: open moved the head from %" PRIu64 " to %" PRIu64, what, r->head, head);
    stele_verify_report_t rep = {.struct_size = sizeof rep};
    rc = stele_verify(s, NULL, NULL, &rep);
    if (rc != STELE_ECORRUPT)
        fail_msg("%s: verify returned %s: the damage went undetected", what, stele_strerror(rc));
    t->verify_caught++;
    /* a forward scan: reference events, then an error */
    stele_read_options_t ro;
    stele_read_options_init(&ro);
    ro.filter.include_system = true;
    stele_reader_t *rd = NULL;
    assert_int_equal(stele_read_all(s, &ro, &rd), 0);
    stele_event_t e;
    uint64_t n = 0;
    while ((rc = stele_reader_next(rd, &e)) == 1) {
        const refev_t *p = &r->ev[e.position - 1];
        uint8_t d[32];
        chk_digest(e.type, e.type_len, e.data, e.data_len, e.metadata, e.metadata_len, d);
        if (e.position != n + 1 || memcmp(e.id.bytes, p->id.bytes, 16) != 0 ||
            e.version != p->version || strcmp(e.stream, p->stream) != 0 ||
            memcmp(d, p->digest, 32) != 0)
            fail_msg("%s: $all returned wrong bytes at position %" PRIu64, what, e.position);
        n++;
    }
    stele_reader_close(rd);
    if (rc == 0)
        fail_msg("%s: a full $all scan met no error (%" PRIu64 " events)", what, n);
    t->scans++;
    uint64_t pos = damaged_position(r, seg, off, len);
    if (pos) {
        ro.from_position = pos;
        ro.limit = 1;
        assert_int_equal(stele_read_all(s, &ro, &rd), 0);
        rc = stele_reader_next(rd, &e);
        stele_reader_close(rd);
        if (rc >= 0)
            fail_msg("%s: reading position %" PRIu64 " gave %s", what, pos,
                     rc == 1 ? "an event" : "nothing, without an error");
        const refev_t *p = &r->ev[pos - 1];
        rc = stele_read_stream(s, p->stream, p->version, STELE_FORWARD, 1, &rd);
        if (rc == 0) {
            rc = stele_reader_next(rd, &e);
            stele_reader_close(rd);
        }
        if (rc >= 0)
            fail_msg("%s: reading %s@%" PRId64 " (position %" PRIu64 ") gave %s", what, p->stream,
                     p->version, pos, rc == 1 ? "an event" : "no error");
        t->targeted++;
    }
    stele_store_close(s);
}

static void test_bitflips(void **state) {
    (void)state;
    uint64_t seed = chk_seed("bitflip");
    chk_rng_t rng = {seed};
    char root[4096];
    chk_tmpdir(root, sizeof root, "bitflip");
    ref_t *r = calloc(1, sizeof *r);
    snprintf(r->dir, sizeof r->dir, "%s/ref", root);
    snprintf(r->work, sizeof r->work, "%s/work", root);
    build(r, &rng);
    assert_int_equal(chk_copytree(r->dir, r->work), 0);
    uint64_t flips = chk_env_u64("STELE_BITFLIP_TRIALS", 1000);
    if (flips < 1000)
        flips = 1000;
    tally_t t = {0};
    uint64_t sidx_removed = 0, writable = 0;
    for (uint64_t i = 0; i < flips + 64; i++) {
        size_t seg = (size_t)chk_below(&rng, r->nsegs - 1); /* sealed ones */
        const refseg_t *g = &r->segs[seg];
        uint64_t off;
        size_t len;
        uint8_t buf[4096];
        char what[160];
        if (i < flips) {
            off = chk_below(&rng, g->end);
            unsigned bit = (unsigned)chk_below(&rng, 8);
            buf[0] = (uint8_t)(g->bytes[off] ^ (1u << bit));
            len = 1;
            snprintf(what, sizeof what, "flip of bit %u at %s+%" PRIu64 " (seed %" PRIu64 ")", bit,
                     g->rel, off, seed);
        } else {
            bool zeros = i % 2 == 0;
            off = chk_below(&rng, g->end / 4096 + 1) * 4096;
            len = 4096;
            for (size_t k = 0; k < len; k++)
                buf[k] = zeros ? 0 : (uint8_t)chk_rnd(&rng);
            if (off + len > g->len)
                off = g->len - len;
            if (memcmp(buf, g->bytes + off, len) == 0)
                continue;
            snprintf(what, sizeof what, "4 KiB of %s at %s+%" PRIu64 " (seed %" PRIu64 ")",
                     zeros ? "zeros" : "junk", g->rel, off, seed);
        }
        damage(r, seg, off, buf, len);
        bool drop_sidx = chk_below(&rng, 10) == 0, rw = chk_below(&rng, 20) == 0;
        char sidx[4400], sidx_ref[4400];
        snprintf(sidx, sizeof sidx, "%s/%.*s.sidx", r->work, (int)(strlen(g->rel) - 4), g->rel);
        snprintf(sidx_ref, sizeof sidx_ref, "%s/%.*s.sidx", r->dir, (int)(strlen(g->rel) - 4),
                 g->rel);
        if (drop_sidx) {
            unlink(sidx);
            sidx_removed++;
        }
        check_trial(r, seg, off, len, rw, what, &t);
        if (rw) {
            writable++;
            chk_rmtree(r->work);
            assert_int_equal(chk_copytree(r->dir, r->work), 0);
        } else {
            put_back(r, seg, off, len);
            if (drop_sidx) {
                unlink(sidx);
                assert_int_equal(chk_copytree(sidx_ref, sidx), 0);
            }
        }
    }
    printf("bitflip: %" PRIu64 " bit flips + 64 4 KiB overwrites in %zu sealed segments: %" PRIu64
           " trials, %" PRIu64 " refused at open, %" PRIu64 " caught by verify (100%%), %" PRIu64
           " scans ended in an error, %" PRIu64 " targeted reads failed cleanly; %" PRIu64
           " without the sparse index, %" PRIu64 " opened writable; %" PRIu64
           " refused stores opened for verify\n",
           flips, r->nsegs - 1, t.trials, t.open_refused, t.verify_caught, t.scans, t.targeted,
           sidx_removed, writable, t.verify_opened);

    /* regression (seed 152696233747952): a sealed segment whose first 4 KiB, header included,
     * are zeros was refused as "not a store" instead of as corruption */
    for (size_t seg = 0; seg + 1 < r->nsegs; seg++) {
        uint8_t zeros[4096] = {0};
        char what[160];
        snprintf(what, sizeof what, "zeroed header of %s", r->segs[seg].rel);
        damage(r, seg, 0, zeros, sizeof zeros);
        check_trial(r, seg, 0, sizeof zeros, false, what, &t);
        put_back(r, seg, 0, sizeof zeros);
    }

    /* corruption in the middle of the active segment: never cut */
    refseg_t *last = &r->segs[r->nsegs - 1];
    uint64_t refused = 0;
    for (int i = 0; i < 100; i++) {
        uint64_t off = STELE_SEGMENT_HEADER_BYTES +
                       chk_below(&rng, last->last_commit_start - STELE_SEGMENT_HEADER_BYTES);
        unsigned bit = (unsigned)chk_below(&rng, 8);
        uint8_t b = (uint8_t)(last->bytes[off] ^ (1u << bit));
        damage(r, r->nsegs - 1, off, &b, 1);
        stele_options_t o;
        stele_options_init(&o);
        o.segment_size_bytes = (uint64_t)1 << 20;
        o.vfs = chk_nosync_vfs();
        stele_store_t *s = NULL;
        int rc = stele_store_open(r->work, &o, &s);
        if (rc != STELE_ECORRUPT)
            fail_msg("flip of bit %u at %s+%" PRIu64 " (before the last commit): open returned "
                     "%s, not STELE_ECORRUPT (seed %" PRIu64 ")",
                     bit, last->rel, off, stele_strerror(rc), seed);
        char path[4400];
        uint8_t *now = NULL;
        size_t now_len = 0;
        snprintf(path, sizeof path, "%s/%s", r->work, last->rel);
        assert_int_equal(chk_read_file(path, &now, &now_len), 0);
        now[off] = last->bytes[off];
        if (now_len != last->len || memcmp(now, last->bytes, now_len) != 0)
            fail_msg("flip at %s+%" PRIu64 ": the refused open changed the segment", last->rel,
                     off);
        free(now);
        put_back(r, r->nsegs - 1, off, 1);
        refused++;
    }
    printf("bitflip: %" PRIu64 " flips in the middle of the active segment, all refused at open "
           "with nothing cut\n",
           refused);
    for (size_t i = 0; i < r->nsegs; i++) {
        free(r->segs[i].bytes);
        free(r->segs[i].recs);
    }
    free(r->ev);
    free(r);
    chk_rmtree(root);
}

int main(void) {
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_bitflips)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
