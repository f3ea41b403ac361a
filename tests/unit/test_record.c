/*
 * test_record.c -- the record codec: round trips of every field, rejection of every single-bit
 * flip, truncated and zero buffers, and the commit chain hash (stele__record_commit) that verify
 * and recovery rely on.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "log/record.h"
#include "util/bytes.h"
#include "test_util.h"
#include "util/sha256.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const META = "{\"actor\":\"ann\",\"reason\":\"test\"}";

static stele_record_t sample(uint16_t flags, const char *stream, const char *type, const void *data,
                             size_t data_len, const char *meta) {
    stele_record_t r;
    memset(&r, 0, sizeof r);
    r.flags = flags | (meta ? STELE_RECORD_HAS_METADATA : 0);
    r.position = 4242;
    r.version = 17;
    r.time_ns = 1780000000123456789;
    for (int i = 0; i < 16; i++)
        r.id.bytes[i] = (uint8_t)(0xA0 + i);
    r.commit_events = (flags & STELE_RECORD_COMMIT) ? 3 : 0;
    r.stream = stream;
    r.stream_len = (uint32_t)strlen(stream);
    r.type = type;
    r.type_len = (uint16_t)strlen(type);
    r.metadata = (const uint8_t *)meta;
    r.metadata_len = meta ? (uint32_t)strlen(meta) : 0;
    r.data = data;
    r.data_len = (uint32_t)data_len;
    return r;
}

/* Encode and seal (CRC) one record into a fresh buffer of exactly its size. */
static uint8_t *encode_sealed(const stele_record_t *r, size_t *size) {
    *size = stele__record_size(r->stream_len, r->type_len, r->metadata_len, r->data_len,
                               (r->flags & STELE_RECORD_COMMIT) != 0);
    uint8_t *buf = malloc(*size);
    assert_non_null(buf);
    memset(buf, 0xEE, *size); /* the encoder must write every byte, padding included */
    assert_int_equal(stele__record_encode(buf, r), *size);
    stele__record_seal(buf);
    return buf;
}

static void assert_same(const stele_record_t *in, const stele_record_t *out) {
    assert_int_equal(out->flags, in->flags);
    assert_int_equal(out->position, in->position);
    assert_int_equal(out->version, in->version);
    assert_true(out->time_ns == in->time_ns);
    assert_memory_equal(out->id.bytes, in->id.bytes, 16);
    assert_int_equal(out->commit_events, in->commit_events);
    assert_int_equal(out->stream_len, in->stream_len);
    assert_memory_equal(out->stream, in->stream, in->stream_len);
    assert_int_equal(out->stream[out->stream_len], 0);
    assert_int_equal(out->type_len, in->type_len);
    assert_memory_equal(out->type, in->type, in->type_len);
    assert_int_equal(out->type[out->type_len], 0);
    assert_int_equal(out->metadata_len, in->metadata_len);
    if (in->metadata_len)
        assert_memory_equal(out->metadata, in->metadata, in->metadata_len);
    else
        assert_null(out->metadata);
    assert_int_equal(out->data_len, in->data_len);
    if (in->data_len)
        assert_memory_equal(out->data, in->data, in->data_len);
    assert_int_equal(out->padded_length % STELE_RECORD_ALIGN, 0);
    assert_true(out->padded_length >= out->length);
}

static void test_round_trip_all_fields(void **state) {
    (void)state;
    static const uint8_t bin[] = {0, 1, 2, 0xff, 0xfe, 0, 'x', 0x80, 0xc3};
    const char *json = "{\"order\":42,\"items\":[1,2,3]}";
    struct {
        uint16_t flags;
        const void *data;
        size_t len;
        const char *meta;
    } cases[] = {
        {0, json, strlen(json), NULL},
        {0, json, strlen(json), META},
        {STELE_RECORD_BINARY, bin, sizeof bin, META},
        {STELE_RECORD_BINARY, bin, sizeof bin, NULL},
        {STELE_RECORD_COMMIT, json, strlen(json), META},
        {STELE_RECORD_COMMIT | STELE_RECORD_BINARY, bin, sizeof bin, NULL},
        {0, NULL, 0, NULL}, /* empty data */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        stele_record_t in = sample(cases[i].flags, "order-42", "OrderPlaced", cases[i].data,
                                   cases[i].len, cases[i].meta);
        size_t size = 0;
        uint8_t *buf = encode_sealed(&in, &size);
        stele_record_t out;
        size_t need = 0;
        int rc = stele__record_decode(buf, size, &out, &need);
        if (rc != 0)
            fprintf(stderr, "case %zu: %s\n", i, stele_errdetail());
        assert_int_equal(rc, 0);
        assert_same(&in, &out);
        assert_int_equal(out.padded_length, size);
        if (in.flags & STELE_RECORD_COMMIT)
            assert_non_null(out.hash);
        else
            assert_null(out.hash);
        free(buf);
    }
}

static void test_round_trip_limits(void **state) {
    (void)state;
    char stream[STELE_MAX_STREAM_NAME_BYTES + 1], type[STELE_MAX_TYPE_BYTES + 1];
    memset(stream, 's', sizeof stream - 1);
    stream[sizeof stream - 1] = 0;
    memset(type, 't', sizeof type - 1);
    type[sizeof type - 1] = 0;
    size_t dlen = STELE_MAX_DATA_BYTES;
    uint8_t *data = malloc(dlen);
    assert_non_null(data);
    for (size_t i = 0; i < dlen; i++)
        data[i] = (uint8_t)(i * 31u);
    char *meta = malloc(STELE_MAX_METADATA_BYTES + 1);
    assert_non_null(meta);
    memset(meta, ' ', STELE_MAX_METADATA_BYTES);
    meta[0] = '{';
    meta[STELE_MAX_METADATA_BYTES - 1] = '}';
    meta[STELE_MAX_METADATA_BYTES] = 0;
    stele_record_t in =
        sample(STELE_RECORD_COMMIT | STELE_RECORD_BINARY, stream, type, data, dlen, meta);
    size_t size = 0;
    uint8_t *buf = encode_sealed(&in, &size);
    assert_true(size <= STELE_RECORD_MAX_BYTES);
    stele_record_t out;
    size_t need = 0;
    assert_int_equal(stele__record_decode(buf, size, &out, &need), 0);
    assert_same(&in, &out);
    free(buf);
    free(data);
    free(meta);
}

/* Every single-bit flip anywhere in an encoded record (padding included) is STELE_ECORRUPT. The
 * buffer behind the record is zeros up to more than the largest record, so that a flip making the
 * length longer is judged by the checksum rather than by a short buffer. */
static void test_every_bit_flip_is_rejected(void **state) {
    (void)state;
    const char *data = "{\"a\":1}";
    stele_record_t recs[3] = {
        sample(0, "acct-7", "Deposited", data, strlen(data), META),
        sample(STELE_RECORD_COMMIT, "acct-7", "Withdrawn", data, strlen(data), NULL),
        sample(STELE_RECORD_BINARY, "x", "T", "\x01\x02\x03", 3, NULL),
    };
    size_t room = STELE_RECORD_MAX_BYTES + 4096;
    uint8_t *buf = calloc(1, room);
    assert_non_null(buf);
    for (size_t k = 0; k < 3; k++) {
        size_t size = 0;
        uint8_t *enc = encode_sealed(&recs[k], &size);
        memset(buf, 0, size + 64);
        memcpy(buf, enc, size);
        stele_record_t out;
        size_t need = 0;
        assert_int_equal(stele__record_decode(buf, room, &out, &need), 0);
        size_t flips = 0;
        for (size_t byte = 0; byte < size; byte++) {
            for (unsigned bit = 0; bit < 8; bit++) {
                buf[byte] ^= (uint8_t)(1u << bit);
                int rc = stele__record_decode(buf, room, &out, &need);
                if (rc != STELE_ECORRUPT)
                    fprintf(stderr, "record %zu: flip of byte %zu bit %u gave %d\n", k, byte, bit,
                            rc);
                assert_int_equal(rc, STELE_ECORRUPT);
                assert_true(stele_errdetail()[0] != 0);
                buf[byte] ^= (uint8_t)(1u << bit);
                flips++;
            }
        }
        assert_int_equal(flips, size * 8);
        free(enc);
    }
    free(buf);
}

/* A flip that never gives wrong bytes even when the buffer ends right after the record: the
 * decoder may ask for more bytes, but it never returns a record. */
static void test_bit_flips_with_exact_buffer(void **state) {
    (void)state;
    const char *data = "{\"b\":[true,false,null]}";
    stele_record_t in =
        sample(STELE_RECORD_COMMIT, "cart-1", "ItemAdded", data, strlen(data), META);
    size_t size = 0;
    uint8_t *buf = encode_sealed(&in, &size);
    for (size_t byte = 0; byte < size; byte++) {
        for (unsigned bit = 0; bit < 8; bit++) {
            buf[byte] ^= (uint8_t)(1u << bit);
            stele_record_t out;
            size_t need = 0;
            int rc = stele__record_decode(buf, size, &out, &need);
            assert_true(rc == STELE_ECORRUPT || rc == STELE_RECORD_NEED_MORE);
            if (rc == STELE_RECORD_NEED_MORE)
                assert_true(need > size);
            buf[byte] ^= (uint8_t)(1u << bit);
        }
    }
    free(buf);
}

static void test_truncated_and_zero(void **state) {
    (void)state;
    const char *data = "[1,2,3]";
    stele_record_t in = sample(0, "s-1", "T", data, strlen(data), META);
    size_t size = 0;
    uint8_t *buf = encode_sealed(&in, &size);
    for (size_t avail = 0; avail < size; avail++) {
        stele_record_t out;
        size_t need = 0;
        int rc = stele__record_decode(buf, avail, &out, &need);
        assert_int_equal(rc, STELE_RECORD_NEED_MORE);
        assert_true(need > avail);
        assert_true(need <= size);
    }
    uint8_t zeros[256] = {0};
    stele_record_t out;
    size_t need = 0;
    assert_int_equal(stele__record_decode(zeros, sizeof zeros, &out, &need), STELE_RECORD_ZERO);
    assert_int_equal(stele__record_decode(zeros, 8, &out, &need), STELE_RECORD_ZERO);
    /* Zeros followed by junk still mark the end (the first 8 bytes decide). */
    zeros[9] = 0x55;
    assert_int_equal(stele__record_decode(zeros, sizeof zeros, &out, &need), STELE_RECORD_ZERO);
    /* A junk word is corruption, not the end. */
    uint8_t junk[128];
    memset(junk, 0x5A, sizeof junk);
    assert_int_equal(stele__record_decode(junk, sizeof junk, &out, &need), STELE_ECORRUPT);
    free(buf);
}

/* Build a commit of n records in one buffer, as the writer does. */
static uint8_t *build_commit(size_t n, uint64_t first_pos, size_t *len) {
    size_t cap = 0;
    stele_record_t recs[8];
    char data[8][32];
    assert_true(n <= 8);
    for (size_t i = 0; i < n; i++) {
        snprintf(data[i], sizeof data[i], "{\"i\":%zu}", i);
        recs[i] = sample(i + 1 == n ? STELE_RECORD_COMMIT : 0, "acct-1", "Moved", data[i],
                         strlen(data[i]), i % 2 ? META : NULL);
        recs[i].position = first_pos + i;
        recs[i].version = i;
        recs[i].commit_events = i + 1 == n ? (uint32_t)n : 0;
        cap += stele__record_size(recs[i].stream_len, recs[i].type_len, recs[i].metadata_len,
                                  recs[i].data_len, i + 1 == n);
    }
    uint8_t *buf = calloc(1, cap);
    assert_non_null(buf);
    size_t off = 0;
    for (size_t i = 0; i < n; i++)
        off += stele__record_encode(buf + off, &recs[i]);
    assert_int_equal(off, cap);
    *len = cap;
    return buf;
}

/* The chain hash as record.h defines it, computed independently from the decoded records. */
static void chain_hash(const uint8_t *buf, size_t len, const uint8_t prev[32], uint8_t out[32]) {
    stele_sha256_t sha;
    stele__sha256_init(&sha);
    stele__sha256_update(&sha, prev, 32);
    for (size_t off = 0; off < len;) {
        stele_record_t rec;
        size_t need = 0;
        assert_int_equal(stele__record_decode(buf + off, len - off, &rec, &need), 0);
        stele__record_hash_update(&sha, buf + off, &rec);
        off += rec.padded_length;
    }
    stele__sha256_final(&sha, out);
}

static void test_commit_hash(void **state) {
    (void)state;
    uint8_t prev[32] = {0}, h1[32], h2[32], check[32];
    size_t len = 0;
    uint8_t *buf = build_commit(3, 10, &len);
    stele__record_commit(buf, len, prev, h1);
    /* Every record is sealed; the commit record holds the hash and counts the events. */
    size_t off = 0, count = 0;
    stele_record_t rec;
    while (off < len) {
        size_t need = 0;
        assert_int_equal(stele__record_decode(buf + off, len - off, &rec, &need), 0);
        assert_int_equal(rec.position, 10 + count);
        off += rec.padded_length;
        count++;
    }
    assert_int_equal(count, 3);
    assert_true(rec.flags & STELE_RECORD_COMMIT);
    assert_int_equal(rec.commit_events, 3);
    assert_memory_equal(rec.hash, h1, 32);
    chain_hash(buf, len, prev, check);
    assert_memory_equal(check, h1, 32);

    /* Chained: the same commit after a different previous hash hashes differently. */
    uint8_t *buf2 = build_commit(3, 10, &len);
    uint8_t prev2[32];
    memcpy(prev2, h1, 32);
    stele__record_commit(buf2, len, prev2, h2);
    assert_memory_not_equal(h1, h2, 32);
    chain_hash(buf2, len, prev2, check);
    assert_memory_equal(check, h2, 32);
    free(buf2);

    /* Any changed byte of the hashed bytes (everything but the CRCs and the hash itself) gives a
     * different chain hash, even after re-sealing the CRCs. */
    size_t changed = 0;
    for (size_t b = 0; b < len; b++) {
        uint8_t *copy = build_commit(3, 10, &len);
        uint8_t orig[32];
        stele__record_commit(copy, len, prev, orig);
        assert_memory_equal(orig, h1, 32);
        /* Which record holds byte b, and where is it in that record? */
        size_t roff = 0;
        while (roff + ((stele__get_u32(copy + roff + 4) + 7u) & ~7u) <= b)
            roff += (stele__get_u32(copy + roff + 4) + 7u) & ~7u;
        size_t in_rec = b - roff;
        uint32_t rlen = stele__get_u32(copy + roff + 4);
        bool is_commit = (stele__get_u16(copy + roff + 12) & STELE_RECORD_COMMIT) != 0;
        size_t hashed_end = is_commit ? rlen - 32 : rlen;
        bool hashed = in_rec < 8 || (in_rec >= 12 && in_rec < hashed_end);
        /* Keep the layout decodable: only change bytes of the variable part (names, data). */
        if (!hashed || in_rec < STELE_RECORD_HEADER_BYTES) {
            free(copy);
            continue;
        }
        copy[b] ^= 0x01;
        if (copy[b] == 0) /* a name terminator */
            copy[b] = 'q';
        for (size_t o = 0; o < len;) { /* re-seal so the CRCs match the changed bytes */
            stele__record_seal(copy + o);
            o += (stele__get_u32(copy + o + 4) + 7u) & ~7u;
        }
        stele_sha256_t sha;
        stele__sha256_init(&sha);
        stele__sha256_update(&sha, prev, 32);
        for (size_t o = 0; o < len;) {
            stele_record_t r;
            size_t need = 0;
            int rc = stele__record_decode(copy + o, len - o, &r, &need);
            if (rc != 0) /* a changed terminator can break decoding: corruption is caught too */
                break;
            stele__record_hash_update(&sha, copy + o, &r);
            o += r.padded_length;
            if (o == len) {
                stele__sha256_final(&sha, check);
                assert_memory_not_equal(check, h1, 32);
                changed++;
            }
        }
        free(copy);
    }
    assert_true(changed > 50);

    /* Header fields are hashed too: a different position or time gives a different hash. */
    uint8_t *b3 = build_commit(3, 11, &len);
    stele__record_commit(b3, len, prev, h2);
    assert_memory_not_equal(h1, h2, 32);
    free(b3);
    free(buf);
}

/* A single-record commit: the record is both first and commit record. */
static void test_single_record_commit(void **state) {
    (void)state;
    uint8_t prev[32], h[32];
    memset(prev, 0x11, sizeof prev);
    size_t len = 0;
    uint8_t *buf = build_commit(1, 1, &len);
    stele__record_commit(buf, len, prev, h);
    stele_record_t rec;
    size_t need = 0;
    assert_int_equal(stele__record_decode(buf, len, &rec, &need), 0);
    assert_int_equal(rec.commit_events, 1);
    assert_int_equal(rec.padded_length, len);
    assert_memory_equal(rec.hash, h, 32);
    uint8_t check[32];
    chain_hash(buf, len, prev, check);
    assert_memory_equal(check, h, 32);
    free(buf);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip_all_fields),
        cmocka_unit_test(test_round_trip_limits),
        cmocka_unit_test(test_every_bit_flip_is_rejected),
        cmocka_unit_test(test_bit_flips_with_exact_buffer),
        cmocka_unit_test(test_truncated_and_zero),
        cmocka_unit_test(test_commit_hash),
        cmocka_unit_test(test_single_record_commit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
