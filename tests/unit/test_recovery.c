/*
 * test_recovery.c -- what open does to the end of a log after a crash (src/log/recovery.c, rules
 * in docs/design/recovery.md), on stores left by a process that appended and died without
 * closing:
 *   - bytes after the last whole commit (a torn write) are zeroed and synced; the acknowledged
 *     events are all there; a second open changes nothing;
 *   - a last commit damaged in its last record is cut back to the commit before it, and the store
 *     takes new appends at that position;
 *   - damage in a commit that an intact commit follows is damage in acknowledged history: open
 *     fails with STELE_ECORRUPT naming the position, and cuts nothing (the file is unchanged);
 *   - a read-only open of a torn log reads the whole commits and changes nothing;
 *   - a log that ends before the events a clean close proved durable (the catalogue snapshot) is
 *     refused, not opened as shorter.
 * Not random: no seed.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "test_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* A child opens (creating) dir with synced appends, appends `commits` commits of 3 events of
 * stream "r" whose data is {"m":"mark-<commit>-<event>"}, and dies without closing. */
static void crash_after(const char *dir, int commits) {
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        stele_options_t o;
        tu_options(&o);
        o.durability = STELE_DURABILITY_SYNC;
        stele_store_t *s = NULL;
        if (stele_store_open(dir, &o, &s) != 0)
            _exit(2);
        for (int c = 0; c < commits; c++) {
            char data[3][32];
            stele_event_in_t ev[3];
            for (int e = 0; e < 3; e++) {
                snprintf(data[e], sizeof data[e], "{\"m\":\"mark-%d-%d\"}", c, e);
                ev[e] = tu_event("Marked", data[e]);
            }
            stele_append_result_t res;
            if (stele_append(s, "r", STELE_EXPECT_ANY, ev, 3, &res) != 0)
                _exit(3);
        }
        _exit(0); /* no close: what a crash leaves */
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
}

static void segment_path(const char *dir, char *out, size_t size) {
    char logdir[4200];
    snprintf(logdir, sizeof logdir, "%s/log", dir);
    size_t n = 0;
    char **names = tu_list(logdir, ".seg", &n);
    assert_int_equal(n, 1);
    snprintf(out, size, "%s/%s", logdir, names[0]);
    tu_names_free(names, n);
}

static void write_at(const char *path, size_t off, const void *p, size_t n) {
    FILE *f = fopen(path, "r+b");
    assert_non_null(f);
    assert_int_equal(fseek(f, (long)off, SEEK_SET), 0);
    assert_int_equal(fwrite(p, 1, n, f), n);
    assert_int_equal(fclose(f), 0);
}

/* The offset of text in the file (it must be there once). */
static size_t find_text(const uint8_t *buf, size_t len, const char *text) {
    size_t n = strlen(text);
    size_t at = SIZE_MAX;
    for (size_t i = 0; i + n <= len; i++)
        if (memcmp(buf + i, text, n) == 0) {
            assert_true(at == SIZE_MAX);
            at = i;
        }
    assert_true(at != SIZE_MAX);
    return at;
}

/* The byte after the last non-zero byte: the end of the written records. */
static size_t written_end(const uint8_t *buf, size_t len) {
    while (len > 0 && buf[len - 1] == 0)
        len--;
    return len;
}

static stele_store_t *open_flags(const char *dir, uint32_t flags, int *rc) {
    stele_options_t o;
    tu_options(&o);
    o.flags = flags;
    stele_store_t *s = NULL;
    *rc = stele_store_open(dir, &o, &s);
    return s;
}

/* The events of stream "r" are the marks of commits 0..commits-1, in order. */
static void expect_marks(stele_store_t *s, int commits) {
    tu_events_t got = {0};
    assert_int_equal(tu_read_stream(s, "r", 0, STELE_FORWARD, 1000, &got), 0);
    assert_int_equal(got.n, (size_t)commits * 3);
    for (int c = 0; c < commits; c++)
        for (int e = 0; e < 3; e++) {
            char want[32];
            snprintf(want, sizeof want, "{\"m\":\"mark-%d-%d\"}", c, e);
            const tu_event_t *ev = &got.v[c * 3 + e];
            assert_int_equal(ev->data_len, strlen(want));
            assert_memory_equal(ev->data, want, ev->data_len);
        }
    tu_events_free(&got);
}

static void test_torn_bytes_after_the_last_commit(void **state) {
    (void)state;
    char dir[256], seg[4300];
    tu_tmpdir(dir, sizeof dir, "recovery");
    crash_after(dir, 4);
    segment_path(dir, seg, sizeof seg);
    size_t len = 0;
    uint8_t *before = tu_read_file(seg, &len);
    size_t end = written_end(before, len);
    uint8_t junk[700];
    for (size_t i = 0; i < sizeof junk; i++)
        junk[i] = (uint8_t)(i * 37u + 1u);
    write_at(seg, (end + 7u) & ~(size_t)7u, junk, sizeof junk);

    /* read-only: the commits are read, the junk stays */
    int rc = 0;
    stele_store_t *s = open_flags(dir, STELE_OPEN_READONLY, &rc);
    assert_int_equal(rc, 0);
    expect_marks(s, 4);
    assert_int_equal(stele_store_close(s), 0);
    size_t l2 = 0;
    uint8_t *ro = tu_read_file(seg, &l2);
    assert_int_equal(written_end(ro, l2), ((end + 7u) & ~(size_t)7u) + sizeof junk);
    free(ro);

    /* a writing open zeroes the junk, keeps every commit */
    s = tu_open(dir);
    expect_marks(s, 4);
    assert_int_equal(tu_head(s), 12);
    assert_int_equal(stele_store_close(s), 0);
    uint8_t *after = tu_read_file(seg, &l2);
    assert_int_equal(written_end(after, l2) <= end + 8, true);
    assert_memory_equal(after, before, end);

    /* recovering twice changes nothing (the close above wrote derived files, not the log) */
    s = tu_open(dir);
    assert_int_equal(stele_store_close(s), 0);
    uint8_t *again = tu_read_file(seg, &l2);
    assert_memory_equal(again, after, l2);
    free(again);
    free(after);
    free(before);
    tu_rmtree(dir);
}

static void test_damaged_last_commit_is_cut(void **state) {
    (void)state;
    char dir[256], seg[4300];
    tu_tmpdir(dir, sizeof dir, "recovery");
    crash_after(dir, 3);
    segment_path(dir, seg, sizeof seg);
    size_t len = 0;
    uint8_t *buf = tu_read_file(seg, &len);
    /* the last record of the last commit loses a byte of its data: a torn write */
    size_t at = find_text(buf, len, "mark-2-2");
    write_at(seg, at, "X", 1);
    free(buf);

    stele_store_t *s = tu_open(dir);
    assert_int_equal(tu_head(s), 6);
    expect_marks(s, 2);
    /* the store goes on from the cut */
    stele_append_result_t res;
    assert_int_equal(tu_append1(s, "r", 5, "After", "{}", &res), 0);
    assert_int_equal(res.first_position, 7);
    assert_int_equal(stele_store_close(s), 0);
    buf = tu_read_file(seg, &len);
    assert_int_equal(memmem(buf, len, "mark-2-", 7) == NULL, true);
    free(buf);
    tu_rmtree(dir);
}

static void test_damage_before_an_intact_commit_is_refused(void **state) {
    (void)state;
    char dir[256], seg[4300];
    tu_tmpdir(dir, sizeof dir, "recovery");
    crash_after(dir, 3);
    segment_path(dir, seg, sizeof seg);
    size_t len = 0;
    uint8_t *buf = tu_read_file(seg, &len);
    write_at(seg, find_text(buf, len, "mark-1-0"), "X", 1);
    free(buf);
    buf = tu_read_file(seg, &len);

    for (int pass = 0; pass < 2; pass++) {
        int rc = 0;
        stele_store_t *s = open_flags(dir, pass ? STELE_OPEN_READONLY : 0, &rc);
        assert_null(s);
        assert_int_equal(rc, STELE_ECORRUPT);
        /* the message names where: position 4, the first event of the second commit */
        if (!strstr(stele_errdetail(), "position 4"))
            fail_msg("the error does not name position 4: %s", stele_errdetail());
        size_t l2 = 0;
        uint8_t *after = tu_read_file(seg, &l2);
        assert_int_equal(l2, len);
        assert_memory_equal(after, buf, len); /* nothing cut */
        free(after);
    }
    free(buf);
    tu_rmtree(dir);
}

/* Events a clean close made durable and said so (the catalogue snapshot) are missing: the log was
 * truncated. Refused with STELE_ECORRUPT, not opened shorter. */
static void test_truncated_after_a_clean_close_is_refused(void **state) {
    (void)state;
    char dir[256], seg[4300];
    tu_tmpdir(dir, sizeof dir, "recovery");
    crash_after(dir, 3);
    stele_store_t *s = tu_open(dir);
    assert_int_equal(stele_store_close(s), 0);
    segment_path(dir, seg, sizeof seg);
    size_t len = 0;
    uint8_t *buf = tu_read_file(seg, &len);
    size_t at = find_text(buf, len, "mark-2-0");
    /* zero from the last commit on: what a truncation and a re-extension leave */
    size_t n = written_end(buf, len) - (at & ~(size_t)7u);
    uint8_t *zeros = calloc(1, n);
    assert_non_null(zeros);
    write_at(seg, at & ~(size_t)7u, zeros, n);
    free(zeros);
    free(buf);
    int rc = 0;
    s = open_flags(dir, 0, &rc);
    assert_null(s);
    assert_int_equal(rc, STELE_ECORRUPT);
    tu_rmtree(dir);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_torn_bytes_after_the_last_commit),
        cmocka_unit_test(test_damaged_last_commit_is_cut),
        cmocka_unit_test(test_damage_before_an_intact_commit_is_refused),
        cmocka_unit_test(test_truncated_after_a_clean_close_is_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
