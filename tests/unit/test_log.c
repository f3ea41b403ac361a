/*
 * test_log.c -- the log on its own: commits written through stele__log_write_commit come back
 * through cursors byte for byte, across segment rolls (1 MiB segments), from any seek position,
 * after reopening (with and without the sparse index files), and a commit larger than a segment.
 * Segments grow: a new log starts at a quarter of the maximum (at most 2 MiB) and doubles; a
 * segment whose header gives a larger nominal size (as every segment of a store made before
 * segments grew does) is filled to it.
 *
 * Random sizes come from a seed that is printed; STELE_TEST_SEED=<n> replays it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "log/cursor.h"
#include "log/log.h"
#include "log/record.h"
#include "util/bytes.h"
#include "os/vfs.h"
#include "test_util.h"

#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

/* What the test wrote: per position, the data size and a byte pattern seed. */
typedef struct model {
    uint64_t head;
    uint32_t *size; /* by position */
    int64_t *time;  /* by position */
    size_t cap;
    uint8_t hash[32];
    int64_t now;
} model_t;

static void fill_data(uint8_t *p, size_t n, uint64_t pos) {
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)(pos * 131u + i * 7u);
}

/* Write one commit of n records with the given data sizes. */
static void write_commit(stele_log_t *log, model_t *m, size_t n, const uint32_t *sizes) {
    size_t total = 0;
    char stream[32];
    for (size_t i = 0; i < n; i++)
        total += stele__record_size(8, 4, 0, sizes[i], i + 1 == n);
    uint8_t *buf = calloc(1, total);
    assert_non_null(buf);
    m->now += 1000;
    size_t off = 0;
    for (size_t i = 0; i < n; i++) {
        uint64_t pos = m->head + 1 + i;
        if (pos >= m->cap) {
            m->cap = m->cap ? m->cap * 2 : 1024;
            while (m->cap <= pos)
                m->cap *= 2;
            m->size = realloc(m->size, m->cap * sizeof(*m->size));
            m->time = realloc(m->time, m->cap * sizeof(*m->time));
            assert_non_null(m->size);
            assert_non_null(m->time);
        }
        uint8_t *data = malloc(sizes[i] ? sizes[i] : 1);
        assert_non_null(data);
        fill_data(data, sizes[i], pos);
        snprintf(stream, sizeof stream, "s-%06u", (unsigned)(pos % 1000));
        stele_record_t r;
        memset(&r, 0, sizeof r);
        r.flags = STELE_RECORD_BINARY | (i + 1 == n ? STELE_RECORD_COMMIT : 0);
        r.position = pos;
        r.version = pos;
        r.time_ns = m->now;
        r.id.bytes[0] = (uint8_t)pos;
        r.commit_events = i + 1 == n ? (uint32_t)n : 0;
        r.stream = stream;
        r.stream_len = 8;
        r.type = "Test";
        r.type_len = 4;
        r.data = data;
        r.data_len = sizes[i];
        off += stele__record_encode(buf + off, &r);
        free(data);
        m->size[pos] = sizes[i];
        m->time[pos] = m->now;
    }
    assert_int_equal(off, total);
    uint8_t hash[32];
    stele__record_commit(buf, total, m->hash, hash);
    int rc = stele__log_write_commit(log, buf, total, m->head + n, hash, m->now);
    assert_int_equal(rc, 0);
    memcpy(m->hash, hash, 32);
    m->head += n;
    free(buf);
}

static void check_record(const model_t *m, const stele_record_t *rec, uint64_t pos) {
    assert_int_equal(rec->position, pos);
    assert_int_equal(rec->version, pos);
    assert_true(rec->time_ns == m->time[pos]);
    assert_int_equal(rec->data_len, m->size[pos]);
    uint8_t *want = malloc(m->size[pos] ? m->size[pos] : 1);
    assert_non_null(want);
    fill_data(want, m->size[pos], pos);
    assert_memory_equal(rec->data, want, m->size[pos] ? m->size[pos] : 0);
    free(want);
}

/* Read the whole log from position `from` and compare it with the model. */
static void check_from(stele_log_t *log, const model_t *m, uint64_t from) {
    stele_log_cursor_t c;
    assert_int_equal(stele__cursor_init(&c, log, 4096), 0);
    if (from <= m->head)
        assert_int_equal(stele__cursor_seek(&c, from), 0);
    for (uint64_t pos = from; pos <= m->head; pos++) {
        stele_record_t rec;
        int rc = stele__cursor_next(&c, &rec, NULL);
        if (rc != 1)
            fprintf(stderr, "position %" PRIu64 ": %d %s\n", pos, rc, stele_errdetail());
        assert_int_equal(rc, 1);
        check_record(m, &rec, pos);
    }
    stele_record_t rec;
    if (from <= m->head)
        assert_int_equal(stele__cursor_next(&c, &rec, NULL), 0);
    stele__cursor_free(&c);
}

static void model_free(model_t *m) {
    free(m->size);
    free(m->time);
}

static stele_log_t *open_log_max(const char *dir, bool create, uint64_t max) {
    stele_log_t *log = NULL;
    int rc = stele__log_open(stele__vfs_posix(), dir, max, create, false, &log);
    if (rc != 0)
        fprintf(stderr, "log open: %s\n", stele_errdetail());
    assert_int_equal(rc, 0);
    return log;
}

static stele_log_t *open_log(const char *dir, bool create) {
    return open_log_max(dir, create, TU_SEGMENT_BYTES);
}

static void test_empty_log(void **state) {
    (void)state;
    char dir[PATH_MAX], logdir[PATH_MAX];
    tu_tmpdir(dir, sizeof dir, "log-empty");
    tu_join(logdir, sizeof logdir, dir, "log");
    stele_log_t *log = NULL;
    /* Without create there is nothing to open. */
    assert_true(stele__log_open(stele__vfs_posix(), logdir, TU_SEGMENT_BYTES, false, false, &log) <
                0);
    log = open_log(logdir, true);
    assert_int_equal(log->head_position, 0);
    uint8_t zero[32] = {0};
    assert_memory_equal(log->head_hash, zero, 32);
    assert_int_equal(stele__log_segment_count(log), 1);
    stele_log_cursor_t c;
    assert_int_equal(stele__cursor_init(&c, log, 0), 0);
    assert_int_equal(stele__cursor_seek(&c, 1), 0);
    stele_record_t rec;
    assert_int_equal(stele__cursor_next(&c, &rec, NULL), 0);
    stele__cursor_free(&c);
    stele__log_close(log);
    log = open_log(logdir, false);
    assert_int_equal(log->head_position, 0);
    stele__log_close(log);
    tu_rmtree(dir);
}

static void test_roll_read_reopen(void **state) {
    (void)state;
    uint64_t seed = tu_seed("test_roll_read_reopen");
    tu_rng_t rng;
    tu_rng_init(&rng, seed);
    char dir[PATH_MAX], logdir[PATH_MAX];
    tu_tmpdir(dir, sizeof dir, "log-roll");
    tu_join(logdir, sizeof logdir, dir, "log");
    stele_log_t *log = open_log(logdir, true);
    model_t m;
    memset(&m, 0, sizeof m);
    m.now = 1700000000000000000;
    /* About 4.5 MiB of records: several 1 MiB segments. */
    uint64_t bytes = 0;
    while (bytes < (uint64_t)9 << 19) {
        uint32_t sizes[8];
        size_t n = 1 + tu_rnd_below(&rng, 8);
        for (size_t i = 0; i < n; i++) {
            sizes[i] = (uint32_t)(tu_rnd_below(&rng, 4) == 0 ? tu_rnd_below(&rng, 60000)
                                                             : tu_rnd_below(&rng, 300));
            bytes += sizes[i] + 100;
        }
        write_commit(log, &m, n, sizes);
    }
    assert_int_equal(log->head_position, m.head);
    assert_memory_equal(log->head_hash, m.hash, 32);
    size_t nsegs = stele__log_segment_count(log);
    assert_true(nsegs >= 4);
    /* Every segment but the last is sealed, and positions continue across them. */
    for (size_t i = 0; i + 1 < nsegs; i++) {
        assert_true(log->segs[i]->sealed);
        assert_int_equal(log->segs[i]->last_position + 1, log->segs[i + 1]->first_position);
        assert_true(log->segs[i]->end_offset <= TU_SEGMENT_BYTES);
    }
    check_from(log, &m, 1);
    for (int k = 0; k < 40; k++)
        check_from(log, &m, 1 + tu_rnd_below(&rng, m.head));
    /* Segment first positions and the last position of each are reachable by a seek. */
    for (size_t i = 0; i < nsegs; i++) {
        check_from(log, &m, log->segs[i]->first_position);
        if (i + 1 < nsegs)
            check_from(log, &m, log->segs[i]->last_position);
    }
    /* Times by position, as the binary search on time uses them. */
    stele_log_cursor_t c;
    assert_int_equal(stele__cursor_init(&c, log, 4096), 0);
    for (int k = 0; k < 50; k++) {
        uint64_t pos = 1 + tu_rnd_below(&rng, m.head);
        int64_t t = 0;
        assert_int_equal(stele__log_time_at(&c, pos, &t), 0);
        assert_true(t == m.time[pos]);
    }
    stele__cursor_free(&c);
    stele__log_close(log);

    /* Reopen: same head, same records. */
    log = open_log(logdir, false);
    assert_int_equal(log->head_position, m.head);
    assert_memory_equal(log->head_hash, m.hash, 32);
    assert_true(log->head_time_ns == m.now);
    assert_int_equal(stele__log_segment_count(log), nsegs);
    check_from(log, &m, 1);
    stele__log_close(log);

    /* Without the sparse index files (a cache): rebuilt by a scan, same records. */
    size_t nsidx = 0;
    char **sidx = tu_list(logdir, ".sidx", &nsidx);
    assert_int_equal(nsidx, nsegs - 1);
    for (size_t i = 0; i < nsidx; i++) {
        char p[PATH_MAX];
        tu_join(p, sizeof p, logdir, sidx[i]);
        assert_int_equal(unlink(p), 0);
    }
    tu_names_free(sidx, nsidx);
    log = open_log(logdir, false);
    assert_int_equal(log->head_position, m.head);
    for (int k = 0; k < 10; k++)
        check_from(log, &m, 1 + tu_rnd_below(&rng, m.head));
    /* Appending after a reopen continues the chain and the positions. */
    uint32_t sizes[3] = {10, 20000, 5};
    write_commit(log, &m, 3, sizes);
    check_from(log, &m, m.head - 5);
    stele__log_close(log);
    log = open_log(logdir, false);
    assert_int_equal(log->head_position, m.head);
    assert_memory_equal(log->head_hash, m.hash, 32);
    check_from(log, &m, 1);
    stele__log_close(log);
    model_free(&m);
    tu_rmtree(dir);
}

/* A commit larger than a segment goes into a segment of its own, which grows past the nominal
 * size; the log goes on after it. */
static void test_commit_larger_than_segment(void **state) {
    (void)state;
    char dir[PATH_MAX], logdir[PATH_MAX];
    tu_tmpdir(dir, sizeof dir, "log-big");
    tu_join(logdir, sizeof logdir, dir, "log");
    stele_log_t *log = open_log(logdir, true);
    model_t m;
    memset(&m, 0, sizeof m);
    m.now = 1700000000000000000;
    uint32_t small[2] = {100, 200};
    write_commit(log, &m, 2, small);
    uint32_t big[2] = {(uint32_t)(TU_SEGMENT_BYTES * 3 / 4), (uint32_t)(TU_SEGMENT_BYTES / 2)};
    write_commit(log, &m, 2, big);
    write_commit(log, &m, 2, small);
    write_commit(log, &m, 1, big);
    write_commit(log, &m, 2, small);
    check_from(log, &m, 1);
    check_from(log, &m, 3);
    check_from(log, &m, 4);
    check_from(log, &m, 5);
    stele__log_close(log);
    log = open_log(logdir, false);
    assert_int_equal(log->head_position, m.head);
    assert_memory_equal(log->head_hash, m.hash, 32);
    check_from(log, &m, 1);
    check_from(log, &m, 6);
    stele__log_close(log);
    model_free(&m);
    tu_rmtree(dir);
}

static uint64_t file_size(const char *path) {
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    return (uint64_t)st.st_size;
}

/* Commits of about 20 KiB until the log has want segments. */
static void write_until_segments(stele_log_t *log, model_t *m, size_t want) {
    uint32_t sizes[2] = {20000, 300};
    while (stele__log_segment_count(log) < want)
        write_commit(log, m, 2, sizes);
}

static const uint64_t KiB = 1024;

/* A new log's segments are 256 KiB, 512 KiB, then 1 MiB (the maximum here), each filled to its
 * own size before the next; the sizes are in the headers (a reopen sees them), and a reopen with a
 * larger maximum goes on doubling. */
static void test_segments_grow(void **state) {
    (void)state;
    char dir[PATH_MAX], logdir[PATH_MAX];
    tu_tmpdir(dir, sizeof dir, "log-grow");
    tu_join(logdir, sizeof logdir, dir, "log");
    stele_log_t *log = open_log(logdir, true);
    assert_int_equal(log->segs[0]->nominal_bytes, 256 * KiB);
    assert_int_equal(file_size(log->segs[0]->path), 256 * KiB); /* zero-filled to that size */
    model_t m;
    memset(&m, 0, sizeof m);
    m.now = 1700000000000000000;
    write_until_segments(log, &m, 5);
    const uint64_t want[5] = {256 * KiB, 512 * KiB, 1024 * KiB, 1024 * KiB, 1024 * KiB};
    for (size_t i = 0; i < 5; i++) {
        stele_segment_t *seg = log->segs[i];
        assert_int_equal(seg->nominal_bytes, want[i]);
        assert_int_equal(file_size(seg->path), want[i]);
        if (i < 4) { /* sealed: filled to within one commit of its size */
            assert_true(seg->end_offset <= want[i]);
            assert_true(seg->end_offset + 2 * 20600 > want[i]);
        }
    }
    check_from(log, &m, 1);
    stele__log_close(log);

    log = open_log(logdir, false);
    assert_int_equal(stele__log_segment_count(log), 5);
    for (size_t i = 0; i < 5; i++)
        assert_int_equal(log->segs[i]->nominal_bytes, want[i]);
    check_from(log, &m, 1);
    stele__log_close(log);

    /* A larger maximum: the next segments double on from 1 MiB. */
    log = open_log_max(logdir, false, 2048 * KiB);
    write_until_segments(log, &m, 7);
    assert_true(log->segs[4]->end_offset + 2 * 20600 > 1024 * KiB);
    assert_int_equal(log->segs[5]->nominal_bytes, 2048 * KiB);
    assert_int_equal(log->segs[6]->nominal_bytes, 2048 * KiB);
    assert_true(log->segs[5]->end_offset + 2 * 20600 > 2048 * KiB);
    check_from(log, &m, 1);
    stele__log_close(log);

    /* A smaller maximum: the active segment rolls at it, and the next ones stay at it. */
    log = open_log_max(logdir, false, 1024 * KiB);
    write_until_segments(log, &m, 9);
    assert_true(log->segs[6]->end_offset <= 1024 * KiB);
    assert_int_equal(log->segs[7]->nominal_bytes, 1024 * KiB);
    check_from(log, &m, 1);
    stele__log_close(log);
    model_free(&m);
    tu_rmtree(dir);
}

/* A store made before segments grew has segments of the maximum nominal size in their headers:
 * the active one is filled to that size before a roll, and the next one is as large. */
static void test_old_full_size_segment(void **state) {
    (void)state;
    char dir[PATH_MAX], logdir[PATH_MAX], seg_path[PATH_MAX];
    tu_tmpdir(dir, sizeof dir, "log-old");
    tu_join(logdir, sizeof logdir, dir, "log");
    stele_log_t *log = open_log(logdir, true);
    snprintf(seg_path, sizeof seg_path, "%s", log->segs[0]->path);
    stele__log_close(log);
    /* Rewrite the header as an older build wrote it: nominal size = the maximum, file that size. */
    int fd = open(seg_path, O_RDWR);
    assert_true(fd >= 0);
    uint8_t hdr[STELE_SEGMENT_HEADER_BYTES], prev[32];
    assert_int_equal(pread(fd, hdr, sizeof hdr, 0), (ssize_t)sizeof hdr);
    uint64_t first = 0, nominal = 0;
    int64_t prev_time = 0;
    uint32_t flags = 0;
    assert_int_equal(stele__segment_header_decode(hdr, &first, &nominal, prev, &prev_time, &flags),
                     0);
    assert_int_equal(nominal, 256 * KiB);
    /* An older build set no flags: nothing claims the file was made at its full size. */
    stele__segment_header_encode(hdr, first, TU_SEGMENT_BYTES, 1, prev, prev_time, 0);
    assert_int_equal(pwrite(fd, hdr, sizeof hdr, 0), (ssize_t)sizeof hdr);
    assert_int_equal(ftruncate(fd, (off_t)TU_SEGMENT_BYTES), 0);
    close(fd);

    log = open_log(logdir, false);
    assert_int_equal(log->segs[0]->nominal_bytes, TU_SEGMENT_BYTES);
    model_t m;
    memset(&m, 0, sizeof m);
    m.now = 1700000000000000000;
    write_until_segments(log, &m, 2);
    assert_true(log->segs[0]->end_offset + 2 * 20600 > TU_SEGMENT_BYTES);
    assert_int_equal(log->segs[1]->nominal_bytes, TU_SEGMENT_BYTES);
    check_from(log, &m, 1);
    stele__log_close(log);
    log = open_log(logdir, false);
    assert_int_equal(log->head_position, m.head);
    check_from(log, &m, 1);
    stele__log_close(log);
    model_free(&m);
    tu_rmtree(dir);
}

/* Regression (found under ThreadSanitizer): a cursor's buffer filled while the writer was in the
 * middle of a commit holds part of it; once the commit is written and visible, the cursor must
 * read it again rather than call the stale bytes corrupt. */
static void test_stale_buffer_with_a_partial_commit(void **state) {
    (void)state;
    char dir[PATH_MAX];
    tu_tmpdir(dir, sizeof dir, "log-stale");
    stele_log_t *log = open_log(dir, true);
    model_t m = {0};
    uint32_t sizes[3] = {100, 100, 100};
    write_commit(log, &m, 3, sizes);

    /* The first bytes of the next commit, as a concurrent reader could see them mid-write. */
    stele_segment_t *seg = log->segs[log->nsegs - 1];
    uint8_t partial[96] = {0};
    stele__put_u32(partial, STELE_RECORD_MAGIC);
    stele__put_u32(partial + 4, 300);
    stele__put_u64(partial + 16, m.head + 1);
    assert_int_equal(stele__file_pwrite(seg->file, partial, sizeof partial, seg->end_offset), 0);

    stele_log_cursor_t c;
    assert_int_equal(stele__cursor_init(&c, log, 65536), 0);
    assert_int_equal(stele__cursor_seek(&c, 1), 0);
    for (uint64_t pos = 1; pos <= 3; pos++) {
        stele_record_t rec;
        assert_int_equal(stele__cursor_next(&c, &rec, NULL), 1);
        check_record(&m, &rec, pos);
    }
    write_commit(log, &m, 3, sizes); /* the commit completes and becomes readable */
    for (uint64_t pos = 4; pos <= 6; pos++) {
        stele_record_t rec;
        int rc = stele__cursor_next(&c, &rec, NULL);
        if (rc != 1)
            fprintf(stderr, "position %" PRIu64 ": %s\n", pos, stele_errdetail());
        assert_int_equal(rc, 1);
        check_record(&m, &rec, pos);
    }
    stele__cursor_free(&c);
    stele__log_close(log);
    model_free(&m);
    tu_rmtree(dir);
}

/* A log that lost more than a torn last commit can explain is refused, never cut (issue 9): a
 * sealed segment shorter than its sparse index says, a segment missing between two others, the
 * last segment missing (the one before has a sparse index: it was sealed), a durable floor above
 * the end, a segment made at full size and truncated. Each refusal changes nothing on disk, and a
 * tolerant (verify) open ends the log before the loss and records where it starts. */
static int open_ex(const char *logdir, bool tolerant, uint64_t floor, stele_log_t **log) {
    stele_log_open_opts_t o = {.segment_size = TU_SEGMENT_BYTES,
                               .readonly = tolerant,
                               .tolerant = tolerant,
                               .durable_floor = floor,
                               .floor_source = "the test's floor"};
    return stele__log_open_ex(stele__vfs_posix(), logdir, &o, log);
}

static void *slurp(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    assert_int_equal(fseek(f, 0, SEEK_END), 0);
    long n = ftell(f);
    assert_true(n >= 0);
    rewind(f);
    void *buf = malloc((size_t)n + 1);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *len = (size_t)n;
    return buf;
}

static void spill(const char *path, const void *buf, size_t len) {
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(buf, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
}

static void expect_refused(const char *logdir, uint64_t floor, const char *needle,
                           uint64_t max_head, const char *what) {
    stele_log_t *log = NULL;
    int rc = open_ex(logdir, false, floor, &log);
    if (rc != STELE_ECORRUPT || !strstr(stele_errdetail(), needle))
        fail_msg("%s: open gave %d (%s), not a refusal naming \"%s\"", what, rc,
                 rc ? stele_errdetail() : "opened", needle);
    assert_int_equal(open_ex(logdir, true, floor, &log), 0);
    if (!log->damage || log->head_position > max_head ||
        log->damage_position != log->head_position + 1 || !strstr(log->damage_msg, needle))
        fail_msg("%s: tolerant open: head %" PRIu64 ", damage %d at %" PRIu64 " (%s)", what,
                 log->head_position, log->damage, log->damage_position, log->damage_msg);
    stele__log_close(log);
}

static void test_lost_is_not_torn(void **state) {
    (void)state;
    char dir[PATH_MAX], logdir[PATH_MAX];
    tu_tmpdir(dir, sizeof dir, "log-lost");
    tu_join(logdir, sizeof logdir, dir, "log");
    stele_log_t *log = open_log(logdir, true);
    model_t m;
    memset(&m, 0, sizeof m);
    m.now = 1700000000000000000;
    while (stele__log_segment_count(log) < 4) {
        uint32_t sizes[2] = {30000, 100};
        write_commit(log, &m, 2, sizes);
    }
    uint32_t small[1] = {10};
    write_commit(log, &m, 1, small);
    uint64_t first[4], last[4];
    char seg[4][PATH_MAX];
    for (size_t i = 0; i < 4; i++) {
        first[i] = log->segs[i]->first_position;
        last[i] = log->segs[i]->last_position;
        snprintf(seg[i], sizeof seg[i], "%s", log->segs[i]->path);
    }
    uint64_t end1 = log->segs[1]->end_offset;
    stele__log_close(log);
    size_t len[4];
    void *bytes[4];
    for (size_t i = 0; i < 4; i++)
        bytes[i] = slurp(seg[i], &len[i]);

    /* a sealed segment cut short: its sparse index says where it ended */
    assert_int_equal(truncate(seg[1], (off_t)(end1 / 2)), 0);
    expect_refused(logdir, 0, ".sidx", last[1] - 1, "sealed segment truncated");
    size_t l2 = 0;
    void *after = slurp(seg[1], &l2);
    assert_int_equal(l2, end1 / 2);
    assert_memory_equal(after, bytes[1], l2); /* nothing zeroed */
    free(after);
    spill(seg[1], bytes[1], len[1]);

    /* a segment missing in the middle */
    assert_int_equal(unlink(seg[2]), 0);
    expect_refused(logdir, 0, "acknowledged events are missing", last[1], "middle segment gone");
    spill(seg[2], bytes[2], len[2]);

    /* the last segment missing: the one before was sealed */
    assert_int_equal(unlink(seg[3]), 0);
    expect_refused(logdir, 0, "was sealed", last[2], "last segment gone");
    spill(seg[3], bytes[3], len[3]);

    /* a derived file proves more than the log holds */
    expect_refused(logdir, m.head + 5, "5 acknowledged events are missing", m.head,
                   "durable floor above the end");

    /* the last segment, made at full size, truncated inside its first commit */
    assert_int_equal(truncate(seg[3], STELE_SEGMENT_HEADER_BYTES + 64), 0);
    expect_refused(logdir, 0, "was truncated", first[3] - 1, "last segment truncated");
    spill(seg[3], bytes[3], len[3]);

    /* all back: the log opens whole (so the refusals above came from the damage alone) */
    log = open_log(logdir, false);
    assert_int_equal(log->head_position, m.head);
    check_from(log, &m, 1);
    stele__log_close(log);
    for (size_t i = 0; i < 4; i++)
        free(bytes[i]);
    model_free(&m);
    tu_rmtree(dir);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_empty_log),
        cmocka_unit_test(test_roll_read_reopen),
        cmocka_unit_test(test_commit_larger_than_segment),
        cmocka_unit_test(test_segments_grow),
        cmocka_unit_test(test_old_full_size_segment),
        cmocka_unit_test(test_stale_buffer_with_a_partial_commit),
        cmocka_unit_test(test_lost_is_not_torn),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
