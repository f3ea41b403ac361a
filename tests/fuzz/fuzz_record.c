/*
 * fuzz_record.c -- the record decoder (stele__record_decode) on arbitrary bytes.
 *
 * Checks: no crash or out-of-bounds read; NEED_MORE asks for more than it was given and at most
 * the largest record (padded); ZERO only for eight zero bytes; a decoded record lies inside the
 * input, its fields point inside it, and encoding the decoded fields again (then sealing, with the
 * same chain hash) gives back exactly the input's padded bytes. Every proper prefix of a valid
 * record asks for more bytes (never decodes, never reports corruption).
 */
#include "fuzz_util.h"

#include "log/record.h"
#include "util/error.h"

#include <stdlib.h>
#include <string.h>

static bool inside(const void *p, size_t n, const uint8_t *data, size_t size) {
    const uint8_t *q = p;
    return q >= data && q <= data + size && n <= (size_t)(data + size - q);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    stele_record_t rec;
    size_t need = 0;
    int rc = stele__record_decode(data, size, &rec, &need);
    if (rc == STELE_RECORD_NEED_MORE) {
        /* STELE_RECORD_MAX_BYTES bounds the unpadded length the decoder accepts. */
        FUZZ_CHECK(need > size && need <= ((STELE_RECORD_MAX_BYTES + 7u) & ~7u), "need %zu of %zu",
                   need, size);
        return 0;
    }
    if (rc == STELE_RECORD_ZERO) {
        static const uint8_t zero[8];
        FUZZ_CHECK(size >= 8 && memcmp(data, zero, 8) == 0, "ZERO for non-zero bytes");
        return 0;
    }
    if (rc != 0) {
        FUZZ_CHECK(rc == STELE_ECORRUPT, "unexpected result %d", rc);
        return 0;
    }

    /* A valid record: its fields are consistent and inside the input. */
    FUZZ_CHECK(rec.length >= STELE_RECORD_HEADER_BYTES && rec.padded_length <= size &&
                   rec.padded_length % 8 == 0 && rec.padded_length - rec.length < 8,
               "length %u padded %u of %zu", rec.length, rec.padded_length, size);
    FUZZ_CHECK(rec.position != 0, "position 0 decoded");
    FUZZ_CHECK(inside(rec.stream, rec.stream_len + 1u, data, rec.length) &&
                   inside(rec.type, rec.type_len + 1u, data, rec.length) &&
                   inside(rec.data, rec.data_len, data, rec.length),
               "field outside the record");
    FUZZ_CHECK(rec.stream[rec.stream_len] == 0 && rec.type[rec.type_len] == 0, "terminator");
    bool commit = (rec.flags & STELE_RECORD_COMMIT) != 0;
    FUZZ_CHECK(commit == (rec.hash != NULL), "hash pointer and COMMIT flag disagree");
    if (rec.metadata)
        FUZZ_CHECK(inside(rec.metadata, rec.metadata_len, data, rec.length), "metadata outside");
    if (rec.hash)
        FUZZ_CHECK(inside(rec.hash, STELE_RECORD_HASH_BYTES, data, rec.length), "hash outside");
    FUZZ_CHECK(stele__record_size(rec.stream_len, rec.type_len, rec.metadata_len, rec.data_len,
                                  commit) == rec.padded_length,
               "record_size disagrees with the decoded length");

    /* Re-encode: the same bytes. */
    uint8_t *buf = malloc(rec.padded_length);
    FUZZ_CHECK(buf != NULL, "out of memory");
    size_t n = stele__record_encode(buf, &rec);
    FUZZ_CHECK(n == rec.padded_length, "encode wrote %zu, decoded %u", n, rec.padded_length);
    if (commit)
        memcpy(buf + rec.length - STELE_RECORD_HASH_BYTES, rec.hash, STELE_RECORD_HASH_BYTES);
    stele__record_seal(buf);
    FUZZ_CHECK(memcmp(buf, data, n) == 0, "re-encoded record differs from its input");

    /* Every truncation asks for more. */
    size_t cut = (size_t)data[size - 1] % rec.padded_length;
    stele_record_t again;
    need = 0;
    rc = stele__record_decode(buf, cut, &again, &need);
    FUZZ_CHECK(rc == STELE_RECORD_NEED_MORE && need > cut && need <= rec.padded_length,
               "prefix of %zu bytes gave %d (need %zu)", cut, rc, need);
    free(buf);
    return 0;
}
