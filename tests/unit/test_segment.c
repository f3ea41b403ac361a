/*
 * test_segment.c -- a segment's header and its sparse offset index file on their own (layouts in
 * src/log/segment.h): names, a header round trip, every damaged header byte refused with the error
 * that names the problem, and the .sidx file saved and loaded, refused when damaged, when it
 * belongs to another segment, when its count does not fit its length or its entries do not ascend
 * inside the segment (even with a checksum that matches, as a tampered file would have).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "log/segment.h"
#include "os/alloc.h"
#include "os/vfs.h"
#include "test_util.h"
#include "util/crc32c.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Little-endian writes of the test's own, so that the test does not share the code it checks. */
static void le32(uint8_t *p, uint32_t v) {
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}
static void le64(uint8_t *p, uint64_t v) {
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static void test_name(void **state) {
    (void)state;
    char name[64];
    stele__segment_name(1, "seg", name, sizeof name);
    assert_string_equal(name, "00000000000000000001.seg");
    stele__segment_name(UINT64_MAX, "sidx", name, sizeof name);
    assert_string_equal(name, "18446744073709551615.sidx");
}

static void encode_sample(uint8_t *buf, uint8_t hash[32]) {
    for (int i = 0; i < 32; i++)
        hash[i] = (uint8_t)(i * 7 + 1);
    stele__segment_header_encode(buf, 4097, 8u << 20, 1234567890123LL, hash, -5,
                                 STELE_SEGMENT_PREALLOCATED);
}

static void test_header_round_trip(void **state) {
    (void)state;
    uint8_t buf[STELE_SEGMENT_HEADER_BYTES], hash[32], got_hash[32];
    encode_sample(buf, hash);
    /* the layout of segment.h, read back without the decoder */
    assert_memory_equal(buf, "STELESEG", 8);
    assert_int_equal(buf[8], STELE_SEGMENT_FORMAT);
    assert_int_equal(buf[12], STELE_SEGMENT_HEADER_BYTES);
    uint64_t first = 0, size = 0;
    int64_t prev_time = 0;
    uint32_t flags = 0;
    assert_int_equal(stele__segment_header_decode(buf, &first, &size, got_hash, &prev_time, &flags),
                     0);
    assert_int_equal(first, 4097);
    assert_int_equal(size, 8u << 20);
    assert_memory_equal(got_hash, hash, 32);
    assert_true(prev_time == -5);
    assert_int_equal(flags, STELE_SEGMENT_PREALLOCATED);
}

/* Every bit of the header is covered: a flip anywhere is refused, never decoded as another
 * header. A flip in the magic says "not a store", anywhere else the checksum fails. */
static void test_header_every_flip(void **state) {
    (void)state;
    uint8_t good[STELE_SEGMENT_HEADER_BYTES], buf[STELE_SEGMENT_HEADER_BYTES], hash[32];
    encode_sample(good, hash);
    for (unsigned byte = 0; byte < STELE_SEGMENT_HEADER_BYTES; byte++) {
        for (unsigned bit = 0; bit < 8; bit++) {
            memcpy(buf, good, sizeof buf);
            buf[byte] ^= (uint8_t)(1u << bit);
            uint64_t first, size;
            int64_t prev_time;
            uint32_t flags;
            int rc = stele__segment_header_decode(buf, &first, &size, hash, &prev_time, &flags);
            if (rc != (byte < 8 ? STELE_ENOTSTORE : STELE_ECORRUPT))
                fail_msg("flip of byte %u bit %u: %d (%s)", byte, bit, rc, stele_strerror(rc));
        }
    }
}

/* Headers whose checksum matches but whose fields do not: a newer format is STELE_EVERSION (an
 * older build must not guess), a format 0, another header size or position 0 is damage. Unknown
 * flag bits are ignored (room for later formats that stay readable). */
static void test_header_fields(void **state) {
    (void)state;
    uint8_t buf[STELE_SEGMENT_HEADER_BYTES], hash[32];
    uint64_t first, size;
    int64_t prev_time;
    uint32_t flags;
    struct {
        unsigned off;
        uint32_t value;
        int want;
    } cases[] = {
        {8, STELE_SEGMENT_FORMAT + 1, STELE_EVERSION},
        {8, 0, STELE_ECORRUPT},
        {12, 64, STELE_ECORRUPT},
        {80, 0xff00u | STELE_SEGMENT_PREALLOCATED, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        encode_sample(buf, hash);
        le32(buf + cases[i].off, cases[i].value);
        le32(buf + 124, stele__crc32c(0, buf, 124));
        int rc = stele__segment_header_decode(buf, &first, &size, hash, &prev_time, &flags);
        assert_int_equal(rc, cases[i].want);
        if (rc == 0)
            assert_int_equal(flags, STELE_SEGMENT_PREALLOCATED);
    }
    stele__segment_header_encode(buf, 0, 1u << 20, 0, hash, 0, 0);
    assert_int_equal(stele__segment_header_decode(buf, &first, &size, hash, &prev_time, &flags),
                     STELE_ECORRUPT);
}

static stele_segment_t *segment_new(uint64_t first, size_t entries) {
    stele_segment_t *seg = calloc(1, sizeof *seg + 1);
    assert_non_null(seg);
    seg->first_position = first;
    seg->last_position = first + entries * STELE_SPARSE_STRIDE - 1;
    seg->end_offset = STELE_SEGMENT_HEADER_BYTES + entries * 4096;
    for (size_t i = 0; i < entries; i++)
        assert_int_equal(stele__segment_sparse_add(seg, first + i * STELE_SPARSE_STRIDE,
                                                   STELE_SEGMENT_HEADER_BYTES + i * 4096),
                         0);
    return seg;
}

static void segment_drop(stele_segment_t *seg) {
    stele__free(seg->sparse);
    free(seg);
}

static void sidx_path(const char *dir, uint64_t first, char *out, size_t size) {
    char name[64];
    stele__segment_name(first, "sidx", name, sizeof name);
    snprintf(out, size, "%s/%s", dir, name);
}

static void test_sparse_round_trip(void **state) {
    (void)state;
    char dir[256], path[512];
    tu_tmpdir(dir, sizeof dir, "segment");
    const stele_vfs_t *vfs = stele__vfs_posix();
    stele_segment_t *seg = segment_new(33, 1000);
    assert_int_equal(stele__segment_sparse_save(vfs, dir, seg), 0);
    sidx_path(dir, 33, path, sizeof path);
    assert_true(tu_exists(path));

    stele_segment_t *back = calloc(1, sizeof *back + 1);
    assert_non_null(back);
    back->first_position = 33;
    assert_int_equal(stele__segment_sparse_load(vfs, dir, back), 0);
    assert_int_equal(back->sparse_count, 1000);
    assert_int_equal(back->last_position, seg->last_position);
    assert_int_equal(back->end_offset, seg->end_offset);
    assert_memory_equal(back->sparse, seg->sparse, 1000 * sizeof(stele_sparse_entry_t));

    /* the file of another segment is not taken for this one's */
    back->first_position = 34;
    char other[512];
    sidx_path(dir, 34, other, sizeof other);
    assert_int_equal(rename(path, other), 0);
    assert_int_equal(stele__segment_sparse_load(vfs, dir, back), STELE_ECORRUPT);
    assert_int_equal(rename(other, path), 0);
    back->first_position = 33;

    /* a missing file is an error the caller answers with a scan */
    stele_segment_t *none = segment_new(77, 1);
    assert_true(stele__segment_sparse_load(vfs, dir, none) < 0);
    segment_drop(none);
    segment_drop(back);
    segment_drop(seg);
    tu_rmtree(dir);
}

/* Every single-bit flip of a saved .sidx is refused (STELE_ECORRUPT): a wrong offset would send
 * readers to the wrong place in the segment. */
static void test_sparse_every_flip(void **state) {
    (void)state;
    char dir[256], path[512];
    tu_tmpdir(dir, sizeof dir, "segment");
    const stele_vfs_t *vfs = stele__vfs_posix();
    stele_segment_t *seg = segment_new(1, 3);
    assert_int_equal(stele__segment_sparse_save(vfs, dir, seg), 0);
    sidx_path(dir, 1, path, sizeof path);
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    uint8_t good[256];
    size_t len = fread(good, 1, sizeof good, f);
    fclose(f);
    assert_int_equal(len, 48 + 3 * 16 + 4);
    uint8_t buf[256];
    for (size_t byte = 0; byte < len; byte++) {
        for (unsigned bit = 0; bit < 8; bit++) {
            memcpy(buf, good, len);
            buf[byte] ^= (uint8_t)(1u << bit);
            tu_write_file(path, buf, len);
            stele_segment_t *back = segment_new(1, 0);
            int rc = stele__segment_sparse_load(vfs, dir, back);
            if (rc != STELE_ECORRUPT)
                fail_msg("flip of byte %zu bit %u: %d", byte, bit, rc);
            assert_int_equal(back->sparse_count, 0);
            segment_drop(back);
        }
    }
    /* and a file cut short */
    for (size_t cut = 0; cut < len; cut++) {
        tu_write_file(path, good, cut);
        stele_segment_t *back = segment_new(1, 0);
        assert_int_equal(stele__segment_sparse_load(vfs, dir, back), STELE_ECORRUPT);
        segment_drop(back);
    }
    segment_drop(seg);
    tu_rmtree(dir);
}

/* A .sidx whose checksum matches but whose count is absurd (a tampered file): the count times the
 * entry size must not wrap around to the file's length, which would allocate a few bytes and
 * write 2^60 entries into them. */
static void test_sparse_count_overflow(void **state) {
    (void)state;
    char dir[256], path[512];
    tu_tmpdir(dir, sizeof dir, "segment");
    uint8_t buf[48 + 2 * 16 + 4];
    memset(buf, 0, sizeof buf);
    memcpy(buf, "STELESIX", 8);
    le32(buf + 8, 1);
    le64(buf + 16, 1);
    le64(buf + 24, 32);
    le64(buf + 32, 4096);
    le64(buf + 40, ((uint64_t)1 << 60) + 2); /* * 16 wraps to 32 */
    le64(buf + 48, 1);
    le64(buf + 56, STELE_SEGMENT_HEADER_BYTES);
    le64(buf + 64, 17);
    le64(buf + 72, 2048);
    le32(buf + sizeof buf - 4, stele__crc32c(0, buf, sizeof buf - 4));
    sidx_path(dir, 1, path, sizeof path);
    tu_write_file(path, buf, sizeof buf);
    stele_segment_t *back = segment_new(1, 0);
    assert_int_equal(stele__segment_sparse_load(stele__vfs_posix(), dir, back), STELE_ECORRUPT);
    assert_int_equal(back->sparse_count, 0);
    /* the same file with its true count loads */
    le64(buf + 40, 2);
    le32(buf + sizeof buf - 4, stele__crc32c(0, buf, sizeof buf - 4));
    tu_write_file(path, buf, sizeof buf);
    assert_int_equal(stele__segment_sparse_load(stele__vfs_posix(), dir, back), 0);
    assert_int_equal(back->sparse_count, 2);
    assert_int_equal(back->sparse[1].offset, 2048);
    segment_drop(back);
    /* entries that do not ascend inside the segment, checksum matching: refused */
    struct {
        unsigned off;
        uint64_t value;
    } bad[] = {{48, 2}, {56, 0}, {64, 1}, {72, 64}, {64, 33}, {72, 4096}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        uint8_t b[sizeof buf];
        memcpy(b, buf, sizeof buf);
        le64(b + bad[i].off, bad[i].value);
        le32(b + sizeof b - 4, stele__crc32c(0, b, sizeof b - 4));
        tu_write_file(path, b, sizeof b);
        back = segment_new(1, 0);
        if (stele__segment_sparse_load(stele__vfs_posix(), dir, back) != STELE_ECORRUPT)
            fail_msg("entry field at %u = %llu was accepted", bad[i].off,
                     (unsigned long long)bad[i].value);
        segment_drop(back);
    }
    tu_rmtree(dir);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_name),
        cmocka_unit_test(test_header_round_trip),
        cmocka_unit_test(test_header_every_flip),
        cmocka_unit_test(test_header_fields),
        cmocka_unit_test(test_sparse_round_trip),
        cmocka_unit_test(test_sparse_every_flip),
        cmocka_unit_test(test_sparse_count_overflow),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
